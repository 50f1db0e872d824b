//! The OpenAI routes: parse just enough of the request to route and bill it, then relay.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use app::types::Platform;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::{first_with_role, rewrite_body, Endpoint, OpenAiAdapter};
use crate::limits::{KeyLimits, Refusal};
use crate::relay::admission::relay_call;
use crate::relay::error::{Protocol, RelayError};
use crate::relay::extract::{answer, key_of, peek, Incoming};
use crate::relay::platforms::server_tools;
use crate::relay::platforms::Call;
use crate::relay::platforms::{chat_to_claude, chat_to_gemini, responses_to_claude};
use crate::relay::request_cost::{OutputField, RequestShape};
use crate::relay::Relay;
use crate::scheduler::sticky::session_hash;

#[derive(Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

/// The fields of a Chat Completions request the relay needs.
#[derive(Deserialize)]
pub(crate) struct ChatPeek<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    max_completion_tokens: Option<u64>,
    max_tokens: Option<u64>,
    #[serde(borrow)]
    prompt_cache_key: Option<Cow<'a, str>>,
    #[serde(borrow)]
    messages: Option<&'a RawValue>,
    /// Answers asked for.
    n: Option<u64>,
    #[serde(borrow)]
    web_search_options: Option<&'a RawValue>,
}

/// The fields of a Responses request the relay needs.
#[derive(Deserialize)]
pub(crate) struct ResponsesPeek<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    stream: Option<bool>,
    max_output_tokens: Option<u64>,
    #[serde(borrow)]
    prompt_cache_key: Option<Cow<'a, str>>,
    #[serde(borrow)]
    instructions: Option<Cow<'a, str>>,
    #[serde(borrow)]
    input: Option<&'a RawValue>,
    #[serde(borrow)]
    tools: Option<&'a RawValue>,
}

/// Codex CLI names its conversation in a header as well as in `prompt_cache_key`.
fn header_session(headers: &HeaderMap) -> Option<String> {
    ["session_id", "conversation_id"].iter().find_map(|h| {
        headers
            .get(*h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    })
}

fn required_model(model: Option<Cow<'_, str>>) -> Result<String, RelayError> {
    model
        .filter(|m| !m.is_empty())
        .map(Cow::into_owned)
        .ok_or_else(|| RelayError::invalid("model: field required"))
}

/// A Chat Completions request for the OpenAI platform, key already authenticated.
pub async fn relay_chat(
    relay: &Arc<Relay>,
    key: Arc<KeyLimits>,
    headers: HeaderMap,
    body: Bytes,
    started: Instant,
) -> Response {
    let peek: ChatPeek = match peek(&body, Protocol::OpenAi) {
        Ok(p) => p,
        Err(res) => return res,
    };
    let model = match required_model(peek.model) {
        Ok(m) => m,
        Err(e) => return e.into_response(Protocol::OpenAi),
    };
    let stream = peek.stream.unwrap_or(false);
    let client_wants_usage = peek
        .stream_options
        .as_ref()
        .and_then(|o| o.include_usage)
        .unwrap_or(false);
    let hide_usage_chunk = stream && !client_wants_usage;
    let session = match peek
        .prompt_cache_key
        .as_deref()
        .map(str::to_owned)
        .or_else(|| header_session(&headers))
    {
        Some(id) => session_hash(Some(&id), None, None),
        None => session_hash(
            None,
            first_with_role(peek.messages, &["system", "developer"]).as_ref(),
            first_with_role(peek.messages, &["user"]).as_ref(),
        ),
    };
    let max_output = peek.max_completion_tokens.or(peek.max_tokens);
    let answers = peek.n.unwrap_or(1).max(1);
    let shape = RequestShape {
        answers,
        tools: server_tools::chat_declared(
            &model,
            peek.web_search_options.is_some_and(|o| o.get() != "null"),
            answers,
        ),
        output_field: OutputField::Chat,
    };
    let body = if hide_usage_chunk {
        let injected = rewrite_body(&body, |obj| {
            let options = obj
                .entry("stream_options")
                .or_insert_with(|| Value::Object(Default::default()));
            if !options.is_object() {
                *options = Value::Object(Default::default());
            }
            if let Some(o) = options.as_object_mut() {
                o.insert("include_usage".into(), Value::Bool(true));
            }
        });
        match injected {
            Ok(b) => b,
            Err(e) => return e.into_response(Protocol::OpenAi),
        }
    } else {
        body
    };
    let price = relay.pricing.load().lookup(&model);
    let call = Call {
        path_and_query: "/v1/chat/completions".into(),
        model,
        stream,
        max_output_tokens: max_output.or(price.max_output_tokens).unwrap_or(8_192),
        session,
        billable: true,
        shape,
        headers,
        body,
    };
    let adapter = OpenAiAdapter {
        endpoint: Endpoint::ChatCompletions,
        hide_usage_chunk,
    };
    relay_call(relay, &adapter, key, call, price, started).await
}

/// `POST /openai/v1/chat/completions`: always the OpenAI platform, whatever the model.
pub async fn chat_completions(State(relay): State<Arc<Relay>>, req: Request) -> Response {
    answer(chat_completions_call(&relay, req).await)
}

async fn chat_completions_call(relay: &Arc<Relay>, req: Request) -> Result<Response, Response> {
    let mut incoming = Incoming::admit(relay, req, Protocol::OpenAi).await?;
    let bytes = incoming.body(relay).await?;
    let Incoming {
        started,
        parts,
        key,
        ..
    } = incoming;
    Ok(relay_chat(relay, key, parts.headers, bytes, started).await)
}

#[derive(Deserialize)]
struct ModelOnly<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
}

