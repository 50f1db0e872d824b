//! Validation of key settings: every rule names the JSON field it concerns, and a setting is
//! turned into its storage form (micro-USD, epoch ms, defaults filled in) only once it passed.

use app::error::AdminError;
use app::types::{usd_to_micros, KeySettings, When};

use crate::keys::restrictions::{self, Restrictions};
use crate::storage::keys::KeyConfig;

pub const MAX_NAME_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 2000;
const MAX_TAGS: usize = 20;
const MAX_TAG_CHARS: usize = 50;
const MAX_MODELS: usize = 500;
const MAX_MODEL_CHARS: usize = 200;
const MAX_ACTIVATION_DAYS: u32 = 3650;
const MAX_QUEUE_SIZE: u32 = 1000;
const MAX_QUEUE_TIMEOUT_MS: u64 = 600_000;
/// 30 days, in minutes.
const MAX_RATE_WINDOW_MIN: u32 = 43_200;
const MAX_PRESET_NAME_CHARS: usize = 100;
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

/// Builds errors whose field carries a prefix (`settings.` inside presets).
struct Fields<'a>(&'a str);

impl Fields<'_> {
    fn err(&self, field: &str, message: impl Into<String>) -> AdminError {
        AdminError::validation(format!("{}{field}", self.0), message)
    }
}

/// A key's name: trimmed, 1..=200 characters, no control characters.
pub fn key_name(raw: &str, field: &str) -> Result<String, AdminError> {
    bounded_text(raw, field, MAX_NAME_CHARS)
}

/// A preset's name: trimmed, 1..=100 characters.
pub fn preset_name(raw: &str) -> Result<String, AdminError> {
    bounded_text(raw, "name", MAX_PRESET_NAME_CHARS)
}

