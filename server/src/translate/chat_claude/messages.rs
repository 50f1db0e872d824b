//! Chat Completions `messages` → Anthropic `system` + `messages`.

use serde_json::{json, Map, Value};

use super::TranslateError;

type Result<T> = std::result::Result<T, TranslateError>;

/// Image types Anthropic accepts in a base64 source.
const IMAGE_MEDIA_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

pub struct Converted {
    /// Text blocks of the system prompt.
    pub system: Vec<Value>,
    /// Alternating `user`/`assistant` turns.
    pub messages: Vec<Value>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    User,
    Assistant,
}

/// Anthropic turns being assembled.
#[derive(Default)]
pub(crate) struct Turns(Vec<(Role, Vec<Value>)>);

impl Turns {
    /// Appends to the last turn when it has the same role: Anthropic requires alternation.
    pub(crate) fn push(&mut self, role: Role, blocks: Vec<Value>) {
        if blocks.is_empty() {
            return;
        }
        match self.0.last_mut() {
            Some((last, content)) if *last == role => content.extend(blocks),
            _ => self.0.push((role, blocks)),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `messages` array.
    pub(crate) fn into_messages(self) -> Vec<Value> {
        self.0
            .into_iter()
            .map(|(role, content)| {
                let role = match role {
                    Role::User => "user",
                    Role::Assistant => "assistant",
                };
                json!({ "role": role, "content": content })
            })
            .collect()
    }
}

pub fn convert_messages(messages: &Value) -> Result<Converted> {
    let Some(messages) = messages.as_array() else {
        return Err(TranslateError::new("messages", "must be an array"));
    };
    let mut system = Vec::new();
    let mut turns = Turns::default();
    for (i, message) in messages.iter().enumerate() {
        let at = |path: &str| format!("messages[{i}]{path}");
        let Some(message) = message.as_object() else {
            return Err(TranslateError::new(at(""), "must be an object"));
        };
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        match role {
            "system" | "developer" => {
                check_keys(message, &at, &["role", "content"])?;
                system.extend(text_only_content(message.get("content"), &at)?);
            }
            "user" => {
                check_keys(message, &at, &["role", "content"])?;
                turns.push(Role::User, user_content(message.get("content"), &at)?);
            }
            "assistant" => {
                check_keys(
                    message,
                    &at,
                    &["role", "content", "tool_calls", "refusal", "annotations"],
                )?;
                turns.push(Role::Assistant, assistant_content(message, &at)?);
            }
            "tool" => {
                check_keys(message, &at, &["role", "content", "tool_call_id"])?;
                turns.push(Role::User, vec![tool_result(message, &at)?]);
            }
            "function" => {
                return Err(TranslateError::new(
                    at(".role"),
                    "the legacy function role is not supported; use tool messages",
                ))
            }
            _ => {
                return Err(TranslateError::new(
                    at(".role"),
                    format!("unknown role {role:?}"),
                ))
            }
        }
    }
    if turns.is_empty() {
        return Err(TranslateError::new(
            "messages",
            "at least one user or assistant message with content is required",
        ));
    }
    Ok(Converted {
        system,
        messages: turns.into_messages(),
    })
}

/// Refuses keys with a value that would be lost (`name`, `audio`, `function_call`, ...).
/// `annotations` are citations OpenAI attached to an earlier answer: output metadata that the
/// model never reads back.
fn check_keys(
    message: &Map<String, Value>,
    at: &dyn Fn(&str) -> String,
    known: &[&str],
) -> Result<()> {
    for (key, value) in message {
        if value.is_null() || known.contains(&key.as_str()) {
            continue;
        }
        let reason = match key.as_str() {
            "name" => "participant names have no Claude equivalent",
            "function_call" => "the legacy functions API is not supported; use tool_calls",
            "audio" => "audio is not supported",
            _ => "unknown field; it cannot be translated for Claude",
        };
        return Err(TranslateError::new(at(&format!(".{key}")), reason));
    }
    Ok(())
}

/// System and tool content: a string or text parts.
fn text_only_content(content: Option<&Value>, at: &dyn Fn(&str) -> String) -> Result<Vec<Value>> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(text_block(text, None).into_iter().collect()),
        Some(Value::Array(parts)) => {
            let mut blocks = Vec::new();
            for (j, part) in parts.iter().enumerate() {
                let part_at = |path: &str| at(&format!(".content[{j}]{path}"));
                match part_type(part) {
                    "text" => blocks.extend(text_part(part, &part_at)?),
                    other => {
                        return Err(TranslateError::new(
                            part_at(".type"),
                            format!("{other:?} parts are not supported here; only text"),
                        ))
                    }
                }
            }
            Ok(blocks)
        }
        Some(_) => Err(TranslateError::new(
            at(".content"),
            "must be a string or an array of parts",
        )),
    }
}

