//! The events of each content block: text → a message item, thinking → a reasoning item,
//! tool use → a function or custom tool call item.

use serde_json::{json, Value};

use super::{ClaudeToResponsesStream, Open};
use crate::translate::responses_claude::response::{
    input_text, message_item, output_text, tool_call_item,
};

impl ClaudeToResponsesStream {
    pub(super) fn block_start(&mut self, data: &Value, out: &mut Vec<u8>) {
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

    pub(super) fn block_delta(&mut self, data: &Value, out: &mut Vec<u8>) {
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

    pub(super) fn block_stop(&mut self, index: u64, out: &mut Vec<u8>) {
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
}
