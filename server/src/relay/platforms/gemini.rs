//! The Gemini platform: `POST /gemini/{v1beta|v1}/models/{model}:generateContent`,
//! `:streamGenerateContent` (SSE with `alt=sse`, else the JSON-array stream), `:countTokens`,
//! and `GET /gemini/{v1beta|v1}/models[/{model}]`. Gemini CLI and `@google/genai` work with
//! their base URL set to `<tollgate>/gemini` and the Tollgate key as the API key.
//!
//! The key comes as `x-goog-api-key`, `?key=` or `Authorization: Bearer`. A `key=` in the
//! query is never logged (spans carry the matched route) nor forwarded: the upstream query
//! is the client's without it.

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

use super::usage_gemini::{read_gemini_json, GeminiStream};
use super::usage_json::JsonBody;
use super::usage_parse::UsageParser;
use super::{Adapter, Call};
use crate::limits::Refusal;
use crate::relay::admission::relay_call;
use crate::relay::error::{ErrorKind, Protocol, RelayError};
use crate::relay::extract::{answer, key_of, Incoming};
use crate::relay::request_cost::{OutputField, RequestShape};
use crate::relay::Relay;
use crate::scheduler::health::Outcome;
use crate::scheduler::pool::UpstreamAccount;
use crate::scheduler::sticky::session_hash;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Generate,
    StreamGenerate,
    CountTokens,
}

impl Action {
    fn parse(name: &str) -> Option<Action> {
        match name {
            "generateContent" => Some(Action::Generate),
            "streamGenerateContent" => Some(Action::StreamGenerate),
            "countTokens" => Some(Action::CountTokens),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Action::Generate => "generateContent",
            Action::StreamGenerate => "streamGenerateContent",
            Action::CountTokens => "countTokens",
        }
    }
}

pub struct GeminiAdapter {
    /// `v1beta` or `v1`, as the client called it.
    pub version: &'static str,
    pub action: Action,
    /// The client's query without `key=` (e.g. `alt=sse`).
    pub query: Option<String>,
}

impl Adapter for GeminiAdapter {
    fn protocol(&self) -> Protocol {
        Protocol::Gemini
    }

    fn platform(&self) -> Platform {
        Platform::Gemini
    }

    fn build(
        &self,
        account: &UpstreamAccount,
        call: &Call,
    ) -> Result<reqwest::RequestBuilder, RelayError> {
        let model = account.upstream_model(&call.model);
        // The account's mapping is admin-controlled, but the URL still gets only safe names.
        if !valid_model_name(model) {
            return Err(RelayError::invalid(format!(
                "the account maps to an invalid model name {model:?}"
            )));
        }
        let mut url = format!(
            "{}/{}/models/{model}:{}",
            account.base_url,
            self.version,
            self.action.name()
        );
        if let Some(q) = &self.query {
            url.push('?');
            url.push_str(q);
        }
        let mut rb = account
            .client
            .post(url)
            .header("x-goog-api-key", account.api_key.expose())
            .header("content-type", "application/json")
            .body(call.body.clone());
        for v in call.headers.get_all("accept") {
            rb = rb.header("accept", v.as_bytes());
        }
        Ok(rb)
    }

