//! Reports as the dashboard and the REST API see them: the overview's live figures, usage and
//! margin over a range of days, and the operator's settings (the price list is in `pricing`, a
//! key's own usage in `key_usage`). Money is a JSON number: USD where the name says so, else
//! the operator's currency (`currency`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AccountStatus, Platform};

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
