//! The response body every mock answer is sent through: a scripted list of pieces (one SSE
//! event each, or a whole JSON document) written as separate flushed chunks, optionally
//! spaced out, compressed, cut short by a reset or a stall, and counted as in flight until
//! it is finished or dropped.

use std::future::Future;
use std::io::{self, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::behavior::Encoding;

/// Holds one unit of the in-flight count for as long as it lives.
pub(crate) struct InFlightGuard(Arc<AtomicUsize>);

impl InFlightGuard {
    /// Counts one more request in flight and raises `peak` to the count if it is higher.
    pub(crate) fn new(counter: &Arc<AtomicUsize>, peak: &AtomicUsize) -> InFlightGuard {
        let now = counter.fetch_add(1, Ordering::AcqRel) + 1;
        peak.fetch_max(now, Ordering::AcqRel);
        InFlightGuard(Arc::clone(counter))
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Shared with the connection's socket: once tripped, closing the socket sends a TCP RST.
#[derive(Clone, Default, Debug)]
pub(crate) struct ResetSwitch(Arc<AtomicBool>);

impl ResetSwitch {
    pub(crate) fn trip(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub(crate) fn is_tripped(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// One chunk of the body and how long to wait before sending it.
pub(crate) struct Piece {
    pub bytes: Bytes,
    pub delay: Duration,
}

/// How the body ends after its last piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    Complete,
    /// Abort the connection without a clean end of body.
    Reset,
    /// Never send anything again.
    Stall,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Pieces,
    Ending,
    Done,
}

pub(crate) struct ScriptedBody {
    pieces: Vec<Piece>,
    next: usize,
    phase: Phase,
    ending: Ending,
    encoder: Option<StreamEncoder>,
    /// Reused across gaps so a spaced-out stream allocates one timer, not one per event.
    sleep: Option<Pin<Box<Sleep>>>,
    sleep_armed: bool,
    /// Whether hyper got a `Pending` since the last frame, i.e. had the chance to flush it.
    flushed: bool,
    declared_len: Option<u64>,
    reset: Option<ResetSwitch>,
    _in_flight: InFlightGuard,
}

impl ScriptedBody {
    pub(crate) fn new(
        pieces: Vec<Piece>,
        ending: Ending,
        encoder: Option<StreamEncoder>,
        declared_len: Option<u64>,
        reset: Option<ResetSwitch>,
        in_flight: InFlightGuard,
    ) -> ScriptedBody {
        ScriptedBody {
            pieces,
            next: 0,
            phase: Phase::Pieces,
            ending,
            encoder,
            sleep: None,
            sleep_armed: false,
            flushed: true,
            declared_len,
            reset,
            _in_flight: in_flight,
        }
    }

    /// Waits out `delay` on the reused timer; `Ready` once it has elapsed.
    fn poll_delay(&mut self, delay: Duration, cx: &mut Context<'_>) -> Poll<()> {
        if !self.sleep_armed {
            let deadline = Instant::now() + delay;
            match &mut self.sleep {
                Some(sleep) => sleep.as_mut().reset(deadline),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.sleep_armed = true;
        }
        match &mut self.sleep {
            Some(sleep) => {
                let ready = sleep.as_mut().poll(cx);
                if ready.is_ready() {
                    self.sleep_armed = false;
                }
                ready
            }
            None => Poll::Ready(()),
        }
    }

    /// Returns `Pending` once (waking itself at once) so hyper flushes what it buffered
    /// before the next piece: each event leaves in its own write.
    fn poll_flush_point(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.flushed {
            return Poll::Ready(());
        }
        self.flushed = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn poll_next_piece(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        let Some(delay) = self.pieces.get(self.next).map(|p| p.delay) else {
            self.phase = Phase::Ending;
            return Poll::Ready(None);
        };
        if !delay.is_zero() {
            if self.poll_delay(delay, cx).is_pending() {
                self.flushed = true;
                return Poll::Pending;
            }
        } else if self.poll_flush_point(cx).is_pending() {
            return Poll::Pending;
        }
        let raw = std::mem::take(&mut self.pieces[self.next].bytes);
        self.next += 1;
        let bytes = match &mut self.encoder {
            Some(encoder) => match encoder.encode_flushed(&raw) {
                Ok(bytes) => bytes,
                Err(e) => return Poll::Ready(Some(Err(e))),
            },
            None => raw,
        };
        self.flushed = false;
        Poll::Ready(Some(Ok(bytes)))
    }

    fn poll_ending(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        match self.ending {
            Ending::Complete => {
                self.phase = Phase::Done;
                match self.encoder.take().map(StreamEncoder::finish) {
                    Some(Ok(trailer)) if !trailer.is_empty() => Poll::Ready(Some(Ok(trailer))),
                    Some(Err(e)) => Poll::Ready(Some(Err(e))),
                    _ => Poll::Ready(None),
                }
            }
            Ending::Reset => {
                // The pieces already produced must reach the wire before the connection dies.
                if self.poll_flush_point(cx).is_pending() {
                    return Poll::Pending;
                }
                self.phase = Phase::Done;
                if let Some(reset) = &self.reset {
                    reset.trip();
                }
                Poll::Ready(Some(Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "mock upstream reset the connection mid-body",
                ))))
            }
            // No waker is registered: only the client going away ends this body.
            Ending::Stall => Poll::Pending,
        }
    }
}

impl Body for ScriptedBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            let step = match this.phase {
                Phase::Pieces => this.poll_next_piece(cx),
                Phase::Ending => this.poll_ending(cx),
                Phase::Done => return Poll::Ready(None),
            };
            match step {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(bytes))) if bytes.is_empty() => continue,
                Poll::Ready(Some(Ok(bytes))) => return Poll::Ready(Some(Ok(Frame::data(bytes)))),
                Poll::Ready(Some(Err(e))) => {
                    this.phase = Phase::Done;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => continue,
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.phase == Phase::Done
    }

    fn size_hint(&self) -> SizeHint {
        match self.declared_len {
            Some(len) => SizeHint::with_exact(len),
            None => SizeHint::default(),
        }
    }
}

/// Incremental compressor whose output is complete up to each flushed piece, so a client
/// decoding on the fly sees every event when it arrives.
pub(crate) enum StreamEncoder {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Deflate(flate2::write::ZlibEncoder<Vec<u8>>),
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl StreamEncoder {
    pub(crate) fn new(encoding: Encoding) -> io::Result<StreamEncoder> {
        let level = flate2::Compression::fast();
        Ok(match encoding {
            Encoding::Gzip => StreamEncoder::Gzip(flate2::write::GzEncoder::new(Vec::new(), level)),
            Encoding::Deflate => {
                StreamEncoder::Deflate(flate2::write::ZlibEncoder::new(Vec::new(), level))
            }
            Encoding::Brotli => StreamEncoder::Brotli(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                4096,
                5,
                22,
            ))),
            Encoding::Zstd => {
                StreamEncoder::Zstd(zstd::stream::write::Encoder::new(Vec::new(), 3)?)
            }
        })
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            StreamEncoder::Gzip(w) => w,
            StreamEncoder::Deflate(w) => w,
            StreamEncoder::Brotli(w) => w.as_mut(),
            StreamEncoder::Zstd(w) => w,
        }
    }

    fn output(&mut self) -> &mut Vec<u8> {
        match self {
            StreamEncoder::Gzip(w) => w.get_mut(),
            StreamEncoder::Deflate(w) => w.get_mut(),
            StreamEncoder::Brotli(w) => w.get_mut(),
            StreamEncoder::Zstd(w) => w.get_mut(),
        }
    }

    pub(crate) fn encode_flushed(&mut self, data: &[u8]) -> io::Result<Bytes> {
        let writer = self.writer();
        writer.write_all(data)?;
        writer.flush()?;
        Ok(Bytes::from(std::mem::take(self.output())))
    }

    /// The end-of-stream bytes (gzip trailer, final brotli/zstd block).
    pub(crate) fn finish(self) -> io::Result<Bytes> {
        let rest = match self {
            StreamEncoder::Gzip(w) => w.finish()?,
            StreamEncoder::Deflate(w) => w.finish()?,
            StreamEncoder::Brotli(w) => w.into_inner(),
            StreamEncoder::Zstd(w) => w.finish()?,
        };
        Ok(Bytes::from(rest))
    }

    /// Compresses a whole document in one go.
    pub(crate) fn compress_all(encoding: Encoding, data: &[u8]) -> io::Result<Bytes> {
        let mut encoder = StreamEncoder::new(encoding)?;
        encoder.writer().write_all(data)?;
        encoder.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn roundtrip(encoding: Encoding, compressed: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match encoding {
            Encoding::Gzip => flate2::read::GzDecoder::new(compressed)
                .read_to_end(&mut out)
                .map(drop),
            Encoding::Deflate => flate2::read::ZlibDecoder::new(compressed)
                .read_to_end(&mut out)
                .map(drop),
            Encoding::Brotli => brotli::Decompressor::new(compressed, 4096)
                .read_to_end(&mut out)
                .map(drop),
            Encoding::Zstd => zstd::stream::read::Decoder::new(compressed)
                .unwrap()
                .read_to_end(&mut out)
                .map(drop),
        }
        .unwrap();
        out
    }

    #[test]
    fn incremental_and_whole_compression_roundtrip() {
        for encoding in [
            Encoding::Gzip,
            Encoding::Deflate,
            Encoding::Brotli,
            Encoding::Zstd,
        ] {
            let mut encoder = StreamEncoder::new(encoding).unwrap();
            let mut wire = Vec::new();
            for part in ["event: a\n\n", "event: b\n\n"] {
                let chunk = encoder.encode_flushed(part.as_bytes()).unwrap();
                assert!(!chunk.is_empty(), "{encoding:?} flushed nothing");
                wire.extend_from_slice(&chunk);
            }
            wire.extend_from_slice(&encoder.finish().unwrap());
            assert_eq!(roundtrip(encoding, &wire), b"event: a\n\nevent: b\n\n");
            let whole = StreamEncoder::compress_all(encoding, b"{\"ok\":true}").unwrap();
            assert_eq!(roundtrip(encoding, &whole), b"{\"ok\":true}");
        }
    }
}
