//! Messages answer → Responses object, and the output items the stream shares with it.

use serde_json::{json, Value};

use super::{response_id, responses_usage, status_of, ResponsesContext};

/// Translates a non-streaming Anthropic Messages answer.
pub fn messages_to_responses_response(msg: &Value, ctx: &ResponsesContext) -> Value {
    let message_id = msg.get("id").and_then(Value::as_str);
    let id = response_id(message_id);
    let base = item_base(message_id);
    let mut output = Vec::new();
    for block in msg
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let n = output.len();
        let item = match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                let text = block.get("text").and_then(Value::as_str).unwrap_or("");
                message_item(&format!("msg_{base}_{n}"), text, "completed")
            }
            Some("thinking") | Some("redacted_thinking") => {
                ctx.reasoning_item(&format!("rs_{base}_{n}"), block)
            }
            Some("tool_use") => {
                let call_id = block.get("id").and_then(Value::as_str).unwrap_or("");
                let name = block.get("name").and_then(Value::as_str).unwrap_or("");
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                tool_call_item(
                    ctx,
                    call_id,
                    name,
                    &input_text(ctx, name, &input),
                    "completed",
                )
            }
            // Server tools are never offered, so their blocks carry nothing to translate.
            _ => continue,
        };
        output.push(item);
    }
    let (status, incomplete) = status_of(msg.get("stop_reason").and_then(Value::as_str));
    let usage = responses_usage(msg.get("usage").unwrap_or(&Value::Null));
    let mut response = ctx.response(&id, status, output, usage);
    if let Some(reason) = incomplete {
        response["incomplete_details"] = json!({ "reason": reason });
    }
    response
}

/// The part of item ids taken from the Anthropic message id.
pub(super) fn item_base(message_id: Option<&str>) -> String {
    let id = message_id.unwrap_or("unknown");
    id.strip_prefix("msg_").unwrap_or(id).to_owned()
}

pub(super) fn output_text(text: &str) -> Value {
    json!({ "type": "output_text", "annotations": [], "logprobs": [], "text": text })
}

pub(super) fn message_item(id: &str, text: &str, status: &str) -> Value {
    let content = if status == "completed" {
        json!([output_text(text)])
    } else {
        json!([])
    };
    json!({
        "id": id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    })
}

/// A `function_call`, or a `custom_tool_call` for a tool the client declared as custom.
/// `input` is the arguments JSON, or the raw input of a custom tool. A tool inside a namespace
/// is called by its own name with `namespace` beside it.
pub(super) fn tool_call_item(
    ctx: &ResponsesContext,
    call_id: &str,
    name: &str,
    input: &str,
    status: &str,
) -> Value {
    let mut item = plain_tool_call_item(ctx, call_id, name, input, status);
    if let Some((namespace, tool)) = ctx.namespaced.split(name) {
        item["name"] = json!(tool);
        item["namespace"] = json!(namespace);
    }
    item
}

fn plain_tool_call_item(
    ctx: &ResponsesContext,
    call_id: &str,
    name: &str,
    input: &str,
    status: &str,
) -> Value {
    if ctx.custom_tools.contains(name) {
        json!({
            "id": format!("ctc_{call_id}"),
            "type": "custom_tool_call",
            "status": status,
            "call_id": call_id,
            "name": name,
            "input": input,
        })
    } else {
        json!({
            "id": format!("fc_{call_id}"),
            "type": "function_call",
            "status": status,
            "arguments": input,
            "call_id": call_id,
            "name": name,
        })
    }
}

/// A tool call's input as the client expects it: the raw `input` string of a custom tool, or
/// the arguments JSON of a function.
pub(super) fn input_text(ctx: &ResponsesContext, name: &str, input: &Value) -> String {
    if ctx.custom_tools.contains(name) {
        if let Some(raw) = input.get("input").and_then(Value::as_str) {
            return raw.to_owned();
        }
    }
    input.to_string()
}
