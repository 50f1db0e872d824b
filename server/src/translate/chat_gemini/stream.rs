//! Gemini `streamGenerateContent?alt=sse` → OpenAI `chat.completion.chunk`s.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{json, Value};

use super::response::{completion_id, read_candidate, tool_call};
use super::{chat_usage, finish_reason, GeminiContext};
use crate::translate::error_shapes::{ErrorKind, UpstreamError};
use crate::translate::sse::{data_frame, SseItem, SseReader};
use crate::translate::transform::note_chat_chunk;
use crate::translate::{PassedOn, StreamTransform};

#[derive(Default)]
struct Candidate {
    calls: usize,
    finished: bool,
}

/// Gemini SSE bytes in, OpenAI chat SSE bytes out.
pub struct GeminiToChatStream {
    ctx: GeminiContext,
    reader: SseReader,
    id: Option<String>,
    response_id: String,
    candidates: BTreeMap<u64, Candidate>,
    usage: Value,
    done: bool,
    ended: bool,
    passed: PassedOn,
}

impl GeminiToChatStream {
    pub fn new(ctx: GeminiContext) -> GeminiToChatStream {
        GeminiToChatStream {
            ctx,
            reader: SseReader::default(),
            id: None,
            response_id: "unknown".into(),
            candidates: BTreeMap::new(),
            usage: Value::Null,
            done: false,
            ended: false,
            passed: PassedOn::default(),
        }
    }

    fn write(&mut self, out: &mut Vec<u8>, payload: &Value) {
        let payload = payload.to_string();
        note_chat_chunk(&payload, &mut self.passed);
        data_frame(out, &payload);
    }

    fn chunk_of(&self, index: u64, delta: Value, finish: Option<&str>) -> Value {
        let mut chunk = json!({
            "id": self.id.as_deref().unwrap_or("chatcmpl-unknown"),
            "object": "chat.completion.chunk",
            "created": self.ctx.created,
            "model": self.ctx.model,
            "choices": [{ "index": index, "delta": delta, "logprobs": null, "finish_reason": finish }],
        });
        if self.ctx.include_usage {
            chunk["usage"] = Value::Null;
        }
        chunk
    }

    fn on_item(&mut self, item: SseItem<'_>, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        let data = match item {
            SseItem::Event { data, .. } => data,
            SseItem::Oversized => {
                let message = "the upstream sent a stream event too large to translate";
                return self.fail(out, UpstreamError::new(502, ErrorKind::Server, message));
            }
        };
        let Ok(answer) = serde_json::from_str::<Value>(data) else {
            let message = "the upstream sent an unreadable stream event";
            return self.fail(out, UpstreamError::new(502, ErrorKind::Server, message));
        };
        if answer.get("error").is_some() {
            return self.fail(out, UpstreamError::from_gemini(500, data.as_bytes()));
        }
        if self.id.is_none() {
            self.id = Some(completion_id(&answer));
            if let Some(id) = answer.get("responseId").and_then(Value::as_str) {
                self.response_id = id.to_owned();
            }
        }
        if let Some(meta) = answer.get("usageMetadata").filter(|m| m.is_object()) {
            self.usage = meta.clone();
        }
        let candidates = answer.get("candidates").and_then(Value::as_array);
        if candidates.is_none_or(|c| c.is_empty())
            && answer.pointer("/promptFeedback/blockReason").is_some()
        {
            // A blocked prompt: one empty, filtered choice.
            self.open(0, out);
            let chunk = self.chunk_of(0, json!({}), Some("content_filter"));
            self.write(out, &chunk);
            self.candidates.entry(0).or_default().finished = true;
        }
        for (i, candidate) in candidates.into_iter().flatten().enumerate() {
            let index = candidate
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(i as u64);
            self.on_candidate(index, candidate, out);
        }
        if self.candidates.len() >= self.ctx.candidates
            && self.candidates.values().all(|c| c.finished)
        {
            self.usage_chunk(out);
            self.done = true;
        }
    }

    /// The first chunk of a choice carries the role, as OpenAI's does.
    fn open(&mut self, index: u64, out: &mut Vec<u8>) {
        if self.candidates.contains_key(&index) {
            return;
        }
        self.candidates.insert(index, Candidate::default());
        let chunk = self.chunk_of(index, json!({ "role": "assistant", "content": "" }), None);
        self.write(out, &chunk);
    }

    fn on_candidate(&mut self, index: u64, candidate: &Value, out: &mut Vec<u8>) {
        if self.candidates.get(&index).is_some_and(|c| c.finished) {
            return;
        }
        self.open(index, out);
        let said = read_candidate(candidate);
        if !said.text.is_empty() {
            let chunk = self.chunk_of(index, json!({ "content": said.text }), None);
            self.write(out, &chunk);
        }
        for call in &said.calls {
            let n = self.candidates.get(&index).map_or(0, |c| c.calls);
            let mut tool = tool_call(&self.response_id, index, n, call);
            tool["index"] = json!(n);
            let chunk = self.chunk_of(index, json!({ "tool_calls": [tool] }), None);
            self.write(out, &chunk);
            if let Some(c) = self.candidates.get_mut(&index) {
                c.calls += 1;
            }
        }
        if let Some(reason) = candidate.get("finishReason").and_then(Value::as_str) {
            let called = self.candidates.get(&index).is_some_and(|c| c.calls > 0);
            let chunk = self.chunk_of(index, json!({}), Some(finish_reason(reason, called)));
            self.write(out, &chunk);
            if let Some(c) = self.candidates.get_mut(&index) {
                c.finished = true;
            }
        }
    }

    fn usage_chunk(&mut self, out: &mut Vec<u8>) {
        if self.ctx.include_usage {
            let mut chunk = self.chunk_of(0, json!({}), None);
            chunk["choices"] = json!([]);
            chunk["usage"] = chat_usage(&self.usage);
            self.write(out, &chunk);
        }
    }

    fn fail(&mut self, out: &mut Vec<u8>, error: UpstreamError) {
        self.write(out, &error.openai_body());
        self.done = true;
    }
}

impl StreamTransform for GeminiToChatStream {
    fn chunk(&mut self, upstream: &[u8]) -> Bytes {
        let mut out = Vec::new();
        let mut reader = std::mem::take(&mut self.reader);
        reader.feed(upstream, &mut |item| self.on_item(item, &mut out));
        self.reader = reader;
        Bytes::from(out)
    }

    fn end(&mut self) -> Bytes {
        if std::mem::replace(&mut self.ended, true) {
            return Bytes::new();
        }
        let mut out = Vec::new();
        let mut reader = std::mem::take(&mut self.reader);
        reader.finish(&mut |item| self.on_item(item, &mut out));
        if !self.done {
            let message = "the upstream stream ended before the answer was complete";
            self.fail(
                &mut out,
                UpstreamError::new(502, ErrorKind::Server, message),
            );
        }
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
