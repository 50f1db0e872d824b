//! OpenAI Chat Completions clients on Gemini accounts: `POST /v1/chat/completions` with a
//! `gemini-*` model.
//!
//! The request is translated by [`crate::translate::chat_gemini`] before admission (what cannot
//! be translated is a 400 naming the field), scheduled on the Gemini platform with the key's
//! Gemini binding (`generateContent`, or `streamGenerateContent?alt=sse`), and the answer
//! translated back as it streams. Metering reads Gemini's `usageMetadata`, so usage and cost are
//! those of the Gemini routes for the same model.

use std::sync::Arc;
use std::time::Instant;

use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;

use super::gemini::{valid_model_name, Action, GeminiAdapter};
use super::translated::{client_error, no_headers, refused, Translated};
use super::Call;
use crate::limits::KeyLimits;
use crate::relay::admission::relay_call;
use crate::relay::error::{Protocol, RelayError};
use crate::relay::request_cost::{OutputField, RequestShape};
use crate::relay::Relay;
use crate::scheduler::sticky::session_hash;
use crate::translate::chat_gemini::{
    chat_to_gemini_request, gemini_error_to_openai, whole_transform, GeminiToChatStream,
};
use crate::translate::StreamTransform;

/// Translates, relays on the Gemini platform, and puts error answers in OpenAI's shape.
pub async fn relay_translated(
    relay: &Arc<Relay>,
    key: Arc<KeyLimits>,
    body: Bytes,
    started: Instant,
) -> Response {
    let chat: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return RelayError::invalid(format!("malformed JSON body: {e}"))
                .into_response(Protocol::OpenAi)
        }
    };
    let translation = match chat_to_gemini_request(&chat) {
        Ok(t) => t,
        Err(e) => return refused(&e, Protocol::OpenAi),
    };
    if !valid_model_name(&translation.model) {
        return RelayError::invalid(format!(
            "invalid model name {:?}: use letters, digits, '.', '-' and '_' only",
            translation.model
        ))
        .into_response(Protocol::OpenAi);
    }
    let price = relay.pricing.load().lookup(&translation.model);
    let max_output = translation
        .body
        .pointer("/generationConfig/maxOutputTokens")
        .and_then(Value::as_u64)
        .or(price.max_output_tokens)
        .unwrap_or(8_192);
    let session = session_hash(
        None,
        translation.body.get("systemInstruction"),
        translation
            .body
            .get("contents")
            .and_then(Value::as_array)
            .and_then(|c| c.first()),
    );
    let upstream_body = match serde_json::to_vec(&translation.body) {
        Ok(b) => Bytes::from(b),
        Err(e) => {
            return RelayError::invalid(format!("cannot encode the translated request: {e}"))
                .into_response(Protocol::OpenAi)
        }
    };
    let stream = translation.stream;
    let candidates = translation
        .body
        .pointer("/generationConfig/candidateCount")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    let call = Call {
        path_and_query: translation.path(),
        model: translation.model.clone(),
        stream,
        max_output_tokens: max_output,
        session,
        billable: true,
        headers: no_headers(),
        shape: RequestShape {
            answers: candidates,
            tools: super::server_tools::gemini_declared(
                serde_json::value::to_raw_value(&translation.body["tools"])
                    .ok()
                    .as_deref(),
                candidates,
            ),
            output_field: OutputField::Gemini,
        },
        body: upstream_body,
    };
    let ctx = translation.context;
    let adapter = Translated {
        inner: GeminiAdapter {
            version: "v1beta",
            action: if stream {
                Action::StreamGenerate
            } else {
                Action::Generate
            },
            query: stream.then(|| "alt=sse".to_owned()),
        },
        client: Protocol::OpenAi,
        make: Box::new(move |stream| -> Box<dyn StreamTransform> {
            if stream {
                Box::new(GeminiToChatStream::new(ctx.clone()))
            } else {
                Box::new(whole_transform(ctx.clone()))
            }
        }),
        body_for: None,
    };
    let res = relay_call(relay, &adapter, key, call, price, started).await;
    client_error(res, Protocol::OpenAi, gemini_error_to_openai).await
}
