//! CRS API keys → Tollgate keys: limits, expiry (fixed or from the first use), bindings to the
//! imported accounts and groups, spend so far, and the CRS hash that keeps the old `cr_...`
//! string working. What Tollgate has no setting for is reported per key.

use app::types::ImportNote;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::bindings::{bindings, BindingTargets};
use super::key_terms::{allowed_clients, expiry, permissions, report_dropped};
use super::secrets::{is_crs_hash, stored_hash};
use super::source::CrsKey;
use super::{field, flag, int, json_list, note, parse_time, usd};

const MAX_NAME_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 2000;
const MAX_TAGS: usize = 20;
const MAX_TAG_CHARS: usize = 50;
const MAX_QUEUE_SIZE: i64 = 1000;
const MAX_QUEUE_TIMEOUT_MS: i64 = 600_000;
const MAX_RATE_WINDOW_MIN: i64 = 43_200;

/// CRS's global concurrency queue (`claude_relay_config`), applied to every key with a
/// concurrency limit, as CRS does.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct QueueConfig {
    pub enabled: bool,
    pub max_size: i64,
    pub multiplier: f64,
    pub timeout_ms: i64,
}

impl QueueConfig {
    pub fn from_relay_config(v: &serde_json::Value) -> QueueConfig {
        QueueConfig {
            enabled: v["concurrentRequestQueueEnabled"]
                .as_bool()
                .unwrap_or(false),
            max_size: v["concurrentRequestQueueMaxSize"].as_i64().unwrap_or(3),
            multiplier: v["concurrentRequestQueueMaxSizeMultiplier"]
                .as_f64()
                .unwrap_or(0.0),
            timeout_ms: v["concurrentRequestQueueTimeoutMs"]
                .as_i64()
                .unwrap_or(10_000),
        }
    }

    /// The queue of a key with `concurrency` slots: the fixed size or the multiple of the
    /// concurrency, whichever is larger, within Tollgate's bounds.
    fn for_key(&self, concurrency: i64) -> (i64, i64) {
        let multiple = (concurrency as f64 * self.multiplier).ceil() as i64;
        (
            self.max_size.max(multiple).clamp(1, MAX_QUEUE_SIZE),
            self.timeout_ms.clamp(1, MAX_QUEUE_TIMEOUT_MS),
        )
    }
}

/// A key as CRS describes it, in Tollgate's terms.
#[derive(Clone, Debug, Serialize)]
pub struct KeyTarget {
    pub name: String,
    pub key_hash: String,
    pub description: String,
    pub tags: Vec<String>,
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
    pub permissions: Vec<String>,
    pub claude_account_id: String,
    pub openai_account_id: String,
    pub gemini_account_id: String,
    /// CRS's `allowedClients` when its client restriction is on (only names Tollgate knows).
    /// Left out of the digest when empty, so keys without one keep their digest.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_clients: Vec<String>,
    pub created_at: Option<i64>,
    /// Not part of the digest: spend, requests and last use follow CRS as differences.
    #[serde(skip)]
    pub spent_micros: i64,
    #[serde(skip)]
    pub requests: i64,
    #[serde(skip)]
    pub last_used_at: Option<i64>,
}

impl KeyTarget {
    pub fn digest(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        hex::encode(Sha256::digest(json.as_bytes()))
    }
}

pub enum Mapped {
    Import(Box<KeyTarget>, Vec<ImportNote>),
    Skip(Vec<ImportNote>),
}

fn bounded(text: &str, max: usize, what: &str, notes: &mut Vec<ImportNote>) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_owned();
    }
    notes.push(note(
        "text_shortened",
        format!("{what} shortened to {max} characters"),
    ));
    text.chars().take(max).collect()
}

