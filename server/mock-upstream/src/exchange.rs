//! The request/response cycle the three platforms share: read and record the request, find
//! its credential and plan, apply latency and header-level faults, then send the answer
//! through a [`ScriptedBody`] that carries the mid-body faults and compression.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode};

use super::behavior::Fault;
use super::body::{Ending, InFlightGuard, Piece, ResetSwitch, ScriptedBody, StreamEncoder};
use super::errors;
use super::registry::{Captured, Plan};
use super::wire::{insert_request_id, json_response, to_json, JSON, SSE};
use super::MockState;

/// Request bodies above this are refused, like a real API would.
const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Platform {
    Anthropic,
    OpenAi,
    Gemini,
}

impl Platform {
    /// The upstream API key the request carries, where that platform's SDKs put it.
    fn credential<'a>(self, headers: &'a HeaderMap, query: Option<&'a str>) -> Option<&'a str> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let bearer = || {
            header("authorization")
                .and_then(|v| v.strip_prefix("Bearer ").or(v.strip_prefix("bearer ")))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        match self {
            Platform::Anthropic => header("x-api-key").or_else(bearer),
            Platform::OpenAi => bearer().or_else(|| header("api-key")),
            Platform::Gemini => header("x-goog-api-key").or_else(|| {
                query?
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("key="))
                    .filter(|v| !v.is_empty())
            }),
        }
    }

    /// An error in the platform's own JSON shape, with its usual headers.
    pub(crate) fn error(
        self,
        status: StatusCode,
        message: &str,
        retry_after_secs: Option<u64>,
        serial: u64,
    ) -> Response {
        match self {
            Platform::Anthropic => {
                errors::anthropic::error(status, message, retry_after_secs, serial)
            }
            Platform::OpenAi => errors::openai::error(status, message, retry_after_secs, serial),
            Platform::Gemini => errors::gemini::error(status, message, retry_after_secs),
        }
    }

    fn request_id_header(self) -> Option<&'static str> {
        match self {
            Platform::Anthropic => Some("request-id"),
            Platform::OpenAi => Some("x-request-id"),
            Platform::Gemini => None,
        }
    }
}

/// A stream's events: `deltas` are the text pieces (spaced by `chunk_gap_ms`, counted by the
/// mid-stream faults), `head` goes before them and `tail` after.
#[derive(Default)]
pub(crate) struct StreamScript {
    pub head: Vec<Bytes>,
    pub deltas: Vec<Bytes>,
    pub tail: Vec<Bytes>,
}

/// One admitted request, ready to be answered.
pub(crate) struct Exchange {
    pub platform: Platform,
    pub request: Arc<Captured>,
    pub plan: Plan,
    /// Unique per request; used in response ids.
    pub serial: u64,
    in_flight: InFlightGuard,
    reset: Option<ResetSwitch>,
}

