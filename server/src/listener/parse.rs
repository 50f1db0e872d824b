//! Which requests [`super::fast`] serves: the head parsed with `httparse` (the parser hyper's
//! server uses, in its default configuration), then the narrow shape served here checked, and
//! where the head's parts lie recorded so they can be sliced out without copies.

use std::mem::MaybeUninit;

use http::Method;

use crate::relay::Hot;

/// Header lines in a request (hyper's default limit).
pub(super) const MAX_HEADERS: usize = 100;
/// A head not complete within this many bytes is left to hyper (which answers 431 past its own
/// limit).
pub(super) const MAX_HEAD: usize = 64 * 1024;
/// The largest body served here, read before the gate as hyper's read buffer would hold it;
/// larger ones are hyper's, read by the handler once the key is known.
pub(super) const MAX_BODY: u64 = 16 * 1024;
/// HTTP/2's connection preface: while the buffer holds only a part of it, the next bytes decide
/// (and the header timeout still runs).
pub(super) const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Where a head's request target and header lines are, as byte ranges of the buffer.
pub(super) struct Spans {
    pub(super) target: (usize, usize),
    /// Name start and end, value start and end.
    pub(super) headers: [(u32, u32, u32, u32); MAX_HEADERS],
    pub(super) count: usize,
}

impl Spans {
    pub(super) fn new() -> Self {
        Spans {
            target: (0, 0),
            headers: [(0, 0, 0, 0); MAX_HEADERS],
            count: 0,
        }
    }
}

/// What the buffer's next request is.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Parse {
    /// Its head has not all arrived.
    Partial,
    /// Not one served here (or not valid at all): hyper's.
    Other,
    /// Served here once the buffer holds this many bytes (the head and the body).
    Body(usize),
    Serve {
        head_len: usize,
        body_len: usize,
        hot: (Hot, &'static str),
        /// The client asked for the connection to close after it.
        close: bool,
    },
}

/// Reads the next request's head from `buf`, recording its parts in `spans`.
pub(super) fn parse(buf: &[u8], spans: &mut Spans) -> Parse {
    if buf.len() < H2_PREFACE.len() && H2_PREFACE.starts_with(buf) {
        return Parse::Partial;
    }
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let head_len = match req.parse_with_uninit_headers(buf, &mut headers) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return Parse::Partial,
        _ => return Parse::Other,
    };
    if req.method != Some("POST") || req.version != Some(1) {
        return Parse::Other;
    }
    let Some(target) = req.path else {
        return Parse::Other;
    };
    if !target.starts_with('/') || target.contains('#') {
        return Parse::Other;
    }
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    let Some(hot) = Hot::of(&Method::POST, path) else {
        return Parse::Other;
    };
    let base = buf.as_ptr() as usize;
    let at = |s: &[u8]| {
        (
            s.as_ptr() as usize - base,
            s.as_ptr() as usize - base + s.len(),
        )
    };
    spans.target = at(target.as_bytes());
    spans.count = req.headers.len();
    let mut length = None;
    let mut close = false;
    for (h, span) in req.headers.iter().zip(spans.headers.iter_mut()) {
        let name = h.name.as_bytes();
        let (n0, n1) = at(name);
        let (v0, v1) = at(h.value);
        // Offsets within MAX_HEAD (and a body's) fit u32.
        *span = (n0 as u32, n1 as u32, v0 as u32, v1 as u32);
        if name.eq_ignore_ascii_case(b"content-length") {
            match (length, digits(h.value)) {
                (None, Some(n)) => length = Some(n),
                _ => return Parse::Other,
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding")
            || name.eq_ignore_ascii_case(b"expect")
            || name.eq_ignore_ascii_case(b"upgrade")
        {
            return Parse::Other;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in h.value.split(|b| *b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if !token.eq_ignore_ascii_case(b"keep-alive") {
                    return Parse::Other;
                }
            }
        }
    }
    let Some(length) = length.filter(|n| *n <= MAX_BODY) else {
        return Parse::Other;
    };
    let body_len = length as usize;
    if buf.len() - head_len < body_len {
        return Parse::Body(head_len + body_len);
    }
    Parse::Serve {
        head_len,
        body_len,
        hot,
        close,
    }
}

/// A `Content-Length` value: decimal digits only (anything else is hyper's to judge).
fn digits(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 18 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

#[cfg(test)]
mod tests;
