//! Chat Completions request → Messages request: the top-level fields. Messages themselves are
//! in [`super::messages`].

use serde_json::{json, Map, Value};

use super::messages::convert_messages;
use super::TranslateError;

/// `max_tokens` when the client sets no limit: Anthropic requires one, OpenAI does not.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Fields consumed elsewhere in this module (or by the caller, for `stream_options`).
const TRANSLATED: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop",
    "stream",
    "stream_options",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "user",
    "safety_identifier",
];

/// Fields that cannot change the answer; see the module documentation for why.
const IGNORED: &[&str] = &[
    "seed",
    "prediction",
    "store",
    "metadata",
    "service_tier",
    "prompt_cache_key",
];

type Result<T> = std::result::Result<T, TranslateError>;

/// Translates an OpenAI Chat Completions request body into an Anthropic Messages request body.
pub fn chat_to_messages_request(chat: &Value) -> Result<Value> {
    let Some(body) = chat.as_object() else {
        return Err(TranslateError::new(
            "body",
            "the request body must be a JSON object",
        ));
    };
    for (field, value) in body {
        if !value.is_null() {
            check_field(field, value)?;
        }
    }

    let mut out = Map::new();
    let model = field(body, "model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| TranslateError::new("model", "a model name is required"))?;
    out.insert("model".into(), json!(model));
    out.insert("max_tokens".into(), json!(max_tokens(body)?));

    let messages = field(body, "messages")
        .ok_or_else(|| TranslateError::new("messages", "messages are required"))?;
    let converted = convert_messages(messages)?;
    if !converted.system.is_empty() {
        out.insert("system".into(), Value::Array(converted.system));
    }
    out.insert("messages".into(), Value::Array(converted.messages));

    if let Some(t) = unit_interval(body, "temperature")? {
        out.insert("temperature".into(), t);
    }
    if let Some(p) = unit_interval(body, "top_p")? {
        out.insert("top_p".into(), p);
    }
    if let Some(k) = field(body, "top_k") {
        if k.as_u64().is_none() {
            return Err(TranslateError::new(
                "top_k",
                "must be a non-negative integer",
            ));
        }
        out.insert("top_k".into(), k.clone());
    }
    if let Some(stops) = stop_sequences(body)? {
        out.insert("stop_sequences".into(), stops);
    }
    if let Some(stream) = field(body, "stream") {
        let Some(stream) = stream.as_bool() else {
            return Err(TranslateError::new("stream", "must be a boolean"));
        };
        out.insert("stream".into(), json!(stream));
    }
    translate_tools(body, &mut out)?;
    if let Some(user) = user_id(body)? {
        out.insert("metadata".into(), json!({ "user_id": user }));
    }
    Ok(Value::Object(out))
}

/// Whether the client asked for a final usage chunk (`stream_options.include_usage`).
pub fn stream_include_usage(chat: &Value) -> bool {
    chat.pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// A present, non-null field.
fn field<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    body.get(name).filter(|v| !v.is_null())
}

/// Refuses what cannot be translated; accepts the values that mean "off".
fn check_field(field: &str, value: &Value) -> Result<()> {
    if TRANSLATED.contains(&field) || IGNORED.contains(&field) {
        return Ok(());
    }
    let refuse = |message: &str| Err(TranslateError::new(field, message));
    match field {
        "n" => match value.as_u64() {
            Some(1) => Ok(()),
            _ => refuse("only n = 1 is supported: Claude returns one choice per request"),
        },
        "logprobs" => match value.as_bool() {
            Some(false) => Ok(()),
            _ => refuse("log probabilities are not available from Claude"),
        },
        "top_logprobs" => match value.as_u64() {
            Some(0) => Ok(()),
            _ => refuse("log probabilities are not available from Claude"),
        },
        "presence_penalty" | "frequency_penalty" => match value.as_f64() {
            Some(0.0) => Ok(()),
            _ => refuse("Claude has no presence or frequency penalty; only 0 is accepted"),
        },
        "logit_bias" => match value.as_object() {
            Some(bias) if bias.is_empty() => Ok(()),
            _ => refuse("Claude has no logit bias"),
        },
        "modalities" => match value.as_array() {
            Some(m) if m.iter().all(|x| x == "text") => Ok(()),
            _ => refuse("only text output is supported"),
        },
        "audio" => refuse("audio output is not supported"),
        "response_format" => match value.get("type").and_then(Value::as_str) {
            Some("text") => Ok(()),
            _ => refuse("only response_format {\"type\": \"text\"} is supported: Claude has no JSON mode to translate json_object or json_schema to"),
        },
        "functions" | "function_call" => {
            refuse("the legacy functions API is not supported; use tools and tool_choice")
        }
        "reasoning_effort" => refuse("reasoning effort has no Claude equivalent"),
        "verbosity" => refuse("verbosity has no Claude equivalent"),
        "web_search_options" => refuse("web search is not supported"),
        _ => refuse("unknown field; it cannot be translated for Claude"),
    }
}

fn max_tokens(body: &Map<String, Value>) -> Result<u64> {
    let read = |name: &str| -> Result<Option<u64>> {
        match field(body, name) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 => Ok(Some(n)),
                _ => Err(TranslateError::new(name, "must be a positive integer")),
            },
        }
    };
    match (read("max_completion_tokens")?, read("max_tokens")?) {
        (Some(a), Some(b)) if a != b => Err(TranslateError::new(
            "max_tokens",
            "conflicts with max_completion_tokens; set one of them",
        )),
        (Some(n), _) | (None, Some(n)) => Ok(n),
        (None, None) => Ok(DEFAULT_MAX_TOKENS),
    }
}

