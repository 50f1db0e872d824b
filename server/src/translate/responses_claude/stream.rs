//! Anthropic Messages SSE → the Responses API event sequence.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::response::{input_text, item_base, message_item, output_text, tool_call_item};
use super::{response_id, responses_usage, status_of, ResponsesContext};
use crate::translate::error_shapes::{ErrorKind, UpstreamError};
use crate::translate::sse::{named_frame, SseItem, SseReader};
use crate::translate::transform::OVERSIZED_EVENT;
use crate::translate::{PassedOn, StreamTransform};

/// A content block being streamed.
enum Open {
    Text {
        id: String,
        text: String,
    },
    Thinking {
        id: String,
        block: Value,
    },
    Tool {
        call_id: String,
        name: String,
        input: String,
    },
}

/// Anthropic SSE bytes in, Responses SSE bytes out.
pub struct ClaudeToResponsesStream {
    ctx: ResponsesContext,
    reader: SseReader,
    sequence: u64,
    id: String,
    base: String,
    started: bool,
    /// Anthropic block index → (output index, block).
    open: HashMap<u64, (usize, Open)>,
    /// Finished output items by output index (`None` while still streaming).
    output: Vec<Option<Value>>,
    usage: Map<String, Value>,
    stop_reason: Option<String>,
    done: bool,
    passed: PassedOn,
}

impl ClaudeToResponsesStream {
    pub fn new(ctx: ResponsesContext) -> ClaudeToResponsesStream {
        ClaudeToResponsesStream {
            ctx,
            reader: SseReader::default(),
            sequence: 0,
            id: response_id(None),
            base: item_base(None),
            started: false,
            open: HashMap::new(),
            output: Vec::new(),
            usage: Map::new(),
            stop_reason: None,
            done: false,
            passed: PassedOn::default(),
        }
    }

