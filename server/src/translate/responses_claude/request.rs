//! Responses request → Messages request: the top-level fields. Input items are in
//! [`super::input`], tools in [`super::tools`].

use serde_json::{json, Map, Value};

use super::input::convert_input;
use super::tools::translate_tools;
use super::{ResponsesContext, Result};
use crate::translate::TranslateError;

/// Fields consumed here.
const TRANSLATED: &[&str] = &[
    "model",
    "input",
    "instructions",
    "max_output_tokens",
    "temperature",
    "top_p",
    "stream",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning",
    "include",
    "user",
    "safety_identifier",
    "text",
    "store",
];

/// Fields that cannot change the answer: OpenAI-side tagging (Codex CLI sends its ids as
/// `client_metadata`), cache routing, scheduling,
/// stream obfuscation, and `truncation` (Claude refuses an over-long context rather than
/// truncating it, which is what `disabled` asks for; `auto` is a permission, not a demand).
const IGNORED: &[&str] = &[
    "client_metadata",
    "metadata",
    "prompt_cache_key",
    "prompt_cache_retention",
    "service_tier",
    "stream_options",
    "truncation",
];

/// A translated request: the Messages body and what the answer's translation needs.
#[derive(Debug)]
pub struct ResponsesTranslation {
    pub messages_request: Value,
    pub context: ResponsesContext,
}

/// Translates an OpenAI Responses request body into an Anthropic Messages request body.
pub fn responses_to_messages_request(request: &Value) -> Result<ResponsesTranslation> {
    let Some(body) = request.as_object() else {
        return Err(TranslateError::new(
            "body",
            "the request body must be a JSON object",
        ));
    };
    for (field, value) in body {
        if !value.is_null()
            && !TRANSLATED.contains(&field.as_str())
            && !IGNORED.contains(&field.as_str())
        {
            refuse_field(field, value)?;
        }
    }
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| TranslateError::new("model", "a model name is required"))?;
    if body.get("store") == Some(&Value::Bool(true)) {
        return Err(TranslateError::new(
            "store",
            "Tollgate keeps no responses on the server; send store: false and the whole conversation each time",
        ));
    }
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(TranslateError::new("stream", "must be a boolean")),
    };
    let max_tokens = match body.get("max_output_tokens") {
        None | Some(Value::Null) => default_max_tokens(model),
        Some(v) => v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
            TranslateError::new("max_output_tokens", "must be a positive integer")
        })?,
    };
    let input = body
        .get("input")
        .filter(|v| !v.is_null())
        .ok_or_else(|| TranslateError::new("input", "input is required"))?;
    let converted = convert_input(body.get("instructions"), input)?;
    let tools = translate_tools(body)?;
    let include = include_flags(body)?;

    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    out.insert("max_tokens".into(), json!(max_tokens));
    if !converted.system.is_empty() {
        out.insert("system".into(), Value::Array(converted.system));
    }
    let messages = converted.messages;
    if let Some(t) = sampling(body, "temperature")? {
        out.insert("temperature".into(), t);
    }
    if let Some(p) = sampling(body, "top_p")? {
        out.insert("top_p".into(), p);
    }
    text_format(body)?;
    if stream {
        out.insert("stream".into(), json!(true));
    }
    let forced_tool = tools
        .choice
        .as_ref()
        .is_some_and(|c| c["type"] == "any" || c["type"] == "tool");
    let (effort, summary) = reasoning(body)?;
    if let Some(budget) = thinking_budget(effort, max_tokens) {
        if out.contains_key("temperature") || out.contains_key("top_p") {
            return Err(TranslateError::new(
                "temperature",
                "Claude samples at its own temperature while reasoning; drop temperature/top_p or reasoning",
            ));
        }
        // Claude refuses thinking with a forced tool, and in a tool loop whose last assistant
        // turn has no thinking block (its reasoning item was not sent back): answer without.
        if !forced_tool && last_tool_turn_has_thinking(&messages) {
            out.insert(
                "thinking".into(),
                json!({ "type": "enabled", "budget_tokens": budget }),
            );
        }
    }
    out.insert("messages".into(), Value::Array(messages));
    if !tools.tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools.tools));
    }
    if let Some(choice) = tools.choice {
        out.insert("tool_choice".into(), choice);
    }
    if let Some(user) = ["user", "safety_identifier"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_str))
    {
        out.insert("metadata".into(), json!({ "user_id": user }));
    }
    let context = ResponsesContext::new(body, model, max_tokens, tools.custom, summary, include);
    Ok(ResponsesTranslation {
        messages_request: Value::Object(out),
        context,
    })
}

