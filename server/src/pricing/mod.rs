//! Model prices and the cost of a request.
//!
//! The table is LiteLLM's `model_prices_and_context_window.json` format: a built-in copy
//! (`server/data/model_prices.json`) or the operator's `PRICING_FILE`, plus per-model overrides
//! from the dashboard (stored in `pricing_overrides`), which win. Prices are held as integer
//! micro-USD per million tokens and costs are computed in integer arithmetic, so a bill never
//! depends on float rounding. Names are matched exactly first, then after
//! [`normalize_model`] strips provider prefixes, snapshot dates and suffixes. A model found
//! nowhere is priced at [`FALLBACK_PRICE`], the dearest Claude tier, so an unknown model can
//! only overcharge, and the lookup says so ([`PriceSource::Fallback`]) for the dashboard.
//!
//! The table's long-context (`*_above_200k_tokens`) and batch prices are not used: requests
//! are priced at the standard tier.

mod litellm;
mod normalize;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use serde::{Deserialize, Serialize};

pub use litellm::usd_per_token_to_micros_per_mtok;
use litellm::{parse_table, TableEntry};
pub use normalize::normalize_model;

/// The built-in table, shipped with the binary.
const BUILTIN_TABLE: &str = include_str!("../../data/model_prices.json");

/// Micro-USD in one USD; also tokens in one price unit (prices are per million tokens).
const MICROS_PER_MTOK_DIVISOR: i128 = 1_000_000;

/// Prices in micro-USD per million tokens (3 000 000 = $3 / MTok).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelPrice {
    pub input: i64,
    pub output: i64,
    pub cache_write_5m: i64,
    pub cache_write_1h: i64,
    pub cache_read: i64,
}

/// The price of a model nobody priced: Claude Opus 4 / 4.1, the dearest tier in the table, so
/// an unknown model is never billed below what it may cost upstream.
pub const FALLBACK_PRICE: ModelPrice = ModelPrice {
    input: 15_000_000,
    output: 75_000_000,
    cache_write_5m: 18_750_000,
    cache_write_1h: 30_000_000,
    cache_read: 1_500_000,
};

/// Tokens of one request by how they are billed. `input` excludes cached and cache-write
/// tokens (Anthropic's `input_tokens`; for OpenAI, prompt tokens minus cached tokens).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub input: u64,
    pub output: u64,
    pub cache_write_5m: u64,
    pub cache_write_1h: u64,
    pub cache_read: u64,
}

/// Where a lookup found its price.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PriceSource {
    /// The built-in table or the operator's pricing file.
    Table,
    /// A dashboard override.
    Override,
    /// Nothing matched: [`FALLBACK_PRICE`].
    Fallback,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceLookup {
    pub price: ModelPrice,
    pub source: PriceSource,
    /// The model's output ceiling from the table, when known (for worst-case reservations of
    /// requests that do not set one).
    pub max_output_tokens: Option<u64>,
}

/// One row of the pricing page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PricedModel {
    pub model: String,
    pub price: ModelPrice,
    pub source: PriceSource,
    pub provider: Option<String>,
    pub max_input_tokens: Option<u64>,
    pub max_output_tokens: Option<u64>,
}

/// An immutable price table with overrides; share it as `Arc<Pricing>` and rebuild it with
/// [`Pricing::with_overrides`] when overrides change.
#[derive(Clone, Debug)]
pub struct Pricing {
    table: Arc<Table>,
    /// Keyed by the name the operator gave.
    overrides: HashMap<String, ModelPrice>,
    /// Keyed by the normalised name, so an override of `claude-sonnet-4-5` also prices
    /// `claude-sonnet-4-5-20250929`.
    normalized_overrides: HashMap<String, ModelPrice>,
}

