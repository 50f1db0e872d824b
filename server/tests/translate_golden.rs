//! Golden files for the OpenAI ⇄ Anthropic translation. Each directory under
//! `tests/golden/translate/` is a case holding any of these pairs (input → expected output):
//!
//! - `chat_request.json` → `messages_request.json`
//! - `messages_response.json` → `chat_response.json`
//! - `anthropic_stream.sse` → `openai_chunks.jsonl` (one payload per line, `finish()` included)
//! - `anthropic_error.json` → `openai_error.json`
//!
//! and optionally `case.json` with `requested_model` (default `gpt-4o`), `include_usage`
//! (default false) and `status` (for errors, default 400). `created` is fixed at [`CREATED`].
//! `refusals/*.json` are `{"request": {...}, "field": "...", "message_contains"?: "..."}`: the
//! request must be refused naming that field. Outputs are compared as JSON values, and every
//! differing case is reported before the test fails.

mod golden_pairs;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tollgate::translate::{
    chat_to_messages_request, messages_error_to_openai, messages_to_chat_response_at,
    ChatStreamTranslator,
};

const CREATED: i64 = 1_700_000_000;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/translate")
}

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn sorted_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    dirs
}

fn compare(failures: &mut Vec<String>, case: &str, what: &str, expected: &Value, actual: &Value) {
    if expected != actual {
        failures.push(format!(
            "case {case} ({what}) differs\n--- expected\n{}\n--- actual\n{}",
            serde_json::to_string_pretty(expected).unwrap(),
            serde_json::to_string_pretty(actual).unwrap()
        ));
    }
}

/// `event:`/`data:` pairs of an SSE body.
fn parse_sse(text: &str) -> Vec<(String, String)> {
    text.split("\n\n")
        .filter(|frame| !frame.trim().is_empty())
        .map(|frame| {
            let mut event = String::new();
            let mut data = Vec::new();
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.trim_start().to_string());
                }
            }
            (event, data.join("\n"))
        })
        .collect()
}

fn run_case(dir: &Path, failures: &mut Vec<String>) {
    let case = dir.file_name().unwrap().to_string_lossy().to_string();
    let opts = if dir.join("case.json").exists() {
        read_json(&dir.join("case.json"))
    } else {
        Value::Null
    };
    let model = opts["requested_model"].as_str().unwrap_or("gpt-4o");
    let include_usage = opts["include_usage"].as_bool().unwrap_or(false);
    let mut checked = 0;

    if dir.join("chat_request.json").exists() {
        checked += 1;
        let chat = read_json(&dir.join("chat_request.json"));
        let expected = read_json(&dir.join("messages_request.json"));
        match chat_to_messages_request(&chat) {
            Ok(actual) => compare(failures, &case, "request", &expected, &actual),
            Err(e) => failures.push(format!("case {case} (request) was refused: {e}")),
        }
    }
    if dir.join("messages_response.json").exists() {
        checked += 1;
        let msg = read_json(&dir.join("messages_response.json"));
        let expected = read_json(&dir.join("chat_response.json"));
        let actual = messages_to_chat_response_at(&msg, model, CREATED);
        compare(failures, &case, "response", &expected, &actual);
    }
    if dir.join("anthropic_stream.sse").exists() {
        checked += 1;
        let sse = fs::read_to_string(dir.join("anthropic_stream.sse")).unwrap();
        let mut translator = ChatStreamTranslator::with_created(model, include_usage, CREATED);
        let mut payloads = Vec::new();
        for (event, data) in parse_sse(&sse) {
            payloads.extend(translator.on_event(&event, &data));
        }
        payloads.extend(translator.finish());
        assert!(
            translator.finish().is_empty(),
            "{case}: finish is idempotent"
        );
        let actual: Vec<Value> = payloads
            .iter()
            .map(|p| serde_json::from_str(p).unwrap())
            .collect();
        let expected: Vec<Value> = fs::read_to_string(dir.join("openai_chunks.jsonl"))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        compare(
            failures,
            &case,
            "stream",
            &Value::Array(expected),
            &Value::Array(actual),
        );
    }
    if dir.join("anthropic_error.json").exists() {
        checked += 1;
        let body = fs::read(dir.join("anthropic_error.json")).unwrap();
        let status = opts["status"].as_u64().unwrap_or(400) as u16;
        let expected = read_json(&dir.join("openai_error.json"));
        let actual = messages_error_to_openai(status, &body);
        compare(failures, &case, "error", &expected, &actual);
    }
    if checked == 0 {
        failures.push(format!("case {case} has no input/expected pair"));
    }
}

