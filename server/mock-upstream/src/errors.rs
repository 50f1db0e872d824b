//! Errors in each platform's own shape (body, headers, request id), the one thing every
//! exchange may answer with before its platform's handler runs.

use axum::response::Response;
use http::{HeaderValue, StatusCode};
use serde::Serialize;

use super::wire::{insert_request_id, json_response, to_json};

pub(crate) mod anthropic {
    use super::*;
    use chrono::{SecondsFormat, TimeDelta, Utc};

    #[derive(Serialize)]
    struct ErrorDetail<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        message: &'a str,
    }

    #[derive(Serialize)]
    struct ErrorBody<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        error: ErrorDetail<'a>,
        request_id: String,
    }

    fn error_type(status: StatusCode) -> &'static str {
        match status.as_u16() {
            400 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            529 => "overloaded_error",
            _ => "api_error",
        }
    }

    /// `{"type":"error","error":{"type":..,"message":..}}` with `request-id`, plus `retry-after`
    /// when a delay is set; a 429 also carries `anthropic-ratelimit-requests-reset` (RFC 3339,
    /// after the retry delay, 1 s without one).
    pub(crate) fn error(
        status: StatusCode,
        message: &str,
        retry_after_secs: Option<u64>,
        serial: u64,
    ) -> Response {
        let body = ErrorBody {
            kind: "error",
            error: ErrorDetail {
                kind: error_type(status),
                message,
            },
            request_id: format!("req_mock_{serial:016x}"),
        };
        let mut response = json_response(status, to_json(&body));
        let headers = response.headers_mut();
        insert_request_id(headers, "request-id", serial);
        if let Some(secs) = retry_after_secs {
            headers.insert("retry-after", HeaderValue::from(secs));
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            let reset = i64::try_from(retry_after_secs.unwrap_or(1))
                .ok()
                .and_then(TimeDelta::try_seconds)
                .and_then(|delay| Utc::now().checked_add_signed(delay))
                .map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, true));
            if let Some(Ok(value)) = reset.map(|at| HeaderValue::from_str(&at)) {
                headers.insert("anthropic-ratelimit-requests-reset", value);
            }
        }
        response
    }
}

pub(crate) mod openai {
    use super::*;

    #[derive(Serialize)]
    struct ErrorDetail<'a> {
        message: &'a str,
        #[serde(rename = "type")]
        kind: &'static str,
        param: Option<()>,
        code: Option<&'static str>,
    }

    #[derive(Serialize)]
    struct ErrorBody<'a> {
        error: ErrorDetail<'a>,
    }

    fn error_kind(status: StatusCode) -> (&'static str, Option<&'static str>) {
        match status.as_u16() {
            401 => ("invalid_request_error", Some("invalid_api_key")),
            429 => ("requests", Some("rate_limit_exceeded")),
            500..=599 => ("server_error", None),
            _ => ("invalid_request_error", None),
        }
    }

    /// `{"error":{"message","type","param","code"}}` with `x-request-id`; a 429 carries the
    /// `x-ratelimit-*` headers (reset after the retry delay, 1 s without one) and `retry-after`
    /// when a delay is set.
    pub(crate) fn error(
        status: StatusCode,
        message: &str,
        retry_after_secs: Option<u64>,
        serial: u64,
    ) -> Response {
        let (kind, code) = error_kind(status);
        let body = ErrorBody {
            error: ErrorDetail {
                message,
                kind,
                param: None,
                code,
            },
        };
        let mut response = json_response(status, to_json(&body));
        let headers = response.headers_mut();
        insert_request_id(headers, "x-request-id", serial);
        if let Some(secs) = retry_after_secs {
            headers.insert("retry-after", HeaderValue::from(secs));
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            let reset = format!("{}s", retry_after_secs.unwrap_or(1));
            if let Ok(value) = HeaderValue::from_str(&reset) {
                headers.insert("x-ratelimit-reset-requests", value.clone());
                headers.insert("x-ratelimit-reset-tokens", value);
            }
            headers.insert(
                "x-ratelimit-limit-requests",
                HeaderValue::from_static("500"),
            );
            headers.insert(
                "x-ratelimit-remaining-requests",
                HeaderValue::from_static("0"),
            );
        }
        response
    }
}

pub(crate) mod gemini {
    use super::*;

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct RetryInfo {
        #[serde(rename = "@type")]
        kind: &'static str,
        retry_delay: String,
    }

    #[derive(Serialize)]
    struct ErrorDetail<'a> {
        code: u16,
        message: &'a str,
        status: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        details: Option<[RetryInfo; 1]>,
    }

    #[derive(Serialize)]
    struct ErrorBody<'a> {
        error: ErrorDetail<'a>,
    }

    fn status_name(status: StatusCode) -> &'static str {
        match status.as_u16() {
            400 | 413 => "INVALID_ARGUMENT",
            401 => "UNAUTHENTICATED",
            403 => "PERMISSION_DENIED",
            404 => "NOT_FOUND",
            409 => "ABORTED",
            429 => "RESOURCE_EXHAUSTED",
            499 => "CANCELLED",
            501 => "UNIMPLEMENTED",
            503 => "UNAVAILABLE",
            504 => "DEADLINE_EXCEEDED",
            500..=599 => "INTERNAL",
            _ => "FAILED_PRECONDITION",
        }
    }

    /// `{"error":{"code","message","status"}}`; with a retry delay, a `RetryInfo` detail and a
    /// `retry-after` header.
    pub(crate) fn error(
        status: StatusCode,
        message: &str,
        retry_after_secs: Option<u64>,
    ) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: status.as_u16(),
                message,
                status: status_name(status),
                details: retry_after_secs.map(|secs| {
                    [RetryInfo {
                        kind: "type.googleapis.com/google.rpc.RetryInfo",
                        retry_delay: format!("{secs}s"),
                    }]
                }),
            },
        };
        let mut response = json_response(status, to_json(&body));
        if let Some(secs) = retry_after_secs {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        response
    }
}
