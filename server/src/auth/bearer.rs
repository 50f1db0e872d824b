//! The one reader of `Authorization: Bearer <token>` (RFC 6750), used by the admin auth layer,
//! REST logout, `/metrics` and the relay alike. The scheme name is case-insensitive
//! (RFC 7235 §2.1): `Bearer`, `bearer` and `BEARER` all work; one or more spaces may follow it.

use axum::http::{header, HeaderMap};

/// The bearer token of the request, if it carries one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    parse(value)
}

/// The token of an `Authorization` value with the Bearer scheme.
pub fn parse(value: &str) -> Option<&str> {
    let value = value.trim_start();
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case("bearer") || !rest.starts_with(' ') {
        return None;
    }
    let token = rest.trim();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_is_case_insensitive() {
        assert_eq!(parse("Bearer abc"), Some("abc"));
        assert_eq!(parse("bearer abc"), Some("abc"));
        assert_eq!(parse("BEARER   abc "), Some("abc"));
        assert_eq!(parse("BeArEr abc"), Some("abc"));
    }

    #[test]
    fn other_schemes_and_empty_tokens_are_not_bearer() {
        assert_eq!(parse("Basic abc"), None);
        assert_eq!(parse("Bearerabc"), None);
        assert_eq!(parse("Bearer "), None);
        assert_eq!(parse("Bear"), None);
        assert_eq!(parse("Beärer x"), None);
        assert_eq!(parse(""), None);
    }
}
