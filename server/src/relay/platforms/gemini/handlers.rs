//! The Gemini routes: the generate, stream and count calls on `models/{model}:{action}`, and
//! the model list and model lookups, from the priced Gemini models the key may use.

use std::sync::Arc;

use app::types::Platform;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::{Action, GeminiAdapter};
use crate::limits::Refusal;
use crate::relay::admission::relay_call;
use crate::relay::error::{ErrorKind, Protocol, RelayError};
use crate::relay::extract::{answer, key_of, Incoming};
use crate::relay::platforms::Call;
use crate::relay::request_cost::{OutputField, RequestShape};
use crate::relay::Relay;
use crate::scheduler::sticky::session_hash;

/// The client's query as forwarded: `alt` only (`alt=sse` picks the stream framing). `key=`
/// stays behind, and so does everything else: `fields=` could drop `usageMetadata`.
pub(super) fn query_without_key(query: Option<&str>) -> Option<String> {
    crate::relay::guards::allowed_query(query, &["alt"])
}

#[derive(Deserialize)]
struct GenerationConfig {
    #[serde(alias = "max_output_tokens", rename = "maxOutputTokens")]
    max_output_tokens: Option<u64>,
    #[serde(alias = "candidate_count", rename = "candidateCount")]
    candidate_count: Option<u64>,
}

/// The fields of a Gemini request the relay needs.
#[derive(Deserialize)]
pub(crate) struct GeminiPeek<'a> {
    #[serde(rename = "generationConfig", alias = "generation_config")]
    generation_config: Option<GenerationConfig>,
    #[serde(borrow, rename = "systemInstruction", alias = "system_instruction")]
    system_instruction: Option<&'a RawValue>,
    #[serde(borrow)]
    contents: Option<&'a RawValue>,
    #[serde(borrow)]
    tools: Option<&'a RawValue>,
}

/// The first user turn (a turn without a role is the user's).
pub(super) fn first_user_content(contents: Option<&RawValue>) -> Option<Value> {
    let items: Vec<&RawValue> = serde_json::from_str(contents?.get()).ok()?;
    items.into_iter().find_map(|item| {
        let v: Value = serde_json::from_str(item.get()).ok()?;
        matches!(v.get("role").and_then(Value::as_str), None | Some("user")).then_some(v)
    })
}

fn version_of(path: &str) -> &'static str {
    if path.starts_with("/gemini/v1beta/") {
        "v1beta"
    } else {
        "v1"
    }
}

/// `POST /gemini/{version}/models/{model}:{action}`: axum cannot route on `:` inside a
/// segment, so the segment is split here.
/// A model name that can only ever address `models/<name>` upstream: no `/`, `#`, `?`, `%`,
/// `:` or dots-only segment can steer the request to another Google endpoint.
pub fn valid_model_name(model: &str) -> bool {
    !model.is_empty()
        && model.len() <= crate::relay::guards::MAX_MODEL_NAME_CHARS
        && model
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && !model.chars().all(|c| c == '.')
}

pub async fn model_action(
    State(relay): State<Arc<Relay>>,
    segment: Result<Path<String>, PathRejection>,
    req: Request,
) -> Response {
    answer(model_call(&relay, segment, req).await)
}

