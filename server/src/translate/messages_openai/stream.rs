//! OpenAI `chat.completion.chunk`s → Anthropic Messages SSE events.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::{json, Value};

use super::response::{anthropic_usage, message_id, stop_reason};
use crate::translate::error_shapes::{ErrorKind, UpstreamError};
use crate::translate::sse::{named_frame, SseItem, SseReader};
use crate::translate::{PassedOn, StreamTransform};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    Thinking,
    /// A tool call, by its OpenAI index.
    Tool(u64),
}

/// OpenAI chat SSE bytes in, Anthropic SSE bytes out.
pub struct ChatToMessagesStream {
    requested_model: String,
    reader: SseReader,
    started: bool,
    /// The open block and its Anthropic index.
    open: Option<(Block, u64)>,
    next_index: u64,
    /// OpenAI tool-call index → Anthropic block index.
    tools: HashMap<u64, u64>,
    finish_reason: Option<String>,
    usage: Value,
    done: bool,
    passed: PassedOn,
}

impl ChatToMessagesStream {
    pub fn new(requested_model: &str) -> ChatToMessagesStream {
        ChatToMessagesStream {
            requested_model: requested_model.to_owned(),
            reader: SseReader::default(),
            started: false,
            open: None,
            next_index: 0,
            tools: HashMap::new(),
            finish_reason: None,
            usage: Value::Null,
            done: false,
            passed: PassedOn::default(),
        }
    }

    fn emit(out: &mut Vec<u8>, event: Value) {
        let kind = event["type"].as_str().unwrap_or("").to_owned();
        named_frame(out, &kind, &event.to_string());
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
        if data.trim() == "[DONE]" {
            return self.finish(out);
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            let message = "the upstream sent an unreadable stream event";
            return self.fail(out, UpstreamError::new(502, ErrorKind::Server, message));
        };
        if chunk.get("error").is_some_and(|e| !e.is_null()) {
            return self.fail(out, UpstreamError::from_openai(500, data.as_bytes()));
        }
        self.start(&chunk, out);
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = usage.clone();
            if let Some(n) = usage.get("completion_tokens").and_then(Value::as_u64) {
                self.passed.reported_output_tokens = n;
            }
        }
        // Anthropic answers have one choice; `n` is never asked for.
        let Some(choice) = chunk
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|c| {
                c.iter()
                    .find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
            })
        else {
            return;
        };
        let delta = choice.get("delta").unwrap_or(&Value::Null);
        let reasoning = delta
            .get("reasoning_content")
            .or_else(|| delta.get("reasoning"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if !reasoning.is_empty() {
            let index = self.block(
                Block::Thinking,
                json!({"type": "thinking", "thinking": "", "signature": ""}),
                out,
            );
            self.passed.reasoning(reasoning);
            Self::emit(
                out,
                json!({"type": "content_block_delta", "index": index,
                "delta": {"type": "thinking_delta", "thinking": reasoning}}),
            );
        }
        for key in ["content", "refusal"] {
            if let Some(text) = delta
                .get(key)
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
            {
                let index = self.block(Block::Text, json!({"type": "text", "text": ""}), out);
                self.passed.text(text);
                Self::emit(
                    out,
                    json!({"type": "content_block_delta", "index": index,
                    "delta": {"type": "text_delta", "text": text}}),
                );
            }
        }
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.tool_call(call, out);
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_owned());
        }
    }

    fn start(&mut self, chunk: &Value, out: &mut Vec<u8>) {
        if std::mem::replace(&mut self.started, true) {
            return;
        }
        let message = json!({
            "id": message_id(chunk.get("id").and_then(Value::as_str)),
            "type": "message",
            "role": "assistant",
            "model": self.requested_model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            // OpenAI reports usage only at the end; `message_delta` carries it then.
            "usage": {"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 0},
        });
        Self::emit(out, json!({"type": "message_start", "message": message}));
    }

    /// The index of an open block of `kind`, opening it (and closing another) if needed.
    fn block(&mut self, kind: Block, start: Value, out: &mut Vec<u8>) -> u64 {
        if let Some((open, index)) = self.open {
            if open == kind {
                return index;
            }
        }
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        Self::emit(
            out,
            json!({"type": "content_block_start", "index": index, "content_block": start}),
        );
        self.open = Some((kind, index));
        index
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some((_, index)) = self.open.take() {
            Self::emit(out, json!({"type": "content_block_stop", "index": index}));
        }
    }

    fn tool_call(&mut self, call: &Value, out: &mut Vec<u8>) {
        let tool = call.get("index").and_then(Value::as_u64).unwrap_or(0);
        let index = match self.tools.get(&tool) {
            Some(index) => *index,
            None => {
                let start = json!({
                    "type": "tool_use",
                    "id": call.get("id").and_then(Value::as_str).unwrap_or(""),
                    "name": call.pointer("/function/name").and_then(Value::as_str).unwrap_or(""),
                    "input": {},
                });
                let index = self.block(Block::Tool(tool), start, out);
                self.tools.insert(tool, index);
                index
            }
        };
        if let Some(args) = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
        {
            self.passed.tool(args);
            Self::emit(
                out,
                json!({"type": "content_block_delta", "index": index,
                "delta": {"type": "input_json_delta", "partial_json": args}}),
            );
        }
    }

    /// After `[DONE]` (or the end of a stream that had finished): the closing events.
    fn finish(&mut self, out: &mut Vec<u8>) {
        let Some(reason) = self.finish_reason.clone() else {
            let message = "the upstream stream ended before the answer was complete";
            return self.fail(out, UpstreamError::new(502, ErrorKind::Server, message));
        };
        self.close(out);
        Self::emit(
            out,
            json!({"type": "message_delta",
            "delta": {"stop_reason": stop_reason(Some(&reason)), "stop_sequence": null},
            "usage": anthropic_usage(&self.usage)}),
        );
        Self::emit(out, json!({"type": "message_stop"}));
        self.done = true;
        self.passed.complete = true;
    }

    fn fail(&mut self, out: &mut Vec<u8>, error: UpstreamError) {
        Self::emit(out, error.anthropic_body());
        self.passed.error = Some(error.message);
        self.done = true;
    }
}

impl StreamTransform for ChatToMessagesStream {
    fn chunk(&mut self, upstream: &[u8]) -> Bytes {
        let mut out = Vec::new();
        let mut reader = std::mem::take(&mut self.reader);
        reader.feed(upstream, &mut |item| self.on_item(item, &mut out));
        self.reader = reader;
        Bytes::from(out)
    }

    fn end(&mut self) -> Bytes {
        let mut out = Vec::new();
        let mut reader = std::mem::take(&mut self.reader);
        reader.finish(&mut |item| self.on_item(item, &mut out));
        if !self.done {
            self.finish(&mut out);
        }
        Bytes::from(out)
    }

    fn content_type(&self) -> &'static str {
        "text/event-stream"
    }

    fn passed_on(&self) -> &PassedOn {
        &self.passed
    }
}
