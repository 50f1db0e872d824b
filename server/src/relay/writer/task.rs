//! The writer task: batches from the queue, written through [`resilient::write_all`]; the
//! database's availability and the retry backoff; replaying the spool; the drain at shutdown.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::resilient::{self, Failure};
use super::{Shared, UsageEvent, BACKOFF_MAX, BACKOFF_MIN, BATCH, FINAL_WRITE_LIMIT, LINGER};
use crate::webhooks::EventKind;

/// Runs `fut`; once `stop` fires it gets [`FINAL_WRITE_LIMIT`] more, then is dropped (`None`).
async fn until_stopped<F: std::future::Future>(
    fut: F,
    stop: &CancellationToken,
) -> Option<F::Output> {
    tokio::pin!(fut);
    tokio::select! {
        biased;
        r = &mut fut => return Some(r),
        _ = stop.cancelled() => {}
    }
    tokio::time::timeout(FINAL_WRITE_LIMIT, fut).await.ok()
}

/// The writer's state between writes: the database's availability and the next retry's delay.
struct Health {
    backoff: Duration,
}

impl Health {
    fn failed(&mut self, shared: &Shared, f: Failure) {
        let Failure::Unavailable(e) = f;
        let was_down = shared.stats.database_down.swap(true, Ordering::Relaxed);
        tracing::error!(error = %e, queued = shared.stats.queued.load(Ordering::Relaxed), spooled = shared.backlog(), retry_in_ms = self.backoff.as_millis() as u64, "writing usage failed: the database is unavailable; keeping the events and retrying");
        if !was_down {
            shared.alert(
                EventKind::SystemError,
                serde_json::json!({
                    "component": "usage_writer",
                    "message": "the database is unavailable for usage; events are kept (queue, then spool) and retried, nothing is dropped",
                    "pendingEvents": shared.stats.queued.load(Ordering::Relaxed) + shared.backlog(),
                }),
            );
        }
    }

    fn recovered(&mut self, shared: &Shared) {
        if shared.stats.database_down.swap(false, Ordering::Relaxed) {
            tracing::warn!("the database takes usage again");
        }
        self.backoff = BACKOFF_MIN;
    }

    /// Waits the current delay (or until `stop`) and lengthens the next one; false if stopped.
    async fn wait(&mut self, stop: &CancellationToken) -> bool {
        let delay = self.backoff;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        tokio::select! {
            _ = stop.cancelled() => false,
            _ = tokio::time::sleep(delay) => true,
        }
    }
}

/// Writes every spool file this process can take; a file is deleted once all of it is written.
async fn replay(shared: &Shared) -> Result<(), Failure> {
    let Some(spool) = &shared.spool else {
        return Ok(());
    };
    for taken in spool.take() {
        let (events, lines) = match spool.read(&taken) {
            Ok(read) => read,
            Err(e) => {
                tracing::error!(error = %e, file = %taken.path.display(), "reading a usage spool file failed; it is kept");
                continue;
            }
        };
        let mut written = 0;
        for chunk in events.chunks(BATCH) {
            written += resilient::write_all(shared, chunk).await?;
        }
        tracing::info!(
            events = events.len(),
            written,
            file = %taken.path.display(),
            "replayed spooled usage events"
        );
        spool.done(taken, lines);
    }
    Ok(())
}

pub(super) async fn run(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<UsageEvent>,
    stop: CancellationToken,
    started: watch::Sender<bool>,
) {
    let mut health = Health {
        backoff: BACKOFF_MIN,
    };
    if shared.backlog() > 0 {
        if let Err(f) = replay(&shared).await {
            health.failed(&shared, f);
        }
    }
    let _ = started.send(true);
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        if batch.is_empty() {
            // Idle: wait for events; with a spool backlog, retry it now (database up) or after
            // the backoff (down).
            let retry = (shared.backlog() > 0).then(|| {
                if shared.is_down() {
                    health.backoff
                } else {
                    Duration::from_secs(1)
                }
            });
            tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                n = rx.recv_many(&mut batch, BATCH) => {
                    if n == 0 {
                        break;
                    }
                    let deadline = tokio::time::Instant::now() + LINGER;
                    while batch.len() < BATCH {
                        let room = BATCH - batch.len();
                        tokio::select! {
                            biased;
                            n = rx.recv_many(&mut batch, room) => if n == 0 { break },
                            _ = stop.cancelled() => break,
                            _ = tokio::time::sleep_until(deadline) => break,
                        }
                    }
                }
                _ = tokio::time::sleep(retry.unwrap_or_default()), if retry.is_some() => {
                    if shared.is_down() {
                        health.backoff = (health.backoff * 2).min(BACKOFF_MAX);
                    }
                }
            }
        } else if shared.is_down() && !health.wait(&stop).await {
            break;
        }
        if !batch.is_empty() {
            match until_stopped(resilient::write_all(&shared, &batch), &stop).await {
                Some(Ok(_)) => {
                    shared.settled(&batch);
                    shared
                        .stats
                        .queued
                        .fetch_sub(batch.len(), Ordering::Relaxed);
                    batch.clear();
                    health.recovered(&shared);
                }
                Some(Err(f)) => {
                    health.failed(&shared, f);
                    continue;
                }
                None => {
                    // Stopping, and the write hangs: treat the database as unavailable.
                    shared.stats.database_down.store(true, Ordering::Relaxed);
                    break;
                }
            }
        }
        if shared.backlog() > 0 {
            match until_stopped(replay(&shared), &stop).await {
                Some(Ok(())) => health.recovered(&shared),
                Some(Err(f)) => health.failed(&shared, f),
                None => {
                    shared.stats.database_down.store(true, Ordering::Relaxed);
                    break;
                }
            }
        }
    }
    finish(&shared, rx, batch).await;
}

/// Stopping: what is still queued goes to the database if it is up (within
/// [`FINAL_WRITE_LIMIT`]), else to the spool; nothing goes to the floor.
async fn finish(shared: &Shared, mut rx: mpsc::Receiver<UsageEvent>, mut batch: Vec<UsageEvent>) {
    rx.close();
    while let Ok(e) = rx.try_recv() {
        batch.push(e);
    }
    let queued = batch.len();
    if !batch.is_empty() && !shared.is_down() {
        let mut left = Vec::new();
        for chunk in batch.chunks(BATCH) {
            if !left.is_empty() {
                left.extend_from_slice(chunk);
                continue;
            }
            match tokio::time::timeout(FINAL_WRITE_LIMIT, resilient::write_all(shared, chunk)).await
            {
                Ok(Ok(_)) => {}
                Ok(Err(Failure::Unavailable(e))) => {
                    tracing::error!(error = %e, "writing usage at shutdown failed; spooling it");
                    left.extend_from_slice(chunk);
                }
                Err(_) => {
                    tracing::error!("writing usage at shutdown timed out; spooling it");
                    left.extend_from_slice(chunk);
                }
            }
        }
        batch = left;
    }
    if !batch.is_empty() {
        shared.spill(&batch);
        tracing::warn!(
            events = batch.len(),
            "usage events spooled at shutdown; they are written at the next start"
        );
    }
    shared.stats.queued.fetch_sub(queued, Ordering::Relaxed);
    if let Some(s) = &shared.spool {
        s.sync();
    }
    // Its own connection is closed here, before the process closes the relay's pool, so the
    // database's last connection (which folds the WAL back) is closed cleanly.
    if shared.own_store
        && tokio::time::timeout(FINAL_WRITE_LIMIT, shared.store.close())
            .await
            .is_err()
    {
        tracing::error!("the usage writer's database connection did not close in time");
    }
    tracing::info!("usage writer drained");
}
