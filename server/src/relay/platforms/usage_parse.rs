//! Reading token usage from upstream answers without touching the bytes the client gets.
//!
//! Streams are scanned line by line as chunks pass; only the few events that carry usage are
//! parsed as JSON. Whole-body (non-streaming) answers are copied up to a bound and parsed at
//! the end.

use serde_json::Value;

use crate::pricing::{ServerToolUse, TokenUsage};

/// What a parser learned from an answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParsedUsage {
    pub usage: TokenUsage,
    /// The answer ended the way the protocol ends a complete answer.
    pub complete: bool,
    /// An error the upstream reported inside the answer (e.g. an SSE `error` event).
    pub error: Option<String>,
    /// Output tokens guessed from the text seen so far, for answers cut short before their
    /// usage arrived (about 4 bytes of text per token).
    pub output_estimate: u64,
    /// Server-side tools the upstream reports having run (priced beside the tokens).
    pub tools: ServerToolUse,
    /// The model the upstream says answered, when it says.
    pub model: Option<String>,
}

impl ParsedUsage {
    /// Whether the upstream reported any token count at all.
    pub fn has_usage(&self) -> bool {
        self.usage.prompt_tokens() > 0 || self.usage.output > 0
    }
}

/// Reads usage from an answer as its bytes pass. `finish` may be called at any instant: it
/// tells what would be billed if the answer ended there (counts reported so far, and the
/// output estimate of the content seen so far).
pub trait UsageParser: Send {
    fn feed(&mut self, bytes: &[u8]);
    fn finish(&mut self) -> ParsedUsage;
    /// The answer's terminal event has been read: nothing that follows changes the bill, so
    /// accounting may settle before the last bytes reach the client.
    fn terminal(&self) -> bool {
        false
    }
}

/// Bytes of the JSON string values that follow any of `keys` (each given with its quotes and
/// colon, e.g. `"text":`) in `data`, escapes counted as one byte: the content an event
/// carries, without its framing.
pub fn string_value_bytes(data: &[u8], keys: &[&[u8]]) -> u64 {
    let mut total = 0u64;
    for key in keys {
        let mut rest = data;
        while let Some(at) = memchr::memmem::find(rest, key) {
            rest = &rest[at + key.len()..];
            let value = rest.trim_ascii_start();
            let Some(body) = value.strip_prefix(b"\"") else {
                continue;
            };
            let mut escaped = false;
            let mut len = 0u64;
            let mut end = body.len();
            for (i, &b) in body.iter().enumerate() {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                    continue;
                } else if b == b'"' {
                    end = i + 1;
                    break;
                }
                len += 1;
            }
            total = total.saturating_add(len);
            rest = &body[end.min(body.len())..];
        }
    }
    total
}

/// Splits a byte stream into lines, keeping only the unfinished tail between chunks.
#[derive(Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

/// Longest line kept across chunks; a longer one is dropped (it cannot carry usage).
const MAX_PARTIAL: usize = 4 << 20;

impl LineSplitter {
    pub fn feed(&mut self, mut chunk: &[u8], mut on_line: impl FnMut(&[u8])) {
        while let Some(nl) = memchr::memchr(b'\n', chunk) {
            let (line, rest) = chunk.split_at(nl);
            chunk = &rest[1..];
            if self.partial.is_empty() {
                on_line(trim_cr(line));
            } else {
                self.partial.extend_from_slice(line);
                let whole = std::mem::take(&mut self.partial);
                on_line(trim_cr(&whole));
            }
        }
        if !chunk.is_empty() && self.partial.len() + chunk.len() <= MAX_PARTIAL {
            self.partial.extend_from_slice(chunk);
        }
    }

