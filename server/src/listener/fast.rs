//! HTTP/1.1 spoken by the listener itself for the relay's hot routes ([`Hot`]), as the relay's
//! upstream client already speaks it: hyper's server connection cost a request about 15k of the
//! connection task's ~96k instructions (its dispatcher's state machine, a body channel to the
//! handler, its header map built then written back).
//!
//! Only what is unambiguous is served here: an HTTP/1.1 `POST` to a hot route's exact path, its
//! body framed by one `Content-Length` of at most [`super::parse::MAX_BODY`] bytes, with no
//! `Transfer-Encoding`, `Expect` or `Upgrade`, and a `Connection` header, if any, of
//! `keep-alive`/`close` only. Anything else (a parse error, HTTP/1.0, HTTP/2's preface, another
//! route, a body not all there by the header timeout) hands the connection, with every byte read
//! from it put back, to hyper for the rest of its life, so framing is only ever decided one way
//! per connection and a request this code would read differently from hyper never reaches it
//! (request smuggling needs two readers that disagree).
//!
//! What it keeps of hyper's server: `HTTP_HEADER_TIMEOUT_SECS` from the start of every wait for
//! a request's head; a request whose client closes the connection before its answer is done is
//! dropped (its guards settle it as a disconnect), bytes pipelined meanwhile are kept for the
//! next request (and, as hyper did, stop the watch for a close); answers are framed by length
//! when known and chunked otherwise, with `date`; on shutdown an idle connection closes and a
//! busy one closes after its answer.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::{Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Uri};
use http_body::Body as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::parse::{parse, Parse, Spans, H2_PREFACE};
use super::write::{self, Framing};
use crate::relay::{serve_hot, Hot, Relay};

/// Room made in the read buffer when it has less than [`MIN_ROOM`] left.
const READ_SIZE: usize = 4 * 1024;
const MIN_ROOM: usize = 1024;
/// Buffered answer bytes written out once this many have gathered.
const FLUSH_AT: usize = 16 * 1024;

/// How a connection served here ended.
pub(super) enum End {
    Closed,
    /// Hyper's from here on: the socket, the bytes already read from it, and whether a request
    /// was served here before (then only HTTP/1.1 may follow, as in hyper's own connection).
    Hyper(TcpStream, Bytes, bool),
}

/// What [`Conn::run`] stopped for.
enum Exit {
    Closed,
    Hyper,
}

