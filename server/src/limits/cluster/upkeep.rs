//! The instance's background work in a cluster: the heartbeat (every quarter of the lease
//! timeout), giving idle slices and unused slots back, and leaving cleanly at shutdown.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{shared_slots, Shared};
use crate::storage::now_ms;

pub(super) async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let every = (shared.lease / 4).max(Duration::from_millis(100));
    // Giving back runs apart, so slow give-backs never delay a heartbeat.
    let give_backs = {
        let (shared, stop) = (shared.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(every) => {}
                }
                if shared.valid(now_ms()) {
                    give_back_idle(&shared, now_ms() - every.as_millis() as i64).await;
                }
            }
        })
    };
    beat(&shared, every, stop).await;
    let _ = give_backs.await;
    leave(&shared).await;
}

/// Renews the heartbeat every `every` until `stop`. A heartbeat that lands a lease timeout or
/// more after the previous one may have been preceded by the others counting this instance
/// out (and leasing its headroom): its unreserved slices go back before it reserves again.
async fn beat(shared: &Shared, every: Duration, stop: CancellationToken) {
    let lease_ms = shared.lease.as_millis() as i64;
    let mut lapsed = false;
    // The time the last heartbeat that went through wrote (none yet).
    let mut last: Option<i64> = None;
    loop {
        let now = now_ms();
        match shared
            .store
            .cluster_heartbeat(&shared.instance, now, now - 2 * lease_ms)
            .await
        {
            Ok(known) => {
                let gap = last.map(|l| now_ms() - l).unwrap_or(0);
                if lapsed || (last.is_some() && (!known || gap >= 2 * lease_ms)) {
                    // The database may have forgotten this instance and its leases.
                    tracing::warn!(
                        gap_ms = gap,
                        "heartbeat back after the leases lapsed; leasing afresh"
                    );
                    for s in shared.slices.read().values() {
                        s.void();
                    }
                    rejoin(shared).await;
                    lapsed = false;
                } else if gap >= lease_ms {
                    tracing::warn!(
                        gap_ms = gap,
                        "heartbeat later than the lease timeout; giving the unreserved slices back"
                    );
                    give_back_unreserved(shared);
                }
                last = Some(now);
                shared
                    .valid_until
                    .store(now + lease_ms * 3 / 4, Ordering::Release);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cluster heartbeat failed; serving from the leases held");
                if !shared.valid(now_ms()) && !lapsed {
                    tracing::error!(
                        "leases lapsed: keys with limits are refused until the database is back"
                    );
                    for s in shared.slices.read().values() {
                        s.void();
                    }
                    lapsed = true;
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Takes every slice's unreserved part now (before the instance is valid again) and gives it
/// back in the background; the leases keep what requests in flight reserved and spent.
fn give_back_unreserved(shared: &Shared) {
    let taken: Vec<_> = shared
        .slices
        .read()
        .iter()
        .map(|(k, s)| (k.clone(), s.clone(), s.take_unreserved()))
        .filter(|(_, _, amount)| *amount > 0)
        .collect();
    for (key_id, slice, amount) in taken {
        let store = shared.store.clone();
        let instance = shared.instance.clone();
        tokio::spawn(async move {
            if store
                .cluster_return_budget(&instance, &key_id, amount)
                .await
                .is_err()
            {
                // Still leased in the database: usable again later.
                slice.untake(amount);
            }
        });
    }
}

/// Slices of keys with no request reserving, and slots no request uses, go back.
async fn give_back_idle(shared: &Shared, idle_since: i64) {
    let slices: Vec<_> = shared
        .slices
        .read()
        .iter()
        .map(|(k, s)| (k.clone(), s.clone()))
        .collect();
    for (key_id, slice) in slices {
        let amount = slice.take_idle(idle_since);
        if amount <= 0 {
            continue;
        }
        if shared
            .store
            .cluster_return_budget(&shared.instance, &key_id, amount)
            .await
            .is_err()
        {
            slice.untake(amount);
        }
    }
    let slots: Vec<_> = shared
        .slots
        .read()
        .iter()
        .map(|(k, s)| (k.clone(), s.clone()))
        .collect();
    for (key_id, slots) in slots {
        if slots.has_waiters() {
            continue;
        }
        let mut book = slots.book().await;
        shared_slots::trim(shared, &key_id, &mut book).await;
    }
}

/// Back after the leases lapsed: the database may have forgotten this instance, so it starts
/// afresh — its old leases go, and the slots requests still use are taken again.
async fn rejoin(shared: &Shared) {
    tracing::warn!("database reachable again; leasing afresh");
    let now = now_ms();
    if let Err(e) = shared.store.cluster_leave(&shared.instance).await {
        tracing::warn!(error = %e, "leaving the cluster to rejoin failed");
    }
    let _ = shared
        .store
        .cluster_heartbeat(
            &shared.instance,
            now,
            now - 2 * shared.lease.as_millis() as i64,
        )
        .await;
    let slots: Vec<_> = shared
        .slots
        .read()
        .iter()
        .map(|(k, s)| (k.clone(), s.clone()))
        .collect();
    for (key_id, slots) in slots {
        let mut book = slots.book().await;
        book.held = book.in_use;
        if book.in_use > 0 {
            let _ = shared
                .store
                .cluster_hold_slots(
                    &shared.instance,
                    &key_id,
                    book.in_use,
                    0,
                    now,
                    now - shared.lease.as_millis() as i64,
                )
                .await;
        }
    }
}

/// Shutdown (nothing is in flight any more): every slice and slot goes back. The instance's
/// row stays until its lease times out, so spend its usage writer has not written yet still
/// counts.
async fn leave(shared: &Shared) {
    give_back_idle(shared, i64::MAX).await;
    tracing::info!("left the cluster");
}
