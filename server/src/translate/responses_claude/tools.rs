//! Responses `tools`, `tool_choice`, `parallel_tool_calls` → Anthropic tools.

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use super::names::NamespacedNames;
use super::Result;
use crate::translate::TranslateError;

/// The tools Claude is given, which of them are custom (freeform) tools, and the Claude names
/// of the tools inside `namespace` tools (all by Claude name).
#[derive(Default)]
pub struct Tools {
    pub tools: Vec<Value>,
    pub custom: HashSet<String>,
    pub namespaced: NamespacedNames,
    pub choice: Option<Value>,
}

/// A tool inside a namespace, named once all top-level names are known.
struct Pending {
    index: usize,
    namespace: String,
    name: String,
    custom: bool,
}

/// Why a hosted tool cannot be offered through Claude.
fn hosted_refusal(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "file_search" => "file search runs on OpenAI's vector stores, which Claude cannot reach",
        "computer_use_preview" | "computer_use" => {
            "OpenAI's computer use tool has no translation for Claude"
        }
        "code_interpreter" => "the code interpreter runs on OpenAI's containers",
        "image_generation" => "image generation is not available through Claude",
        "mcp" => {
            "remote MCP servers are called by OpenAI's servers; declare the tools as functions"
        }
        "local_shell" => "the local_shell tool is for codex-mini models; use a function tool",
        _ => return None,
    })
}

pub fn translate_tools(body: &Map<String, Value>) -> Result<Tools> {
    let mut out = Tools::default();
    let mut pending = Vec::new();
    match body.get("tools") {
        None | Some(Value::Null) => {}
        Some(Value::Array(tools)) => {
            for (i, tool) in tools.iter().enumerate() {
                let at = |path: &str| format!("tools[{i}]{path}");
                let kind = tool.get("type").and_then(Value::as_str).unwrap_or("");
                match kind {
                    "function" => out.tools.push(function_tool(tool, &at)?),
                    "custom" => {
                        let (tool, name) = custom_tool(tool, &at)?;
                        out.custom.insert(name);
                        out.tools.push(tool);
                    }
                    // Codex offers web search in its default configuration; refusing it would
                    // refuse Codex. Without it the model answers from what it knows.
                    "web_search" | "web_search_preview" | "web_search_preview_2025_03_11" => {}
                    "namespace" => namespace_tools(tool, &at, &mut out.tools, &mut pending)?,
                    other => {
                        let reason = hosted_refusal(other).unwrap_or("unknown tool type");
                        return Err(TranslateError::new(at(".type"), reason));
                    }
                }
            }
        }
        Some(_) => return Err(TranslateError::new("tools", "must be an array")),
    }
    name_namespaced(&mut out, pending);
    let names: Vec<&str> = out
        .tools
        .iter()
        .filter_map(|t| t.get("name").and_then(Value::as_str))
        .collect();
    let mut choice = match body.get("tool_choice") {
        None | Some(Value::Null) => None,
        Some(choice) => tool_choice(choice, &names)?,
    };
    match body.get("parallel_tool_calls") {
        None | Some(Value::Null) | Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) if !names.is_empty() => {
            let choice = choice.get_or_insert_with(|| json!({ "type": "auto" }));
            if choice["type"] != "none" {
                choice["disable_parallel_tool_use"] = json!(true);
            }
        }
        Some(Value::Bool(false)) => {}
        Some(_) => {
            return Err(TranslateError::new(
                "parallel_tool_calls",
                "must be a boolean",
            ))
        }
    }
    out.choice = choice;
    Ok(out)
}

/// The function and custom tools of a `namespace` tool, pushed unnamed (see [`name_namespaced`]).
fn namespace_tools(
    tool: &Value,
    at: &dyn Fn(&str) -> String,
    tools: &mut Vec<Value>,
    pending: &mut Vec<Pending>,
) -> Result<()> {
    let namespace = tool_name(tool, at)?;
    let about = description(tool, at)?.filter(|d| !d.trim().is_empty());
    let Some(inner) = tool.get("tools").and_then(Value::as_array) else {
        return Err(TranslateError::new(
            at(".tools"),
            "must be an array of tools",
        ));
    };
    for (j, member) in inner.iter().enumerate() {
        let at = |path: &str| at(&format!(".tools[{j}]{path}"));
        let (mut claude_tool, name, custom) =
            match member.get("type").and_then(Value::as_str).unwrap_or("") {
                "function" => {
                    let t = function_tool(member, &at)?;
                    (t, tool_name(member, &at)?.to_owned(), false)
                }
                "custom" => {
                    let (t, name) = custom_tool(member, &at)?;
                    (t, name, true)
                }
                _ => {
                    return Err(TranslateError::new(
                        at(".type"),
                        "a namespace holds only function and custom tools",
                    ))
                }
            };
        if let Some(about) = &about {
            let own = claude_tool.get("description").and_then(Value::as_str);
            let text = match own {
                Some(own) => format!("{namespace}: {about}\n\n{own}"),
                None => format!("{namespace}: {about}"),
            };
            claude_tool["description"] = json!(text);
        }
        pending.push(Pending {
            index: tools.len(),
            namespace: namespace.to_owned(),
            name,
            custom,
        });
        tools.push(claude_tool);
    }
    Ok(())
}