fn refuse_field(field: &str, value: &Value) -> Result<()> {
    let refuse = |message: &str| Err(TranslateError::new(field, message));
    match field {
        "previous_response_id" | "conversation" => refuse(
            "Tollgate keeps no responses on the server; send the whole conversation in input",
        ),
        "background" if value == &Value::Bool(false) => Ok(()),
        "background" => {
            refuse("background responses need server-side state, which Tollgate does not keep")
        }
        "prompt" => refuse("stored prompt templates live on OpenAI's servers"),
        "top_logprobs" if value.as_u64() == Some(0) => Ok(()),
        "top_logprobs" => refuse("log probabilities are not available from Claude"),
        "max_tool_calls" => {
            refuse("Claude has no limit on built-in tool calls to translate this to")
        }
        _ => refuse("unknown field; it cannot be translated for Claude"),
    }
}

/// The output limit when the client sets none (Anthropic requires one): the model's own limit,
/// kept at 32000 for models that allow more, so a reservation stays reasonable.
pub fn default_max_tokens(model: &str) -> u64 {
    if model.starts_with("claude-3-5") {
        8192
    } else if model.starts_with("claude-3-") && !model.starts_with("claude-3-7") {
        4096
    } else {
        32000
    }
}

fn sampling(body: &Map<String, Value>, name: &str) -> Result<Option<Value>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_f64() {
            Some(x) if (0.0..=1.0).contains(&x) => Ok(Some(v.clone())),
            Some(x) if x > 1.0 => Err(TranslateError::new(
                name,
                format!("{x} is above 1, the largest value Claude accepts"),
            )),
            _ => Err(TranslateError::new(name, "must be a number from 0 to 1")),
        },
    }
}

/// `text.format` other than plain text has no Claude equivalent; `text.verbosity` is a style
/// hint Claude has no switch for and is ignored.
fn text_format(body: &Map<String, Value>) -> Result<()> {
    match body.get("text").and_then(|t| t.get("format")).filter(|f| !f.is_null()) {
        None => Ok(()),
        Some(f) if f.get("type").and_then(Value::as_str) == Some("text") => Ok(()),
        Some(_) => Err(TranslateError::new(
            "text.format",
            "only plain text output is supported: Claude has no JSON mode to translate json_schema or json_object to",
        )),
    }
}

/// `reasoning.effort` and whether summaries were asked for.
fn reasoning(body: &Map<String, Value>) -> Result<(Option<String>, bool)> {
    let Some(reasoning) = body.get("reasoning").filter(|r| !r.is_null()) else {
        return Ok((None, false));
    };
    let effort = match reasoning.get("effort") {
        None | Some(Value::Null) => None,
        Some(Value::String(e)) => Some(e.clone()),
        Some(_) => return Err(TranslateError::new("reasoning.effort", "must be a string")),
    };
    let summary = ["summary", "generate_summary"]
        .iter()
        .any(|k| reasoning.get(*k).is_some_and(|s| !s.is_null()));
    Ok((effort.or_else(|| Some("medium".into())), summary))
}

/// Thinking budget for an effort, leaving at least 1024 tokens for the answer; `None` for no
/// reasoning or when the output limit leaves no room for Claude's 1024-token minimum budget.
fn thinking_budget(effort: Option<String>, max_tokens: u64) -> Option<u64> {
    let wanted: u64 = match effort?.as_str() {
        "none" => return None,
        "minimal" => 1024,
        "low" => 4096,
        "high" => 24576,
        "xhigh" => 32768,
        _ => 10240,
    };
    let budget = wanted.min(max_tokens.saturating_sub(1024));
    (budget >= 1024).then_some(budget)
}

fn last_tool_turn_has_thinking(messages: &[Value]) -> bool {
    let Some(last_assistant) = messages.iter().rev().find(|m| m["role"] == "assistant") else {
        return true;
    };
    let blocks = last_assistant["content"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let uses_tools = blocks.iter().any(|b| b["type"] == "tool_use");
    !uses_tools
        || matches!(
            blocks.first().and_then(|b| b["type"].as_str()),
            Some("thinking" | "redacted_thinking")
        )
}

/// Whether the client asked for reasoning to come back encrypted (so it can send it back).
fn include_flags(body: &Map<String, Value>) -> Result<bool> {
    let mut encrypted = false;
    match body.get("include") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some("reasoning.encrypted_content") => encrypted = true,
                    Some("message.output_text.logprobs") => {
                        return Err(TranslateError::new(
                            format!("include[{i}]"),
                            "log probabilities are not available from Claude",
                        ))
                    }
                    // Extra output of hosted tools, which never run here.
                    Some(_) => {}
                    None => {
                        return Err(TranslateError::new(
                            format!("include[{i}]"),
                            "must be a string",
                        ))
                    }
                }
            }
        }
        Some(_) => return Err(TranslateError::new("include", "must be an array")),
    }
    Ok(encrypted)
}
