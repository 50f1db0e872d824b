//! Validation of key settings: every rule names the JSON field it concerns, and a setting is
//! turned into its storage form (micro-USD, epoch ms, defaults filled in) only once it passed.
//! This file holds the rule for a whole key's settings; `fields` the rules for one field of
//! any kind (names, lists, money, bindings), `restrictions` those for who and what a key serves.

use app::error::AdminError;
use app::types::{KeySettings, When};

use crate::storage::keys::KeyConfig;

mod fields;
mod restrictions;
#[cfg(test)]
mod tests;

use fields::{binding, clean_list, money, Fields};
pub use fields::{key_name, preset_name, validity_days};

pub const MAX_NAME_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 2000;
const MAX_TAGS: usize = 20;
const MAX_TAG_CHARS: usize = 50;
const MAX_MODELS: usize = 500;
const MAX_MODEL_CHARS: usize = 200;
pub(super) const MAX_ACTIVATION_DAYS: u32 = 3650;
const MAX_QUEUE_SIZE: u32 = 1000;
const MAX_QUEUE_TIMEOUT_MS: u64 = 600_000;
/// 30 days, in minutes.
const MAX_RATE_WINDOW_MIN: u32 = 43_200;
pub(super) const MAX_PRESET_NAME_CHARS: usize = 100;
/// Stored even while the queue is off, so switching it on later needs no other field.
pub const DEFAULT_QUEUE_MAX_SIZE: u32 = 10;
pub const DEFAULT_QUEUE_TIMEOUT_MS: u64 = 10_000;
pub const PLATFORMS: &[&str] = &["claude", "openai", "gemini"];
pub const GROUP_BINDING_PREFIX: &str = "group:";

/// What the settings are for; the rules differ slightly.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// A new key: a fixed `expiresAt` must lie after `now`.
    Create { now: i64 },
    /// An edit. `expiry_touched` says whether the patch set `expiresAt` or `activationDays`;
    /// only then is their exclusivity checked, so unrelated edits of a key whose stored
    /// expiry predates the rule (or was filled in at activation) still go through.
    Update { expiry_touched: bool },
    /// A preset's saved settings: validity is `validityDays`, never a fixed date.
    Preset,
}

/// [`key_settings_in`] with dates read in UTC (presets, which take no dates, and tests).
pub fn key_settings(s: &KeySettings, mode: Mode, prefix: &str) -> Result<KeyConfig, AdminError> {
    key_settings_in(s, mode, prefix, chrono_tz::UTC)
}

