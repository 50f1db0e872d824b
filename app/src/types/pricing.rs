//! The price list as the dashboard and the REST API see it: prices in USD per million tokens,
//! operator overrides, models billed at a fallback price, and where the table came from.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// USD per million tokens, by how tokens are billed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriceInput {
    pub input: f64,
    pub output: f64,
    pub cache_write_5m: f64,
    pub cache_write_1h: f64,
    pub cache_read: f64,
}

/// One model of the price list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PricedModelView {
    pub model: String,
    pub price: PriceInput,
    pub overridden: bool,
    pub provider: Option<String>,
}

/// How a model name was priced (see the README's pricing section).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PriceRuleView {
    /// An override or table entry of that very name.
    Exact,
    /// The same after normalisation (provider prefix, snapshot date, `[1m]` stripped).
    Alias,
    /// The newest known model of its family.
    Family,
    /// The global fallback price.
    Fallback,
}

/// A model seen in recent usage whose name nothing priced: billed by its family's price or at
/// the fallback price.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FallbackModel {
    pub model: String,
    pub last_seen: DateTime<Utc>,
    /// True when a price matches it by now (an override was added, or the table has it).
    pub priced_now: bool,
    /// The rule that prices it now.
    pub rule: PriceRuleView,
    /// The family that priced it (`gemini-*-flash*`), for [`PriceRuleView::Family`].
    pub family: Option<String>,
    /// The known model whose price it gets (the family's newest, the override, the entry).
    pub priced_as: Option<String>,
    /// The price it gets now: what "set price" pre-fills.
    pub price: PriceInput,
}

/// Where the price table came from and how its refreshes go.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceTableInfo {
    /// `builtin`, `file` (`PRICING_FILE`) or `url` (`PRICING_URL`).
    pub origin: String,
    pub loaded_at: DateTime<Utc>,
    pub models: u64,
    /// Refreshes from `PRICING_URL` that failed since the start (the table was kept).
    pub refresh_failures: u64,
    pub last_refresh_failure: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PricingList {
    /// Every priced model with overrides in place, by name.
    pub models: Vec<PricedModelView>,
    pub fallback_price: PriceInput,
    pub fallback_models: Vec<FallbackModel>,
    pub table: PriceTableInfo,
}
