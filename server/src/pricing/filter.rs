//! Which entries of a LiteLLM table Tollgate reads: those of the providers it serves. The same
//! rule produces the shipped table (`server/data/update_model_prices.py`), so a table fetched
//! from `PRICING_URL` (typically LiteLLM's full upstream file) prices like the built-in one.
//!
//! - `litellm_provider` is anthropic, openai, text-completion-openai, azure or gemini;
//! - or vertex_ai-language-models with a bare `gemini-…` key the Gemini API rows do not price
//!   (LiteLLM lists some Gemini models only there; where both exist, the Gemini API row wins,
//!   reached from the bare name by normalisation);
//! - or an alias (`{"alias_of": "claude-opus-5-5"}`) of a kept entry;
//! - or, with no `litellm_provider`, an entry with an `input_cost_per_token` (an operator's own).

use std::collections::HashSet;

use serde_json::{Map, Value};

/// LiteLLM's self-describing example entry, not a model.
pub const SAMPLE_SPEC_KEY: &str = "sample_spec";

const SERVED_PROVIDERS: &[&str] = &[
    "anthropic",
    "openai",
    "text-completion-openai",
    "azure",
    "gemini",
];
const VERTEX_GEMINI: &str = "vertex_ai-language-models";

fn provider(entry: &Value) -> Option<&str> {
    entry.get("litellm_provider").and_then(Value::as_str)
}

/// The target of an alias entry.
pub fn alias_of(entry: &Value) -> Option<&str> {
    entry.get("alias_of").and_then(Value::as_str)
}

/// The entries of `table` Tollgate reads, in their order. Entries that are not objects are
/// kept so the parser can name them as errors.
pub fn served(table: Map<String, Value>) -> Map<String, Value> {
    let gemini_names: HashSet<String> = table
        .iter()
        .filter(|(_, e)| provider(e) == Some("gemini"))
        .map(|(k, _)| k.strip_prefix("gemini/").unwrap_or(k).to_string())
        .collect();
    let keep_model = |key: &str, entry: &Value| -> bool {
        if key == SAMPLE_SPEC_KEY {
            return false;
        }
        if !entry.is_object() {
            return true;
        }
        match provider(entry) {
            None => entry.get("input_cost_per_token").is_some(),
            Some(p) if SERVED_PROVIDERS.contains(&p) => true,
            Some(VERTEX_GEMINI) => key.starts_with("gemini-") && !gemini_names.contains(key),
            Some(_) => false,
        }
    };
    let kept: HashSet<String> = table
        .iter()
        .filter(|(k, e)| alias_of(e).is_none() && keep_model(k, e))
        .map(|(k, _)| k.clone())
        .collect();
    table
        .into_iter()
        .filter(|(key, entry)| match alias_of(entry) {
            Some(target) => kept.contains(target),
            None => kept.contains(key),
        })
        .collect()
}
