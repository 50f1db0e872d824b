//! The byte-level face of the translations: what the relay feeds upstream chunks to.

use bytes::Bytes;
use serde_json::Value;

use super::chat_claude::{messages_error_to_openai, ChatStreamTranslator};
use super::sse::{data_frame, SseItem, SseReader};

/// Rewrites an upstream answer body into the client's protocol, chunk by chunk. Chunks may be
/// cut anywhere (inside an event, inside a UTF-8 character); the output does not depend on
/// where. Never panics, whatever the bytes.
pub trait StreamTransform: Send {
    /// The client-facing bytes for one upstream chunk (possibly empty).
    fn chunk(&mut self, upstream: &[u8]) -> Bytes;
    /// Whatever remains when the upstream body ends. A stream cut short ends with an error in
    /// the client's protocol, so a truncated answer is never mistaken for a complete one.
    fn end(&mut self) -> Bytes;
    /// The client-facing content type.
    fn content_type(&self) -> &'static str;
    /// What has reached the client so far, for billing a stream cut off midway.
    fn passed_on(&self) -> &PassedOn;
}

/// What a transform has written for the client so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassedOn {
    /// UTF-8 bytes of answer text sent.
    pub text_bytes: u64,
    /// Bytes of tool-call arguments (or custom tool input) sent.
    pub tool_bytes: u64,
    /// Bytes of reasoning (thinking, summaries) sent.
    pub reasoning_bytes: u64,
    /// Output tokens the upstream reported so far (0 until it says).
    pub reported_output_tokens: u64,
    /// The client received the protocol's end of a complete answer.
    pub complete: bool,
    /// The error the client was given, if the answer ended in one.
    pub error: Option<String>,
}

impl PassedOn {
    /// Output tokens the client has received: what the upstream reported, or, when it reported
    /// less (a stream cut before its usage arrived), about 4 bytes of generated content a token.
    pub fn output_tokens(&self) -> u64 {
        let generated = self.text_bytes + self.tool_bytes + self.reasoning_bytes;
        self.reported_output_tokens.max(generated.div_ceil(4))
    }

    pub(super) fn text(&mut self, s: &str) {
        self.text_bytes += s.len() as u64;
    }

    pub(super) fn tool(&mut self, s: &str) {
        self.tool_bytes += s.len() as u64;
    }

    pub(super) fn reasoning(&mut self, s: &str) {
        self.reasoning_bytes += s.len() as u64;
    }
}

/// The largest whole (non-streaming) answer held for translation.
pub const MAX_WHOLE_ANSWER: usize = 16 << 20;

/// Translates a readable whole answer, noting what it passes on.
type TranslateWhole = Box<dyn FnMut(&Value, &mut PassedOn) -> Value + Send>;
/// The client's error body for an unreadable answer, given the bytes (or a description).
type Unreadable = Box<dyn Fn(&[u8]) -> Value + Send>;

/// A whole JSON answer: collected, then translated at the end.
pub struct WholeAnswer {
    buf: Vec<u8>,
    overflow: bool,
    /// The translation of a readable answer.
    translate: TranslateWhole,
    /// The client's error body for an unreadable (or oversized) answer, given a description.
    unreadable: Unreadable,
    passed: PassedOn,
}

impl WholeAnswer {
    pub fn new(
        translate: impl FnMut(&Value, &mut PassedOn) -> Value + Send + 'static,
        unreadable: impl Fn(&[u8]) -> Value + Send + 'static,
    ) -> WholeAnswer {
        WholeAnswer {
            buf: Vec::new(),
            overflow: false,
            translate: Box::new(translate),
            unreadable: Box::new(unreadable),
            passed: PassedOn::default(),
        }
    }
}

impl StreamTransform for WholeAnswer {
    fn chunk(&mut self, upstream: &[u8]) -> Bytes {
        if self.buf.len() + upstream.len() > MAX_WHOLE_ANSWER {
            self.overflow = true;
            self.buf = Vec::new();
        } else if !self.overflow {
            self.buf.extend_from_slice(upstream);
        }
        Bytes::new()
    }

    fn end(&mut self) -> Bytes {
        if self.passed.complete || self.passed.error.is_some() {
            return Bytes::new();
        }
        let parsed = serde_json::from_slice::<Value>(&self.buf)
            .ok()
            .filter(|v| v.is_object() && !self.overflow);
        let answer = match parsed {
            Some(v) => {
                let answer = (self.translate)(&v, &mut self.passed);
                self.passed.complete = self.passed.error.is_none();
                answer
            }
            None => {
                let what: &[u8] = if self.overflow {
                    b"the upstream answer is too large to translate"
                } else {
                    &self.buf
                };
                let body = (self.unreadable)(what);
                self.passed.error = Some("the upstream answer is unreadable".into());
                body
            }
        };
        self.buf = Vec::new();
        Bytes::from(answer.to_string())
    }

