//! OpenAI Responses clients (Codex CLI, the OpenAI SDK's `responses.create`) on Claude
//! accounts: `POST /v1/responses` and `/openai/v1/responses` with a `claude-*` model, or from a
//! key that can reach only Claude accounts.
//!
//! The request is translated by [`crate::translate::responses_claude`] before admission (what
//! cannot be translated is a 400 naming the field), scheduled on the Claude platform with the
//! key's Claude binding, and the answer translated back as it streams. Metering reads the
//! Anthropic bytes, so usage and cost are those of `/v1/messages` for the same model.

use std::sync::Arc;
use std::time::Instant;

use app::types::Platform;
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;

use super::claude::ClaudeAdapter;
use super::translated::session_of;
use super::translated::{client_error, no_headers, refused, Translated};
use super::Call;
use crate::limits::KeyLimits;
use crate::relay::admission::relay_call;
use crate::relay::error::{Protocol, RelayError};
use crate::relay::request_cost::{OutputField, RequestShape};
use crate::relay::Relay;
use crate::scheduler::sticky::session_hash;
use crate::translate::responses_claude::{
    messages_error_to_responses, responses_to_messages_request, whole_transform,
    ClaudeToResponsesStream,
};
use crate::translate::StreamTransform;

/// Whether a Responses request goes to Claude accounts: a Claude model, or a key whose
/// platforms include Claude but not OpenAI.
pub fn goes_to_claude(key: &KeyLimits, model: &str) -> bool {
    model.starts_with("claude-")
        || (!key.permissions.is_empty()
            && key.platform_allowed(Platform::Claude)
            && !key.platform_allowed(Platform::Openai))
}

/// Codex CLI names its conversation in `prompt_cache_key` and a `session_id` header.
fn explicit_session(request: &Value, headers: &HeaderMap) -> Option<String> {
    request
        .get("prompt_cache_key")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            ["session_id", "conversation_id"].iter().find_map(|h| {
                headers
                    .get(*h)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
        })
}

/// Translates, relays on the Claude platform, and puts error answers in OpenAI's shape.
pub async fn relay_translated(
    relay: &Arc<Relay>,
    key: Arc<KeyLimits>,
    headers: &HeaderMap,
    body: Bytes,
    started: Instant,
) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return RelayError::invalid(format!("malformed JSON body: {e}"))
                .into_response(Protocol::OpenAi)
        }
    };
    let translation = match responses_to_messages_request(&request) {
        Ok(t) => t,
        Err(e) => return refused(&e, Protocol::OpenAi),
    };
    let messages_request = translation.messages_request;
    let model = translation.context.model.clone();
    let stream = messages_request["stream"] == Value::Bool(true);
    let max_tokens = messages_request["max_tokens"].as_u64().unwrap_or(8_192);
    let session = match explicit_session(&request, headers) {
        Some(id) => session_hash(Some(&id), None, None),
        None => session_of(&messages_request),
    };
    let upstream_body = match serde_json::to_vec(&messages_request) {
        Ok(b) => Bytes::from(b),
        Err(e) => {
            return RelayError::invalid(format!("cannot encode the translated request: {e}"))
                .into_response(Protocol::OpenAi)
        }
    };
    let call = Call {
        path_and_query: "/v1/messages".into(),
        model,
        stream,
        max_output_tokens: max_tokens,
        session,
        billable: true,
        headers: no_headers(),
        shape: RequestShape {
            answers: 1,
            tools: super::server_tools::anthropic_declared(
                serde_json::value::to_raw_value(&messages_request["tools"])
                    .ok()
                    .as_deref(),
            ),
            output_field: OutputField::Claude,
        },
        body: upstream_body,
    };
    let ctx = translation.context;
    let adapter = Translated {
        inner: ClaudeAdapter,
        client: Protocol::OpenAi,
        make: Box::new(move |stream| -> Box<dyn StreamTransform> {
            if stream {
                Box::new(ClaudeToResponsesStream::new(ctx.clone()))
            } else {
                Box::new(whole_transform(ctx.clone()))
            }
        }),
        body_for: None,
    };
    let price = relay.pricing.load().lookup(&call.model);
    let res = relay_call(relay, &adapter, key, call, price, started).await;
    client_error(res, Protocol::OpenAi, messages_error_to_responses).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_from_codex_headers_first() {
        let mut h = HeaderMap::new();
        h.insert("session_id", "s-1".parse().unwrap());
        let r = serde_json::json!({"input": "hi"});
        assert_eq!(explicit_session(&r, &h).as_deref(), Some("s-1"));
        let r = serde_json::json!({"prompt_cache_key": "pk"});
        assert_eq!(explicit_session(&r, &h).as_deref(), Some("pk"));
        assert_eq!(
            explicit_session(&r, &HeaderMap::new()).as_deref(),
            Some("pk")
        );
    }
}
