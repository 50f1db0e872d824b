//! The Gemini platform: `POST /gemini/{v1beta|v1}/models/{model}:generateContent`,
//! `:streamGenerateContent` (SSE with `alt=sse`, else the JSON-array stream), `:countTokens`,
//! and `GET /gemini/{v1beta|v1}/models[/{model}]`. Gemini CLI and `@google/genai` work with
//! their base URL set to `<tollgate>/gemini` and the Tollgate key as the API key.
//!
//! The key comes as `x-goog-api-key`, `?key=` or `Authorization: Bearer`. A `key=` in the
//! query is never logged (spans carry the matched route) nor forwarded: the upstream query
//! is the client's without it.

mod handlers;

use app::types::Platform;
use axum::http::StatusCode;
use serde_json::Value;

use super::usage_gemini::{read_gemini_json, GeminiStream};
use super::usage_json::JsonBody;
use super::usage_parse::UsageParser;
use super::{Adapter, Call};
use crate::relay::error::{Protocol, RelayError};
use crate::scheduler::health::Outcome;
use crate::scheduler::pool::UpstreamAccount;
#[cfg(test)]
pub(crate) use handlers::GeminiPeek;
pub use handlers::{model, model_action, models, valid_model_name};

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
    ) -> Result<crate::upstream_http::UpstreamRequest, RelayError> {
        let model = account.upstream_model(&call.model);
        // The account's mapping is admin-controlled, but the URL still gets only safe names.
        if !valid_model_name(model) {
            return Err(RelayError::invalid(format!(
                "the account maps to an invalid model name {model:?}"
            )));
        }
        let mut path = format!("/{}/models/{model}:{}", self.version, self.action.name());
        if let Some(q) = &self.query {
            path.push('?');
            path.push_str(q);
        }
        let mut rb = account
            .post(&path)
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
    let error =
        crate::relay::json_guard::upstream_value(body).and_then(|v| v.get("error").cloned());
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

#[cfg(test)]
mod tests {
    use super::handlers::{first_user_content, query_without_key};
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
        let gemini_key = |h: &HeaderMap, q| {
            crate::relay::extract::presented(h, q, Protocol::Gemini).into_owned()
        };
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