    fn emit(&mut self, out: &mut Vec<u8>, mut event: Value) {
        event["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        let kind = event["type"].as_str().unwrap_or("").to_owned();
        named_frame(out, &kind, &event.to_string());
    }

    fn on_item(&mut self, item: SseItem<'_>, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        let (event, data) = match item {
            SseItem::Event { event, data } => (event, data),
            SseItem::Oversized => ("error", OVERSIZED_EVENT),
        };
        let Ok(data) = serde_json::from_str::<Value>(data) else {
            let message = "the upstream sent an unreadable stream event";
            return self.fail(out, UpstreamError::new(502, ErrorKind::Server, message));
        };
        let event = match event {
            "" => data.get("type").and_then(Value::as_str).unwrap_or(""),
            named => named,
        };
        match event {
            "message_start" => {
                let message = data.get("message");
                if let Some(id) = message.and_then(|m| m.get("id")).and_then(Value::as_str) {
                    self.id = response_id(Some(id));
                    self.base = item_base(Some(id));
                }
                self.merge_usage(message.and_then(|m| m.get("usage")));
                self.start(out);
            }
            "content_block_start" => self.block_start(&data, out),
            "content_block_delta" => self.block_delta(&data, out),
            "content_block_stop" => {
                if let Some(index) = data.get("index").and_then(Value::as_u64) {
                    self.block_stop(index, out);
                }
            }
            "message_delta" => {
                self.merge_usage(data.get("usage"));
                if let Some(stop) = data.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(stop.to_owned());
                }
            }
            "message_stop" => self.complete(out),
            "error" => {
                let error = UpstreamError::from_anthropic(500, data.to_string().as_bytes());
                self.fail(out, error);
            }
            // `ping` and event types added later carry nothing to send.
            _ => {}
        }
    }

    fn start(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let response = self
            .ctx
            .response(&self.id, "in_progress", Vec::new(), Value::Null);
        self.emit(
            out,
            json!({ "type": "response.created", "response": response }),
        );
        let response = self
            .ctx
            .response(&self.id, "in_progress", Vec::new(), Value::Null);
        self.emit(
            out,
            json!({ "type": "response.in_progress", "response": response }),
        );
    }

    fn block_start(&mut self, data: &Value, out: &mut Vec<u8>) {
        self.start(out);
        let (Some(index), Some(block)) = (
            data.get("index").and_then(Value::as_u64),
            data.get("content_block"),
        ) else {
            return;
        };
        let n = self.output.len();
        let open = match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                let id = format!("msg_{}_{n}", self.base);
                let item = message_item(&id, "", "in_progress");
                self.emit(
                    out,
                    json!({"type": "response.output_item.added", "output_index": n, "item": item}),
                );
                self.emit(
                    out,
                    json!({"type": "response.content_part.added", "item_id": id,
                    "output_index": n, "content_index": 0, "part": output_text("")}),
                );
                Open::Text {
                    id,
                    text: String::new(),
                }
            }
            Some(kind @ ("thinking" | "redacted_thinking")) => {
                let id = format!("rs_{}_{n}", self.base);
                let item = json!({ "id": id, "type": "reasoning", "summary": [] });
                self.emit(
                    out,
                    json!({"type": "response.output_item.added", "output_index": n, "item": item}),
                );
                if self.ctx.summaries && kind == "thinking" {
                    self.emit(
                        out,
                        json!({"type": "response.reasoning_summary_part.added",
                        "item_id": id, "output_index": n, "summary_index": 0,
                        "part": {"type": "summary_text", "text": ""}}),
                    );
                }
                let mut block = block.clone();
                if kind == "thinking" {
                    block["thinking"] = json!("");
                    block["signature"] =
                        json!(block.get("signature").and_then(Value::as_str).unwrap_or(""));
                }
                Open::Thinking { id, block }
            }
            Some("tool_use") => {
                let call_id = block
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let name = block
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let item = tool_call_item(&self.ctx, &call_id, &name, "", "in_progress");
                self.emit(
                    out,
                    json!({"type": "response.output_item.added", "output_index": n, "item": item}),
                );
                Open::Tool {
                    call_id,
                    name,
                    input: String::new(),
                }
            }
            _ => return,
        };
        self.output.push(None);
        self.open.insert(index, (n, open));
        if let Some(text) = block
            .get("text")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            let delta = json!({"index": index, "delta": {"type": "text_delta", "text": text}});
            self.block_delta(&delta, out);
        }
    }

    fn block_delta(&mut self, data: &Value, out: &mut Vec<u8>) {
        let Some(index) = data.get("index").and_then(Value::as_u64) else {
            return;
        };
        let delta = data.get("delta").unwrap_or(&Value::Null);
        let piece = |name: &str| delta.get(name).and_then(Value::as_str).unwrap_or("");
        let Some((n, open)) = self.open.get_mut(&index) else {
            return;
        };
        let n = *n;
        let event = match (open, delta.get("type").and_then(Value::as_str)) {
            (Open::Text { id, text }, Some("text_delta")) if !piece("text").is_empty() => {
                text.push_str(piece("text"));
                self.passed.text(piece("text"));
                json!({"type": "response.output_text.delta", "item_id": id, "output_index": n,
                    "content_index": 0, "delta": piece("text"), "logprobs": []})
            }
            (Open::Thinking { id, block }, Some("thinking_delta")) => {
                let thinking = format!(
                    "{}{}",
                    block["thinking"].as_str().unwrap_or(""),
                    piece("thinking")
                );
                block["thinking"] = json!(thinking);
                if !self.ctx.summaries || piece("thinking").is_empty() {
                    return;
                }
                self.passed.reasoning(piece("thinking"));
                json!({"type": "response.reasoning_summary_text.delta", "item_id": id,
                    "output_index": n, "summary_index": 0, "delta": piece("thinking")})
            }
            (Open::Thinking { block, .. }, Some("signature_delta")) => {
                let signature = format!(
                    "{}{}",
                    block["signature"].as_str().unwrap_or(""),
                    piece("signature")
                );
                block["signature"] = json!(signature);
                return;
            }
            (
                Open::Tool {
                    call_id,
                    name,
                    input,
                },
                Some("input_json_delta"),
            ) => {
                input.push_str(piece("partial_json"));
                // A custom tool's raw input is only known once its JSON wrapper is complete.
                if self.ctx.custom_tools.contains(name.as_str()) || piece("partial_json").is_empty()
                {
                    return;
                }
                self.passed.tool(piece("partial_json"));
                json!({"type": "response.function_call_arguments.delta",
                    "item_id": format!("fc_{call_id}"), "output_index": n, "delta": piece("partial_json")})
            }
            _ => return,
        };
        self.emit(out, event);
    }

    fn block_stop(&mut self, index: u64, out: &mut Vec<u8>) {
        let Some((n, open)) = self.open.remove(&index) else {
            return;
        };
        let item = match open {
            Open::Text { id, text } => {
                self.emit(
                    out,
                    json!({"type": "response.output_text.done", "item_id": id,
                    "output_index": n, "content_index": 0, "text": text, "logprobs": []}),
                );
                self.emit(
                    out,
                    json!({"type": "response.content_part.done", "item_id": id,
                    "output_index": n, "content_index": 0, "part": output_text(&text)}),
                );
                message_item(&id, &text, "completed")
            }
            Open::Thinking { id, block } => {
                let text = block.get("thinking").and_then(Value::as_str).unwrap_or("");
                if self.ctx.summaries && block["type"] == "thinking" {
                    self.emit(
                        out,
                        json!({"type": "response.reasoning_summary_text.done",
                        "item_id": id, "output_index": n, "summary_index": 0, "text": text}),
                    );
                    self.emit(
                        out,
                        json!({"type": "response.reasoning_summary_part.done",
                        "item_id": id, "output_index": n, "summary_index": 0,
                        "part": {"type": "summary_text", "text": text}}),
                    );
                }
                self.ctx.reasoning_item(&id, &block)
            }
            Open::Tool {
                call_id,
                name,
                input,
            } => self.tool_done(n, &call_id, &name, input, out),
        };
        self.emit(
            out,
            json!({"type": "response.output_item.done", "output_index": n, "item": item}),
        );
        if let Some(slot) = self.output.get_mut(n) {
            *slot = Some(item);
        }
    }

    fn tool_done(
        &mut self,
        n: usize,
        call_id: &str,
        name: &str,
        json: String,
        out: &mut Vec<u8>,
    ) -> Value {
        if self.ctx.custom_tools.contains(name) {
            let parsed = serde_json::from_str::<Value>(&json).unwrap_or(Value::Null);
            let raw = match parsed.get("input").and_then(Value::as_str) {
                Some(raw) => raw.to_owned(),
                None => input_text(&self.ctx, name, &parsed),
            };
            let item_id = format!("ctc_{call_id}");
            self.passed.tool(&raw);
            self.emit(
                out,
                json!({"type": "response.custom_tool_call_input.delta",
                "item_id": item_id, "output_index": n, "delta": raw}),
            );
            self.emit(
                out,
                json!({"type": "response.custom_tool_call_input.done",
                "item_id": item_id, "output_index": n, "input": raw}),
            );
            return tool_call_item(&self.ctx, call_id, name, &raw, "completed");
        }
        let item_id = format!("fc_{call_id}");
        let arguments = if json.trim().is_empty() {
            // A tool without parameters: Claude streams no input, OpenAI sends `{}`.
            self.passed.tool("{}");
            self.emit(
                out,
                json!({"type": "response.function_call_arguments.delta",
                "item_id": item_id, "output_index": n, "delta": "{}"}),
            );
            "{}".to_owned()
        } else {
            json
        };
        self.emit(
            out,
            json!({"type": "response.function_call_arguments.done",
            "item_id": item_id, "output_index": n, "arguments": arguments}),
        );
        tool_call_item(&self.ctx, call_id, name, &arguments, "completed")
    }

    fn merge_usage(&mut self, usage: Option<&Value>) {
        if let Some(Value::Object(usage)) = usage {
            for (key, value) in usage {
                if !value.is_null() {
                    self.usage.insert(key.clone(), value.clone());
                }
            }
            if let Some(n) = self.usage.get("output_tokens").and_then(Value::as_u64) {
                self.passed.reported_output_tokens = n;
            }
        }
    }

    fn final_output(&self) -> Vec<Value> {
        self.output.iter().flatten().cloned().collect()
    }

    fn complete(&mut self, out: &mut Vec<u8>) {
        self.start(out);
        let mut still_open: Vec<u64> = self.open.keys().copied().collect();
        still_open.sort_unstable();
        for index in still_open {
            self.block_stop(index, out);
        }
        let (status, incomplete) = status_of(self.stop_reason.as_deref());
        let usage = responses_usage(&Value::Object(self.usage.clone()));
        let mut response = self
            .ctx
            .response(&self.id, status, self.final_output(), usage);
        let kind = match incomplete {
            Some(reason) => {
                response["incomplete_details"] = json!({ "reason": reason });
                "response.incomplete"
            }
            None => "response.completed",
        };
        self.emit(out, json!({ "type": kind, "response": response }));
        self.done = true;
        self.passed.complete = true;
    }

    fn fail(&mut self, out: &mut Vec<u8>, error: UpstreamError) {
        self.start(out);
        let usage = responses_usage(&Value::Object(self.usage.clone()));
        let mut response = self
            .ctx
            .response(&self.id, "failed", self.final_output(), usage);
        response["error"] = json!({ "code": error.responses_code(), "message": error.message });
        self.emit(
            out,
            json!({ "type": "response.failed", "response": response }),
        );
        self.done = true;
        self.passed.error = Some(error.message);
    }
}

impl StreamTransform for ClaudeToResponsesStream {
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
            let message = "the upstream stream ended before the response was complete";
            self.fail(
                &mut out,
                UpstreamError::new(502, ErrorKind::Server, message),
            );
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
