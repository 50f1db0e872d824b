//! The Anthropic Messages API: `/v1/messages`, `/v1/messages/count_tokens` and `/v1/models`,
//! also under `/api/v1/...` and `/claude/v1/...`.

use std::borrow::Cow;
use std::sync::Arc;

use app::types::Platform;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::usage_anthropic::read_anthropic_answer;
use super::usage_json::JsonBody;
use super::usage_parse::{AnthropicSse, UsageParser};
use super::{Adapter, Call};
use crate::relay::admission::relay_call;
use crate::relay::error::{Protocol, RelayError};
use crate::relay::extract::{answer, key_of, Incoming};
use crate::relay::request_cost::{OutputField, RequestShape};
use crate::relay::Relay;
use crate::scheduler::health::Outcome;
use crate::scheduler::pool::UpstreamAccount;

mod session;

pub struct ClaudeAdapter;

/// Request headers forwarded to Anthropic (everything else, including the client's
/// credentials, stays behind).
static FORWARDED: [HeaderName; 3] = [ANTHROPIC_VERSION, ANTHROPIC_BETA, header::ACCEPT];
const ANTHROPIC_VERSION: HeaderName = HeaderName::from_static("anthropic-version");
const ANTHROPIC_BETA: HeaderName = HeaderName::from_static("anthropic-beta");
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

pub const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";

impl Adapter for ClaudeAdapter {
    fn protocol(&self) -> Protocol {
        Protocol::Anthropic
    }

    fn platform(&self) -> Platform {
        Platform::Claude
    }

    fn build(
        &self,
        account: &UpstreamAccount,
        call: &Call,
    ) -> Result<crate::upstream_http::UpstreamRequest, RelayError> {
        let body =
            with_upstream_model(&call.body, &call.model, account.upstream_model(&call.model))?;
        let mut rb = account
            .post(&call.path_and_query)
            .header(X_API_KEY, account.api_key.expose())
            .header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )
            .body(body);
        if !call.headers.contains_key(ANTHROPIC_VERSION) {
            rb = rb.header(
                ANTHROPIC_VERSION,
                HeaderValue::from_static(DEFAULT_ANTHROPIC_VERSION),
            );
        }
        for name in &FORWARDED {
            for v in call.headers.get_all(name) {
                rb = rb.header(name.clone(), v.clone());
            }
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
        let message = upstream_message(body).unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        match status.as_u16() {
            429 => Outcome::RateLimited {
                reset_at: rate_limit_reset(headers, now),
                message,
            },
            529 => Outcome::Overloaded { message },
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

    fn parser(&self, stream: bool) -> Box<dyn UsageParser> {
        if stream {
            Box::new(AnthropicSse::default())
        } else {
            Box::new(JsonBody::raw(read_anthropic_answer))
        }
    }
}

/// The error message of an Anthropic error body, for account health records.
fn upstream_message(body: &[u8]) -> Option<String> {
    let v: Value = crate::relay::json_guard::upstream_value(body)?;
    let m = v.get("error")?.get("message")?.as_str()?;
    Some(m.chars().take(300).collect())
}

/// The reset an Anthropic 429 announces: `retry-after` seconds, or the latest of the
/// `anthropic-ratelimit-*-reset` times (RFC 3339).
pub fn rate_limit_reset(headers: &reqwest::header::HeaderMap, now: i64) -> Option<i64> {
    if let Some(secs) = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        return Some(now + (secs * 1000.0) as i64);
    }
    headers
        .iter()
        .filter(|(k, _)| {
            let k = k.as_str();
            k.starts_with("anthropic-ratelimit-") && k.ends_with("-reset")
        })
        .filter_map(|(_, v)| v.to_str().ok())
        .filter_map(|v| chrono::DateTime::parse_from_rfc3339(v).ok())
        .map(|d| d.timestamp_millis())
        .max()
}

/// The body with `model` replaced when the account maps the requested name to another.
fn with_upstream_model(
    body: &bytes::Bytes,
    requested: &str,
    upstream: &str,
) -> Result<bytes::Bytes, RelayError> {
    if requested == upstream {
        return Ok(body.clone());
    }
    let mut v: Value = serde_json::from_slice(body)
        .map_err(|e| RelayError::invalid(format!("malformed JSON: {e}")))?;
    if let Some(obj) = v.as_object_mut() {
        obj.insert("model".into(), Value::String(upstream.to_owned()));
    }
    serde_json::to_vec(&v)
        .map(bytes::Bytes::from)
        .map_err(|e| RelayError::invalid(format!("cannot rewrite the body: {e}")))
}

#[derive(Deserialize)]
struct Metadata<'a> {
    #[serde(borrow)]
    user_id: Option<Cow<'a, str>>,
}

/// The fields of a Messages request the relay needs; the rest is passed through untouched.
#[derive(Deserialize)]
pub(super) struct MessagesPeek<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    max_tokens: Option<u64>,
    #[serde(default)]
    stream: bool,
    #[serde(borrow)]
    metadata: Option<Metadata<'a>>,
    #[serde(borrow)]
    system: Option<&'a RawValue>,
    #[serde(borrow)]
    messages: Option<&'a RawValue>,
    #[serde(borrow)]
    tools: Option<&'a RawValue>,
}

