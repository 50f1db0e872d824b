//! Token usage in Gemini answers: `usageMetadata` of a `GenerateContentResponse`.
//!
//! A stream is a sequence of such responses, either as SSE (`alt=sse`: `data: {...}`) or as
//! one JSON array written incrementally (`[{...},\r\n{...}]`, pretty-printed across lines by
//! Google). Both are read by the same scanner: it tracks brace depth outside strings and cuts
//! out each top-level object, whatever surrounds it. Every chunk carries `usageMetadata` with
//! the counts so far, so the last one seen wins; only that one is parsed, at the end.

use serde_json::Value;

use super::server_tools;
use super::usage_parse::{estimate_tokens, string_value_bytes, ParsedUsage, UsageParser};
use crate::pricing::TokenUsage;

fn count(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

/// Applies a `usageMetadata` object. Gemini counts cached tokens inside `promptTokenCount`;
/// tool-use prompts are input too, and thinking tokens are billed as output.
pub fn apply_gemini_usage(meta: &Value, into: &mut TokenUsage) {
    // Saturating: counts near u64::MAX from a hostile upstream must not wrap to a free answer.
    let prompt =
        count(meta, "promptTokenCount").saturating_add(count(meta, "toolUsePromptTokenCount"));
    let cached = count(meta, "cachedContentTokenCount").min(prompt);
    *into = TokenUsage {
        input: prompt - cached,
        output: count(meta, "candidatesTokenCount")
            .saturating_add(count(meta, "thoughtsTokenCount")),
        cache_read: cached,
        ..Default::default()
    };
}

/// Reads one `GenerateContentResponse` (or an error object) into `out`.
fn read_response(v: &Value, out: &mut ParsedUsage) {
    if let Some(meta) = v.get("usageMetadata").filter(|m| m.is_object()) {
        apply_gemini_usage(meta, &mut out.usage);
    }
    if let Some(m) = v.get("modelVersion").and_then(Value::as_str) {
        out.model = Some(m.to_owned());
    }
    server_tools::gemini_tools(v, &mut out.tools);
    let finished = v
        .get("candidates")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.get("finishReason").is_some_and(|r| !r.is_null()))
        });
    if finished {
        out.complete = true;
    }
    if let Some(e) = v.get("error").filter(|e| e.is_object()) {
        out.error = Some(
            e.get("status")
                .and_then(Value::as_str)
                .unwrap_or("error")
                .to_owned(),
        );
    }
}

/// A whole (non-streamed) Gemini answer.
pub fn read_gemini_json(v: &Value, out: &mut ParsedUsage) {
    read_response(v, out);
    // A whole answer with usage is complete even when it was cut by a safety stop.
    if v.get("usageMetadata").is_some() {
        out.complete = true;
    }
}

/// Largest single response object kept; a bigger one (e.g. inline image output beyond this)
/// is skipped, and the previous counts stand.
const MAX_OBJECT: usize = 16 << 20;

/// A Gemini stream in either framing.
#[derive(Default)]
pub struct GeminiStream {
    depth: u32,
    in_string: bool,
    escaped: bool,
    current: Vec<u8>,
    overflow: bool,
    /// The latest complete object that carried `usageMetadata`.
    last_usage: Vec<u8>,
    finished: bool,
    /// The object with the finish reason also carried the usage: the answer is over.
    terminal: bool,
    error: Option<String>,
    /// Bytes of generated text seen so far.
    text_bytes: u64,
    tools: crate::pricing::ServerToolUse,
    model: Option<String>,
}

impl GeminiStream {
    fn on_object(&mut self) {
        let obj = std::mem::take(&mut self.current);
        if self.overflow {
            self.overflow = false;
            return;
        }
        self.text_bytes = self
            .text_bytes
            .saturating_add(string_value_bytes(&obj, &[b"\"text\":"]));
        let has = |needle: &[u8]| memchr::memmem::find(&obj, needle).is_some();
        if has(b"\"finishReason\"") || has(b"\"error\"") || has(b"\"groundingMetadata\"") {
            if let Some(v) = crate::relay::json_guard::upstream_value(&obj) {
                let mut seen = ParsedUsage::default();
                read_response(&v, &mut seen);
                self.finished |= seen.complete;
                self.terminal |= seen.complete && v.get("usageMetadata").is_some();
                if seen.error.is_some() {
                    self.error = seen.error;
                }
                if !seen.tools.is_none() {
                    // Grounding is reported again with each chunk that carries it: the last wins.
                    self.tools = seen.tools;
                }
                if seen.model.is_some() {
                    self.model = seen.model;
                }
            }
        }
        if self.model.is_none() {
            self.model = model_version(&obj);
        }
        if has(b"\"usageMetadata\"") {
            self.last_usage = obj;
        }
    }
}

