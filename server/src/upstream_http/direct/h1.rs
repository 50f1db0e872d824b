//! HTTP/1.1 on a pooled connection, spoken here rather than by hyper's client connection: the
//! request written in one go, the answer's head parsed with `httparse`, the body framed by
//! [`super::body::H1Body`]. hyper's client connection held, per connection, a request channel
//! (a 32-slot block, ~11 KB), an 8 KB write buffer and its own state (~10 KB more), and took a
//! channel send and a callback per request; this holds the socket and one read buffer, which an
//! idle connection lets go of.
//!
//! Only what the relay sends: a `POST` with its whole body, so an answer always has a body
//! framed by `Content-Length`, chunked coding or the connection's end (never `HEAD`'s rules).

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue, CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, Request, Response, StatusCode, Version};
use hyper_rustls::MaybeHttpsStream;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWrite;

use super::super::connect::Stream;
use crate::upstream_http::UpstreamError;

/// Room made in the read buffer when it has less than [`MIN_ROOM`] left: a typical answer's
/// head and JSON body, or several streamed events (hyper read into 8 KB).
const READ_SIZE: usize = 4 * 1024;
const MIN_ROOM: usize = 1024;
/// The largest answer head read (hyper's client allowed ~400 KB of buffer; real heads are a
/// few KB).
const MAX_HEAD: usize = 64 * 1024;
/// Header lines in an answer head (hyper's default limit).
const MAX_HEADERS: usize = 100;
/// Interim (`1xx`) answers taken before the answer.
const MAX_INTERIM: usize = 8;

/// A connection: the socket, and what has been read from it and not yet consumed.
pub(super) struct H1 {
    io: TokioIo<Stream>,
    pub(super) buf: BytesMut,
    tls: bool,
    /// The `Host` header for requests on it, built once.
    host: Option<HeaderValue>,
}

/// Why an exchange failed: `Unsent` when none of the request can have reached the upstream.
pub(super) enum SendError {
    Unsent,
    Failed(UpstreamError),
}

/// What is left of the request to write.
struct Outgoing<'a> {
    head: &'a [u8],
    body: &'a [u8],
    /// Some of it has been written.
    written: bool,
    flushed: bool,
    /// The write failed after some of it had gone; the rest is never sent.
    broken: Option<io::Error>,
}

/// How an answer's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// `204` and `304`: no body.
    Empty,
    Length(u64),
    Chunked,
    /// At the connection's end (no length; or a transfer coding other than chunked last).
    Close,
}

/// An answer's head: its parts, how its body ends, and whether the connection can carry another
/// exchange after it.
pub(super) struct Head {
    pub(super) parts: http::response::Parts,
    pub(super) framing: Framing,
    pub(super) reusable: bool,
}

impl H1 {
    pub(super) fn new(io: Stream, host: Option<HeaderValue>) -> Self {
        H1 {
            host,
            tls: matches!(io, MaybeHttpsStream::Https(_)),
            io: TokioIo::new(io),
            buf: BytesMut::new(),
        }
    }