/// The next request in the buffer, or what is missing for one.
enum Step {
    Partial,
    Other,
    /// The head is complete; the buffer needs this many bytes for the body too.
    Body(usize),
    Ready(Box<Request<Body>>, (Hot, &'static str), bool),
}

struct Conn {
    io: TcpStream,
    buf: BytesMut,
    out: Vec<u8>,
    peer: SocketAddr,
    served: bool,
}

/// Serves `io` until it closes, or until a request this code does not serve hands it to hyper.
pub(super) async fn serve(
    io: TcpStream,
    peer: SocketAddr,
    relay: Arc<Relay>,
    header_timeout: Duration,
    stop: &CancellationToken,
) -> End {
    let mut conn = Conn {
        io,
        buf: BytesMut::new(),
        out: Vec::new(),
        peer,
        served: false,
    };
    let idle = AtomicBool::new(true);
    let stopping = AtomicBool::new(false);
    let exit = {
        let mut run = pin!(conn.run(&relay, header_timeout, &idle, &stopping));
        tokio::select! {
            biased;
            exit = &mut run => exit,
            () = stop.cancelled() => {
                stopping.store(true, Ordering::Relaxed);
                if idle.load(Ordering::Relaxed) {
                    Exit::Closed
                } else {
                    run.await
                }
            }
        }
    };
    match exit {
        Exit::Closed => End::Closed,
        Exit::Hyper => End::Hyper(conn.io, conn.buf.freeze(), conn.served),
    }
}

impl Conn {
    async fn run(
        &mut self,
        relay: &Arc<Relay>,
        header_timeout: Duration,
        idle: &AtomicBool,
        stopping: &AtomicBool,
    ) -> Exit {
        let mut deadline = pin!(tokio::time::sleep(header_timeout));
        loop {
            idle.store(true, Ordering::Relaxed);
            deadline.as_mut().reset(Instant::now() + header_timeout);
            let (req, hot, close) = loop {
                let wanted = match self.step() {
                    Step::Ready(req, hot, close) => break (req, hot, close),
                    // HTTP/2 after HTTP/1.1: refused as hyper's HTTP/1.1 refuses it (without
                    // an answer), but closed now; hyper's connection sat on it past the
                    // header timeout.
                    Step::Other if self.served && self.buf.starts_with(H2_PREFACE) => {
                        return Exit::Closed;
                    }
                    Step::Other => return Exit::Hyper,
                    Step::Partial => None,
                    Step::Body(need) => Some(need),
                };
                // Wait for the rest of the head (closed at the header timeout), or of a small
                // body (hyper's at the timeout, which gives the handler its body timeout).
                // The buffer is not parsed again until a body has all arrived.
                loop {
                    match wanted {
                        Some(need) => self.buf.reserve(need - self.buf.len()),
                        None => self.reserve(),
                    }
                    tokio::select! {
                        biased;
                        read = self.io.read_buf(&mut self.buf) => match read {
                            Ok(n) if n > 0 => idle.store(false, Ordering::Relaxed),
                            _ => return Exit::Closed,
                        },
                        () = deadline.as_mut() => {
                            if wanted.is_some() {
                                return Exit::Hyper;
                            }
                            tracing::debug!("read header from client timeout");
                            return Exit::Closed;
                        }
                    }
                    if wanted.is_none_or(|need| self.buf.len() >= need) {
                        break;
                    }
                }
            };
            idle.store(false, Ordering::Relaxed);
            let res = {
                let handler = serve_hot(relay.clone(), hot, *req);
                tokio::select! {
                    biased;
                    res = handler => res,
                    () = gone(&mut self.io, &mut self.buf) => return Exit::Closed,
                }
            };
            self.served = true;
            let close = close || stopping.load(Ordering::Relaxed);
            match self.respond(res, close).await {
                Ok(true) if !stopping.load(Ordering::Relaxed) => {}
                _ => return Exit::Closed,
            }
        }
    }

    fn reserve(&mut self) {
        if self.buf.capacity() - self.buf.len() < MIN_ROOM {
            self.buf.reserve(READ_SIZE);
        }
    }

    /// The next request in the buffer, or what is missing for one.
    fn step(&mut self) -> Step {
        let mut spans = Spans::new();
        let (head_len, body_len, hot, close) = match parse(&self.buf, &mut spans) {
            Parse::Partial => return Step::Partial,
            Parse::Other => return Step::Other,
            Parse::Body(need) => return Step::Body(need),
            Parse::Serve {
                head_len,
                body_len,
                hot,
                close,
            } => (head_len, body_len, hot, close),
        };
        let mut head = self.buf.split_to(head_len + body_len).freeze();
        let body = head.split_off(head_len);
        let Ok(uri) = Uri::from_maybe_shared(head.slice(spans.target.0..spans.target.1)) else {
            return self.put_back(head, body);
        };
        let mut headers = HeaderMap::with_capacity(spans.count);
        for &(n0, n1, v0, v1) in &spans.headers[..spans.count] {
            let name = HeaderName::from_bytes(&head[n0 as usize..n1 as usize]);
            let value = HeaderValue::from_maybe_shared(head.slice(v0 as usize..v1 as usize));
            match (name, value) {
                (Ok(name), Ok(value)) => {
                    headers.append(name, value);
                }
                _ => return self.put_back(head, body),
            }
        }
        let mut req = Request::new(Body::from(body));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = uri;
        *req.headers_mut() = headers;
        req.extensions_mut().insert(ConnectInfo(self.peer));
        Step::Ready(Box::new(req), hot, close)
    }

    /// A request taken from the buffer after all: back in front of the rest, for hyper.
    fn put_back(&mut self, head: Bytes, body: Bytes) -> Step {
        let mut all = BytesMut::with_capacity(head.len() + body.len() + self.buf.len());
        all.extend_from_slice(&head);
        all.extend_from_slice(&body);
        all.extend_from_slice(&self.buf);
        self.buf = all;
        Step::Other
    }

    /// Writes `res`; `Ok(true)` when the connection can carry another request.
    async fn respond(&mut self, res: axum::response::Response, close: bool) -> io::Result<bool> {
        let (parts, body) = res.into_parts();
        let (framing, close) = write::head(&mut self.out, &parts, body.size_hint().exact(), close);
        drop(parts);
        let mut body = pin!(body);
        let mut left = match framing {
            Framing::Length(n) => n,
            _ => 0,
        };
        // As hyper: a body is dropped once its length is written or it says it has ended.
        let mut more = framing == Framing::Chunked || left > 0;
        while more {
            let polled = poll_fn(|cx| Poll::Ready(body.as_mut().poll_frame(cx))).await;
            let frame = match polled {
                Poll::Ready(frame) => frame,
                Poll::Pending => {
                    self.flush().await?;
                    tokio::select! {
                        biased;
                        frame = poll_fn(|cx| body.as_mut().poll_frame(cx)) => frame,
                        () = gone(&mut self.io, &mut self.buf) => {
                            return Err(io::ErrorKind::ConnectionReset.into());
                        }
                    }
                }
            };
            let data = match frame {
                None => break,
                Some(Err(e)) => return Err(io::Error::other(e)),
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => data,
                    Err(_) => continue,
                },
            };
            more = !body.is_end_stream();
            if framing == Framing::Chunked {
                if !data.is_empty() {
                    write::chunk_head(&mut self.out, data.len());
                    self.put(&data).await?;
                    self.out.extend_from_slice(b"\r\n");
                }
                continue;
            }
            left = left
                .checked_sub(data.len() as u64)
                .ok_or_else(|| io::Error::other("body longer than its content-length"))?;
            more &= left > 0;
            self.put(&data).await?;
        }
        match framing {
            Framing::Chunked => self.out.extend_from_slice(write::LAST_CHUNK),
            Framing::Length(_) if left != 0 => {
                // Ended short of its length: the client sees the connection end instead.
                self.flush().await?;
                return Ok(false);
            }
            _ => {}
        }
        self.flush().await?;
        Ok(!close)
    }

    /// Adds `data` to what is to be written: copied when small, written as it is when large.
    async fn put(&mut self, data: &[u8]) -> io::Result<()> {
        if data.len() < FLUSH_AT {
            self.out.extend_from_slice(data);
            if self.out.len() >= FLUSH_AT {
                self.flush().await?;
            }
            return Ok(());
        }
        self.flush().await?;
        self.write(data).await
    }

    async fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        let written = self.write(&out).await;
        self.out = out;
        self.out.clear();
        if self.out.capacity() > 4 * FLUSH_AT {
            self.out = Vec::new();
        }
        written
    }

    /// Writes `data`, watching for the client's close meanwhile (as hyper did while a write
    /// waited): one that half-closes and never reads does not hold the answer open.
    async fn write(&mut self, data: &[u8]) -> io::Result<()> {
        let (mut read, mut write) = self.io.split();
        tokio::select! {
            biased;
            written = write.write_all(data) => written,
            () = gone(&mut read, &mut self.buf) => Err(io::ErrorKind::ConnectionReset.into()),
        }
    }
}

/// Resolves when the client closes (or breaks) the connection. Bytes it sends meanwhile (a
/// pipelined request) are kept for later; once there are any it stops looking, as hyper did.
async fn gone(io: &mut (impl AsyncRead + Unpin), buf: &mut BytesMut) {
    loop {
        if !buf.is_empty() {
            return std::future::pending().await;
        }
        buf.reserve(MIN_ROOM);
        match io.read_buf(buf).await {
            Ok(n) if n > 0 => {}
            _ => return,
        }
    }
}
