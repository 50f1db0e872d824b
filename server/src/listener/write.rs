//! An answer's head and body framing as HTTP/1.1 writes them, for [`super::fast`]: what hyper's
//! server wrote for the same answer (status line, the answer's headers as given, then
//! `content-length` or chunked coding, `date` and `connection: close` where hyper added them).

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::response::Parts;
use http::StatusCode;

/// How the body of an answer is framed on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Framing {
    /// `204` and `304`: no body is written.
    Empty,
    Length(u64),
    Chunked,
}

/// Writes the head of an answer to `out`. `size` is the body's exact size when known; `close`
/// asks for the connection to end after this answer. Returns the body's framing and whether the
/// connection ends after it (also when the answer itself says `connection: close`).
pub(super) fn head(
    out: &mut Vec<u8>,
    parts: &Parts,
    size: Option<u64>,
    mut close: bool,
) -> (Framing, bool) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(parts.status.as_str().as_bytes());
    out.push(b' ');
    let reason = parts.status.canonical_reason().unwrap_or("<none>");
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    let bodyless =
        parts.status == StatusCode::NO_CONTENT || parts.status == StatusCode::NOT_MODIFIED;
    let mut framing = None;
    let mut has_date = false;
    let mut has_connection = false;
    for (name, value) in &parts.headers {
        if name == TRANSFER_ENCODING {
            // The coding is this connection's to choose (hyper chose it too).
            continue;
        }
        if name == CONTENT_LENGTH {
            let declared = std::str::from_utf8(value.as_bytes())
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok());
            match declared {
                Some(n) if framing.is_none() && !bodyless => framing = Some(Framing::Length(n)),
                _ => continue,
            }
        } else if name == DATE {
            has_date = true;
        } else if name == CONNECTION {
            has_connection = true;
            close |= value
                .as_bytes()
                .split(|b| *b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"));
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let framing = if bodyless {
        Framing::Empty
    } else if let Some(f) = framing {
        f
    } else if let Some(n) = size {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(itoa(n, &mut [0; 20]));
        out.extend_from_slice(b"\r\n");
        Framing::Length(n)
    } else {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        Framing::Chunked
    };
    if close && !has_connection {
        out.extend_from_slice(b"connection: close\r\n");
    }
    if !has_date {
        out.extend_from_slice(b"date: ");
        date(out);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    (framing, close)
}

/// The size line of one chunk of a chunked body (never empty: an empty chunk ends the body);
/// the chunk's data and `\r\n` follow.
pub(super) fn chunk_head(out: &mut Vec<u8>, len: usize) {
    debug_assert!(len > 0);
    let mut hex = [0u8; 16];
    let mut n = len;
    let mut at = hex.len();
    loop {
        at -= 1;
        hex[at] = b"0123456789abcdef"[n % 16];
        n /= 16;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&hex[at..]);
    out.extend_from_slice(b"\r\n");
}

/// The end of a chunked body.
pub(super) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

fn itoa(mut n: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &digits[at..]
}

thread_local! {
    /// The `date` header's value, formatted once a second per thread (as hyper cached it).
    static DATE_TEXT: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

fn date(out: &mut Vec<u8>) {
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE_TEXT.with_borrow_mut(|(at, text)| {
        if *at != secs {
            *at = secs;
            *text = httpdate::fmt_http_date(now);
        }
        out.extend_from_slice(text.as_bytes());
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderValue, Response};

    fn written(res: Response<()>, size: Option<u64>, close: bool) -> (String, Framing, bool) {
        let (parts, ()) = res.into_parts();
        let mut out = Vec::new();
        let (framing, close) = head(&mut out, &parts, size, close);
        (String::from_utf8(out).unwrap(), framing, close)
    }

    #[test]
    fn a_sized_answer_gets_its_length_and_a_date() {
        let mut res = Response::new(());
        res.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        let (text, framing, close) = written(res, Some(1234), false);
        assert_eq!(framing, Framing::Length(1234));
        assert!(!close);
        let date = text
            .split("date: ")
            .nth(1)
            .unwrap()
            .split("\r\n")
            .next()
            .unwrap();
        assert!(httpdate::parse_http_date(date).is_ok(), "{text}");
        assert_eq!(
            text,
            format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1234\r\ndate: {date}\r\n\r\n")
        );
    }

    #[test]
    fn a_stream_is_chunked_and_a_closing_answer_says_so() {
        let res = Response::builder().status(429).body(()).unwrap();
        let (text, framing, close) = written(res, None, true);
        assert_eq!(framing, Framing::Chunked);
        assert!(close);
        assert!(text.starts_with("HTTP/1.1 429 Too Many Requests\r\ntransfer-encoding: chunked\r\nconnection: close\r\ndate: "), "{text}");
        let mut out = Vec::new();
        chunk_head(&mut out, 300);
        chunk_head(&mut out, 1);
        chunk_head(&mut out, 0x10000);
        assert_eq!(out, b"12c\r\n1\r\n10000\r\n");
    }

    #[test]
    fn the_answers_own_framing_headers_are_kept_or_replaced_as_hyper_did() {
        // A declared length is kept; a transfer coding is the connection's to choose; the
        // answer's own `connection: close` ends the connection; 204 has no body.
        let res = Response::builder()
            .header("content-length", "5")
            .header("transfer-encoding", "gzip")
            .header("connection", "keep-alive, close")
            .body(())
            .unwrap();
        let (text, framing, close) = written(res, None, false);
        assert_eq!(framing, Framing::Length(5));
        assert!(close);
        assert!(!text.contains("transfer-encoding"), "{text}");
        assert_eq!(text.matches("connection").count(), 1, "{text}");
        let res = Response::builder()
            .status(204)
            .header("content-length", "0")
            .body(())
            .unwrap();
        let (text, framing, _) = written(res, Some(0), false);
        assert_eq!(framing, Framing::Empty);
        assert!(!text.contains("content-length"), "{text}");
        assert_eq!(itoa(0, &mut [0; 20]), b"0");
        assert_eq!(
            itoa(u64::MAX, &mut [0; 20]),
            u64::MAX.to_string().as_bytes()
        );
    }
}
