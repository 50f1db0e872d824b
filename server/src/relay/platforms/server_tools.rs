//! Server-side tools (web search, code execution, grounding): the uses an answer reports, for
//! settlement, and what a request declares, for its reservation and for keys that refuse them.
//! Fees are in the price table ([`crate::pricing::ToolFees`]).

use serde_json::value::RawValue;
use serde_json::Value;

use crate::pricing::ServerToolUse;

/// Uses assumed for a declared web-search tool that sets no `max_uses`, per answer.
pub const DEFAULT_SEARCHES: u64 = 5;

/// Anthropic `usage.server_tool_use.web_search_requests` (running totals: the latest wins).
pub fn anthropic_tools(usage: &Value, into: &mut ServerToolUse) {
    if let Some(n) = usage
        .get("server_tool_use")
        .and_then(|s| s.get("web_search_requests"))
        .and_then(Value::as_u64)
    {
        into.web_searches = n;
    }
}

/// OpenAI Responses output items: one `web_search_call` per search, one code-interpreter
/// session per container not seen before in the answer.
pub fn openai_response_tools(response: &Value, into: &mut ServerToolUse) {
    let Some(items) = response.get("output").and_then(Value::as_array) else {
        return;
    };
    let mut searches = 0;
    let mut containers: Vec<&str> = Vec::new();
    let mut sessions = 0;
    for item in items {
        match item.get("type").and_then(Value::as_str) {
            Some("web_search_call") => searches += 1,
            Some("code_interpreter_call") => match item.get("container_id").and_then(Value::as_str)
            {
                Some(c) if containers.contains(&c) => {}
                Some(c) => {
                    containers.push(c);
                    sessions += 1;
                }
                None => sessions += 1,
            },
            _ => {}
        }
    }
    if searches + sessions > 0 {
        into.web_searches = searches;
        into.code_executions = sessions;
    }
}

/// Gemini candidates: `groundingMetadata.webSearchQueries` (their number) and one grounded
/// request per candidate with grounding metadata.
pub fn gemini_tools(response: &Value, into: &mut ServerToolUse) {
    let Some(candidates) = response.get("candidates").and_then(Value::as_array) else {
        return;
    };
    let mut searches = 0;
    let mut grounded = 0;
    for c in candidates {
        if let Some(g) = c.get("groundingMetadata").filter(|g| g.is_object()) {
            grounded += 1;
            searches += g
                .get("webSearchQueries")
                .and_then(Value::as_array)
                .map_or(0, |q| q.len() as u64);
        }
    }
    if grounded > 0 {
        into.web_searches = searches;
        into.grounded_requests = grounded;
    }
}

/// The server-side tools a request declares: whether any, and the most uses they may cause
/// (for the reservation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeclaredTools {
    pub any: bool,
    pub most: ServerToolUse,
}

fn tool_items(tools: Option<&RawValue>) -> Vec<Value> {
    tools
        .and_then(|t| serde_json::from_str::<Vec<Value>>(t.get()).ok())
        .unwrap_or_default()
}

/// Anthropic `tools`: `web_search_*` (up to `max_uses`), `code_execution_*`, `web_fetch_*`.
pub fn anthropic_declared(tools: Option<&RawValue>) -> DeclaredTools {
    let mut d = DeclaredTools::default();
    for t in tool_items(tools) {
        let ty = t.get("type").and_then(Value::as_str).unwrap_or("");
        if ty.starts_with("web_search") {
            d.any = true;
            let uses = t.get("max_uses").and_then(Value::as_u64);
            d.most.web_searches += uses.unwrap_or(DEFAULT_SEARCHES).min(1_000);
        } else if ty.starts_with("code_execution") {
            d.any = true;
            d.most.code_executions += 1;
        } else if ty.starts_with("web_fetch") {
            d.any = true;
        }
    }
    d
}

/// OpenAI Responses `tools`: `web_search*`, `code_interpreter`, `file_search`,
/// `image_generation`.
pub fn responses_declared(tools: Option<&RawValue>) -> DeclaredTools {
    let mut d = DeclaredTools::default();
    for t in tool_items(tools) {
        let ty = t.get("type").and_then(Value::as_str).unwrap_or("");
        if ty.starts_with("web_search") {
            d.any = true;
            d.most.web_searches += DEFAULT_SEARCHES;
        } else if ty == "code_interpreter" {
            d.any = true;
            d.most.code_executions += 1;
        } else if matches!(ty, "file_search" | "image_generation") {
            d.any = true;
        }
    }
    d
}

