//! The cluster benchmark: three `tollgate serve` processes on one PostgreSQL with shared key
//! limits (`CLUSTER=1`), next to one instance on the same PostgreSQL (per-process limits), in
//! one run, against the in-repo mock. Prints numbers; asserts nothing.
//!
//! Run it with `.ci/bench-cluster` (release build; all Tollgate processes pinned to CPU 0, the
//! mock and the client to CPU 1, PostgreSQL unpinned). Each configuration gets a database of its
//! own, so `pg_stat_database` counts only its transactions: statements per relayed request are
//! its committed transactions (every statement outside the usage writer's batches is one)
//! divided by the requests served, and the lease functions' calls come from
//! `pg_stat_user_functions`.

mod procs;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use procs::{bin, spawn, Proc};

pub const CRED: &str = "bench-upstream";

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

fn pg_base() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn with_db(base: &str, db: &str) -> String {
    let (head, _) = base.rsplit_once('/').expect("a database URL");
    format!("{head}/{db}")
}

/// A fresh database for one configuration (dropped first if an earlier run left it).
async fn fresh_db(name: &str) -> String {
    let admin = sqlx::PgPool::connect(&pg_base()).await.expect("PostgreSQL");
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("ALTER DATABASE {name} SET track_functions = 'pl'"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    with_db(&pg_base(), name)
}

async fn drop_db(name: &str) {
    if let Ok(admin) = sqlx::PgPool::connect(&pg_base()).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&admin)
            .await;
        admin.close().await;
    }
}

struct Setup {
    label: &'static str,
    db_name: String,
    db_url: String,
    procs: Vec<Proc>,
    key: String,
    _dirs: Vec<tempfile::TempDir>,
}

