//! Messages request → Chat Completions request: the top-level fields.

use serde_json::{json, Map, Value};

use super::content::{convert_messages, system_message};
use super::Result;
use crate::translate::TranslateError;

/// What the upstream accepts, which OpenAI's own API and compatible servers differ on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChatTarget {
    /// Send the limit as `max_completion_tokens` (OpenAI; required by its reasoning models)
    /// rather than `max_tokens` (what most compatible servers read).
    pub max_completion_tokens: bool,
    /// The model takes `reasoning_effort`.
    pub reasoning_effort: bool,
}

impl ChatTarget {
    /// OpenAI's own API.
    pub fn openai(model: &str) -> ChatTarget {
        ChatTarget {
            max_completion_tokens: true,
            reasoning_effort: is_reasoning_model(model),
        }
    }

    /// An OpenAI-compatible server.
    pub fn compatible(model: &str) -> ChatTarget {
        ChatTarget {
            max_completion_tokens: false,
            reasoning_effort: is_reasoning_model(model),
        }
    }
}

/// OpenAI's reasoning models (o-series, GPT-5 except its chat variant, gpt-oss).
pub fn is_reasoning_model(model: &str) -> bool {
    let model = model.rsplit('/').next().unwrap_or(model);
    let o_series = ["o1", "o3", "o4"]
        .iter()
        .any(|p| model == *p || model.starts_with(&format!("{p}-")));
    o_series
        || (model.starts_with("gpt-5") && !model.contains("chat"))
        || model.starts_with("gpt-oss")
        || model.starts_with("codex-")
}

/// Fields that cannot change the answer: Anthropic-side scheduling, the end-user id Anthropic
/// uses against abuse, and context editing (without it the context is sent whole).
const IGNORED: &[&str] = &["metadata", "service_tier", "context_management"];

/// Translates an Anthropic Messages request body into an OpenAI Chat Completions body.
pub fn messages_to_chat_request(request: &Value, target: ChatTarget) -> Result<Value> {
    let Some(body) = request.as_object() else {
        return Err(TranslateError::new(
            "body",
            "the request body must be a JSON object",
        ));
    };
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| TranslateError::new("model", "a model name is required"))?;
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    let mut messages = Vec::new();
    messages.extend(system_message(body.get("system"))?);
    let turns = body
        .get("messages")
        .ok_or_else(|| TranslateError::new("messages", "messages are required"))?;
    convert_messages(turns, &mut messages)?;
    out.insert("messages".into(), Value::Array(messages));
    for (field, value) in body {
        if value.is_null() {
            continue;
        }
        let refuse = |message: &str| Err(TranslateError::new(field.as_str(), message));
        match field.as_str() {
            "model" | "messages" | "system" | "tools" | "tool_choice" => {}
            "max_tokens" => {
                let n = value.as_u64().filter(|n| *n > 0);
                let n = n.ok_or_else(|| {
                    TranslateError::new("max_tokens", "must be a positive integer")
                })?;
                let name = if target.max_completion_tokens {
                    "max_completion_tokens"
                } else {
                    "max_tokens"
                };
                out.insert(name.into(), json!(n));
            }
            "temperature" | "top_p" => {
                let Some(x) = value.as_f64() else {
                    return refuse("must be a number");
                };
                // Reasoning models take only the default sampling, which Claude clients often
                // send explicitly.
                if !(target.reasoning_effort && x == 1.0) {
                    out.insert(field.clone(), value.clone());
                }
            }
            "top_k" => return refuse("OpenAI has no top_k"),
            "stop_sequences" => {
                let Some(stops) = value.as_array().filter(|s| s.iter().all(Value::is_string))
                else {
                    return refuse("must be an array of strings");
                };
                if stops.len() > 4 {
                    return refuse("OpenAI accepts at most 4 stop sequences");
                }
                if !stops.is_empty() {
                    out.insert("stop".into(), value.clone());
                }
            }
            "stream" => {
                let Some(stream) = value.as_bool() else {
                    return refuse("must be a boolean");
                };
                if stream {
                    out.insert("stream".into(), json!(true));
                    // The usage of a stream comes only when asked for; billing needs it.
                    out.insert("stream_options".into(), json!({ "include_usage": true }));
                }
            }
            "thinking" => {
                if let Some(effort) = reasoning_effort(value)? {
                    if target.reasoning_effort {
                        out.insert("reasoning_effort".into(), json!(effort));
                    }
                }
            }
            "output_format" => {
                let schema = value
                    .get("schema")
                    .filter(|_| value["type"] == "json_schema")
                    .ok_or_else(|| {
                        TranslateError::new("output_format", "must be a json_schema format")
                    })?;
                out.insert(
                    "response_format".into(),
                    json!({ "type": "json_schema", "json_schema": { "name": "output", "schema": schema, "strict": true } }),
                );
            }
            "container" | "mcp_servers" => {
                return refuse("Anthropic-hosted tools cannot be translated for OpenAI")
            }
            f if IGNORED.contains(&f) => {}
            _ => return refuse("unknown field; it cannot be translated for OpenAI"),
        }
    }
    tools(body, &mut out)?;
    Ok(Value::Object(out))
}

