//! Whole (non-streamed) JSON answers: copied up to a bound and parsed at the end, with the
//! end of the document watched so an answer without a declared length settles as soon as it
//! is complete.

use serde_json::Value;

use super::usage_parse::{estimate_tokens, ParsedUsage, UsageParser};

/// A whole JSON answer, copied up to a bound, parsed at the end by `read`.
pub struct JsonBody {
    buf: Vec<u8>,
    overflow: bool,
    /// Every byte fed, kept or not: an answer too large to parse is billed from its size.
    seen: u64,
    /// Tracks where the top-level JSON value ends, for answers without a declared length.
    depth: JsonDepth,
    read: Read,
}

/// How the document is read at the end.
#[derive(Clone, Copy)]
enum Read {
    /// Parsed into a `Value` first.
    Value(fn(&Value, &mut ParsedUsage)),
    /// Read from its bytes (by a reader that builds only what it needs).
    Bytes(fn(&[u8], &mut ParsedUsage)),
}

/// Nesting of a JSON text outside strings: knows when the first top-level object or array
/// has closed.
#[derive(Default)]
struct JsonDepth {
    depth: u32,
    in_string: bool,
    escaped: bool,
    closed: bool,
}

impl JsonDepth {
    fn feed(&mut self, mut bytes: &[u8]) {
        while !self.closed && !bytes.is_empty() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    bytes = &bytes[1..];
                    continue;
                }
                // Most of an answer is string content: skip to its next quote or escape.
                let Some(at) = memchr::memchr2(b'"', b'\\', bytes) else {
                    return;
                };
                if bytes[at] == b'\\' {
                    self.escaped = true;
                } else {
                    self.in_string = false;
                }
                bytes = &bytes[at + 1..];
                continue;
            }
            let mut taken = bytes.len();
            for (i, &b) in bytes.iter().enumerate() {
                match b {
                    b'"' if self.depth > 0 => {
                        self.in_string = true;
                        taken = i + 1;
                        break;
                    }
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' if self.depth > 0 => {
                        self.depth -= 1;
                        if self.depth == 0 {
                            self.closed = true;
                            return;
                        }
                    }
                    _ => {}
                }
            }
            bytes = &bytes[taken..];
        }
    }
}

const MAX_JSON_BODY: usize = 16 << 20;

impl JsonBody {
    /// A reader of the parsed document.
    pub fn new(read: fn(&Value, &mut ParsedUsage)) -> Self {
        Self::reading(Read::Value(read))
    }

    /// A reader of the document's bytes, which must read them as `serde_json` would (nothing
    /// from a document that does not parse).
    pub fn raw(read: fn(&[u8], &mut ParsedUsage)) -> Self {
        Self::reading(Read::Bytes(read))
    }

    fn reading(read: Read) -> Self {
        JsonBody {
            buf: Vec::new(),
            overflow: false,
            seen: 0,
            depth: JsonDepth::default(),
            read,
        }
    }
}

impl UsageParser for JsonBody {
    fn feed(&mut self, bytes: &[u8]) {
        self.seen = self.seen.saturating_add(bytes.len() as u64);
        self.depth.feed(bytes);
        if self.overflow || self.buf.len() + bytes.len() > MAX_JSON_BODY {
            // Nothing more is kept: the usage of such an answer is estimated.
            self.overflow = true;
            self.buf = Vec::new();
            return;
        }
        self.buf.extend_from_slice(bytes);
    }

