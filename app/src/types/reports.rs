//! Reports as the dashboard and the REST API see them: the overview's live figures, usage and
//! margin over a range of days, operator settings, pricing, and a key's own usage. Money is a
//! JSON number: USD where the name says so, else the operator's currency (`currency`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AccountStatus, KeyStatus, Platform};

/// A range of calendar days in the configured time zone, both ends included (`YYYY-MM-DD`).
/// Absent ends default to the last 30 days up to today.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReportRange {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// What a usage report splits its series by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitBy {
    #[default]
    Model,
    Account,
    Group,
    Preset,
}

impl SplitBy {
    pub const ALL: [SplitBy; 4] = [
        SplitBy::Model,
        SplitBy::Account,
        SplitBy::Group,
        SplitBy::Preset,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SplitBy::Model => "model",
            SplitBy::Account => "account",
            SplitBy::Group => "group",
            SplitBy::Preset => "preset",
        }
    }

    pub fn parse(s: &str) -> Option<SplitBy> {
        SplitBy::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Where the upstream cost of a margin report comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CostBasis {
    /// The priced cost of the requests relayed (from the usage rollups).
    #[default]
    Usage,
    /// The accounts' `monthlyCost`, spread evenly over the days of each month.
    Amortized,
}

impl CostBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            CostBasis::Usage => "usage",
            CostBasis::Amortized => "amortized",
        }
    }

    pub fn parse(s: &str) -> Option<CostBasis> {
        [CostBasis::Usage, CostBasis::Amortized]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// In flight against capacity for one pool: a platform's accounts or a group's members.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolUtilization {
    /// The platform name, or the group id.
    pub id: String,
    /// The group's name; empty for a platform.
    pub name: String,
    pub platform: Platform,
    pub is_group: bool,
    /// Accounts that can take requests (active and schedulable).
    pub accounts: u32,
    pub in_flight: u32,
    /// Sum of the accounts' `maxConcurrency` (the default capacity where unset).
    pub capacity: u32,
    /// `inFlight / capacity` (0 when there is no capacity).
    pub utilization: f64,
}

/// Today (in the configured time zone) so far, from the rollups.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TodayFigures {
    pub day: String,
    pub new_keys: u64,
    pub requests: u64,
    pub tokens: u64,
    /// USD.
    pub cost: f64,
}

/// How much keys sold from one preset really spend, against their quota.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresetSpend {
    pub preset_id: String,
    /// The preset's name, or its id when the preset was deleted.
    pub name: String,
    pub keys: u64,
    /// USD per key.
    pub average_spent: f64,
    /// USD per key; 0 when the keys are unlimited.
    pub average_quota: f64,
    /// `averageSpent / averageQuota`, when there is a quota.
    pub share_used: Option<f64>,
}

/// An account that is not serving normally.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttentionAccount {
    pub id: String,
    pub name: String,
    pub platform: Platform,
    pub status: AccountStatus,
    pub schedulable: bool,
    pub message: String,
    pub cooldown_until: Option<DateTime<Utc>>,
    /// Its budget, when that is what needs attention (little left, or running out soon).
    #[serde(default)]
    pub budget: Option<super::AccountBudget>,
}

/// The overview page: live figures over the last `windowMinutes`, today, presets, attention.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveOverview {
    pub window_minutes: u32,
    pub requests_per_minute: f64,
    pub tokens_per_minute: f64,
    /// USD per minute.
    pub cost_per_minute: f64,
    /// Share of answers to clients that were errors.
    pub error_rate: f64,
    /// Requests refused with 429 by Tollgate itself (key limits) in the window.
    pub refused_429: u64,
    pub upstream_attempts: u64,
    /// Share of upstream attempts answered 429 / 529.
    pub upstream_429_rate: f64,
    pub upstream_529_rate: f64,
    pub in_flight: u32,
    pub capacity: u32,
    pub utilization: f64,
    pub platforms: Vec<PoolUtilization>,
    pub groups: Vec<PoolUtilization>,
    pub today: TodayFigures,
    pub presets: Vec<PresetSpend>,
    pub attention: Vec<AttentionAccount>,
    pub generated_at: DateTime<Utc>,
}

/// One value of the split (a model, account, group or preset) over the range.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageTotals {
    /// The model name or id; empty for "none" (no account, no group, no preset).
    pub key: String,
    /// What to show: a name, or the id when the thing was deleted.
    pub label: String,
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_write_tokens: u64,
    pub cache_read_tokens: u64,
    pub tokens: u64,
    /// USD.
    pub cost: f64,
}