    /// Reads what the socket has into the buffer: `Ok(0)` at the connection's end.
    pub(super) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < MIN_ROOM {
            self.buf.reserve(READ_SIZE);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.buf)
    }

    /// Whether the connection is open and quiet, polled once without waiting: its close, an
    /// error, or bytes no request asked for all make it unusable. Outside tokio's budget, which
    /// once spent would answer "not ready" without looking at the socket.
    pub(super) async fn quiet(&mut self) -> bool {
        let look = poll_fn(|cx| Poll::Ready(self.poll_fill(cx).is_pending()));
        tokio::task::unconstrained(look).await && self.buf.is_empty()
    }

    pub(super) fn host(&self) -> Option<&HeaderValue> {
        self.host.as_ref()
    }

    /// An idle connection keeps no buffer.
    pub(super) fn shed(&mut self) {
        self.buf = BytesMut::new();
    }

    /// Writes the request and reads the answer's head (skipping interim `1xx` answers). The head
    /// is read while the request is still being written, as hyper did: an upstream that answers
    /// early (a `413` for a body too large) and stops reading gets its answer relayed, also when
    /// it then resets the connection under the write, and the connection, with the rest of the
    /// request never sent, is not used again.
    pub(super) async fn exchange(&mut self, head: &[u8], body: &[u8]) -> Result<Head, SendError> {
        let mut out = Outgoing {
            head,
            body,
            written: false,
            flushed: false,
            broken: None,
        };
        let mut interim = 0;
        poll_fn(|cx| self.poll_exchange(cx, &mut out, &mut interim)).await
    }

    fn poll_exchange(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut Outgoing<'_>,
        interim: &mut usize,
    ) -> Poll<Result<Head, SendError>> {
        if out.broken.is_none() {
            if let Err(e) = self.poll_send(cx, out) {
                if !out.written {
                    return Poll::Ready(Err(self.failed(out, UpstreamError::boxed(e))));
                }
                // An answer sent before the upstream stopped reading is still read (TCP keeps
                // what arrived before a reset); the write's error stands if there is none.
                out.broken = Some(e);
            }
        }
        loop {
            match self.parse_head(interim) {
                Ok(Some(mut head)) => {
                    head.reusable &= out.flushed;
                    return Poll::Ready(Ok(head));
                }
                Ok(None) => {}
                Err(e) => return Poll::Ready(Err(SendError::Failed(e))),
            }
            if self.buf.len() >= MAX_HEAD {
                let e = UpstreamError::msg("the upstream's answer head is too large");
                return Poll::Ready(Err(SendError::Failed(e)));
            }
            let filled = self.poll_fill(cx);
            if let (Some(e), Poll::Pending | Poll::Ready(Ok(0) | Err(_))) = (&out.broken, &filled) {
                let e = UpstreamError::msg(format!("writing the request failed: {e}"));
                return Poll::Ready(Err(SendError::Failed(e)));
            }
            match ready!(filled) {
                Ok(0) => {
                    let e = UpstreamError::msg(if self.buf.is_empty() {
                        "the upstream closed the connection without answering"
                    } else {
                        "the upstream closed the connection in the middle of the answer's head"
                    });
                    return Poll::Ready(Err(self.failed(out, e)));
                }
                Ok(_) => {}
                Err(e) => return Poll::Ready(Err(self.failed(out, UpstreamError::boxed(e)))),
            }
        }
    }

    /// A failure before the head: the request comes back only if none of it can have left.
    /// Over TLS rustls may have put records on the wire before a later write of the same call
    /// failed, so there it never comes back.
    fn failed(&self, out: &Outgoing<'_>, e: UpstreamError) -> SendError {
        if out.written || self.tls {
            SendError::Failed(e)
        } else {
            SendError::Unsent
        }
    }

    /// Writes what the socket takes now, and flushes once all of it is written.
    fn poll_send(&mut self, cx: &mut Context<'_>, out: &mut Outgoing<'_>) -> io::Result<()> {
        while !out.head.is_empty() || !out.body.is_empty() {
            let slices = [IoSlice::new(out.head), IoSlice::new(out.body)];
            let n = match Pin::new(&mut self.io).poll_write_vectored(cx, &slices) {
                Poll::Ready(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => return Ok(()),
            };
            out.written = true;
            let from_head = n.min(out.head.len());
            out.head = &out.head[from_head..];
            out.body = &out.body[n - from_head..];
        }
        if !out.flushed {
            if let Poll::Ready(done) = Pin::new(&mut self.io).poll_flush(cx) {
                done?;
                out.flushed = true;
            }
        }
        Ok(())
    }

    /// The head at the start of the buffer, consumed; `None` while it is incomplete.
    fn parse_head(&mut self, interim: &mut usize) -> Result<Option<Head>, UpstreamError> {
        loop {
            let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut answer = httparse::Response::new(&mut slots);
            let len = match answer.parse(&self.buf) {
                Ok(httparse::Status::Complete(len)) => len,
                Ok(httparse::Status::Partial) => return Ok(None),
                Err(e) => {
                    return Err(UpstreamError::msg(format!(
                        "the upstream's answer is not valid HTTP/1.1: {e}"
                    )))
                }
            };
            let status = StatusCode::from_u16(answer.code.unwrap_or(0))
                .map_err(|_| UpstreamError::msg("the upstream's answer has an invalid status"))?;
            if status.is_informational() {
                if status == StatusCode::SWITCHING_PROTOCOLS {
                    return Err(UpstreamError::msg(
                        "the upstream switched protocols, which the relay never asks for",
                    ));
                }
                *interim += 1;
                if *interim > MAX_INTERIM {
                    return Err(UpstreamError::msg(
                        "the upstream sent too many interim answers",
                    ));
                }
                self.buf.advance(len);
                continue;
            }
            let version = match answer.version {
                Some(0) => Version::HTTP_10,
                _ => Version::HTTP_11,
            };
            let mut headers = HeaderMap::with_capacity(answer.headers.len());
            for h in answer.headers.iter() {
                let name = HeaderName::from_bytes(h.name.as_bytes());
                let value = HeaderValue::from_bytes(h.value);
                match (name, value) {
                    (Ok(name), Ok(value)) => headers.append(name, value),
                    _ => {
                        return Err(UpstreamError::msg(
                            "the upstream's answer has an invalid header",
                        ))
                    }
                };
            }
            self.buf.advance(len);
            let framing = framing(status, &headers)?;
            // After a message framed two ways the connection is not trusted again (RFC 9112
            // §6.3), nor after one ended by the close.
            let reusable = version == Version::HTTP_11
                && !has_token(&headers, &CONNECTION, "close")
                && framing != Framing::Close
                && !(headers.contains_key(TRANSFER_ENCODING)
                    && headers.contains_key(CONTENT_LENGTH));
            let mut answer = Response::new(());
            *answer.status_mut() = status;
            *answer.version_mut() = version;
            *answer.headers_mut() = headers;
            let (parts, ()) = answer.into_parts();
            return Ok(Some(Head {
                parts,
                framing,
                reusable,
            }));
        }
    }
}

