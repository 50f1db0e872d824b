//! Every periodic background job of a serving process, started from one place ([`start`]).
//! Each job lives with what it serves; this module only starts them and runs the housekeeping
//! loop that looks at several:
//! - the account state-change recorder (`scheduler::recorder`);
//! - usage retention (`ops`), expired sessions and admin tokens (`storage::sessions`);
//! - the account budgets' watch (`accounts::budget_watch`: every `housekeeping_interval_ms`,
//!   soon after settled spend of an account its budget may stop, and when told);
//! - with several instances, the shared scheduler state (`scheduler::cluster`) and the change
//!   listener (`relay::listen`);
//! - every `housekeeping_interval_ms` (5 s): the configuration poll ([`ConfigChanges`], the
//!   relay's own caches), pool saturation (`scheduler::saturation`); every 30 s: the sticky
//!   sweep (`scheduler::sticky`) and the expired-key watch (`keys::expiry_watch`).
//!
//! Started elsewhere, because other parts hold their handle from the start: the webhook
//! dispatcher (`webhooks::Webhooks::start`), the usage writer (`relay::writer`), the shared key
//! limits' upkeep (`limits`) and the `PRICING_URL` refresher (`pricing::refresh`), both in
//! `Relay::start`.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Relay;
use crate::keys::expiry_watch::ExpiryWatch;
use crate::scheduler::saturation::Saturation;
use crate::scheduler::AccountTransition;
use crate::storage::now_ms;

/// Starts every background job of a serving relay; they end with `stop`.
pub(super) fn start(
    relay: &Arc<Relay>,
    transitions: tokio::sync::mpsc::UnboundedReceiver<AccountTransition>,
    stop: CancellationToken,
) {
    relay
        .tasks
        .spawn(crate::scheduler::recorder::record_transitions(
            transitions,
            relay.store.clone(),
            relay.webhooks.clone(),
            stop.clone(),
        ));
    relay.tasks.spawn(crate::storage::sessions::purge_expired(
        relay.store.clone(),
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
        let mut expiry = ExpiryWatch::starting_at(now_ms());
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
                    let opts = &relay.settings.serve.relay;
                    saturation.check(&relay.scheduler, opts, &relay.webhooks, now_ms());
                    relay.housekeeping_rounds.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                }
                _ = every.tick() => {
                    relay.scheduler.live().sticky().sweep(relay.scheduler.now_ms());
                    expiry.announce(&relay.store, &relay.webhooks, now_ms()).await;
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