/// A number in Anthropic's 0–1 range (temperature, top_p).
fn unit_interval(body: &Map<String, Value>, name: &str) -> Result<Option<Value>> {
    let Some(value) = field(body, name) else {
        return Ok(None);
    };
    match value.as_f64() {
        Some(v) if (0.0..=1.0).contains(&v) => Ok(Some(value.clone())),
        Some(v) if v > 1.0 => Err(TranslateError::new(
            name,
            format!("{v} is above 1, the largest value Claude accepts"),
        )),
        _ => Err(TranslateError::new(name, "must be a number from 0 to 1")),
    }
}

fn stop_sequences(body: &Map<String, Value>) -> Result<Option<Value>> {
    match field(body, "stop") {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(json!([s]))),
        Some(Value::Array(items)) => {
            if let Some(i) = items.iter().position(|s| !s.is_string()) {
                return Err(TranslateError::new(
                    format!("stop[{i}]"),
                    "must be a string",
                ));
            }
            Ok((!items.is_empty()).then(|| Value::Array(items.clone())))
        }
        Some(_) => Err(TranslateError::new(
            "stop",
            "must be a string or an array of strings",
        )),
    }
}

fn user_id(body: &Map<String, Value>) -> Result<Option<String>> {
    for name in ["user", "safety_identifier"] {
        if let Some(value) = field(body, name) {
            let Some(id) = value.as_str() else {
                return Err(TranslateError::new(name, "must be a string"));
            };
            return Ok(Some(id.to_string()));
        }
    }
    Ok(None)
}