    fn content_type(&self) -> &'static str {
        "application/json"
    }

    fn passed_on(&self) -> &PassedOn {
        &self.passed
    }
}

/// Anthropic SSE → OpenAI chat chunks ([`ChatStreamTranslator`] behind the byte interface).
pub struct ClaudeToChatStream {
    reader: SseReader,
    translator: ChatStreamTranslator,
    passed: PassedOn,
    ended: bool,
}

/// The in-stream error an event too large to read becomes (Anthropic's shape, translated on).
pub(super) const OVERSIZED_EVENT: &str = r#"{"type":"error","error":{"type":"api_error","message":"the upstream sent a stream event too large to translate"}}"#;

impl ClaudeToChatStream {
    pub fn new(translator: ChatStreamTranslator) -> ClaudeToChatStream {
        ClaudeToChatStream {
            reader: SseReader::default(),
            translator,
            passed: PassedOn::default(),
            ended: false,
        }
    }

    fn write(&mut self, payloads: Vec<String>, out: &mut Vec<u8>) {
        for p in payloads {
            note_chat_chunk(&p, &mut self.passed);
            data_frame(out, &p);
        }
    }
}

/// Counts what an OpenAI chat chunk carries to the client.
pub(super) fn note_chat_chunk(payload: &str, passed: &mut PassedOn) {
    let Ok(chunk) = serde_json::from_str::<Value>(payload) else {
        return;
    };
    if let Some(error) = chunk.get("error") {
        let message = error.get("message").and_then(Value::as_str).unwrap_or("");
        passed.error = Some(message.to_owned());
        return;
    }
    if let Some(n) = chunk
        .pointer("/usage/completion_tokens")
        .and_then(Value::as_u64)
    {
        passed.reported_output_tokens = n;
    }
    for choice in chunk
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let delta = choice.get("delta").unwrap_or(&Value::Null);
        if let Some(text) = delta.get("content").and_then(Value::as_str) {
            passed.text(text);
        }
        if let Some(text) = delta.get("reasoning_content").and_then(Value::as_str) {
            passed.reasoning(text);
        }
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(args) = call.pointer("/function/arguments").and_then(Value::as_str) {
                passed.tool(args);
            }
        }
    }
}

impl StreamTransform for ClaudeToChatStream {
    fn chunk(&mut self, upstream: &[u8]) -> Bytes {
        let mut payloads = Vec::new();
        let translator = &mut self.translator;
        self.reader.feed(upstream, &mut |item| {
            payloads.extend(match item {
                SseItem::Event { event, data } => translator.on_event(event, data),
                SseItem::Oversized => translator.on_event("error", OVERSIZED_EVENT),
            })
        });
        let mut out = Vec::new();
        self.write(payloads, &mut out);
        Bytes::from(out)
    }

    fn end(&mut self) -> Bytes {
        if std::mem::replace(&mut self.ended, true) {
            return Bytes::new();
        }
        let mut payloads = Vec::new();
        let translator = &mut self.translator;
        self.reader.finish(&mut |item| {
            if let SseItem::Event { event, data } = item {
                payloads.extend(translator.on_event(event, data));
            }
        });
        payloads.extend(self.translator.finish());
        let mut out = Vec::new();
        self.write(payloads, &mut out);
        // As OpenAI does, `[DONE]` closes every stream, an error chunk before it or not.
        data_frame(&mut out, "[DONE]");
        self.passed.complete = self.passed.error.is_none();
        Bytes::from(out)
    }

    fn content_type(&self) -> &'static str {
        "text/event-stream"
    }

    fn passed_on(&self) -> &PassedOn {
        &self.passed
    }
}

/// The whole-answer transform of the Chat → Claude pair.
pub fn claude_to_chat_whole(requested_model: String) -> WholeAnswer {
    claude_to_chat_whole_at(requested_model, super::now_secs())
}

/// [`claude_to_chat_whole`] with a fixed `created` time (tests compare outputs byte for byte).
pub fn claude_to_chat_whole_at(requested_model: String, created: i64) -> WholeAnswer {
    WholeAnswer::new(
        move |msg, passed| {
            let answer =
                super::chat_claude::messages_to_chat_response_at(msg, &requested_model, created);
            note_chat_message(&answer, passed);
            answer
        },
        |raw| messages_error_to_openai(502, raw),
    )
}

/// Counts what a whole OpenAI chat completion carries to the client.
pub(super) fn note_chat_message(answer: &Value, passed: &mut PassedOn) {
    for choice in answer
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let message = choice.get("message").unwrap_or(&Value::Null);
        if let Some(text) = message.get("content").and_then(Value::as_str) {
            passed.text(text);
        }
        for call in message
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(args) = call.pointer("/function/arguments").and_then(Value::as_str) {
                passed.tool(args);
            }
        }
    }
    if let Some(n) = answer
        .pointer("/usage/completion_tokens")
        .and_then(Value::as_u64)
    {
        passed.reported_output_tokens = n;
    }
}
