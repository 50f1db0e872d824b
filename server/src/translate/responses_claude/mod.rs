//! OpenAI Responses clients (Codex CLI, the OpenAI SDK's `responses.create`) on Claude
//! accounts: Responses ⇄ Anthropic Messages.
//!
//! Tollgate keeps no state: every request must carry the whole conversation.
//!
//! | Responses request | Handling |
//! |---|---|
//! | `model` | copied |
//! | `instructions`; `system`/`developer` input messages | → `system` text blocks, in order |
//! | `input` (string, or items) | `message` items → turns (`input_text`/`output_text` → text, `input_image` → image, `input_file` PDF → document; file ids refused); `function_call` / `custom_tool_call` → `tool_use`; `*_output` → `tool_result`; `reasoning` made by Tollgate → the original thinking block, others dropped (OpenAI-encrypted); `web_search_call` dropped (its findings are in the answer after it); `item_reference`, `compaction` refused |
//! | `max_output_tokens` | → `max_tokens`; default 32000 (8192 / 4096 for Claude 3.5 / 3 models) |
//! | `temperature`, `top_p` | copied for 0–1, refused above 1; refused together with reasoning (Claude reasons at its own temperature) |
//! | `tools`: `function` | → tool with `input_schema`; `strict` accepted, not enforced |
//! | `tools`: `custom` (Codex's `apply_patch`) | → tool with one string field `input`; a grammar is appended to the description as text, not enforced |
//! | `tools`: `web_search*` | dropped: Codex offers it by default; the model answers without searching |
//! | `tools`: `file_search`, `computer_use_preview`, `code_interpreter`, `image_generation`, `mcp`, `local_shell` | refused |
//! | `tool_choice` | `auto`/`none`/`required` → `auto`/`none`/`any`, `{function|custom, name}` → `{tool}`; `allowed_tools` and hosted tools refused |
//! | `parallel_tool_calls: false` | → `disable_parallel_tool_use` |
//! | `reasoning.effort` | → `thinking.budget_tokens` (minimal 1024, low 4096, medium 10240, high 24576, xhigh 32768, at most `max_tokens` − 1024; `none` → off); off with a forced tool, or when the last tool-using assistant turn has no thinking to send back |
//! | `reasoning.summary` | thinking is shown as reasoning summary text |
//! | `include: ["reasoning.encrypted_content"]` | reasoning items carry the thinking block (with its signature) for the next turn; `message.output_text.logprobs` refused, others ignored |
//! | `text.format` | `text` only; JSON modes refused. `text.verbosity` ignored |
//! | `user`, `safety_identifier` | → `metadata.user_id` |
//! | `store: true`, `previous_response_id`, `conversation`, `background: true`, `prompt` | refused: no server-side state |
//! | `top_logprobs` > 0, `max_tool_calls` | refused |
//! | `metadata`, `client_metadata`, `prompt_cache_key`, `service_tier`, `truncation`, `stream_options` | ignored (OpenAI-side bookkeeping) |
//!
//! Answers: each Claude block becomes an output item in order (text → `message`, `tool_use` →
//! `function_call` or `custom_tool_call`, thinking → `reasoning`); `max_tokens` →
//! `incomplete` (`max_output_tokens`), `refusal` → `incomplete` (`content_filter`), others →
//! `completed`. Usage: `input_tokens` counts cache reads and writes, `cached_tokens` the reads;
//! `reasoning_tokens` is 0 (Claude does not count thinking apart). Streams follow the Responses
//! event sequence; an upstream error or a cut stream ends with `response.failed`.

mod input;
mod request;
mod response;
mod stream;
mod tools;

use std::collections::HashSet;

use base64::Engine;
use serde_json::{json, Map, Value};

use super::error_shapes::UpstreamError;
use super::TranslateError;

pub use request::{default_max_tokens, responses_to_messages_request, ResponsesTranslation};
pub use response::messages_to_responses_response;
pub use stream::ClaudeToResponsesStream;

type Result<T> = std::result::Result<T, TranslateError>;

