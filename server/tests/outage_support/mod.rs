//! Helpers of the usage-outage tests: the real binary started and signalled, its key set up,
//! load from several clients, what the database and the spool hold, and a TCP pass-through to
//! PostgreSQL that can be cut.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use mock_upstream::MockUpstream;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

pub const PASSWORD: &str = "outage-test-password";

pub struct Server {
    pub child: Child,
    pub url: String,
}

pub fn start(data: &Path, database_url: &str) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("serve")
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("TOLLGATE_DATA_DIR", data)
        .env("DATABASE_URL", database_url)
        .env("ADMIN_PASSWORD", PASSWORD)
        .env("SHUTDOWN_GRACE_SECS", "3")
        // A small queue, so an outage of a few hundred requests reaches the spool.
        .env("USAGE_QUEUE_CAPACITY", "16")
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start tollgate");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(u) = line.split("listening on ").nth(1) {
            url = u.split_whitespace().next().unwrap().to_owned();
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    assert!(!url.is_empty(), "tollgate started");
    Server { child, url }
}

pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}

pub async fn wait_exit(mut child: Child) -> std::process::ExitStatus {
    tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap()
}

/// Logs in, adds an account on the mock and a key; returns the key.
pub async fn setup(s: &Server, mock: &MockUpstream) -> String {
    let c = reqwest::Client::new();
    let login: Value = c
        .post(format!("{}/admin/auth/login", s.url))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_owned();
    let res = c
        .post(format!("{}/admin/accounts", s.url))
        .bearer_auth(&token)
        .json(&json!({"name": "a", "apiKey": "sk-outage", "baseUrl": mock.url()}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let key: Value = c
        .post(format!("{}/admin/api-keys", s.url))
        .bearer_auth(&token)
        .json(&json!({"name": "k", "quotaLimit": 1000.0}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    key["key"].as_str().unwrap().to_owned()
}

/// Sends requests from `clients` tasks until `enough` answers came back or `stop` fires;
/// returns the count of 200 answers.
pub async fn load(
    url: &str,
    key: &str,
    clients: usize,
    enough: usize,
    stop: CancellationToken,
) -> usize {
    let answered = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (url, key, answered, stop) = (
            url.to_owned(),
            key.to_owned(),
            answered.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut i = 0;
            while answered.load(Ordering::SeqCst) < enough && !stop.is_cancelled() {
                i += 1;
                let res = client
                    .post(format!("{url}/v1/messages"))
                    .header("x-api-key", &key)
                    .json(&json!({"model": "claude-sonnet-4-5", "max_tokens": 50,
                        "messages": [{"role": "user", "content": format!("c{c} r{i}")}]}))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status() == 200 => {
                        // Answered: the body arrived whole.
                        if r.bytes().await.is_ok() {
                            answered.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    Err(_) => break,
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    answered.load(Ordering::SeqCst)
}

pub async fn get_json(url: &str) -> (u16, Value) {
    let res = reqwest::get(url).await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

pub fn spool_lines(data: &Path) -> usize {
    std::fs::read_dir(data.join("usage-spool"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| {
                    std::fs::read_to_string(e.path())
                        .unwrap_or_default()
                        .lines()
                        .count()
                })
                .sum()
        })
        .unwrap_or(0)
}

/// What the database holds afterwards: events, distinct request ids, spend, sum of costs,
/// requests in the daily rollup.
pub async fn totals(store: &tollgate::storage::Store) -> (i64, i64, i64, i64, i64) {
    let q = |sql: &'static str| async move {
        match store {
            tollgate::storage::Store::Sqlite(p) => sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(p)
                .await
                .unwrap(),
            tollgate::storage::Store::Postgres(p) => sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(p)
                .await
                .unwrap(),
        }
    };
    (
        q("SELECT COUNT(*) FROM usage_events WHERE status = 200").await,
        q("SELECT COUNT(DISTINCT request_id) FROM usage_events WHERE status = 200").await,
        q("SELECT CAST(SUM(spent_micros) AS BIGINT) FROM api_keys").await,
        q("SELECT CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) FROM usage_events").await,
        q("SELECT CAST(COALESCE(SUM(requests), 0) AS BIGINT) FROM usage_daily").await,
    )
}

/// A TCP pass-through to PostgreSQL that can be cut: existing connections are dropped and new
/// ones closed at once until it is restored.
pub struct CuttableProxy {
    pub addr: std::net::SocketAddr,
    up: Arc<AtomicBool>,
    cut: Arc<parking_lot::Mutex<CancellationToken>>,
}

impl CuttableProxy {
    pub async fn start(target: std::net::SocketAddr) -> CuttableProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let cut = Arc::new(parking_lot::Mutex::new(CancellationToken::new()));
        let (up2, cut2) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let token = cut2.lock().clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = token.cancelled() => {}
                    }
                });
            }
        });
        CuttableProxy { addr, up, cut }
    }

    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        let old = std::mem::replace(&mut *self.cut.lock(), CancellationToken::new());
        old.cancel();
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}
