//! Upstream accounts and account groups as the REST API and the dashboard speak them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

/// Upstream API families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Claude,
    Openai,
    Gemini,
}

impl Platform {
    pub const ALL: [Platform; 3] = [Platform::Claude, Platform::Openai, Platform::Gemini];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Claude => "claude",
            Platform::Openai => "openai",
            Platform::Gemini => "gemini",
        }
    }

    pub fn parse(s: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The upstream a new account of this platform talks to unless told otherwise.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Platform::Claude => "https://api.anthropic.com",
            Platform::Openai => "https://api.openai.com",
            Platform::Gemini => "https://generativelanguage.googleapis.com",
        }
    }
}

/// How keys reach an account: the shared pool, only keys bound to it, or only keys bound to
/// one of its groups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountType {
    #[default]
    Shared,
    Dedicated,
    Group,
}

impl AccountType {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::Shared => "shared",
            AccountType::Dedicated => "dedicated",
            AccountType::Group => "group",
        }
    }

    pub fn parse(s: &str) -> Option<AccountType> {
        [
            AccountType::Shared,
            AccountType::Dedicated,
            AccountType::Group,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    #[default]
    Active,
    RateLimited,
    Overloaded,
    Error,
    Disabled,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::RateLimited => "rate_limited",
            AccountStatus::Overloaded => "overloaded",
            AccountStatus::Error => "error",
            AccountStatus::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<AccountStatus> {
        [
            AccountStatus::Active,
            AccountStatus::RateLimited,
            AccountStatus::Overloaded,
            AccountStatus::Error,
            AccountStatus::Disabled,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// One recorded state change or failure of an account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountEvent {
    pub at: DateTime<Utc>,
    pub status: AccountStatus,
    pub http_status: Option<u16>,
    pub message: String,
}

/// Traffic of an account over the last 24 hours.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountStats {
    pub requests: u64,
    pub errors: u64,
    pub overloaded: u64,
}

/// The range (ms) an account's `firstTokenTimeoutMs` may take: 1 s to 10 minutes.
pub const FIRST_TOKEN_TIMEOUT_RANGE_MS: std::ops::RangeInclusive<u64> = 1_000..=600_000;

/// An upstream account as read back. The API key is write-only: only a masked hint is shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub id: String,
    pub name: String,
    pub platform: Platform,
    pub account_type: AccountType,
    pub api_key_hint: String,
    pub base_url: String,
    /// The proxy URL with its password masked.
    pub proxy: Option<String>,
    pub priority: i32,
    pub is_active: bool,
    pub schedulable: bool,
    pub status: AccountStatus,
    pub status_message: Option<String>,
    pub status_changed_at: Option<DateTime<Utc>>,
    pub cooldown_until: Option<DateTime<Utc>>,
    pub supported_models: Vec<String>,
    pub model_mapping: BTreeMap<String, String>,
    pub max_concurrency: Option<u32>,
    /// USD per month, for margin.
    pub monthly_cost: f64,
    pub notes: String,
    /// Azure OpenAI deployment name (platform `openai` only).
    pub azure_deployment: Option<String>,
    pub azure_api_version: Option<String>,
    /// The account's own first-token timeout for streams (ms); `None` = `FIRST_TOKEN_TIMEOUT_MS`.
    #[serde(default)]
    pub first_token_timeout_ms: Option<u64>,
    pub group_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// Live: requests in flight on this instance.
    pub in_flight: u32,
    pub last_error: Option<AccountEvent>,
    pub stats24h: AccountStats,
    pub bound_keys: u64,
    /// The account's budget, when it has one.
    pub budget: Option<super::AccountBudget>,
}

/// `POST /admin/accounts`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountInput {
    pub name: String,
    pub platform: Option<Platform>,
    pub account_type: Option<AccountType>,
    pub api_key: String,
    pub base_url: Option<String>,
    pub proxy: Option<String>,
    pub priority: Option<i32>,
    pub is_active: Option<bool>,
    pub schedulable: Option<bool>,
    pub supported_models: Option<Vec<String>>,
    pub model_mapping: Option<BTreeMap<String, String>>,
    pub max_concurrency: Option<u32>,
    pub monthly_cost: Option<f64>,
    pub notes: Option<String>,
    pub azure_deployment: Option<String>,
    pub azure_api_version: Option<String>,
    pub first_token_timeout_ms: Option<u64>,
}

/// `PATCH /admin/accounts/{id}`: absent = unchanged; `null` clears `proxy`, `maxConcurrency`
/// and the Azure fields.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountPatch {
    pub name: Option<String>,
    pub account_type: Option<AccountType>,
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    pub proxy: Option<Option<String>>,
    pub priority: Option<i32>,
    pub is_active: Option<bool>,
    pub schedulable: Option<bool>,
    pub supported_models: Option<Vec<String>>,
    pub model_mapping: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub max_concurrency: Option<Option<u32>>,
    pub monthly_cost: Option<f64>,
    pub notes: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    pub azure_deployment: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub azure_api_version: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub first_token_timeout_ms: Option<Option<u64>>,
    /// A budget to set, or `null` to remove it.
    #[serde(default, deserialize_with = "double_option")]
    pub budget: Option<Option<super::BudgetInput>>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
pub fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The answer of `POST /admin/accounts/{id}/test`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountTestResult {
    pub ok: bool,
    pub latency_ms: u64,
    pub http_status: Option<u16>,
    pub model: String,
    /// The upstream's error message, when the test failed.
    pub error: Option<String>,
}

/// A reference to a key bound to an account or group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRef {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountGroup {
    pub id: String,
    pub name: String,
    pub platform: Platform,
    pub description: String,
    pub account_ids: Vec<String>,
    pub bound_keys: Vec<KeyRef>,
    /// Total keys bound (the list above may be truncated).
    pub bound_key_count: u64,
    /// How conversations stay on their account: `grace` (through cooldowns shorter than
    /// `STICKY_UNAVAILABLE_GRACE_SECS`), `keep` (through any cooldown, for the prompt cache),
    /// `move` (moved at once when their account cools down).
    #[serde(default)]
    pub sticky_mode: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupInput {
    pub name: String,
    pub platform: Option<Platform>,
    pub description: Option<String>,
    pub sticky_mode: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub sticky_mode: Option<String>,
}

/// `PUT /admin/account-groups/{id}/members`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupMembers {
    pub account_ids: Vec<String>,
}
