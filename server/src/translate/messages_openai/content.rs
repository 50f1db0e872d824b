//! Anthropic `system` + `messages` → Chat Completions `messages`.

use serde_json::{json, Value};

use super::Result;
use crate::translate::TranslateError;

type At<'a> = &'a dyn Fn(&str) -> String;

/// The system prompt as one system message (text blocks joined by blank lines).
pub fn system_message(system: Option<&Value>) -> Result<Option<Value>> {
    let text = match system {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(blocks)) => {
            let mut texts = Vec::new();
            for (i, block) in blocks.iter().enumerate() {
                match block.get("text").and_then(Value::as_str) {
                    Some(text) if block["type"] == "text" => texts.push(text),
                    _ => {
                        return Err(TranslateError::new(
                            format!("system[{i}]"),
                            "only text blocks are supported",
                        ))
                    }
                }
            }
            texts.join("\n\n")
        }
        Some(_) => {
            return Err(TranslateError::new(
                "system",
                "must be a string or text blocks",
            ))
        }
    };
    Ok((!text.is_empty()).then(|| json!({ "role": "system", "content": text })))
}

pub fn convert_messages(messages: &Value, out: &mut Vec<Value>) -> Result<()> {
    let Some(messages) = messages.as_array() else {
        return Err(TranslateError::new("messages", "must be an array"));
    };
    if messages.is_empty() {
        return Err(TranslateError::new(
            "messages",
            "at least one message is required",
        ));
    }
    for (i, message) in messages.iter().enumerate() {
        let at = |path: &str| format!("messages[{i}]{path}");
        let blocks = match message.get("content") {
            Some(Value::String(text)) => vec![json!({ "type": "text", "text": text })],
            Some(Value::Array(blocks)) => blocks.clone(),
            _ => {
                return Err(TranslateError::new(
                    at(".content"),
                    "must be a string or an array of blocks",
                ))
            }
        };
        match message.get("role").and_then(Value::as_str) {
            Some("user") => user_turn(&blocks, &at, out)?,
            Some("assistant") => out.push(assistant_turn(&blocks, &at)?),
            _ => {
                return Err(TranslateError::new(
                    at(".role"),
                    "must be user or assistant",
                ))
            }
        }
    }
    Ok(())
}

/// A user turn: its tool results first, as `tool` messages (OpenAI wants them right after the
/// assistant's calls), then the rest as one user message. Images inside tool results, which
/// tool messages cannot hold, join that user message.
fn user_turn(blocks: &[Value], at: At<'_>, out: &mut Vec<Value>) -> Result<()> {
    let mut parts = Vec::new();
    let mut tool_images = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let block_at = |path: &str| at(&format!(".content[{j}]{path}"));
        match block.get("type").and_then(Value::as_str).unwrap_or("") {
            "tool_result" => {
                let id = block
                    .get("tool_use_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| TranslateError::new(block_at(".tool_use_id"), "is required"))?;
                let mut texts = Vec::new();
                match block.get("content") {
                    None | Some(Value::Null) => {}
                    Some(Value::String(text)) => texts.push(text.clone()),
                    Some(Value::Array(items)) => {
                        for (k, item) in items.iter().enumerate() {
                            let item_at = |p: &str| block_at(&format!(".content[{k}]{p}"));
                            match item.get("type").and_then(Value::as_str) {
                                Some("text") => {
                                    texts.push(item["text"].as_str().unwrap_or("").to_owned())
                                }
                                Some("image") => tool_images.push(image_part(item, &item_at)?),
                                _ => {
                                    return Err(TranslateError::new(
                                        item_at(".type"),
                                        "only text and images are supported in tool results",
                                    ))
                                }
                            }
                        }
                    }
                    Some(_) => {
                        return Err(TranslateError::new(
                            block_at(".content"),
                            "must be a string or blocks",
                        ))
                    }
                }
                out.push(
                    json!({ "role": "tool", "tool_call_id": id, "content": texts.join("\n") }),
                );
            }
            _ => {
                if let Some(part) = user_part(block, &block_at)? {
                    parts.push(part);
                }
            }
        }
    }
    parts.extend(tool_images);
    if parts.is_empty() {
        return Ok(());
    }
    let content = match parts.as_slice() {
        [only] if only["type"] == "text" => only["text"].clone(),
        _ => Value::Array(parts),
    };
    out.push(json!({ "role": "user", "content": content }));
    Ok(())
}

