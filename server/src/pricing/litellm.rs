//! Reading a price table in LiteLLM's `model_prices_and_context_window.json` format.
//!
//! Only entries priced per token are kept: both `input_cost_per_token` and
//! `output_cost_per_token` must be numbers. Entries priced per image, second or character, the
//! `sample_spec` documentation entry and entries whose costs are `null` are skipped, so an
//! operator can point `PRICING_FILE` at LiteLLM's full upstream file. A price field that is
//! present but malformed is an error naming the model and the field: a typo must not turn into
//! a wrong bill.
//!
//! Missing cache prices default so that nothing is ever priced below ordinary input: a missing
//! 5-minute cache write or cache read costs what input costs (providers that publish no cache
//! rate bill those tokens as input), and a missing 1-hour write costs the 5-minute write.

use std::collections::HashMap;

use anyhow::{bail, Context};
use serde_json::{Map, Value};

use super::ModelPrice;

/// LiteLLM's self-describing example entry, not a model.
const SAMPLE_SPEC_KEY: &str = "sample_spec";

/// $1 per token. Anything dearer is a unit mistake (a per-million price written per token).
const MAX_MICROS_PER_MTOK: f64 = 1e12;

/// One priced model of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableEntry {
    pub price: ModelPrice,
    pub provider: Option<String>,
    pub max_input_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
}

/// Parses the table; `Ok` holds at least one priced model.
pub fn parse_table(text: &str) -> anyhow::Result<HashMap<String, TableEntry>> {
    let root: Value = serde_json::from_str(text).context("the pricing table is not valid JSON")?;
    let Value::Object(models) = root else {
        bail!("the pricing table must be a JSON object keyed by model name");
    };
    let mut table = HashMap::with_capacity(models.len());
    for (model, entry) in &models {
        if model == SAMPLE_SPEC_KEY {
            continue;
        }
        let Value::Object(fields) = entry else {
            bail!("model {model:?}: the entry must be a JSON object");
        };
        if let Some(parsed) = parse_entry(model, fields)? {
            table.insert(model.clone(), parsed);
        }
    }
    if table.is_empty() {
        bail!("the pricing table has no model with input_cost_per_token and output_cost_per_token");
    }
    Ok(table)
}

fn parse_entry(model: &str, fields: &Map<String, Value>) -> anyhow::Result<Option<TableEntry>> {
    let input = per_token_field(model, fields, "input_cost_per_token")?;
    let output = per_token_field(model, fields, "output_cost_per_token")?;
    let (Some(input), Some(output)) = (input, output) else {
        return Ok(None);
    };
    let cache_write_5m =
        per_token_field(model, fields, "cache_creation_input_token_cost")?.unwrap_or(input);
    let cache_write_1h =
        per_token_field(model, fields, "cache_creation_input_token_cost_above_1hr")?
            .unwrap_or(cache_write_5m);
    let cache_read =
        per_token_field(model, fields, "cache_read_input_token_cost")?.unwrap_or(input);
    Ok(Some(TableEntry {
        price: ModelPrice {
            input,
            output,
            cache_write_5m,
            cache_write_1h,
            cache_read,
        },
        provider: fields
            .get("litellm_provider")
            .and_then(Value::as_str)
            .map(str::to_string),
        max_input_tokens: fields.get("max_input_tokens").and_then(Value::as_u64),
        max_output_tokens: fields
            .get("max_output_tokens")
            .or_else(|| fields.get("max_tokens"))
            .and_then(Value::as_u64),
    }))
}

/// A `$ per token` field as micro-USD per million tokens; `None` when absent or `null`.
fn per_token_field(
    model: &str,
    fields: &Map<String, Value>,
    field: &str,
) -> anyhow::Result<Option<i64>> {
    match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(usd) => usd_per_token_to_micros_per_mtok(usd)
                .map(Some)
                .with_context(|| format!("model {model:?}: field {field}")),
            None => bail!("model {model:?}: field {field} is not a representable number"),
        },
        Some(other) => bail!("model {model:?}: field {field} must be a number, not {other}"),
    }
}

/// `$ per token × 10¹²` rounded to the nearest integer. One micro-USD per million tokens is
/// 10⁻¹² $ per token, far below any published price's precision, so rounding here removes float
/// noise (`2.9999999e-06` → 3 000 000) without losing a real digit.
pub fn usd_per_token_to_micros_per_mtok(usd: f64) -> anyhow::Result<i64> {
    if !usd.is_finite() || usd < 0.0 {
        bail!("a price must be a finite non-negative number, got {usd}");
    }
    let scaled = (usd * 1e12).round();
    if scaled > MAX_MICROS_PER_MTOK {
        bail!("{usd} $ per token is implausibly high (is it a per-million price?)");
    }
    // In range by the checks above, so the conversion is exact.
    Ok(scaled as i64)
}
