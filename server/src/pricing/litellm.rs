//! Reading a price table in LiteLLM's `model_prices_and_context_window.json` format.
//!
//! Only entries of the providers Tollgate serves are read ([`super::filter`]), and of those
//! only entries priced per token: both `input_cost_per_token` and `output_cost_per_token` must
//! be numbers. Entries priced per image, second or character, the `sample_spec` documentation
//! entry and entries whose costs are `null` are skipped, so an operator can point
//! `PRICING_FILE` or `PRICING_URL` at LiteLLM's full upstream file. A price field that is
//! present but malformed is an error naming the model and the field: a typo must not turn into
//! a wrong bill.
//!
//! An alias entry (`{"alias_of": "claude-opus-5-5"}`) is priced as its target.
//!
//! Missing cache prices default so that nothing is ever priced below ordinary input: a missing
//! 5-minute cache write or cache read costs what input costs (providers that publish no cache
//! rate bill those tokens as input), and a missing 1-hour write costs the 5-minute write.
//!
//! The long-context tier comes from `input_cost_per_token_above_<N>k_tokens` and its siblings
//! (`output_…`, `cache_read_input_token_cost_above_…`, `cache_creation_input_token_cost_above_…`,
//! `cache_creation_input_token_cost_above_1hr_above_…`); the lowest threshold wins where a
//! model has several. A tier rate the table omits keeps the standard rate's ratio to input
//! (output: the standard output rate). Batch, flex and priority prices are not used.
//!
//! Tool fees ([`super::ToolFees`]) come from `search_context_cost_per_query` (the dearest
//! context size: the request's `search_context_size` is not read), `web_search_billing_unit`,
//! `code_interpreter_cost_per_session` and `google_maps_grounding_cost_per_query`. A model
//! that states no fee gets the dearest fee its provider's entries state (the `<provider>/
//! container` rows carry the code-interpreter fee), so a fee LiteLLM forgot on one row is not
//! waived.

use std::collections::HashMap;

use anyhow::{bail, Context};
use serde_json::{Map, Value};

use super::filter::{self, SAMPLE_SPEC_KEY};
use super::price::{LongContext, ModelPrice, SearchUnit, TokenRates, ToolFees};

/// $1 per token. Anything dearer is a unit mistake (a per-million price written per token).
const MAX_MICROS_PER_MTOK: f64 = 1e12;
/// $100 per tool use. Anything dearer is a unit mistake.
const MAX_FEE_MICROS: f64 = 1e8;

/// One priced model of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableEntry {
    pub price: ModelPrice,
    pub provider: Option<String>,
    /// LiteLLM's `mode` (`chat`, `responses`, `embedding`, ...), when given.
    pub mode: Option<String>,
    pub max_input_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
}

/// Parses the table; `Ok` holds at least one priced model.
pub fn parse_table(text: &str) -> anyhow::Result<HashMap<String, TableEntry>> {
    let root: Value = serde_json::from_str(text).context("the pricing table is not valid JSON")?;
    let Value::Object(models) = root else {
        bail!("the pricing table must be a JSON object keyed by model name");
    };
    let models = filter::served(models);
    let mut stated_fees: HashMap<String, ToolFees> = HashMap::new();
    let mut parsed = Vec::with_capacity(models.len());
    let mut aliases = Vec::new();
    for (model, entry) in &models {
        let Value::Object(fields) = entry else {
            bail!("model {model:?}: the entry must be a JSON object");
        };
        if let Some(target) = filter::alias_of(entry) {
            aliases.push((model.clone(), target.to_string()));
            continue;
        }
        let fees = row_fees(model, fields)?;
        let provider = fields.get("litellm_provider").and_then(Value::as_str);
        if let Some(provider) = provider {
            let stated = stated_fees.entry(provider.to_string()).or_default();
            *stated = stated.max(fees.or_default());
        }
        if let Some(entry) = parse_entry(model, fields)? {
            parsed.push((model.clone(), entry, fees));
        }
    }
    let mut table = HashMap::with_capacity(parsed.len());
    for (model, mut entry, fees) in parsed {
        let provider_fees = entry
            .provider
            .as_deref()
            .and_then(|p| stated_fees.get(p))
            .copied()
            .unwrap_or_default();
        entry.price.tool_fees = fees.or(provider_fees);
        table.insert(model, entry);
    }
    for (alias, target) in aliases {
        if let Some(entry) = table.get(&target).cloned() {
            table.entry(alias).or_insert(entry);
        }
    }
    if table.is_empty() {
        bail!("the pricing table has no model with input_cost_per_token and output_cost_per_token");
    }
    Ok(table)
}

fn parse_entry(model: &str, fields: &Map<String, Value>) -> anyhow::Result<Option<TableEntry>> {
    if model == SAMPLE_SPEC_KEY {
        return Ok(None);
    }
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
    let base = TokenRates {
        input,
        output,
        cache_write_5m,
        cache_write_1h,
        cache_read,
    };
    Ok(Some(TableEntry {
        price: ModelPrice {
            input,
            output,
            cache_write_5m,
            cache_write_1h,
            cache_read,
            long_context: long_context(model, fields, &base)?,
            tool_fees: ToolFees::default(),
        },
        provider: string_field(fields, "litellm_provider"),
        mode: string_field(fields, "mode"),
        max_input_tokens: fields.get("max_input_tokens").and_then(Value::as_u64),
        max_output_tokens: fields
            .get("max_output_tokens")
            .or_else(|| fields.get("max_tokens"))
            .and_then(Value::as_u64),
    }))
}

fn string_field(fields: &Map<String, Value>, name: &str) -> Option<String> {
    fields.get(name).and_then(Value::as_str).map(str::to_string)
}

