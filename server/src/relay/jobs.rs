//! The relay's background jobs, started from one place ([`start`]): the account state-change
//! recorder, usage retention, the account budgets' watch (`accounts::budget_watch`), and the
//! housekeeping loop (configuration poll and pool saturation every 5 s by default,
//! `housekeeping_interval_ms`; sticky sweep and expired-key announcements every 30 s).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Relay;
use crate::scheduler::AccountTransition;
use crate::storage::{now_ms, Store};
use crate::webhooks::{EventKind, Webhooks};

/// Starts every background job of a serving relay; they end with `stop`.
pub(super) fn start(
    relay: &Arc<Relay>,
    transitions: tokio::sync::mpsc::UnboundedReceiver<AccountTransition>,
    stop: CancellationToken,
) {
    relay.tasks.spawn(record_transitions(
        transitions,
        relay.store.clone(),
        relay.webhooks.clone(),
        stop.clone(),
    ));
    crate::ops::spawn_usage_retention(
        &relay.settings.serve.ops,
        relay.store.clone(),
        &relay.tasks,
        stop.clone(),
    );
    // Every look at the account budgets the relay makes on its own (see the module).
    let budgets = crate::accounts::budget_watch::spawn(
        crate::accounts::budget_watch::Parts {
            store: relay.store.clone(),
            webhooks: relay.webhooks.clone(),
            scheduler: relay.scheduler.clone(),
            tz: relay.settings.common.timezone,
            every: Duration::from_millis(relay.settings.serve.relay.housekeeping_interval_ms),
        },
        relay.writer.watch_settled(),
        &relay.tasks,
        stop.clone(),
    );
    // Several instances: share the live state and hear the others' changes.
    let listening = Arc::new(super::listen::Listening::default());
    if let (Some(cluster), Some(outbox)) =
        (relay.scheduler.cluster(), relay.scheduler.take_outbox())
    {
        crate::scheduler::cluster::start(
            cluster,
            outbox,
            relay.store.clone(),
            &relay.tasks,
            stop.clone(),
        );
        super::listen::spawn(
            relay,
            cluster.clone(),
            budgets,
            listening.clone(),
            stop.clone(),
        );
    }
    spawn_housekeeping(relay, listening, stop);
}

/// Persists account state changes and announces them, off the hot path.
async fn record_transitions(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<AccountTransition>,
    store: Store,
    webhooks: Webhooks,
    stop: CancellationToken,
) {
    use app::types::AccountStatus;
    loop {
        let t = tokio::select! {
            biased;
            t = rx.recv() => match t {
                Some(t) => t,
                None => break,
            },
            _ = stop.cancelled() => match rx.try_recv() {
                // Record what is queued, then stop.
                Ok(t) => t,
                Err(_) => break,
            },
        };
        let tr = &t.transition;
        if let Err(e) = store
            .record_account_state(
                &t.account_id,
                tr.to.as_str(),
                &tr.message,
                tr.http_status,
                tr.cooldown_until,
            )
            .await
        {
            tracing::error!(error = %e, account = %t.account_id, "recording an account state change failed");
        }
        let kind = match tr.to {
            AccountStatus::RateLimited => Some(EventKind::AccountRateLimited),
            AccountStatus::Overloaded => Some(EventKind::AccountOverloaded),
            AccountStatus::Error => Some(EventKind::AccountError),
            AccountStatus::Active if tr.from != AccountStatus::Active => {
                Some(EventKind::AccountRecovered)
            }
            _ => None,
        };
        if let Some(kind) = kind {
            webhooks.emit(
                kind,
                serde_json::json!({
                    "accountId": &*t.account_id,
                    "accountName": t.account_name,
                    "platform": t.platform.as_str(),
                    "from": tr.from.as_str(),
                    "to": tr.to.as_str(),
                    "httpStatus": tr.http_status,
                    "message": tr.message,
                    "cooldownUntil": tr.cooldown_until,
                }),
            );
        }
    }
}

