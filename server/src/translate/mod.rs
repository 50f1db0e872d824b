//! Pure protocol translations, so a client speaking one API can be served by an account of
//! another platform. Each pair is a request translator (refusing what it cannot map with a
//! [`TranslateError`] naming the field), an answer translator, a stream transformer fed the
//! upstream body at arbitrary byte boundaries ([`StreamTransform`]), and an error translator.
//! Nothing here does I/O; the relay wires the pairs to its routes.
//!
//! | Client protocol ↓ / account → | Claude (Messages) | OpenAI (Chat Completions) | Gemini (generateContent) |
//! |---|---|---|---|
//! | Anthropic Messages | native | translated: [`messages_openai`] | — |
//! | OpenAI Chat Completions | translated: [`chat_claude`] | native | translated: [`chat_gemini`] |
//! | OpenAI Responses | translated: [`responses_claude`] | native | — |
//! | Gemini | — | — | native |
//!
//! What each translation loses, in short (each module's documentation has the field-by-field
//! table):
//!
//! - **Chat → Claude**: `n` > 1, logprobs, penalties, logit bias, JSON modes, audio are refused;
//!   temperature above 1 is refused (Claude's range is 0–1); `seed` is ignored.
//! - **Responses → Claude**: no server-side state (`store: true`, `previous_response_id`,
//!   `conversation`, `background` are refused); hosted tools other than web search are refused
//!   and `web_search` is dropped (the model answers without searching); custom (freeform) tools
//!   become a one-string-field tool whose grammar is given to Claude as text, not enforced;
//!   `strict` schemas and `text.verbosity` are best effort; reasoning effort becomes a thinking
//!   budget, and reasoning items from OpenAI (encrypted by OpenAI) are dropped from history;
//!   reasoning tokens are not reported apart from output tokens.
//! - **Chat → Gemini**: logprobs, penalties on models without them, logit bias, audio are
//!   refused; tool call ids are made up by Tollgate (Gemini has none) and carry Gemini's thought
//!   signature; JSON schemas lose what Gemini's OpenAPI subset cannot say (`additionalProperties`,
//!   `$ref` beyond inlining, `const` becomes a one-value `enum`, ...).
//! - **Messages → OpenAI**: `cache_control` is dropped (OpenAI caches by itself), `thinking`
//!   becomes `reasoning_effort` only on reasoning models and earlier thinking blocks are dropped
//!   from history, `top_k` and server tools are refused, images inside tool results move to a
//!   user turn after the tool messages, and which stop sequence matched is not known.

pub mod chat_claude;
pub mod chat_gemini;
mod error_shapes;
pub mod messages_openai;
#[cfg(test)]
mod proptests;
pub mod responses_claude;
mod sse;
mod transform;

use serde_json::{json, Value};

pub use chat_claude::{
    chat_to_messages_request, messages_error_to_openai, messages_to_chat_response,
    messages_to_chat_response_at, stream_include_usage, ChatStreamTranslator, DEFAULT_MAX_TOKENS,
};
pub use error_shapes::{ErrorKind, UpstreamError};
pub use transform::{
    claude_to_chat_whole, ClaudeToChatStream, PassedOn, StreamTransform, WholeAnswer,
    MAX_WHOLE_ANSWER,
};

/// A request the translation refuses: answer 400 naming `field`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct TranslateError {
    /// The offending field as a path into the request, e.g. `messages[2].content[0].type`.
    pub field: String,
    pub message: String,
}

impl TranslateError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> TranslateError {
        TranslateError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The OpenAI-shaped 400 body for this refusal (Chat Completions and Responses clients).
    pub fn to_openai_error(&self) -> Value {
        json!({
            "error": {
                "message": format!("{}: {}", self.field, self.message),
                "type": "invalid_request_error",
                "param": self.field,
                "code": "unsupported_parameter",
            }
        })
    }

    /// The Anthropic-shaped 400 body for this refusal (Messages clients).
    pub fn to_anthropic_error(&self) -> Value {
        json!({
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": format!("{}: {}", self.field, self.message),
            }
        })
    }
}

/// Seconds since the epoch, OpenAI's `created`.
fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn refusals_in_each_client_shape() {
        let err = TranslateError::new("n", "only n = 1 is supported");
        assert_eq!(err.to_string(), "n: only n = 1 is supported");
        assert_eq!(
            err.to_openai_error(),
            json!({"error": {"message": "n: only n = 1 is supported",
                "type": "invalid_request_error", "param": "n", "code": "unsupported_parameter"}})
        );
        assert_eq!(
            err.to_anthropic_error(),
            json!({"type": "error", "error": {"type": "invalid_request_error",
                "message": "n: only n = 1 is supported"}})
        );
    }
}