fn bounded_text(raw: &str, field: &str, max: usize) -> Result<String, AdminError> {
    let text = raw.trim();
    let chars = text.chars().count();
    if chars == 0 {
        return Err(AdminError::validation(field, "must not be empty"));
    }
    if chars > max {
        return Err(AdminError::validation(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(AdminError::validation(
            field,
            "must not contain control characters",
        ));
    }
    Ok(text.to_owned())
}

/// A preset's validity: 1..=3650 days.
pub fn validity_days(days: Option<u32>) -> Result<Option<u32>, AdminError> {
    match days {
        Some(d) if !(1..=MAX_ACTIVATION_DAYS).contains(&d) => Err(AdminError::validation(
            "validityDays",
            format!("must be between 1 and {MAX_ACTIVATION_DAYS}"),
        )),
        other => Ok(other),
    }
}

/// USD → micro-USD for a money field: finite, not negative, storable.
fn money(f: &Fields, field: &str, usd: Option<f64>) -> Result<i64, AdminError> {
    let usd = usd.unwrap_or(0.0);
    if !usd.is_finite() {
        return Err(f.err(field, "must be a finite number"));
    }
    if usd < 0.0 {
        return Err(f.err(field, "must be 0 or more"));
    }
    usd_to_micros(usd).ok_or_else(|| f.err(field, "is too large"))
}

/// `allowedClients`, `allowedCidrs` and `modelDailyCostLimits`.
fn restrictions(f: &Fields, s: &KeySettings) -> Result<Restrictions, AdminError> {
    let allowed_clients = clean_list(f, "allowedClients", s.allowed_clients.as_deref(), 8, 32)?;
    if let Some(bad) = allowed_clients
        .iter()
        .find(|c| !restrictions::CLIENTS.contains(&c.as_str()))
    {
        return Err(f.err(
            "allowedClients",
            format!("unknown client '{bad}' (use claude_code, codex_cli or gemini_cli)"),
        ));
    }
    let mut allowed_cidrs = Vec::new();
    for entry in clean_list(
        f,
        "allowedCidrs",
        s.allowed_cidrs.as_deref(),
        restrictions::MAX_CIDRS,
        64,
    )? {
        let net = restrictions::parse_cidr(&entry).map_err(|e| f.err("allowedCidrs", e))?;
        let net = net.to_string();
        if !allowed_cidrs.contains(&net) {
            allowed_cidrs.push(net);
        }
    }
    let limits = s.model_daily_cost_limits.clone().unwrap_or_default();
    if limits.len() > restrictions::MAX_FAMILIES {
        return Err(f.err(
            "modelDailyCostLimits",
            format!("must have at most {} families", restrictions::MAX_FAMILIES),
        ));
    }
    let mut model_daily_cost_limits = std::collections::BTreeMap::new();
    for (family, usd) in limits {
        let family = family.trim().to_ascii_lowercase();
        if !restrictions::valid_family(&family) {
            return Err(f.err(
                "modelDailyCostLimits",
                format!("'{family}' is not a model family: use a part of model names such as opus, sonnet, gpt-5 or flash (letters, digits, '.', '-', '_')"),
            ));
        }
        let micros = money(f, "modelDailyCostLimits", Some(usd))?;
        if micros > 0 {
            model_daily_cost_limits.insert(family, micros);
        }
    }
    Ok(Restrictions {
        allowed_clients,
        allowed_cidrs,
        model_daily_cost_limits,
    })
}

/// Trims, drops duplicates (keeping the first), and checks each entry.
fn clean_list(
    f: &Fields,
    field: &str,
    items: Option<&[String]>,
    max_items: usize,
    max_chars: usize,
) -> Result<Vec<String>, AdminError> {
    let items = items.unwrap_or(&[]);
    if items.len() > max_items {
        return Err(f.err(field, format!("must have at most {max_items} entries")));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let item = item.trim();
        let chars = item.chars().count();
        if chars == 0 {
            return Err(f.err(field, "entries must not be empty"));
        }
        if chars > max_chars {
            return Err(f.err(
                field,
                format!("entries must be at most {max_chars} characters"),
            ));
        }
        if !out.iter().any(|seen| seen == item) {
            out.push(item.to_owned());
        }
    }
    Ok(out)
}

/// An account binding: empty (shared pool), an account id, or `group:<id>`. Whether the
/// account or group exists is checked by the service against storage.
fn binding(f: &Fields, field: &str, value: Option<&str>) -> Result<String, AdminError> {
    let value = value.unwrap_or("").trim();
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(f.err(field, "must not contain spaces"));
    }
    if value == GROUP_BINDING_PREFIX {
        return Err(f.err(field, "group: needs a group id"));
    }
    Ok(value.to_owned())
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

    let restrictions = restrictions(&f, s)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(s: KeySettings, mode: Mode) -> String {
        match key_settings(&s, mode, "") {
            Err(AdminError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    const CREATE: Mode = Mode::Create { now: 1_000 };

    #[test]
    fn defaults_are_unlimited_and_active() {
        let c = key_settings(&KeySettings::default(), CREATE, "").unwrap();
        assert!(c.is_active);
        assert_eq!(c.quota_limit_micros, 0);
        assert_eq!(c.currency, "USD");
        assert_eq!(c.claude_account_id, "");
        assert_eq!(c.queue_timeout_ms, 10_000);
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases = [
            (json!({"quotaLimit": -1.0}), "quotaLimit"),
            (json!({"dailyCostLimit": -0.5}), "dailyCostLimit"),
            (json!({"salePrice": -2}), "salePrice"),
            (json!({"activationDays": 0}), "activationDays"),
            (json!({"activationDays": 3651}), "activationDays"),
            (json!({"rateLimitWindow": 43_201}), "rateLimitWindow"),
            (json!({"rateLimitRequests": 5}), "rateLimitRequests"),
            (json!({"rateLimitCost": 1.0}), "rateLimitCost"),
            (json!({"permissions": ["azure"]}), "permissions"),
            (json!({"currency": "usd"}), "currency"),
            (json!({"currency": "EURO"}), "currency"),
            (json!({"tags": [" "]}), "tags"),
            (json!({"tags": ["x".repeat(51)]}), "tags"),
            (
                json!({"tags": (0..21).map(|i| i.to_string()).collect::<Vec<_>>()}),
                "tags",
            ),
            (json!({"allowedModels": [""]}), "allowedModels"),
            (json!({"claudeAccountId": "group:"}), "claudeAccountId"),
            (json!({"openaiAccountId": "two words"}), "openaiAccountId"),
            (
                json!({"concurrentRequestQueueMaxSize": 1001}),
                "concurrentRequestQueueMaxSize",
            ),
            (
                json!({"concurrentRequestQueueEnabled": true, "concurrentRequestQueueTimeoutMs": 0}),
                "concurrentRequestQueueTimeoutMs",
            ),
            (
                json!({"concurrentRequestQueueTimeoutMs": 600_001}),
                "concurrentRequestQueueTimeoutMs",
            ),
            (json!({"presetId": " "}), "presetId"),
        ];
        for (settings, field) in cases {
            let settings: KeySettings = serde_json::from_value(settings).unwrap();
            assert_eq!(field_of(settings, CREATE), field);
        }
        let not_finite = KeySettings {
            quota_limit: Some(f64::NAN),
            sale_price: Some(f64::INFINITY),
            ..Default::default()
        };
        assert_eq!(field_of(not_finite, CREATE), "quotaLimit");
    }

    #[test]
    fn expiry_rules_depend_on_the_mode() {
        let past = KeySettings {
            expires_at: chrono::DateTime::from_timestamp_millis(500).map(When::At),
            ..Default::default()
        };
        assert_eq!(field_of(past.clone(), CREATE), "expiresAt");
        assert!(key_settings(
            &past,
            Mode::Update {
                expiry_touched: true
            },
            ""
        )
        .is_ok());
        assert_eq!(field_of(past.clone(), Mode::Preset), "expiresAt");
        let both = KeySettings {
            activation_days: Some(30),
            expires_at: chrono::DateTime::from_timestamp_millis(5_000).map(When::At),
            ..Default::default()
        };
        assert_eq!(field_of(both.clone(), CREATE), "activationDays");
        assert_eq!(
            field_of(
                both.clone(),
                Mode::Update {
                    expiry_touched: true
                }
            ),
            "activationDays"
        );
        assert!(key_settings(
            &both,
            Mode::Update {
                expiry_touched: false
            },
            ""
        )
        .is_ok());
    }

    #[test]
    fn lists_are_trimmed_and_deduplicated_and_prefix_is_applied() {
        let s = KeySettings {
            tags: Some(vec![" vip ".into(), "vip".into(), "trial".into()]),
            permissions: Some(vec!["claude".into(), "claude".into()]),
            ..Default::default()
        };
        let c = key_settings(&s, CREATE, "").unwrap();
        assert_eq!(c.tags, ["vip", "trial"]);
        assert_eq!(c.permissions, ["claude"]);
        let bad = KeySettings {
            quota_limit: Some(-1.0),
            ..Default::default()
        };
        assert!(matches!(
            key_settings(&bad, Mode::Preset, "settings."),
            Err(AdminError::Validation { field, .. }) if field == "settings.quotaLimit"
        ));
        let preset_ref = KeySettings {
            preset_id: Some("p".into()),
            ..Default::default()
        };
        assert_eq!(field_of(preset_ref, Mode::Preset), "presetId");
    }

    #[test]
    fn names() {
        assert_eq!(key_name("  card 1 ", "name").unwrap(), "card 1");
        assert!(key_name("", "name").is_err());
        assert!(key_name(&"x".repeat(201), "name").is_err());
        assert!(key_name(&"é".repeat(200), "name").is_ok());
        assert!(key_name("a\nb", "name").is_err());
        assert!(validity_days(Some(0)).is_err());
        assert_eq!(validity_days(Some(7)).unwrap(), Some(7));
    }
}
