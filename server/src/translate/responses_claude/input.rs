//! Responses `instructions` + `input` items → Anthropic `system` + `messages`.

use serde_json::{json, Value};

use super::names::NamespacedNames;
use super::Result;
use crate::translate::chat_claude::{base64_source, text_block, Role, Turns};
use crate::translate::TranslateError;

pub struct Converted {
    pub system: Vec<Value>,
    pub messages: Vec<Value>,
}

type At<'a> = &'a dyn Fn(&str) -> String;

/// Custom tool calls carry their raw string as `{"input": ..}`, the shape their Claude tool
/// declares (see `tools`); calls to a tool inside a namespace use its Claude name (see `names`).
pub fn convert_input(
    instructions: Option<&Value>,
    input: &Value,
    namespaced: &NamespacedNames,
) -> Result<Converted> {
    let mut system = Vec::new();
    match instructions {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => system.extend(text_block(text, None)),
        Some(_) => return Err(TranslateError::new("instructions", "must be a string")),
    }
    let mut turns = Turns::default();
    match input {
        Value::String(text) => turns.push(Role::User, text_block(text, None).into_iter().collect()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let at = |path: &str| format!("input[{i}]{path}");
                convert_item(item, &at, namespaced, &mut system, &mut turns)?;
            }
        }
        _ => return Err(TranslateError::new("input", "must be a string or an array")),
    }
    if turns.is_empty() {
        return Err(TranslateError::new(
            "input",
            "at least one message with content is required",
        ));
    }
    Ok(Converted {
        system,
        messages: turns.into_messages(),
    })
}

fn convert_item(
    item: &Value,
    at: At<'_>,
    namespaced: &NamespacedNames,
    system: &mut Vec<Value>,
    turns: &mut Turns,
) -> Result<()> {
    if !item.is_object() {
        return Err(TranslateError::new(at(""), "must be an object"));
    }
    // Easy input messages (`{role, content}`) have no `type`.
    let kind = item
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    match kind {
        "message" => {
            let role = item.get("role").and_then(Value::as_str).unwrap_or("");
            let content = item.get("content");
            match role {
                "system" | "developer" => system.extend(content_blocks(content, at, false)?),
                "user" => turns.push(Role::User, content_blocks(content, at, true)?),
                "assistant" => turns.push(Role::Assistant, content_blocks(content, at, false)?),
                _ => {
                    return Err(TranslateError::new(
                        at(".role"),
                        format!("unknown role {role:?}"),
                    ))
                }
            }
        }
        "function_call" | "custom_tool_call" => {
            let id = required_str(item, "call_id", at)?;
            let mut name = required_str(item, "name", at)?.to_owned();
            match item.get("namespace") {
                None | Some(Value::Null) => {}
                Some(Value::String(namespace)) => name = namespaced.joined(namespace, &name),
                Some(_) => return Err(TranslateError::new(at(".namespace"), "must be a string")),
            }
            let input = if kind == "custom_tool_call" {
                let raw = item.get("input").and_then(Value::as_str).unwrap_or("");
                json!({ "input": raw })
            } else {
                function_arguments(item.get("arguments"), at)?
            };
            let block = json!({ "type": "tool_use", "id": id, "name": name, "input": input });
            turns.push(Role::Assistant, vec![block]);
        }
        "function_call_output" | "custom_tool_call_output" => {
            let id = required_str(item, "call_id", at)?;
            let content = match item.get("output") {
                Some(Value::String(text)) => json!(text),
                Some(Value::Array(_)) => Value::Array(content_blocks(item.get("output"), at, true)?),
                _ => return Err(TranslateError::new(at(".output"), "must be a string or an array")),
            };
            let block = json!({ "type": "tool_result", "tool_use_id": id, "content": content });
            turns.push(Role::User, vec![block]);
        }
        "reasoning" => turns.push(Role::Assistant, reasoning_blocks(item)),
        // Searches OpenAI ran for an earlier turn: their findings are in the answer that
        // followed, and Claude cannot replay them.
        "web_search_call" => {}
        "item_reference" => {
            return Err(TranslateError::new(
                at(".type"),
                "item references need stored responses, which Tollgate does not keep; send the items themselves",
            ))
        }
        "compaction" | "compaction_summary" => {
            return Err(TranslateError::new(
                at(".type"),
                "compacted history is encrypted by OpenAI and cannot be read by Claude",
            ))
        }
        other => {
            return Err(TranslateError::new(
                at(".type"),
                format!("{other:?} items cannot be translated for Claude"),
            ))
        }
    }
    Ok(())
}

