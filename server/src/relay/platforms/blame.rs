//! Whose fault an upstream 403 is. A key holder chooses the request, so anything the request
//! can cause — an unknown or forbidden model, a moderation refusal, a malformed field — must
//! not count against the account that carried it: such answers go to the client as they are,
//! without failover and without touching the account's health. Only an answer that names the
//! credential (its type or code says authentication or permission, or its text speaks of the
//! API key) is evidence against the account, and even that takes several in a row (see
//! `scheduler::health`).
//!
//! The rest of the status codes are decided in `failover::classify`: 401 is always about the
//! credential; 400/404/413/422 and the other 4xx (except 429) are the request's, unless an
//! adapter recognises an account fault in the body (Gemini's 400 `API_KEY_INVALID`).

use serde_json::Value;

use app::types::Platform;

/// Texts of moderation and safety refusals (OpenAI-compatible gateways answer flagged prompts
/// with 403): always the request's doing.
const MODERATION: &[&str] = &[
    "moderation",
    "flagged",
    "content_filter",
    "content filter",
    "content policy",
    "content_policy",
    "sensitive",
    "safety",
    "prohibited",
];

/// Error types or codes that are about the request, whatever the status.
const REQUEST_TYPES: &[&str] = &[
    "invalid_request_error",
    "not_found_error",
    "request_too_large",
    "model_not_found",
    "invalid_argument",
    "not_found",
    "failed_precondition",
    "unsupported_model",
    "context_length_exceeded",
];

/// Error types or codes that are about the credential or the account behind it.
const ACCOUNT_TYPES: &[&str] = &[
    "authentication_error",
    "permission_error",
    "invalid_api_key",
    "account_deactivated",
    "insufficient_permissions",
    "unsupported_country_region_territory",
    "billing",
    "insufficient_quota",
    "unauthenticated",
];

/// Words in an error text of an unknown shape that point at the credential.
const ACCOUNT_WORDS: &[&str] = &[
    "api key",
    "api_key",
    "api-key",
    "apikey",
    "authenticat",
    "credential",
    "unauthori",
];

/// Gemini markers of a key or project problem (the rest of its PERMISSION_DENIED answers are
/// about a resource the request names, such as a file the caller does not own).
const GEMINI_ACCOUNT: &[&str] = &[
    "API_KEY",
    "CONSUMER_",
    "SERVICE_DISABLED",
    "BILLING",
    "API key",
];

fn contains(haystack: &[u8], needle: &str) -> bool {
    memchr::memmem::find(haystack, needle.as_bytes()).is_some()
}

/// The error's type, code and status fields as the three platforms write them, lowercased.
fn error_names(body: &[u8]) -> Vec<String> {
    let Some(v) = crate::relay::json_guard::upstream_value(body) else {
        return Vec::new();
    };
    let error = v.get("error").unwrap_or(&v);
    ["type", "code", "status"]
        .iter()
        .filter_map(|k| error.get(*k))
        .filter_map(|f| match f {
            Value::String(s) => Some(s.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

/// True when a 403 from `platform` was caused by the request, not the account's credential.
pub fn forbidden_by_request(platform: Platform, body: &[u8]) -> bool {
    let lower = body.to_ascii_lowercase();
    if MODERATION.iter().any(|m| contains(&lower, m)) {
        return true;
    }
    if platform == Platform::Gemini {
        return !GEMINI_ACCOUNT.iter().any(|m| contains(body, m));
    }
    let names = error_names(body);
    let named = |list: &[&str]| names.iter().any(|n| list.iter().any(|t| n.contains(t)));
    if named(REQUEST_TYPES) {
        return true;
    }
    if named(ACCOUNT_TYPES) {
        return false;
    }
    // An unknown shape: only a text that speaks of the key counts against the account.
    !ACCOUNT_WORDS.iter().any(|w| contains(&lower, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic() {
        let p = Platform::Claude;
        for request in [
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: too many tokens"}}"#,
            r#"{"type":"error","error":{"type":"not_found_error","message":"model: claude-x"}}"#,
            r#"{"type":"error","error":{"type":"permission_error","message":"Output blocked by content filtering policy"}}"#,
            "<html>403 Forbidden</html>",
            "",
        ] {
            assert!(forbidden_by_request(p, request.as_bytes()), "{request}");
        }
        for account in [
            r#"{"type":"error","error":{"type":"permission_error","message":"Your API key does not have permission to use the specified resource."}}"#,
            r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#,
            "Forbidden: invalid API key",
        ] {
            assert!(!forbidden_by_request(p, account.as_bytes()), "{account}");
        }
    }

    #[test]
    fn openai_and_compatible_gateways() {
        let p = Platform::Openai;
        for request in [
            r#"{"error":{"message":"The model `gpt-9` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#,
            r#"{"error":{"message":"Project does not have access to model gpt-4o","type":"invalid_request_error","code":"model_not_found"}}"#,
            r#"{"error":{"message":"Your request was flagged by our moderation system","type":"invalid_request_error"}}"#,
            r#"{"error":{"message":"内容审核未通过 (sensitive words)","code":"sensitive_words_detected"}}"#,
            r#"{"error":{"message":"forbidden"}}"#,
        ] {
            assert!(forbidden_by_request(p, request.as_bytes()), "{request}");
        }
        for account in [
            r#"{"error":{"code":"unsupported_country_region_territory","message":"Country, region, or territory not supported","param":null,"type":"request_forbidden"}}"#,
            r#"{"error":{"message":"You have insufficient permissions for this operation.","type":"invalid_scope","code":"insufficient_permissions"}}"#,
            r#"{"error":{"message":"Your API key has been disabled","type":"forbidden"}}"#,
        ] {
            assert!(!forbidden_by_request(p, account.as_bytes()), "{account}");
        }
    }

    #[test]
    fn gemini() {
        let p = Platform::Gemini;
        let file = br#"{"error":{"code":403,"message":"You do not have permission to access the File abc or it may not exist.","status":"PERMISSION_DENIED"}}"#;
        assert!(forbidden_by_request(p, file));
        let key = br#"{"error":{"code":403,"message":"Requests to this API are blocked.","status":"PERMISSION_DENIED","details":[{"reason":"API_KEY_SERVICE_BLOCKED"}]}}"#;
        assert!(!forbidden_by_request(p, key));
    }
}
