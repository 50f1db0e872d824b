//! Errors of the relay in each protocol's own shape, with the status an SDK understands.

use std::time::Duration;

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::limits::slots::SlotRefusal;
use crate::limits::Refusal;
use crate::scheduler::NoAccount;

/// Which client protocol a route speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Anthropic,
    OpenAi,
    Gemini,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Authentication,
    Permission,
    NotFound,
    RequestTooLarge,
    RateLimit,
    Billing,
    Api,
    Overloaded,
    Timeout,
}

#[derive(Debug)]
pub struct RelayError {
    pub status: StatusCode,
    pub kind: ErrorKind,
    pub message: String,
    pub retry_after: Option<Duration>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The key presented is unknown: the answer is marked so the gate counts a failure
    /// against the client's address.
    pub unknown_key: bool,
}

impl RelayError {
    pub fn new(status: StatusCode, kind: ErrorKind, message: impl Into<String>) -> Self {
        RelayError {
            status,
            kind,
            message: message.into(),
            retry_after: None,
            headers: Vec::new(),
            unknown_key: false,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorKind::InvalidRequest, message)
    }

    pub fn retry_after(mut self, d: Duration) -> Self {
        self.retry_after = Some(d);
        self
    }

    pub fn into_response(mut self, protocol: Protocol) -> Response {
        // 529 is Anthropic's own "overloaded"; other clients know 503 (and retry it).
        if self.status.as_u16() == 529 && protocol != Protocol::Anthropic {
            self.status = StatusCode::SERVICE_UNAVAILABLE;
        }
        let body = match protocol {
            Protocol::Anthropic => serde_json::json!({
                "type": "error",
                "error": { "type": anthropic_type(self.kind), "message": self.message },
            }),
            Protocol::OpenAi => {
                let (ty, code) = openai_type(self.kind);
                serde_json::json!({
                    "error": { "message": self.message, "type": ty, "param": null, "code": code },
                })
            }
            Protocol::Gemini => serde_json::json!({
                "error": { "code": self.status.as_u16(), "message": self.message, "status": gemini_status(self.kind) },
            }),
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        if let Some(d) = self.retry_after {
            let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        for (k, v) in self.headers {
            res.headers_mut().insert(k, v);
        }
        if self.unknown_key {
            res.extensions_mut().insert(UnknownKeyPresented);
        }
        res
    }
}

impl ErrorKind {
    /// The error type as Anthropic names it; also what usage events record.
    pub fn as_str(self) -> &'static str {
        anthropic_type(self)
    }
}

fn anthropic_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest => "invalid_request_error",
        ErrorKind::Authentication => "authentication_error",
        ErrorKind::Permission => "permission_error",
        ErrorKind::NotFound => "not_found_error",
        ErrorKind::RequestTooLarge => "request_too_large",
        ErrorKind::RateLimit => "rate_limit_error",
        ErrorKind::Billing => "billing_error",
        ErrorKind::Api => "api_error",
        ErrorKind::Overloaded => "overloaded_error",
        ErrorKind::Timeout => "timeout_error",
    }
}

fn openai_type(kind: ErrorKind) -> (&'static str, &'static str) {
    match kind {
        ErrorKind::InvalidRequest => ("invalid_request_error", "invalid_request"),
        ErrorKind::Authentication => ("invalid_request_error", "invalid_api_key"),
        ErrorKind::Permission => ("permission_error", "permission_denied"),
        ErrorKind::NotFound => ("invalid_request_error", "not_found"),
        ErrorKind::RequestTooLarge => ("invalid_request_error", "request_too_large"),
        ErrorKind::RateLimit => ("rate_limit_error", "rate_limit_exceeded"),
        ErrorKind::Billing => ("insufficient_quota", "insufficient_quota"),
        ErrorKind::Api => ("server_error", "server_error"),
        ErrorKind::Overloaded => ("server_error", "overloaded"),
        ErrorKind::Timeout => ("server_error", "timeout"),
    }
}

fn gemini_status(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidRequest | ErrorKind::RequestTooLarge => "INVALID_ARGUMENT",
        ErrorKind::Authentication => "UNAUTHENTICATED",
        ErrorKind::Permission => "PERMISSION_DENIED",
        ErrorKind::NotFound => "NOT_FOUND",
        ErrorKind::RateLimit => "RESOURCE_EXHAUSTED",
        ErrorKind::Billing => "FAILED_PRECONDITION",
        ErrorKind::Api => "INTERNAL",
        ErrorKind::Overloaded => "UNAVAILABLE",
        ErrorKind::Timeout => "DEADLINE_EXCEEDED",
    }
}

fn usd(micros: i64) -> String {
    format!("${:.2}", micros as f64 / 1_000_000.0)
}

