//! OpenAI Chat Completions clients on Claude accounts: Chat ⇄ Anthropic Messages, as pure
//! functions over JSON values.
//!
//! The rule: what cannot be translated is refused with a 400 naming the field
//! ([`TranslateError`]); nothing that changes the answer is silently dropped. A field is ignored
//! only when it cannot change the answer, and the reason is recorded here. `null` counts as absent
//! everywhere.
//!
//! | OpenAI request field | Handling |
//! |---|---|
//! | `model` | copied (the relay chooses the upstream model) |
//! | `messages` | translated, see below |
//! | `max_completion_tokens`, `max_tokens` | → `max_tokens`; [`DEFAULT_MAX_TOKENS`] (4096) when both are absent, because Anthropic requires it; refused when both are set and differ |
//! | `temperature` | → `temperature` for 0–1; refused above 1 (Anthropic's range is 0–1, clamping would change the answer) |
//! | `top_p` | → `top_p` (0–1) |
//! | `top_k` (an Anthropic extension some clients send) | → `top_k` |
//! | `stop` (string or array) | → `stop_sequences` |
//! | `stream` | → `stream` |
//! | `stream_options.include_usage` | read by the caller ([`stream_include_usage`]) for [`ChatStreamTranslator`] |
//! | `tools` (type `function`) | → `tools` with `input_schema`; other tool types and `strict: true` refused (no schema guarantee upstream) |
//! | `tool_choice` | `auto` → `auto`, `none` → `none`, `required` → `any`, `{function}` → `{tool, name}`; others refused |
//! | `parallel_tool_calls: false` | → `tool_choice.disable_parallel_tool_use: true` |
//! | `user`, `safety_identifier` | → `metadata.user_id` |
//! | `n` > 1 | refused |
//! | `logprobs: true`, `top_logprobs` > 0 | refused |
//! | `audio`, `modalities` other than `["text"]` | refused |
//! | `response_format` `json_object` / `json_schema` | refused (no faithful equivalent); `text` accepted |
//! | `functions`, `function_call` (legacy) | refused: use `tools` / `tool_choice` |
//! | `presence_penalty`, `frequency_penalty` ≠ 0 | refused |
//! | `logit_bias` non-empty | refused |
//! | `reasoning_effort`, `verbosity`, `web_search_options` | refused |
//! | `seed` | ignored: a best-effort determinism hint that OpenAI itself does not guarantee |
//! | `prediction` | ignored: a latency optimisation, the answer is the same |
//! | `store`, `metadata`, `service_tier`, `prompt_cache_key` | ignored: OpenAI-side storage, tagging, scheduling and cache routing |
//! | any other field | refused |
//!
//! | Messages | Handling |
//! |---|---|
//! | `system`, `developer` | → `system` text blocks in order (Anthropic has one system prompt, so later ones are hoisted) |
//! | `user` text, `image_url` | → `text`, `image` blocks: `data:` URLs → base64 source, `http(s)` URLs → url source; `detail` ignored (an OpenAI resolution/cost hint) |
//! | `assistant` `content`, `refusal` | → `text` blocks |
//! | `assistant` `tool_calls` | → `tool_use` blocks (`arguments` must be a JSON object) |
//! | `tool` | → `tool_result` blocks in a user turn |
//! | consecutive turns of one role | merged, as Anthropic requires alternation |
//! | `cache_control` on a content part | passed through |
//! | empty text | dropped (Anthropic refuses empty text blocks); a message left empty is skipped |
//! | a final `assistant` message | sent as is: Anthropic continues it (prefill) |
//! | `name`, `audio`, `function_call`; `input_audio`, `file` parts; `function` and unknown roles | refused |
//!
//! Responses map `end_turn`/`stop_sequence`/`pause_turn` → `stop`, `max_tokens` → `length`,
//! `tool_use` → `tool_calls`, `refusal` → `content_filter`; usage counts cache reads and writes
//! as prompt tokens (cache reads also as `cached_tokens`). Thinking blocks are never requested, so
//! none are translated back.

mod errors;
mod messages;
mod request;
mod response;
mod stream;

use super::{now_secs, TranslateError};

pub use errors::messages_error_to_openai;
pub(crate) use errors::openai_error;
pub(crate) use messages::{base64_source, text_block, Role, Turns};
pub use request::{chat_to_messages_request, stream_include_usage, DEFAULT_MAX_TOKENS};
pub use response::{messages_to_chat_response, messages_to_chat_response_at};
pub use stream::ChatStreamTranslator;

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn parse(payloads: &[String]) -> Vec<Value> {
        payloads
            .iter()
            .map(|p| serde_json::from_str(p).unwrap())
            .collect()
    }

    #[test]
    fn include_usage_is_read_from_stream_options() {
        assert!(stream_include_usage(
            &json!({"stream_options": {"include_usage": true}})
        ));
        assert!(!stream_include_usage(&json!({"stream": true})));
        assert!(!stream_include_usage(
            &json!({"stream_options": {"include_usage": "yes"}})
        ));
    }

    #[test]
    fn unreadable_stream_data_ends_the_stream_with_an_error() {
        let mut t = ChatStreamTranslator::with_created("m", false, 1);
        let out = parse(&t.on_event("content_block_delta", "{oops"));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["error"]["type"], "server_error");
        assert!(out[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unreadable"));
        assert!(t.on_event("message_stop", "{}").is_empty());
        assert!(t.finish().is_empty());
    }

    #[test]
    fn content_before_message_start_still_opens_with_the_role() {
        let mut t = ChatStreamTranslator::with_created("m", false, 1);
        // Without an `event:` line the data's own `type` names the event.
        let out = parse(&t.on_event(
            "",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}"#,
        ));
        assert_eq!(out.len(), 2);
        assert_eq!(out[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(out[0]["id"], "chatcmpl-unknown");
        assert_eq!(out[1]["choices"][0]["delta"]["content"], "hi");
        assert!(t
            .on_event(
                "content_block_start",
                r#"{"index":1,"content_block":{"type":"thinking","thinking":""}}"#
            )
            .is_empty());
    }

    #[test]
    fn unknown_upstream_error_bodies_are_classified_by_status() {
        let cases = [
            (401, "authentication_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "invalid_request_error"),
            (429, "rate_limit_error"),
            (529, "server_error"),
        ];
        for (status, kind) in cases {
            let body = messages_error_to_openai(status, b"");
            assert_eq!(body["error"]["type"], kind, "{status}");
            assert_eq!(
                body["error"]["message"],
                format!("upstream returned HTTP {status}")
            );
        }
        let long = "x".repeat(2000);
        let body = messages_error_to_openai(500, long.as_bytes());
        assert!(body["error"]["message"].as_str().unwrap().chars().count() < 600);
    }
}
