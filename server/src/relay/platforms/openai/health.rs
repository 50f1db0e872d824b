//! How OpenAI error answers bear on an account's health, and when a 429 ends.

use axum::http::StatusCode;
use serde_json::Value;

use crate::scheduler::health::Outcome;

/// How an OpenAI error answer bears on the account's health.
pub fn classify_openai(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
    now: i64,
) -> Outcome {
    let error =
        crate::relay::json_guard::upstream_value(body).and_then(|v| v.get("error").cloned());
    let field = |k: &str| {
        error
            .as_ref()
            .and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let message = Some(field("message"))
        .filter(|m| !m.is_empty())
        .map(|m| m.chars().take(300).collect())
        .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
    let overloaded = [field("code"), field("type")]
        .iter()
        .any(|s| s.contains("overloaded"));
    match status.as_u16() {
        // Out of credit is not a rate limit: it lasts until the operator pays.
        429 if field("code") == "insufficient_quota" => Outcome::AuthFailed {
            status: 429,
            message,
        },
        429 => Outcome::RateLimited {
            reset_at: openai_rate_limit_reset(headers, now),
            message,
        },
        503 | 529 => Outcome::Overloaded { message },
        401 | 403 => Outcome::AuthFailed {
            status: status.as_u16(),
            message,
        },
        s if overloaded && s >= 500 => Outcome::Overloaded { message },
        s => Outcome::Failed {
            status: Some(s),
            message,
        },
    }
}

/// The reset an OpenAI 429 announces: `retry-after-ms`, `retry-after` (seconds), else the
/// `x-ratelimit-reset-*` duration of the exhausted limit (both when neither says which).
pub fn openai_rate_limit_reset(headers: &reqwest::header::HeaderMap, now: i64) -> Option<i64> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Some(now + ms as i64);
    }
    if let Some(secs) = text("retry-after").and_then(|v| v.parse::<f64>().ok()) {
        return Some(now + (secs * 1000.0) as i64);
    }
    let exhausted = |which: &str| text(&format!("x-ratelimit-remaining-{which}")) == Some("0");
    let reset = |which: &str| text(&format!("x-ratelimit-reset-{which}")).and_then(duration_ms);
    let (requests, tokens) = (reset("requests"), reset("tokens"));
    let ms = match (exhausted("requests"), exhausted("tokens")) {
        (true, false) => requests.or(tokens),
        (false, true) => tokens.or(requests),
        _ => requests.max(tokens),
    }?;
    Some(now + ms)
}

/// A Go-style duration as OpenAI writes it (`1s`, `6m0s`, `20ms`, `1h2m3.5s`), in ms.
pub fn duration_ms(text: &str) -> Option<i64> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0f64;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3_600_000.0,
            "m" => 60_000.0,
            "s" => 1_000.0,
            "ms" => 1.0,
            "us" | "µs" => 0.001,
            "ns" => 0.000_001,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_len..];
    }
    Some(total.ceil() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_openai_writes_them() {
        assert_eq!(duration_ms("1s"), Some(1_000));
        assert_eq!(duration_ms("6m0s"), Some(360_000));
        assert_eq!(duration_ms("20ms"), Some(20));
        assert_eq!(duration_ms("1h2m3.5s"), Some(3_723_500));
        assert_eq!(duration_ms("0.5s"), Some(500));
        assert_eq!(duration_ms(""), None);
        assert_eq!(duration_ms("soon"), None);
        assert_eq!(duration_ms("5x"), None);
    }

    #[test]
    fn rate_limit_resets() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = reqwest::header::HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, v.parse().unwrap());
            }
            m
        };
        assert_eq!(
            openai_rate_limit_reset(&h(&[("retry-after", "3")]), 1_000),
            Some(4_000)
        );
        assert_eq!(
            openai_rate_limit_reset(&h(&[("retry-after-ms", "250"), ("retry-after", "3")]), 0),
            Some(250)
        );
        let both = [
            ("x-ratelimit-reset-requests", "2s"),
            ("x-ratelimit-reset-tokens", "6m0s"),
        ];
        assert_eq!(openai_rate_limit_reset(&h(&both), 0), Some(360_000));
        let requests_out = [
            both[0],
            both[1],
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-remaining-tokens", "900"),
        ];
        assert_eq!(openai_rate_limit_reset(&h(&requests_out), 0), Some(2_000));
        assert_eq!(openai_rate_limit_reset(&h(&[]), 0), None);
    }

    #[test]
    fn classification() {
        let none = reqwest::header::HeaderMap::new();
        let quota = br#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#;
        assert!(matches!(
            classify_openai(StatusCode::TOO_MANY_REQUESTS, &none, quota, 0),
            Outcome::AuthFailed { status: 429, .. }
        ));
        assert!(matches!(
            classify_openai(StatusCode::TOO_MANY_REQUESTS, &none, b"", 0),
            Outcome::RateLimited { reset_at: None, .. }
        ));
        assert!(matches!(
            classify_openai(StatusCode::SERVICE_UNAVAILABLE, &none, b"", 0),
            Outcome::Overloaded { .. }
        ));
        let overloaded =
            br#"{"error":{"message":"busy","type":"server_error","code":"server_is_overloaded"}}"#;
        assert!(matches!(
            classify_openai(StatusCode::INTERNAL_SERVER_ERROR, &none, overloaded, 0),
            Outcome::Overloaded { .. }
        ));
        assert!(matches!(
            classify_openai(StatusCode::UNAUTHORIZED, &none, b"", 0),
            Outcome::AuthFailed { status: 401, .. }
        ));
        match classify_openai(
            StatusCode::BAD_GATEWAY,
            &none,
            br#"{"error":{"message":"bad gateway"}}"#,
            0,
        ) {
            Outcome::Failed {
                status: Some(502),
                message,
            } => assert_eq!(message, "bad gateway"),
            other => panic!("{other:?}"),
        }
    }
}
