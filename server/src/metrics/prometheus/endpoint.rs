//! `GET /metrics`: the counters plus gauges read at scrape time, behind `METRICS_TOKEN`.
//! Without a configured token the endpoint does not exist (404); a missing or wrong bearer
//! token is 401. The comparison runs over SHA-256 digests so its time says nothing about the
//! token.

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

pub use super::render::{render, Figures, WriterFigures};
use super::text::CONTENT_TYPE;

/// The answer to a scrape: 404 without a token, 401 without the right bearer, else the
/// figures `render` produces.
pub fn scrape(
    token: Option<&str>,
    headers: &HeaderMap,
    render: impl FnOnce() -> String,
) -> Response {
    let Some(token) = token else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !authorized(headers, token) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a valid metrics token is required\n",
        )
            .into_response();
    }
    let body = render();
    (
        [
            (header::CONTENT_TYPE, CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(presented) = crate::auth::bearer::bearer_token(headers) else {
        return false;
    };
    let (a, b) = (
        Sha256::digest(presented.as_bytes()),
        Sha256::digest(token.as_bytes()),
    );
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_token_must_match_exactly() {
        let mut h = HeaderMap::new();
        assert!(!authorized(&h, "s3cret"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret"),
        );
        assert!(authorized(&h, "s3cret"));
        assert!(!authorized(&h, "s3cret2"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic s3cret"),
        );
        assert!(!authorized(&h, "s3cret"));
    }
}
