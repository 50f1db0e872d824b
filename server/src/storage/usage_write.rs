//! The usage writer's SQL: one batch of events in one transaction (raw events, the keys' spend
//! and request counts, hourly and daily rollups, accounts' last use), and the dead-letter table
//! for an event the database refuses as given.
//!
//! Writing is idempotent: events are inserted with `ON CONFLICT (key_id, request_id) DO
//! NOTHING`, and spend, counts and rollups are summed over the rows actually inserted (a batch
//! that inserted fewer rows than it sent is redone from a savepoint with `RETURNING`). A batch
//! written twice (replayed from the spool, or retried after a commit whose answer was lost)
//! therefore moves no money and no rollup a second time.

use std::collections::{BTreeMap, HashSet};

use chrono::TimeZone;

mod insert;

use super::{with_pool, Store, StoreResult};
use crate::pricing::TokenUsage;
use insert::{
    chunk_insert_sql, chunks, event_args, insert_sql, is_postgres_pool, no_arguments, EVENT_COLUMNS,
};

/// One relayed request, as it is billed.
#[derive(Clone, Debug, Default)]
pub struct UsageEvent {
    pub request_id: String,
    pub key_id: std::sync::Arc<str>,
    pub account_id: Option<std::sync::Arc<str>>,
    pub group_id: Option<std::sync::Arc<str>>,
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

/// A token count as the database stores it: counts past `i64::MAX` (only a hostile upstream
/// reports them) are kept at the maximum instead of turning negative.
fn tokens(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
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
        self.input = self.input.saturating_add(tokens(e.usage.input));
        self.output = self.output.saturating_add(tokens(e.usage.output));
        self.cache_write = self.cache_write.saturating_add(tokens(
            e.usage
                .cache_write_5m
                .saturating_add(e.usage.cache_write_1h),
        ));
        self.cache_read = self.cache_read.saturating_add(tokens(e.usage.cache_read));
        self.cost = self.cost.saturating_add(e.cost_micros);
    }
}

/// key, account, group, model, platform (borrowed from the batch's events).
type RollupKey<'a> = (&'a str, &'a str, &'a str, &'a str, &'static str);

/// The local date of `ms` in `tz` (`None` out of range: its day is written as "").
fn date_of(ms: i64, tz: chrono_tz::Tz) -> Option<chrono::NaiveDate> {
    tz.timestamp_millis_opt(ms).single().map(|d| d.date_naive())
}