/// Sweeps expired sticky mappings, announces keys whose validity just ended, watches pool
/// utilization for `pool.saturated`.
fn spawn_housekeeping(
    relay: &Arc<Relay>,
    listening: Arc<super::listen::Listening>,
    stop: CancellationToken,
) {
    let relay = relay.clone();
    let tasks = relay.tasks.clone();
    tasks.spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(30));
        let mut watermark = now_ms();
        let mut saturation = Saturation::default();
        let mut changes = ConfigChanges::default();
        let mut poll = tokio::time::interval(Duration::from_millis(
            relay.settings.serve.relay.housekeeping_interval_ms.max(1),
        ));
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = poll.tick() => {
                    changes.poll(&relay, listening.up()).await;
                    saturation.check(&relay, now_ms());
                    relay.housekeeping_rounds.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                }
                _ = every.tick() => {
                    let now = now_ms();
                    relay.scheduler.live().sticky().sweep(relay.scheduler.now_ms());
                    match relay.store.keys_expired_between(watermark, now).await {
                        Ok(expired) => {
                            watermark = now;
                            for (id, name, at) in expired {
                                relay.webhooks.emit(
                                    EventKind::KeyExpired,
                                    serde_json::json!({ "keyId": id, "keyName": name, "expiredAt": at }),
                                );
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "checking for expired keys failed"),
                    }
                }
            }
        }
    });
}

/// Picks up configuration changed outside this process (another instance sharing the
/// database, or a hand edit): edited keys are re-read on their next request, and the account
/// pool is rebuilt when accounts, groups or memberships changed. Local admin edits apply at
/// once anyway; this bounds the staleness elsewhere to the poll interval. While change
/// notifications flow (`listen`) it only moves its marks; when they stop it acts, and with
/// several instances also re-reads prices and account health.
#[derive(Default)]
struct ConfigChanges {
    keys_seen: Option<i64>,
    pool: Option<crate::storage::key_limits::PoolVersion>,
}

impl ConfigChanges {
    async fn poll(&mut self, relay: &Relay, listening: bool) {
        let since = *self.keys_seen.get_or_insert_with(now_ms);
        match relay.store.keys_changed_since(since).await {
            Ok(changed) => {
                if !listening && !changed.is_empty() {
                    // Keys created elsewhere may be remembered here as unknown.
                    relay.keys.imported();
                }
                for (id, updated) in changed {
                    if !listening {
                        relay.keys.forget(&id);
                    }
                    self.keys_seen = Some(self.keys_seen.unwrap_or(since).max(updated));
                }
            }
            Err(e) => tracing::warn!(error = %e, "polling for key changes failed"),
        }
        match relay.store.pool_version().await {
            Ok(version) => {
                if !listening && self.pool.is_some_and(|seen| seen != version) {
                    if let Err(e) = relay.scheduler.reload(false).await {
                        tracing::warn!(error = %e, "reloading the account pool failed");
                        return;
                    }
                }
                self.pool = Some(version);
            }
            Err(e) => tracing::warn!(error = %e, "polling for account changes failed"),
        }
        if let Some(cluster) = relay.scheduler.cluster().filter(|_| !listening) {
            if let Err(e) = relay.reload_pricing().await {
                tracing::warn!(error = %e, "reloading prices failed");
            }
            match relay.store.account_health().await {
                Ok(rows) => cluster.adopt_stored(rows),
                Err(e) => tracing::warn!(error = %e, "polling account health failed"),
            }
        }
    }
}

/// Per platform: since when utilization has been above the threshold, and whether that
/// stretch was announced (once per stretch).
#[derive(Default)]
struct Saturation {
    above_since: [Option<i64>; 3],
    announced: [bool; 3],
}

impl Saturation {
    fn check(&mut self, relay: &Relay, now: i64) {
        let opts = &relay.settings.serve.relay;
        let pool = relay.scheduler.snapshot();
        for (i, platform) in app::types::Platform::ALL.into_iter().enumerate() {
            let load = relay.scheduler.load_of(
                pool.by_id
                    .values()
                    .filter(|a| a.platform == platform)
                    .map(|a| a.as_ref()),
                opts.default_account_capacity,
            );
            if load.capacity == 0 || load.utilization() < opts.pool_saturation_threshold {
                self.above_since[i] = None;
                self.announced[i] = false;
                continue;
            }
            let since = *self.above_since[i].get_or_insert(now);
            if !self.announced[i] && now - since >= opts.pool_saturation_minutes as i64 * 60_000 {
                self.announced[i] = true;
                relay.webhooks.emit(
                    EventKind::PoolSaturated,
                    serde_json::json!({
                        "platform": platform.as_str(),
                        "utilization": load.utilization(),
                        "inFlight": load.in_flight,
                        "capacity": load.capacity,
                        "sinceMs": since,
                    }),
                );
            }
        }
    }
}
