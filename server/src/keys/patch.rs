//! Partial updates: a stored key's settings in wire form, with a PATCH laid over them, so an
//! edit goes through the same validation as a new key.

use app::types::{micros_to_usd, KeySettings, UpdateKey, When};

use crate::storage::keys::KeyConfig;

fn to_u32(v: i64) -> u32 {
    v.clamp(0, i64::from(u32::MAX)) as u32
}

/// Every setting of a stored key, all present.
pub fn settings_of(c: &KeyConfig) -> KeySettings {
    KeySettings {
        description: Some(c.description.clone()),
        tags: Some(c.tags.clone()),
        is_active: Some(c.is_active),
        quota_limit: Some(micros_to_usd(c.quota_limit_micros)),
        expires_at: c
            .expires_at
            .and_then(|at| When::from_stored(at, c.expires_on.as_deref())),
        activation_days: c.activation_days.map(to_u32),
        concurrency_limit: Some(to_u32(c.concurrency_limit)),
        concurrent_request_queue_enabled: Some(c.queue_enabled),
        concurrent_request_queue_max_size: Some(to_u32(c.queue_max_size)),
        concurrent_request_queue_timeout_ms: Some(c.queue_timeout_ms.max(0) as u64),
        rate_limit_window: Some(to_u32(c.rate_limit_window_min)),
        rate_limit_requests: Some(to_u32(c.rate_limit_requests)),
        rate_limit_cost: Some(micros_to_usd(c.rate_limit_cost_micros)),
        daily_cost_limit: Some(micros_to_usd(c.daily_cost_limit_micros)),
        allowed_models: Some(c.allowed_models.clone()),
        permissions: Some(c.permissions.clone()),
        claude_account_id: Some(c.claude_account_id.clone()),
        openai_account_id: Some(c.openai_account_id.clone()),
        gemini_account_id: Some(c.gemini_account_id.clone()),
        allow_pool_fallback: Some(c.allow_pool_fallback),
        strict_max_tokens: Some(c.strict_max_tokens),
        allow_server_tools: Some(c.allow_server_tools),
        allowed_clients: Some(c.restrictions.allowed_clients.clone()),
        allowed_cidrs: Some(c.restrictions.allowed_cidrs.clone()),
        model_daily_cost_limits: Some(
            c.restrictions
                .model_daily_cost_limits
                .iter()
                .map(|(f, m)| (f.clone(), micros_to_usd(*m)))
                .collect(),
        ),
        sale_price: Some(micros_to_usd(c.sale_price_micros)),
        currency: Some(c.currency.clone()),
        preset_id: c.preset_id.clone(),
    }
}

/// `current` with every field the patch carries replaced (`null` clears the nullable ones).
pub fn apply(mut s: KeySettings, p: &UpdateKey) -> KeySettings {
    macro_rules! set {
        ($($field:ident),*) => {
            $(if let Some(v) = &p.$field {
                s.$field = Some(v.clone());
            })*
        };
    }
    set!(
        description,
        tags,
        is_active,
        quota_limit,
        concurrency_limit,
        concurrent_request_queue_enabled,
        concurrent_request_queue_max_size,
        concurrent_request_queue_timeout_ms,
        rate_limit_window,
        rate_limit_requests,
        rate_limit_cost,
        daily_cost_limit,
        allowed_models,
        permissions,
        claude_account_id,
        openai_account_id,
        gemini_account_id,
        allow_pool_fallback,
        strict_max_tokens,
        allow_server_tools,
        allowed_clients,
        allowed_cidrs,
        model_daily_cost_limits,
        sale_price,
        currency
    );
    if let Some(v) = p.expires_at {
        s.expires_at = v;
    }
    if let Some(v) = p.activation_days {
        s.activation_days = v;
    }
    if let Some(v) = &p.preset_id {
        s.preset_id = v.clone();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::validate::{key_settings, Mode};

    #[test]
    fn stored_settings_round_trip_and_patches_apply() {
        let original = KeySettings {
            quota_limit: Some(12.345678),
            expires_at: chrono::DateTime::from_timestamp_millis(9_000_000).map(When::At),
            tags: Some(vec!["vip".into()]),
            sale_price: Some(99.9),
            currency: Some("CNY".into()),
            ..Default::default()
        };
        let config = key_settings(&original, Mode::Create { now: 0 }, "").unwrap();
        let again = key_settings(
            &settings_of(&config),
            Mode::Update {
                expiry_touched: false,
            },
            "",
        )
        .unwrap();
        assert_eq!(again, config);

        let patch: UpdateKey =
            serde_json::from_str(r#"{"expiresAt":null,"activationDays":30,"quotaLimit":1}"#)
                .unwrap();
        let patched = apply(settings_of(&config), &patch);
        assert_eq!(patched.expires_at, None);
        assert_eq!(patched.activation_days, Some(30));
        assert_eq!(patched.quota_limit, Some(1.0));
        assert_eq!(patched.tags.as_deref(), Some(&["vip".to_string()][..]));
    }
}
