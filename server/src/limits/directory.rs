//! The relay's view of API keys: the SHA-256 of a presented key → its limits, loaded from the
//! database on first sight and kept in memory afterwards, so steady-state authentication never
//! touches the database. Admin edits call [`KeyDirectory::reload`]. A presented string that
//! does not have the shape of a key (Tollgate's `tg_` + 43 characters, or an imported CRS
//! `cr_` + 64 hex digits) is refused without a lookup; unknown keys of the right shape are
//! remembered briefly in a bounded LRU ([`NegativeCache`]) so a stream of bad keys cannot
//! hammer the database (the relay's gate also limits them per client address).

use crate::fast_hash::FastMap as HashMap;
use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use app::types::Platform;
use arc_swap::ArcSwap;
use chrono::{Datelike, TimeZone};
use parking_lot::RwLock;
use tokio_util::task::TaskTracker;

use super::legacy::LegacySalts;
use super::slots::QueuePolicy;
use super::{Binding, KeyLimits, LimitState, Refusal};
use crate::auth::negative_cache::NegativeCache;
use crate::crypto::{token_hash, Cipher};
use crate::keys::legacy::is_crs_key;
use crate::keys::looks_like_key;
use crate::storage::key_limits::KeyLimitsRow;
use crate::storage::{now_ms, Store};

const NEGATIVE_TTL: Duration = Duration::from_secs(30);
const NEGATIVE_MAX: usize = 50_000;

pub struct KeyDirectory {
    store: Store,
    state: Arc<dyn LimitState>,
    tz: chrono_tz::Tz,
    tasks: TaskTracker,
    by_hash: RwLock<HashMap<String, Arc<ArcSwap<KeyLimits>>>>,
    hash_of: RwLock<HashMap<Arc<str>, String>>,
    negative: NegativeCache,
    legacy: LegacySalts,
}

thread_local! {
    /// The local day last found on this thread: (zone, day, its first instant, the next
    /// midnight). Every request asks for it, and it changes once a day.
    static LOCAL_DAY: Cell<Option<(chrono_tz::Tz, i32, i64, i64)>> = const { Cell::new(None) };
}

/// The calendar day of `now_ms` in `tz` (days since the epoch) and the next day's first
/// instant (its midnight, see [`local_day`]).
pub fn day_and_next_midnight(now_ms: i64, tz: chrono_tz::Tz) -> (i32, i64) {
    let (day, _, next) = local_day(now_ms, tz);
    (day, next)
}

/// The start of the local day containing `now_ms`, in epoch ms: its midnight, or the moment
/// the clocks jumped when a change skipped it. Days are 23 or 25 hours across clock changes.
pub fn day_start(now_ms: i64, tz: chrono_tz::Tz) -> i64 {
    local_day(now_ms, tz).1
}

/// The calendar day of `now_ms` in `tz` (days since the epoch), its first instant and the next
/// day's. Within the day last found on this thread the answer needs no calendar conversion.
pub fn local_day(now_ms: i64, tz: chrono_tz::Tz) -> (i32, i64, i64) {
    if let Some((zone, day, start, next)) = LOCAL_DAY.get() {
        if zone == tz && start <= now_ms && now_ms < next {
            return (day, start, next);
        }
    }
    let now = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
    let date = now.with_timezone(&tz).date_naive();
    let day = date.num_days_from_ce();
    let next = date
        .succ_opt()
        .and_then(|d| first_instant(d, tz))
        .unwrap_or(now_ms + 86_400_000);
    let start = first_instant(date, tz).unwrap_or(next - 86_400_000);
    if start <= now_ms && now_ms < next {
        LOCAL_DAY.set(Some((tz, day, start, next)));
    }
    (day, start.min(now_ms), next.max(now_ms + 1))
}

/// The first instant of the local `date`: its midnight, or when a clock change skips midnight,
/// the first quarter hour after it that exists (the moment the clocks jumped to).
fn first_instant(date: chrono::NaiveDate, tz: chrono_tz::Tz) -> Option<i64> {
    let midnight = date.and_hms_opt(0, 0, 0)?;
    (0..=12).find_map(|quarter| {
        let local = midnight + chrono::Duration::minutes(15 * quarter);
        tz.from_local_datetime(&local)
            .earliest()
            .map(|d| d.timestamp_millis())
    })
}

/// A stored setting that cannot be read: the key is refused rather than run without it (an
/// unreadable `allowed_models` must not mean "every model"). The admin side reports the same
/// row as corrupt ([`crate::storage::keys::KeyRow::config`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("api_keys.{column} of key {key} is unreadable: {reason}")]
pub struct Unreadable {
    pub key: String,
    pub column: &'static str,
    pub reason: String,
}