fn user_content(content: Option<&Value>, at: &dyn Fn(&str) -> String) -> Result<Vec<Value>> {
    let Some(Value::Array(parts)) = content else {
        return text_only_content(content, at);
    };
    let mut blocks = Vec::new();
    for (j, part) in parts.iter().enumerate() {
        let part_at = |path: &str| at(&format!(".content[{j}]{path}"));
        match part_type(part) {
            "text" => blocks.extend(text_part(part, &part_at)?),
            "image_url" => blocks.push(image_part(part, &part_at)?),
            "input_audio" => {
                return Err(TranslateError::new(
                    part_at(".type"),
                    "audio input is not supported",
                ))
            }
            "file" => {
                return Err(TranslateError::new(
                    part_at(".type"),
                    "file input is not supported",
                ))
            }
            other => {
                return Err(TranslateError::new(
                    part_at(".type"),
                    format!("unknown content part type {other:?}"),
                ))
            }
        }
    }
    Ok(blocks)
}

fn assistant_content(
    message: &Map<String, Value>,
    at: &dyn Fn(&str) -> String,
) -> Result<Vec<Value>> {
    let mut blocks = match message.get("content") {
        Some(Value::Array(parts)) => {
            let mut blocks = Vec::new();
            for (j, part) in parts.iter().enumerate() {
                let part_at = |path: &str| at(&format!(".content[{j}]{path}"));
                match part_type(part) {
                    "text" => blocks.extend(text_part(part, &part_at)?),
                    // What the assistant said when it declined: part of the conversation.
                    "refusal" => {
                        let text =
                            part.get("refusal").and_then(Value::as_str).ok_or_else(|| {
                                TranslateError::new(part_at(".refusal"), "must be a string")
                            })?;
                        blocks.extend(text_block(text, None));
                    }
                    other => {
                        return Err(TranslateError::new(
                            part_at(".type"),
                            format!("{other:?} parts are not supported in assistant messages"),
                        ))
                    }
                }
            }
            blocks
        }
        content => text_only_content(content, at)?,
    };
    match message.get("refusal") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => blocks.extend(text_block(text, None)),
        Some(_) => return Err(TranslateError::new(at(".refusal"), "must be a string")),
    }
    match message.get("tool_calls") {
        None | Some(Value::Null) => {}
        Some(Value::Array(calls)) => {
            for (j, call) in calls.iter().enumerate() {
                blocks.push(tool_use(call, &|path: &str| {
                    at(&format!(".tool_calls[{j}]{path}"))
                })?);
            }
        }
        Some(_) => return Err(TranslateError::new(at(".tool_calls"), "must be an array")),
    }
    Ok(blocks)
}

fn tool_use(call: &Value, at: &dyn Fn(&str) -> String) -> Result<Value> {
    if call.get("type").is_some_and(|t| t != "function") {
        return Err(TranslateError::new(
            at(".type"),
            "only function tool calls are supported",
        ));
    }
    let id = required_str(call.get("id"), || at(".id"))?;
    let function = call.get("function");
    let name = required_str(function.and_then(|f| f.get("name")), || {
        at(".function.name")
    })?;
    let arguments_at = || at(".function.arguments");
    let arguments = match function.and_then(|f| f.get("arguments")) {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(TranslateError::new(arguments_at(), "must be a JSON string")),
    };
    let input = if arguments.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str::<Value>(arguments)
            .map_err(|e| TranslateError::new(arguments_at(), format!("is not valid JSON: {e}")))?
    };
    if !input.is_object() {
        return Err(TranslateError::new(
            arguments_at(),
            "must encode a JSON object",
        ));
    }
    Ok(json!({ "type": "tool_use", "id": id, "name": name, "input": input }))
}