/// Marks an `encrypted_content` Tollgate wrote around a Claude thinking block.
const PAYLOAD_PREFIX: &str = "tollgate.claude.v1:";

/// What the answer's translation needs from the request.
#[derive(Clone, Debug)]
pub struct ResponsesContext {
    /// The model the client asked for, echoed.
    pub model: String,
    /// `created_at` of the response (epoch seconds).
    pub created_at: i64,
    /// Request settings every response object repeats.
    echo: Map<String, Value>,
    custom_tools: HashSet<String>,
    summaries: bool,
    encrypted_reasoning: bool,
}

impl ResponsesContext {
    fn new(
        body: &Map<String, Value>,
        model: &str,
        max_tokens: u64,
        custom_tools: HashSet<String>,
        summaries: bool,
        encrypted_reasoning: bool,
    ) -> ResponsesContext {
        let given = |name: &str, default: Value| {
            body.get(name)
                .filter(|v| !v.is_null())
                .cloned()
                .unwrap_or(default)
        };
        let reasoning = body.get("reasoning").filter(|r| !r.is_null());
        let mut echo = Map::new();
        echo.insert("instructions".into(), given("instructions", Value::Null));
        echo.insert("max_output_tokens".into(), json!(max_tokens));
        echo.insert(
            "parallel_tool_calls".into(),
            given("parallel_tool_calls", json!(true)),
        );
        echo.insert("previous_response_id".into(), Value::Null);
        echo.insert(
            "reasoning".into(),
            json!({
                "effort": reasoning.and_then(|r| r.get("effort")).cloned().unwrap_or(Value::Null),
                "summary": reasoning.and_then(|r| r.get("summary")).cloned().unwrap_or(Value::Null),
            }),
        );
        echo.insert("store".into(), json!(false));
        echo.insert("temperature".into(), given("temperature", json!(1.0)));
        echo.insert("text".into(), json!({ "format": { "type": "text" } }));
        echo.insert("tool_choice".into(), given("tool_choice", json!("auto")));
        echo.insert("tools".into(), given("tools", json!([])));
        echo.insert("top_p".into(), given("top_p", json!(1.0)));
        echo.insert("truncation".into(), given("truncation", json!("disabled")));
        echo.insert("user".into(), given("user", Value::Null));
        echo.insert("metadata".into(), given("metadata", json!({})));
        ResponsesContext {
            model: model.to_owned(),
            created_at: super::now_secs(),
            echo,
            custom_tools,
            summaries,
            encrypted_reasoning,
        }
    }

    /// A response object: `status` with its `output`, `usage`, and for `incomplete` the reason.
    fn response(&self, id: &str, status: &str, output: Vec<Value>, usage: Value) -> Value {
        let mut response = json!({
            "id": id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "error": null,
            "incomplete_details": null,
            "model": self.model,
            "output": output,
            "usage": usage,
        });
        if let Some(obj) = response.as_object_mut() {
            obj.extend(self.echo.clone());
        }
        response
    }

    /// The reasoning item of a thinking (or redacted thinking) block.
    fn reasoning_item(&self, id: &str, block: &Value) -> Value {
        let thinking = block.get("thinking").and_then(Value::as_str).unwrap_or("");
        let summary = if self.summaries && !thinking.is_empty() {
            json!([{ "type": "summary_text", "text": thinking }])
        } else {
            json!([])
        };
        let mut item = json!({ "id": id, "type": "reasoning", "summary": summary });
        if self.encrypted_reasoning {
            item["encrypted_content"] = json!(thinking_payload(block));
        }
        item
    }
}

/// A thinking block wrapped for `encrypted_content`: Claude verifies the block by its signature,
/// so it must come back whole.
fn thinking_payload(block: &Value) -> String {
    let kept = match block.get("type").and_then(Value::as_str) {
        Some("redacted_thinking") => {
            json!({ "type": "redacted_thinking", "data": block.get("data") })
        }
        _ => json!({
            "type": "thinking",
            "thinking": block.get("thinking"),
            "signature": block.get("signature"),
        }),
    };
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(kept.to_string());
    format!("{PAYLOAD_PREFIX}{encoded}")
}