fn json_list(
    row: &KeyLimitsRow,
    column: &'static str,
    text: &str,
) -> Result<Vec<String>, Unreadable> {
    serde_json::from_str(text).map_err(|e| Unreadable {
        key: row.id.clone(),
        column,
        reason: e.to_string(),
    })
}

/// The relay's limits of a stored key; an error when a setting that narrows what the key may
/// do (models, platforms, restrictions) cannot be read.
pub fn limits_from_row(row: &KeyLimitsRow) -> Result<KeyLimits, Unreadable> {
    let window = (row.rate_limit_window_min > 0)
        .then(|| Duration::from_secs(row.rate_limit_window_min as u64 * 60));
    let restrictions =
        crate::keys::restrictions::Restrictions::parse(&row.restrictions).map_err(|e| {
            Unreadable {
                key: row.id.clone(),
                column: "restrictions",
                reason: e.to_string(),
            }
        })?;
    Ok(KeyLimits {
        id: row.id.as_str().into(),
        name: row.name.clone(),
        is_active: row.is_active,
        quota_limit: row.quota_limit_micros.max(0),
        expires_at: row.expires_at,
        activation_days: row.activation_days,
        activated_at: row.activated_at,
        concurrency_limit: row.concurrency_limit.clamp(0, u32::MAX as i64) as u32,
        queue: row.queue_enabled.then(|| QueuePolicy {
            max_waiters: row.queue_max_size.clamp(0, u32::MAX as i64) as u32,
            timeout: Duration::from_millis(row.queue_timeout_ms.max(0) as u64),
        }),
        rate_window: window,
        rate_requests: row.rate_limit_requests.clamp(0, u32::MAX as i64) as u32,
        rate_cost: row.rate_limit_cost_micros.max(0),
        daily_cost_limit: row.daily_cost_limit_micros.max(0),
        allowed_models: json_list(row, "allowed_models", &row.allowed_models)?,
        permissions: json_list(row, "permissions", &row.permissions)?
            .iter()
            .filter_map(|p| Platform::parse(p))
            .collect(),
        claude: Binding::parse(&row.claude_account_id),
        openai: Binding::parse(&row.openai_account_id),
        gemini: Binding::parse(&row.gemini_account_id),
        allow_pool_fallback: row.allow_pool_fallback,
        strict_max_tokens: row.strict_max_tokens,
        allow_server_tools: row.allow_server_tools,
        preset_id: row.preset_id.clone(),
        gate: Arc::new(crate::keys::restrictions::Gate::from_stored(&restrictions)),
    })
}

impl KeyDirectory {
    pub fn new(
        store: Store,
        state: Arc<dyn LimitState>,
        tz: chrono_tz::Tz,
        tasks: TaskTracker,
        cipher: Cipher,
    ) -> Self {
        KeyDirectory {
            store,
            state,
            tz,
            tasks,
            by_hash: Default::default(),
            hash_of: Default::default(),
            negative: NegativeCache::new(NEGATIVE_MAX, NEGATIVE_TTL, crate::clock::system()),
            legacy: LegacySalts::new(cipher),
        }
    }