/// Validates `s` and fills defaults: no quota, expiry, concurrency or rate limits, active,
/// shared pool, USD. A date as `expiresAt` is the end of that day in `tz`, and is kept as
/// written (`expires_on`).
pub fn key_settings_in(
    s: &KeySettings,
    mode: Mode,
    prefix: &str,
    tz: chrono_tz::Tz,
) -> Result<KeyConfig, AdminError> {
    let f = Fields(prefix);
    let description = s.description.as_deref().unwrap_or("").trim().to_owned();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(f.err(
            "description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    let tags = clean_list(&f, "tags", s.tags.as_deref(), MAX_TAGS, MAX_TAG_CHARS)?;
    let quota_limit_micros = money(&f, "quotaLimit", s.quota_limit)?;

    let expires_at = s.expires_at.map(|at| at.instant(&tz).timestamp_millis());
    let expires_on = s
        .expires_at
        .and_then(When::day)
        .map(|d| d.format("%Y-%m-%d").to_string());
    match (mode, expires_at) {
        (Mode::Create { now }, Some(at)) if at <= now => {
            return Err(f.err("expiresAt", "must be in the future"));
        }
        (Mode::Preset, Some(_)) => {
            return Err(f.err("expiresAt", "presets set validityDays instead of a date"));
        }
        _ => {}
    }
    if let Some(days) = s.activation_days {
        if !(1..=MAX_ACTIVATION_DAYS).contains(&days) {
            return Err(f.err(
                "activationDays",
                format!("must be between 1 and {MAX_ACTIVATION_DAYS}"),
            ));
        }
        let check_exclusive = !matches!(
            mode,
            Mode::Update {
                expiry_touched: false
            }
        );
        if check_exclusive && expires_at.is_some() {
            return Err(f.err(
                "activationDays",
                "cannot be combined with expiresAt (set the other to null)",
            ));
        }
    }

    let queue_enabled = s.concurrent_request_queue_enabled.unwrap_or(false);
    let queue_max_size = s
        .concurrent_request_queue_max_size
        .unwrap_or(DEFAULT_QUEUE_MAX_SIZE);
    if queue_max_size > MAX_QUEUE_SIZE {
        return Err(f.err(
            "concurrentRequestQueueMaxSize",
            format!("must be at most {MAX_QUEUE_SIZE}"),
        ));
    }
    let queue_timeout_ms = s
        .concurrent_request_queue_timeout_ms
        .unwrap_or(DEFAULT_QUEUE_TIMEOUT_MS);
    if queue_timeout_ms > MAX_QUEUE_TIMEOUT_MS || (queue_enabled && queue_timeout_ms == 0) {
        return Err(f.err(
            "concurrentRequestQueueTimeoutMs",
            format!("must be between 1 and {MAX_QUEUE_TIMEOUT_MS} ms"),
        ));
    }

    let rate_limit_window = s.rate_limit_window.unwrap_or(0);
    if rate_limit_window > MAX_RATE_WINDOW_MIN {
        return Err(f.err(
            "rateLimitWindow",
            format!("must be between 0 and {MAX_RATE_WINDOW_MIN} minutes"),
        ));
    }
    let rate_limit_requests = s.rate_limit_requests.unwrap_or(0);
    let rate_limit_cost_micros = money(&f, "rateLimitCost", s.rate_limit_cost)?;
    if rate_limit_window == 0 {
        if rate_limit_requests > 0 {
            return Err(f.err("rateLimitRequests", "needs a rateLimitWindow above 0"));
        }
        if rate_limit_cost_micros > 0 {
            return Err(f.err("rateLimitCost", "needs a rateLimitWindow above 0"));
        }
    }
    let daily_cost_limit_micros = money(&f, "dailyCostLimit", s.daily_cost_limit)?;

    let allowed_models = clean_list(
        &f,
        "allowedModels",
        s.allowed_models.as_deref(),
        MAX_MODELS,
        MAX_MODEL_CHARS,
    )?;
    let permissions = clean_list(&f, "permissions", s.permissions.as_deref(), 16, 16)
        .map_err(|_| f.err("permissions", "may only list claude, openai and gemini"))?;
    if let Some(bad) = permissions
        .iter()
        .find(|p| !PLATFORMS.contains(&p.as_str()))
    {
        return Err(f.err(
            "permissions",
            format!("unknown platform '{bad}' (use claude, openai or gemini)"),
        ));
    }

    let claude_account_id = binding(&f, "claudeAccountId", s.claude_account_id.as_deref())?;
    let openai_account_id = binding(&f, "openaiAccountId", s.openai_account_id.as_deref())?;
    let gemini_account_id = binding(&f, "geminiAccountId", s.gemini_account_id.as_deref())?;

    let restrictions = restrictions::restrictions(&f, s)?;
    let sale_price_micros = money(&f, "salePrice", s.sale_price)?;
    let currency = s.currency.as_deref().unwrap_or("USD").trim().to_owned();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(f.err(
            "currency",
            "must be a 3-letter upper-case code such as USD or CNY",
        ));
    }

    let preset_id = match (mode, s.preset_id.as_deref().map(str::trim)) {
        (Mode::Preset, Some(_)) => return Err(f.err("presetId", "is not a preset setting")),
        (_, Some("")) => return Err(f.err("presetId", "must not be empty")),
        (_, other) => other.map(str::to_owned),
    };

    Ok(KeyConfig {
        description,
        tags,
        is_active: s.is_active.unwrap_or(true),
        quota_limit_micros,
        expires_at,
        expires_on,
        activation_days: s.activation_days.map(i64::from),
        concurrency_limit: i64::from(s.concurrency_limit.unwrap_or(0)),
        queue_enabled,
        queue_max_size: i64::from(queue_max_size),
        queue_timeout_ms: queue_timeout_ms as i64,
        rate_limit_window_min: i64::from(rate_limit_window),
        rate_limit_requests: i64::from(rate_limit_requests),
        rate_limit_cost_micros,
        daily_cost_limit_micros,
        allowed_models,
        permissions,
        claude_account_id,
        openai_account_id,
        gemini_account_id,
        allow_pool_fallback: s.allow_pool_fallback.unwrap_or(false),
        strict_max_tokens: s.strict_max_tokens.unwrap_or(false),
        allow_server_tools: s.allow_server_tools.unwrap_or(true),
        restrictions,
        sale_price_micros,
        currency,
        preset_id,
    })
}