/// Names the tools inside namespaces, clear of every top-level tool name.
fn name_namespaced(out: &mut Tools, pending: Vec<Pending>) {
    let pending_at: HashSet<usize> = pending.iter().map(|p| p.index).collect();
    let mut taken: HashSet<String> = out
        .tools
        .iter()
        .enumerate()
        .filter(|(i, _)| !pending_at.contains(i))
        .filter_map(|(_, t)| t.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect();
    for p in pending {
        let name = out.namespaced.assign(&p.namespace, &p.name, &mut taken);
        if p.custom {
            out.custom.insert(name.clone());
        }
        out.tools[p.index]["name"] = json!(name);
    }
}

fn tool_name<'a>(tool: &'a Value, at: &dyn Fn(&str) -> String) -> Result<&'a str> {
    tool.get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| TranslateError::new(at(".name"), "a tool name is required"))
}

fn description(tool: &Value, at: &dyn Fn(&str) -> String) -> Result<Option<String>> {
    match tool.get("description") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(d)) => Ok(Some(d.clone())),
        Some(_) => Err(TranslateError::new(at(".description"), "must be a string")),
    }
}

/// `strict` (on by default in the Responses API) is accepted: Claude follows the schema it is
/// given, without OpenAI's constrained decoding.
fn function_tool(tool: &Value, at: &dyn Fn(&str) -> String) -> Result<Value> {
    let name = tool_name(tool, at)?;
    let schema = match tool.get("parameters") {
        None | Some(Value::Null) => json!({ "type": "object", "properties": {} }),
        Some(Value::Object(schema)) => Value::Object(schema.clone()),
        Some(_) => {
            return Err(TranslateError::new(
                at(".parameters"),
                "must be a JSON Schema object",
            ))
        }
    };
    let mut out = json!({ "name": name, "input_schema": schema });
    if let Some(d) = description(tool, at)? {
        out["description"] = json!(d);
    }
    Ok(out)
}

/// A custom (freeform) tool takes raw text. Claude tools take JSON, so it becomes a tool with
/// one string field, `input`; a grammar is handed to Claude as part of the description (Claude
/// does not enforce it).
fn custom_tool(tool: &Value, at: &dyn Fn(&str) -> String) -> Result<(Value, String)> {
    let name = tool_name(tool, at)?.to_owned();
    let mut text = description(tool, at)?.unwrap_or_default();
    match tool.get("format") {
        None | Some(Value::Null) => {}
        Some(format) => match format.get("type").and_then(Value::as_str) {
            Some("text") => {}
            Some("grammar") => {
                let syntax = format
                    .get("syntax")
                    .and_then(Value::as_str)
                    .unwrap_or("lark");
                let definition = format
                    .get("definition")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        TranslateError::new(at(".format.definition"), "a grammar is required")
                    })?;
                text.push_str(&format!(
                    "\n\nThe input must match this {syntax} grammar:\n```\n{definition}\n```"
                ));
            }
            _ => {
                return Err(TranslateError::new(
                    at(".format.type"),
                    "must be \"text\" or \"grammar\"",
                ))
            }
        },
    }
    let field = "The raw input of this freeform tool, exactly as the tool's format requires (not JSON-encoded).";
    let mut out = json!({
        "name": name,
        "input_schema": {
            "type": "object",
            "properties": { "input": { "type": "string", "description": field } },
            "required": ["input"],
        },
    });
    if !text.is_empty() {
        out["description"] = json!(text.trim_start());
    }
    Ok((out, name))
}

/// `None` when the choice means the default.
fn tool_choice(choice: &Value, names: &[&str]) -> Result<Option<Value>> {
    let refuse = |message: &str| Err(TranslateError::new("tool_choice", message));
    let named = |name: Option<&str>| -> Result<Option<Value>> {
        match name {
            Some(name) if names.contains(&name) => {
                Ok(Some(json!({ "type": "tool", "name": name })))
            }
            Some(name) => Err(TranslateError::new(
                "tool_choice.name",
                format!("{name:?} is not one of the tools"),
            )),
            None => Err(TranslateError::new(
                "tool_choice.name",
                "a tool name is required",
            )),
        }
    };
    match choice {
        Value::String(mode) => match mode.as_str() {
            "auto" | "none" if names.is_empty() => Ok(None),
            "auto" => Ok(Some(json!({ "type": "auto" }))),
            "none" => Ok(Some(json!({ "type": "none" }))),
            "required" if names.is_empty() => refuse("\"required\" needs tools"),
            "required" => Ok(Some(json!({ "type": "any" }))),
            _ => refuse("must be \"auto\", \"none\", \"required\" or a tool"),
        },
        Value::Object(obj) => match obj.get("type").and_then(Value::as_str) {
            Some("function") | Some("custom") => named(obj.get("name").and_then(Value::as_str)),
            Some("allowed_tools") => {
                refuse("allowed_tools has no Claude equivalent; send only the allowed tools")
            }
            _ => refuse("hosted tools cannot be chosen: they are not available through Claude"),
        },
        _ => refuse("must be \"auto\", \"none\", \"required\" or a tool"),
    }
}
