//! Messages response → Chat Completions response, and the pieces the stream shares with it.

use serde_json::{json, Value};

/// Translates a non-streaming Anthropic Messages response. `requested_model` is the model the
/// client asked for, which OpenAI clients expect to see echoed.
pub fn messages_to_chat_response(msg: &Value, requested_model: &str) -> Value {
    messages_to_chat_response_at(msg, requested_model, super::now_secs())
}

/// [`messages_to_chat_response`] with an explicit `created` time (epoch seconds).
pub fn messages_to_chat_response_at(msg: &Value, requested_model: &str, created: i64) -> Value {
    let blocks = msg
        .get("content")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let texts: Vec<&str> = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let tool_calls: Vec<Value> = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_use"))
        .map(|b| {
            let input = b.get("input").cloned().unwrap_or_else(|| json!({}));
            json!({
                "id": b.get("id").cloned().unwrap_or(Value::Null),
                "type": "function",
                "function": {
                    "name": b.get("name").cloned().unwrap_or(Value::Null),
                    "arguments": input.to_string(),
                },
            })
        })
        .collect();

    let mut message = json!({
        "role": "assistant",
        "content": if texts.is_empty() { Value::Null } else { json!(texts.concat()) },
        "refusal": null,
    });
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    let stop_reason = msg.get("stop_reason").and_then(Value::as_str);
    json!({
        "id": chat_id(msg.get("id").and_then(Value::as_str)),
        "object": "chat.completion",
        "created": created,
        "model": requested_model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(stop_reason),
        }],
        "usage": chat_usage(msg.get("usage").unwrap_or(&Value::Null)),
    })
}

/// `chatcmpl-<Anthropic message id>`, so a completion can be traced to the upstream message.
pub(super) fn chat_id(message_id: Option<&str>) -> String {
    format!("chatcmpl-{}", message_id.unwrap_or("unknown"))
}

/// Anthropic `stop_reason` → OpenAI `finish_reason`.
pub(super) fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens") | Some("model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        // end_turn, stop_sequence, pause_turn and reasons added later: the turn ended normally.
        _ => "stop",
    }
}

/// Anthropic usage → OpenAI usage. Cache reads and writes are prompt tokens too: OpenAI's
/// `prompt_tokens` counts every input token, of which `cached_tokens` were read from cache.
pub(super) fn chat_usage(usage: &Value) -> Value {
    let count = |name: &str| usage.get(name).and_then(Value::as_u64).unwrap_or(0);
    let cache_read = count("cache_read_input_tokens");
    let prompt = count("input_tokens")
        .saturating_add(count("cache_creation_input_tokens"))
        .saturating_add(cache_read);
    let completion = count("output_tokens");
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt.saturating_add(completion),
        "prompt_tokens_details": { "cached_tokens": cache_read },
    })
}
