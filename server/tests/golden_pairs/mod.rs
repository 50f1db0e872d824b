//! Golden files for the translation pairs added for the protocol × account matrix. Each of
//! `tests/golden/<pair>/` (`responses_claude`, `chat_gemini`, `messages_openai`) holds case
//! directories with any of these pairs (input → expected output):
//!
//! - `request.json` → `upstream_request.json` (for `chat_gemini` also `upstream_path.txt`)
//! - `upstream_response.json` → `client_response.json`
//! - `upstream_stream.sse` → `client_stream.sse` (compared event by event, data as JSON); the
//!   stream is also fed one byte at a time and must give the same bytes
//! - `upstream_error.json` → `client_error.json`
//!
//! `case.json` may set `status` (of the upstream error, default 400) and `client_status` (what
//! the client must get), `target` (`openai` or `compatible`, for `messages_openai`) and
//! `complete` (whether the stream reaches the client as a complete answer, default true).
//! Answers are translated in the context of the case's `request.json`. `refusals/*.json` are
//! `{"request", "field", "message_contains"?}`. With `BLESS=1` the expected files are written
//! from the actual output (review them before committing).

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tollgate::translate::{
    chat_gemini, messages_openai, responses_claude, StreamTransform, TranslateError,
};

const CREATED: i64 = 1_700_000_000;

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `event:`/`data:` pairs of an SSE body, data parsed as JSON where it is JSON.
pub fn parse_sse(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter(|frame| !frame.trim().is_empty())
        .map(|frame| {
            let mut event = Value::Null;
            let mut data = Vec::new();
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = json!(v.trim());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.trim_start().to_string());
                }
            }
            let data = data.join("\n");
            let data = serde_json::from_str(&data).unwrap_or(Value::String(data));
            json!({ "event": event, "data": data })
        })
        .collect()
}

/// A translated request body and, where the pair names one, the upstream path.
type Translated = Result<(Value, Option<String>), TranslateError>;

/// The translators of one pair, bound to a case's request.
pub struct Pair {
    pub request: fn(&Value, &Value) -> Translated,
    pub answer: fn(&Value, &Value, &Value) -> Value,
    pub stream: fn(&Value, &Value) -> Box<dyn StreamTransform>,
    pub error: fn(u16, &[u8]) -> (u16, Value),
}

fn responses_context(request: &Value) -> responses_claude::ResponsesContext {
    let mut ctx = responses_claude::responses_to_messages_request(request)
        .expect("the case's request translates")
        .context;
    ctx.created_at = CREATED;
    ctx
}

fn gemini_context(request: &Value) -> chat_gemini::GeminiContext {
    let mut ctx = chat_gemini::chat_to_gemini_request(request)
        .expect("the case's request translates")
        .context;
    ctx.created = CREATED;
    ctx
}

fn target(opts: &Value, request: &Value) -> messages_openai::ChatTarget {
    let model = request["model"].as_str().unwrap_or("");
    match opts["target"].as_str() {
        Some("compatible") => messages_openai::ChatTarget::compatible(model),
        _ => messages_openai::ChatTarget::openai(model),
    }
}

pub fn pairs() -> Vec<(&'static str, Pair)> {
    vec![
        (
            "responses_claude",
            Pair {
                request: |r, _| {
                    responses_claude::responses_to_messages_request(r)
                        .map(|t| (t.messages_request, None))
                },
                answer: |r, _, a| {
                    responses_claude::messages_to_responses_response(a, &responses_context(r))
                },
                stream: |r, _| {
                    Box::new(responses_claude::ClaudeToResponsesStream::new(
                        responses_context(r),
                    ))
                },
                error: responses_claude::messages_error_to_responses,
            },
        ),
        (
            "chat_gemini",
            Pair {
                request: |r, _| {
                    chat_gemini::chat_to_gemini_request(r).map(|t| {
                        let path = t.path();
                        (t.body, Some(path))
                    })
                },
                answer: |r, _, a| chat_gemini::gemini_to_chat_response(a, &gemini_context(r)),
                stream: |r, _| Box::new(chat_gemini::GeminiToChatStream::new(gemini_context(r))),
                error: chat_gemini::gemini_error_to_openai,
            },
        ),
        (
            "messages_openai",
            Pair {
                request: |r, o| {
                    messages_openai::messages_to_chat_request(r, target(o, r)).map(|b| (b, None))
                },
                answer: |r, _, a| {
                    messages_openai::chat_to_messages_response(a, r["model"].as_str().unwrap_or(""))
                },
                stream: |r, _| {
                    Box::new(messages_openai::ChatToMessagesStream::new(
                        r["model"].as_str().unwrap_or(""),
                    ))
                },
                error: messages_openai::openai_error_to_anthropic,
            },
        ),
    ]
}