/// `tools`, `tool_choice` and `parallel_tool_calls`.
fn translate_tools(body: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<()> {
    let tools = match field(body, "tools") {
        None => Vec::new(),
        Some(Value::Array(tools)) => tools
            .iter()
            .enumerate()
            .map(|(i, tool)| translate_tool(i, tool))
            .collect::<Result<Vec<_>>>()?,
        Some(_) => return Err(TranslateError::new("tools", "must be an array")),
    };
    let names: Vec<&str> = tools
        .iter()
        .filter_map(|t| t.get("name").and_then(Value::as_str))
        .collect();
    let mut choice = match field(body, "tool_choice") {
        None => None,
        Some(choice) => translate_tool_choice(choice, &names)?,
    };
    let parallel = field(body, "parallel_tool_calls");
    if parallel.is_some_and(|p| !p.is_boolean()) {
        return Err(TranslateError::new(
            "parallel_tool_calls",
            "must be a boolean",
        ));
    }
    if parallel == Some(&Value::Bool(false)) && !names.is_empty() {
        let choice = choice.get_or_insert_with(|| json!({ "type": "auto" }));
        if choice["type"] != "none" {
            choice["disable_parallel_tool_use"] = json!(true);
        }
    }
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(choice) = choice {
        out.insert("tool_choice".into(), choice);
    }
    Ok(())
}

fn translate_tool(i: usize, tool: &Value) -> Result<Value> {
    let at = |path: &str| format!("tools[{i}]{path}");
    if tool.get("type").and_then(Value::as_str) != Some("function") {
        return Err(TranslateError::new(
            at(".type"),
            "only function tools are supported",
        ));
    }
    let Some(function) = tool.get("function").and_then(Value::as_object) else {
        return Err(TranslateError::new(
            at(".function"),
            "a function definition is required",
        ));
    };
    for (key, value) in function {
        match key.as_str() {
            "name" | "description" | "parameters" => {}
            "strict" if value.is_null() || *value == Value::Bool(false) => {}
            "strict" => {
                return Err(TranslateError::new(
                    at(".function.strict"),
                    "strict schema adherence cannot be guaranteed by Claude",
                ))
            }
            _ if value.is_null() => {}
            other => {
                return Err(TranslateError::new(
                    at(&format!(".function.{other}")),
                    "unknown field; it cannot be translated for Claude",
                ))
            }
        }
    }
    let Some(name) = function
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return Err(TranslateError::new(
            at(".function.name"),
            "a function name is required",
        ));
    };
    let mut out = Map::new();
    out.insert("name".into(), json!(name));
    if let Some(description) = function.get("description").filter(|d| !d.is_null()) {
        if !description.is_string() {
            return Err(TranslateError::new(
                at(".function.description"),
                "must be a string",
            ));
        }
        out.insert("description".into(), description.clone());
    }
    let schema = match function.get("parameters") {
        None | Some(Value::Null) => json!({ "type": "object", "properties": {} }),
        Some(Value::Object(schema)) => Value::Object(schema.clone()),
        Some(_) => {
            return Err(TranslateError::new(
                at(".function.parameters"),
                "must be a JSON Schema object",
            ))
        }
    };
    out.insert("input_schema".into(), schema);
    Ok(Value::Object(out))
}

/// `None` when the choice means the default (no tools and `auto`/`none`).
fn translate_tool_choice(choice: &Value, names: &[&str]) -> Result<Option<Value>> {
    let refuse = |message: &str| Err(TranslateError::new("tool_choice", message));
    let choice = match choice {
        Value::String(mode) => match mode.as_str() {
            "auto" | "none" if names.is_empty() => return Ok(None),
            "auto" => json!({ "type": "auto" }),
            "none" => json!({ "type": "none" }),
            "required" if names.is_empty() => return refuse("\"required\" needs tools"),
            "required" => json!({ "type": "any" }),
            _ => return refuse("must be \"auto\", \"none\", \"required\" or a function"),
        },
        Value::Object(obj) if obj.get("type").and_then(Value::as_str) == Some("function") => {
            let Some(name) = obj
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
            else {
                return Err(TranslateError::new(
                    "tool_choice.function.name",
                    "a function name is required",
                ));
            };
            if !names.contains(&name) {
                return Err(TranslateError::new(
                    "tool_choice.function.name",
                    format!("{name:?} is not one of the tools"),
                ));
            }
            json!({ "type": "tool", "name": name })
        }
        _ => return refuse("must be \"auto\", \"none\", \"required\" or a function"),
    };
    Ok(Some(choice))
}