async fn model_call(
    relay: &Arc<Relay>,
    segment: Result<Path<String>, PathRejection>,
    req: Request,
) -> Result<Response, Response> {
    let mut incoming = Incoming::admit(relay, req, Protocol::Gemini).await?;
    let segment = path_segment(segment).map_err(|e| e.into_response(Protocol::Gemini))?;
    let Some((model, action)) = segment
        .rsplit_once(':')
        .and_then(|(m, a)| Some((m, Action::parse(a)?)))
    else {
        let message = format!("models/{segment} is not a method this relay serves: use generateContent, streamGenerateContent or countTokens");
        return Err(
            RelayError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, message)
                .into_response(Protocol::Gemini),
        );
    };
    crate::relay::guards::check_model_name(model).map_err(|e| e.into_response(Protocol::Gemini))?;
    if !valid_model_name(model) {
        return Err(RelayError::invalid(format!(
            "invalid model name {model:?}: use letters, digits, '.', '-' and '_' only"
        ))
        .into_response(Protocol::Gemini));
    }
    let bytes = incoming.body(relay).await?;
    let peek: GeminiPeek = incoming.peek(&bytes)?;
    let Incoming {
        started,
        parts,
        key,
        ..
    } = incoming;
    let counting = action == Action::CountTokens;
    let candidates = peek
        .generation_config
        .as_ref()
        .and_then(|g| g.candidate_count)
        .unwrap_or(1)
        .max(1);
    let shape = RequestShape {
        answers: candidates,
        tools: crate::relay::platforms::server_tools::gemini_declared(peek.tools, candidates),
        output_field: if counting {
            OutputField::None
        } else {
            OutputField::Gemini
        },
    };
    let version = version_of(parts.uri.path());
    let query = query_without_key(parts.uri.query());
    let price = relay.pricing.load().lookup(model);
    let system: Option<Value> = peek
        .system_instruction
        .and_then(|s| serde_json::from_str(s.get()).ok());
    let call = Call {
        path_and_query: match &query {
            Some(q) => format!("/{version}/models/{model}:{}?{q}", action.name()),
            None => format!("/{version}/models/{model}:{}", action.name()),
        },
        model: model.to_owned(),
        stream: action == Action::StreamGenerate,
        max_output_tokens: peek
            .generation_config
            .and_then(|g| g.max_output_tokens)
            .or(price.max_output_tokens)
            .unwrap_or(8_192),
        session: if counting {
            None
        } else {
            session_hash(
                None,
                system.as_ref(),
                first_user_content(peek.contents).as_ref(),
            )
        },
        billable: !counting,
        shape,
        headers: parts.headers,
        body: bytes,
    };
    let adapter = GeminiAdapter {
        version,
        action,
        query,
    };
    Ok(relay_call(relay, &adapter, key, call, price, started).await)
}

/// A priced Gemini model as the Models API describes it.
fn model_entry(model: &str, input_limit: Option<u64>, output_limit: Option<u64>) -> Value {
    serde_json::json!({
        "name": format!("models/{model}"),
        "baseModelId": model,
        "version": "001",
        "displayName": model,
        "inputTokenLimit": input_limit.unwrap_or(1_048_576),
        "outputTokenLimit": output_limit.unwrap_or(65_536),
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
    })
}

/// The Gemini models in the pricing table the key may use.
async fn catalog(relay: &Arc<Relay>, req: &Parts) -> Result<Vec<(String, Value)>, Response> {
    let key = key_of(relay, req, Protocol::Gemini).await?;
    if !key.platform_allowed(Platform::Gemini) {
        return Err(RelayError::from(Refusal::PlatformNotAllowed {
            platform: Platform::Gemini,
        })
        .into_response(Protocol::Gemini));
    }
    Ok(relay
        .pricing
        .load()
        .catalog()
        .into_iter()
        .filter(|m| {
            crate::relay::platforms::openai::model_of_platform(
                &m.model,
                m.provider.as_deref(),
                Platform::Gemini,
            )
        })
        .filter(|m| key.model_allowed(&m.model))
        .map(|m| {
            (
                m.model.clone(),
                model_entry(&m.model, m.max_input_tokens, m.max_output_tokens),
            )
        })
        .collect())
}

/// `GET /gemini/{version}/models`.
pub async fn models(State(relay): State<Arc<Relay>>, req: Parts) -> Response {
    match catalog(&relay, &req).await {
        Ok(models) => {
            let models: Vec<Value> = models.into_iter().map(|(_, m)| m).collect();
            axum::Json(serde_json::json!({ "models": models })).into_response()
        }
        Err(res) => res,
    }
}

/// The `{model}` path segment, or a Gemini-shaped 400 when it does not decode (axum's own
/// rejection text never reaches the client).
fn path_segment(segment: Result<Path<String>, PathRejection>) -> Result<String, RelayError> {
    segment.map(|Path(s)| s).map_err(|_| {
        RelayError::invalid("the model in the path is not valid UTF-8 once percent-decoded")
    })
}

/// `GET /gemini/{version}/models/{model}`.
pub async fn model(
    State(relay): State<Arc<Relay>>,
    name: Result<Path<String>, PathRejection>,
    req: Parts,
) -> Response {
    let name = match path_segment(name) {
        Ok(n) => n,
        Err(e) => return e.into_response(Protocol::Gemini),
    };
    match catalog(&relay, &req).await {
        Ok(models) => match models.into_iter().find(|(m, _)| *m == name) {
            Some((_, entry)) => axum::Json(entry).into_response(),
            None => RelayError::new(
                StatusCode::NOT_FOUND,
                ErrorKind::NotFound,
                format!("models/{name} is not found"),
            )
            .into_response(Protocol::Gemini),
        },
        Err(res) => res,
    }
}
