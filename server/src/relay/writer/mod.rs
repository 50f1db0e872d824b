//! The batching usage writer: the hot path hands events to a bounded queue and never waits;
//! one task writes what has accumulated in a single transaction (group commit) — raw events,
//! the keys' spend and request counts, hourly and daily rollups, accounts' last use (see
//! `storage::usage_write`). After the first event of a batch it lingers up to [`LINGER`] for
//! more, so a trickle of requests costs one transaction per interval instead of one per request.
//!
//! Nothing a client sends can jam it and no outage loses usage:
//! - a batch the database refuses is split until the offending events are alone, and those are
//!   set aside in `usage_dead_letters` ([`resilient`]); no batch is retried forever for its
//!   contents;
//! - a batch that fails because the database is unavailable is kept and retried with backoff;
//! - the queue holds [`WriterOptions::queue_capacity`] events; beyond that, and for whatever is
//!   still queued when the process stops during an outage, events go to the spool file
//!   ([`spool`]), replayed when the database is back and at the next start. Writes are
//!   idempotent by request id, so a replay counts nothing twice.

pub mod resilient;
pub mod spool;
mod task;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::storage::Store;
use crate::webhooks::{EventKind, Webhooks};
pub use spool::Spooled;

pub use crate::storage::usage_write::{write_batch, UsageEvent};

/// How the writer is built: its queue's size and where it spools (`None`: no spool, for CLI
/// commands that write no usage).
#[derive(Clone, Debug)]
pub struct WriterOptions {
    pub queue_capacity: usize,
    pub spool_dir: Option<PathBuf>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            queue_capacity: 10_000,
            spool_dir: None,
        }
    }
}

/// The writer's figures, read by `/health`, `/ready` and `/metrics`.
#[derive(Default)]
pub struct Stats {
    /// Events in the queue or in the batch being written.
    queued: AtomicUsize,
    /// Events set aside in `usage_dead_letters` since the start.
    pub dead_letters: AtomicU64,
    /// The last write (or replay) found the database unavailable.
    database_down: AtomicBool,
}

/// What the writer task and the resilient write share.
pub struct Shared {
    pub store: Store,
    pub tz: chrono_tz::Tz,
    pub stats: Stats,
    pub spool: Option<spool::Spool>,
    alerts: Option<Webhooks>,
    /// `store` is the writer's own pool ([`Store::for_usage_writer`]), closed when it ends.
    own_store: bool,
    /// Told the accounts of each batch written (see [`UsageWriter::watch_settled`]).
    settled: parking_lot::Mutex<Option<mpsc::UnboundedSender<Vec<Arc<str>>>>>,
}

impl Shared {
    pub(crate) fn alert(&self, kind: EventKind, data: serde_json::Value) {
        if let Some(w) = &self.alerts {
            w.emit(kind, data);
        }
    }

    /// Tells the watcher, if any, which accounts a written batch settled spend for.
    fn settled(&self, events: &[UsageEvent]) {
        let guard = self.settled.lock();
        let Some(tx) = guard.as_ref() else { return };
        let mut accounts: Vec<Arc<str>> = events
            .iter()
            .filter(|e| e.cost_micros > 0)
            .filter_map(|e| e.account_id.clone())
            .collect();
        accounts.sort_unstable();
        accounts.dedup();
        if !accounts.is_empty() {
            let _ = tx.send(accounts);
        }
    }

    fn backlog(&self) -> usize {
        self.spool.as_ref().map_or(0, |s| s.backlog())
    }

    fn is_down(&self) -> bool {
        self.stats.database_down.load(Ordering::Relaxed)
    }

    /// Keeps events the queue cannot: in the spool, or (no spool) in the log as lost.
    fn spill(&self, events: &[UsageEvent]) {
        let err = match &self.spool {
            Some(s) => match s.append(events) {
                Ok(()) => return,
                Err(e) => e.to_string(),
            },
            None => "no spool".to_owned(),
        };
        tracing::error!(events = events.len(), error = %err, "usage events could not be queued or spooled and are lost");
    }
}

#[derive(Clone)]
pub struct UsageWriter {
    tx: mpsc::Sender<UsageEvent>,
    shared: Arc<Shared>,
    started: watch::Receiver<bool>,
}

const BATCH: usize = 1024;
/// How long a batch waits for more events after its first. This bounds what a crash (kill -9)
/// can lose of events the relay had already answered, together with one batch being written.
pub const LINGER: Duration = Duration::from_millis(200);
/// Retry delays while the database is unavailable.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// At shutdown, how long a write may still take before its events go to the spool instead.
const FINAL_WRITE_LIMIT: Duration = Duration::from_secs(5);

impl UsageWriter {
    /// Starts the writer task: it first replays what earlier runs spooled, then writes; when
    /// `stop` fires it writes what is queued (or spools it, the database being unavailable)
    /// and ends. `alerts` receives `system.error` when the database becomes unavailable (once
    /// per outage) and `usage.dead_letter` when events are set aside.
    pub fn spawn(
        store: Store,
        tz: chrono_tz::Tz,
        tasks: &TaskTracker,
        stop: CancellationToken,
        alerts: Option<Webhooks>,
        opts: WriterOptions,
    ) -> anyhow::Result<UsageWriter> {
        let spool = opts.spool_dir.map(spool::Spool::open).transpose()?;
        let (tx, rx) = mpsc::channel(opts.queue_capacity.max(1));
        let own = store.for_usage_writer();
        let own_store = own.is_some();
        let shared = Arc::new(Shared {
            store: own.unwrap_or(store),
            own_store,
            tz,
            stats: Stats::default(),
            spool,
            alerts,
            settled: Default::default(),
        });
        let (started_tx, started) = watch::channel(false);
        tasks.spawn(task::run(shared.clone(), rx, stop, started_tx));
        Ok(UsageWriter {
            tx,
            shared,
            started,
        })
    }

    /// Queues an event; never blocks on the database. A full queue sends it to the spool.
    pub fn record(&self, event: UsageEvent) {
        let stats = &self.shared.stats;
        stats.queued.fetch_add(1, Ordering::Relaxed);
        let event = match self.tx.try_send(event) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(e) | mpsc::error::TrySendError::Closed(e)) => e,
        };
        stats.queued.fetch_sub(1, Ordering::Relaxed);
        self.shared.spill(std::slice::from_ref(&event));
    }

    /// Resolves once the spool left by earlier runs has been replayed (or found unreplayable
    /// for now, the database being unavailable).
    pub async fn started(&self) {
        let mut started = self.started.clone();
        let _ = started.wait_for(|s| *s).await;
    }

    /// From now on, the accounts (with a cost) of each batch written (for
    /// `accounts::budget_watch`: a budget is crossed by the writer's transaction).
    pub fn watch_settled(&self) -> mpsc::UnboundedReceiver<Vec<Arc<str>>> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.shared.settled.lock() = Some(tx);
        rx
    }

    /// Events not yet in the database: queued, being written, or spooled.
    pub fn pending(&self) -> usize {
        self.queued() + self.spooled()
    }

    /// Events queued in memory or being written.
    pub fn queued(&self) -> usize {
        self.shared.stats.queued.load(Ordering::Relaxed)
    }

    /// Events waiting in the spool.
    pub fn spooled(&self) -> usize {
        self.shared.backlog()
    }

    /// Events set aside in `usage_dead_letters` since the start.
    pub fn dead_letters(&self) -> u64 {
        self.shared.stats.dead_letters.load(Ordering::Relaxed)
    }

    /// False while the last write found the database unavailable.
    pub fn database_up(&self) -> bool {
        !self.shared.is_down()
    }
}