/// The tier of the lowest `input_cost_per_token_above_<N>k_tokens` threshold, if any.
fn long_context(
    model: &str,
    fields: &Map<String, Value>,
    base: &TokenRates,
) -> anyhow::Result<Option<LongContext>> {
    let threshold = fields
        .keys()
        .filter_map(|k| k.strip_prefix("input_cost_per_token_above_"))
        .filter_map(|k| k.strip_suffix("k_tokens"))
        .filter_map(|n| n.parse::<u64>().ok())
        .min();
    let Some(thousands) = threshold else {
        return Ok(None);
    };
    let field =
        |name: &str| per_token_field(model, fields, &format!("{name}_above_{thousands}k_tokens"));
    let Some(input) = field("input_cost_per_token")? else {
        return Ok(None);
    };
    // A rate the tier omits keeps its standard ratio to input, rounded up.
    let scaled = |standard: i64| -> i64 {
        if base.input <= 0 {
            return standard;
        }
        let v = (i128::from(standard) * i128::from(input) + i128::from(base.input) - 1)
            / i128::from(base.input);
        i64::try_from(v).unwrap_or(i64::MAX)
    };
    let cache_write_5m =
        field("cache_creation_input_token_cost")?.unwrap_or_else(|| scaled(base.cache_write_5m));
    let rates = TokenRates {
        input,
        output: field("output_cost_per_token")?.unwrap_or(base.output),
        cache_write_5m,
        cache_write_1h: field("cache_creation_input_token_cost_above_1hr")?
            .unwrap_or_else(|| scaled(base.cache_write_1h).max(cache_write_5m)),
        cache_read: field("cache_read_input_token_cost")?
            .unwrap_or_else(|| scaled(base.cache_read)),
    };
    Ok(Some(LongContext {
        above_prompt_tokens: thousands.saturating_mul(1000),
        rates,
    }))
}

/// The fees one row states (any field may be missing).
#[derive(Clone, Copy, Debug, Default)]
struct RowFees {
    web_search: Option<i64>,
    search_unit: Option<SearchUnit>,
    code_execution: Option<i64>,
    maps_grounding: Option<i64>,
}

impl RowFees {
    fn or_default(self) -> ToolFees {
        self.or(ToolFees::default())
    }

    /// This row's fees, the provider's where the row states none.
    fn or(self, provider: ToolFees) -> ToolFees {
        let (web_search, search_unit) = match self.web_search {
            Some(fee) => (fee, self.search_unit.unwrap_or_default()),
            None => (provider.web_search, provider.search_unit),
        };
        ToolFees {
            web_search,
            search_unit,
            code_execution: self.code_execution.unwrap_or(provider.code_execution),
            maps_grounding: self.maps_grounding.unwrap_or(provider.maps_grounding),
        }
    }
}

fn row_fees(model: &str, fields: &Map<String, Value>) -> anyhow::Result<RowFees> {
    let web_search = match fields.get("search_context_cost_per_query") {
        None | Some(Value::Null) => None,
        Some(Value::Object(sizes)) => {
            let mut dearest: Option<i64> = None;
            for size in sizes.keys() {
                if let Some(fee) = fee_field(model, sizes, size)? {
                    dearest = Some(dearest.map_or(fee, |d| d.max(fee)));
                }
            }
            dearest
        }
        Some(_) => fee_field(model, fields, "search_context_cost_per_query")?,
    };
    let provider = fields.get("litellm_provider").and_then(Value::as_str);
    let per_query = fields
        .get("web_search_billing_unit")
        .and_then(Value::as_str)
        == Some("per_query");
    // Google bills Gemini 2.x grounding per grounded prompt; LiteLLM marks the per-query
    // models (Gemini 3) explicitly.
    let gemini = matches!(provider, Some("gemini" | "vertex_ai-language-models"));
    Ok(RowFees {
        web_search,
        search_unit: Some(if gemini && !per_query {
            SearchUnit::Request
        } else {
            SearchUnit::Query
        }),
        code_execution: fee_field(model, fields, "code_interpreter_cost_per_session")?,
        maps_grounding: fee_field(model, fields, "google_maps_grounding_cost_per_query")?,
    })
}

/// A `$ per use` field as micro-USD; `None` when absent or `null`.
fn fee_field(model: &str, fields: &Map<String, Value>, field: &str) -> anyhow::Result<Option<i64>> {
    let Some(usd) = number_field(model, fields, field)? else {
        return Ok(None);
    };
    if !usd.is_finite() || usd < 0.0 || usd * 1e6 > MAX_FEE_MICROS {
        bail!(
            "model {model:?}: field {field}: a fee must be between $0 and $100 per use, got {usd}"
        );
    }
    Ok(Some((usd * 1e6).round() as i64))
}

fn number_field(
    model: &str,
    fields: &Map<String, Value>,
    field: &str,
) -> anyhow::Result<Option<f64>> {
    match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) => Ok(Some(v)),
            None => bail!("model {model:?}: field {field} is not a representable number"),
        },
        Some(other) => bail!("model {model:?}: field {field} must be a number, not {other}"),
    }
}

/// A `$ per token` field as micro-USD per million tokens; `None` when absent or `null`.
fn per_token_field(
    model: &str,
    fields: &Map<String, Value>,
    field: &str,
) -> anyhow::Result<Option<i64>> {
    match number_field(model, fields, field)? {
        None => Ok(None),
        Some(usd) => usd_per_token_to_micros_per_mtok(usd)
            .map(Some)
            .with_context(|| format!("model {model:?}: field {field}")),
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