fn check(failures: &mut Vec<String>, case: &str, expected_path: &Path, actual: &Value) {
    if std::env::var_os("BLESS").is_some() {
        let text = if expected_path.extension().is_some_and(|e| e == "sse") {
            actual_sse(actual)
        } else if expected_path.extension().is_some_and(|e| e == "txt") {
            format!("{}\n", actual.as_str().unwrap_or(""))
        } else {
            format!("{}\n", serde_json::to_string_pretty(actual).unwrap())
        };
        fs::write(expected_path, text).unwrap();
        return;
    }
    let expected = match expected_path.extension().and_then(|e| e.to_str()) {
        Some("sse") => Value::Array(parse_sse(&fs::read_to_string(expected_path).unwrap())),
        Some("txt") => json!(fs::read_to_string(expected_path).unwrap().trim_end()),
        _ => read_json(expected_path),
    };
    if &expected != actual {
        failures.push(format!(
            "{case} ({}) differs\n--- expected\n{}\n--- actual\n{}",
            expected_path.file_name().unwrap().to_string_lossy(),
            serde_json::to_string_pretty(&expected).unwrap(),
            serde_json::to_string_pretty(actual).unwrap()
        ));
    }
}

/// Parsed SSE events back to SSE text (for blessing).
fn actual_sse(events: &Value) -> String {
    let mut out = String::new();
    for e in events.as_array().into_iter().flatten() {
        if let Some(name) = e["event"].as_str() {
            out.push_str(&format!("event: {name}\n"));
        }
        let data = match &e["data"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push_str(&format!("data: {data}\n\n"));
    }
    out
}

fn run_stream(
    pair: &Pair,
    request: &Value,
    opts: &Value,
    upstream: &[u8],
    step: usize,
) -> (Vec<u8>, bool) {
    let mut t = (pair.stream)(request, opts);
    let mut out = Vec::new();
    for piece in upstream.chunks(step.max(1)) {
        out.extend_from_slice(&t.chunk(piece));
    }
    out.extend_from_slice(&t.end());
    assert!(t.end().is_empty(), "end is idempotent");
    (out, t.passed_on().complete)
}

pub fn run_case(pair: &Pair, dir: &Path, failures: &mut Vec<String>) -> usize {
    let case = dir.display().to_string();
    let opts = if dir.join("case.json").exists() {
        read_json(&dir.join("case.json"))
    } else {
        Value::Null
    };
    let request = read_json(&dir.join("request.json"));
    let mut checked = 0;
    if dir.join("upstream_request.json").exists() || std::env::var_os("BLESS").is_some() {
        checked += 1;
        match (pair.request)(&request, &opts) {
            Ok((body, path)) => {
                check(failures, &case, &dir.join("upstream_request.json"), &body);
                if let Some(path) = path {
                    check(
                        failures,
                        &case,
                        &dir.join("upstream_path.txt"),
                        &json!(path),
                    );
                }
            }
            Err(e) => failures.push(format!("{case}: request refused: {e}")),
        }
    }
    if dir.join("upstream_response.json").exists() {
        checked += 1;
        let answer = read_json(&dir.join("upstream_response.json"));
        let actual = (pair.answer)(&request, &opts, &answer);
        check(failures, &case, &dir.join("client_response.json"), &actual);
    }
    if dir.join("upstream_stream.sse").exists() {
        checked += 1;
        let upstream = fs::read(dir.join("upstream_stream.sse")).unwrap();
        let (whole, complete) = run_stream(pair, &request, &opts, &upstream, upstream.len());
        let (bytewise, _) = run_stream(pair, &request, &opts, &upstream, 1);
        if whole != bytewise {
            failures.push(format!("{case}: the stream fed byte by byte differs"));
        }
        let actual = Value::Array(parse_sse(&String::from_utf8_lossy(&whole)));
        check(failures, &case, &dir.join("client_stream.sse"), &actual);
        if complete != opts["complete"].as_bool().unwrap_or(true) {
            failures.push(format!("{case}: complete = {complete}"));
        }
    }
    if dir.join("upstream_error.json").exists() {
        checked += 1;
        let body = fs::read(dir.join("upstream_error.json")).unwrap();
        let status = opts["status"].as_u64().unwrap_or(400) as u16;
        let (client_status, actual) = (pair.error)(status, &body);
        check(failures, &case, &dir.join("client_error.json"), &actual);
        let want = opts["client_status"].as_u64().unwrap_or(u64::from(status));
        if u64::from(client_status) != want {
            failures.push(format!(
                "{case}: client status {client_status}, expected {want}"
            ));
        }
    }
    checked
}

pub fn run_refusal(pair: &Pair, path: &Path, failures: &mut Vec<String>) {
    let name = path.display().to_string();
    let spec = read_json(path);
    let field = spec["field"].as_str().expect("refusal needs a field");
    match (pair.request)(&spec["request"], &spec) {
        Ok((translated, _)) => failures.push(format!("{name} was translated: {translated}")),
        Err(e) if e.field != field => failures.push(format!(
            "{name} named {:?} instead of {field:?} ({})",
            e.field, e.message
        )),
        Err(e) => {
            if let Some(part) = spec["message_contains"].as_str() {
                if !e.message.contains(part) {
                    failures.push(format!("{name}: message {:?} lacks {part:?}", e.message));
                }
            }
        }
    }
}

pub fn golden_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}
