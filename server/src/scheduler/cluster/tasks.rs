//! The background work of a shared live state: announcing health changes, writing sticky
//! bindings behind, renewing and giving back concurrency slots.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::slots::GIVE_BACK_MS;
use super::{ClusterLive, HealthNote, Outbox};
use crate::scheduler::sticky::StickyWrite;
use crate::storage::shared_live::StickyRow;
use crate::storage::{now_ms, Store};

/// Sticky renewals written in one statement at most.
const STICKY_BATCH_ROWS: usize = 1_000;

/// Starts the tasks; they end with `stop` (giving this instance's slots back).
pub fn start(
    live: &Arc<ClusterLive>,
    outbox: Outbox,
    store: Store,
    tasks: &TaskTracker,
    stop: CancellationToken,
) {
    tasks.spawn(announce(
        live.clone(),
        outbox.notes,
        store.clone(),
        stop.clone(),
    ));
    tasks.spawn(write_sticky(
        live.clone(),
        outbox.sticky,
        store.clone(),
        stop.clone(),
    ));
    tasks.spawn(keep_slots(live.clone(), store, stop));
}

/// Announces the health changes queued so far, in order, for a process that runs none of the
/// background tasks (a CLI command such as `tollgate accounts check`): the running instances
/// take them over within a second. False if one could not be announced.
pub async fn publish_queued(scheduler: &crate::scheduler::Scheduler) -> bool {
    let (Some(live), Some(mut outbox)) = (scheduler.cluster(), scheduler.take_outbox()) else {
        return true;
    };
    let mut all = true;
    while let Ok(note) = outbox.notes.try_recv() {
        all &= publish(live, &live.store, &note).await;
    }
    all
}

async fn publish(live: &ClusterLive, store: &Store, n: &HealthNote) -> bool {
    live.statements().count("health_announce");
    let r = store
        .publish_health(
            &n.account,
            n.status.as_str(),
            &n.message,
            n.cooldown_until,
            n.at,
            &n.payload(),
        )
        .await;
    if let Err(e) = &r {
        tracing::warn!(error = %e, account = %n.account, "announcing an account's health failed; retrying");
    }
    r.is_ok()
}

/// Announces health changes in order; while the database is away the latest note of each
/// account waits and is retried every second.
async fn announce(
    live: Arc<ClusterLive>,
    mut rx: mpsc::UnboundedReceiver<HealthNote>,
    store: Store,
    stop: CancellationToken,
) {
    let mut pending: HashMap<String, HealthNote> = HashMap::new();
    let mut retry = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            note = rx.recv() => {
                let Some(note) = note else { break };
                if pending.is_empty() {
                    if !publish(&live, &store, &note).await {
                        pending.insert(note.account.clone(), note);
                    }
                } else {
                    pending.insert(note.account.clone(), note);
                }
            }
            _ = retry.tick(), if !pending.is_empty() => {
                let mut notes: Vec<HealthNote> = pending.drain().map(|(_, n)| n).collect();
                notes.sort_by_key(|n| n.seq);
                let mut failed = false;
                for n in notes {
                    if failed || !publish(&live, &store, &n).await {
                        failed = true;
                        pending.insert(n.account.clone(), n);
                    }
                }
            }
        }
    }
}

/// The last write of each conversation in a batch, as rows.
pub(super) fn batch_rows(writes: Vec<StickyWrite>) -> Vec<StickyRow> {
    let mut last: HashMap<(Arc<str>, u64), (Arc<str>, i64)> = HashMap::new();
    for (key, session, account, expires) in writes {
        last.insert((key, session), (account, expires));
    }
    last.into_iter()
        .map(|((key, session), (account, expires))| {
            (
                key.to_string(),
                session as i64,
                account.to_string(),
                expires,
            )
        })
        .collect()
}

/// Writes sticky renewals behind, a batch per statement.
async fn write_sticky(
    live: Arc<ClusterLive>,
    mut rx: mpsc::UnboundedReceiver<StickyWrite>,
    store: Store,
    stop: CancellationToken,
) {
    let mut sweep = tokio::time::interval(Duration::from_secs(60));
    loop {
        let first = tokio::select! {
            _ = stop.cancelled() => break,
            _ = sweep.tick() => {
                if let Err(e) = store.sticky_sweep(now_ms()).await {
                    tracing::warn!(error = %e, "sweeping shared sticky sessions failed");
                }
                continue;
            }
            w = rx.recv() => match w { Some(w) => w, None => break },
        };
        // What queued meanwhile shares the statement.
        let mut batch = vec![first];
        while batch.len() < STICKY_BATCH_ROWS {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        live.statements().count("sticky_renew");
        if let Err(e) = store.sticky_put(&batch_rows(batch)).await {
            tracing::warn!(error = %e, "writing shared sticky sessions failed");
        }
    }
}

/// Renews this instance's slot leases and gives back slots that went unused.
async fn keep_slots(live: Arc<ClusterLive>, store: Store, stop: CancellationToken) {
    let mut give_back = tokio::time::interval(Duration::from_millis(GIVE_BACK_MS));
    let every = Duration::from_millis((live.lease_ms() / 4).max(250) as u64);
    let mut heartbeat = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = give_back.tick() => {
                for (account, count) in live.slots().surplus() {
                    live.statements().count("slot_give_back");
                    if let Err(e) = store.slot_give_back(&account, live.instance(), count).await {
                        tracing::warn!(error = %e, "giving concurrency slots back failed");
                    }
                }
            }
            _ = heartbeat.tick() => {
                live.statements().count("slot_heartbeat");
                if let Err(e) = store.slot_heartbeat(live.instance(), live.lease_ms()).await {
                    tracing::warn!(error = %e, "renewing concurrency slots failed");
                }
            }
        }
    }
    if let Err(e) = store.slot_release_all(live.instance()).await {
        tracing::warn!(error = %e, "giving concurrency slots back at shutdown failed");
    }
}
