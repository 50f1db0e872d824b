//! The reports benchmark: seeds 10 million usage events (90 days, 5,000 keys, 20 accounts,
//! 3 groups, 15 models) on SQLite and on PostgreSQL through the relay's own usage writer, then
//! times every query the dashboard's charts make through the admin service. Prints Markdown
//! tables; asserts only that the seeded rollups add up.
//!
//! Run it with `.ci/bench-reports` (release build). `BENCH_BACKENDS=sqlite` (or `postgres`)
//! runs one backend, `BENCH_EVENTS` / `BENCH_KEYS` scale the data set, `BENCH_KEEP=1` keeps the
//! database for `EXPLAIN`, `TEST_POSTGRES_URL` names the PostgreSQL server.

#[path = "reports/dataset.rs"]
mod dataset;
#[path = "reports/seed.rs"]
mod seed;

use std::future::Future;
use std::time::{Duration, Instant};

use app::error::AdminError;
use app::port::ReportsPort;
use app::types::{CostBasis, MarginQuery, ReportRange, SplitBy};
use chrono::Duration as Days;
use chrono::TimeZone;
use seed::{on_pool, Backend, Shape};
use tollgate::admin::AdminService;
use tollgate::storage::reports::DailyUsageRow;
use tollgate::storage::Store;

const DAYS: usize = 90;
const TARGET_MS: f64 = 200.0;
const TZ: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let events: u64 = env_or("BENCH_EVENTS", 10_000_000);
    let keys: usize = env_or("BENCH_KEYS", 5_000);
    let runs: usize = env_or("BENCH_RUNS", 5);
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    println!("# Tollgate reports benchmark\n");
    println!("{}\n", machine());
    for name in backends.split(',').map(str::trim) {
        let backend = match name {
            "sqlite" => Backend::Sqlite,
            "postgres" => Backend::Postgres,
            other => panic!("unknown backend {other} (sqlite, postgres)"),
        };
        eprintln!("seeding {name}: {events} events, {keys} keys, {DAYS} days");
        let (db, shape) = seed::seed(backend, events, keys, DAYS, TZ).await;
        let settings = seed::settings(db.dir.path(), TZ);
        let admin = seed::service(db.store.clone(), settings).await;
        println!("## {}\n", version(&db.store).await);
        print_shape(&shape);
        // Other work on the box skews the figures: say how busy it was.
        println!("Load average before the queries: {}\n", load_average());
        let rows = measure(&admin, &db.store, &shape, runs).await;
        print_table(&rows, runs);
        compare_with_usage_daily(&db.store, runs).await;
        drop(admin);
        db.store.close().await;
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_kb: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!(
        "Machine: {cores} cores ({cpu}), {:.0} GB RAM. Time zone {}. Each query: 1 warm-up run, then timed runs.",
        mem_kb as f64 / 1024.0 / 1024.0,
        TZ.name()
    )
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

async fn version(store: &Store) -> String {
    match store {
        Store::Sqlite(p) => {
            let v: String = sqlx::query_scalar("SELECT sqlite_version()")
                .fetch_one(p)
                .await
                .unwrap();
            format!("SQLite {v}")
        }
        Store::Postgres(p) => {
            let v: String = sqlx::query_scalar("SHOW server_version")
                .fetch_one(p)
                .await
                .unwrap();
            format!("PostgreSQL {v}")
        }
    }
}

fn print_shape(s: &Shape) {
    let per_sec = s.events as f64 / s.seed.as_secs_f64().max(1e-9);
    println!(
        "Data set: {} usage events over {DAYS} days; rollups: {} `usage_hourly`, {} `usage_daily`, \
         {} `usage_daily_totals`, {} `usage_daily_keys`, {} `usage_daily_presets` rows; {} keys ({} presets), {} accounts, \
         {} groups, {} models ({} priced by fallback: {}). Database size {:.2} GB. Seeded through \
         `write_batch`, one day per batch, in {:.0} s ({per_sec:.0} events/s).\n",
        s.events,
        s.hourly_rows,
        s.daily_rows,
        s.totals_rows,
        s.key_day_rows,
        s.preset_day_rows,
        s.keys,
        s.presets,
        s.accounts,
        s.groups,
        s.models,
        s.fallback_models.len(),
        s.fallback_models.join(", "),
        s.bytes as f64 / 1e9,
        s.seed.as_secs_f64(),
    );
}

struct Line {
    query: String,
    times: Vec<Duration>,
    /// Rows the query's SQL returned.
    rows: usize,
    /// Rollup rows in the range the query aggregates.
    scanned: Option<i64>,
}

/// One warm-up call, then `runs` timed calls.
async fn timed<T, F, Fut>(runs: usize, call: F) -> Vec<Duration>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, AdminError>>,
{
    call().await.unwrap();
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        call().await.unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    times
}

fn range(days: i64) -> (String, String, ReportRange) {
    let today = chrono::Utc::now().with_timezone(&TZ).date_naive();
    let from = (today - Days::days(days - 1))
        .format("%Y-%m-%d")
        .to_string();
    let to = today.format("%Y-%m-%d").to_string();
    let range = ReportRange {
        from: Some(from.clone()),
        to: Some(to.clone()),
    };
    (from, to, range)
}

/// The rollup a split reads (see `storage::reports`).
fn rollup_of(split: SplitBy) -> &'static str {
    match split {
        SplitBy::Preset => "usage_daily_presets",
        _ => "usage_daily_totals",
    }
}

