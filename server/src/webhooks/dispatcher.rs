//! The queue between the code that notices events and the targets that hear about them.
//!
//! [`Webhooks::emit`] never waits: it puts the event in a bounded queue, or drops it (counted,
//! one warning per burst) when the queue is full, so the relay's hot path and `Drop` guards can
//! call it freely. One worker takes events off the queue, at most [`MAX_CONCURRENT_EVENTS`] at
//! a time, and delivers each to every matching target concurrently. On shutdown it stops taking
//! new events, delivers what is queued within [`SHUTDOWN_DRAIN`], and exits. A second task
//! prunes the delivery log.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::config::WebhookOpts;
use super::delivery::{record, Attempt, Deliverer};
use super::event::{EventKind, WebhookEvent};
use super::target::Target;
use crate::crypto::Cipher;
use crate::storage::{now_ms, Store};

/// Events being delivered at once; the rest wait in the queue.
pub const MAX_CONCURRENT_EVENTS: usize = 16;
/// How long shutdown waits for queued and in-flight deliveries.
pub const SHUTDOWN_DRAIN: Duration = Duration::from_secs(5);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
const PRUNE_BATCH: i64 = 500;

/// The handle every emitter holds; cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    inner: Arc<Inner>,
}

struct Inner {
    queue: mpsc::Sender<WebhookEvent>,
    capacity: usize,
    dropped: AtomicU64,
    dropped_in_burst: AtomicU64,
    in_burst: AtomicBool,
    shared: Arc<Shared>,
    /// Several instances on one database: the store that claims key events once.
    cluster: Option<Store>,
    quota_marks: super::quota::QuotaMarks,
}

/// What delivering needs; shared by the worker's tasks and test sends.
struct Shared {
    deliverer: Deliverer,
    store: Store,
    cipher: Cipher,
    env_targets: Vec<Target>,
}