fn run_refusal(path: &Path, failures: &mut Vec<String>) {
    let name = path.file_stem().unwrap().to_string_lossy().to_string();
    let spec = read_json(path);
    let field = spec["field"].as_str().expect("refusal needs a field");
    match chat_to_messages_request(&spec["request"]) {
        Ok(translated) => failures.push(format!(
            "refusal {name} was translated instead of refused: {translated}"
        )),
        Err(e) if e.field != field => failures.push(format!(
            "refusal {name} named {:?} instead of {field:?} ({})",
            e.field, e.message
        )),
        Err(e) => {
            if let Some(part) = spec["message_contains"].as_str() {
                if !e.message.contains(part) {
                    failures.push(format!(
                        "refusal {name}: message {:?} lacks {part:?}",
                        e.message
                    ));
                }
            }
            let body = e.to_openai_error();
            if body["error"]["param"] != field || body["error"]["type"] != "invalid_request_error" {
                failures.push(format!("refusal {name}: OpenAI error body {body}"));
            }
        }
    }
}

#[test]
fn golden_translations() {
    let mut failures = Vec::new();
    let mut cases = 0;
    let mut refusals = 0;
    for dir in sorted_dirs(&golden_dir()) {
        if dir.file_name().unwrap() == "refusals" {
            for file in sorted_dirs(&dir) {
                refusals += 1;
                run_refusal(&file, &mut failures);
            }
        } else if dir.is_dir() {
            cases += 1;
            run_case(&dir, &mut failures);
        }
    }
    assert!(cases >= 12, "only {cases} golden cases");
    assert!(refusals >= 12, "only {refusals} refusal cases");
    assert!(
        failures.is_empty(),
        "{} golden case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn wall_clock_variants_stamp_the_current_time() {
    let msg = serde_json::json!({"id": "msg_1", "content": [], "stop_reason": "end_turn"});
    let before = chrono::Utc::now().timestamp();
    let response = tollgate::translate::messages_to_chat_response(&msg, "gpt-4o");
    let created = response["created"].as_i64().unwrap();
    assert!(created >= before && created <= before + 5);

    let mut stream = ChatStreamTranslator::new("gpt-4o", false);
    let chunk = stream.on_event("message_start", r#"{"message":{"id":"msg_1","usage":{}}}"#);
    let chunk: Value = serde_json::from_str(&chunk[0]).unwrap();
    assert!(chunk["created"].as_i64().unwrap() >= before);
}

#[test]
fn golden_translations_of_every_pair() {
    let mut failures = Vec::new();
    for (name, pair) in golden_pairs::pairs() {
        let dir = golden_pairs::golden_root().join(name);
        let (mut cases, mut refusals) = (0, 0);
        for entry in sorted_dirs(&dir) {
            if entry.file_name().unwrap() == "refusals" {
                for file in sorted_dirs(&entry) {
                    refusals += 1;
                    golden_pairs::run_refusal(&pair, &file, &mut failures);
                }
            } else if entry.is_dir() {
                cases += 1;
                if golden_pairs::run_case(&pair, &entry, &mut failures) == 0 {
                    failures.push(format!("{} has no input/expected pair", entry.display()));
                }
            }
        }
        assert!(cases >= 5, "{name}: only {cases} golden cases");
        assert!(refusals >= 5, "{name}: only {refusals} refusal cases");
    }
    assert!(
        failures.is_empty(),
        "{} golden case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
