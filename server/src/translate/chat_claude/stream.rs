//! Anthropic Messages SSE events → OpenAI `chat.completion.chunk` payloads.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::errors::openai_error;
use super::response::{chat_id, chat_usage, finish_reason};

/// Translates one streamed response. Feed every upstream event to [`Self::on_event`] and write
/// each returned payload as `data: <payload>\n\n`; at the end call [`Self::finish`], write its
/// payloads, then `data: [DONE]`.
#[derive(Debug)]
pub struct ChatStreamTranslator {
    requested_model: String,
    include_usage: bool,
    created: i64,
    id: String,
    /// Anthropic content-block index → OpenAI tool-call index (tool calls count from 0).
    tool_calls: HashMap<u64, usize>,
    /// Anthropic usage, merged from `message_start` and each `message_delta`.
    usage: Map<String, Value>,
    started: bool,
    finish_sent: bool,
    /// After `message_stop` or an error nothing more is emitted.
    done: bool,
}

impl ChatStreamTranslator {
    /// `include_usage` is the request's `stream_options.include_usage`.
    pub fn new(requested_model: &str, include_usage: bool) -> Self {
        Self::with_created(requested_model, include_usage, super::now_secs())
    }

    /// [`Self::new`] with an explicit `created` time (epoch seconds).
    pub fn with_created(requested_model: &str, include_usage: bool, created: i64) -> Self {
        ChatStreamTranslator {
            requested_model: requested_model.to_string(),
            include_usage,
            created,
            id: chat_id(None),
            tool_calls: HashMap::new(),
            usage: Map::new(),
            started: false,
            finish_sent: false,
            done: false,
        }
    }

    /// Feeds one Anthropic SSE event (its `event:` name and `data:` JSON); returns zero or more
    /// OpenAI chunk payloads, in order.
    pub fn on_event(&mut self, event: &str, data: &str) -> Vec<String> {
        if self.done {
            return Vec::new();
        }
        let data: Value = match serde_json::from_str(data) {
            Ok(data) => data,
            Err(e) => {
                return self.fail(
                    502,
                    None,
                    &format!("the upstream sent an unreadable stream event: {e}"),
                )
            }
        };
        let event = if event.is_empty() {
            data.get("type").and_then(Value::as_str).unwrap_or("")
        } else {
            event
        };
        let mut out = Vec::new();
        match event {
            "message_start" => {
                let message = data.get("message");
                if let Some(id) = message.and_then(|m| m.get("id")).and_then(Value::as_str) {
                    self.id = chat_id(Some(id));
                }
                self.merge_usage(message.and_then(|m| m.get("usage")));
                self.start(&mut out);
            }
            "content_block_start" => {
                let block = data.get("content_block").unwrap_or(&Value::Null);
                match block.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        let text = block.get("text").and_then(Value::as_str).unwrap_or("");
                        self.content(&mut out, text);
                    }
                    Some("tool_use") => {
                        let index = self.tool_calls.len();
                        if let Some(block_index) = data.get("index").and_then(Value::as_u64) {
                            self.tool_calls.insert(block_index, index);
                        }
                        let call = json!({
                            "index": index,
                            "id": block.get("id").cloned().unwrap_or(Value::Null),
                            "type": "function",
                            "function": {
                                "name": block.get("name").cloned().unwrap_or(Value::Null),
                                "arguments": "",
                            },
                        });
                        self.delta(&mut out, json!({ "tool_calls": [call] }));
                    }
                    // Thinking is never requested; other block types carry nothing to translate.
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = data.get("delta").unwrap_or(&Value::Null);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        let text = delta.get("text").and_then(Value::as_str).unwrap_or("");
                        self.content(&mut out, text);
                    }
                    Some("input_json_delta") => {
                        let partial = delta
                            .get("partial_json")
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        let index = data
                            .get("index")
                            .and_then(Value::as_u64)
                            .and_then(|i| self.tool_calls.get(&i).copied());
                        if let (false, Some(index)) = (partial.is_empty(), index) {
                            let call =
                                json!({ "index": index, "function": { "arguments": partial } });
                            self.delta(&mut out, json!({ "tool_calls": [call] }));
                        }
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                self.merge_usage(data.get("usage"));
                let stop = data
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str);
                if stop.is_some() && !self.finish_sent {
                    self.start(&mut out);
                    let mut chunk = self.chunk(json!({}));
                    chunk["choices"][0]["finish_reason"] = json!(finish_reason(stop));
                    out.push(chunk.to_string());
                    self.finish_sent = true;
                }
            }
            "message_stop" => {
                self.usage_chunk(&mut out);
                self.done = true;
            }
            "error" => {
                let error = data.get("error");
                let kind = error.and_then(|e| e.get("type")).and_then(Value::as_str);
                let message = error
                    .and_then(|e| e.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or("the upstream reported an error");
                out.extend(self.fail(500, kind, message));
            }
            // `ping`, `content_block_stop`, and event types added later carry nothing to send.
            _ => {}
        }
        out
    }

    /// After `message_stop` or the end of the upstream stream: the remaining payloads. A stream
    /// cut off before the message finished ends with an error payload, so the client does not
    /// mistake a truncated answer for a complete one.
    pub fn finish(&mut self) -> Vec<String> {
        if self.done {
            return Vec::new();
        }
        if !self.finish_sent {
            return self.fail(
                502,
                None,
                "the upstream stream ended before the message was complete",
            );
        }
        let mut out = Vec::new();
        self.usage_chunk(&mut out);
        self.done = true;
        out
    }

    fn fail(&mut self, status: u16, kind: Option<&str>, message: &str) -> Vec<String> {
        self.done = true;
        vec![openai_error(status, kind, message).to_string()]
    }

    fn merge_usage(&mut self, usage: Option<&Value>) {
        if let Some(Value::Object(usage)) = usage {
            for (key, value) in usage {
                if !value.is_null() {
                    self.usage.insert(key.clone(), value.clone());
                }
            }
        }
    }

    /// The first chunk carries the role, as OpenAI's does.
    fn start(&mut self, out: &mut Vec<String>) {
        if !self.started {
            self.started = true;
            out.push(
                self.chunk(json!({ "role": "assistant", "content": "" }))
                    .to_string(),
            );
        }
    }

    fn content(&mut self, out: &mut Vec<String>, text: &str) {
        if !text.is_empty() {
            self.delta(out, json!({ "content": text }));
        }
    }

    fn delta(&mut self, out: &mut Vec<String>, delta: Value) {
        self.start(out);
        out.push(self.chunk(delta).to_string());
    }

    fn usage_chunk(&self, out: &mut Vec<String>) {
        if self.include_usage {
            let mut chunk = self.envelope();
            chunk["choices"] = json!([]);
            chunk["usage"] = chat_usage(&Value::Object(self.usage.clone()));
            out.push(chunk.to_string());
        }
    }

    fn chunk(&self, delta: Value) -> Value {
        let mut chunk = self.envelope();
        chunk["choices"] = json!([{
            "index": 0,
            "delta": delta,
            "logprobs": null,
            "finish_reason": null,
        }]);
        chunk
    }

    /// With `include_usage`, OpenAI sends `"usage": null` on every chunk but the last.
    fn envelope(&self) -> Value {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.requested_model,
        });
        if self.include_usage {
            chunk["usage"] = Value::Null;
        }
        chunk
    }
}
