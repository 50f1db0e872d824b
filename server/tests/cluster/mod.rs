//! Several real `tollgate serve` processes on one fresh PostgreSQL schema, against one in-repo
//! mock upstream, with a client that rotates over them (a round-robin load balancer).
//!
//! A test file uses it with `mod common; mod cluster;`:
//!
//! ```ignore
//! let c = Cluster::start(3, &[("CLUSTER_LEASE_SECS", "3")]).await;
//! let key = c.create_key(json!({"name": "k", "quotaLimit": 1.0})).await;
//! let res = c.post_messages(&key, &messages_body("claude-sonnet-4-5", false)).await;
//! c.kill(1); // kill -9
//! ```
//!
//! Every instance gets `CLUSTER=1` (the multi-instance limits) unless `extra_env` sets
//! `CLUSTER=0`; `extra_env` is applied to every instance on top of the defaults.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mock_upstream::{Behavior, MockUpstream};
use serde_json::{json, Value};

use crate::common::{Backend, TestDb};

pub const CLUSTER_ADMIN_PASSWORD: &str = "cluster-test-password";
/// The upstream credential of the one account every cluster has.
pub const CLUSTER_UPSTREAM_KEY: &str = "sk-cluster";
const ENCRYPTION_KEY: &str = "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";

/// One `tollgate serve` process.
pub struct Instance {
    child: Option<Child>,
    pub url: String,
    /// Its own data directory (usage spool, encryption key file); the database is shared.
    _data: tempfile::TempDir,
}

