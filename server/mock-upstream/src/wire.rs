//! The bytes every platform's answers are made of: JSON documents and error responses, SSE
//! framing, request ids, and the words the mock "generates".

use std::time::{SystemTime, UNIX_EPOCH};

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::Serialize;

pub(crate) const SSE: &str = "text/event-stream";
pub(crate) const JSON: &str = "application/json";

pub(crate) fn insert_request_id(headers: &mut HeaderMap, name: &'static str, serial: u64) {
    if let Ok(value) = HeaderValue::from_str(&format!("req_mock_{serial:016x}")) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

/// A JSON response with an error status (errors are never compressed or faulted).
pub(crate) fn json_response(status: StatusCode, document: Vec<u8>) -> Response {
    let mut response = (status, document).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
    response
}

/// Serializes a payload the mock built itself. Its types have only string keys, so this
/// cannot fail; the fallback keeps the output valid JSON regardless.
pub(crate) fn to_json(payload: &impl Serialize) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    if serde_json::to_writer(&mut out, payload).is_err() {
        out.clear();
        out.extend_from_slice(b"{}");
    }
    out
}

/// `event: <name>\ndata: <json>\n\n`, the framing Anthropic and the Responses API use.
pub(crate) fn sse_event(name: &str, payload: &impl Serialize) -> Bytes {
    let json = to_json(payload);
    let mut out = Vec::with_capacity(json.len() + name.len() + 16);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(&json);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// `data: <json>` followed by `terminator` (`\n\n` for OpenAI, `\r\n\r\n` for Gemini).
pub(crate) fn sse_data(payload: &impl Serialize, terminator: &str) -> Bytes {
    let json = to_json(payload);
    let mut out = Vec::with_capacity(json.len() + 10);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(&json);
    out.extend_from_slice(terminator.as_bytes());
    Bytes::from(out)
}

/// The words the mock "generates": delta `i` of a stream is `delta_text(i)`, and a non-stream
/// answer with `chunks` words is their concatenation, so both modes say the same thing.
const WORDS: [&str; 8] = [
    "Hello",
    " from",
    " the",
    " Tollgate",
    " mock",
    " upstream",
    ",",
    " friend.",
];

pub(crate) fn delta_text(i: usize) -> &'static str {
    WORDS[i % WORDS.len()]
}

pub(crate) fn full_text(chunks: usize) -> String {
    (0..chunks).map(delta_text).collect()
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Rough token estimate from a request body, for the count-tokens endpoints.
pub(crate) fn estimate_tokens(body: &[u8]) -> u64 {
    (body.len() as u64 / 4).max(1)
}
