//! A key's rate window over all instances. Every admission is decided by the database (one
//! statement, `tollgate_rate_admit`, per key under an advisory lock, on the database's clock):
//! the window holds exactly `rateLimitRequests` over all instances, whichever instance serves.
//! A refusal is remembered for up to a second (or until room frees, if sooner), so a client
//! hammering a full window costs at most one statement a second per instance. A request that
//! then gets no concurrency slot takes its entry back (one more statement). The window's cost
//! (`rateLimitCost`) is counted per instance, in memory.
//!
//! Database unreachable: the window cannot be counted, so a rate-limited key is refused with
//! 503 (`Retry-After: 1`) — as a key needing a concurrency slot it does not hold — until the
//! database answers again.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::Shared;
use crate::limits::{KeyLimits, RateEntry, Refusal};
use crate::storage::now_ms;

/// A refusal is remembered at most this long before the database is asked again.
const REFUSAL_MEMORY_MS: i64 = 1_000;

/// What this instance last learnt of a key's shared window.
#[derive(Default)]
pub(super) struct RateView {
    /// Requests in the window at the last answer (epoch ms of the answer).
    used: u32,
    /// When the oldest request in the window ages out (epoch ms; 0 = unknown).
    reset_at: i64,
    /// Refused without asking until then; room frees at `room_at`.
    refused_until: i64,
    room_at: i64,
}

impl RateView {
    fn refusal(&self, key: &KeyLimits, window: Duration, now: i64) -> Option<Refusal> {
        (now < self.refused_until).then(|| Refusal::RateLimited {
            retry_after: Duration::from_millis((self.room_at - now).max(0) as u64),
            by_cost: false,
            limit: key.rate_requests,
            window,
        })
    }
}

fn counted(key: &KeyLimits) -> Option<Duration> {
    key.rate_window.filter(|_| key.rate_requests > 0)
}

/// Whether the key's requests are counted in the shared window.
pub(super) fn is_shared(key: &KeyLimits) -> bool {
    counted(key).is_some()
}

/// A refusal remembered from the database's last answer (no statement).
pub(super) fn precheck(shared: &Shared, key: &KeyLimits) -> Result<(), Refusal> {
    let Some(window) = counted(key) else {
        return Ok(());
    };
    match shared.rates.read().get(&*key.id) {
        Some(view) => view
            .lock()
            .refusal(key, window, now_ms())
            .map_or(Ok(()), Err),
        None => Ok(()),
    }
}

/// Requests left in the window and the time until the oldest ages out, as of the last answer.
pub(super) fn remaining(shared: &Shared, key: &KeyLimits) -> Option<(u32, Duration)> {
    let window = counted(key)?;
    let now = now_ms();
    let (used, reset_at) = match shared.rates.read().get(&*key.id) {
        Some(view) => {
            let v = view.lock();
            (v.used, v.reset_at)
        }
        None => (0, 0),
    };
    if reset_at <= now {
        // The oldest one has aged out since (how many more did is not known here).
        let used = if reset_at == 0 {
            0
        } else {
            used.saturating_sub(1)
        };
        return Some((key.rate_requests.saturating_sub(used), window));
    }
    Some((
        key.rate_requests.saturating_sub(used),
        Duration::from_millis((reset_at - now) as u64),
    ))
}

/// Admits one request to the key's shared window (one statement), or refuses it.
pub(super) async fn admit(
    shared: Arc<Shared>,
    key: &KeyLimits,
) -> Result<Box<dyn RateEntry>, Refusal> {
    let Some(window) = counted(key) else {
        return Ok(Box::new(Kept));
    };
    let view = shared.rate_view(&key.id);
    let now = now_ms();
    if let Some(refused) = view.lock().refusal(key, window, now) {
        return Err(refused);
    }
    if !shared.valid(now) {
        return Err(Refusal::Unavailable);
    }
    let window_ms = window.as_millis().min(i64::MAX as u128) as i64;
    let answer = match shared
        .store
        .cluster_rate_admit(&key.id, window_ms, key.rate_requests)
        .await
    {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, key_id = %key.id, "counting a request in the shared rate window failed");
            return Err(Refusal::Unavailable);
        }
    };
    let now = now_ms();
    // The database times the window by its own clock; one stepped back since a row was written
    // would make the wait longer than the window, which it never is.
    let wait = answer.wait_ms.clamp(0, window_ms);
    let mut v = view.lock();
    v.used = answer.used.clamp(0, u32::MAX as i64) as u32;
    match answer.hit {
        Some(hit) => {
            v.reset_at = now + wait;
            v.refused_until = 0;
            drop(v);
            Ok(Box::new(Entry {
                shared: Some(shared),
                key_id: key.id.clone(),
                hit,
            }))
        }
        None => {
            v.room_at = now + wait;
            v.refused_until = now + wait.min(REFUSAL_MEMORY_MS);
            v.reset_at = v.room_at;
            Err(Refusal::RateLimited {
                retry_after: Duration::from_millis(wait as u64),
                by_cost: false,
                limit: key.rate_requests,
                window,
            })
        }
    }
}

/// Nothing to take back.
struct Kept;

impl RateEntry for Kept {
    fn keep(self: Box<Self>) {}
}

/// A request's row in the shared window: deleted when dropped unkept.
struct Entry {
    shared: Option<Arc<Shared>>,
    key_id: Arc<str>,
    hit: i64,
}

impl RateEntry for Entry {
    fn keep(mut self: Box<Self>) {
        self.shared = None;
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let Some(shared) = self.shared.take() else {
            return;
        };
        {
            let view = shared.rate_view(&self.key_id);
            let mut v = view.lock();
            v.used = v.used.saturating_sub(1);
            v.refused_until = 0;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (hit, key_id) = (self.hit, self.key_id.clone());
        rt.spawn(async move {
            if let Err(e) = shared.store.cluster_rate_undo(hit).await {
                tracing::warn!(error = %e, key_id = %key_id, "taking a request out of the shared rate window failed; it ages out with the window");
            }
        });
    }
}

impl Shared {
    pub(super) fn rate_view(&self, key_id: &str) -> Arc<Mutex<RateView>> {
        if let Some(v) = self.rates.read().get(key_id) {
            return v.clone();
        }
        self.rates
            .write()
            .entry(Arc::from(key_id))
            .or_default()
            .clone()
    }
}
