//! The metered response body: upstream bytes go to the client unchanged, chunk by chunk, while
//! usage is read on the side, time to first token is taken, idle upstreams are timed out, and a
//! shutdown past its grace period can cut the stream. Whatever ends the stream — completion,
//! an upstream error, an idle timeout, the cut, or the client going away (the body is dropped)
//! — the accounting hook runs exactly once.
//!
//! Accounting runs as soon as the answer is known complete — its declared length reached, or
//! its terminal event read (`message_stop`, `[DONE]`, `response.completed`, Gemini's last
//! chunk) — before that chunk is handed on, so a client that sends its next request the moment
//! it has read the last byte finds its slot free. Bytes after that point still pass through.

use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::upstream_http::BodyStream;
use bytes::Bytes;
use futures::{Future, Stream};
use tokio::time::Sleep;
use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::relay::platforms::usage_parse::{ParsedUsage, UsageParser};

/// How a response body ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyEnd {
    Completed,
    UpstreamError(String),
    IdleTimeout,
    ClientGone,
    /// Cut by shutdown after the grace period.
    Cut,
}

/// Runs once when a body ends, with what was read from it.
pub trait Finish: Send + 'static {
    fn finish(self: Box<Self>, end: BodyEnd, parsed: ParsedUsage, first_byte: Option<Duration>);
}

/// Streaming decompression of a compressed upstream answer, for reading usage only.
enum Decoder {
    Gzip(flate2::write::GzDecoder<Vec<u8>>),
    Deflate(flate2::write::ZlibDecoder<Vec<u8>>),
    Brotli(Box<brotli::DecompressorWriter<Vec<u8>>>),
    Zstd(zstd::stream::write::Decoder<'static, Vec<u8>>),
}

impl Decoder {
    fn for_encoding(encoding: &str) -> Option<Decoder> {
        match encoding.trim().to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Some(Decoder::Gzip(flate2::write::GzDecoder::new(Vec::new()))),
            "deflate" => Some(Decoder::Deflate(
                flate2::write::ZlibDecoder::new(Vec::new()),
            )),
            "br" => Some(Decoder::Brotli(Box::new(brotli::DecompressorWriter::new(
                Vec::new(),
                4096,
            )))),
            "zstd" => zstd::stream::write::Decoder::new(Vec::new())
                .ok()
                .map(Decoder::Zstd),
            _ => None,
        }
    }

    /// Decompresses a chunk; returns what became available.
    fn feed(&mut self, chunk: &[u8]) -> std::io::Result<Vec<u8>> {
        fn run<W: Write>(
            w: &mut W,
            chunk: &[u8],
            out: impl FnOnce(&mut W) -> &mut Vec<u8>,
        ) -> std::io::Result<Vec<u8>> {
            w.write_all(chunk)?;
            w.flush()?;
            Ok(std::mem::take(out(w)))
        }
        match self {
            Decoder::Gzip(d) => run(d, chunk, |d| d.get_mut()),
            Decoder::Deflate(d) => run(d, chunk, |d| d.get_mut()),
            Decoder::Brotli(d) => run(d.as_mut(), chunk, |d| d.get_mut()),
            Decoder::Zstd(d) => run(d, chunk, |d| d.get_mut()),
        }
    }
}

struct Meter {
    parser: Box<dyn UsageParser>,
    decoder: Option<Decoder>,
    finish: Box<dyn Finish>,
    started: Instant,
    first_byte: Option<Duration>,
}

pub struct MeteredBody {
    upstream: BodyStream,
    meter: Option<Meter>,
    /// The `Content-Length` passed to the client: hyper stops polling once that many bytes went
    /// out, so reaching it is how a fixed-length answer ends.
    remaining: Option<u64>,
    idle: Pin<Box<Sleep>>,
    idle_timeout: Duration,
    cut: Pin<Box<WaitForCancellationFutureOwned>>,
    /// The upstream body has ended (or failed): nothing more to pass on.
    done: bool,
}

impl MeteredBody {
    /// `content_encoding` is the upstream's `Content-Encoding`, if the upstream compressed.
    pub fn new(
        upstream: BodyStream,
        parser: Box<dyn UsageParser>,
        content_encoding: Option<&str>,
        finish: Box<dyn Finish>,
        started: Instant,
        idle_timeout: Duration,
        cut: WaitForCancellationFutureOwned,
    ) -> Self {
        let decoder = content_encoding.and_then(Decoder::for_encoding);
        if content_encoding.is_some_and(|e| !e.eq_ignore_ascii_case("identity"))
            && decoder.is_none()
        {
            tracing::warn!(encoding = ?content_encoding, "unknown content-encoding; usage cannot be read");
        }
        MeteredBody {
            upstream,
            meter: Some(Meter {
                parser,
                decoder,
                finish,
                started,
                first_byte: None,
            }),
            remaining: None,
            idle: Box::pin(tokio::time::sleep(idle_timeout)),
            idle_timeout,
            cut: Box::pin(cut),
            done: false,
        }
    }

    pub fn with_declared_length(mut self, length: Option<u64>) -> Self {
        self.remaining = length;
        self
    }

    fn end(&mut self, how: BodyEnd) {
        if let Some(mut m) = self.meter.take() {
            let parsed = m.parser.finish();
            m.finish.finish(how, parsed, m.first_byte);
        }
    }
}

impl Stream for MeteredBody {
    type Item = std::io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if this.meter.is_some() && this.cut.as_mut().poll(cx).is_ready() {
            this.done = true;
            this.end(BodyEnd::Cut);
            return Poll::Ready(Some(Err(std::io::Error::other("relay shutting down"))));
        }
        match this.upstream.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(bytes))) => {
                let mut complete = false;
                if let Some(m) = this.meter.as_mut() {
                    if m.first_byte.is_none() {
                        m.first_byte = Some(m.started.elapsed());
                    }
                    match m.decoder.as_mut() {
                        Some(d) => match d.feed(&bytes) {
                            Ok(plain) => m.parser.feed(&plain),
                            Err(e) => {
                                tracing::warn!(error = %e, "cannot decompress the upstream answer; usage unread");
                                m.decoder = None;
                            }
                        },
                        None => m.parser.feed(&bytes),
                    }
                    complete = m.parser.terminal();
                }
                let deadline = tokio::time::Instant::now() + this.idle_timeout;
                this.idle.as_mut().reset(deadline);
                if let Some(left) = this.remaining.as_mut() {
                    *left = left.saturating_sub(bytes.len() as u64);
                    complete |= *left == 0;
                }
                if complete {
                    this.end(BodyEnd::Completed);
                }
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.done = true;
                let msg = format!("upstream stream failed: {e}");
                if this.meter.is_none() {
                    // Settled already: what is missing is framing after the terminal event.
                    return Poll::Ready(None);
                }
                this.end(BodyEnd::UpstreamError(msg.clone()));
                Poll::Ready(Some(Err(std::io::Error::other(msg))))
            }
            Poll::Ready(None) => {
                this.done = true;
                this.end(BodyEnd::Completed);
                Poll::Ready(None)
            }
            Poll::Pending => {
                if this.idle.as_mut().poll(cx).is_ready() {
                    this.done = true;
                    if this.meter.is_none() {
                        return Poll::Ready(None);
                    }
                    this.end(BodyEnd::IdleTimeout);
                    return Poll::Ready(Some(Err(std::io::Error::other("upstream went silent"))));
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for MeteredBody {
    fn drop(&mut self) {
        // The client went away (or the connection was torn down) before the end.
        self.end(BodyEnd::ClientGone);
    }
}

#[cfg(test)]
mod tests;
