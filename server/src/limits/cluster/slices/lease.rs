//! Leasing a key's headroom from the database into its slice, and giving it back.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::{Exhausted, KeySlice, Shared};
use crate::limits::KeyLimits;
use crate::storage::cluster::LeaseAsk;
use crate::storage::now_ms;

/// A slice is leased for this many requests of the current one's estimate.
const SLICE_REQUESTS: i64 = 128;
/// More is leased ahead of time once less than this part of the last lease is left.
const LOW_WATER_DIVISOR: i64 = 4;
/// After the database said a key's headroom is used up, it is asked again after this long.
const EXHAUSTED_RETRY_MS: i64 = 250;
/// After the database could not be reached, it is asked again after this long.
const UNREACHABLE_RETRY_MS: i64 = 1_000;

/// `None` when the slice covers `estimate` or the database need not be asked now; else the
/// lease call to wait for. Below the low-water mark, more is leased in the background.
pub(in crate::limits::cluster) fn prepare<'a>(
    shared: &'a Arc<Shared>,
    key: &'a KeyLimits,
    estimate: i64,
    day: i32,
) -> Option<BoxFuture<'a, ()>> {
    let need = estimate.max(0);
    if need == 0 {
        return None;
    }
    let slice = shared.slice(&key.id);
    let now = now_ms();
    let (covered, low) = {
        let q = slice.q.lock();
        let today = q.leased && q.slice_day == day;
        let covered = today && q.slice >= need;
        let waiting = q.retry_at > now;
        if waiting {
            return None;
        }
        (
            covered,
            !today || q.slice < q.last_grant / LOW_WATER_DIVISOR,
        )
    };
    if covered {
        if low && slice.refill.try_lock().is_ok() {
            let (shared, key) = (shared.clone(), key.clone());
            tokio::spawn(async move {
                let slice = shared.slice(&key.id);
                refill(&shared, &slice, &key, need, day).await;
            });
        }
        return None;
    }
    let shared = shared.clone();
    Some(Box::pin(async move {
        refill(&shared, &slice, key, need, day).await;
    }))
}

/// Leases more of the key's headroom (one call per key at a time).
async fn refill(shared: &Shared, slice: &KeySlice, key: &KeyLimits, need: i64, day: i32) {
    let _one = slice.refill.lock().await;
    let now = now_ms();
    let stale = {
        let mut q = slice.q.lock();
        let today = q.leased && q.slice_day == day;
        if q.retry_at > now || (today && q.slice >= need.max(q.last_grant / LOW_WATER_DIVISOR)) {
            return;
        }
        q.take_stale(day)
    };
    if stale > 0 {
        if let Err(e) = shared
            .store
            .cluster_return_budget(&shared.instance, &key.id, stale)
            .await
        {
            tracing::warn!(error = %e, key_id = %key.id, "giving an old slice back failed");
        }
    }
    let want = need.saturating_mul(SLICE_REQUESTS).max(need);
    let ask = LeaseAsk {
        key_id: &key.id,
        need,
        want,
        quota: key.quota_limit,
        daily: key.daily_cost_limit,
        day,
        day_start: crate::limits::directory::day_start(now, shared.tz),
        now,
        alive_after: shared.alive_after(now),
    };
    let result = shared
        .store
        .cluster_lease_budget(&shared.instance, ask)
        .await;
    let mut q = slice.q.lock();
    match result {
        Ok(g) => {
            if q.slice_day != day {
                // What was left of another day's slice went back above.
                q.slice = q.slice.min(0);
                q.slice_day = day;
            }
            q.leased = true;
            q.slice += g.granted;
            q.last_grant = g.granted;
            q.spent = q.spent.max(g.spent);
            q.roll_day(day);
            q.day_spent = q.day_spent.max(g.day_spent);
            if g.granted < need {
                let quota_left = g.quota_left.unwrap_or(i64::MAX);
                let daily_left = g.daily_left.unwrap_or(i64::MAX);
                let daily = daily_left < quota_left;
                let committed = if daily {
                    key.daily_cost_limit - daily_left.max(0) + g.granted
                } else {
                    key.quota_limit - quota_left.max(0) + g.granted
                };
                q.exhausted = Some(Exhausted { daily, committed });
                q.retry_at = now + EXHAUSTED_RETRY_MS;
            } else {
                q.exhausted = None;
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, key_id = %key.id, "leasing a key's headroom failed; serving from what is leased");
            q.retry_at = now + UNREACHABLE_RETRY_MS;
        }
    }
}

/// Gives `amount` of a key's slice back to the database, in the background.
pub(in crate::limits::cluster) fn spawn_return(
    shared: &Arc<Shared>,
    key_id: &Arc<str>,
    amount: i64,
) {
    let (shared, key_id) = (shared.clone(), key_id.clone());
    tokio::spawn(async move {
        if let Err(e) = shared
            .store
            .cluster_return_budget(&shared.instance, &key_id, amount)
            .await
        {
            tracing::warn!(error = %e, key_id = %key_id, "giving a slice back failed; it comes back with the lease timeout");
        }
    });
}
