//! Operations settings (the Prometheus endpoint's token, usage retention) and the background
//! job that prunes raw usage events. Rollups (`usage_hourly`, `usage_daily`) are never pruned:
//! the dashboard's charts and reports read only them.

use std::time::Duration;

use clap::Args;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::secret::Secret;
use crate::storage::{now_ms, Store};

const DAY_MS: i64 = 86_400_000;
/// The first prune waits this long, so a restart loop does not hammer the database.
const FIRST_PRUNE_AFTER: Duration = Duration::from_secs(60);
const PRUNE_EVERY: Duration = Duration::from_secs(3_600);
/// Breathing room between two batches for the usage writer and the dashboard.
const PAUSE_BETWEEN_BATCHES: Duration = Duration::from_millis(200);

#[derive(Args, Debug, Clone)]
pub struct OpsOpts {
    /// Bearer token for `GET /metrics` (Prometheus text). Unset: the endpoint answers 404.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<Secret<String>>,
    /// Days raw usage events are kept (0 = forever). Hourly and daily rollups are always kept.
    #[arg(long, env = "USAGE_RETENTION_DAYS", default_value_t = 90)]
    pub usage_retention_days: u32,
    /// Usage events deleted per statement while pruning; small batches keep locks short.
    #[arg(long, env = "USAGE_PRUNE_BATCH", default_value_t = 5_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub usage_prune_batch: u32,
    /// Days audit events are kept (0 = forever); pruned by the same hourly job.
    #[arg(long, env = "AUDIT_RETENTION_DAYS", default_value_t = 365)]
    pub audit_retention_days: u32,
    /// Usage events the writer holds in memory; beyond them (a database outage, a burst) events
    /// go to the spool in `<data dir>/usage-spool/`.
    #[arg(long, env = "USAGE_QUEUE_CAPACITY", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub usage_queue_capacity: u32,
}

impl OpsOpts {
    /// The configured metrics token, unless it is blank.
    pub fn metrics_token(&self) -> Option<&str> {
        self.metrics_token
            .as_ref()
            .map(|t| t.expose().trim())
            .filter(|t| !t.is_empty())
    }
}

/// Starts the hourly prune of raw usage events (nothing when retention is 0).
pub fn spawn_usage_retention(
    opts: &OpsOpts,
    store: Store,
    tasks: &TaskTracker,
    stop: CancellationToken,
) {
    if opts.usage_retention_days == 0 {
        tracing::info!("USAGE_RETENTION_DAYS is 0: raw usage events are kept forever");
    }
    if opts.audit_retention_days == 0 {
        tracing::info!("AUDIT_RETENTION_DAYS is 0: audit events are kept forever");
    }
    if opts.usage_retention_days == 0 && opts.audit_retention_days == 0 {
        return;
    }
    let (days, batch) = (opts.usage_retention_days, opts.usage_prune_batch);
    let audit_days = opts.audit_retention_days;
    tasks.spawn(async move {
        let mut next = tokio::time::Instant::now() + FIRST_PRUNE_AFTER;
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep_until(next) => {}
            }
            if days > 0 {
                let removed = prune_usage_events(&store, days, batch, &stop).await;
                if removed > 0 {
                    tracing::info!(removed, retention_days = days, "pruned old usage events");
                }
            }
            if audit_days > 0 {
                let removed = prune_audit_events(&store, audit_days).await;
                if removed > 0 {
                    tracing::info!(
                        removed,
                        retention_days = audit_days,
                        "pruned old audit events"
                    );
                }
            }
            next = tokio::time::Instant::now() + PRUNE_EVERY;
        }
    });
}

/// Deletes audit events older than `retention_days`; returns how many went.
pub async fn prune_audit_events(store: &Store, retention_days: u32) -> u64 {
    let cutoff = now_ms().saturating_sub(i64::from(retention_days).saturating_mul(DAY_MS));
    store.prune_audit_events(cutoff).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "pruning audit events failed; trying again at the next run");
        0
    })
}

/// Deletes usage events older than `retention_days` in batches of `batch`, pausing between
/// batches, until none are left or `stop` fires. Returns how many rows went.
pub async fn prune_usage_events(
    store: &Store,
    retention_days: u32,
    batch: u32,
    stop: &CancellationToken,
) -> u64 {
    let cutoff = now_ms().saturating_sub(i64::from(retention_days).saturating_mul(DAY_MS));
    let batch = i64::from(batch.max(1));
    let mut total = 0;
    loop {
        match store.prune_usage_events(cutoff, batch).await {
            Ok(n) => {
                total += n;
                if (n as i64) < batch {
                    return total;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "pruning usage events failed; trying again at the next run");
                return total;
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return total,
            _ = tokio::time::sleep(PAUSE_BETWEEN_BATCHES) => {}
        }
    }
}
