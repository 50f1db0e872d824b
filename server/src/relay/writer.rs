//! The batching usage writer: the hot path hands events to a channel and never waits; one task
//! writes what has accumulated in a single transaction (group commit) — raw events, the keys'
//! spend and request counts, hourly and daily rollups, accounts' last use. After the first event
//! of a batch it lingers up to [`LINGER`] for more, so a trickle of requests costs one
//! transaction per interval instead of one per request (a transaction is several hundred
//! microseconds of CPU on SQLite, more than the relay's own work). A failed batch is retried,
//! never dropped. Shutdown drains the channel before the process exits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::pricing::TokenUsage;
use crate::storage::{with_pool, Store, StoreResult};
use crate::webhooks::Webhooks;

/// One relayed request, as it is billed.
#[derive(Clone, Debug, Default)]
pub struct UsageEvent {
    pub request_id: String,
    pub key_id: Arc<str>,
    pub account_id: Option<Arc<str>>,
    pub group_id: Option<Arc<str>>,
    pub platform: &'static str,
    pub model: String,
    pub usage: TokenUsage,
    pub cost_micros: i64,
    /// The price used, as JSON (micro-USD per MTok by token kind).
    pub price: String,
    pub priced_by_fallback: bool,
    pub status: u16,
    pub error_type: Option<String>,
    pub latency_ms: i64,
    pub ttft_ms: Option<i64>,
    pub stream: bool,
    pub client_disconnected: bool,
    /// Some of `usage` was estimated: the answer ended without (all of) its usage.
    pub usage_estimated: bool,
    pub created_at: i64,
}

#[derive(Clone)]
pub struct UsageWriter {
    tx: mpsc::UnboundedSender<UsageEvent>,
    pending: Arc<AtomicUsize>,
}

const BATCH: usize = 1024;
/// How long a batch waits for more events after its first. This bounds what a crash (kill -9)
/// can lose of events the relay had already answered, together with one batch being written.
pub const LINGER: Duration = Duration::from_millis(200);
const ROWS_PER_INSERT: usize = 200;

impl UsageWriter {
    /// Starts the writer task; it drains and stops when `stop` fires and the channel is empty.
    /// `alerts` receives a `system.error` when a batch fails (once per run of failures).
    pub fn spawn(
        store: Store,
        tz: chrono_tz::Tz,
        tasks: &TaskTracker,
        stop: CancellationToken,
        alerts: Option<Webhooks>,
    ) -> UsageWriter {
        let (tx, rx) = mpsc::unbounded_channel();
        let pending = Arc::new(AtomicUsize::new(0));
        tasks.spawn(run(store, tz, rx, stop, pending.clone(), alerts));
        UsageWriter { tx, pending }
    }

    /// Queues an event; never blocks.
    pub fn record(&self, event: UsageEvent) {
        self.pending.fetch_add(1, Ordering::Relaxed);
        if self.tx.send(event).is_err() {
            self.pending.fetch_sub(1, Ordering::Relaxed);
            tracing::error!("usage writer is gone; an event was not recorded");
        }
    }

    /// Events queued or being written.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }
}

async fn run(
    store: Store,
    tz: chrono_tz::Tz,
    mut rx: mpsc::UnboundedReceiver<UsageEvent>,
    stop: CancellationToken,
    pending: Arc<AtomicUsize>,
    alerts: Option<Webhooks>,
) {
    let alerts = alerts.as_ref();
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            biased;
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
                        // Stopping: write what we have now; the next turn drains the rest.
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep_until(deadline) => break,
                    }
                }
            }
            _ = stop.cancelled() => {
                // Everything still queued goes in before we stop.
                while let Ok(e) = rx.try_recv() {
                    batch.push(e);
                }
                write_with_retry(&store, tz, &mut batch, &pending, true, alerts).await;
                break;
            }
        }
        write_with_retry(&store, tz, &mut batch, &pending, false, alerts).await;
    }
    tracing::info!("usage writer drained");
}