fn tool_result(message: &Map<String, Value>, at: &dyn Fn(&str) -> String) -> Result<Value> {
    let id = required_str(message.get("tool_call_id"), || at(".tool_call_id"))?;
    let content = match message.get("content") {
        Some(Value::String(text)) => json!(text),
        content => Value::Array(text_only_content(content, at)?),
    };
    Ok(json!({ "type": "tool_result", "tool_use_id": id, "content": content }))
}

fn required_str(value: Option<&Value>, at: impl Fn() -> String) -> Result<&str> {
    value
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| TranslateError::new(at(), "a non-empty string is required"))
}

fn part_type(part: &Value) -> &str {
    part.get("type").and_then(Value::as_str).unwrap_or("")
}

/// A text block, or none for empty text (Anthropic refuses empty text blocks).
pub(crate) fn text_block(text: &str, cache_control: Option<&Value>) -> Option<Value> {
    if text.is_empty() {
        return None;
    }
    let mut block = json!({ "type": "text", "text": text });
    if let Some(cc) = cache_control {
        block["cache_control"] = cc.clone();
    }
    Some(block)
}

fn text_part(part: &Value, at: &dyn Fn(&str) -> String) -> Result<Option<Value>> {
    check_part_keys(part, at, &["type", "text", "cache_control"])?;
    let text = part
        .get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| TranslateError::new(at(".text"), "must be a string"))?;
    Ok(text_block(text, cache_control(part)))
}

fn image_part(part: &Value, at: &dyn Fn(&str) -> String) -> Result<Value> {
    check_part_keys(part, at, &["type", "image_url", "cache_control"])?;
    // Some clients send the URL itself rather than `{url, detail}`. `detail` is OpenAI's
    // resolution/cost hint; Claude always reads the image at its own resolution.
    let url = match part.get("image_url") {
        Some(Value::String(url)) => url.as_str(),
        Some(obj) => required_str(obj.get("url"), || at(".image_url.url"))?,
        None => return Err(TranslateError::new(at(".image_url"), "is required")),
    };
    let source = if let Some(data_url) = url.strip_prefix("data:") {
        base64_source(data_url).map_err(|m| TranslateError::new(at(".image_url.url"), m))?
    } else if url.starts_with("https://") || url.starts_with("http://") {
        json!({ "type": "url", "url": url })
    } else {
        return Err(TranslateError::new(
            at(".image_url.url"),
            "must be an http(s) URL or a base64 data: URL",
        ));
    };
    let mut block = json!({ "type": "image", "source": source });
    if let Some(cc) = cache_control(part) {
        block["cache_control"] = cc.clone();
    }
    Ok(block)
}

/// `data:image/png;base64,...` without the `data:` prefix → a base64 image source.
pub(crate) fn base64_source(data_url: &str) -> std::result::Result<Value, String> {
    let Some((meta, data)) = data_url.split_once(',') else {
        return Err("is not a valid data: URL".into());
    };
    let Some(media_type) = meta.strip_suffix(";base64") else {
        return Err("data: URLs must be base64-encoded".into());
    };
    let media_type = media_type.to_ascii_lowercase();
    if !IMAGE_MEDIA_TYPES.contains(&media_type.as_str()) {
        return Err(format!(
            "image type {media_type:?} is not supported; use JPEG, PNG, GIF or WebP"
        ));
    }
    Ok(json!({ "type": "base64", "media_type": media_type, "data": data }))
}

fn cache_control(part: &Value) -> Option<&Value> {
    part.get("cache_control").filter(|c| !c.is_null())
}

fn check_part_keys(part: &Value, at: &dyn Fn(&str) -> String, known: &[&str]) -> Result<()> {
    let Some(part) = part.as_object() else {
        return Err(TranslateError::new(at(""), "must be an object"));
    };
    match part
        .iter()
        .find(|(key, value)| !value.is_null() && !known.contains(&key.as_str()))
    {
        Some((key, _)) => Err(TranslateError::new(
            at(&format!(".{key}")),
            "unknown field; it cannot be translated for Claude",
        )),
        None => Ok(()),
    }
}