/// A reasoning item Tollgate made from a Claude thinking block carries the block in
/// `encrypted_content` ([`super::reasoning_payload`]); Claude needs it back unchanged. Reasoning
/// encrypted by OpenAI cannot be read by Claude and is dropped.
fn reasoning_blocks(item: &Value) -> Vec<Value> {
    item.get("encrypted_content")
        .and_then(Value::as_str)
        .and_then(super::thinking_block_from_payload)
        .into_iter()
        .collect()
}

fn required_str<'a>(item: &'a Value, name: &str, at: At<'_>) -> Result<&'a str> {
    item.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            TranslateError::new(at(&format!(".{name}")), "a non-empty string is required")
        })
}

fn function_arguments(arguments: Option<&Value>, at: At<'_>) -> Result<Value> {
    let text = match arguments {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => {
            return Err(TranslateError::new(
                at(".arguments"),
                "must be a JSON string",
            ))
        }
    };
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v) if v.is_object() => Ok(v),
        Ok(_) => Err(TranslateError::new(
            at(".arguments"),
            "must encode a JSON object",
        )),
        Err(e) => Err(TranslateError::new(
            at(".arguments"),
            format!("is not valid JSON: {e}"),
        )),
    }
}

/// Message content (a string or parts) → Anthropic blocks. `media` allows images and files.
fn content_blocks(content: Option<&Value>, at: At<'_>, media: bool) -> Result<Vec<Value>> {
    let parts = match content {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(text)) => return Ok(text_block(text, None).into_iter().collect()),
        Some(Value::Array(parts)) => parts,
        Some(_) => {
            return Err(TranslateError::new(
                at(".content"),
                "must be a string or an array of parts",
            ))
        }
    };
    let mut blocks = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        let part_at = |path: &str| at(&format!(".content[{j}]{path}"));
        let kind = part.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "input_text" | "output_text" | "text" | "summary_text" => {
                let text = part
                    .get("text")
                    .and_then(Value::as_str)
                    .ok_or_else(|| TranslateError::new(part_at(".text"), "must be a string"))?;
                blocks.extend(text_block(text, None));
            }
            "refusal" => {
                let text = part.get("refusal").and_then(Value::as_str).unwrap_or("");
                blocks.extend(text_block(text, None));
            }
            "input_image" if media => blocks.push(image(part, &part_at)?),
            "input_file" if media => blocks.push(file(part, &part_at)?),
            other => {
                return Err(TranslateError::new(
                    part_at(".type"),
                    format!("{other:?} parts are not supported here"),
                ))
            }
        }
    }
    Ok(blocks)
}

fn image(part: &Value, at: At<'_>) -> Result<Value> {
    if part.get("file_id").is_some_and(|f| !f.is_null()) {
        return Err(TranslateError::new(
            at(".file_id"),
            "OpenAI file ids cannot be read by Claude; send the image as a URL or data: URL",
        ));
    }
    let url = part
        .get("image_url")
        .and_then(Value::as_str)
        .ok_or_else(|| TranslateError::new(at(".image_url"), "is required"))?;
    let source = if let Some(data_url) = url.strip_prefix("data:") {
        base64_source(data_url).map_err(|m| TranslateError::new(at(".image_url"), m))?
    } else if url.starts_with("https://") || url.starts_with("http://") {
        json!({ "type": "url", "url": url })
    } else {
        return Err(TranslateError::new(
            at(".image_url"),
            "must be an http(s) URL or a base64 data: URL",
        ));
    };
    Ok(json!({ "type": "image", "source": source }))
}

/// PDF files become document blocks (the only file type both sides read).
fn file(part: &Value, at: At<'_>) -> Result<Value> {
    if let Some(data_url) = part.get("file_data").and_then(Value::as_str) {
        let data = data_url
            .strip_prefix("data:application/pdf;base64,")
            .ok_or_else(|| {
                TranslateError::new(at(".file_data"), "only base64 PDF data: URLs are supported")
            })?;
        let source = json!({ "type": "base64", "media_type": "application/pdf", "data": data });
        return Ok(json!({ "type": "document", "source": source }));
    }
    if let Some(url) = part.get("file_url").and_then(Value::as_str) {
        return Ok(json!({ "type": "document", "source": { "type": "url", "url": url } }));
    }
    Err(TranslateError::new(
        at(".file_id"),
        "OpenAI file ids cannot be read by Claude; send file_data or file_url",
    ))
}