async fn write_with_retry(
    store: &Store,
    tz: chrono_tz::Tz,
    batch: &mut Vec<UsageEvent>,
    pending: &AtomicUsize,
    final_flush: bool,
    alerts: Option<&Webhooks>,
) {
    if batch.is_empty() {
        return;
    }
    let mut delay = Duration::from_millis(100);
    for attempt in 1.. {
        match write_batch(store, tz, batch).await {
            Ok(()) => {
                pending.fetch_sub(batch.len(), Ordering::Relaxed);
                batch.clear();
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, attempt, events = batch.len(), "writing usage failed; retrying");
                if attempt == 1 {
                    if let Some(w) = alerts {
                        w.emit(
                            crate::webhooks::EventKind::SystemError,
                            serde_json::json!({
                                "component": "usage_writer",
                                "message": "writing usage to the database failed; retrying, nothing is dropped",
                                "pendingEvents": pending.load(Ordering::Relaxed),
                            }),
                        );
                    }
                }
                if final_flush && attempt >= 20 {
                    tracing::error!(
                        events = batch.len(),
                        "giving up on usage events at shutdown"
                    );
                    return;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

#[derive(Default)]
struct Rollup {
    requests: i64,
    errors: i64,
    input: i64,
    output: i64,
    cache_write: i64,
    cache_read: i64,
    cost: i64,
}

impl Rollup {
    fn add(&mut self, e: &UsageEvent) {
        self.requests += 1;
        self.errors += i64::from(e.status >= 400);
        self.input += e.usage.input as i64;
        self.output += e.usage.output as i64;
        self.cache_write += (e.usage.cache_write_5m + e.usage.cache_write_1h) as i64;
        self.cache_read += e.usage.cache_read as i64;
        self.cost += e.cost_micros;
    }
}

type RollupKey = (String, String, String, String, &'static str);

fn day_of(ms: i64, tz: chrono_tz::Tz) -> String {
    tz.timestamp_millis_opt(ms)
        .single()
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Adds a batch's sums to one rollup row (`usage_hourly` by hour, `usage_daily` by local day).
macro_rules! upsert_rollup {
    ($tx:expr, $table:literal, $period:literal, $period_value:expr, $dims:expr, $r:expr) => {{
        let (key, account, group, model, platform) = $dims;
        let r: &Rollup = $r;
        sqlx::query(concat!(
            "INSERT INTO ",
            $table,
            " (",
            $period,
            ", key_id, account_id, group_id, model, platform, requests, errors,
                input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_micros)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             ON CONFLICT (",
            $period,
            ", key_id, account_id, group_id, model) DO UPDATE SET
                requests = ",
            $table,
            ".requests + excluded.requests,
                errors = ",
            $table,
            ".errors + excluded.errors,
                input_tokens = ",
            $table,
            ".input_tokens + excluded.input_tokens,
                output_tokens = ",
            $table,
            ".output_tokens + excluded.output_tokens,
                cache_write_tokens = ",
            $table,
            ".cache_write_tokens + excluded.cache_write_tokens,
                cache_read_tokens = ",
            $table,
            ".cache_read_tokens + excluded.cache_read_tokens,
                cost_micros = ",
            $table,
            ".cost_micros + excluded.cost_micros"
        ))
        .bind($period_value)
        .bind(key)
        .bind(account)
        .bind(group)
        .bind(model)
        .bind(platform)
        .bind(r.requests)
        .bind(r.errors)
        .bind(r.input)
        .bind(r.output)
        .bind(r.cache_write)
        .bind(r.cache_read)
        .bind(r.cost)
        .execute($tx)
        .await?;
    }};
}

/// Writes one batch in one transaction. Public only so the reports benchmark
/// (`server/benches/reports.rs`) can seed usage exactly as the relay records it; the relay
/// itself goes through [`UsageWriter::record`].
pub async fn write_batch(
    store: &Store,
    tz: chrono_tz::Tz,
    events: &[UsageEvent],
) -> StoreResult<()> {
    // Aggregate per key, per account, per hour and per day first: one statement each.
    let mut keys: HashMap<&str, (i64, i64, i64)> = HashMap::new();
    let mut accounts: HashMap<&str, i64> = HashMap::new();
    let mut hourly: HashMap<(i64, RollupKey), Rollup> = HashMap::new();
    let mut daily: HashMap<(String, RollupKey), Rollup> = HashMap::new();
    for e in events {
        let billed = e.account_id.is_some();
        let k = keys.entry(&e.key_id).or_default();
        k.0 += e.cost_micros;
        k.1 += i64::from(billed);
        k.2 = k.2.max(if billed { e.created_at } else { 0 });
        if let Some(a) = &e.account_id {
            let last = accounts.entry(a).or_default();
            *last = (*last).max(e.created_at);
        }
        let dims: RollupKey = (
            e.key_id.to_string(),
            e.account_id.as_deref().unwrap_or("").to_owned(),
            e.group_id.as_deref().unwrap_or("").to_owned(),
            e.model.clone(),
            e.platform,
        );
        hourly
            .entry((
                e.created_at - e.created_at.rem_euclid(3_600_000),
                dims.clone(),
            ))
            .or_default()
            .add(e);
        daily
            .entry((day_of(e.created_at, tz), dims))
            .or_default()
            .add(e);
    }

    with_pool!(store, |pool| {
        let mut tx = pool.begin().await?;
        for rows in events.chunks(ROWS_PER_INSERT) {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO usage_events (request_id, key_id, account_id, group_id, platform, model, input_tokens,
                 output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, cost_micros, price,
                 priced_by_fallback, status, error_type, latency_ms, ttft_ms, stream, client_disconnected, created_at,
                 usage_estimated) ",
            );
            q.push_values(rows, |mut b, e| {
                b.push_bind(&e.request_id)
                    .push_bind(e.key_id.as_ref())
                    .push_bind(e.account_id.as_deref())
                    .push_bind(e.group_id.as_deref())
                    .push_bind(e.platform)
                    .push_bind(&e.model)
                    .push_bind(e.usage.input as i64)
                    .push_bind(e.usage.output as i64)
                    .push_bind(e.usage.cache_write_5m as i64)
                    .push_bind(e.usage.cache_write_1h as i64)
                    .push_bind(e.usage.cache_read as i64)
                    .push_bind(e.cost_micros)
                    .push_bind(&e.price)
                    .push_bind(e.priced_by_fallback)
                    .push_bind(i64::from(e.status))
                    .push_bind(e.error_type.as_deref())
                    .push_bind(e.latency_ms)
                    .push_bind(e.ttft_ms)
                    .push_bind(e.stream)
                    .push_bind(e.client_disconnected)
                    .push_bind(e.created_at)
                    .push_bind(e.usage_estimated);
            });
            q.build().execute(&mut *tx).await?;
        }
        for (key_id, (cost, requests, last)) in &keys {
            sqlx::query(
                "UPDATE api_keys SET spent_micros = spent_micros + $1, requests = requests + $2,
                    last_used_at = CASE WHEN $3 > 0 AND (last_used_at IS NULL OR last_used_at < $3)
                                        THEN $3 ELSE last_used_at END
                 WHERE id = $4",
            )
            .bind(cost)
            .bind(requests)
            .bind(last)
            .bind(key_id)
            .execute(&mut *tx)
            .await?;
        }
        for (account_id, last) in &accounts {
            sqlx::query(
                "UPDATE accounts SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .bind(last)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        }
        for ((bucket, dims), r) in &hourly {
            upsert_rollup!(&mut *tx, "usage_hourly", "bucket", bucket, dims, r);
        }
        for ((day, dims), r) in &daily {
            upsert_rollup!(&mut *tx, "usage_daily", "day", day, dims, r);
        }
        tx.commit().await?;
    });
    Ok(())
}