#[derive(Debug)]
struct Table {
    exact: HashMap<String, TableEntry>,
    /// Normalised names of entries whose key is not already normalised, for requests that
    /// spell the model differently from the table (`claude-3-5-haiku` against a table keyed
    /// `claude-3-5-haiku-20241022`). Where several entries normalise alike the dearest wins.
    normalized: HashMap<String, TableEntry>,
}

impl Table {
    fn new(exact: HashMap<String, TableEntry>) -> Table {
        let mut normalized: HashMap<String, TableEntry> = HashMap::new();
        for (key, entry) in &exact {
            let name = normalize_model(key);
            if name == *key || exact.contains_key(&name) {
                continue;
            }
            match normalized.get(&name) {
                Some(current) if price_rank(&current.price) >= price_rank(&entry.price) => {}
                _ => {
                    normalized.insert(name, entry.clone());
                }
            }
        }
        Table { exact, normalized }
    }
}

/// Orders prices for "dearest wins" without depending on hash-map iteration order.
fn price_rank(p: &ModelPrice) -> (i64, i64, i64, i64, i64) {
    (
        p.output,
        p.input,
        p.cache_write_1h,
        p.cache_write_5m,
        p.cache_read,
    )
}

impl Pricing {
    /// The table shipped with Tollgate. Should it ever fail to parse (a build defect the unit
    /// tests catch), every model is priced at the fallback rather than for free.
    pub fn builtin() -> Pricing {
        match Pricing::from_json(BUILTIN_TABLE) {
            Ok(pricing) => pricing,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "the built-in price table is invalid; pricing every model at the fallback");
                Pricing::from_entries(HashMap::new())
            }
        }
    }

    /// An operator's table (`PRICING_FILE`).
    pub fn from_file(path: &Path) -> anyhow::Result<Pricing> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the pricing file {}", path.display()))?;
        Pricing::from_json(&text)
            .with_context(|| format!("loading the pricing file {}", path.display()))
    }

    pub fn from_json(text: &str) -> anyhow::Result<Pricing> {
        Ok(Pricing::from_entries(parse_table(text)?))
    }

    fn from_entries(entries: HashMap<String, TableEntry>) -> Pricing {
        Pricing {
            table: Arc::new(Table::new(entries)),
            overrides: HashMap::new(),
            normalized_overrides: HashMap::new(),
        }
    }

    /// This table with `overrides` (from the database) in place of any earlier ones.
    pub fn with_overrides(&self, overrides: &[(String, ModelPrice)]) -> Pricing {
        let mut exact = HashMap::with_capacity(overrides.len());
        let mut normalized = HashMap::with_capacity(overrides.len());
        for (model, price) in overrides {
            exact.insert(model.clone(), *price);
            let name = normalize_model(model);
            // An override named exactly as the normalised form beats one that only normalises
            // to it, whatever order the database returned them in.
            if name == *model || !overrides.iter().any(|(m, _)| *m == name) {
                normalized.insert(name, *price);
            }
        }
        Pricing {
            table: Arc::clone(&self.table),
            overrides: exact,
            normalized_overrides: normalized,
        }
    }

    /// The price of `model`: an override, else the table, else the fallback.
    pub fn lookup(&self, model: &str) -> PriceLookup {
        if let Some(price) = self.overrides.get(model) {
            return self.found_override(model, *price);
        }
        if let Some(entry) = self.table.exact.get(model) {
            return found_in_table(entry);
        }
        let name = normalize_model(model);
        if let Some(price) = self
            .overrides
            .get(&name)
            .or_else(|| self.normalized_overrides.get(&name))
        {
            return self.found_override(&name, *price);
        }
        if let Some(entry) = self
            .table
            .exact
            .get(&name)
            .or_else(|| self.table.normalized.get(&name))
        {
            return found_in_table(entry);
        }
        PriceLookup {
            price: FALLBACK_PRICE,
            source: PriceSource::Fallback,
            max_output_tokens: None,
        }
    }

    /// An override keeps the table's output ceiling for the model: it changes the price only.
    fn found_override(&self, model: &str, price: ModelPrice) -> PriceLookup {
        let name = normalize_model(model);
        let max_output_tokens = self
            .table
            .exact
            .get(model)
            .or_else(|| self.table.exact.get(&name))
            .or_else(|| self.table.normalized.get(&name))
            .and_then(|e| e.max_output_tokens);
        PriceLookup {
            price,
            source: PriceSource::Override,
            max_output_tokens,
        }
    }

    /// Every priced model (table rows, with overrides in place), sorted by name.
    pub fn models(&self) -> Vec<(String, ModelPrice)> {
        self.catalog()
            .into_iter()
            .map(|row| (row.model, row.price))
            .collect()
    }

    /// [`Pricing::models`] with where each price comes from and the provider, for the pricing page.
    pub fn catalog(&self) -> Vec<PricedModel> {
        let mut rows: Vec<PricedModel> = self
            .table
            .exact
            .iter()
            .map(|(model, entry)| PricedModel {
                model: model.clone(),
                price: self.overrides.get(model).copied().unwrap_or(entry.price),
                source: if self.overrides.contains_key(model) {
                    PriceSource::Override
                } else {
                    PriceSource::Table
                },
                provider: entry.provider.clone(),
                max_input_tokens: entry.max_input_tokens,
                max_output_tokens: entry.max_output_tokens,
            })
            .collect();
        rows.extend(
            self.overrides
                .iter()
                .filter(|(model, _)| !self.table.exact.contains_key(*model))
                .map(|(model, price)| PricedModel {
                    model: model.clone(),
                    price: *price,
                    source: PriceSource::Override,
                    provider: None,
                    max_input_tokens: None,
                    max_output_tokens: None,
                }),
        );
        rows.sort_by(|a, b| a.model.cmp(&b.model));
        rows
    }
}

