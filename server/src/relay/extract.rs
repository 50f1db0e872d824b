//! The preamble every relay handler shares, in one place: authenticate the key the protocol's
//! clients present (and its client and address restrictions), read the body within the key's
//! limits, peek at the fields the relay needs — every refusal in the protocol's own error
//! shape. Handlers return `Result<Response, Response>` so the preamble reads as `?`s; [`answer`]
//! turns that into the response.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use serde::Deserialize;

use super::body::read_key_body;
use super::error::{Protocol, RelayError};
use super::key_gate::admit_key;
use super::Relay;
use crate::limits::KeyLimits;

/// A request whose key was admitted; its body is not read yet.
pub struct Incoming {
    pub started: Instant,
    pub protocol: Protocol,
    pub parts: Parts,
    pub key: Arc<KeyLimits>,
    body: Body,
}

impl Incoming {
    /// Authenticates the request's key and checks where it may be used from.
    pub async fn admit(relay: &Relay, req: Request, protocol: Protocol) -> Result<Self, Response> {
        let started = Instant::now();
        let (parts, body) = req.into_parts();
        let key = key_of(relay, &parts, protocol).await?;
        Ok(Incoming {
            started,
            protocol,
            parts,
            key,
            body,
        })
    }

    /// Reads the body: refused unread when a limit that needs no body already refuses the key,
    /// else within the time, size and memory limits (see [`read_key_body`]).
    pub async fn body(&mut self, relay: &Relay) -> Result<Bytes, Response> {
        let body = std::mem::take(&mut self.body);
        let bytes = read_key_body(relay, &self.key, body, &self.parts.headers, self.protocol)
            .await
            .map_err(|e| e.into_response(self.protocol))?;
        if super::json_guard::has_raw_value_marker(&bytes) {
            return Err(RelayError::invalid(
                "the body uses the reserved key \"$serde_json::private::RawValue\"",
            )
            .into_response(self.protocol));
        }
        Ok(bytes)
    }

    /// The fields of the body the relay needs (the rest passes through untouched).
    // A refusal is answered at once: its size never travels far.
    #[allow(clippy::result_large_err)]
    pub fn peek<'a, T: Deserialize<'a>>(&self, bytes: &'a [u8]) -> Result<T, Response> {
        peek(bytes, self.protocol)
    }
}

/// The admitted key of a request that has no body to read (model lists).
pub async fn key_of(
    relay: &Relay,
    parts: &Parts,
    protocol: Protocol,
) -> Result<Arc<KeyLimits>, Response> {
    let presented = presented(&parts.headers, parts.uri.query(), protocol);
    admit_key(
        relay,
        &parts.headers,
        &parts.extensions,
        &presented,
        protocol,
    )
    .await
}

/// The key a client presented: in the protocol's headers (see [`super::presented_key`]), and
/// for Gemini clients also `?key=`.
pub(crate) fn presented<'a>(
    headers: &'a HeaderMap,
    query: Option<&str>,
    protocol: Protocol,
) -> Cow<'a, str> {
    let from_headers = super::presented_key(headers, protocol);
    if !from_headers.is_empty() || protocol != Protocol::Gemini {
        return Cow::Borrowed(from_headers);
    }
    Cow::Owned(
        query
            .map(|q| url::form_urlencoded::parse(q.as_bytes()))
            .and_then(|mut pairs| pairs.find(|(n, _)| n == "key"))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default(),
    )
}

/// Parses the fields the relay needs; a malformed body is a 400 in the protocol's words.
#[allow(clippy::result_large_err)]
pub fn peek<'a, T: Deserialize<'a>>(bytes: &'a [u8], protocol: Protocol) -> Result<T, Response> {
    serde_json::from_slice(bytes).map_err(|e| {
        let message = match protocol {
            Protocol::Gemini => format!("Invalid JSON payload received: {e}"),
            Protocol::Anthropic | Protocol::OpenAi => format!("malformed JSON body: {e}"),
        };
        RelayError::invalid(message).into_response(protocol)
    })
}

/// The response of a handler written with `?`.
pub fn answer(result: Result<Response, Response>) -> Response {
    result.unwrap_or_else(|refused| refused)
}