async fn rollup_rows(store: &Store, table: &str, from: &str, to: &str) -> i64 {
    let sql = format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table} WHERE day >= $1 AND day <= $2");
    on_pool!(store, |p| sqlx::query_scalar::<_, i64>(&sql)
        .bind(from)
        .bind(to)
        .fetch_one(p)
        .await
        .unwrap())
}

async fn measure(admin: &AdminService, store: &Store, shape: &Shape, runs: usize) -> Vec<Line> {
    let mut lines = Vec::new();

    let times = timed(runs, || admin.overview_live(crate::cli())).await;
    let rows = store.preset_spend().await.unwrap().len() + 2;
    lines.push(Line {
        query: "overview_live (today's totals, presets' spend)".into(),
        times,
        rows,
        scanned: None,
    });

    for days in [7, 30, 90] {
        let (from, to, r) = range(days);
        for split in SplitBy::ALL {
            let scanned = rollup_rows(store, rollup_of(split), &from, &to).await;
            let times = timed(runs, || admin.usage_report(crate::cli(), r.clone(), split)).await;
            let rows = store.daily_usage(&from, &to, split).await.unwrap().len();
            lines.push(Line {
                query: format!("usage_report {days} days by {}", split.as_str()),
                times,
                rows,
                scanned: Some(scanned),
            });
        }
    }

    for days in [30, 90] {
        let (from, to, r) = range(days);
        let scanned = rollup_rows(store, "usage_daily_presets", &from, &to).await
            + rollup_rows(store, "usage_daily_totals", &from, &to).await;
        for basis in [CostBasis::Usage, CostBasis::Amortized] {
            let query = MarginQuery {
                cost_basis: basis,
                exchange_rate: None,
                seller: None,
            };
            let times = timed(runs, || {
                admin.margin_report(crate::cli(), r.clone(), query.clone())
            })
            .await;
            let report = admin
                .margin_report(crate::cli(), r.clone(), query)
                .await
                .unwrap();
            let (start, end) = {
                let first = chrono::NaiveDate::parse_from_str(&from, "%Y-%m-%d").unwrap();
                let last = chrono::NaiveDate::parse_from_str(&to, "%Y-%m-%d").unwrap();
                let ms = |d: chrono::NaiveDate| {
                    let midnight = d.and_hms_opt(0, 0, 0).unwrap();
                    TZ.from_local_datetime(&midnight)
                        .earliest()
                        .unwrap()
                        .timestamp_millis()
                };
                (ms(first), ms(last.succ_opt().unwrap()))
            };
            let sql_rows = store
                .daily_usage(&from, &to, SplitBy::Preset)
                .await
                .unwrap()
                .len()
                + store
                    .daily_usage(&from, &to, SplitBy::Group)
                    .await
                    .unwrap()
                    .len()
                + store.key_sales(start, end).await.unwrap().len();
            assert!(!report.by_preset.is_empty());
            lines.push(Line {
                query: format!("margin_report {days} days, {} cost", basis.as_str()),
                times,
                rows: sql_rows,
                scanned: Some(scanned),
            });
        }
    }

    let key = shape.heaviest_key.as_str();
    let times = timed(runs, || admin.key_usage(crate::cli(), key)).await;
    let (from, to, _) = range(30);
    let rows = store.key_usage_by_day(key, &from, &to).await.unwrap().len()
        + store
            .key_usage_by_model(key, &from, &to)
            .await
            .unwrap()
            .len();
    lines.push(Line {
        query: format!(
            "key_usage, busiest key ({} requests)",
            shape.heaviest_key_requests
        ),
        times,
        rows,
        scanned: None,
    });

    let times = timed(runs, || admin.pricing(crate::cli())).await;
    let rows = store.fallback_priced_models(100).await.unwrap().len();
    lines.push(Line {
        query: "pricing (fallback-priced models from usage_events)".into(),
        times,
        rows,
        scanned: None,
    });
    lines
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn print_table(lines: &[Line], runs: usize) {
    println!("| query | median ms | max ms | rows returned | rollup rows read | max ≤ {TARGET_MS:.0} ms |");
    println!("|---|---:|---:|---:|---:|---|");
    for l in lines {
        let median = ms(l.times[l.times.len() / 2]);
        let max = ms(*l.times.last().unwrap());
        println!(
            "| {} | {median:.1} | {max:.1} | {} | {} | {} |",
            l.query,
            l.rows,
            l.scanned
                .map(|n| n.to_string())
                .unwrap_or_else(|| "–".into()),
            if max <= TARGET_MS { "PASS" } else { "FAIL" }
        );
    }
    println!("\n({runs} timed runs per query.)\n");
}

/// The split queries as they were before migration 0004, straight over `usage_daily`.
fn usage_daily_sql(split: SplitBy) -> String {
    let sums = [
        "requests",
        "errors",
        "input_tokens",
        "output_tokens",
        "cache_write_tokens",
        "cache_read_tokens",
        "cost_micros",
    ]
    .iter()
    .map(|c| format!("CAST(COALESCE(SUM(d.{c}), 0) AS BIGINT) AS {c}"))
    .collect::<Vec<_>>()
    .join(", ");
    let (split, join) = match split {
        SplitBy::Preset => (
            "COALESCE(k.preset_id, '')",
            "LEFT JOIN api_keys k ON k.id = d.key_id",
        ),
        SplitBy::Account => ("d.account_id", ""),
        SplitBy::Group => ("d.group_id", ""),
        SplitBy::Model => ("d.model", ""),
    };
    format!(
        "SELECT d.day AS day, {split} AS split, {sums} FROM usage_daily d {join}
         WHERE d.day >= $1 AND d.day <= $2 GROUP BY d.day, {split} ORDER BY 1, 2"
    )
}

/// Times the 90-day splits the old way (over `usage_daily`) against `Store::daily_usage`, and
/// checks that both return the same rows.
async fn compare_with_usage_daily(store: &Store, runs: usize) {
    let (from, to, _) = range(90);
    println!("Storage query alone, 90 days: over `usage_daily` (before migrations 0004 and 0006) and as shipped.\n");
    println!("| split | over `usage_daily`: median ms | as shipped: median ms | same rows |");
    println!("|---|---:|---:|---|");
    for split in SplitBy::ALL {
        let sql = usage_daily_sql(split);
        let old = || async {
            let rows: Vec<DailyUsageRow> = on_pool!(store, |p| sqlx::query_as(&sql)
                .bind(&from)
                .bind(&to)
                .fetch_all(p)
                .await
                .unwrap());
            Ok::<_, AdminError>(rows)
        };
        let old_times = timed(runs, old).await;
        let new_times = timed(runs, || async {
            Ok::<_, AdminError>(store.daily_usage(&from, &to, split).await.unwrap())
        })
        .await;
        let mut before = old().await.unwrap();
        let mut after = store.daily_usage(&from, &to, split).await.unwrap();
        for rows in [&mut before, &mut after] {
            rows.sort_by(|a, b| (&a.day, &a.split).cmp(&(&b.day, &b.split)));
        }
        assert_eq!(
            before, after,
            "{split:?}: the rollups disagree with usage_daily"
        );
        println!(
            "| {} | {:.1} | {:.1} | yes ({} rows) |",
            split.as_str(),
            ms(old_times[old_times.len() / 2]),
            ms(new_times[new_times.len() / 2]),
            after.len()
        );
    }
    println!();
}

/// The actor the benchmark calls the admin service as (an admin, recorded as `cli`).
fn cli() -> &'static app::port::Actor {
    static CLI: std::sync::OnceLock<app::port::Actor> = std::sync::OnceLock::new();
    CLI.get_or_init(app::port::Actor::cli)
}