    pub fn flush(&mut self, mut on_line: impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            let whole = std::mem::take(&mut self.partial);
            on_line(trim_cr(&whole));
        }
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn u(v: &Value, k: &str) -> Option<u64> {
    v.get(k).and_then(Value::as_u64)
}

/// Applies an Anthropic `usage` object: present fields overwrite (later events carry
/// cumulative counts).
pub fn apply_anthropic_usage(usage: &Value, into: &mut TokenUsage) {
    if let Some(n) = u(usage, "input_tokens") {
        into.input = n;
    }
    if let Some(n) = u(usage, "output_tokens") {
        into.output = n;
    }
    if let Some(n) = u(usage, "cache_read_input_tokens") {
        into.cache_read = n;
    }
    match usage.get("cache_creation").filter(|c| c.is_object()) {
        Some(split) => {
            if let Some(n) = u(split, "ephemeral_5m_input_tokens") {
                into.cache_write_5m = n;
            }
            if let Some(n) = u(split, "ephemeral_1h_input_tokens") {
                into.cache_write_1h = n;
            }
        }
        None => {
            // A total without the split: `message_delta` repeats the running total only, so an
            // earlier split (from `message_start`) keeps its 1-hour part; without any split
            // every cache write is a 5-minute one.
            if let Some(n) = u(usage, "cache_creation_input_tokens") {
                let one_hour = into.cache_write_1h.min(n);
                into.cache_write_1h = one_hour;
                into.cache_write_5m = n - one_hour;
            }
        }
    }
}

/// Anthropic Messages SSE: usage from `message_start` and `message_delta`.
#[derive(Default)]
pub struct AnthropicSse {
    lines: LineSplitter,
    event: Vec<u8>,
    out: ParsedUsage,
    delta_bytes: u64,
}

impl AnthropicSse {
    fn on_line(&mut self, line: &[u8]) {
        if let Some(name) = line.strip_prefix(b"event:") {
            self.event.clear();
            self.event.extend_from_slice(name.trim_ascii());
            return;
        }
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        if self.event.as_slice() == b"content_block_delta"
            || (self.event.is_empty()
                && memchr::memmem::find(data, b"\"content_block_delta\"").is_some())
        {
            self.delta_bytes += string_value_bytes(data, ANTHROPIC_DELTA_KEYS);
            return;
        }
        let wanted = matches!(self.event.as_slice(), b"message_start" | b"message_delta" | b"message_stop" | b"error")
            // Some compatible upstreams omit `event:` lines; the type is in the data then.
            || (self.event.is_empty() && memchr::memmem::find(data, b"\"message_").is_some());
        if !wanted && memchr::memmem::find(data, b"\"error\"").is_none() {
            return;
        }
        let Some(v) = crate::relay::json_guard::upstream_value(data.trim_ascii()) else {
            return;
        };
        match v.get("type").and_then(Value::as_str) {
            Some("message_start") => {
                let message = v.get("message");
                if let Some(usage) = message.and_then(|m| m.get("usage")) {
                    apply_anthropic_usage(usage, &mut self.out.usage);
                    super::server_tools::anthropic_tools(usage, &mut self.out.tools);
                }
                if let Some(m) = message.and_then(|m| m.get("model")).and_then(Value::as_str) {
                    self.out.model = Some(m.to_owned());
                }
            }
            Some("message_delta") => {
                if let Some(usage) = v.get("usage") {
                    apply_anthropic_usage(usage, &mut self.out.usage);
                    super::server_tools::anthropic_tools(usage, &mut self.out.tools);
                }
            }
            Some("message_stop") => self.out.complete = true,
            Some("error") => {
                self.out.error = v
                    .get("error")
                    .and_then(|e| e.get("type"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or(Some("error".into()));
            }
            _ => {}
        }
    }
}

/// The fields of a `content_block_delta` that carry generated content.
const ANTHROPIC_DELTA_KEYS: &[&[u8]] = &[b"\"text\":", b"\"partial_json\":", b"\"thinking\":"];

impl UsageParser for AnthropicSse {
    fn feed(&mut self, bytes: &[u8]) {
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(bytes, |l| self.on_line(l));
        self.lines = lines;
    }

    fn finish(&mut self) -> ParsedUsage {
        let mut lines = std::mem::take(&mut self.lines);
        lines.flush(|l| self.on_line(l));
        self.out.output_estimate = estimate_tokens(self.delta_bytes);
        self.out.clone()
    }

    fn terminal(&self) -> bool {
        self.out.complete
    }
}

/// Output tokens for `bytes` of generated content: about 4 bytes a token, rounded up.
pub fn estimate_tokens(bytes: u64) -> u64 {
    bytes.div_ceil(4)
}

/// Anthropic non-streaming answer: the top-level `usage`.
pub fn read_anthropic_json(v: &Value, out: &mut ParsedUsage) {
    if let Some(usage) = v.get("usage") {
        apply_anthropic_usage(usage, &mut out.usage);
        super::server_tools::anthropic_tools(usage, &mut out.tools);
        out.complete = true;
    }
    if let Some(m) = v.get("model").and_then(Value::as_str) {
        out.model = Some(m.to_owned());
    }
    if v.get("type").and_then(Value::as_str) == Some("error") {
        out.error = Some("error".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::platforms::usage_json::JsonBody;

    const STREAM: &str = "event: message_start\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":120,\"cache_creation_input_tokens\":30,\"cache_read_input_tokens\":400,\"cache_creation\":{\"ephemeral_5m_input_tokens\":10,\"ephemeral_1h_input_tokens\":20},\"output_tokens\":1}}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi \\\"usage\\\"\"}}\n\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":57}}\n\n\
event: message_stop\n\
data: {\"type\":\"message_stop\"}\n\n";

    #[test]
    fn sse_usage_in_any_chunking() {
        let want = TokenUsage {
            input: 120,
            output: 57,
            cache_write_5m: 10,
            cache_write_1h: 20,
            cache_read: 400,
        };
        for size in [1, 2, 7, 64, STREAM.len()] {
            let mut p = AnthropicSse::default();
            for c in STREAM.as_bytes().chunks(size) {
                p.feed(c);
            }
            let got = p.finish();
            assert_eq!(got.usage, want, "chunk size {size}");
            assert!(got.complete);
            assert!(got.error.is_none());
        }
    }

    #[test]
    fn crlf_and_missing_event_lines() {
        let s = "data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\r\n\r\n\
data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":9}}\r\n\r\n";
        let mut p = AnthropicSse::default();
        p.feed(s.as_bytes());
        let got = p.finish();
        assert_eq!((got.usage.input, got.usage.output), (5, 9));
        assert!(!got.complete, "no message_stop seen");
    }

    #[test]
    fn a_later_total_without_split_keeps_the_earlier_split() {
        let mut t = TokenUsage::default();
        apply_anthropic_usage(
            &serde_json::json!({"input_tokens": 5, "cache_creation_input_tokens": 30,
                                "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 20}}),
            &mut t,
        );
        apply_anthropic_usage(
            &serde_json::json!({"output_tokens": 9, "cache_creation_input_tokens": 30}),
            &mut t,
        );
        assert_eq!((t.cache_write_5m, t.cache_write_1h, t.output), (10, 20, 9));
    }

    #[test]
    fn cache_creation_without_split_counts_as_5m() {
        let mut t = TokenUsage::default();
        apply_anthropic_usage(
            &serde_json::json!({"cache_creation_input_tokens": 33}),
            &mut t,
        );
        assert_eq!((t.cache_write_5m, t.cache_write_1h), (33, 0));
    }

    #[test]
    fn error_events_are_noted() {
        let mut p = AnthropicSse::default();
        p.feed(b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"x\"}}\n\n");
        assert_eq!(p.finish().error.as_deref(), Some("overloaded_error"));
    }

    #[test]
    fn content_bytes_skip_framing_and_count_escapes_once() {
        let data = br#"{"delta":{"text":"a\"b"},"x":{"text": "cd"},"text_delta":"zz"}"#;
        assert_eq!(string_value_bytes(data, &[b"\"text\":"]), 5);
        assert_eq!(
            string_value_bytes(br#"{"text":"unterminated"#, &[b"\"text\":"]),
            12
        );
    }

    #[test]
    fn json_answers() {
        let mut p = JsonBody::new(read_anthropic_json);
        let body = br#"{"type":"message","usage":{"input_tokens":3,"output_tokens":4}}"#;
        p.feed(&body[..10]);
        p.feed(&body[10..]);
        let got = p.finish();
        assert_eq!((got.usage.input, got.usage.output), (3, 4));
        assert!(got.complete);
    }
}
