//! An API key's row and its administrator-controlled settings, with the JSON columns (tags,
//! allowed models, permissions) parsed and serialized in one place.

use app::types::KeyStatus;
use sqlx::FromRow;

use crate::keys::lifecycle::{self, Lifecycle, Renewal};
use crate::keys::restrictions::Restrictions;
use crate::storage::{StoreError, StoreResult};

#[derive(Clone, Debug, FromRow)]
pub struct KeyRow {
    pub id: String,
    pub key_prefix: String,
    pub name: String,
    pub description: String,
    pub tags: String,
    pub is_active: bool,
    pub quota_limit_micros: i64,
    pub expires_at: Option<i64>,
    pub activation_days: Option<i64>,
    pub activated_at: Option<i64>,
    pub concurrency_limit: i64,
    pub queue_enabled: bool,
    pub queue_max_size: i64,
    pub queue_timeout_ms: i64,
    pub rate_limit_window_min: i64,
    pub rate_limit_requests: i64,
    pub rate_limit_cost_micros: i64,
    pub daily_cost_limit_micros: i64,
    pub allowed_models: String,
    pub permissions: String,
    pub claude_account_id: String,
    pub openai_account_id: String,
    pub gemini_account_id: String,
    pub allow_pool_fallback: bool,
    pub sale_price_micros: i64,
    pub currency: String,
    pub preset_id: Option<String>,
    pub strict_max_tokens: bool,
    pub allow_server_tools: bool,
    pub restrictions: String,
    pub spent_micros: i64,
    pub requests: i64,
    pub last_used_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    #[sqlx(default)]
    pub created_by_id: Option<String>,
    #[sqlx(default)]
    pub created_by_name: Option<String>,
    /// The expiry as the operator wrote it, when it was a date (`YYYY-MM-DD`).
    pub expires_on: Option<String>,
}

/// The settings of a key an administrator controls, validated, in storage units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyConfig {
    pub description: String,
    pub tags: Vec<String>,
    pub is_active: bool,
    pub quota_limit_micros: i64,
    pub expires_at: Option<i64>,
    /// `expires_at` as the operator wrote it, when they wrote a date (`YYYY-MM-DD`).
    pub expires_on: Option<String>,
    pub activation_days: Option<i64>,
    pub concurrency_limit: i64,
    pub queue_enabled: bool,
    pub queue_max_size: i64,
    pub queue_timeout_ms: i64,
    pub rate_limit_window_min: i64,
    pub rate_limit_requests: i64,
    pub rate_limit_cost_micros: i64,
    pub daily_cost_limit_micros: i64,
    pub allowed_models: Vec<String>,
    pub permissions: Vec<String>,
    pub claude_account_id: String,
    pub openai_account_id: String,
    pub gemini_account_id: String,
    pub allow_pool_fallback: bool,
    pub sale_price_micros: i64,
    pub currency: String,
    pub preset_id: Option<String>,
    pub strict_max_tokens: bool,
    pub allow_server_tools: bool,
    pub restrictions: Restrictions,
}

/// A key to insert: the hash of its plaintext, never the plaintext.
#[derive(Clone, Debug)]
pub struct NewKey {
    pub id: String,
    pub key_hash: String,
    pub key_prefix: String,
    pub name: String,
    pub config: KeyConfig,
}

/// A key whose validity has ended, as cleanup reports it.
#[derive(Clone, Debug, FromRow)]
pub struct ExpiredKey {
    pub id: String,
    pub name: String,
    pub expired_at: i64,
}

fn parse_list(column: &str, text: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("api_keys.{column}: {e}")))
}