/// The thinking block inside an `encrypted_content` Tollgate wrote, if it is one.
fn thinking_block_from_payload(encrypted: &str) -> Option<Value> {
    let encoded = encrypted.strip_prefix(PAYLOAD_PREFIX)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()?;
    let block: Value = serde_json::from_slice(&bytes).ok()?;
    match block.get("type").and_then(Value::as_str) {
        Some("thinking") if block["thinking"].is_string() && block["signature"].is_string() => {
            Some(block)
        }
        Some("redacted_thinking") if block["data"].is_string() => Some(block),
        _ => None,
    }
}

/// `resp_…` for an Anthropic message id.
fn response_id(message_id: Option<&str>) -> String {
    let id = message_id.unwrap_or("unknown");
    format!("resp_{}", id.strip_prefix("msg_").unwrap_or(id))
}

/// Anthropic `stop_reason` → Responses status and incomplete reason.
fn status_of(stop_reason: Option<&str>) -> (&'static str, Option<&'static str>) {
    match stop_reason {
        Some("max_tokens") | Some("model_context_window_exceeded") => {
            ("incomplete", Some("max_output_tokens"))
        }
        Some("refusal") => ("incomplete", Some("content_filter")),
        _ => ("completed", None),
    }
}

/// Anthropic usage → Responses usage. Cache reads and writes are input tokens too.
fn responses_usage(usage: &Value) -> Value {
    let count = |name: &str| usage.get(name).and_then(Value::as_u64).unwrap_or(0);
    let cached = count("cache_read_input_tokens");
    let input = count("input_tokens")
        .saturating_add(count("cache_creation_input_tokens"))
        .saturating_add(cached);
    let output = count("output_tokens");
    json!({
        "input_tokens": input,
        "input_tokens_details": { "cached_tokens": cached },
        "output_tokens": output,
        "output_tokens_details": { "reasoning_tokens": 0 },
        "total_tokens": input.saturating_add(output),
    })
}

/// The whole-answer transform of this pair.
pub fn whole_transform(ctx: ResponsesContext) -> super::WholeAnswer {
    super::WholeAnswer::new(
        move |msg, passed| {
            let answer = messages_to_responses_response(msg, &ctx);
            for item in answer["output"].as_array().into_iter().flatten() {
                match item["type"].as_str() {
                    Some("message") => passed.text(
                        item.pointer("/content/0/text")
                            .and_then(Value::as_str)
                            .unwrap_or(""),
                    ),
                    Some("function_call") => passed.tool(item["arguments"].as_str().unwrap_or("")),
                    Some("custom_tool_call") => passed.tool(item["input"].as_str().unwrap_or("")),
                    Some("reasoning") => passed.reasoning(
                        item.pointer("/summary/0/text")
                            .and_then(Value::as_str)
                            .unwrap_or(""),
                    ),
                    _ => {}
                }
            }
            passed.reported_output_tokens = answer
                .pointer("/usage/output_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            answer
        },
        |raw| messages_error_to_responses(502, raw).1,
    )
}

/// An Anthropic error answer (status and body) → the OpenAI error a Responses client gets.
pub fn messages_error_to_responses(status: u16, body: &[u8]) -> (u16, Value) {
    let error = UpstreamError::from_anthropic(status, body);
    (error.openai_status(), error.openai_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinking_survives_the_round_trip_through_encrypted_content() {
        let block = json!({"type": "thinking", "thinking": "Let me see", "signature": "c2ln"});
        assert_eq!(
            thinking_block_from_payload(&thinking_payload(&block)),
            Some(block)
        );
        let redacted = json!({"type": "redacted_thinking", "data": "opaque"});
        assert_eq!(
            thinking_block_from_payload(&thinking_payload(&redacted)),
            Some(redacted)
        );
        assert_eq!(
            thinking_block_from_payload("gAAAAABo-openai-encrypted"),
            None
        );
        assert_eq!(thinking_block_from_payload("tollgate.claude.v1:!!"), None);
    }
}