/// Query parameters forwarded to Anthropic: Claude Code's `beta=true`; nothing else.
const FORWARDED_QUERY: &[&str] = &["beta"];

/// The upstream path for a client path under any of the prefixes we accept.
fn upstream_path(path: &str, query: Option<&str>) -> String {
    let tail = path
        .strip_prefix("/api")
        .or_else(|| path.strip_prefix("/claude"))
        .unwrap_or(path);
    match crate::relay::guards::allowed_query(query, FORWARDED_QUERY) {
        Some(q) => format!("{tail}?{q}"),
        None => tail.to_owned(),
    }
}

/// `POST /v1/messages` and `POST /v1/messages/count_tokens`.
pub async fn messages(State(relay): State<Arc<Relay>>, req: Request) -> Response {
    answer(messages_call(&relay, req).await)
}

async fn messages_call(relay: &Arc<Relay>, req: Request) -> Result<Response, Response> {
    let mut incoming = Incoming::admit(relay, req, Protocol::Anthropic).await?;
    let bytes = incoming.body(relay).await?;
    let peek: MessagesPeek = incoming.peek(&bytes)?;
    let Some(model) = peek.model.as_deref().filter(|m| !m.is_empty()) else {
        return Err(RelayError::invalid("model: field required").into_response(Protocol::Anthropic));
    };
    let Incoming {
        started,
        parts,
        key,
        ..
    } = incoming;
    let counting = parts.uri.path().ends_with("/count_tokens");
    if super::messages_to_openai::goes_to_openai(relay, &key, model) {
        return Ok(super::messages_to_openai::relay_translated(
            relay, key, bytes, counting, started,
        )
        .await);
    }
    let price = relay.pricing.load().lookup(model);
    let call = Call {
        path_and_query: upstream_path(parts.uri.path(), parts.uri.query()),
        model: model.to_owned(),
        stream: peek.stream && !counting,
        max_output_tokens: peek.max_tokens.or(price.max_output_tokens).unwrap_or(8_192),
        session: if counting {
            None
        } else {
            session::session_for(&peek, &parts.headers)
        },
        billable: !counting,
        shape: RequestShape {
            answers: 1,
            tools: super::server_tools::anthropic_declared(peek.tools),
            output_field: if counting {
                OutputField::None
            } else {
                OutputField::Claude
            },
        },
        headers: parts.headers,
        body: bytes,
    };
    Ok(relay_call(relay, &ClaudeAdapter, key, call, price, started).await)
}

/// `GET /v1/models`: the Claude models the key may use, from the pricing table.
pub async fn models(State(relay): State<Arc<Relay>>, req: Parts) -> Response {
    let key = match key_of(&relay, &req, Protocol::Anthropic).await {
        Ok(k) => k,
        Err(res) => return res,
    };
    let data: Vec<Value> = relay
        .pricing
        .load()
        .catalog()
        .into_iter()
        .filter(|m| m.model.starts_with("claude-") && key.model_allowed(&m.model))
        .map(|m| {
            serde_json::json!({
                "type": "model",
                "id": m.model,
                "display_name": m.model,
                "created_at": "2025-01-01T00:00:00Z",
            })
        })
        .collect();
    let first = data.first().and_then(|m| m.get("id")).cloned();
    let last = data.last().and_then(|m| m.get("id")).cloned();
    axum::Json(
        serde_json::json!({ "data": data, "has_more": false, "first_id": first, "last_id": last }),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_keep_the_query() {
        assert_eq!(
            upstream_path("/v1/messages", Some("beta=true")),
            "/v1/messages?beta=true"
        );
        assert_eq!(upstream_path("/api/v1/messages", None), "/v1/messages");
        assert_eq!(
            upstream_path("/v1/messages", Some("beta=true&x=1")),
            "/v1/messages?beta=true"
        );
        assert_eq!(
            upstream_path("/claude/v1/messages/count_tokens", None),
            "/v1/messages/count_tokens"
        );
    }

    #[test]
    fn resets_from_headers() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "30".parse().unwrap());
        assert_eq!(rate_limit_reset(&h, 1_000), Some(31_000));
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            "anthropic-ratelimit-requests-reset",
            "2026-01-01T00:00:10Z".parse().unwrap(),
        );
        h.insert(
            "anthropic-ratelimit-tokens-reset",
            "2026-01-01T00:00:20Z".parse().unwrap(),
        );
        let want = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:20Z")
            .unwrap()
            .timestamp_millis();
        assert_eq!(rate_limit_reset(&h, 0), Some(want));
    }

    #[test]
    fn model_mapping_rewrites_only_when_needed() {
        let b = bytes::Bytes::from_static(br#"{"model":"a","max_tokens":5}"#);
        assert_eq!(with_upstream_model(&b, "a", "a").unwrap(), b);
        let out: Value =
            serde_json::from_slice(&with_upstream_model(&b, "a", "b").unwrap()).unwrap();
        assert_eq!(out["model"], "b");
        assert_eq!(out["max_tokens"], 5);
    }
}
