//! Anthropic Messages clients (Claude Code, the Anthropic SDKs) on OpenAI and OpenAI-compatible
//! accounts: Messages ⇄ Chat Completions.
//!
//! | Messages request | Handling |
//! |---|---|
//! | `model` | copied |
//! | `system` (string or text blocks) | → one `system` message, blocks joined by blank lines |
//! | `user` text, `image` (base64 / url), `document` (base64 PDF / text) | → `text`, `image_url`, `file` parts |
//! | `user` `tool_result` | → a `tool` message each, before the turn's other content; text joined, images moved to the user message after them; `is_error` is lost (the text usually says it) |
//! | `assistant` text, `tool_use` | → `content`, `tool_calls` |
//! | `thinking`, `redacted_thinking` blocks | dropped (OpenAI models cannot read Claude's reasoning) |
//! | `cache_control` | dropped: OpenAI caches prompt prefixes by itself |
//! | `max_tokens` | → `max_completion_tokens` (OpenAI) or `max_tokens` (compatible servers), see [`ChatTarget`] |
//! | `temperature`, `top_p` | copied (1 is left out for reasoning models, which take only the default) |
//! | `top_k` | refused |
//! | `stop_sequences` | → `stop` (at most 4) |
//! | `stream` | → `stream` with `stream_options.include_usage` always on, so usage is known |
//! | `thinking` | → `reasoning_effort` on reasoning models (budget < 4096 low, < 16384 medium, else high; `adaptive` medium); dropped on others |
//! | `tools` (custom) | → function tools; Anthropic-hosted tools (web search, bash, text editor, ...) refused |
//! | `tool_choice` | `auto`/`any`/`tool`/`none` → `auto`/`required`/function/`none`; `disable_parallel_tool_use` → `parallel_tool_calls: false` |
//! | `output_format` (JSON schema) | → `response_format` `json_schema` (strict) |
//! | `container`, `mcp_servers` | refused |
//! | `metadata`, `service_tier`, `context_management` | ignored |
//!
//! Answers: `reasoning_content` (compatible servers) → a thinking block without signature,
//! `content` → text, `refusal` → text, `tool_calls` → `tool_use` (arguments that are not a JSON
//! object become `{}`). `stop` → `end_turn` (which stop sequence matched is unknown),
//! `length` → `max_tokens`, `tool_calls` → `tool_use`, `content_filter` → `refusal`. Usage:
//! `input_tokens` excludes `cached_tokens`, which become `cache_read_input_tokens`. Streams
//! follow Anthropic's event sequence, closing with `message_delta` (stop reason and usage)
//! once the usage chunk has come; errors become Anthropic `error` events.

mod content;
mod request;
mod response;
mod stream;

use serde_json::Value;

use super::error_shapes::UpstreamError;
use super::TranslateError;

pub use request::{is_reasoning_model, messages_to_chat_request, ChatTarget};
pub use response::chat_to_messages_response;
pub use stream::ChatToMessagesStream;

type Result<T> = std::result::Result<T, TranslateError>;

/// The whole-answer transform of this pair.
pub fn whole_transform(requested_model: String) -> super::WholeAnswer {
    super::WholeAnswer::new(
        move |completion, passed| {
            let answer = chat_to_messages_response(completion, &requested_model);
            for block in answer["content"].as_array().into_iter().flatten() {
                match block["type"].as_str() {
                    Some("text") => passed.text(block["text"].as_str().unwrap_or("")),
                    Some("thinking") => passed.reasoning(block["thinking"].as_str().unwrap_or("")),
                    Some("tool_use") => passed.tool(&block["input"].to_string()),
                    _ => {}
                }
            }
            passed.reported_output_tokens = answer
                .pointer("/usage/output_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            answer
        },
        |raw| openai_error_to_anthropic(502, raw).1,
    )
}

/// An OpenAI error answer (status and body) → the Anthropic error a Messages client gets.
pub fn openai_error_to_anthropic(status: u16, body: &[u8]) -> (u16, Value) {
    let error = UpstreamError::from_openai(status, body);
    (error.anthropic_status(), error.anthropic_body())
}