fn user_part(block: &Value, at: At<'_>) -> Result<Option<Value>> {
    Ok(
        match block.get("type").and_then(Value::as_str).unwrap_or("") {
            "text" => {
                let text = block.get("text").and_then(Value::as_str).unwrap_or("");
                (!text.is_empty()).then(|| json!({ "type": "text", "text": text }))
            }
            "image" => Some(image_part(block, at)?),
            "document" => Some(document_part(block, at)?),
            // Earlier reasoning is not sent back to OpenAI models (they cannot read Claude's).
            "thinking" | "redacted_thinking" => None,
            other => {
                return Err(TranslateError::new(
                    at(".type"),
                    format!("{other:?} blocks cannot be translated for OpenAI"),
                ))
            }
        },
    )
}

fn image_part(block: &Value, at: At<'_>) -> Result<Value> {
    let source = block.get("source").unwrap_or(&Value::Null);
    let url = match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let media = source
                .get("media_type")
                .and_then(Value::as_str)
                .unwrap_or("image/png");
            let data = source.get("data").and_then(Value::as_str).unwrap_or("");
            format!("data:{media};base64,{data}")
        }
        Some("url") => source
            .get("url")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        _ => {
            return Err(TranslateError::new(
                at(".source.type"),
                "must be base64 or url",
            ))
        }
    };
    Ok(json!({ "type": "image_url", "image_url": { "url": url } }))
}

fn document_part(block: &Value, at: At<'_>) -> Result<Value> {
    let source = block.get("source").unwrap_or(&Value::Null);
    match source.get("type").and_then(Value::as_str) {
        Some("base64") if source["media_type"] == "application/pdf" => {
            let data = source.get("data").and_then(Value::as_str).unwrap_or("");
            let name = block
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or("document.pdf");
            Ok(json!({ "type": "file", "file": {
                "filename": name,
                "file_data": format!("data:application/pdf;base64,{data}"),
            }}))
        }
        Some("text") => {
            let text = source.get("data").and_then(Value::as_str).unwrap_or("");
            Ok(json!({ "type": "text", "text": text }))
        }
        _ => Err(TranslateError::new(
            at(".source"),
            "only base64 PDF and plain-text documents can be sent to OpenAI",
        )),
    }
}

fn assistant_turn(blocks: &[Value], at: At<'_>) -> Result<Value> {
    let mut text = String::new();
    let mut calls = Vec::new();
    for (j, block) in blocks.iter().enumerate() {
        let block_at = |path: &str| at(&format!(".content[{j}]{path}"));
        match block.get("type").and_then(Value::as_str).unwrap_or("") {
            "text" => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or("")),
            "tool_use" => {
                let id = block.get("id").and_then(Value::as_str).unwrap_or("");
                let name = block.get("name").and_then(Value::as_str).unwrap_or("");
                if id.is_empty() || name.is_empty() {
                    return Err(TranslateError::new(
                        block_at(""),
                        "a tool_use needs an id and a name",
                    ));
                }
                let input = block.get("input").cloned().unwrap_or_else(|| json!({}));
                calls.push(json!({
                    "id": id,
                    "type": "function",
                    "function": { "name": name, "arguments": input.to_string() },
                }));
            }
            "thinking" | "redacted_thinking" => {}
            other => {
                return Err(TranslateError::new(
                    block_at(".type"),
                    format!("{other:?} blocks cannot be translated for OpenAI"),
                ))
            }
        }
    }
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) },
    });
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    Ok(message)
}