/// How the body of an answer to a `POST` ends (RFC 9112 §6.3).
fn framing(status: StatusCode, headers: &HeaderMap) -> Result<Framing, UpstreamError> {
    if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        return Ok(Framing::Empty);
    }
    if headers.contains_key(TRANSFER_ENCODING) {
        let mut codings = Vec::new();
        for value in headers.get_all(TRANSFER_ENCODING) {
            let value = value.to_str().map_err(|_| {
                UpstreamError::msg("the upstream's answer has an invalid transfer coding")
            })?;
            codings.extend(value.split(',').map(str::trim));
        }
        let last = codings.into_iter().rfind(|c| !c.is_empty());
        return Ok(match last {
            Some(c) if c.eq_ignore_ascii_case("chunked") => Framing::Chunked,
            _ => Framing::Close,
        });
    }
    let mut length = None;
    for value in headers.get_all(CONTENT_LENGTH) {
        for part in value.as_bytes().split(|&b| b == b',') {
            let part = part.trim_ascii();
            let n = std::str::from_utf8(part)
                .ok()
                .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|p| p.parse::<u64>().ok())
                .ok_or_else(|| UpstreamError::msg("the upstream's answer has an invalid length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(UpstreamError::msg(
                    "the upstream's answer declares two different lengths",
                ));
            }
            length = Some(n);
        }
    }
    Ok(length.map_or(Framing::Close, Framing::Length))
}

/// Whether a comma-separated header names `token`; a value that is not text counts as naming
/// it (for `Connection: close`, the safe reading).
fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| match v.to_str() {
        Ok(v) => v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)),
        Err(_) => true,
    })
}

/// The request's head in origin form, with `Host` (from `host` unless the request names one)
/// and the body's length; the caller's own framing headers are not sent.
pub(super) fn encode_head(req: &Request<Bytes>, host: Option<&HeaderValue>) -> Vec<u8> {
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut out = Vec::with_capacity(256 + 48 * req.headers().len());
    out.extend_from_slice(req.method().as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if let (false, Some(host)) = (req.headers().contains_key(HOST), host) {
        line(&mut out, b"host", host.as_bytes());
    }
    for (name, value) in req.headers() {
        if matches!(*name, CONTENT_LENGTH | TRANSFER_ENCODING | CONNECTION) {
            continue;
        }
        line(&mut out, name.as_str().as_bytes(), value.as_bytes());
    }
    let length = req.body().len().to_string();
    line(&mut out, b"content-length", length.as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

fn line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests;
