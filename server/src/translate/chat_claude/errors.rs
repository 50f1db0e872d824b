//! Anthropic error bodies → OpenAI error bodies.

use serde_json::{json, Value};

/// The longest piece of an unparseable upstream body quoted back to the client.
const MAX_QUOTED_BODY: usize = 500;

/// Translates an Anthropic error (`{"type":"error","error":{"type","message"}}`) answered with
/// `status` into OpenAI's `{"error":{"message","type","param","code"}}`. A body that is not an
/// Anthropic error is described by its status, quoting the start of the body.
pub fn messages_error_to_openai(status: u16, anthropic_error_body: &[u8]) -> Value {
    let parsed: Option<Value> = serde_json::from_slice(anthropic_error_body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let kind = error.and_then(|e| e.get("type")).and_then(Value::as_str);
    let message = match error.and_then(|e| e.get("message")).and_then(Value::as_str) {
        Some(m) => m.to_string(),
        None => describe_raw(status, anthropic_error_body),
    };
    openai_error(status, kind, &message)
}

/// The OpenAI error body for an Anthropic error `kind` (or, when unknown, for `status`).
pub(crate) fn openai_error(status: u16, kind: Option<&str>, message: &str) -> Value {
    let (error_type, code) = match kind {
        Some("invalid_request_error") => ("invalid_request_error", None),
        Some("authentication_error") => ("authentication_error", Some("invalid_api_key")),
        Some("permission_error") => ("permission_error", None),
        Some("not_found_error") => ("not_found_error", None),
        Some("request_too_large") => ("invalid_request_error", Some("request_too_large")),
        Some("rate_limit_error") => ("rate_limit_error", Some("rate_limit_exceeded")),
        Some("billing_error") => ("insufficient_quota", Some("insufficient_quota")),
        Some("overloaded_error") => ("server_error", Some("overloaded")),
        Some("timeout_error") => ("server_error", Some("timeout")),
        Some("api_error") => ("server_error", None),
        _ => (type_for_status(status), None),
    };
    json!({
        "error": {
            "message": message,
            "type": error_type,
            "param": null,
            "code": code,
        }
    })
}

fn type_for_status(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "server_error",
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