    fn classify(
        &self,
        status: StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Outcome {
        classify_gemini(status, headers, body, now)
    }

    fn inspects_client_errors(&self) -> bool {
        true
    }

    /// Gemini answers a revoked or wrong API key with 400 `API_KEY_INVALID`.
    fn account_fault(&self, status: StatusCode, body: &[u8]) -> Option<Outcome> {
        let invalid_key = status == StatusCode::BAD_REQUEST
            && memchr::memmem::find(body, b"API_KEY_INVALID").is_some();
        invalid_key.then(|| Outcome::AuthFailed {
            status: status.as_u16(),
            message: "the upstream rejected the account's API key (API_KEY_INVALID)".into(),
        })
    }

    fn parser(&self, stream: bool) -> Box<dyn UsageParser> {
        if stream {
            Box::new(GeminiStream::default())
        } else {
            Box::new(JsonBody::new(read_gemini_json))
        }
    }
}

/// How a Gemini error answer bears on the account's health.
pub fn classify_gemini(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
    now: i64,
) -> Outcome {
    let error = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").cloned());
    let message = error
        .as_ref()
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(|m| m.chars().take(300).collect())
        .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
    match status.as_u16() {
        429 => Outcome::RateLimited {
            reset_at: gemini_retry_at(headers, error.as_ref(), now),
            message,
        },
        503 => Outcome::Overloaded { message },
        401 | 403 => Outcome::AuthFailed {
            status: status.as_u16(),
            message,
        },
        s => Outcome::Failed {
            status: Some(s),
            message,
        },
    }
}

/// When a Gemini 429 says to retry: `retry-after` seconds, else the `RetryInfo` detail's
/// `retryDelay` (a protobuf duration such as `"37s"` or `"1.5s"`).
pub fn gemini_retry_at(
    headers: &reqwest::header::HeaderMap,
    error: Option<&Value>,
    now: i64,
) -> Option<i64> {
    if let Some(secs) = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        return Some(now + (secs * 1000.0) as i64);
    }
    let details = error?.get("details")?.as_array()?;
    let delay = details.iter().find_map(|d| {
        let is_retry_info = d
            .get("@type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.ends_with("google.rpc.RetryInfo"));
        is_retry_info
            .then(|| d.get("retryDelay").and_then(Value::as_str))
            .flatten()
    })?;
    let secs: f64 = delay.trim().strip_suffix('s')?.parse().ok()?;
    Some(now + (secs * 1000.0).ceil() as i64)
}

/// The client's query as forwarded: `alt` only (`alt=sse` picks the stream framing). `key=`
/// stays behind, and so does everything else: `fields=` could drop `usageMetadata`.
fn query_without_key(query: Option<&str>) -> Option<String> {
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
pub(super) struct GeminiPeek<'a> {
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
fn first_user_content(contents: Option<&RawValue>) -> Option<Value> {
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
        tools: super::server_tools::gemini_declared(peek.tools, candidates),
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
            super::openai::model_of_platform(&m.model, m.provider.as_deref(), Platform::Gemini)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_files_are_the_callers_fault_a_blocked_key_is_not() {
        let a = GeminiAdapter {
            version: "v1beta",
            action: Action::Generate,
            query: None,
        };
        let file = br#"{"error":{"code":403,"message":"You do not have permission to access the File abc","status":"PERMISSION_DENIED"}}"#;
        assert!(a.request_fault(StatusCode::FORBIDDEN, file));
        let key = br#"{"error":{"code":403,"message":"Requests to this API are blocked.","status":"PERMISSION_DENIED","details":[{"reason":"API_KEY_SERVICE_BLOCKED"}]}}"#;
        assert!(!a.request_fault(StatusCode::FORBIDDEN, key));
    }

    #[test]
    fn model_names_cannot_escape_the_models_path() {
        assert!(valid_model_name("gemini-2.5-pro"));
        assert!(valid_model_name("gemini-2.0-flash-001"));
        for bad in [
            "",
            "..",
            "gemini-2.5-pro:batchGenerateContent#",
            "../../upload/v1beta/files#",
            "a/b",
            "a?x=1",
            "a%23",
            "a b",
        ] {
            assert!(!valid_model_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn an_invalid_key_400_is_the_accounts_fault_other_400s_are_not() {
        let a = GeminiAdapter {
            version: "v1beta",
            action: Action::Generate,
            query: None,
        };
        let invalid = br#"{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT","details":[{"reason":"API_KEY_INVALID"}]}}"#;
        assert!(matches!(
            a.account_fault(StatusCode::BAD_REQUEST, invalid),
            Some(Outcome::AuthFailed { status: 400, .. })
        ));
        let bad_request = br#"{"error":{"code":400,"message":"contents is required","status":"INVALID_ARGUMENT"}}"#;
        assert!(a
            .account_fault(StatusCode::BAD_REQUEST, bad_request)
            .is_none());
    }

    #[test]
    fn key_is_taken_from_headers_or_query_and_never_forwarded() {
        assert_eq!(
            query_without_key(Some("alt=sse&key=tg_secret")),
            Some("alt=sse".into())
        );
        assert_eq!(query_without_key(Some("key=tg_secret")), None);
        assert_eq!(
            query_without_key(Some("%6Bey=tg_secret&alt=sse")),
            Some("alt=sse".into())
        );
        assert_eq!(query_without_key(None), None);
        use axum::http::HeaderMap;
        let gemini_key =
            |h: &HeaderMap, q| crate::relay::extract::presented(h, q, Protocol::Gemini);
        let mut h = HeaderMap::new();
        assert_eq!(gemini_key(&h, Some("alt=sse&key=tg%5Fabc")), "tg_abc");
        h.insert("x-goog-api-key", "tg_header".parse().unwrap());
        assert_eq!(gemini_key(&h, Some("key=tg_query")), "tg_header");
        // Other protocols' clients never present a key in the query.
        assert_eq!(
            crate::relay::extract::presented(&HeaderMap::new(), Some("key=tg_q"), Protocol::OpenAi),
            ""
        );
    }

    #[test]
    fn retry_delays() {
        let none = reqwest::header::HeaderMap::new();
        let err = serde_json::json!({"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure"},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]});
        assert_eq!(gemini_retry_at(&none, Some(&err), 1_000), Some(38_000));
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "5".parse().unwrap());
        assert_eq!(gemini_retry_at(&h, Some(&err), 0), Some(5_000));
        assert_eq!(gemini_retry_at(&none, None, 0), None);
        let body = serde_json::json!({"error": err}).to_string();
        assert!(matches!(
            classify_gemini(StatusCode::TOO_MANY_REQUESTS, &none, body.as_bytes(), 0),
            Outcome::RateLimited {
                reset_at: Some(37_000),
                ..
            }
        ));
        assert!(matches!(
            classify_gemini(StatusCode::SERVICE_UNAVAILABLE, &none, b"", 0),
            Outcome::Overloaded { .. }
        ));
        assert!(matches!(
            classify_gemini(StatusCode::FORBIDDEN, &none, b"", 0),
            Outcome::AuthFailed { status: 403, .. }
        ));
        assert!(matches!(
            classify_gemini(StatusCode::INTERNAL_SERVER_ERROR, &none, b"", 0),
            Outcome::Failed {
                status: Some(500),
                ..
            }
        ));
    }

    #[test]
    fn first_user_turn_defaults_the_role() {
        let raw = serde_json::value::RawValue::from_string(r#"[{"parts":[{"text":"hi"}]}]"#.into())
            .unwrap();
        assert_eq!(
            first_user_content(Some(&raw)).unwrap()["parts"][0]["text"],
            "hi"
        );
    }
}