/// `thinking` → an effort: budgets under 4096 tokens are low, under 16384 medium, else high.
fn reasoning_effort(thinking: &Value) -> Result<Option<&'static str>> {
    match thinking.get("type").and_then(Value::as_str) {
        Some("disabled") => Ok(None),
        Some("adaptive") => Ok(Some("medium")),
        Some("enabled") => {
            let budget = thinking
                .get("budget_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            Ok(Some(match budget {
                0..4096 => "low",
                4096..16384 => "medium",
                _ => "high",
            }))
        }
        _ => Err(TranslateError::new(
            "thinking.type",
            "must be enabled, adaptive or disabled",
        )),
    }
}

fn tools(body: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<()> {
    let mut names = Vec::new();
    let mut functions = Vec::new();
    for (i, tool) in body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = |path: &str| format!("tools[{i}]{path}");
        match tool.get("type").and_then(Value::as_str) {
            None | Some("custom") => {}
            Some(other) => {
                return Err(TranslateError::new(
                    at(".type"),
                    format!("{other:?} is an Anthropic-hosted tool; OpenAI cannot run it"),
                ))
            }
        }
        let name = tool
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| TranslateError::new(at(".name"), "a tool name is required"))?;
        let mut function = json!({
            "name": name,
            "parameters": tool.get("input_schema").cloned().unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        });
        if let Some(d) = tool.get("description").and_then(Value::as_str) {
            function["description"] = json!(d);
        }
        names.push(name.to_owned());
        functions.push(json!({ "type": "function", "function": function }));
    }
    if functions.is_empty() {
        return Ok(());
    }
    out.insert("tools".into(), Value::Array(functions));
    let Some(choice) = body.get("tool_choice").filter(|c| !c.is_null()) else {
        return Ok(());
    };
    let mapped = match choice.get("type").and_then(Value::as_str) {
        Some("auto") => json!("auto"),
        Some("any") => json!("required"),
        Some("none") => json!("none"),
        Some("tool") => {
            let name = choice.get("name").and_then(Value::as_str).unwrap_or("");
            if !names.iter().any(|n| n == name) {
                return Err(TranslateError::new(
                    "tool_choice.name",
                    format!("{name:?} is not one of the tools"),
                ));
            }
            json!({ "type": "function", "function": { "name": name } })
        }
        _ => {
            return Err(TranslateError::new(
                "tool_choice.type",
                "must be auto, any, tool or none",
            ))
        }
    };
    out.insert("tool_choice".into(), mapped);
    if choice.get("disable_parallel_tool_use") == Some(&Value::Bool(true)) {
        out.insert("parallel_tool_calls".into(), json!(false));
    }
    Ok(())
}
