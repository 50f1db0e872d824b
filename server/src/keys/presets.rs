//! Presets as stored (`key_presets.config`) and how a preset's settings combine with the
//! explicit settings of a create request.

use app::types::{KeySettings, When};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::storage::keys::KeyConfig;

const DAY_MS: i64 = 86_400_000;

/// The JSON of `key_presets.config`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PresetConfig {
    pub validity_days: Option<u32>,
    pub settings: KeySettings,
}

/// The settings a key is created with from a preset: each explicit field wins over the
/// preset's. Validity is taken as a whole: an explicit `expiresAt` or `activationDays` replaces
/// the preset's validity; otherwise the preset's `activationDays`, else its `validityDays`
/// counted from `now` (becoming `expiresAt`), apply.
pub fn apply(
    preset_id: &str,
    preset: &PresetConfig,
    explicit: &KeySettings,
    now: i64,
) -> KeySettings {
    let p = &preset.settings;
    let explicit_validity = explicit.expires_at.is_some() || explicit.activation_days.is_some();
    let (expires_at, activation_days) = if explicit_validity {
        (explicit.expires_at, explicit.activation_days)
    } else if p.activation_days.is_some() {
        (None, p.activation_days)
    } else {
        let expires = preset
            .validity_days
            .and_then(|d| DateTime::<Utc>::from_timestamp_millis(now + i64::from(d) * DAY_MS))
            .map(When::At);
        (expires, None)
    };
    macro_rules! pick {
        ($field:ident) => {
            explicit.$field.clone().or_else(|| p.$field.clone())
        };
    }
    KeySettings {
        description: pick!(description),
        tags: pick!(tags),
        is_active: pick!(is_active),
        quota_limit: pick!(quota_limit),
        expires_at,
        activation_days,
        concurrency_limit: pick!(concurrency_limit),
        concurrent_request_queue_enabled: pick!(concurrent_request_queue_enabled),
        concurrent_request_queue_max_size: pick!(concurrent_request_queue_max_size),
        concurrent_request_queue_timeout_ms: pick!(concurrent_request_queue_timeout_ms),
        rate_limit_window: pick!(rate_limit_window),
        rate_limit_requests: pick!(rate_limit_requests),
        rate_limit_cost: pick!(rate_limit_cost),
        daily_cost_limit: pick!(daily_cost_limit),
        allowed_models: pick!(allowed_models),
        permissions: pick!(permissions),
        claude_account_id: pick!(claude_account_id),
        openai_account_id: pick!(openai_account_id),
        gemini_account_id: pick!(gemini_account_id),
        allow_pool_fallback: pick!(allow_pool_fallback),
        strict_max_tokens: pick!(strict_max_tokens),
        allow_server_tools: pick!(allow_server_tools),
        allowed_clients: pick!(allowed_clients),
        allowed_cidrs: pick!(allowed_cidrs),
        model_daily_cost_limits: pick!(model_daily_cost_limits),
        sale_price: pick!(sale_price),
        currency: pick!(currency),
        preset_id: Some(preset_id.to_owned()),
    }
}

/// An upgrade to another preset: the preset's binding and limits replace the key's (taken
/// from `preset`, the settings a new key of that preset would get); the key's quota, validity,
/// spend, name, tags and sale record stay.
pub fn take_limits(key: &mut KeyConfig, preset: &KeyConfig) {
    key.concurrency_limit = preset.concurrency_limit;
    key.queue_enabled = preset.queue_enabled;
    key.queue_max_size = preset.queue_max_size;
    key.queue_timeout_ms = preset.queue_timeout_ms;
    key.rate_limit_window_min = preset.rate_limit_window_min;
    key.rate_limit_requests = preset.rate_limit_requests;
    key.rate_limit_cost_micros = preset.rate_limit_cost_micros;
    key.daily_cost_limit_micros = preset.daily_cost_limit_micros;
    key.allowed_models = preset.allowed_models.clone();
    key.permissions = preset.permissions.clone();
    key.claude_account_id = preset.claude_account_id.clone();
    key.openai_account_id = preset.openai_account_id.clone();
    key.gemini_account_id = preset.gemini_account_id.clone();
    key.allow_pool_fallback = preset.allow_pool_fallback;
    key.strict_max_tokens = preset.strict_max_tokens;
    key.allow_server_tools = preset.allow_server_tools;
    key.restrictions = preset.restrictions.clone();
    key.preset_id = preset.preset_id.clone();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial() -> PresetConfig {
        PresetConfig {
            validity_days: Some(7),
            settings: KeySettings {
                quota_limit: Some(20.0),
                concurrency_limit: Some(3),
                ..Default::default()
            },
        }
    }

    #[test]
    fn explicit_fields_win_and_validity_days_become_expiry() {
        let explicit = KeySettings {
            quota_limit: Some(50.0),
            ..Default::default()
        };
        let s = apply("preset-trial", &trial(), &explicit, 1_000);
        assert_eq!(s.quota_limit, Some(50.0));
        assert_eq!(s.concurrency_limit, Some(3));
        assert_eq!(s.preset_id.as_deref(), Some("preset-trial"));
        assert_eq!(
            s.expires_at.map(|d| d.instant(&Utc).timestamp_millis()),
            Some(1_000 + 7 * DAY_MS)
        );
    }

    #[test]
    fn explicit_validity_replaces_the_presets() {
        let explicit = KeySettings {
            activation_days: Some(30),
            ..Default::default()
        };
        let s = apply("p", &trial(), &explicit, 1_000);
        assert_eq!((s.expires_at, s.activation_days), (None, Some(30)));
    }

    #[test]
    fn stored_config_reads_with_missing_fields() {
        let c: PresetConfig =
            serde_json::from_str(r#"{"validityDays":30,"settings":{"quotaLimit":100}}"#).unwrap();
        assert_eq!(c.validity_days, Some(30));
        assert_eq!(c.settings.quota_limit, Some(100.0));
        assert_eq!(c.settings.concurrency_limit, None);
    }
}
