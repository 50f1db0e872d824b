//! Changes made by other instances, within a second: with several instances on one PostgreSQL
//! (`CLUSTER=1`) this listens on the deployment's change channel (`LISTEN
//! "tollgate:<schema>"`, fed by the triggers of migrations 0021 and 0023 and by instances
//! announcing account health and budget stops). A key change also forgets the keys remembered
//! as unknown (one may just have been created or imported). While the channel is down the 5 s
//! poll of [`super::jobs`] acts in its place; every (re)connection starts with a full refresh,
//! so nothing said meanwhile is lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgNotification};
use tokio_util::sync::CancellationToken;

use super::Relay;
use crate::accounts::budget_watch::{self, BudgetWatch};
use crate::scheduler::cluster::{ClusterLive, HealthNote};
use crate::storage::Store;

/// A separate URL for the listening connection (LISTEN needs a session: behind a pooler in
/// transaction mode, point this at the database directly).
const LISTEN_URL_ENV: &str = "DATABASE_LISTEN_URL";
const RECONNECT_EVERY: Duration = Duration::from_secs(1);
const CLOCK_MARGIN_MS: i64 = 5_000;

/// Whether notifications are flowing (the poll stands in while they are not).
#[derive(Default)]
pub(super) struct Listening(AtomicBool);

impl Listening {
    pub(super) fn up(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
    fn set(&self, up: bool) {
        self.0.store(up, Ordering::Release)
    }
}

/// What the listener tells about the changes it hears.
struct Hearers {
    cluster: Arc<ClusterLive>,
    budgets: BudgetWatch,
}

pub(super) fn spawn(
    relay: &Arc<Relay>,
    cluster: Arc<ClusterLive>,
    budgets: BudgetWatch,
    listening: Arc<Listening>,
    stop: CancellationToken,
) {
    let relay = relay.clone();
    let hearers = Hearers { cluster, budgets };
    relay.tasks.clone().spawn(async move {
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = listen(&relay, &hearers, &listening) => {}
        }
        listening.set(false);
    });
}

async fn connect(store: &Store, channel: &str) -> sqlx::Result<PgListener> {
    let mut listener = match (std::env::var(LISTEN_URL_ENV).ok(), store) {
        (Some(url), _) if !url.trim().is_empty() => PgListener::connect(url.trim()).await?,
        (_, Store::Postgres(pool)) => PgListener::connect_with(pool).await?,
        (_, Store::Sqlite(_)) => return Err(sqlx::Error::Protocol("not PostgreSQL".into())),
    };
    // A lost connection is ours to notice (and to catch up after), not re-made silently.
    listener.eager_reconnect(false);
    listener.listen(channel).await?;
    Ok(listener)
}

async fn listen(relay: &Arc<Relay>, hearers: &Hearers, listening: &Listening) {
    let schema = loop {
        match relay.store.current_schema().await {
            Ok(s) => break s,
            Err(e) => tracing::warn!(error = %e, "reading the schema for change notifications"),
        }
        tokio::time::sleep(RECONNECT_EVERY).await;
    };
    let channel = crate::storage::shared_live::channel(&schema);
    // Changes after this were possibly not heard (a margin for clocks a little apart).
    let mut unheard_since = crate::storage::now_ms() - CLOCK_MARGIN_MS;
    let mut failing = false;
    loop {
        let mut listener = match connect(&relay.store, &channel).await {
            Ok(l) => l,
            Err(e) => {
                // Said once per outage; the retries every second are quiet.
                if !failing {
                    tracing::warn!(error = %e, "listening for changes failed; polling meanwhile");
                }
                failing = true;
                tokio::time::sleep(RECONNECT_EVERY).await;
                continue;
            }
        };
        failing = false;
        listening.set(true);
        tracing::info!(channel = %channel, "listening for changes of other instances");
        catch_up(relay, hearers, unheard_since).await;
        // `Ok(None)` or an error: the connection is gone.
        while let Ok(Some(first)) = listener.try_recv().await {
            let mut batch = vec![first];
            while let Some(n) = listener.next_buffered() {
                batch.push(n);
            }
            apply(relay, hearers, batch).await;
        }
        listening.set(false);
        unheard_since = crate::storage::now_ms() - CLOCK_MARGIN_MS;
        tracing::warn!("the change channel was lost; polling until it is back");
    }
}

/// Everything another instance may have changed while nobody listened.
async fn catch_up(relay: &Relay, hearers: &Hearers, since: i64) {
    let cluster = &hearers.cluster;
    hearers.budgets.heard();
    match relay.store.keys_changed_since(since).await {
        Ok(changed) => {
            changed.iter().for_each(|(id, _)| relay.keys.forget(id));
            if !changed.is_empty() {
                relay.keys.imported();
            }
        }
        Err(e) => tracing::warn!(error = %e, "reading changed keys failed"),
    }
    if let Err(e) = relay.scheduler.reload(false).await {
        tracing::warn!(error = %e, "reloading the account pool failed");
    }
    if let Err(e) = relay.reload_pricing().await {
        tracing::warn!(error = %e, "reloading prices failed");
    }
    match relay.store.account_health().await {
        Ok(rows) => cluster.adopt_stored(rows),
        Err(e) => tracing::warn!(error = %e, "reading account health failed"),
    }
}

/// Acts on a batch of notifications: keys and health at once, the pool and prices once.
async fn apply(relay: &Relay, hearers: &Hearers, batch: Vec<PgNotification>) {
    let cluster = &hearers.cluster;
    let (mut pool, mut pricing, mut keys, mut budgets) = (false, false, false, false);
    for n in &batch {
        let payload = n.payload();
        if let Some(id) = payload.strip_prefix("key:") {
            relay.keys.forget(id);
            keys = true;
        } else if let Some(note) = HealthNote::parse(payload) {
            cluster.apply(note);
        } else if payload.starts_with(budget_watch::TOPIC) {
            budgets |= BudgetWatch::is_budget_news(payload, cluster.instance());
        } else {
            match payload {
                "pool" => pool = true,
                "pricing" => pricing = true,
                // Settings are read where they are used, never cached.
                "settings" => {}
                other => tracing::debug!(payload = other, "unknown change notification"),
            }
        }
    }
    if budgets {
        hearers.budgets.heard();
    }
    if keys {
        // A key created (or imported, or given a new hash) elsewhere may have been presented
        // here before and be remembered as unknown: forget the unknown keys (and the imported
        // key salts, which an import may have added) so it works at once.
        relay.keys.imported();
    }
    if pool {
        if let Err(e) = relay.scheduler.reload(false).await {
            tracing::warn!(error = %e, "reloading the account pool failed");
        }
    }
    if pricing {
        if let Err(e) = relay.reload_pricing().await {
            tracing::warn!(error = %e, "reloading prices failed");
        }
    }
}
