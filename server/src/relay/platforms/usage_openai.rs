//! Token usage in OpenAI answers: Chat Completions (`usage` in the body, or the streamed
//! `stream_options.include_usage` chunk) and the Responses API (`usage` in the body, or the
//! `response.completed` event's `response.usage`).
//!
//! OpenAI counts cached prompt tokens inside the prompt; Tollgate bills them apart, so
//! `input` is the prompt minus the cached part and `cache_read` the cached part.

use serde_json::Value;

use super::server_tools;
use super::usage_parse::{
    estimate_tokens, string_value_bytes, LineSplitter, ParsedUsage, UsageParser,
};
use crate::pricing::TokenUsage;

fn count(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

/// Applies an OpenAI usage object. Chat Completions names the fields `prompt_tokens` /
/// `completion_tokens` / `prompt_tokens_details`, the Responses API `input_tokens` /
/// `output_tokens` / `input_tokens_details`; both put the cache hits in `cached_tokens`.
pub fn apply_openai_usage(usage: &Value, into: &mut TokenUsage) {
    let (prompt, cached, output) = if usage.get("input_tokens").is_some() {
        let cached = usage
            .get("input_tokens_details")
            .map(|d| count(d, "cached_tokens"))
            .unwrap_or(0);
        (
            count(usage, "input_tokens"),
            cached,
            count(usage, "output_tokens"),
        )
    } else {
        let cached = usage
            .get("prompt_tokens_details")
            .map(|d| count(d, "cached_tokens"))
            .unwrap_or(0);
        (
            count(usage, "prompt_tokens"),
            cached,
            count(usage, "completion_tokens"),
        )
    };
    let cached = cached.min(prompt);
    *into = TokenUsage {
        input: prompt - cached,
        output,
        cache_read: cached,
        ..Default::default()
    };
}

/// Whether `data` holds `"usage"` followed by an object (not `null`): the only chunks worth
/// parsing in a Chat Completions stream, where every other chunk says `"usage":null`.
pub fn has_usage_object(data: &[u8]) -> bool {
    let mut rest = data;
    while let Some(at) = memchr::memmem::find(rest, b"\"usage\"") {
        let after = rest[at + 7..].trim_ascii_start();
        if let Some(value) = after.strip_prefix(b":") {
            if value.trim_ascii_start().first() == Some(&b'{') {
                return true;
            }
        }
        rest = &rest[at + 7..];
    }
    false
}

/// The error code or type an OpenAI error object carries.
fn error_name(error: &Value) -> String {
    error
        .get("code")
        .and_then(Value::as_str)
        .or_else(|| error.get("type").and_then(Value::as_str))
        .unwrap_or("error")
        .to_owned()
}

/// A Chat Completions stream: usage from the chunk that carries it (the last one, with
/// `choices: []`), completion from `data: [DONE]`.
#[derive(Default)]
pub struct ChatSse {
    lines: LineSplitter,
    out: ParsedUsage,
    /// Bytes of content (text, reasoning, tool-call arguments) streamed so far.
    content_bytes: u64,
}

/// The fields of a Chat Completions delta that carry generated content.
const CHAT_DELTA_KEYS: &[&[u8]] = &[
    b"\"content\":",
    b"\"reasoning_content\":",
    b"\"reasoning\":",
    b"\"refusal\":",
    b"\"arguments\":",
];

impl ChatSse {
    fn on_line(&mut self, line: &[u8]) {
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        let data = data.trim_ascii();
        if data == b"[DONE]" {
            self.out.complete = true;
            return;
        }
        self.content_bytes = self
            .content_bytes
            .saturating_add(string_value_bytes(data, CHAT_DELTA_KEYS));
        if self.out.model.is_none() {
            self.out.model = first_model(data);
        }
        let usage = has_usage_object(data);
        if !usage && memchr::memmem::find(data, b"\"error\"").is_none() {
            return;
        }
        let Some(v) = crate::relay::json_guard::upstream_value(data) else {
            return;
        };
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            apply_openai_usage(u, &mut self.out.usage);
        }
        if let Some(e) = v.get("error").filter(|e| e.is_object()) {
            self.out.error = Some(error_name(e));
        }
    }
}

