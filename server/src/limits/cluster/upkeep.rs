//! The instance's background work in a cluster: the heartbeat (every quarter of the lease
//! timeout), giving idle slices and unused slots back, and leaving cleanly at shutdown.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{shared_slots, Shared};
use crate::storage::now_ms;

pub(super) async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    let lease_ms = shared.lease.as_millis() as i64;
    let every = (shared.lease / 4).max(Duration::from_millis(100));
    let mut lapsed = false;
    loop {
        let now = now_ms();
        match shared
            .store
            .cluster_heartbeat(&shared.instance, now, now - 2 * lease_ms)
            .await
        {
            Ok(()) => {
                if lapsed {
                    rejoin(&shared).await;
                    lapsed = false;
                }
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
        if !lapsed {
            give_back_idle(&shared, now_ms() - every.as_millis() as i64).await;
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
    leave(&shared).await;
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
