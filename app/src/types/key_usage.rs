//! A key's own usage: what the dashboard shows on a key's page and what its holder sees on
//! `/usage` (and `GET /v1/usage`). Money is USD.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::KeyStatus;

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