/// `POST /v1/chat/completions` at the root: `claude-*` models are translated for Claude
/// accounts, `gemini-*` models for Gemini accounts, the rest goes to OpenAI.
pub async fn root_chat_completions(State(relay): State<Arc<Relay>>, req: Request) -> Response {
    answer(root_chat_call(&relay, req).await)
}

async fn root_chat_call(relay: &Arc<Relay>, req: Request) -> Result<Response, Response> {
    let mut incoming = Incoming::admit(relay, req, Protocol::OpenAi).await?;
    let bytes = incoming.body(relay).await?;
    let model = incoming
        .peek::<ModelOnly>(&bytes)?
        .model
        .map(Cow::into_owned)
        .unwrap_or_default();
    let Incoming {
        started,
        parts,
        key,
        ..
    } = incoming;
    if model.starts_with("claude-") {
        return Ok(chat_to_claude::relay_translated(relay, key, bytes, started).await);
    }
    if model.starts_with("gemini-") {
        return Ok(chat_to_gemini::relay_translated(relay, key, bytes, started).await);
    }
    Ok(relay_chat(relay, key, parts.headers, bytes, started).await)
}

/// `POST /openai/v1/responses` and `POST /v1/responses` (Claude models, and keys that reach
/// only Claude accounts, are translated for Claude accounts).
pub async fn responses(State(relay): State<Arc<Relay>>, req: Request) -> Response {
    answer(responses_call(&relay, req).await)
}

async fn responses_call(relay: &Arc<Relay>, req: Request) -> Result<Response, Response> {
    let mut incoming = Incoming::admit(relay, req, Protocol::OpenAi).await?;
    let bytes = incoming.body(relay).await?;
    let peek: ResponsesPeek = incoming.peek(&bytes)?;
    let model = required_model(peek.model).map_err(|e| e.into_response(Protocol::OpenAi))?;
    let Incoming {
        started,
        parts,
        key,
        ..
    } = incoming;
    if responses_to_claude::goes_to_claude(&key, &model) {
        return Ok(responses_to_claude::relay_translated(
            relay,
            key,
            &parts.headers,
            bytes,
            started,
        )
        .await);
    }
    let session = match peek
        .prompt_cache_key
        .as_deref()
        .map(str::to_owned)
        .or_else(|| header_session(&parts.headers))
    {
        Some(id) => session_hash(Some(&id), None, None),
        None => {
            let instructions = peek
                .instructions
                .as_deref()
                .map(|i| Value::String(i.to_owned()));
            let first = match peek.input.map(|i| i.get().trim_start().starts_with('"')) {
                Some(true) => peek.input.and_then(|i| serde_json::from_str(i.get()).ok()),
                _ => first_with_role(peek.input, &["user"]),
            };
            session_hash(None, instructions.as_ref(), first.as_ref())
        }
    };
    let price = relay.pricing.load().lookup(&model);
    let call = Call {
        path_and_query: "/v1/responses".into(),
        model,
        stream: peek.stream.unwrap_or(false),
        max_output_tokens: peek
            .max_output_tokens
            .or(price.max_output_tokens)
            .unwrap_or(8_192),
        session,
        billable: true,
        shape: RequestShape {
            answers: 1,
            tools: server_tools::responses_declared(peek.tools),
            output_field: OutputField::Responses,
        },
        headers: parts.headers,
        body: bytes,
    };
    let adapter = OpenAiAdapter {
        endpoint: Endpoint::Responses,
        hide_usage_chunk: false,
    };
    Ok(relay_call(relay, &adapter, key, call, price, started).await)
}

/// Whether a priced model belongs to `platform`, by the table's provider or, for price
/// overrides without one, by its name.
pub(crate) fn model_of_platform(model: &str, provider: Option<&str>, platform: Platform) -> bool {
    match (platform, provider) {
        (Platform::Claude, Some(p)) => p == "anthropic",
        (Platform::Openai, Some(p)) => p == "openai" || p == "azure",
        (Platform::Gemini, Some(p)) => p == "gemini" || p.starts_with("vertex_ai"),
        (Platform::Claude, None) => model.starts_with("claude-"),
        (Platform::Gemini, None) => model.starts_with("gemini-"),
        (Platform::Openai, None) => ["gpt-", "o1", "o3", "o4", "chatgpt-", "codex-"]
            .iter()
            .any(|p| model.starts_with(p)),
    }
}

/// An OpenAI-shaped model list of `platform`'s priced models the key may use.
pub(crate) async fn model_list(relay: &Arc<Relay>, req: &Parts, platform: Platform) -> Response {
    let key = match key_of(relay, req, Protocol::OpenAi).await {
        Ok(k) => k,
        Err(res) => return res,
    };
    if !key.platform_allowed(platform) {
        return RelayError::from(Refusal::PlatformNotAllowed { platform })
            .into_response(Protocol::OpenAi);
    }
    let owner = match platform {
        Platform::Claude => "anthropic",
        Platform::Openai => "openai",
        Platform::Gemini => "google",
    };
    let data: Vec<Value> = relay
        .pricing
        .load()
        .catalog()
        .into_iter()
        .filter(|m| model_of_platform(&m.model, m.provider.as_deref(), platform) && key.model_allowed(&m.model))
        .map(|m| serde_json::json!({ "id": m.model, "object": "model", "created": 1_735_689_600, "owned_by": owner }))
        .collect();
    axum::Json(serde_json::json!({ "object": "list", "data": data })).into_response()
}

/// `GET /openai/v1/models`.
pub async fn models(State(relay): State<Arc<Relay>>, req: Parts) -> Response {
    model_list(&relay, &req, Platform::Openai).await
}
