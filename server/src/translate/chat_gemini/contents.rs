//! Chat Completions `messages` → Gemini `systemInstruction` + `contents`.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::{signature_of_call_id, Result};
use crate::translate::TranslateError;

pub struct Converted {
    /// Text parts of the system instruction.
    pub system: Vec<Value>,
    pub contents: Vec<Value>,
}

type At<'a> = &'a dyn Fn(&str) -> String;

/// Gemini turns being assembled; consecutive turns of one role are merged.
#[derive(Default)]
struct Contents(Vec<(&'static str, Vec<Value>)>);

impl Contents {
    fn push(&mut self, role: &'static str, parts: Vec<Value>) {
        if parts.is_empty() {
            return;
        }
        match self.0.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(parts),
            _ => self.0.push((role, parts)),
        }
    }
}

pub fn convert_messages(messages: &Value) -> Result<Converted> {
    let Some(messages) = messages.as_array() else {
        return Err(TranslateError::new("messages", "must be an array"));
    };
    let mut system = Vec::new();
    let mut contents = Contents::default();
    // Gemini answers a function call by name; OpenAI by call id.
    let mut call_names: HashMap<&str, &str> = HashMap::new();
    for (i, message) in messages.iter().enumerate() {
        let at = |path: &str| format!("messages[{i}]{path}");
        if !message.is_object() {
            return Err(TranslateError::new(at(""), "must be an object"));
        }
        for key in ["name", "audio", "function_call"] {
            if message.get(key).is_some_and(|v| !v.is_null()) {
                return Err(TranslateError::new(
                    at(&format!(".{key}")),
                    "cannot be translated for Gemini",
                ));
            }
        }
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        let content = message.get("content");
        match role {
            "system" | "developer" => system.extend(parts(content, &at, false)?),
            "user" => contents.push("user", parts(content, &at, true)?),
            "assistant" => {
                let mut model_parts = parts(content, &at, false)?;
                if let Some(refusal) = message.get("refusal").and_then(Value::as_str) {
                    model_parts.push(json!({ "text": refusal }));
                }
                for (j, call) in message
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let call_at = |path: &str| at(&format!(".tool_calls[{j}]{path}"));
                    let (id, part) = function_call(call, &call_at)?;
                    if let Some(name) = call.pointer("/function/name").and_then(Value::as_str) {
                        call_names.insert(id, name);
                    }
                    model_parts.push(part);
                }
                contents.push("model", model_parts);
            }
            "tool" => {
                let id = message
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| TranslateError::new(at(".tool_call_id"), "is required"))?;
                let name = call_names.get(id).copied().ok_or_else(|| {
                    TranslateError::new(
                        at(".tool_call_id"),
                        "matches no earlier assistant tool call; Gemini needs the function's name",
                    )
                })?;
                let text: String = parts(content, &at, false)?
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect();
                // A JSON object result is passed as is; anything else is wrapped.
                let response = match serde_json::from_str::<Value>(&text) {
                    Ok(v @ Value::Object(_)) => v,
                    _ => json!({ "result": text }),
                };
                let part = json!({ "functionResponse": { "name": name, "response": response } });
                contents.push("user", vec![part]);
            }
            _ => {
                return Err(TranslateError::new(
                    at(".role"),
                    format!("unknown role {role:?}"),
                ))
            }
        }
    }
    if contents.0.is_empty() {
        return Err(TranslateError::new(
            "messages",
            "at least one user or assistant message with content is required",
        ));
    }
    let contents = contents
        .0
        .into_iter()
        .map(|(role, parts)| json!({ "role": role, "parts": parts }))
        .collect();
    Ok(Converted { system, contents })
}

fn function_call<'a>(call: &'a Value, at: At<'_>) -> Result<(&'a str, Value)> {
    let id = call
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| TranslateError::new(at(".id"), "is required"))?;
    let name = call
        .pointer("/function/name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| TranslateError::new(at(".function.name"), "is required"))?;
    let arguments = call
        .pointer("/function/arguments")
        .and_then(Value::as_str)
        .unwrap_or("");
    let args = if arguments.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str::<Value>(arguments)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| {
                TranslateError::new(at(".function.arguments"), "must encode a JSON object")
            })?
    };
    let mut part = json!({ "functionCall": { "name": name, "args": args } });
    if let Some(signature) = signature_of_call_id(id) {
        part["thoughtSignature"] = json!(signature);
    }
    Ok((id, part))
}

/// Content (a string or parts) → Gemini parts. `media` allows images, audio and files.
fn parts(content: Option<&Value>, at: At<'_>, media: bool) -> Result<Vec<Value>> {
    let items = match content {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(text)) if text.is_empty() => return Ok(Vec::new()),
        Some(Value::String(text)) => return Ok(vec![json!({ "text": text })]),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(TranslateError::new(
                at(".content"),
                "must be a string or an array of parts",
            ))
        }
    };
    let mut out = Vec::new();
    for (j, part) in items.iter().enumerate() {
        let part_at = |path: &str| at(&format!(".content[{j}]{path}"));
        match part.get("type").and_then(Value::as_str).unwrap_or("") {
            "text" | "refusal" => {
                let key = if part["type"] == "text" {
                    "text"
                } else {
                    "refusal"
                };
                let text = part.get(key).and_then(Value::as_str).ok_or_else(|| {
                    TranslateError::new(part_at(&format!(".{key}")), "must be a string")
                })?;
                if !text.is_empty() {
                    out.push(json!({ "text": text }));
                }
            }
            "image_url" if media => {
                let url = match part.get("image_url") {
                    Some(Value::String(url)) => url.as_str(),
                    Some(obj) => obj.get("url").and_then(Value::as_str).unwrap_or(""),
                    None => "",
                };
                out.push(inline_data(url, &|p| {
                    part_at(&format!(".image_url.url{p}"))
                })?);
            }
            "input_audio" if media => {
                let audio = part.get("input_audio").unwrap_or(&Value::Null);
                let data = audio.get("data").and_then(Value::as_str).unwrap_or("");
                let format = audio.get("format").and_then(Value::as_str).unwrap_or("wav");
                out.push(json!({ "inlineData": { "mimeType": format!("audio/{format}"), "data": data } }));
            }
            "file" if media => {
                let url = part
                    .pointer("/file/file_data")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        TranslateError::new(
                            part_at(".file"),
                            "only inline file_data can be sent to Gemini, not file ids",
                        )
                    })?;
                out.push(inline_data(url, &|p| {
                    part_at(&format!(".file.file_data{p}"))
                })?);
            }
            other => {
                return Err(TranslateError::new(
                    part_at(".type"),
                    format!("{other:?} parts are not supported here"),
                ))
            }
        }
    }
    Ok(out)
}

/// A base64 `data:` URL → `inlineData`. Gemini reads no arbitrary web URLs in requests.
fn inline_data(url: &str, at: At<'_>) -> Result<Value> {
    let parsed = url
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(','))
        .and_then(|(meta, data)| Some((meta.strip_suffix(";base64")?, data)));
    match parsed {
        Some((mime, data)) if !mime.is_empty() => Ok(json!({
            "inlineData": { "mimeType": mime.to_ascii_lowercase(), "data": data }
        })),
        _ => Err(TranslateError::new(
            at(""),
            "Gemini reads media only inline: send a base64 data: URL",
        )),
    }
}
