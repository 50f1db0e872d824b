//! Chat Completions request → Gemini `generateContent` request: the top-level fields.

use serde_json::{json, Map, Value};

use super::contents::convert_messages;
use super::schema::clean_schema;
use super::{GeminiContext, Result};
use crate::translate::TranslateError;

/// Fields that cannot change the answer: OpenAI-side storage, tagging, scheduling, cache
/// routing, end-user ids, and `prediction` (a latency optimisation).
const IGNORED: &[&str] = &[
    "store",
    "metadata",
    "service_tier",
    "prompt_cache_key",
    "user",
    "safety_identifier",
    "prediction",
    "stream_options",
    "parallel_tool_calls",
];

/// A translated request: Gemini's body, the model and method to call, and the answer context.
#[derive(Debug)]
pub struct GeminiTranslation {
    pub body: Value,
    pub model: String,
    pub stream: bool,
    pub context: GeminiContext,
}

impl GeminiTranslation {
    /// The upstream path: `generateContent`, or `streamGenerateContent` as SSE.
    pub fn path(&self) -> String {
        if self.stream {
            format!(
                "/v1beta/models/{}:streamGenerateContent?alt=sse",
                self.model
            )
        } else {
            format!("/v1beta/models/{}:generateContent", self.model)
        }
    }
}

