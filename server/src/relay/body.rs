//! Reading a relay request's body: only once its key is known and the limits that need no body
//! let it through, within a time limit, a size limit and the process-wide memory budget.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use bytes::Bytes;
use serde_json::Value;

use app::types::Platform;

use super::error::{ErrorKind, Protocol, RelayError};
use super::writer::UsageEvent;
use super::Relay;
use crate::limits::KeyLimits;
use crate::storage::now_ms;

/// The body of a request whose key is known: refused first, without reading it, when a limit
/// that needs no body already refuses the key (quota or daily limit used up, rate window full,
/// concurrency busy or its queue full); then read within `REQUEST_BODY_TIMEOUT_SECS` and the
/// body limit, its bytes counted against the process-wide budget (503 over it).
///
/// A refusal here is recorded like any other (a usage event without a model: it was never
/// read) and carries the key's headers.
pub async fn read_key_body(
    relay: &Relay,
    key: &KeyLimits,
    body: Body,
    headers: &HeaderMap,
    protocol: Protocol,
) -> Result<Bytes, RelayError> {
    let started = Instant::now();
    let (day, midnight) =
        crate::limits::directory::day_and_next_midnight(now_ms(), relay.keys.time_zone());
    if let Err(refusal) = relay.admission.state.precheck(key, day, midnight, started) {
        let mut err = RelayError::from(refusal);
        relay.record_event(UsageEvent {
            request_id: uuid::Uuid::now_v7().to_string(),
            key_id: key.id.clone(),
            platform: match protocol {
                Protocol::Anthropic => Platform::Claude,
                Protocol::OpenAi => Platform::Openai,
                Protocol::Gemini => Platform::Gemini,
            }
            .as_str(),
            status: err.status.as_u16(),
            error_type: Some(err.kind.as_str().to_owned()),
            latency_ms: started.elapsed().as_millis() as i64,
            created_at: now_ms(),
            ..Default::default()
        });
        let mut key_headers = HeaderMap::new();
        relay.key_headers(key, &mut key_headers);
        err.headers.extend(
            key_headers
                .into_iter()
                .filter_map(|(name, value)| Some((name?, value))),
        );
        return Err(err);
    }
    let limit = relay.settings.serve.relay.body_limit_bytes();
    let timeout = Duration::from_secs(relay.settings.serve.guard.body_timeout_secs.max(1));
    match tokio::time::timeout(timeout, read_body(body, headers, limit)).await {
        Ok(read) => read,
        Err(_) => Err(RelayError::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorKind::Timeout,
            format!(
                "the request body did not arrive within {}s",
                timeout.as_secs()
            ),
        )),
    }
}

/// Reads a request body up to `limit` bytes; 413 beyond it, 503 when the relay's memory budget
/// is used up.
pub async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, RelayError> {
    let too_large = || {
        RelayError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::RequestTooLarge,
            format!(
                "request body exceeds the limit of {} MiB",
                limit / (1024 * 1024)
            ),
        )
    };
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > limit {
            return Err(too_large());
        }
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            if s.is::<http_body_util::LengthLimitError>() {
                return too_large();
            }
            if let Some(over) = s.downcast_ref::<crate::limits::budget::OverBudget>() {
                return RelayError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorKind::Overloaded,
                    format!("{over}; try again shortly"),
                )
                .retry_after(crate::limits::budget::RETRY_AFTER);
            }
            source = s.source();
        }
        RelayError::invalid(format!("could not read the request body: {e}"))
    })
}

/// Parses a JSON object body, applies `edit`, serialises it again.
pub(crate) fn rewrite_body(
    body: &[u8],
    edit: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> Result<Bytes, RelayError> {
    let mut v: Value = serde_json::from_slice(body)
        .map_err(|e| RelayError::invalid(format!("malformed JSON body: {e}")))?;
    let Some(obj) = v.as_object_mut() else {
        return Err(RelayError::invalid(
            "the request body must be a JSON object",
        ));
    };
    edit(obj);
    serde_json::to_vec(&v)
        .map(Bytes::from)
        .map_err(|e| RelayError::invalid(format!("cannot rewrite the body: {e}")))
}