/// A daily series of one split value, aligned with the report's `days`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageSeries {
    pub key: String,
    pub label: String,
    pub requests: Vec<u64>,
    pub tokens: Vec<u64>,
    /// USD per day.
    pub cost: Vec<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageReport {
    pub from: String,
    pub to: String,
    pub split_by: SplitBy,
    pub days: Vec<String>,
    /// The biggest split values by cost, then one `other` series for the rest.
    pub series: Vec<UsageSeries>,
    /// Every split value, biggest cost first.
    pub rows: Vec<UsageTotals>,
    pub totals: UsageTotals,
}

/// Revenue against cost for one line of a margin report, in the operator's currency.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarginTotals {
    pub keys_sold: u64,
    pub revenue: f64,
    pub cost: f64,
    /// The same cost in USD.
    pub cost_usd: f64,
    pub margin: f64,
    /// `margin / revenue`, when there was revenue.
    pub margin_pct: Option<f64>,
}

/// A preset, a group, or the whole: daily series aligned with `days`, and totals.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarginLine {
    pub key: String,
    pub label: String,
    pub revenue: Vec<f64>,
    pub cost: Vec<f64>,
    pub margin: Vec<f64>,
    pub totals: MarginTotals,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarginReport {
    pub from: String,
    pub to: String,
    pub cost_basis: CostBasis,
    /// The operator's currency (ISO code) every amount is in, except `costUsd`.
    pub currency: String,
    /// Units of `currency` per USD used for this report.
    pub exchange_rate: f64,
    pub days: Vec<String>,
    pub total: MarginLine,
    pub by_preset: Vec<MarginLine>,
    pub by_group: Vec<MarginLine>,
    /// Revenue and keys sold per seller (the staff user who created the keys); upstream cost
    /// is not attributed to sellers.
    #[serde(default)]
    pub by_seller: Vec<SellerSales>,
    /// Keys sold in a currency that is neither the operator's nor USD: not counted as revenue.
    pub unconverted_keys: u64,
}

/// One seller's sales in a margin report: `key` is the user id (empty for keys from before
/// staff roles), `label` their name when the keys were created.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SellerSales {
    pub key: String,
    pub label: String,
    pub keys_sold: u64,
    /// In the operator's currency.
    pub revenue: f64,
    /// Daily revenue aligned with the report's `days`.
    pub daily_revenue: Vec<f64>,
}

/// `GET /admin/reports/margin` parameters besides the range.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MarginQuery {
    pub cost_basis: CostBasis,
    /// Overrides the stored exchange rate for this report.
    pub exchange_rate: Option<f64>,
    /// Only the sales of keys this staff user created, and the usage cost of those keys
    /// (`?seller=<userId>`, also `createdBy`; usage cost basis only).
    pub seller: Option<String>,
}

/// Settings of the operator's business, stored in the database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperatorSettings {
    /// ISO 4217 code revenue is reported in (e.g. `CNY`).
    pub currency: String,
    /// Units of `currency` per USD (1 for USD).
    pub usd_exchange_rate: f64,
    /// The configured time zone (`TOLLGATE_TIMEZONE`) days are counted in; read only.
    pub timezone: String,
}

/// `PUT /admin/settings`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperatorSettingsInput {
    pub currency: String,
    pub usd_exchange_rate: f64,
}

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

/// A day of one key's usage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyDayUsage {
    pub day: String,
    pub requests: u64,
    pub tokens: u64,
    /// USD.
    pub cost: f64,
}

/// One model of one key's usage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyModelUsage {
    pub model: String,
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_tokens: u64,
    /// USD.
    pub cost: f64,
}

/// A key's usage over the last 30 days: every day (zeros included) and every model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyUsage {
    pub days: Vec<KeyDayUsage>,
    pub models: Vec<KeyModelUsage>,
    /// Requests of these days billed from an estimate: the answer ended without (all of) its
    /// usage, so input was estimated from the request and output from the content sent.
    #[serde(default)]
    pub estimated_requests: u64,
}

/// What a key holder sees on `/usage` (and `GET /v1/usage`) about their own key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyHolderUsage {
    pub name: String,
    pub key_prefix: String,
    pub status: KeyStatus,
    /// USD; 0 = unlimited.
    pub quota_limit: f64,
    /// USD settled so far.
    pub spent: f64,
    /// USD left (quota minus spent and in-flight reservations); none when unlimited.
    pub remaining: Option<f64>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Validity that starts at the first request, when not activated yet.
    pub activation_days: Option<u32>,
    pub concurrency_limit: u32,
    pub rate_limit_window: u32,
    pub rate_limit_requests: u32,
    /// USD per window.
    pub rate_limit_cost: f64,
    /// USD per day.
    pub daily_cost_limit: f64,
    pub allowed_models: Vec<String>,
    /// The time zone days are counted in.
    pub timezone: String,
    pub usage: KeyUsage,
}