/// Whether a Chat Completions model searches the web on every answer (`gpt-4o-search-preview`).
pub fn chat_search_model(model: &str) -> bool {
    // `-search-` anywhere or `-search` at the end, looked for at each `-` (a substring
    // search's set-up costs more than these short names take to walk).
    let name = model.as_bytes();
    (0..name.len()).any(|at| {
        name[at] == b'-'
            && match name[at + 1..].strip_prefix(b"search") {
                Some(after) => after.first().is_none_or(|b| *b == b'-'),
                None => false,
            }
    })
}

/// Chat Completions: `web_search_options`, or a search model (one search per answer).
pub fn chat_declared(model: &str, web_search_options: bool, answers: u64) -> DeclaredTools {
    let any = web_search_options || chat_search_model(model);
    DeclaredTools {
        any,
        most: ServerToolUse {
            web_searches: if any { answers.max(1) } else { 0 },
            ..Default::default()
        },
    }
}

/// Gemini `tools`: `googleSearch`/`googleSearchRetrieval` (grounding, per candidate),
/// `codeExecution`, `googleMaps`, `urlContext`.
pub fn gemini_declared(tools: Option<&RawValue>, candidates: u64) -> DeclaredTools {
    let mut d = DeclaredTools::default();
    for t in tool_items(tools) {
        let Some(obj) = t.as_object() else { continue };
        for name in obj.keys() {
            match name.as_str() {
                "googleSearch"
                | "google_search"
                | "googleSearchRetrieval"
                | "google_search_retrieval" => {
                    d.any = true;
                    d.most.grounded_requests = candidates.max(1);
                    d.most.web_searches += DEFAULT_SEARCHES * candidates.max(1);
                }
                "googleMaps" | "google_maps" => {
                    d.any = true;
                    d.most.maps_queries += DEFAULT_SEARCHES * candidates.max(1);
                }
                "codeExecution" | "code_execution" | "urlContext" | "url_context" => {
                    d.any = true;
                }
                _ => {}
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn uses_reported_by_each_platform() {
        let mut t = ServerToolUse::default();
        anthropic_tools(
            &serde_json::json!({"output_tokens": 3, "server_tool_use": {"web_search_requests": 2}}),
            &mut t,
        );
        assert_eq!(t.web_searches, 2);
        let mut t = ServerToolUse::default();
        openai_response_tools(
            &serde_json::json!({"output": [
                {"type": "web_search_call"}, {"type": "web_search_call"},
                {"type": "code_interpreter_call", "container_id": "c1"},
                {"type": "code_interpreter_call", "container_id": "c1"},
                {"type": "message"}]}),
            &mut t,
        );
        assert_eq!((t.web_searches, t.code_executions), (2, 1));
        let mut t = ServerToolUse::default();
        gemini_tools(
            &serde_json::json!({"candidates": [
                {"groundingMetadata": {"webSearchQueries": ["a", "b"]}},
                {"groundingMetadata": {"webSearchQueries": ["c"]}}, {}]}),
            &mut t,
        );
        assert_eq!((t.web_searches, t.grounded_requests), (3, 2));
    }

    #[test]
    fn declared_tools() {
        let d = anthropic_declared(Some(&raw(
            r#"[{"type":"web_search_20250305","name":"web_search","max_uses":3},{"name":"f","input_schema":{}}]"#,
        )));
        assert!(d.any);
        assert_eq!(d.most.web_searches, 3);
        assert!(!anthropic_declared(Some(&raw(r#"[{"name":"f"}]"#))).any);
        assert!(responses_declared(Some(&raw(r#"[{"type":"web_search_preview"}]"#))).any);
        assert!(!responses_declared(Some(&raw(r#"[{"type":"function","name":"x"}]"#))).any);
        let g = gemini_declared(Some(&raw(r#"[{"googleSearch":{}}]"#)), 2);
        assert!(g.any);
        assert_eq!(g.most.grounded_requests, 2);
        assert!(chat_declared("gpt-4o-search-preview", false, 3).any);
        assert_eq!(
            chat_declared("gpt-4o-search-preview", false, 3)
                .most
                .web_searches,
            3
        );
        assert!(!chat_declared("gpt-4o", false, 1).any);
    }

    #[test]
    fn search_models_are_told_as_before() {
        let former = |m: &str| m.contains("-search-") || m.ends_with("-search");
        for m in [
            "gpt-4o-search-preview",
            "gpt-4o-mini-search",
            "search",
            "-search",
            "-search-",
            "--search",
            "x-searcher",
            "x-search_",
            "x-sear",
            "research-search-x",
            "x-research",
            "-search-search",
            "é-search",
            "",
            "claude-sonnet-4-5",
        ] {
            assert_eq!(chat_search_model(m), former(m), "{m}");
        }
    }
}
