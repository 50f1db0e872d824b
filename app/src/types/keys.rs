//! API keys as the REST API and the dashboard speak them. Field names are a contract: the
//! operators' docs and scripts use them (they follow claude-relay-service's names).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::When;

/// Lifecycle state derived from the stored fields at read time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    Expired,
    Exhausted,
    Disabled,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Expired => "expired",
            KeyStatus::Exhausted => "exhausted",
            KeyStatus::Disabled => "disabled",
        }
    }
}

/// A key as read back. Money in USD; the plaintext key is never part of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: String,
    /// The first characters of the key, for recognising it (`tg_AbC1…`).
    pub key_prefix: String,
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub is_active: bool,
    pub status: KeyStatus,
    /// USD; 0 = unlimited.
    pub quota_limit: f64,
    /// As the operator wrote it: a time, or a date (the end of that day in the configured time
    /// zone).
    pub expires_at: Option<When>,
    /// Validity that starts at the first request, instead of a fixed `expiresAt`.
    pub activation_days: Option<u32>,
    pub activated_at: Option<DateTime<Utc>>,
    /// 0 = unlimited.
    pub concurrency_limit: u32,
    pub concurrent_request_queue_enabled: bool,
    pub concurrent_request_queue_max_size: u32,
    pub concurrent_request_queue_timeout_ms: u64,
    /// Minutes; 0 = no rate window.
    pub rate_limit_window: u32,
    /// Requests per window; 0 = unlimited.
    pub rate_limit_requests: u32,
    /// USD per window; 0 = unlimited.
    pub rate_limit_cost: f64,
    /// USD per day (midnight in the configured time zone); 0 = unlimited.
    pub daily_cost_limit: f64,
    /// Empty = all models.
    pub allowed_models: Vec<String>,
    /// Platforms the key may use (`claude`, `openai`, `gemini`); empty = all.
    pub permissions: Vec<String>,
    /// Empty = shared pool; an account id = dedicated; `group:<id>` = group.
    pub claude_account_id: String,
    pub openai_account_id: String,
    pub gemini_account_id: String,
    /// A dedicated key may fall back to the shared pool when its account is unusable.
    pub allow_pool_fallback: bool,
    /// Strict mode: each request's output ceiling is lowered to what the quota has left.
    #[serde(default)]
    pub strict_max_tokens: bool,
    /// Server-side tools (web search, code execution, grounding) may be used.
    #[serde(default = "yes")]
    pub allow_server_tools: bool,
    /// Clients that may use the key (`claude_code`, `codex_cli`, `gemini_cli`); empty = any.
    #[serde(default)]
    pub allowed_clients: Vec<String>,
    /// Client addresses (IPv4/IPv6 CIDR ranges or addresses) the key may be used from; empty = any.
    #[serde(default)]
    pub allowed_cidrs: Vec<String>,
    /// USD per day per model family (a part of the model name, e.g. `opus`).
    #[serde(default)]
    pub model_daily_cost_limits: BTreeMap<String, f64>,
    /// What the key was sold for, in `currency`.
    pub sale_price: f64,
    pub currency: String,
    pub preset_id: Option<String>,
    /// The staff user who created the key (kept when the user is deleted); none for keys from
    /// before staff roles, the command line's are `cli`.
    #[serde(default)]
    pub created_by: Option<KeyCreator>,
    /// USD settled so far.
    pub spent: f64,
    /// USD reserved by requests in flight.
    pub reserved: f64,
    pub requests: u64,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Who created a key: user id and name at the time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyCreator {
    pub id: String,
    pub name: String,
}

fn yes() -> bool {
    true
}

/// A newly created key: the record plus the plaintext key, shown exactly once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedKey {
    #[serde(flatten)]
    pub record: ApiKey,
    pub key: String,
}

/// Fields for creating keys (also the settings a preset saves). Absent fields take defaults:
/// unlimited quota and concurrency, no expiry, shared pool.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KeySettings {
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub is_active: Option<bool>,
    pub quota_limit: Option<f64>,
    /// A time, or a date (`2026-01-18`: the end of that day in the configured time zone).
    pub expires_at: Option<When>,
    pub activation_days: Option<u32>,
    pub concurrency_limit: Option<u32>,
    pub concurrent_request_queue_enabled: Option<bool>,
    pub concurrent_request_queue_max_size: Option<u32>,
    pub concurrent_request_queue_timeout_ms: Option<u64>,
    pub rate_limit_window: Option<u32>,
    pub rate_limit_requests: Option<u32>,
    pub rate_limit_cost: Option<f64>,
    pub daily_cost_limit: Option<f64>,
    pub allowed_models: Option<Vec<String>>,
    pub permissions: Option<Vec<String>>,
    pub claude_account_id: Option<String>,
    pub openai_account_id: Option<String>,
    pub gemini_account_id: Option<String>,
    pub allow_pool_fallback: Option<bool>,
    pub strict_max_tokens: Option<bool>,
    pub allow_server_tools: Option<bool>,
    pub allowed_clients: Option<Vec<String>>,
    pub allowed_cidrs: Option<Vec<String>>,
    pub model_daily_cost_limits: Option<BTreeMap<String, f64>>,
    pub sale_price: Option<f64>,
    pub currency: Option<String>,
    pub preset_id: Option<String>,
}

