//! Upstream error bodies (Anthropic, OpenAI, Gemini) read into one vocabulary and written in
//! the client's shape, so every pair maps errors the same way.

use serde_json::{json, Value};

use super::chat_claude::openai_error;

/// The longest piece of an unparseable upstream body quoted back to the client.
const MAX_QUOTED_BODY: usize = 500;

/// What went wrong, in terms every protocol has a word for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Authentication,
    Permission,
    NotFound,
    RequestTooLarge,
    RateLimit,
    /// The account is out of credit (Anthropic `billing_error`, OpenAI `insufficient_quota`).
    Billing,
    Overloaded,
    Timeout,
    Server,
}

impl ErrorKind {
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            401 => ErrorKind::Authentication,
            403 => ErrorKind::Permission,
            404 => ErrorKind::NotFound,
            408 | 504 => ErrorKind::Timeout,
            413 => ErrorKind::RequestTooLarge,
            429 => ErrorKind::RateLimit,
            503 | 529 => ErrorKind::Overloaded,
            400..=499 => ErrorKind::InvalidRequest,
            _ => ErrorKind::Server,
        }
    }

    fn from_anthropic(kind: &str) -> Option<ErrorKind> {
        Some(match kind {
            "invalid_request_error" => ErrorKind::InvalidRequest,
            "authentication_error" => ErrorKind::Authentication,
            "permission_error" => ErrorKind::Permission,
            "not_found_error" => ErrorKind::NotFound,
            "request_too_large" => ErrorKind::RequestTooLarge,
            "rate_limit_error" => ErrorKind::RateLimit,
            "billing_error" => ErrorKind::Billing,
            "overloaded_error" => ErrorKind::Overloaded,
            "timeout_error" => ErrorKind::Timeout,
            "api_error" => ErrorKind::Server,
            _ => return None,
        })
    }

    /// Anthropic's `error.type`.
    pub fn anthropic_type(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::Permission => "permission_error",
            ErrorKind::NotFound => "not_found_error",
            ErrorKind::RequestTooLarge => "request_too_large",
            ErrorKind::RateLimit => "rate_limit_error",
            ErrorKind::Billing => "billing_error",
            ErrorKind::Overloaded => "overloaded_error",
            ErrorKind::Timeout => "timeout_error",
            ErrorKind::Server => "api_error",
        }
    }

    /// The status Anthropic answers this kind with.
    pub fn anthropic_status(self) -> u16 {
        match self {
            ErrorKind::InvalidRequest => 400,
            ErrorKind::Authentication => 401,
            ErrorKind::Billing => 402,
            ErrorKind::Permission => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::RequestTooLarge => 413,
            ErrorKind::RateLimit => 429,
            ErrorKind::Timeout => 504,
            ErrorKind::Server => 500,
            ErrorKind::Overloaded => 529,
        }
    }

    fn from_openai(kind: Option<&str>, code: Option<&str>) -> Option<ErrorKind> {
        Some(match (kind, code) {
            (_, Some("insufficient_quota")) | (Some("insufficient_quota"), _) => ErrorKind::Billing,
            (_, Some("rate_limit_exceeded")) | (Some("rate_limit_error"), _) => {
                ErrorKind::RateLimit
            }
            (_, Some("invalid_api_key")) | (Some("authentication_error"), _) => {
                ErrorKind::Authentication
            }
            (_, Some("model_not_found")) | (Some("not_found_error"), _) => ErrorKind::NotFound,
            (_, Some("context_length_exceeded")) | (Some("invalid_request_error"), _) => {
                ErrorKind::InvalidRequest
            }
            (Some("permission_error"), _) => ErrorKind::Permission,
            (_, Some("overloaded")) => ErrorKind::Overloaded,
            (_, Some("timeout")) => ErrorKind::Timeout,
            (Some("server_error"), _) => ErrorKind::Server,
            _ => return None,
        })
    }

    fn from_gemini(status: &str) -> Option<ErrorKind> {
        Some(match status {
            "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => {
                ErrorKind::InvalidRequest
            }
            "UNAUTHENTICATED" => ErrorKind::Authentication,
            "PERMISSION_DENIED" => ErrorKind::Permission,
            "NOT_FOUND" => ErrorKind::NotFound,
            "RESOURCE_EXHAUSTED" => ErrorKind::RateLimit,
            "UNAVAILABLE" => ErrorKind::Overloaded,
            "DEADLINE_EXCEEDED" => ErrorKind::Timeout,
            "INTERNAL" | "UNKNOWN" | "ABORTED" | "DATA_LOSS" | "UNIMPLEMENTED" => ErrorKind::Server,
            _ => return None,
        })
    }
}

/// An upstream error, whatever protocol it came in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamError {
    /// The upstream's HTTP status (500 for an error reported inside a stream).
    pub status: u16,
    pub kind: ErrorKind,
    pub message: String,
}

