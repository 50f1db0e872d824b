//! Anthropic Messages SSE → the Responses API event sequence. The content blocks' own events
//! are in [`blocks`].

mod blocks;

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::response::item_base;
use super::{response_id, responses_usage, status_of, ResponsesContext};
use crate::translate::error_shapes::{ErrorKind, UpstreamError};
use crate::translate::sse::{named_frame, SseItem, SseReader};
use crate::translate::transform::OVERSIZED_EVENT;
use crate::translate::{PassedOn, StreamTransform};

/// A content block being streamed.
pub(super) enum Open {
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