/// `POST /admin/api-keys`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateKey {
    pub name: String,
    #[serde(flatten)]
    pub settings: KeySettings,
}

/// The clients a key's `allowedClients` can name (the id the API takes, the name the form
/// shows); the service refuses any other id.
pub const KEY_CLIENTS: [(&str, &str); 3] = [
    ("claude_code", "Claude Code"),
    ("codex_cli", "Codex CLI"),
    ("gemini_cli", "Gemini CLI"),
];

/// Most keys one batch may create (the service refuses more; the form says so first).
pub const MAX_BATCH: usize = 1000;

/// The id of the built-in trial preset (migration 0002), the batch form's first choice.
pub const TRIAL_PRESET_ID: &str = "preset-trial";

// One literal, so the constant and the template built from it cannot drift.
macro_rules! order_placeholder {
    () => {
        "[订单号]"
    };
}

/// In a batch's name template, replaced by each order number (like `{name}`).
pub const ORDER_PLACEHOLDER: &str = order_placeholder!();

/// The name template the batch form offers for order numbers.
pub const ORDER_TEMPLATE: &str = concat!("20刀体验_", order_placeholder!());

/// `POST /admin/api-keys/batch`: `count` + `nameTemplate` (`{n}` is the 1-based number,
/// `[订单号]`/`{name}` the order number), or `names` (one key per name, e.g. order numbers).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchCreateKeys {
    pub count: Option<u32>,
    pub name_template: Option<String>,
    pub names: Option<Vec<String>>,
    #[serde(flatten)]
    pub settings: KeySettings,
}

/// `PATCH /admin/api-keys/{id}`: absent fields stay unchanged; an explicit `null` clears the
/// nullable ones (`expiresAt`, `activationDays`, `presetId`). Same field names as [`KeySettings`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UpdateKey {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_limit: Option<f64>,
    #[serde(
        deserialize_with = "nullable::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<Option<When>>,
    #[serde(
        deserialize_with = "nullable::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub activation_days: Option<Option<u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency_limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrent_request_queue_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrent_request_queue_max_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrent_request_queue_timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_window: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_requests: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_cost: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daily_cost_limit: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_models: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claude_account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openai_account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gemini_account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_pool_fallback: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict_max_tokens: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_server_tools: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_clients: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_cidrs: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_daily_cost_limits: Option<BTreeMap<String, f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sale_price: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(
        deserialize_with = "nullable::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub preset_id: Option<Option<String>>,
}

/// `Option<Option<T>>` fields: absent → `None` (via `#[serde(default)]`), `null` → `Some(None)`,
/// a value → `Some(Some(v))`.
mod nullable {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// `GET /admin/api-keys` query.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KeyQuery {
    pub page: Option<u32>,
    pub page_size: Option<u32>,
    pub tag: Option<String>,
    pub status: Option<KeyStatus>,
    /// Matches name, description or key prefix.
    pub search: Option<String>,
    pub preset_id: Option<String>,
    /// Keys created by this staff user (id).
    pub created_by: Option<String>,
    /// Keys bound to this account id or `group:<id>` on any platform.
    pub binding: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyPage {
    pub items: Vec<ApiKey>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
}

/// A saved set of key settings for batch creation ("Trial card: $20, 7 days, ...").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyPreset {
    pub id: String,
    pub name: String,
    /// Validity in days from creation (becomes `expiresAt`), when the preset sets one.
    pub validity_days: Option<u32>,
    pub settings: KeySettings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyPresetInput {
    pub name: String,
    pub validity_days: Option<u32>,
    #[serde(default)]
    pub settings: KeySettings,
}

/// `PATCH /admin/key-presets/{id}`: absent fields stay unchanged; `validityDays: null` clears
/// it; `settings`, when given, replaces the saved settings as a whole.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct KeyPresetPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        deserialize_with = "nullable::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub validity_days: Option<Option<u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<KeySettings>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_tells_absent_from_null() {
        let p: UpdateKey =
            serde_json::from_str(r#"{"expiresAt":null,"quotaLimit":5,"presetId":"p"}"#).unwrap();
        assert_eq!(p.expires_at, Some(None));
        assert_eq!(p.activation_days, None);
        assert_eq!(p.preset_id, Some(Some("p".into())));
        assert_eq!(p.quota_limit, Some(5.0));
        // Serializing keeps the distinction, so server functions round-trip it.
        let back: UpdateKey = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        assert_eq!(
            serde_json::to_value(UpdateKey::default()).unwrap(),
            serde_json::json!({})
        );
    }
}
