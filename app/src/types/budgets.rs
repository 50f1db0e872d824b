//! Upstream account budgets: a prepaid balance (topped up with dated entries) or a monthly
//! limit, tracked against the account's priced usage. Money in USD on the wire, integer
//! micro-dollars inside.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetKind {
    /// A balance: `amountUsd` at the start, plus top-ups, minus usage since.
    Prepaid,
    /// `amountUsd` a month, from `resetDay` (1–28) at midnight in the configured time zone.
    Monthly,
}

impl BudgetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetKind::Prepaid => "prepaid",
            BudgetKind::Monthly => "monthly",
        }
    }

    pub fn parse(text: &str) -> Option<BudgetKind> {
        match text {
            "prepaid" => Some(BudgetKind::Prepaid),
            "monthly" => Some(BudgetKind::Monthly),
            _ => None,
        }
    }
}

/// The warning thresholds when none are given: 80% and 95% used.
pub const DEFAULT_BUDGET_THRESHOLDS: [f64; 2] = [0.8, 0.95];

/// `budget` of `PATCH /admin/accounts/{id}` (`null` removes it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BudgetInput {
    pub kind: Option<BudgetKind>,
    pub amount_usd: f64,
    #[serde(default)]
    pub reset_day: Option<u32>,
    /// Fractions used (0 < t < 1) that fire `account.budget_warning`; default 0.8 and 0.95.
    #[serde(default)]
    pub thresholds: Option<Vec<f64>>,
    /// Stop scheduling the account once the budget is used up; default on for prepaid.
    #[serde(default)]
    pub stop_when_exhausted: Option<bool>,
}

/// An account's budget and where it stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountBudget {
    pub kind: BudgetKind,
    /// The opening balance (prepaid) or the monthly limit.
    pub amount_usd: f64,
    pub reset_day: Option<u32>,
    pub thresholds: Vec<f64>,
    pub stop_when_exhausted: bool,
    /// Top-ups added to a prepaid balance.
    pub top_ups_usd: f64,
    /// Usage since the budget began (prepaid) or since this month's reset.
    pub spent_usd: f64,
    pub remaining_usd: f64,
    /// `spent / (amount + top-ups)`.
    pub used: f64,
    pub exhausted: bool,
    pub period_start: DateTime<Utc>,
    /// When the remaining budget runs out at the last 7 days' average spend (none without
    /// spend, or when a monthly limit resets first).
    pub projected_run_out: Option<DateTime<Utc>>,
    /// The account is not scheduled because its budget is used up.
    pub stopped: bool,
}

/// A budget needs attention under this share of its money left...
pub const ATTENTION_REMAINING: f64 = 0.2;
/// ... or when it is projected to run out within this many days.
pub const ATTENTION_DAYS: i64 = 3;

impl AccountBudget {
    /// Under [`ATTENTION_REMAINING`] of the money left, or projected to run out within
    /// [`ATTENTION_DAYS`] of `now`.
    pub fn needs_attention(&self, now: DateTime<Utc>) -> bool {
        let limit = self.amount_usd + self.top_ups_usd;
        self.remaining_usd < ATTENTION_REMAINING * limit
            || self
                .projected_run_out
                .is_some_and(|at| at <= now + chrono::Duration::days(ATTENTION_DAYS))
    }

    /// Run out within `within` of `now` (exhausted counts).
    pub fn runs_out_within(&self, now: DateTime<Utc>, within: chrono::Duration) -> bool {
        self.exhausted || self.projected_run_out.is_some_and(|at| at <= now + within)
    }
}

/// `POST /admin/accounts/{id}/budget/top-ups`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BudgetTopUp {
    pub amount_usd: f64,
    #[serde(default)]
    pub note: Option<String>,
}

/// An account whose budget needs attention (the overview, `tollgate accounts check`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BudgetAlert {
    pub account_id: String,
    pub account_name: String,
    pub budget: AccountBudget,
}