    fn finish(&mut self) -> ParsedUsage {
        let mut out = ParsedUsage {
            output_estimate: estimate_tokens(self.seen),
            ..Default::default()
        };
        if self.overflow {
            tracing::warn!(
                bytes = self.seen,
                "answer too large to read its usage; billing an estimate"
            );
            return out;
        }
        if !self.depth.closed {
            // Cut short: what was received is not a JSON document.
            return out;
        }
        if crate::relay::json_guard::has_raw_value_marker(&self.buf) {
            // Read as text would recurse without bound (see `json_guard`): an estimate.
            tracing::warn!("answer uses serde_json's raw-value marker; billing an estimate");
            return out;
        }
        match self.read {
            Read::Value(read) => {
                // The marker was ruled out just above: no second scan.
                if let Ok(v) = serde_json::from_slice::<Value>(&self.buf) {
                    read(&v, &mut out);
                }
            }
            Read::Bytes(read) => read(&self.buf, &mut out),
        }
        out
    }

    fn terminal(&self) -> bool {
        self.depth.closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::platforms::usage_anthropic::read_anthropic_answer;
    use crate::relay::platforms::usage_parse::read_anthropic_json;

    #[test]
    fn an_answer_over_the_parse_buffer_is_billed_from_its_size() {
        let mut p = JsonBody::new(read_anthropic_json);
        let chunk = vec![b' '; 1 << 20];
        for _ in 0..17 {
            p.feed(&chunk);
        }
        let got = p.finish();
        assert!(!got.has_usage());
        assert_eq!(got.output_estimate, (17 << 20) / 4);
    }

    #[test]
    fn the_raw_reading_reads_the_same_as_the_whole_document() {
        let docs: &[&[u8]] = &[
            br#"{"id":"m","type":"message","content":[{"type":"text","text":"hi \"usage\""}],"model":"claude-x","usage":{"input_tokens":3,"output_tokens":5,"server_tool_use":{"web_search_requests":2}}}"#,
            br#"{"type":"error","error":{"type":"overloaded_error"}}"#,
            br#"{"usage":{"input_tokens":1},"usage":{"input_tokens":9},"mod\u0065l":"m2"}"#,
            br#"{"usage":{"input_tokens":1}} trailing"#,
            br#"{"usage":{"input_tokens":1},}"#,
            br#"  [{"usage":{"input_tokens":1}}]"#,
        ];
        for doc in docs {
            let mut whole = JsonBody::new(read_anthropic_json);
            let mut named = JsonBody::raw(read_anthropic_answer);
            whole.feed(doc);
            named.feed(doc);
            assert_eq!(
                whole.finish(),
                named.finish(),
                "{}",
                String::from_utf8_lossy(doc)
            );
        }
    }

    /// Where a JSON text's first top-level object or array closes, byte by byte.
    fn closes_at(doc: &[u8]) -> Option<usize> {
        let (mut depth, mut in_string, mut escaped) = (0u32, false, false);
        for (i, &b) in doc.iter().enumerate() {
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                }
                continue;
            }
            match b {
                b'"' if depth > 0 => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth > 0 => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        None
    }

    #[test]
    fn the_end_is_found_in_any_chunking() {
        let docs: &[&[u8]] = &[
            br#" "x" {"a":"x\\\"}]{[","b":[{"c":"\\"},"]}"],"d":"\u0022}"} tail"#,
            br#"[1,"]",{"k":"\\\\"}]"#,
            br#"{"open":"never closed \"}"#,
            br#"}]{"a":{}}"#,
        ];
        for doc in docs {
            let want = closes_at(doc);
            for size in 1..=doc.len() {
                let mut p = JsonBody::new(read_anthropic_json);
                let mut closed_in = None;
                for (n, c) in doc.chunks(size).enumerate() {
                    p.feed(c);
                    if p.terminal() && closed_in.is_none() {
                        closed_in = Some(n);
                    }
                }
                assert_eq!(closed_in, want.map(|at| at / size), "{size}");
            }
        }
    }

    #[test]
    fn the_end_of_the_document_is_known_without_a_length() {
        let mut p = JsonBody::new(read_anthropic_json);
        p.feed(br##"{"usage":{"input_tokens":1},"text":"}]\"{""##);
        assert!(!p.terminal());
        p.feed(b"}\n");
        assert!(p.terminal());
    }
}