impl UsageParser for GeminiStream {
    fn feed(&mut self, bytes: &[u8]) {
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if self.depth == 0 {
                if b == b'{' {
                    self.depth = 1;
                    self.in_string = false;
                    self.escaped = false;
                    start = i;
                }
                continue;
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
                b'"' => self.in_string = true,
                b'{' => self.depth += 1,
                b'}' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        self.keep(&bytes[start..=i]);
                        self.on_object();
                    }
                }
                _ => {}
            }
        }
        if self.depth > 0 {
            self.keep(&bytes[start..]);
        }
    }

    fn finish(&mut self) -> ParsedUsage {
        let mut out = ParsedUsage {
            complete: self.finished,
            error: self.error.clone(),
            output_estimate: estimate_tokens(self.text_bytes),
            tools: self.tools,
            model: self.model.clone(),
            ..Default::default()
        };
        if let Some(v) = crate::relay::json_guard::upstream_value(&self.last_usage) {
            if let Some(meta) = v.get("usageMetadata").filter(|m| m.is_object()) {
                apply_gemini_usage(meta, &mut out.usage);
            }
        }
        out
    }

    fn terminal(&self) -> bool {
        self.terminal
    }
}

/// `"modelVersion":"…"` of a response object, read without parsing it.
fn model_version(obj: &[u8]) -> Option<String> {
    let at = memchr::memmem::find(obj, b"\"modelVersion\":")?;
    let rest = obj[at + 15..].trim_ascii_start().strip_prefix(b"\"")?;
    let end = memchr::memchr(b'"', rest)?;
    let name = std::str::from_utf8(&rest[..end]).ok()?;
    (!name.is_empty() && !name.contains('\\')).then(|| name.to_owned())
}

impl GeminiStream {
    /// Appends a piece of the object being read, within the bound.
    fn keep(&mut self, piece: &[u8]) {
        if self.current.len() + piece.len() > MAX_OBJECT {
            self.overflow = true;
            self.current.clear();
        } else if !self.overflow {
            self.current.extend_from_slice(piece);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(text: &str, candidates: u64, finish: bool) -> String {
        let finish = if finish {
            r#","finishReason":"STOP""#
        } else {
            ""
        };
        format!(
            r#"{{"candidates":[{{"content":{{"parts":[{{"text":"{text}"}}],"role":"model"}}{finish},"index":0}}],"usageMetadata":{{"promptTokenCount":120,"candidatesTokenCount":{candidates},"cachedContentTokenCount":20,"thoughtsTokenCount":5}}}}"#
        )
    }

    fn check(stream: &str) {
        let want = TokenUsage {
            input: 100,
            output: 35,
            cache_read: 20,
            ..Default::default()
        };
        for size in [1, 2, 9, stream.len()] {
            let mut p = GeminiStream::default();
            for c in stream.as_bytes().chunks(size) {
                p.feed(c);
            }
            let got = p.finish();
            assert_eq!(got.usage, want, "chunk size {size}");
            assert!(got.complete);
            assert!(got.error.is_none());
        }
    }

    #[test]
    fn counts_that_would_overflow_saturate() {
        let meta: Value = serde_json::from_str(
            r#"{"promptTokenCount":18446744073709551615,"toolUsePromptTokenCount":1,
                "candidatesTokenCount":18446744073709551615,"thoughtsTokenCount":7}"#,
        )
        .unwrap();
        let mut usage = TokenUsage::default();
        apply_gemini_usage(&meta, &mut usage);
        assert_eq!(usage.input, u64::MAX);
        assert_eq!(usage.output, u64::MAX);
    }

    #[test]
    fn sse_stream_last_usage_wins() {
        let s = format!(
            "data: {}\r\n\r\ndata: {}\r\n\r\ndata: {}\r\n\r\n",
            chunk("a {brace", 10, false),
            chunk("b \\\"}\\\" c", 20, false),
            chunk("", 30, true)
        );
        check(&s);
    }

    #[test]
    fn json_array_stream_pretty_printed() {
        let pretty = |c: String| {
            serde_json::to_string_pretty(&serde_json::from_str::<Value>(&c).unwrap()).unwrap()
        };
        let s = format!(
            "[{}\r\n,\r\n{}\r\n,\r\n{}]",
            pretty(chunk("x", 10, false)),
            pretty(chunk("}}", 20, false)),
            pretty(chunk("", 30, true))
        );
        check(&s);
    }

    #[test]
    fn error_objects_in_a_stream_are_noted() {
        let mut p = GeminiStream::default();
        p.feed(chunk("x", 3, false).as_bytes());
        p.feed(br#",{"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}]"#);
        let got = p.finish();
        assert_eq!(got.error.as_deref(), Some("UNAVAILABLE"));
        assert!(!got.complete);
        assert_eq!(got.usage.output, 8, "usage so far is billed");
    }

    #[test]
    fn whole_answer() {
        let v: Value = serde_json::from_str(&chunk("hi", 7, true)).unwrap();
        let mut out = ParsedUsage::default();
        read_gemini_json(&v, &mut out);
        assert_eq!(
            out.usage,
            TokenUsage {
                input: 100,
                output: 12,
                cache_read: 20,
                ..Default::default()
            }
        );
        assert!(out.complete);
    }
}