impl UsageParser for ChatSse {
    fn feed(&mut self, bytes: &[u8]) {
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(bytes, |l| self.on_line(l));
        self.lines = lines;
    }

    fn finish(&mut self) -> ParsedUsage {
        let mut lines = std::mem::take(&mut self.lines);
        lines.flush(|l| self.on_line(l));
        self.out.output_estimate = estimate_tokens(self.content_bytes);
        self.out.clone()
    }

    fn terminal(&self) -> bool {
        self.out.complete
    }
}

/// The value of the first `"type":"…"` in an event (its own type: events name it first).
fn first_type(data: &[u8]) -> Option<&[u8]> {
    let at = memchr::memmem::find(data, b"\"type\":")?;
    let rest = data[at + 7..].trim_ascii_start().strip_prefix(b"\"")?;
    let end = memchr::memchr(b'"', rest)?;
    Some(&rest[..end])
}

/// The `"model":"…"` of a chunk, read without parsing it (every chunk names it).
fn first_model(data: &[u8]) -> Option<String> {
    let at = memchr::memmem::find(data, b"\"model\":")?;
    let rest = data[at + 8..].trim_ascii_start().strip_prefix(b"\"")?;
    let end = memchr::memchr(b'"', rest)?;
    let name = std::str::from_utf8(&rest[..end]).ok()?;
    (!name.is_empty() && !name.contains('\\')).then(|| name.to_owned())
}

/// A Responses API stream: usage from the terminal `response.completed` event (or
/// `response.incomplete` / `response.failed`, which carry the usage spent so far).
#[derive(Default)]
pub struct ResponsesSse {
    lines: LineSplitter,
    out: ParsedUsage,
    /// Bytes of content (`*.delta` strings) streamed so far.
    content_bytes: u64,
    terminal: bool,
}

/// The event types that end a response and carry its usage.
const TERMINAL_EVENTS: &[&str] = &[
    "response.completed",
    "response.incomplete",
    "response.failed",
];

impl ResponsesSse {
    fn on_line(&mut self, line: &[u8]) {
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        if first_type(data).is_some_and(|t| t.ends_with(b".delta")) {
            self.content_bytes = self
                .content_bytes
                .saturating_add(string_value_bytes(data, &[b"\"delta\":"]));
            return;
        }
        // Terminal events name themselves in `type`; deltas never need a parse.
        let terminal = TERMINAL_EVENTS
            .iter()
            .any(|t| memchr::memmem::find(data, t.as_bytes()).is_some());
        if !terminal && memchr::memmem::find(data, b"\"error\"").is_none() {
            return;
        }
        let Some(v) = crate::relay::json_guard::upstream_value(data.trim_ascii()) else {
            return;
        };
        match v.get("type").and_then(Value::as_str) {
            Some(t) if TERMINAL_EVENTS.contains(&t) => {
                self.terminal = true;
                let response = v.get("response");
                if let Some(u) = response
                    .and_then(|r| r.get("usage"))
                    .filter(|u| u.is_object())
                {
                    apply_openai_usage(u, &mut self.out.usage);
                }
                if let Some(r) = response {
                    server_tools::openai_response_tools(r, &mut self.out.tools);
                    if let Some(m) = r.get("model").and_then(Value::as_str) {
                        self.out.model = Some(m.to_owned());
                    }
                }
                match t {
                    "response.completed" => self.out.complete = true,
                    "response.failed" => {
                        let name = response
                            .and_then(|r| r.get("error"))
                            .filter(|e| e.is_object())
                            .map(error_name);
                        self.out.error = Some(name.unwrap_or_else(|| "response_failed".into()));
                    }
                    _ => self.out.complete = true,
                }
            }
            Some("error") => {
                self.out.error = Some(
                    v.get("code")
                        .and_then(Value::as_str)
                        .unwrap_or("error")
                        .to_owned(),
                )
            }
            _ => {}
        }
    }
}

impl UsageParser for ResponsesSse {
    fn feed(&mut self, bytes: &[u8]) {
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(bytes, |l| self.on_line(l));
        self.lines = lines;
    }

    fn finish(&mut self) -> ParsedUsage {
        let mut lines = std::mem::take(&mut self.lines);
        lines.flush(|l| self.on_line(l));
        self.out.output_estimate = estimate_tokens(self.content_bytes);
        self.out.clone()
    }