pub fn map_key(k: &CrsKey, targets: &BindingTargets, queue: &QueueConfig) -> Mapped {
    let f = &k.fields;
    if flag(f, "isDeleted", false) {
        return Mapped::Skip(vec![note("deleted", "deleted in CRS")]);
    }
    let hash = field(f, "apiKey").trim();
    if !is_crs_hash(hash) {
        return Mapped::Skip(vec![note(
            "no_hash",
            "no CRS key hash is stored, so the key could never be checked",
        )]);
    }
    let mut notes = Vec::new();
    let mut name = bounded(field(f, "name"), MAX_NAME_CHARS, "name", &mut notes);
    if name.is_empty() {
        name = format!("crs-{}", k.id);
    }
    let permissions = match permissions(field(f, "permissions")) {
        Ok(p) => p,
        Err(why) => return Mapped::Skip(vec![note("permissions", why)]),
    };
    let (expires_at, activation_days, activated_at) = expiry(f, &mut notes);
    let concurrency_limit = int(f, "concurrencyLimit");
    let (queue_enabled, (queue_max_size, queue_timeout_ms)) = (
        queue.enabled && concurrency_limit > 0,
        queue.for_key(concurrency_limit),
    );
    let mut rate_limit_window_min = int(f, "rateLimitWindow");
    if rate_limit_window_min > MAX_RATE_WINDOW_MIN {
        notes.push(note(
            "rate_window",
            format!("rate window shortened to {MAX_RATE_WINDOW_MIN} minutes"),
        ));
        rate_limit_window_min = MAX_RATE_WINDOW_MIN;
    }
    let mut tags: Vec<String> = Vec::new();
    for tag in json_list(field(f, "tags")) {
        let tag: String = tag.trim().chars().take(MAX_TAG_CHARS).collect();
        if !tag.is_empty() && !tags.contains(&tag) && tags.len() < MAX_TAGS {
            tags.push(tag);
        }
    }
    let (claude, openai, gemini) = bindings(f, targets, &mut notes);
    report_dropped(f, &mut notes);
    let target = KeyTarget {
        name,
        key_hash: stored_hash(hash),
        description: bounded(
            field(f, "description"),
            MAX_DESCRIPTION_CHARS,
            "description",
            &mut notes,
        ),
        tags,
        is_active: flag(f, "isActive", true),
        quota_limit_micros: usd(field(f, "totalCostLimit")),
        expires_at,
        activation_days,
        activated_at,
        concurrency_limit,
        queue_enabled,
        queue_max_size,
        queue_timeout_ms,
        rate_limit_window_min,
        rate_limit_requests: if rate_limit_window_min > 0 {
            int(f, "rateLimitRequests")
        } else {
            0
        },
        rate_limit_cost_micros: if rate_limit_window_min > 0 {
            usd(field(f, "rateLimitCost"))
        } else {
            0
        },
        daily_cost_limit_micros: usd(field(f, "dailyCostLimit")),
        permissions,
        claude_account_id: claude,
        openai_account_id: openai,
        gemini_account_id: gemini,
        allowed_clients: allowed_clients(f, &mut notes),
        created_at: parse_time(field(f, "createdAt")),
        spent_micros: k.cost_total.as_deref().map(usd).unwrap_or(0),
        requests: k
            .totals
            .get("totalRequests")
            .map(|r| r.parse().unwrap_or(0))
            .unwrap_or(0),
        last_used_at: parse_time(field(f, "lastUsedAt")),
    };
    Mapped::Import(Box::new(target), notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::crs::source::Fields;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn activation_keeps_crs_expiry() {
        let mut notes = Vec::new();
        let f = fields(&[
            ("expirationMode", "activation"),
            ("activationDays", "30"),
            ("activationUnit", "days"),
            ("isActivated", "true"),
            ("activatedAt", "2026-12-06T07:20:25.299Z"),
            ("expiresAt", "2027-01-05T07:20:25.299Z"),
        ]);
        let start = parse_time("2026-12-06T07:20:25.299Z").unwrap();
        assert_eq!(expiry(&f, &mut notes), (None, Some(30), Some(start)));
        let f = fields(&[
            ("expirationMode", "activation"),
            ("activationDays", "36"),
            ("activationUnit", "hours"),
        ]);
        assert_eq!(expiry(&f, &mut notes), (None, Some(2), None));
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn permissions_and_queue() {
        assert_eq!(permissions("[]").unwrap(), Vec::<String>::new());
        assert_eq!(permissions("all").unwrap(), Vec::<String>::new());
        assert_eq!(
            permissions("[\"claude\",\"droid\"]").unwrap(),
            vec!["claude"]
        );
        assert!(permissions("[\"droid\"]").is_err());
        let q = QueueConfig {
            enabled: true,
            max_size: 5,
            multiplier: 2.0,
            timeout_ms: 10_000,
        };
        assert_eq!(q.for_key(3), (6, 10_000));
        assert_eq!(q.for_key(1), (5, 10_000));
        assert_eq!(usd("0.001209"), 1209);
        assert_eq!(usd(""), 0);
    }
}