/// Translates an OpenAI Chat Completions request body into a Gemini request body.
pub fn chat_to_gemini_request(chat: &Value) -> Result<GeminiTranslation> {
    let Some(body) = chat.as_object() else {
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
    let model = model.strip_prefix("models/").unwrap_or(model);
    let messages = body
        .get("messages")
        .filter(|m| !m.is_null())
        .ok_or_else(|| TranslateError::new("messages", "messages are required"))?;
    let converted = convert_messages(messages)?;
    let mut config = Map::new();
    let mut out = Map::new();
    let mut stream = false;
    let mut candidates = 1;
    for (field, value) in body {
        if value.is_null() {
            continue;
        }
        let refuse = |message: &str| Err(TranslateError::new(field.as_str(), message));
        match field.as_str() {
            "model" | "messages" | "tools" | "tool_choice" => {}
            "stream" => {
                stream = value
                    .as_bool()
                    .ok_or_else(|| TranslateError::new("stream", "must be a boolean"))?
            }
            "max_tokens" | "max_completion_tokens" => {
                let n = value.as_u64().filter(|n| *n > 0);
                let n = n.ok_or_else(|| {
                    TranslateError::new(field.as_str(), "must be a positive integer")
                })?;
                if config
                    .get("maxOutputTokens")
                    .is_some_and(|m| m != &json!(n))
                {
                    return refuse("conflicts with the other token limit; set one of them");
                }
                config.insert("maxOutputTokens".into(), json!(n));
            }
            "temperature" | "top_p" | "presence_penalty" | "frequency_penalty" => {
                if !value.is_number() {
                    return refuse("must be a number");
                }
                let name = match field.as_str() {
                    "temperature" => "temperature",
                    "top_p" => "topP",
                    "presence_penalty" => "presencePenalty",
                    _ => "frequencyPenalty",
                };
                config.insert(name.into(), value.clone());
            }
            "top_k" | "seed" => {
                if !value.is_i64() {
                    return refuse("must be an integer");
                }
                let name = if field == "top_k" { "topK" } else { "seed" };
                config.insert(name.into(), value.clone());
            }
            "n" => {
                candidates = value
                    .as_u64()
                    .filter(|n| (1..=8).contains(n))
                    .ok_or_else(|| {
                        TranslateError::new(
                            "n",
                            "must be an integer from 1 to 8 (Gemini's candidateCount)",
                        )
                    })?;
                if candidates > 1 {
                    config.insert("candidateCount".into(), json!(candidates));
                }
            }
            "stop" => {
                let stops = match value {
                    Value::String(s) => vec![json!(s)],
                    Value::Array(items) if items.iter().all(Value::is_string) => items.clone(),
                    _ => return refuse("must be a string or an array of strings"),
                };
                if stops.len() > 5 {
                    return refuse("Gemini accepts at most 5 stop sequences");
                }
                if !stops.is_empty() {
                    config.insert("stopSequences".into(), Value::Array(stops));
                }
            }
            "response_format" => response_format(value, &mut config)?,
            "reasoning_effort" => {
                let budget = match value.as_str() {
                    Some("none") | Some("minimal") => 0,
                    Some("low") => 1024,
                    Some("medium") => 8192,
                    Some("high") => 24576,
                    _ => return refuse("must be none, minimal, low, medium or high"),
                };
                config.insert("thinkingConfig".into(), json!({ "thinkingBudget": budget }));
            }
            "logprobs" if value == &Value::Bool(false) => {}
            "top_logprobs" if value.as_u64() == Some(0) => {}
            "logprobs" | "top_logprobs" => {
                return refuse("log probabilities are not translated from Gemini")
            }
            "logit_bias" if value.as_object().is_some_and(Map::is_empty) => {}
            "logit_bias" => return refuse("Gemini has no logit bias"),
            "modalities"
                if value
                    .as_array()
                    .is_some_and(|m| m.iter().all(|x| x == "text")) => {}
            "modalities" | "audio" => return refuse("only text output is supported"),
            "functions" | "function_call" => {
                return refuse(
                    "the legacy functions API is not supported; use tools and tool_choice",
                )
            }
            "web_search_options" => return refuse("web search is not supported"),
            "verbosity" => return refuse("verbosity has no Gemini equivalent"),
            f if IGNORED.contains(&f) => {}
            _ => return refuse("unknown field; it cannot be translated for Gemini"),
        }
    }
    out.insert("contents".into(), Value::Array(converted.contents));
    if !converted.system.is_empty() {
        out.insert(
            "systemInstruction".into(),
            json!({ "parts": converted.system }),
        );
    }
    tools(body, &mut out)?;
    if !config.is_empty() {
        out.insert("generationConfig".into(), Value::Object(config));
    }
    let include_usage = chat
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(GeminiTranslation {
        body: Value::Object(out),
        model: model.to_owned(),
        stream,
        context: GeminiContext::new(model, include_usage, candidates as usize),
    })
}

fn response_format(value: &Value, config: &mut Map<String, Value>) -> Result<()> {
    match value.get("type").and_then(Value::as_str) {
        Some("text") => {}
        Some("json_object") => {
            config.insert("responseMimeType".into(), json!("application/json"));
        }
        Some("json_schema") => {
            let schema = value.pointer("/json_schema/schema").ok_or_else(|| {
                TranslateError::new("response_format.json_schema.schema", "is required")
            })?;
            config.insert("responseMimeType".into(), json!("application/json"));
            config.insert("responseSchema".into(), clean_schema(schema));
        }
        _ => {
            return Err(TranslateError::new(
                "response_format.type",
                "must be text, json_object or json_schema",
            ))
        }
    }
    Ok(())
}

fn tools(body: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<()> {
    let mut declarations = Vec::new();
    for (i, tool) in body
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = |path: &str| format!("tools[{i}]{path}");
        if tool.get("type").and_then(Value::as_str) != Some("function") {
            return Err(TranslateError::new(
                at(".type"),
                "only function tools are supported",
            ));
        }
        let function = tool.get("function").unwrap_or(&Value::Null);
        let name = function
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                TranslateError::new(at(".function.name"), "a function name is required")
            })?;
        let mut declaration = json!({ "name": name });
        if let Some(d) = function.get("description").and_then(Value::as_str) {
            declaration["description"] = json!(d);
        }
        if let Some(parameters) = function.get("parameters").filter(|p| p.is_object()) {
            let cleaned = clean_schema(parameters);
            // A function without parameters has none at all for Gemini.
            if cleaned.get("properties").is_some() || cleaned["type"] != "object" {
                declaration["parameters"] = cleaned;
            }
        }
        declarations.push(declaration);
    }
    if body
        .get("tools")
        .is_some_and(|t| !t.is_null() && !t.is_array())
    {
        return Err(TranslateError::new("tools", "must be an array"));
    }
    let names: Vec<&str> = declarations
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    let mode = match body.get("tool_choice") {
        None | Some(Value::Null) => None,
        Some(Value::String(mode)) => match mode.as_str() {
            "auto" => Some(json!({ "mode": "AUTO" })),
            "none" => Some(json!({ "mode": "NONE" })),
            "required" if !names.is_empty() => Some(json!({ "mode": "ANY" })),
            _ => {
                return Err(TranslateError::new(
                    "tool_choice",
                    "must be auto, none, required (with tools) or a function",
                ))
            }
        },
        Some(choice) => {
            let name = choice
                .pointer("/function/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !names.contains(&name) {
                return Err(TranslateError::new(
                    "tool_choice.function.name",
                    format!("{name:?} is not one of the tools"),
                ));
            }
            Some(json!({ "mode": "ANY", "allowedFunctionNames": [name] }))
        }
    };
    if !declarations.is_empty() {
        out.insert(
            "tools".into(),
            json!([{ "functionDeclarations": declarations }]),
        );
        if let Some(mode) = mode {
            out.insert(
                "toolConfig".into(),
                json!({ "functionCallingConfig": mode }),
            );
        }
    }
    Ok(())
}
