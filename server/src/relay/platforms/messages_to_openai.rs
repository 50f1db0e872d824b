//! Anthropic Messages clients (Claude Code, the Anthropic SDKs) on OpenAI and
//! OpenAI-compatible accounts: `POST /v1/messages` from a key bound to an OpenAI account
//! (`openaiAccountId`) and to no Claude account, from a key whose platforms include OpenAI but
//! not Claude, or with a model only OpenAI accounts serve (`gpt-*`, `o3`, ..., or a name an
//! OpenAI account lists).
//!
//! The request is translated by [`crate::translate::messages_openai`] for each account it is
//! sent to (OpenAI's own API takes `max_completion_tokens`, compatible servers `max_tokens`),
//! and the answer translated back as it streams. Metering reads the Chat Completions usage
//! (the translation always asks for the usage chunk), so usage and cost are those of
//! `/openai/v1/chat/completions` for the same model. `count_tokens` is answered by an
//! estimate (about four bytes a token): OpenAI has no counting endpoint.

use std::sync::Arc;
use std::time::Instant;

use app::types::Platform;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;

use super::openai::{model_of_platform, Endpoint, OpenAiAdapter};
use super::translated::session_of;
use super::translated::{client_error, no_headers, refused, Translated};
use super::Call;
use crate::limits::{Binding, KeyLimits};
use crate::relay::admission::relay_call;
use crate::relay::error::{Protocol, RelayError};
use crate::relay::request_cost::{OutputField, RequestShape};
use crate::relay::Relay;
use crate::scheduler::pool::UpstreamAccount;
use crate::translate::messages_openai::{
    messages_to_chat_request, openai_error_to_anthropic, whole_transform, ChatTarget,
    ChatToMessagesStream,
};
use crate::translate::StreamTransform;

/// Whether a Messages request goes to OpenAI accounts.
pub fn goes_to_openai(relay: &Relay, key: &KeyLimits, model: &str) -> bool {
    if !key.platform_allowed(Platform::Openai) {
        return false;
    }
    if !key.platform_allowed(Platform::Claude) {
        return true;
    }
    let bound_to_openai = !matches!(key.openai, Binding::Pool);
    let bound_to_claude = !matches!(key.claude, Binding::Pool);
    if matches!(key.openai, Binding::Account(_)) && !bound_to_claude {
        return true;
    }
    if model.starts_with("claude-") {
        return false;
    }
    if model_of_platform(model, None, Platform::Openai) {
        return true;
    }
    // A name some OpenAI account lists (or maps) explicitly and no Claude account does.
    let snap = relay.scheduler.snapshot();
    let lists = |a: &UpstreamAccount| {
        a.model_mapping.contains_key(model) || a.supported_models.iter().any(|m| m == model)
    };
    let listed_by = |platform: Platform| {
        snap.by_id
            .values()
            .any(|a| a.platform == platform && lists(a))
    };
    (bound_to_openai || listed_by(Platform::Openai)) && !listed_by(Platform::Claude)
}

/// OpenAI's own API (and Azure) take `max_completion_tokens`; compatible servers `max_tokens`.
fn target_for(account: &UpstreamAccount, model: &str) -> ChatTarget {
    let host = url::Url::parse(&account.base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    if account.azure_deployment.is_some() || host == "api.openai.com" {
        ChatTarget::openai(model)
    } else {
        ChatTarget::compatible(model)
    }
}

/// Translates, relays on the OpenAI platform, and puts error answers in Anthropic's shape.
pub async fn relay_translated(
    relay: &Arc<Relay>,
    key: Arc<KeyLimits>,
    body: Bytes,
    counting: bool,
    started: Instant,
) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return RelayError::invalid(format!("malformed JSON body: {e}"))
                .into_response(Protocol::Anthropic)
        }
    };
    if counting {
        // No upstream call: an estimate from the request's size.
        let estimate = (body.len() / 4).max(1);
        return axum::Json(serde_json::json!({ "input_tokens": estimate })).into_response();
    }
    // Refuse what cannot be translated before admission, with the strictest target.
    let model = request["model"].as_str().unwrap_or_default().to_owned();
    if let Err(e) = messages_to_chat_request(&request, ChatTarget::compatible(&model)) {
        return refused(&e, Protocol::Anthropic);
    }
    let stream = request["stream"] == Value::Bool(true);
    let max_tokens = request["max_tokens"].as_u64().unwrap_or(8_192);
    let call = Call {
        path_and_query: "/v1/chat/completions".into(),
        model: model.clone(),
        stream,
        max_output_tokens: max_tokens,
        session: session_of(&request),
        billable: true,
        headers: no_headers(),
        shape: RequestShape {
            answers: 1,
            tools: super::server_tools::anthropic_declared(
                serde_json::value::to_raw_value(&request["tools"])
                    .ok()
                    .as_deref(),
            ),
            output_field: OutputField::Claude,
        },
        body: body.clone(),
    };
    let adapter = Translated {
        inner: OpenAiAdapter {
            endpoint: Endpoint::ChatCompletions,
            hide_usage_chunk: false,
        },
        client: Protocol::Anthropic,
        make: Box::new(move |stream| -> Box<dyn StreamTransform> {
            if stream {
                Box::new(ChatToMessagesStream::new(&model))
            } else {
                Box::new(whole_transform(model.clone()))
            }
        }),
        body_for: Some(Box::new(move |account: &UpstreamAccount, body: &[u8]| {
            let request: Value = serde_json::from_slice(body)
                .map_err(|e| RelayError::invalid(format!("malformed JSON body: {e}")))?;
            let requested = request["model"].as_str().unwrap_or_default();
            let target = target_for(account, account.upstream_model(requested));
            let chat = messages_to_chat_request(&request, target)
                .map_err(|e| RelayError::invalid(e.to_string()))?;
            serde_json::to_vec(&chat)
                .map(Bytes::from)
                .map_err(|e| RelayError::invalid(format!("cannot encode the request: {e}")))
        })),
    };
    let price = relay.pricing.load().lookup(&call.model);
    let res = relay_call(relay, &adapter, key, call, price, started).await;
    client_error(res, Protocol::Anthropic, openai_error_to_anthropic).await
}
