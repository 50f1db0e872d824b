//! The body of an answer read over a pooled HTTP/1.1 connection, framed as its head said
//! ([`Framing`]). Pieces are handed on as they arrive, cut from the connection's read buffer
//! without copying. When the body has ended the connection goes back to the pool (if its head
//! allowed it and nothing follows the body); a body dropped before its end closes its
//! connection (what is left of the answer is never read), and a connection that ends before
//! the body does ends the body in an error, never a clean end (what billing reads).

use std::pin::Pin;
use std::sync::Weak;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};

use super::h1::{Framing, H1};
use super::{DirectClient, Key};
use crate::upstream_http::UpstreamError;

/// The longest chunk-size line (with extensions) and the most trailer bytes read.
const MAX_LINE: usize = 4 * 1024;
const MAX_TRAILERS: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Length(u64),
    /// Chunked: the next chunk's size line.
    Size,
    /// Chunked: bytes left of the current chunk.
    Data(u64),
    /// Chunked: the line break after a chunk.
    DataEnd,
    /// Chunked: trailer lines (dropped, as before), up to the empty line; bytes read so far.
    Trailers(usize),
    Close,
    Done,
}

/// What the buffer gives now.
enum Step {
    Data(Bytes),
    Done,
    More,
}

pub(super) struct H1Body {
    /// The connection, until the body ends (or fails) or it goes back to the pool.
    conn: Option<Box<H1>>,
    state: State,
    reusable: bool,
    pool: Weak<DirectClient>,
    key: Key,
}

impl H1Body {
    pub(super) fn new(
        conn: Box<H1>,
        framing: Framing,
        reusable: bool,
        pool: Weak<DirectClient>,
        key: Key,
    ) -> Self {
        let state = match framing {
            Framing::Empty => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Size,
            Framing::Close => State::Close,
        };
        H1Body {
            conn: Some(conn),
            state,
            reusable,
            pool,
            key,
        }
    }

    /// The body has been read whole: the connection goes back to the pool if it may carry
    /// another exchange and nothing was sent after the body.
    fn release(&mut self) {
        self.state = State::Done;
        if let Some(mut h1) = self.conn.take() {
            if self.reusable && h1.buf.is_empty() {
                if let Some(pool) = self.pool.upgrade() {
                    h1.shed();
                    pool.checkin(self.key.clone(), h1);
                }
            }
        }
    }

    fn fail(&mut self, e: UpstreamError) -> Poll<Option<Result<Bytes, UpstreamError>>> {
        self.state = State::Done;
        self.conn = None;
        Poll::Ready(Some(Err(e)))
    }
}

/// Takes what the state allows from the buffer.
fn step(state: &mut State, buf: &mut bytes::BytesMut) -> Result<Step, UpstreamError> {
    loop {
        match *state {
            State::Done => return Ok(Step::Done),
            State::Length(0) => return Ok(Step::Done),
            State::Length(left) | State::Data(left) => {
                if buf.is_empty() {
                    return Ok(Step::More);
                }
                let n = (buf.len() as u64).min(left);
                let rest = left - n;
                *state = match *state {
                    State::Length(_) => State::Length(rest),
                    _ if rest == 0 => State::DataEnd,
                    _ => State::Data(rest),
                };
                return Ok(Step::Data(buf.split_to(n as usize).freeze()));
            }
            State::Close => {
                if buf.is_empty() {
                    return Ok(Step::More);
                }
                return Ok(Step::Data(buf.split().freeze()));
            }
            State::Size => {
                let Some(line) = take_line(buf, MAX_LINE, "chunk size")? else {
                    return Ok(Step::More);
                };
                let size = chunk_size(&line)?;
                *state = if size == 0 {
                    State::Trailers(0)
                } else {
                    State::Data(size)
                };
            }
            State::DataEnd => {
                if buf.len() < 2 {
                    return Ok(Step::More);
                }
                if &buf[..2] != b"\r\n" {
                    return Err(UpstreamError::msg(
                        "the upstream's chunked answer has no line break after a chunk",
                    ));
                }
                buf.advance(2);
                *state = State::Size;
            }
            State::Trailers(read) => {
                let room = MAX_TRAILERS.saturating_sub(read);
                let Some(line) = take_line(buf, room, "trailers")? else {
                    return Ok(Step::More);
                };
                if line.is_empty() {
                    *state = State::Done;
                    return Ok(Step::Done);
                }
                *state = State::Trailers(read + line.len() + 2);
            }
        }
    }
}