fn to_json(list: &[String]) -> String {
    // Serializing a list of strings cannot fail.
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

impl NewKey {
    /// The row as it reads back right after [`crate::storage::Store::insert_api_keys`] at `now`.
    pub fn into_row(self, now: i64) -> KeyRow {
        let json = ConfigJson::of(&self.config);
        let c = self.config;
        KeyRow {
            id: self.id,
            key_prefix: self.key_prefix,
            name: self.name,
            description: c.description,
            tags: json.tags,
            is_active: c.is_active,
            quota_limit_micros: c.quota_limit_micros,
            expires_at: c.expires_at,
            activation_days: c.activation_days,
            activated_at: None,
            concurrency_limit: c.concurrency_limit,
            queue_enabled: c.queue_enabled,
            queue_max_size: c.queue_max_size,
            queue_timeout_ms: c.queue_timeout_ms,
            rate_limit_window_min: c.rate_limit_window_min,
            rate_limit_requests: c.rate_limit_requests,
            rate_limit_cost_micros: c.rate_limit_cost_micros,
            daily_cost_limit_micros: c.daily_cost_limit_micros,
            allowed_models: json.allowed_models,
            permissions: json.permissions,
            claude_account_id: c.claude_account_id,
            openai_account_id: c.openai_account_id,
            gemini_account_id: c.gemini_account_id,
            allow_pool_fallback: c.allow_pool_fallback,
            sale_price_micros: c.sale_price_micros,
            currency: c.currency,
            preset_id: c.preset_id,
            strict_max_tokens: c.strict_max_tokens,
            allow_server_tools: c.allow_server_tools,
            restrictions: json.restrictions,
            spent_micros: 0,
            requests: 0,
            last_used_at: None,
            created_at: now,
            updated_at: now,
            created_by_id: None,
            created_by_name: None,
            expires_on: c.expires_on,
        }
    }
}

impl KeyRow {
    /// The administrator-controlled settings of the row.
    pub fn config(&self) -> StoreResult<KeyConfig> {
        Ok(KeyConfig {
            description: self.description.clone(),
            tags: parse_list("tags", &self.tags)?,
            is_active: self.is_active,
            quota_limit_micros: self.quota_limit_micros,
            expires_at: self.expires_at,
            expires_on: self.expires_on.clone(),
            activation_days: self.activation_days,
            concurrency_limit: self.concurrency_limit,
            queue_enabled: self.queue_enabled,
            queue_max_size: self.queue_max_size,
            queue_timeout_ms: self.queue_timeout_ms,
            rate_limit_window_min: self.rate_limit_window_min,
            rate_limit_requests: self.rate_limit_requests,
            rate_limit_cost_micros: self.rate_limit_cost_micros,
            daily_cost_limit_micros: self.daily_cost_limit_micros,
            allowed_models: parse_list("allowed_models", &self.allowed_models)?,
            permissions: parse_list("permissions", &self.permissions)?,
            claude_account_id: self.claude_account_id.clone(),
            openai_account_id: self.openai_account_id.clone(),
            gemini_account_id: self.gemini_account_id.clone(),
            allow_pool_fallback: self.allow_pool_fallback,
            sale_price_micros: self.sale_price_micros,
            currency: self.currency.clone(),
            preset_id: self.preset_id.clone(),
            strict_max_tokens: self.strict_max_tokens,
            allow_server_tools: self.allow_server_tools,
            restrictions: Restrictions::parse(&self.restrictions)
                .map_err(|e| StoreError::Corrupt(format!("api_keys.restrictions: {e}")))?,
        })
    }

    /// The row with `c` as its settings (usage, times and identity kept): what it reads back
    /// as after an update, for the audit trail's before → after.
    pub fn with_config(&self, c: &KeyConfig) -> KeyRow {
        let json = ConfigJson::of(c);
        KeyRow {
            description: c.description.clone(),
            tags: json.tags,
            is_active: c.is_active,
            quota_limit_micros: c.quota_limit_micros,
            expires_at: c.expires_at,
            activation_days: c.activation_days,
            concurrency_limit: c.concurrency_limit,
            queue_enabled: c.queue_enabled,
            queue_max_size: c.queue_max_size,
            queue_timeout_ms: c.queue_timeout_ms,
            rate_limit_window_min: c.rate_limit_window_min,
            rate_limit_requests: c.rate_limit_requests,
            rate_limit_cost_micros: c.rate_limit_cost_micros,
            daily_cost_limit_micros: c.daily_cost_limit_micros,
            allowed_models: json.allowed_models,
            permissions: json.permissions,
            claude_account_id: c.claude_account_id.clone(),
            openai_account_id: c.openai_account_id.clone(),
            gemini_account_id: c.gemini_account_id.clone(),
            allow_pool_fallback: c.allow_pool_fallback,
            sale_price_micros: c.sale_price_micros,
            currency: c.currency.clone(),
            preset_id: c.preset_id.clone(),
            ..self.clone()
        }
    }

    /// When the key's validity ends, if it does ([`lifecycle::expiry`]).
    pub fn expiry(&self) -> Option<i64> {
        lifecycle::expiry(self.expires_at, self.activation_days, self.activated_at)
    }

    /// The columns the key's lifecycle depends on.
    pub fn lifecycle(&self) -> Lifecycle {
        Lifecycle {
            is_active: self.is_active,
            expires_at: self.expires_at,
            activation_days: self.activation_days,
            activated_at: self.activated_at,
            quota_limit_micros: self.quota_limit_micros,
            spent_micros: self.spent_micros,
        }
    }

    /// The lifecycle state at `now` ([`lifecycle::status`], the rule every query uses too).
    pub fn status(&self, now: i64) -> KeyStatus {
        lifecycle::status(&self.lifecycle(), now)
    }

    /// `config` (this key's settings, perhaps already changed otherwise) after `renewal` at
    /// `now`: quota and validity by [`lifecycle::renew`], a written date kept as a date by
    /// [`lifecycle::renewed_expiry`] (dates read in `tz`). Also returns the expiry after it.
    /// The one renewal rule of staff renewals and code redemptions.
    pub fn renewed(
        &self,
        mut config: KeyConfig,
        renewal: Renewal,
        now: i64,
        tz: chrono_tz::Tz,
    ) -> (KeyConfig, Option<i64>) {
        let renewed = lifecycle::renew(&self.lifecycle(), renewal, now);
        config.quota_limit_micros = renewed.quota_limit_micros;
        (config.expires_at, config.expires_on) = lifecycle::renewed_expiry(
            self.expires_on.as_deref(),
            self.expires_at,
            renewed.expires_at,
            renewal.days_add,
            tz,
        );
        config.activation_days = renewed.activation_days;
        let after = lifecycle::expiry(
            config.expires_at,
            renewed.activation_days,
            self.activated_at,
        );
        (config, after)
    }
}

/// The JSON columns of a config, serialized once per write.
pub(crate) struct ConfigJson {
    pub(crate) tags: String,
    pub(crate) allowed_models: String,
    pub(crate) permissions: String,
    pub(crate) restrictions: String,
}

impl ConfigJson {
    pub(crate) fn of(c: &KeyConfig) -> Self {
        ConfigJson {
            tags: to_json(&c.tags),
            allowed_models: to_json(&c.allowed_models),
            permissions: to_json(&c.permissions),
            restrictions: c.restrictions.to_json(),
        }
    }
}