/// A `usage_daily.day`: `YYYY-MM-DD`.
fn day_text(date: Option<chrono::NaiveDate>) -> String {
    date.map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Sums of the inserted events per key, per account, per hour and per day: one statement each.
/// Ordered maps, so every writer (several instances on one PostgreSQL) locks the rows of
/// `api_keys`, `accounts` and the rollups in the same order and none waits on another in a
/// cycle (with hash order, two instances' writers deadlocked and PostgreSQL broke it after 1 s).
/// Days are ordered as dates, which is the order of their `YYYY-MM-DD` text.
#[derive(Default)]
struct Sums<'a> {
    keys: BTreeMap<&'a str, (i64, i64, i64)>,
    accounts: BTreeMap<&'a str, i64>,
    hourly: BTreeMap<(i64, RollupKey<'a>), Rollup>,
    daily: BTreeMap<(Option<chrono::NaiveDate>, RollupKey<'a>), Rollup>,
}

impl<'a> Sums<'a> {
    fn add(&mut self, e: &'a UsageEvent, tz: chrono_tz::Tz) {
        let billed = e.account_id.is_some();
        let k = self.keys.entry(&e.key_id).or_default();
        k.0 = k.0.saturating_add(e.cost_micros);
        k.1 += i64::from(billed);
        k.2 = k.2.max(if billed { e.created_at } else { 0 });
        if let Some(a) = &e.account_id {
            let last = self.accounts.entry(a).or_default();
            *last = (*last).max(e.created_at);
        }
        let dims: RollupKey<'a> = (
            &e.key_id,
            e.account_id.as_deref().unwrap_or(""),
            e.group_id.as_deref().unwrap_or(""),
            &e.model,
            e.platform,
        );
        self.hourly
            .entry((e.created_at - e.created_at.rem_euclid(3_600_000), dims))
            .or_default()
            .add(e);
        self.daily
            .entry((date_of(e.created_at, tz), dims))
            .or_default()
            .add(e);
    }
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

/// Writes one batch in one transaction and returns how many events were new (the others were
/// written before and count for nothing). Public so the reports benchmark
/// (`server/benches/reports.rs`) can seed usage exactly as the relay records it; the relay
/// itself goes through `UsageWriter::record`.
pub async fn write_batch(
    store: &Store,
    tz: chrono_tz::Tz,
    events: &[UsageEvent],
) -> StoreResult<usize> {
    if events.is_empty() {
        return Ok(0);
    }
    let fresh = with_pool!(store, |pool| {
        let mut tx = pool.begin().await?;
        // Which events went in now. A batch whose rows all went in says so by its count alone
        // (the usual case); only a batch with a conflict (a replay, an event listed twice) is
        // inserted again, from a savepoint, returning the rows it really inserted. Rows sent
        // back one by one cost the writer a thread hand-off each.
        let mut savepoint = sqlx::Acquire::begin(&mut *tx).await?;
        let mut went_in = 0u64;
        for rows in chunks(events) {
            let sql = chunk_insert_sql(pool, rows.len());
            went_in += sqlx::query_with(sql, event_args!(pool, rows))
                .execute(&mut *savepoint)
                .await?
                .rows_affected();
        }
        let mut inserted: Option<HashSet<(String, String)>> =
            if usize::try_from(went_in).is_ok_and(|n| n == events.len()) {
                savepoint.commit().await?;
                None
            } else {
                savepoint.rollback().await?;
                let mut inserted = HashSet::new();
                for rows in chunks(events) {
                    let sql = insert_sql(rows.len(), true, is_postgres_pool(pool));
                    let back: Vec<(String, String)> =
                        sqlx::query_as_with(&sql, event_args!(pool, rows))
                            .persistent(false)
                            .fetch_all(&mut *tx)
                            .await?;
                    inserted.extend(back);
                }
                Some(inserted)
            };
        // Only what went in now is summed; an event listed twice in one batch counts once.
        let mut sums = Sums::default();
        let mut fresh = 0;
        for e in events {
            let new = match &mut inserted {
                None => true,
                Some(set) => set.remove(&(e.key_id.to_string(), e.request_id.clone())),
            };
            if new {
                sums.add(e, tz);
                fresh += 1;
            }
        }
        for (key_id, (cost, requests, last)) in &sums.keys {
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
        for (account_id, last) in &sums.accounts {
            sqlx::query(
                "UPDATE accounts SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .bind(last)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        }
        for ((bucket, dims), r) in &sums.hourly {
            upsert_rollup!(&mut *tx, "usage_hourly", "bucket", bucket, dims, r);
        }
        for ((date, dims), r) in &sums.daily {
            let day = day_text(*date);
            upsert_rollup!(&mut *tx, "usage_daily", "day", &day, dims, r);
        }
        tx.commit().await?;
        fresh
    });
    Ok(fresh)
}

/// One refused event, as the dead-letter table keeps it. Every text is already made safe for
/// any database (see `relay::writer::dead_letter`).
pub struct DeadLetter<'a> {
    pub request_id: &'a str,
    pub key_id: &'a str,
    pub event: &'a str,
    pub error: &'a str,
    pub billed: bool,
    pub created_at: i64,
}

impl Store {
    /// Sets a refused event aside; a second copy of the same event adds nothing.
    pub async fn insert_dead_letter(&self, d: &DeadLetter<'_>) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO usage_dead_letters (request_id, key_id, event, error, billed, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key_id, request_id) DO NOTHING",
            )
            .bind(d.request_id)
            .bind(d.key_id)
            .bind(d.event)
            .bind(d.error)
            .bind(d.billed)
            .bind(d.created_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