/// The half that delivers; run it with [`Worker::run`].
pub struct Worker {
    queue: mpsc::Receiver<WebhookEvent>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("env_targets", &self.inner.shared.env_targets.len())
            .field("queued", &self.queued())
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl Webhooks {
    /// Creates the handle and its worker without starting anything (tests drive the worker).
    pub fn new(
        opts: &WebhookOpts,
        store: Store,
        cipher: Cipher,
    ) -> anyhow::Result<(Webhooks, Worker)> {
        Self::with_clock(opts, store, cipher, crate::clock::system())
    }

    /// As [`Webhooks::new`], with the clock that retry backoffs wait on.
    pub fn with_clock(
        opts: &WebhookOpts,
        store: Store,
        cipher: Cipher,
        clock: crate::clock::SharedClock,
    ) -> anyhow::Result<(Webhooks, Worker)> {
        let env_targets = opts
            .env_urls()
            .enumerate()
            .map(|(i, url)| {
                Target::from_env(url, opts.webhook_secret.as_ref())
                    .map_err(|why| anyhow::anyhow!("WEBHOOK_URLS entry {} {why}", i + 1))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        if !opts.webhook_enabled && !opts.webhook_urls.is_empty() {
            tracing::info!(
                "WEBHOOK_URLS is set but WEBHOOK_ENABLED is false: those targets get no events"
            );
        }
        let cluster = store.cluster_instance().map(|_| store.clone());
        let shared = Arc::new(Shared {
            deliverer: Deliverer::with_clock(opts, clock)?,
            store,
            cipher,
            env_targets,
        });
        let capacity = opts.queue_size();
        let (tx, rx) = mpsc::channel(capacity);
        let handle = Webhooks {
            inner: Arc::new(Inner {
                queue: tx,
                capacity,
                dropped: AtomicU64::new(0),
                dropped_in_burst: AtomicU64::new(0),
                in_burst: AtomicBool::new(false),
                shared: shared.clone(),
                cluster,
                quota_marks: Default::default(),
            }),
        };
        Ok((handle, Worker { queue: rx, shared }))
    }

    /// Starts the worker and the log pruning on `tasks`; both stop when `shutdown` fires.
    /// Retry backoffs wait on `clock`.
    pub fn start(
        opts: &WebhookOpts,
        store: Store,
        cipher: Cipher,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
        clock: crate::clock::SharedClock,
    ) -> anyhow::Result<Webhooks> {
        let (handle, worker) = Webhooks::with_clock(opts, store.clone(), cipher, clock)?;
        tasks.spawn(worker.run(shutdown.clone()));
        if let Some(cluster) = handle.cluster_store() {
            tasks.spawn(super::quota::sweep(
                handle.clone(),
                cluster.clone(),
                shutdown.clone(),
            ));
        }
        tasks.spawn(prune_loop(store, opts.webhook_log_retention_days, shutdown));
        Ok(handle)
    }

    /// Queues `kind` with `data` for delivery, without waiting. See [`Webhooks::emit_event`].
    pub fn emit(&self, kind: EventKind, data: Value) {
        self.emit_event(WebhookEvent::new(kind, data));
    }

    /// Queues an event; when the queue is full the event is dropped and counted.
    pub fn emit_event(&self, event: WebhookEvent) {
        let inner = &self.inner;
        match inner.queue.try_send(event) {
            Ok(()) => {
                // The burst is over once the queue is at most half full again.
                if inner.in_burst.load(Ordering::Relaxed)
                    && inner.queue.capacity() * 2 >= inner.capacity
                    && inner.in_burst.swap(false, Ordering::Relaxed)
                {
                    let lost = inner.dropped_in_burst.swap(0, Ordering::Relaxed);
                    tracing::info!(dropped = lost, "webhook queue has room again");
                }
            }
            Err(TrySendError::Full(event)) => {
                inner.dropped.fetch_add(1, Ordering::Relaxed);
                inner.dropped_in_burst.fetch_add(1, Ordering::Relaxed);
                if !inner.in_burst.swap(true, Ordering::Relaxed) {
                    tracing::warn!(event = %event.event, capacity = inner.capacity, "webhook queue is full; dropping new events until it drains");
                }
            }
            Err(TrySendError::Closed(event)) => {
                tracing::debug!(event = %event.event, "webhooks are shut down; event not queued");
            }
        }
    }

    /// Events dropped because the queue was full, since start.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Events waiting in the queue.
    pub fn queued(&self) -> usize {
        self.inner.capacity - self.inner.queue.capacity()
    }

    pub(super) fn cluster_store(&self) -> Option<&Store> {
        self.inner.cluster.as_ref()
    }

    pub(super) fn quota_marks(&self) -> &super::quota::QuotaMarks {
        &self.inner.quota_marks
    }

    pub fn opts(&self) -> &WebhookOpts {
        self.inner.shared.deliverer.opts()
    }

    /// Sends one `test` event to `target` now, once, and logs the attempt.
    pub async fn send_test(&self, target: &Target, data: Value) -> Attempt {
        let shared = &self.inner.shared;
        let event = WebhookEvent::new(EventKind::Test, data);
        let delivery_id = uuid::Uuid::new_v4().to_string();
        let attempt = shared.deliverer.attempt(target, &event, &delivery_id).await;
        record(&shared.store, target, &event, 1, &attempt).await;
        attempt
    }
}

impl Worker {
    /// Delivers queued events until `shutdown`, then drains within [`SHUTDOWN_DRAIN`].
    pub async fn run(self, shutdown: CancellationToken) {
        let Worker { mut queue, shared } = self;
        let permits = Arc::new(Semaphore::new(MAX_CONCURRENT_EVENTS));
        let mut inflight = JoinSet::new();
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                Some(done) = inflight.join_next(), if !inflight.is_empty() => report(done),
                next = next_event(&permits, &mut queue) => {
                    let Some((permit, event)) = next else { break };
                    spawn_dispatch(&mut inflight, &shared, permit, event);
                }
            }
        }
        queue.close();
        let pending = queue.len() + inflight.len();
        let drain = async {
            // Still at most MAX_CONCURRENT_EVENTS at once: receivers should not see a stampede.
            while let Some((permit, event)) = next_event(&permits, &mut queue).await {
                spawn_dispatch(&mut inflight, &shared, permit, event);
            }
            while let Some(done) = inflight.join_next().await {
                report(done);
            }
        };
        if tokio::time::timeout(SHUTDOWN_DRAIN, drain).await.is_err() {
            tracing::warn!(
                undelivered = queue.len() + inflight.len(),
                "webhook deliveries cut short by shutdown"
            );
            inflight.abort_all();
        } else if pending > 0 {
            tracing::info!(
                events = pending,
                "delivered queued webhook events before shutdown"
            );
        }
    }
}

/// Waits for room to deliver, then for an event. Dropping it midway loses nothing: the permit
/// goes back and `recv` is cancel-safe.
async fn next_event(
    permits: &Arc<Semaphore>,
    queue: &mut mpsc::Receiver<WebhookEvent>,
) -> Option<(OwnedSemaphorePermit, WebhookEvent)> {
    let permit = permits.clone().acquire_owned().await.ok()?;
    let event = queue.recv().await?;
    Some((permit, event))
}

/// Delivers `event` on a task of its own, holding `permit` until every target is done.
fn spawn_dispatch(
    inflight: &mut JoinSet<()>,
    shared: &Arc<Shared>,
    permit: OwnedSemaphorePermit,
    event: WebhookEvent,
) {
    let shared = shared.clone();
    inflight.spawn(async move {
        shared.dispatch(event).await;
        drop(permit);
    });
}

fn report(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        if e.is_panic() {
            tracing::error!("a webhook delivery task panicked");
        }
    }
}