impl UpstreamError {
    pub fn new(status: u16, kind: ErrorKind, message: impl Into<String>) -> UpstreamError {
        UpstreamError {
            status,
            kind,
            message: message.into(),
        }
    }

    /// An Anthropic body (`{"type":"error","error":{"type","message"}}`), or any other body
    /// described by its status.
    pub fn from_anthropic(status: u16, body: &[u8]) -> UpstreamError {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let error = parsed.as_ref().and_then(|v| v.get("error"));
        let kind = error
            .and_then(|e| e.get("type"))
            .and_then(Value::as_str)
            .and_then(ErrorKind::from_anthropic);
        Self::assemble(status, kind, error, body)
    }

    /// An OpenAI body (`{"error":{"message","type","param","code"}}`).
    pub fn from_openai(status: u16, body: &[u8]) -> UpstreamError {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let error = parsed.as_ref().and_then(|v| v.get("error"));
        let field = |name: &str| error.and_then(|e| e.get(name)).and_then(Value::as_str);
        let kind = ErrorKind::from_openai(field("type"), field("code"));
        Self::assemble(status, kind, error, body)
    }

    /// A Google body (`{"error":{"code","message","status"}}`), possibly wrapped in an array
    /// as streamed JSON answers are.
    pub fn from_gemini(status: u16, body: &[u8]) -> UpstreamError {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let parsed = match parsed {
            Some(Value::Array(mut items)) if !items.is_empty() => Some(items.swap_remove(0)),
            other => other,
        };
        let error = parsed.as_ref().and_then(|v| v.get("error"));
        let kind = error
            .and_then(|e| e.get("status"))
            .and_then(Value::as_str)
            .and_then(ErrorKind::from_gemini);
        Self::assemble(status, kind, error, body)
    }

    fn assemble(status: u16, kind: Option<ErrorKind>, error: Option<&Value>, body: &[u8]) -> Self {
        let message = match error.and_then(|e| e.get("message")).and_then(Value::as_str) {
            Some(m) => m.to_owned(),
            None => describe_raw(status, body),
        };
        let kind = kind.unwrap_or_else(|| ErrorKind::from_status(status));
        UpstreamError::new(status, kind, message)
    }

    /// Anthropic's error body.
    pub fn anthropic_body(&self) -> Value {
        json!({
            "type": "error",
            "error": { "type": self.kind.anthropic_type(), "message": self.message },
        })
    }

    /// The status an Anthropic client gets: the upstream's, unless it is not an error status.
    pub fn anthropic_status(&self) -> u16 {
        match self.status {
            400..=599 => self.status,
            _ => self.kind.anthropic_status(),
        }
    }

    /// OpenAI's error body (Chat Completions and Responses alike).
    pub fn openai_body(&self) -> Value {
        openai_error(self.status, Some(self.kind.anthropic_type()), &self.message)
    }

    /// The status an OpenAI client gets: 529 (which OpenAI clients do not know) becomes 503,
    /// which they retry.
    pub fn openai_status(&self) -> u16 {
        match self.status {
            529 => 503,
            400..=599 => self.status,
            _ => 500,
        }
    }

    /// The `code` of a Responses `response.failed` error.
    pub fn responses_code(&self) -> &'static str {
        match self.kind {
            ErrorKind::RateLimit => "rate_limit_exceeded",
            ErrorKind::Billing => "insufficient_quota",
            ErrorKind::InvalidRequest | ErrorKind::RequestTooLarge => "invalid_prompt",
            _ => "server_error",
        }
    }
}

fn describe_raw(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return format!("upstream returned HTTP {status}");
    }
    let quoted: String = text.chars().take(MAX_QUOTED_BODY).collect();
    let ellipsis = if quoted.len() < text.len() { "…" } else { "" };
    format!("upstream returned HTTP {status}: {quoted}{ellipsis}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_protocol_reads_into_the_same_kinds() {
        let a = UpstreamError::from_anthropic(
            529,
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert_eq!((a.kind, a.openai_status()), (ErrorKind::Overloaded, 503));
        let o = UpstreamError::from_openai(
            429,
            br#"{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
        );
        assert_eq!(o.kind, ErrorKind::RateLimit);
        assert_eq!(o.anthropic_body()["error"]["type"], "rate_limit_error");
        let g = UpstreamError::from_gemini(
            400,
            br#"[{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}]"#,
        );
        assert_eq!(
            (g.kind, g.message.as_str()),
            (ErrorKind::InvalidRequest, "bad")
        );
        let raw = UpstreamError::from_gemini(502, b"<html>bad gateway</html>");
        assert_eq!(raw.kind, ErrorKind::Server);
        assert!(raw.message.contains("<html>"));
        assert_eq!(UpstreamError::from_openai(200, b"").anthropic_status(), 500);
    }
}
