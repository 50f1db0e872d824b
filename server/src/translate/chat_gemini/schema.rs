//! JSON Schema (as OpenAI tools and `response_format` carry it) → the OpenAPI subset Gemini's
//! `parameters` and `responseSchema` accept.

use serde_json::{json, Map, Value};

/// Keywords Gemini's `Schema` understands; everything else is dropped.
const KEPT: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
];

/// `$ref`s followed at most this deep (a recursive schema is cut off there).
const MAX_REF_DEPTH: usize = 8;

/// The cleaned schema. `$ref`s into `$defs`/`definitions` are inlined; `const` becomes a
/// one-value `enum`; `oneOf` becomes `anyOf`; a type list with `"null"` becomes `nullable`;
/// an object without properties loses its empty `properties` (Gemini refuses those).
pub fn clean_schema(schema: &Value) -> Value {
    let defs = schema
        .get("$defs")
        .or_else(|| schema.get("definitions"))
        .cloned()
        .unwrap_or(Value::Null);
    clean(schema, &defs, 0)
}

fn clean(schema: &Value, defs: &Value, depth: usize) -> Value {
    let Some(obj) = schema.as_object() else {
        // `true` / `{}`-like schemas: anything goes; Gemini needs a type, a string is closest.
        return json!({ "type": "string" });
    };
    if let Some(reference) = obj.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or("");
        return match defs.get(name) {
            Some(target) if depth < MAX_REF_DEPTH => {
                let mut inlined = clean(target, defs, depth + 1);
                if let (Some(d), Some(out)) = (obj.get("description"), inlined.as_object_mut()) {
                    out.insert("description".into(), d.clone());
                }
                inlined
            }
            _ => json!({ "type": "object" }),
        };
    }
    let mut out = Map::new();
    for (key, value) in obj {
        match key.as_str() {
            "properties" => {
                let props: Map<String, Value> = value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), clean(v, defs, depth)))
                    .collect();
                if !props.is_empty() {
                    out.insert(key.clone(), Value::Object(props));
                }
            }
            "items" => {
                out.insert(key.clone(), clean(value, defs, depth));
            }
            "anyOf" | "oneOf" => {
                let options: Vec<Value> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|o| o.get("type").and_then(Value::as_str) != Some("null"))
                    .map(|o| clean(o, defs, depth))
                    .collect();
                if value.as_array().is_some_and(|a| a.len() > options.len()) {
                    out.insert("nullable".into(), json!(true));
                }
                match options.len() {
                    0 => {}
                    1 => merge_into(&mut out, &options[0]),
                    _ => {
                        out.insert("anyOf".into(), Value::Array(options));
                    }
                }
            }
            "allOf" => {
                for part in value.as_array().into_iter().flatten() {
                    merge_into(&mut out, &clean(part, defs, depth));
                }
            }
            "type" => set_type(&mut out, value),
            "const" => {
                out.insert("enum".into(), json!([value]));
            }
            _ if KEPT.contains(&key.as_str()) => {
                out.insert(key.clone(), value.clone());
            }
            _ => {}
        }
    }
    tidy(&mut out);
    Value::Object(out)
}

/// `"type": ["string", "null"]` → `"type": "string", "nullable": true`; several types →
/// `anyOf`.
fn set_type(out: &mut Map<String, Value>, value: &Value) {
    match value {
        Value::Array(types) => {
            let kinds: Vec<&Value> = types.iter().filter(|t| *t != "null").collect();
            if kinds.len() < types.len() {
                out.insert("nullable".into(), json!(true));
            }
            match kinds.as_slice() {
                [] => {}
                [one] => {
                    out.insert("type".into(), (*one).clone());
                }
                many => {
                    let options = many.iter().map(|t| json!({ "type": t })).collect();
                    out.insert("anyOf".into(), Value::Array(options));
                }
            }
        }
        Value::String(_) => {
            out.insert("type".into(), value.clone());
        }
        _ => {}
    }
}

fn merge_into(out: &mut Map<String, Value>, part: &Value) {
    for (key, value) in part.as_object().into_iter().flatten() {
        match (key.as_str(), out.get_mut(key)) {
            ("properties", Some(Value::Object(existing))) => {
                if let Some(more) = value.as_object() {
                    existing.extend(more.clone());
                }
            }
            ("required", Some(Value::Array(existing))) => {
                existing.extend(value.as_array().cloned().unwrap_or_default());
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
}

/// What Gemini refuses even among its own keywords: `enum` on non-strings, string formats
/// other than `enum`/`date-time`, `required` naming absent properties.
fn tidy(out: &mut Map<String, Value>) {
    let is_string = out.get("type").and_then(Value::as_str) == Some("string");
    if let Some(values) = out.get("enum").and_then(Value::as_array) {
        if values.iter().all(Value::is_string) {
            if !out.contains_key("type") {
                out.insert("type".into(), json!("string"));
            }
        } else {
            out.remove("enum");
        }
    }
    if is_string
        && !matches!(
            out.get("format").and_then(Value::as_str),
            None | Some("enum") | Some("date-time")
        )
    {
        out.remove("format");
    }
    let names: Vec<String> = out
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    if let Some(Value::Array(required)) = out.get_mut("required") {
        required.retain(|r| r.as_str().is_some_and(|r| names.iter().any(|n| n == r)));
        if required.is_empty() {
            out.remove("required");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typical_openai_tool_schemas_become_gemini_schemas() {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "city": {"type": "string", "format": "uri", "minLength": 1},
                "unit": {"type": ["string", "null"], "enum": ["C", "F"]},
                "mode": {"const": "fast"},
                "when": {"type": "string", "format": "date-time"},
                "tags": {"type": "array", "items": {"$ref": "#/$defs/Tag"}},
                "any": {"oneOf": [{"type": "integer"}, {"type": "null"}]},
                "empty": {"type": "object", "properties": {}},
            },
            "required": ["city", "ghost"],
            "$defs": {"Tag": {"type": "object", "properties": {"name": {"type": "string"}}, "additionalProperties": false}},
        });
        assert_eq!(
            clean_schema(&schema),
            json!({
                "type": "object",
                "properties": {
                    "city": {"type": "string", "minLength": 1},
                    "unit": {"type": "string", "nullable": true, "enum": ["C", "F"]},
                    "mode": {"type": "string", "enum": ["fast"]},
                    "when": {"type": "string", "format": "date-time"},
                    "tags": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
                    "any": {"type": "integer", "nullable": true},
                    "empty": {"type": "object"},
                },
                "required": ["city"],
            })
        );
    }

    #[test]
    fn recursive_refs_are_cut_off() {
        let schema = json!({"$ref": "#/definitions/Node", "definitions": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/definitions/Node"}}}}});
        let cleaned = clean_schema(&schema);
        assert_eq!(cleaned["type"], "object");
        assert!(cleaned.to_string().len() < 2000);
    }
}