fn found_in_table(entry: &TableEntry) -> PriceLookup {
    PriceLookup {
        price: entry.price,
        source: PriceSource::Table,
        max_output_tokens: entry.max_output_tokens,
    }
}

/// The cost of `usage` at `price` in micro-USD, rounded half up once over the whole sum.
pub fn cost_micros(price: &ModelPrice, usage: &TokenUsage) -> i64 {
    let scaled = [
        (usage.input, price.input),
        (usage.output, price.output),
        (usage.cache_write_5m, price.cache_write_5m),
        (usage.cache_write_1h, price.cache_write_1h),
        (usage.cache_read, price.cache_read),
    ]
    .into_iter()
    .fold(0i128, |sum, (tokens, rate)| {
        sum.saturating_add(i128::from(tokens).saturating_mul(i128::from(rate)))
    });
    saturate(
        scaled
            .saturating_add(MICROS_PER_MTOK_DIVISOR / 2)
            .div_euclid(MICROS_PER_MTOK_DIVISOR),
    )
}

/// The most a request can cost before it runs, for quota reservations, rounded up. Input is
/// charged at the dearest input-side rate because the client decides, through
/// `cache_control`, whether its prompt is billed as input or as a (1-hour) cache write.
pub fn worst_case_micros(
    price: &ModelPrice,
    input_tokens_estimate: u64,
    max_output_tokens: u64,
) -> i64 {
    let input_rate = price
        .input
        .max(price.cache_write_5m)
        .max(price.cache_write_1h)
        .max(price.cache_read);
    let scaled = i128::from(input_tokens_estimate)
        .saturating_mul(i128::from(input_rate))
        .saturating_add(i128::from(max_output_tokens).saturating_mul(i128::from(price.output)));
    // Ceiling division (prices are non-negative, and a negative sum only rounds toward zero).
    let ceil = scaled
        .saturating_add(MICROS_PER_MTOK_DIVISOR - 1)
        .div_euclid(MICROS_PER_MTOK_DIVISOR);
    saturate(ceil)
}

fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}