impl Exchange {
    /// Reads and records the request, then plays out the parts of the plan that come before
    /// the response headers. `Err` carries the answer when there is nothing more to do.
    pub(crate) async fn admit(
        state: &MockState,
        platform: Platform,
        request: Request,
    ) -> Result<Exchange, Response> {
        let in_flight = InFlightGuard::new(
            state.registry.in_flight_counter(),
            state.registry.peak_counter(),
        );
        let serial = state.next_serial();
        let (mut parts, body) = request.into_parts();
        let reset = parts.extensions.remove::<ResetSwitch>();
        let body = axum::body::to_bytes(body, MAX_REQUEST_BYTES)
            .await
            .map_err(|_| {
                platform.error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request body is too large or could not be read",
                    None,
                    serial,
                )
            })?;
        let captured = Arc::new(Captured {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
        });
        let credential = platform.credential(&captured.headers, captured.uri.query());
        let mut plan = state.registry.admit(credential, &captured);
        if let Some(fault) = fault_in_body(&captured.body) {
            plan.fault = Some(fault);
        }
        if credential.is_none() {
            let message = match platform {
                Platform::Anthropic => "x-api-key header is required",
                Platform::OpenAi => "You didn't provide an API key.",
                Platform::Gemini => {
                    "Method doesn't allow unregistered callers. Please use an API key."
                }
            };
            return Err(platform.error(StatusCode::UNAUTHORIZED, message, None, serial));
        }
        if plan.behavior.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(plan.behavior.latency_ms)).await;
        }
        match plan.fault {
            Some(Fault::StallBeforeHeaders) => {
                // Dropped (with the in-flight guard) when the client hangs up.
                return Err(std::future::pending::<Response>().await);
            }
            Some(Fault::Status {
                status,
                retry_after_secs,
            }) => {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let message = format!("mock upstream injected a {} error", status.as_u16());
                return Err(platform.error(status, &message, retry_after_secs, serial));
            }
            Some(Fault::Refused { status }) => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
                return Err(refused(platform, status));
            }
            _ => {}
        }
        Ok(Exchange {
            platform,
            request: captured,
            plan,
            serial,
            in_flight,
            reset,
        })
    }

    pub(crate) fn body(&self) -> &[u8] {
        &self.request.body
    }

    /// A platform error for a request the mock refuses (bad JSON, missing fields...).
    pub(crate) fn reject(&self, status: StatusCode, message: &str) -> Response {
        self.platform.error(status, message, None, self.serial)
    }

    /// A complete JSON document. A reset or stall fault sends half of it, then fails.
    pub(crate) fn json(self, document: Vec<u8>) -> Response {
        let encoding = self.plan.behavior.encoding();
        let bytes = match encoding {
            Some(encoding) => match StreamEncoder::compress_all(encoding, &document) {
                Ok(bytes) => bytes,
                Err(_) => {
                    return self.reject(StatusCode::INTERNAL_SERVER_ERROR, "compression failed")
                }
            },
            None => Bytes::from(document),
        };
        let declared = Some(bytes.len() as u64);
        let (pieces, ending) = match self.plan.fault {
            Some(Fault::ResetMidStream { .. }) => (half(bytes), Ending::Reset),
            Some(Fault::Stall { .. }) => (half(bytes), Ending::Stall),
            _ => (
                vec![Piece {
                    bytes,
                    delay: Duration::ZERO,
                }],
                Ending::Complete,
            ),
        };
        self.respond(JSON, pieces, ending, None, declared)
    }

    /// A stream of events, each sent as its own flushed chunk.
    pub(crate) fn stream(self, content_type: &'static str, script: StreamScript) -> Response {
        let StreamScript { head, deltas, tail } = script;
        let (kept_deltas, tail, ending) = match self.plan.fault {
            Some(Fault::ResetMidStream { after_chunks }) => {
                (after_chunks, Vec::new(), Ending::Reset)
            }
            Some(Fault::Stall { after_chunks }) => (after_chunks, Vec::new(), Ending::Stall),
            _ => (deltas.len(), tail, Ending::Complete),
        };
        let gap = Duration::from_millis(self.plan.behavior.chunk_gap_ms);
        let mut pieces = Vec::with_capacity(head.len() + deltas.len() + tail.len());
        pieces.extend(head.into_iter().map(immediate));
        pieces.extend(
            deltas
                .into_iter()
                .take(kept_deltas)
                .enumerate()
                .map(|(i, bytes)| Piece {
                    bytes,
                    delay: if i == 0 { Duration::ZERO } else { gap },
                }),
        );
        pieces.extend(tail.into_iter().map(immediate));
        let encoder = match self.plan.behavior.encoding().map(StreamEncoder::new) {
            Some(Ok(encoder)) => Some(encoder),
            Some(Err(_)) => {
                return self.reject(StatusCode::INTERNAL_SERVER_ERROR, "compression failed")
            }
            None => None,
        };
        self.respond(content_type, pieces, ending, encoder, None)
    }

    fn respond(
        self,
        content_type: &'static str,
        pieces: Vec<Piece>,
        ending: Ending,
        encoder: Option<StreamEncoder>,
        declared_len: Option<u64>,
    ) -> Response {
        let encoding = self.plan.behavior.encoding();
        let platform = self.platform;
        let serial = self.serial;
        let body = ScriptedBody::new(
            pieces,
            ending,
            encoder,
            declared_len,
            self.reset,
            self.in_flight,
        );
        let mut response = Body::new(body).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        if content_type == SSE {
            headers.insert("cache-control", HeaderValue::from_static("no-cache"));
        }
        if let Some(encoding) = encoding {
            headers.insert(
                CONTENT_ENCODING,
                HeaderValue::from_static(encoding.header_value()),
            );
        }
        if let Some(name) = platform.request_id_header() {
            insert_request_id(headers, name, serial);
        }
        response
    }
}

fn immediate(bytes: Bytes) -> Piece {
    Piece {
        bytes,
        delay: Duration::ZERO,
    }
}

/// A fault the request itself asks for: a top-level `"mockFault"` member of its JSON body.
fn fault_in_body(body: &[u8]) -> Option<Fault> {
    memchr::memmem::find(body, b"\"mockFault\"")?;
    #[derive(serde::Deserialize)]
    struct Carrier {
        #[serde(rename = "mockFault")]
        mock_fault: Fault,
    }
    serde_json::from_slice::<Carrier>(body)
        .ok()
        .map(|c| c.mock_fault)
}

/// An error that names the request as its cause, in the platform's shape.
fn refused(platform: Platform, status: StatusCode) -> Response {
    let message = "the model is not available to this request (mock refusal)";
    let body = match platform {
        Platform::Anthropic => serde_json::json!({
            "type": "error",
            "error": { "type": "invalid_request_error", "message": message },
        }),
        Platform::OpenAi => serde_json::json!({
            "error": { "message": message, "type": "invalid_request_error", "param": null, "code": "model_not_found" },
        }),
        Platform::Gemini => serde_json::json!({
            "error": { "code": status.as_u16(), "message": message, "status": "NOT_FOUND" },
        }),
    };
    json_response(status, to_json(&body))
}

/// The first half of a document, for faults that cut a non-stream answer short.
fn half(mut bytes: Bytes) -> Vec<Piece> {
    bytes.truncate(bytes.len() / 2);
    vec![immediate(bytes)]
}