/// Small amounts (an input estimate, a nearly empty quota) need more than cents.
fn usd6(micros: i64) -> String {
    format!("${:.4}", micros as f64 / 1_000_000.0)
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

impl From<Refusal> for RelayError {
    fn from(r: Refusal) -> Self {
        use ErrorKind::*;
        match r {
            Refusal::MissingKey => RelayError::new(
                StatusCode::UNAUTHORIZED,
                Authentication,
                "missing API key: send it as x-api-key or Authorization: Bearer",
            ),
            Refusal::UnknownKey => {
                let mut e =
                    RelayError::new(StatusCode::UNAUTHORIZED, Authentication, "invalid API key");
                e.unknown_key = true;
                e
            }
            Refusal::Disabled => RelayError::new(
                StatusCode::UNAUTHORIZED,
                Authentication,
                "this API key is disabled",
            ),
            Refusal::Expired { at } => RelayError::new(
                StatusCode::UNAUTHORIZED,
                Authentication,
                format!("this API key expired at {}", rfc3339(at)),
            ),
            Refusal::PlatformNotAllowed { platform } => RelayError::new(
                StatusCode::FORBIDDEN,
                Permission,
                format!(
                    "this API key may not use the {} platform",
                    platform.as_str()
                ),
            ),
            Refusal::ModelNotAllowed { model } => RelayError::new(
                StatusCode::FORBIDDEN,
                Permission,
                format!("this API key may not use model {model}"),
            ),
            Refusal::ClientNotAllowed { seen, allowed } => RelayError::new(
                StatusCode::FORBIDDEN,
                Permission,
                format!(
                    "this API key may only be used from {} (allowedClients); this client {}",
                    allowed.join(", "),
                    match seen {
                        Some(c) => format!("is {c}"),
                        None => "is none of them".into(),
                    }
                ),
            ),
            Refusal::AddressNotAllowed { ip } => RelayError::new(
                StatusCode::FORBIDDEN,
                Permission,
                format!("this API key may not be used from address {ip} (allowedCidrs)"),
            ),
            Refusal::FamilyDailyLimit {
                family,
                limit,
                spent,
                resets_at,
            } => RelayError::new(
                StatusCode::PAYMENT_REQUIRED,
                Billing,
                format!(
                    "daily cost limit for {family} models reached (modelDailyCostLimits): limit {}, spent {} today; resets at {}",
                    usd(limit),
                    usd(spent),
                    rfc3339(resets_at)
                ),
            ),
            Refusal::QuotaExhausted { limit, spent } => RelayError::new(
                StatusCode::PAYMENT_REQUIRED,
                Billing,
                format!(
                    "quota exhausted: limit {}, spent {}",
                    usd(limit),
                    usd(spent)
                ),
            ),
            Refusal::InputOverBudget {
                estimate,
                remaining,
                daily,
            } => RelayError::new(
                StatusCode::PAYMENT_REQUIRED,
                Billing,
                format!(
                    "this request's input alone is estimated at {}, more than the {} left {}",
                    usd6(estimate),
                    usd6(remaining),
                    if daily {
                        "of today's budget"
                    } else {
                        "of the quota"
                    }
                ),
            ),
            Refusal::DailyLimit {
                limit,
                spent,
                resets_at,
            } => RelayError::new(
                StatusCode::PAYMENT_REQUIRED,
                Billing,
                format!(
                    "daily cost limit reached: limit {}, spent {} today; resets at {}",
                    usd(limit),
                    usd(spent),
                    rfc3339(resets_at)
                ),
            ),
            Refusal::RemainderHeld { daily } => RelayError::new(
                StatusCode::TOO_MANY_REQUESTS,
                RateLimit,
                format!(
                    "what is left of {} is held by another request in flight; retry when it has finished",
                    if daily { "today's budget" } else { "the quota" }
                ),
            )
            .retry_after(Duration::from_secs(1)),
            Refusal::RateLimited {
                retry_after,
                by_cost,
                limit,
                window,
            } => {
                let what = if by_cost {
                    "cost limit of the rate window reached".to_string()
                } else {
                    format!(
                        "rate limit reached: {limit} requests per {} minutes",
                        window.as_secs() / 60
                    )
                };
                RelayError::new(StatusCode::TOO_MANY_REQUESTS, RateLimit, what)
                    .retry_after(retry_after)
            }
            Refusal::Concurrency { limit, reason } => {
                let message = match reason {
                    SlotRefusal::Busy => {
                        format!("concurrency limit reached: {limit} requests in flight")
                    }
                    SlotRefusal::QueueFull => {
                        format!("concurrency limit {limit} reached and the wait queue is full")
                    }
                    SlotRefusal::TimedOut => {
                        format!("waited too long for one of {limit} concurrent slots")
                    }
                };
                RelayError::new(StatusCode::TOO_MANY_REQUESTS, RateLimit, message)
                    .retry_after(Duration::from_secs(1))
            }
            Refusal::Unreadable => RelayError::new(
                StatusCode::FORBIDDEN,
                Permission,
                "this API key's settings are unreadable; ask the administrator to save the key again",
            ),
            Refusal::Unavailable => RelayError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Api,
                "the relay cannot check this key right now; try again shortly",
            )
            .retry_after(Duration::from_secs(1)),
        }
    }
}

impl From<NoAccount> for RelayError {
    fn from(n: NoAccount) -> Self {
        match n {
            NoAccount::Dedicated {
                account,
                reason,
                retry_after,
            } => RelayError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorKind::Overloaded,
                format!("the dedicated account {account} of this key is unavailable: {reason}"),
            )
            .retry_after(retry_after.unwrap_or(Duration::from_secs(30))),
            NoAccount::GroupMissing { group } => RelayError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorKind::Overloaded,
                format!("the account group {group} of this key does not exist for this platform"),
            )
            .retry_after(Duration::from_secs(60)),
            NoAccount::NoneEligible {
                reason,
                retry_after,
            } => RelayError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorKind::Overloaded,
                format!("no upstream account available: {reason}"),
            )
            .retry_after(retry_after.unwrap_or(Duration::from_secs(10))),
        }
    }
}

/// Marks an answer that refused an unknown key (set by [`RelayError::into_response`]; the
/// relay's gate counts these per client address).
#[derive(Clone, Copy, Debug)]
pub struct UnknownKeyPresented;