impl Instance {
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub struct Cluster {
    pub instances: Vec<Instance>,
    pub mock: MockUpstream,
    pub client: reqwest::Client,
    /// A bearer token for the admin API (valid on every instance: sessions are in the database).
    pub admin_token: String,
    /// The database URL every instance uses (PostgreSQL, a schema of the test's own).
    pub db_url: String,
    pub db: TestDb,
    env: Vec<(String, String)>,
    next: AtomicUsize,
}

impl Cluster {
    /// Starts `n` instances one after the other on a fresh PostgreSQL schema (the first one
    /// migrates it and creates the admin), adds one upstream account on the mock, and logs in.
    pub async fn start(n: usize, extra_env: &[(&str, &str)]) -> Cluster {
        let db = TestDb::new(Backend::Postgres).await;
        let mock = MockUpstream::start(Behavior::default()).await;
        let env: Vec<(String, String)> = extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let db_url = db.url();
        let mut instances = Vec::with_capacity(n);
        for _ in 0..n {
            instances.push(spawn_instance(&db_url, &env));
        }
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()
            .unwrap();
        let login: Value = client
            .post(format!("{}/admin/auth/login", instances[0].url))
            .json(&json!({"username": "admin", "password": CLUSTER_ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let admin_token = login["token"].as_str().expect("admin login").to_owned();
        let cluster = Cluster {
            instances,
            mock,
            client,
            admin_token,
            db_url,
            db,
            env,
            next: AtomicUsize::new(0),
        };
        let res = cluster
            .admin_post(
                0,
                "/admin/accounts",
                json!({"name": "a", "apiKey": CLUSTER_UPSTREAM_KEY, "baseUrl": cluster.mock.url()}),
            )
            .await;
        assert!(res.status().is_success(), "creating the account");
        cluster.wait_synced().await;
        cluster
    }

    /// Waits (up to 15 s) until every running instance relays through the account (another
    /// instance learns of a new account through the change poll), then zeroes the mock's
    /// counters. Call it after changing accounts.
    pub async fn wait_synced(&self) {
        let probe = self
            .create_key(json!({"name": format!("harness-probe-{}", uuid::Uuid::new_v4().simple())}))
            .await;
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 16, "stream": false,
                          "messages": [{"role": "user", "content": "probe"}]});
        for inst in self.instances.iter().filter(|i| i.is_running()) {
            let url = inst.url.clone();
            wait_until(
                Duration::from_secs(15),
                "every instance relaying",
                || async {
                    let res = self
                        .messages_request(&url, &probe, &body)
                        .send()
                        .await
                        .unwrap();
                    res.status().is_success()
                },
            )
            .await;
        }
        self.mock.reset_stats();
    }

    /// The next running instance's base URL, round robin.
    pub fn next_url(&self) -> String {
        for _ in 0..self.instances.len() {
            let i = self.next.fetch_add(1, Ordering::Relaxed) % self.instances.len();
            if self.instances[i].is_running() {
                return self.instances[i].url.clone();
            }
        }
        panic!("no instance is running");
    }

    pub fn url(&self, instance: usize) -> &str {
        &self.instances[instance].url
    }

    /// An admin API call on one instance.
    pub async fn admin_post(&self, instance: usize, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(format!("{}{}", self.instances[instance].url, path))
            .bearer_auth(&self.admin_token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Creates an API key (admin API body, e.g. `{"name": "k", "quotaLimit": 1.0}`) and returns
    /// the key string.
    pub async fn create_key(&self, body: Value) -> String {
        let res = self.admin_post(0, "/admin/api-keys", body).await;
        assert!(
            res.status().is_success(),
            "creating a key: {}",
            res.status()
        );
        let v: Value = res.json().await.unwrap();
        v["key"].as_str().unwrap().to_owned()
    }

    /// `POST /v1/messages` with `key` on the next instance (round robin).
    pub async fn post_messages(&self, key: &str, body: &Value) -> reqwest::Response {
        self.messages_request(&self.next_url(), key, body)
            .send()
            .await
            .unwrap()
    }

    /// A ready-to-send `POST /v1/messages` on `base`.
    pub fn messages_request(&self, base: &str, key: &str, body: &Value) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{base}/v1/messages"))
            .header("x-api-key", key)
            .json(body)
    }

    /// Sets the mock's behaviour for the cluster's account (e.g. slow streams).
    pub fn set_upstream(&self, behavior: Behavior) {
        self.mock.set_behavior(CLUSTER_UPSTREAM_KEY, behavior);
    }

    /// `kill -9` of one instance: no shutdown, nothing flushed, nothing given back.
    pub fn kill(&mut self, instance: usize) {
        if let Some(mut child) = self.instances[instance].child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGTERM and wait for the exit (graceful shutdown); the exit status.
    pub async fn terminate(&mut self, instance: usize) -> std::process::ExitStatus {
        let mut child = self.instances[instance].child.take().expect("running");
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
        tokio::task::spawn_blocking(move || child.wait().unwrap())
            .await
            .unwrap()
    }

    /// Starts one more instance on the same database (with the same settings).
    pub fn add_instance(&mut self) -> usize {
        self.instances.push(spawn_instance(&self.db_url, &self.env));
        self.instances.len() - 1
    }

    /// A connection pool to the cluster's database (for checks and counts).
    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&self.db_url)
            .await
            .unwrap()
    }

    /// One `i64` from the database, e.g. `SELECT COUNT(*) FROM usage_events`.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let pool = self.pool().await;
        let v: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        v
    }
}

/// Waits until `cond` holds, checking every 20 ms, or panics with `what` after `deadline`.
pub async fn wait_until<F, Fut>(deadline: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !cond().await {
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn spawn_instance(db_url: &str, env: &[(String, String)]) -> Instance {
    let data = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.arg("serve")
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("TOLLGATE_DATA_DIR", data.path())
        .env("DATABASE_URL", db_url)
        .env("ENCRYPTION_KEY", ENCRYPTION_KEY)
        .env("ADMIN_PASSWORD", CLUSTER_ADMIN_PASSWORD)
        .env("SHUTDOWN_GRACE_SECS", "5")
        .env("LOG_LEVEL", "warn")
        .env("CLUSTER", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start tollgate");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = String::new();
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        if let Some(u) = line.split("listening on ").nth(1) {
            url = u.split_whitespace().next().unwrap_or_default().to_owned();
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    assert!(!url.is_empty(), "the instance did not start");
    Instance {
        child: Some(child),
        url,
        _data: data,
    }
}

impl Cluster {
    /// Runs the `tollgate` CLI (e.g. `["accounts", "check"]`) against the cluster's database
    /// with the instances' environment (`CLUSTER=1`, the same encryption key and `extra_env`),
    /// in a data directory of its own, while the instances run; its output.
    pub async fn cli(&self, args: &[&str]) -> std::process::Output {
        let data = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
        cmd.args(args)
            .env("TOLLGATE_DATA_DIR", data.path())
            .env("DATABASE_URL", &self.db_url)
            .env("ENCRYPTION_KEY", ENCRYPTION_KEY)
            .env("LOG_LEVEL", "warn")
            .env("CLUSTER", "1");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = tokio::task::spawn_blocking(move || cmd.output().expect("run the tollgate CLI"))
            .await
            .unwrap();
        drop(data);
        out
    }
}