/// One line (without its line break) taken from the buffer, if it is all there.
fn take_line(
    buf: &mut bytes::BytesMut,
    max: usize,
    what: &str,
) -> Result<Option<Bytes>, UpstreamError> {
    match memchr::memchr(b'\n', buf) {
        Some(end) if end <= max => {
            let mut line = buf.split_to(end + 1).freeze();
            line.truncate(end);
            if line.last() == Some(&b'\r') {
                line.truncate(end - 1);
            }
            Ok(Some(line))
        }
        None if buf.len() <= max => Ok(None),
        _ => Err(UpstreamError::msg(format!(
            "the upstream's chunked answer has too long {what}"
        ))),
    }
}

/// A chunk-size line: hexadecimal digits, then optional extensions (ignored).
fn chunk_size(line: &[u8]) -> Result<u64, UpstreamError> {
    let digits = line
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    let invalid = || UpstreamError::msg("the upstream's chunked answer has an invalid chunk size");
    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(invalid());
    }
    let text = std::str::from_utf8(digits).map_err(|_| invalid())?;
    u64::from_str_radix(text, 16).map_err(|_| invalid())
}

impl futures::Stream for H1Body {
    type Item = Result<Bytes, UpstreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let Some(h1) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match step(&mut this.state, &mut h1.buf) {
                Ok(Step::Data(data)) => return Poll::Ready(Some(Ok(data))),
                Ok(Step::Done) => {
                    this.release();
                    return Poll::Ready(None);
                }
                Ok(Step::More) => {}
                Err(e) => return this.fail(e),
            }
            match ready!(h1.poll_fill(cx)) {
                Ok(0) if this.state == State::Close => {
                    this.state = State::Done;
                    this.conn = None;
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    return this.fail(UpstreamError::msg(
                        "the upstream closed the connection before the answer's end",
                    ))
                }
                Ok(_) => {}
                Err(e) => return this.fail(UpstreamError::boxed(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    /// Runs the decoder over `input` fed in pieces of `piece` bytes: the body, or the error.
    fn decode(start: State, input: &[u8], piece: usize) -> Result<(Vec<u8>, usize), String> {
        let mut state = start;
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut fed = input.chunks(piece);
        loop {
            match step(&mut state, &mut buf).map_err(|e| e.describe())? {
                Step::Data(d) => out.extend_from_slice(&d),
                Step::Done => return Ok((out, buf.len())),
                Step::More => match fed.next() {
                    Some(p) => buf.extend_from_slice(p),
                    None => return Err("cut short".into()),
                },
            }
        }
    }

    #[test]
    fn chunked_bodies_decode_whatever_the_pieces() {
        let wire = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: 1\r\n\r\nNEXT";
        for piece in [1, 2, 3, 7, 100] {
            let (body, left) = decode(State::Size, wire, piece).unwrap();
            assert_eq!(body, b"hello world", "pieces of {piece}");
            assert!(left <= 4, "bytes after the body stay in the buffer");
        }
        assert_eq!(decode(State::Size, b"0\r\n\r\n", 1).unwrap().0, b"");
    }

    #[test]
    fn broken_chunked_bodies_are_errors() {
        for wire in [
            &b"zz\r\nhello\r\n0\r\n\r\n"[..],
            b"5\r\nhelloXX0\r\n\r\n",
            b"fffffffffffffffff\r\n",
            b"\r\n",
            b"5\r\nhel",
        ] {
            assert!(decode(State::Size, wire, 3).is_err(), "{wire:?}");
        }
        let long = [b'1'; MAX_LINE + 10];
        assert!(decode(State::Size, &long, 64).is_err());
        let mut trailers = b"0\r\n".to_vec();
        trailers.extend(std::iter::repeat_n(b"x: y\r\n".as_slice(), 4000).flatten());
        assert!(decode(State::Size, &trailers, 512).is_err());
    }

    #[test]
    fn a_length_takes_exactly_its_bytes() {
        let (body, left) = decode(State::Length(5), b"helloEXTRA", 3).unwrap();
        assert_eq!(body, b"hello");
        assert!(
            left > 0,
            "what follows stays in the buffer (the connection is not reused)"
        );
        assert!(decode(State::Length(5), b"hel", 1).is_err());
    }
}