async fn start(
    label: &'static str,
    n: usize,
    cluster: bool,
    client: &reqwest::Client,
    mock: &str,
) -> Setup {
    let db_name = format!(
        "tg_bench_{}_{}",
        if cluster { "cluster" } else { "single" },
        std::process::id()
    );
    let db_url = fresh_db(&db_name).await;
    let password = "bench-admin-password-1".to_string();
    let mut procs = Vec::new();
    let mut dirs = Vec::new();
    for _ in 0..n {
        let data = tempfile::tempdir().unwrap();
        let env = vec![
            ("LISTEN_ADDR", "127.0.0.1:0".to_string()),
            ("TOLLGATE_DATA_DIR", data.path().display().to_string()),
            ("DATABASE_URL", db_url.clone()),
            ("ENCRYPTION_KEY", "ef".repeat(32)),
            ("ADMIN_PASSWORD", password.clone()),
            ("LOG_LEVEL", "warn".into()),
            ("TOKIO_WORKER_THREADS", "1".into()),
            ("CLUSTER", if cluster { "1" } else { "0" }.into()),
        ];
        procs.push(spawn(Some("0"), &bin("tollgate"), &["serve"], &env));
        dirs.push(data);
    }
    let base = &procs[0].url;
    let login: Value = client
        .post(format!("{base}/admin/auth/login"))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().expect("admin token").to_owned();
    let res = client
        .post(format!("{base}/admin/accounts"))
        .bearer_auth(&token)
        .json(&json!({"name": "bench", "apiKey": CRED, "baseUrl": mock}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    // A key with a quota (so its headroom is leased in the cluster) and no concurrency limit.
    let key: Value = client
        .post(format!("{base}/admin/api-keys"))
        .bearer_auth(&token)
        .json(&json!({"name": "bench", "quotaLimit": 100000.0}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Setup {
        label,
        db_name,
        db_url,
        procs,
        key: key["key"].as_str().expect("key").to_owned(),
        _dirs: dirs,
    }
}

fn body() -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 256, "stream": false,
           "messages": [{"role": "user", "content": "Say hello"}]})
}

impl Setup {
    fn url(&self, i: usize) -> &str {
        &self.procs[i % self.procs.len()].url
    }

    async fn one(&self, client: &reqwest::Client, i: usize, b: &Value) -> bool {
        match client
            .post(format!("{}/v1/messages", self.url(i)))
            .header("x-api-key", &self.key)
            .json(b)
            .send()
            .await
        {
            Ok(res) => {
                let ok = res.status().is_success();
                let _ = res.bytes().await;
                ok
            }
            Err(_) => false,
        }
    }

    /// Transactions committed in this configuration's database, and lease function calls.
    async fn db_counts(&self) -> (i64, i64) {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let pool = sqlx::PgPool::connect(&self.db_url).await.unwrap();
        let xacts: i64 = sqlx::query_scalar(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        let leases: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(calls), 0) AS BIGINT) FROM pg_stat_user_functions WHERE funcname LIKE 'tollgate_%'",
        )
        .fetch_one(&pool)
        .await
        .unwrap_or(0);
        pool.close().await;
        (xacts, leases)
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Sequential requests, rotating over the instances.
async fn latency(client: &reqwest::Client, s: &Setup, n: usize) -> Vec<Duration> {
    let b = body();
    for i in 0..n / 5 {
        s.one(client, i, &b).await;
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let start = Instant::now();
        assert!(s.one(client, i, &b).await, "request failed");
        out.push(start.elapsed());
    }
    out.sort();
    out
}

/// Requests per second at `concurrency`, rotating over the instances; (rps, served, errors).
async fn throughput(
    client: &reqwest::Client,
    s: &Arc<Setup>,
    concurrency: usize,
    secs: u64,
) -> (f64, u64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let (served, errors, next) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, s, stop, served, errors, next) = (
            client.clone(),
            s.clone(),
            stop.clone(),
            served.clone(),
            errors.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let b = body();
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if s.one(&client, i, &b).await {
                    served.fetch_add(1, Ordering::Relaxed);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let served = served.load(Ordering::Relaxed);
    (
        served as f64 / secs as f64,
        served,
        errors.load(Ordering::Relaxed),
    )
}

async fn run() {
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let mock = spawn(
        Some("1"),
        &bin("mock-upstream"),
        &["--listen", "127.0.0.1:0"],
        &[],
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let setups = vec![
        Arc::new(
            start(
                "1 instance (per-process limits)",
                1,
                false,
                &client,
                &mock.url,
            )
            .await,
        ),
        Arc::new(start("3 instances, CLUSTER=1", 3, true, &client, &mock.url).await),
    ];
    println!("# Cluster benchmark (every Tollgate on CPU 0, mock and client on CPU 1, PostgreSQL unpinned)\n");
    println!("Key with a $100,000 quota, no concurrency limit; non-streaming requests; the client rotates over the instances.\n");
    println!("| setup | c=1 p50 µs | c=1 p99 µs | c=64 req/s | errors | requests | DB transactions | per request | lease calls | per request |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for s in &setups {
        let (x0, l0) = s.db_counts().await;
        let lat = latency(&client, s, 2_000).await;
        let (rps, served, errors) = throughput(&client, s, 64, secs).await;
        let (x1, l1) = s.db_counts().await;
        let requests = served + 2_000 + 400;
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {} | {} | {} | {:.3} | {} | {:.4} |",
            s.label,
            us(pct(&lat, 0.5)),
            us(pct(&lat, 0.99)),
            rps,
            errors,
            requests,
            x1 - x0,
            (x1 - x0) as f64 / requests as f64,
            l1 - l0,
            (l1 - l0) as f64 / requests as f64,
        );
    }
    println!("\nDB transactions include the usage writer's batches, heartbeats and the one-second stats reads; every statement Tollgate sends outside a batch is one transaction.");
    let names: Vec<String> = setups.iter().map(|s| s.db_name.clone()).collect();
    drop(setups);
    for n in names {
        drop_db(&n).await;
    }
}