impl Shared {
    async fn dispatch(&self, event: WebhookEvent) {
        let targets = self.targets_for(event.event).await;
        futures::future::join_all(
            targets
                .iter()
                .map(|t| self.deliverer.deliver(&self.store, t, &event)),
        )
        .await;
    }

    /// `WEBHOOK_URLS` targets get every event; dashboard targets those they subscribed to.
    async fn targets_for(&self, kind: EventKind) -> Vec<Target> {
        let mut targets = self.env_targets.clone();
        match self.store.enabled_webhook_targets().await {
            Ok(rows) => {
                for row in rows {
                    match Target::from_row(&row, &self.cipher) {
                        Ok(t) if t.accepts(kind) => targets.push(t),
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(target_id = %row.id, error = %e, "skipping a webhook target that cannot be read")
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "loading webhook targets failed"),
        }
        targets
    }
}

async fn prune_loop(store: Store, retention_days: u64, shutdown: CancellationToken) {
    if retention_days == 0 {
        return;
    }
    let mut every = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = every.tick() => {
                let removed = prune_deliveries(&store, retention_days, &shutdown).await;
                if removed > 0 {
                    tracing::info!(removed, "pruned old webhook deliveries");
                }
            }
        }
    }
}

/// Deletes deliveries older than the retention in small batches, so no single statement holds
/// the table for long. Returns how many rows went.
pub async fn prune_deliveries(
    store: &Store,
    retention_days: u64,
    shutdown: &CancellationToken,
) -> u64 {
    let retention_ms = i64::try_from(retention_days)
        .unwrap_or(i64::MAX)
        .saturating_mul(86_400_000);
    let cutoff = now_ms().saturating_sub(retention_ms);
    let mut total = 0;
    loop {
        match store.prune_webhook_deliveries(cutoff, PRUNE_BATCH).await {
            Ok(n) => {
                total += n;
                if n < PRUNE_BATCH as u64 || shutdown.is_cancelled() {
                    return total;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "pruning webhook deliveries failed");
                return total;
            }
        }
    }
}