    /// Unknown keys remembered now (at most the cache's capacity).
    pub fn unknown_remembered(&self) -> usize {
        self.negative.len()
    }

    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.tz
    }

    pub fn state(&self) -> &Arc<dyn LimitState> {
        &self.state
    }

    /// Check (1): the presented key exists, is active and has not expired. Starts the
    /// validity of an activation-days key on its first request.
    pub async fn authenticate(&self, presented: &str) -> Result<Arc<KeyLimits>, Refusal> {
        if presented.is_empty() {
            return Err(Refusal::MissingKey);
        }
        if !looks_like_key(presented) && !is_crs_key(presented) {
            return Err(Refusal::UnknownKey);
        }
        let slot = self.resolve(presented).await?;
        let mut key = slot.load_full();
        if !key.is_active {
            return Err(Refusal::Disabled);
        }
        let now = now_ms();
        if key.expires_at.is_none() && key.activation_days.is_some() && key.activated_at.is_none() {
            key = self.activate(&slot, now);
        }
        if let Some(at) = key.effective_expiry() {
            if at <= now {
                return Err(Refusal::Expired { at });
            }
        }
        Ok(key)
    }

    /// The cached slot of the presented key, by Tollgate's hash or, for a `cr_...` key
    /// imported from CRS, by its CRS hash under each imported salt.
    async fn resolve(&self, presented: &str) -> Result<Arc<ArcSwap<KeyLimits>>, Refusal> {
        if !is_crs_key(presented) {
            return self.slot(&token_hash(presented)).await;
        }
        for retry in [false, true] {
            let Some(hashes) = self.legacy.hashes(&self.store, presented, retry).await? else {
                break;
            };
            for hash in hashes {
                match self.slot(&hash).await {
                    Err(Refusal::UnknownKey) => continue,
                    found => return found,
                }
            }
        }
        Err(Refusal::UnknownKey)
    }

    /// The hashes a presented key may be stored under (for lookups outside the relay's cache,
    /// such as the key holder's page).
    pub async fn stored_hashes(&self, presented: &str) -> Result<Vec<String>, Refusal> {
        if !is_crs_key(presented) {
            return Ok(vec![token_hash(presented)]);
        }
        let mut hashes = Vec::new();
        for retry in [false, true] {
            if let Some(more) = self.legacy.hashes(&self.store, presented, retry).await? {
                hashes.extend(more);
            }
        }
        hashes.dedup();
        Ok(hashes)
    }

    /// After an import on this instance: imported key salts are read afresh, and keys
    /// presented before they were imported are no longer remembered as unknown.
    pub fn imported(&self) {
        self.legacy.forget();
        self.negative.clear();
    }

    async fn slot(&self, hash: &str) -> Result<Arc<ArcSwap<KeyLimits>>, Refusal> {
        // Bind first: a read guard must not live across the load's await.
        let cached = self.by_hash.read().get(hash).cloned();
        match cached {
            Some(slot) => Ok(slot),
            None => self.load(hash).await,
        }
    }

    async fn load(&self, hash: &str) -> Result<Arc<ArcSwap<KeyLimits>>, Refusal> {
        if self.negative.contains(hash) {
            return Err(Refusal::UnknownKey);
        }
        let row = match self.store.key_limits_by_hash(hash).await {
            Ok(Some(row)) => row,
            Ok(None) => {
                self.negative.insert(hash);
                return Err(Refusal::UnknownKey);
            }
            Err(e) => {
                tracing::error!(error = %e, "loading a key failed");
                return Err(Refusal::Unavailable);
            }
        };
        let limits = limits_from_row(&row).map_err(|e| {
            // Not cached: the next request reads the row again, so a repaired key works at once.
            tracing::error!(error = %e, key_id = %row.id, "refusing a key whose settings are unreadable");
            Refusal::Unreadable
        })?;
        self.seed(&row).await?;
        let limits = Arc::new(ArcSwap::from_pointee(limits));
        let mut by_hash = self.by_hash.write();
        // Another request may have loaded it meanwhile: keep the first.
        let slot = by_hash.entry(hash.to_owned()).or_insert(limits).clone();
        self.hash_of
            .write()
            .insert(row.id.as_str().into(), hash.to_owned());
        Ok(slot)
    }

    async fn seed(&self, row: &KeyLimitsRow) -> Result<(), Refusal> {
        if self.state.is_seeded(&row.id) {
            return Ok(());
        }
        let now = now_ms();
        let (day, _) = day_and_next_midnight(now, self.tz);
        let day_spent = if row.daily_cost_limit_micros > 0 {
            self.store
                .key_spent_since(&row.id, day_start(now, self.tz))
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "loading a key's daily spend failed");
                    Refusal::Unavailable
                })?
        } else {
            0
        };
        self.state.seed(&row.id, row.spent_micros, day, day_spent);
        Ok(())
    }

    fn activate(&self, slot: &ArcSwap<KeyLimits>, now: i64) -> Arc<KeyLimits> {
        let mut first = false;
        slot.rcu(|current| {
            if current.activated_at.is_some() {
                first = false;
                return current.clone();
            }
            first = true;
            let mut next = KeyLimits::clone(current);
            next.activated_at = Some(now);
            Arc::new(next)
        });
        let key = slot.load_full();
        if first {
            let store = self.store.clone();
            let id = key.id.clone();
            self.tasks.spawn(async move {
                if let Err(e) = store.activate_key(&id, now).await {
                    tracing::error!(error = %e, key_id = %id, "persisting key activation failed");
                }
            });
        }
        key
    }

    /// Forgets a key's cached settings after an admin change; the next request reads them
    /// afresh (its spend and counters live on in the limit state).
    pub fn forget(&self, key_id: &str) {
        if let Some(hash) = self.hash_of.write().remove(key_id) {
            self.by_hash.write().remove(&hash);
        }
    }

    /// The cached limits of a key by id, if this instance has seen it.
    pub fn cached(&self, key_id: &str) -> Option<Arc<KeyLimits>> {
        let hash = self.hash_of.read().get(key_id).cloned()?;
        self.by_hash.read().get(&hash).map(|s| s.load_full())
    }
}

#[cfg(test)]
mod tests;
