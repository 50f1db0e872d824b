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
    read: fn(&Value, &mut ParsedUsage),
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
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.closed {
                return;
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' if self.depth > 0 => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' if self.depth > 0 => {
                    self.depth -= 1;
                    self.closed = self.depth == 0;
                }
                _ => {}
            }
        }
    }
}

const MAX_JSON_BODY: usize = 16 << 20;

impl JsonBody {
    pub fn new(read: fn(&Value, &mut ParsedUsage)) -> Self {
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
        if let Ok(v) = serde_json::from_slice::<Value>(&self.buf) {
            (self.read)(&v, &mut out);
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
    fn the_end_of_the_document_is_known_without_a_length() {
        let mut p = JsonBody::new(read_anthropic_json);
        p.feed(br##"{"usage":{"input_tokens":1},"text":"}]\"{""##);
        assert!(!p.terminal());
        p.feed(b"}\n");
        assert!(p.terminal());
    }
}
