//! Gemini answer → Chat Completions answer, and the reading of candidates the stream shares.

use serde_json::{json, Value};

use super::{call_id, chat_usage, finish_reason, GeminiContext};

/// What one candidate (or one streamed piece of it) says.
pub(super) struct Said {
    pub text: String,
    /// `(name, arguments JSON, thought signature)` per function call.
    pub calls: Vec<(String, String, Option<String>)>,
}

/// The visible text and function calls of a candidate; thought parts are skipped.
pub(super) fn read_candidate(candidate: &Value) -> Said {
    let mut said = Said {
        text: String::new(),
        calls: Vec::new(),
    };
    for part in candidate
        .pointer("/content/parts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if part.get("thought") == Some(&Value::Bool(true)) {
            continue;
        }
        if let Some(text) = part.get("text").and_then(Value::as_str) {
            said.text.push_str(text);
        }
        if let Some(call) = part.get("functionCall") {
            let name = call.get("name").and_then(Value::as_str).unwrap_or("");
            let args = call.get("args").cloned().unwrap_or_else(|| json!({}));
            let signature = part.get("thoughtSignature").and_then(Value::as_str);
            said.calls.push((
                name.to_owned(),
                args.to_string(),
                signature.map(str::to_owned),
            ));
        }
    }
    said
}

/// `chatcmpl-<responseId>`.
pub(super) fn completion_id(answer: &Value) -> String {
    let id = answer
        .get("responseId")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    format!("chatcmpl-{id}")
}

/// The OpenAI tool call for a Gemini function call.
pub(super) fn tool_call(
    response_id: &str,
    candidate: u64,
    n: usize,
    call: &(String, String, Option<String>),
) -> Value {
    json!({
        "id": call_id(response_id, candidate, n, call.2.as_deref()),
        "type": "function",
        "function": { "name": call.0, "arguments": call.1 },
    })
}

/// Translates a non-streaming Gemini answer.
pub fn gemini_to_chat_response(answer: &Value, ctx: &GeminiContext) -> Value {
    let response_id = answer
        .get("responseId")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let mut choices = Vec::new();
    for (i, candidate) in answer
        .get("candidates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let index = candidate
            .get("index")
            .and_then(Value::as_u64)
            .unwrap_or(i as u64);
        let said = read_candidate(candidate);
        let mut message = json!({
            "role": "assistant",
            "content": if said.text.is_empty() && !said.calls.is_empty() { Value::Null } else { json!(said.text) },
            "refusal": null,
        });
        if !said.calls.is_empty() {
            let calls: Vec<Value> = said
                .calls
                .iter()
                .enumerate()
                .map(|(n, call)| tool_call(response_id, index, n, call))
                .collect();
            message["tool_calls"] = Value::Array(calls);
        }
        let reason = candidate
            .get("finishReason")
            .and_then(Value::as_str)
            .unwrap_or("STOP");
        choices.push(json!({
            "index": index,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(reason, !said.calls.is_empty()),
        }));
    }
    if choices.is_empty() {
        // The prompt itself was blocked (`promptFeedback.blockReason`): nothing was generated.
        choices.push(json!({
            "index": 0,
            "message": { "role": "assistant", "content": null, "refusal": null },
            "logprobs": null,
            "finish_reason": "content_filter",
        }));
    }
    json!({
        "id": completion_id(answer),
        "object": "chat.completion",
        "created": ctx.created,
        "model": ctx.model,
        "choices": choices,
        "usage": chat_usage(answer.get("usageMetadata").unwrap_or(&Value::Null)),
    })
}