    fn terminal(&self) -> bool {
        self.terminal
    }
}

/// A whole OpenAI answer (Chat Completions or Responses): the top-level `usage`.
pub fn read_openai_json(v: &Value, out: &mut ParsedUsage) {
    if let Some(usage) = v.get("usage").filter(|u| u.is_object()) {
        apply_openai_usage(usage, &mut out.usage);
        out.complete = true;
    }
    server_tools::openai_response_tools(v, &mut out.tools);
    if let Some(m) = v.get("model").and_then(Value::as_str) {
        out.model = Some(m.to_owned());
    }
    if let Some(e) = v.get("error").filter(|e| e.is_object()) {
        out.error = Some(error_name(e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAT: &str = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}],\"usage\":null}\n\n\
data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"the \\\"usage\\\": {\"}}],\"usage\":null}\n\n\
data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n\
data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":1500,\"completion_tokens\":42,\"total_tokens\":1542,\"prompt_tokens_details\":{\"cached_tokens\":1024}}}\n\n\
data: [DONE]\n\n";

    #[test]
    fn chat_stream_usage_in_any_chunking() {
        let want = TokenUsage {
            input: 476,
            output: 42,
            cache_read: 1024,
            ..Default::default()
        };
        for size in [1, 3, 17, CHAT.len()] {
            let mut p = ChatSse::default();
            for c in CHAT.as_bytes().chunks(size) {
                p.feed(c);
            }
            let got = p.finish();
            assert_eq!(got.usage, want, "chunk size {size}");
            assert!(got.complete);
            assert!(got.error.is_none());
        }
    }

    #[test]
    fn usage_objects_are_told_from_nulls() {
        assert!(has_usage_object(br#"{"usage" : {"prompt_tokens":1}}"#));
        assert!(!has_usage_object(br#"{"usage":null}"#));
        assert!(has_usage_object(br#"{"x":"\"usage\"","usage":{}}"#));
        assert!(!has_usage_object(b"{}"));
    }

    #[test]
    fn chat_stream_error_and_truncation() {
        let mut p = ChatSse::default();
        p.feed(
            b"data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\",\"code\":null}}\n\n",
        );
        let got = p.finish();
        assert_eq!(got.error.as_deref(), Some("server_error"));
        assert!(!got.complete);
    }

    #[test]
    fn responses_stream_reads_the_completed_event() {
        let s = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"usage\":null}}\n\n\
event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"response.completed\"}\n\n\
event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"status\":\"completed\",\"usage\":{\"input_tokens\":300,\"input_tokens_details\":{\"cached_tokens\":200},\"output_tokens\":9,\"total_tokens\":309}}}\n\n";
        for size in [1, 5, s.len()] {
            let mut p = ResponsesSse::default();
            for c in s.as_bytes().chunks(size) {
                p.feed(c);
            }
            let got = p.finish();
            assert_eq!(
                got.usage,
                TokenUsage {
                    input: 100,
                    output: 9,
                    cache_read: 200,
                    ..Default::default()
                }
            );
            assert!(got.complete);
        }
        let mut p = ResponsesSse::default();
        p.feed(b"data: {\"type\":\"response.failed\",\"response\":{\"error\":{\"code\":\"server_error\"},\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n");
        let got = p.finish();
        assert_eq!(got.error.as_deref(), Some("server_error"));
        assert_eq!((got.usage.input, got.usage.output), (5, 1));
    }

    #[test]
    fn whole_answers_of_both_apis() {
        let mut out = ParsedUsage::default();
        read_openai_json(
            &serde_json::json!({"usage": {"prompt_tokens": 10, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 4}}}),
            &mut out,
        );
        assert_eq!(
            out.usage,
            TokenUsage {
                input: 6,
                output: 3,
                cache_read: 4,
                ..Default::default()
            }
        );
        let mut out = ParsedUsage::default();
        read_openai_json(
            &serde_json::json!({"object": "response", "usage": {"input_tokens": 7, "output_tokens": 2}}),
            &mut out,
        );
        assert_eq!(
            (out.usage.input, out.usage.output, out.usage.cache_read),
            (7, 2, 0)
        );
        assert!(out.complete);
    }
}
