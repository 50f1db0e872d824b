//! The relay side of the protocol translations in [`crate::translate`]: one adapter wrapper
//! that talks to an upstream through that platform's own adapter (URL, credentials, health
//! classification, usage metering from the upstream's bytes) and rewrites the answer into the
//! client's protocol, plus the rewrite of error answers after the relay has answered.
//!
//! The pairs wired here (routes in [`super::responses_to_claude`], [`super::chat_to_gemini`],
//! [`super::messages_to_openai`]); Chat Completions on Claude is [`super::chat_to_claude`].

use app::types::Platform;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;

use super::usage_parse::UsageParser;
use super::{Adapter, BodyTransform, Call};
use crate::relay::error::{Protocol, RelayError};
use crate::scheduler::health::Outcome;
use crate::scheduler::pool::UpstreamAccount;
use crate::scheduler::sticky::{session_from_user_id, session_hash};
use crate::translate::StreamTransform;

/// Makes the answer transform of one request: streamed or whole.
pub type MakeTransform = Box<dyn Fn(bool) -> Box<dyn StreamTransform> + Send + Sync>;
/// The upstream body for one account from the call's body (as admission left it: strict mode
/// may have lowered its output ceiling), when it depends on the account (e.g. OpenAI's own API
/// versus a compatible server).
pub type BodyFor = Box<dyn Fn(&UpstreamAccount, &[u8]) -> Result<Bytes, RelayError> + Send + Sync>;

/// An upstream platform's adapter, spoken to on behalf of a client of another protocol.
pub struct Translated<A: Adapter> {
    pub inner: A,
    pub client: Protocol,
    pub make: MakeTransform,
    pub body_for: Option<BodyFor>,
}

impl<A: Adapter> Adapter for Translated<A> {
    fn protocol(&self) -> Protocol {
        self.client
    }

    fn platform(&self) -> Platform {
        self.inner.platform()
    }

    fn build(
        &self,
        account: &UpstreamAccount,
        call: &Call,
    ) -> Result<crate::upstream_http::UpstreamRequest, RelayError> {
        let rb = match &self.body_for {
            Some(body_for) => {
                let per_account = Call {
                    path_and_query: call.path_and_query.clone(),
                    headers: call.headers.clone(),
                    body: body_for(account, &call.body)?,
                    model: call.model.clone(),
                    stream: call.stream,
                    max_output_tokens: call.max_output_tokens,
                    session: call.session,
                    billable: call.billable,
                    shape: call.shape,
                };
                self.inner.build(account, &per_account)?
            }
            None => self.inner.build(account, call)?,
        };
        // The answer is rewritten, so it must arrive uncompressed.
        Ok(rb.header("accept-encoding", "identity"))
    }

    fn classify(
        &self,
        status: StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Outcome {
        self.inner.classify(status, headers, body, now)
    }

    fn parser(&self, stream: bool) -> Box<dyn UsageParser> {
        self.inner.parser(stream)
    }

    fn account_fault(&self, status: StatusCode, body: &[u8]) -> Option<Outcome> {
        self.inner.account_fault(status, body)
    }

    fn inspects_client_errors(&self) -> bool {
        self.inner.inspects_client_errors()
    }

    fn request_fault(&self, status: StatusCode, body: &[u8]) -> bool {
        self.inner.request_fault(status, body)
    }

    fn transform(&self, call: &Call, status: StatusCode) -> Option<Box<dyn BodyTransform>> {
        // Error bodies are translated once the relay has answered (see `client_error`).
        status
            .is_success()
            .then(|| Box::new(Bridge((self.make)(call.stream))) as Box<dyn BodyTransform>)
    }
}

/// A [`StreamTransform`] of the translation layer as the relay's [`BodyTransform`].
struct Bridge(Box<dyn StreamTransform>);

impl BodyTransform for Bridge {
    fn chunk(&mut self, upstream: &[u8]) -> Bytes {
        self.0.chunk(upstream)
    }

    fn end(&mut self) -> Bytes {
        self.0.end()
    }

    fn content_type(&self) -> &'static str {
        self.0.content_type()
    }
}

/// The largest error body read back for translation.
const MAX_ERROR_BODY: usize = 256 * 1024;

/// Whether an error body is already in the client protocol's shape (the relay's own refusals,
/// as opposed to an upstream error passed through).
fn in_client_shape(v: &Value, client: Protocol) -> bool {
    let error = v.get("error");
    match client {
        Protocol::Anthropic => v.get("type").and_then(Value::as_str) == Some("error"),
        // OpenAI errors carry `type`; Anthropic's have a top-level `type`, Gemini's a `status`.
        Protocol::OpenAi => {
            v.get("type").is_none()
                && error.is_some_and(|e| e.get("type").is_some() && e.get("status").is_none())
        }
        Protocol::Gemini => error.is_some_and(|e| e.get("status").is_some()),
    }
}

/// Upstream error answers (passed through by the relay when no retry applies) become errors of
/// the client's protocol, status included (`translate` gives both). Answers already in the
/// client's shape stay as they are.
pub async fn client_error(
    res: Response,
    client: Protocol,
    translate: fn(u16, &[u8]) -> (u16, Value),
) -> Response {
    let status = res.status();
    if status.is_success()
        || res
            .headers()
            .get(header::CONTENT_ENCODING)
            .is_some_and(|e| e != "identity")
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    let parsed: Option<Value> = crate::relay::json_guard::upstream_value(&bytes);
    if parsed.as_ref().is_some_and(|v| in_client_shape(v, client)) {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let (to_status, body) = translate(status.as_u16(), &bytes);
    if let Ok(s) = StatusCode::from_u16(to_status) {
        parts.status = s;
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body.to_string()))
}

/// A translation refusal (400 naming the field) in the client's shape.
pub fn refused(err: &crate::translate::TranslateError, client: Protocol) -> Response {
    use axum::response::IntoResponse;
    let body = match client {
        Protocol::Anthropic => err.to_anthropic_error(),
        _ => err.to_openai_error(),
    };
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

/// No headers from the client go upstream on a translated request: they describe the client's
/// protocol, not the upstream's.
pub fn no_headers() -> HeaderMap {
    HeaderMap::new()
}

/// The session of a translated request: Claude Code style `metadata.user_id`, else the
/// system prompt and first user turn (as on `/v1/messages`).
pub(crate) fn session_of(messages_request: &Value) -> Option<u64> {
    let explicit = messages_request
        .pointer("/metadata/user_id")
        .and_then(Value::as_str)
        .and_then(session_from_user_id);
    if explicit.is_some() {
        return session_hash(explicit, None, None);
    }
    let first_user = messages_request
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|ms| {
            ms.iter()
                .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        });
    session_hash(None, messages_request.get("system"), first_user)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn relay_refusals_are_told_from_upstream_errors() {
        let anthropic =
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "x"}});
        let openai =
            json!({"error": {"message": "x", "type": "server_error", "param": null, "code": "x"}});
        let gemini = json!({"error": {"code": 400, "message": "x", "status": "INVALID_ARGUMENT"}});
        assert!(in_client_shape(&anthropic, Protocol::Anthropic));
        assert!(!in_client_shape(&openai, Protocol::Anthropic));
        assert!(in_client_shape(&openai, Protocol::OpenAi));
        assert!(!in_client_shape(&anthropic, Protocol::OpenAi));
        assert!(!in_client_shape(&gemini, Protocol::OpenAi));
    }
}
