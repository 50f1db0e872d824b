//! Test harness: throw-away databases on both backends and `spawn_app()` on a real port.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::str::FromStr;
use tollgate::relay::control::RelayControl;

use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use tokio_util::sync::CancellationToken;
use tollgate::config::{CommonOpts, ServeOpts, Settings};
use tollgate::secret::Secret;
use tollgate::startup::Application;
use tollgate::storage::Store;

pub const ADMIN_PASSWORD: &str = "test-admin-password-123";

/// The PostgreSQL server the test command starts; override with `TEST_POSTGRES_URL`.
pub fn postgres_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database of its own for one test: a SQLite file in a temp dir, or a fresh PostgreSQL
/// schema that is dropped afterwards.
pub struct TestDb {
    pub store: Store,
    pub dir: tempfile::TempDir,
    schema: Option<String>,
    attached_url: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => {
                let opts = SqliteConnectOptions::from_str(&format!(
                    "sqlite://{}",
                    dir.path().join("t.db").display()
                ))
                .unwrap();
                let store = Store::connect_sqlite(opts).await.expect("sqlite");
                store.migrate().await.expect("migrate sqlite");
                TestDb {
                    store,
                    dir,
                    schema: None,
                    attached_url: None,
                }
            }
            Backend::Postgres => {
                let schema = format!("tg_test_{}", uuid::Uuid::new_v4().simple());
                let admin = sqlx::PgPool::connect(&postgres_url()).await.expect(
                    "PostgreSQL must be running for the storage story (the test command starts it)",
                );
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&admin)
                    .await
                    .unwrap();
                admin.close().await;
                let opts = PgConnectOptions::from_str(&postgres_url())
                    .unwrap()
                    .options([("search_path", schema.as_str())]);
                let store = Store::connect_postgres(opts).await.expect("postgres");
                store.migrate().await.expect("migrate postgres");
                TestDb {
                    store,
                    dir,
                    schema: Some(schema),
                    attached_url: None,
                }
            }
        }
    }

    /// A second connection to an existing test database (another instance sharing it); it
    /// does not own the database and drops nothing.
    pub async fn attach(url: String) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::connect(&url).await.expect("attach");
        TestDb {
            store,
            dir,
            schema: None,
            attached_url: Some(url),
        }
    }

    /// Reconnects (after an app closed the pool at shutdown), as a restarted process would.
    pub async fn reopen(&mut self) {
        self.store = Store::connect(&self.url()).await.expect("reconnect");
    }

    /// A URL that reaches this database, for subprocesses and `Application::build`.
    pub fn url(&self) -> String {
        if let Some(url) = &self.attached_url {
            return url.clone();
        }
        match &self.schema {
            None => format!("sqlite://{}", self.dir.path().join("t.db").display()),
            Some(schema) => {
                let base = postgres_url();
                let sep = if base.contains('?') { '&' } else { '?' };
                format!("{base}{sep}options=-csearch_path%3D{schema}")
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(schema) = self.schema.take() {
            // Drop the schema from a thread of its own: Drop cannot await.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let Ok(pool) = sqlx::PgPool::connect(&postgres_url()).await else {
                        return;
                    };
                    // The test's runtime is blocked in this Drop, so a transaction one of its
                    // tasks had open (the usage writer's, say) can never finish and would hold
                    // its locks forever: end the sessions holding locks in this schema (only
                    // this test uses it), then drop it, never waiting long for a lock.
                    for _ in 0..3 {
                        let _ = sqlx::query(
                            "SELECT pg_terminate_backend(l.pid) FROM pg_locks l
                             JOIN pg_class c ON c.oid = l.relation
                             JOIN pg_namespace n ON n.oid = c.relnamespace
                             WHERE n.nspname = $1 AND l.pid <> pg_backend_pid()",
                        )
                        .bind(&schema)
                        .execute(&pool)
                        .await;
                        let dropped = sqlx::raw_sql(&format!(
                            "SET lock_timeout = '5s'; DROP SCHEMA {schema} CASCADE"
                        ))
                        .execute(&pool)
                        .await;
                        if dropped.is_ok() {
                            break;
                        }
                    }
                    pool.close().await;
                });
            })
            .join();
        }
    }
}

pub fn test_settings(dir: &std::path::Path) -> Settings {
    let mut common = CommonOpts::from_env();
    common.data_dir = dir.to_path_buf();
    common.database_url = None;
    common.encryption_key = Some(Secret::new("ab".repeat(32)));
    let mut serve = ServeOpts::from_env();
    serve.listen = "127.0.0.1:0".parse().unwrap();
    serve.admin_username = "admin".into();
    serve.admin_password = Some(Secret::new(ADMIN_PASSWORD.into()));
    serve.shutdown_grace_secs = 5;
    Settings { common, serve }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    pub db: TestDb,
    pub admin_routes: Vec<(reqwest::Method, &'static str)>,
    pub shutdown: CancellationToken,
    pub server: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub relay: std::sync::Arc<tollgate::relay::Relay>,
    pub config: std::sync::Arc<Settings>,
    pub webhooks: tollgate::webhooks::Webhooks,
    pub admin: std::sync::Arc<tollgate::admin::AdminService>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Backend::Sqlite, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let db = TestDb::new(backend).await;
    spawn_app_on_with(db, tweak).await
}

/// Starts the app on an existing database (a restart).
pub async fn spawn_app_on(mut db: TestDb) -> TestApp {
    db.reopen().await;
    spawn_app_on_with(db, |_| {}).await
}

pub async fn spawn_app_on_with(db: TestDb, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_clocked(db, tollgate::clock::system(), tweak).await
}

/// Starts the app with `clock` as the time of sessions, login throttling and failure limits.
pub async fn spawn_app_clocked(
    db: TestDb,
    clock: tollgate::clock::SharedClock,
    tweak: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = test_settings(db.dir.path());
    tweak(&mut settings);
    let app = Application::build_with_clock(settings, db.store.clone(), clock)
        .await
        .expect("build app");
    let addr = app.local_addr();
    let admin_routes = app
        .admin_routes()
        .iter()
        .map(|(m, p)| {
            (
                reqwest::Method::from_bytes(m.as_str().as_bytes()).unwrap(),
                *p,
            )
        })
        .collect();
    let relay = app.state().relay.clone();
    let config = app.state().config.clone();
    let webhooks = app.state().webhooks.clone();
    let admin = app.state().admin.clone();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run(shutdown.clone()));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        addr,
        base: format!("http://{addr}"),
        client,
        db,
        admin_routes,
        shutdown,
        server,
        relay,
        config,
        webhooks,
        admin,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/admin/auth/login"))
            .json(&serde_json::json!({ "username": username, "password": password }))
            .send()
            .await
            .unwrap()
    }

    /// A browser with a cookie jar, signed in through the dashboard's login form; with the
    /// login's answer.
    pub async fn browser_login(&self) -> (reqwest::Client, reqwest::Response) {
        let browser = reqwest::Client::builder()
            .cookie_provider(std::sync::Arc::new(reqwest::cookie::Jar::default()))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let res = browser
            .post(self.url("/admin/fn/login"))
            .header("accept", "application/json")
            .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
            .send()
            .await
            .unwrap();
        assert!(
            res.status().is_success() || res.status().is_redirection(),
            "{}",
            res.status()
        );
        (browser, res)
    }

    /// A bearer token for the admin REST API.
    pub async fn admin_token(&self) -> String {
        let res = self.login("admin", ADMIN_PASSWORD).await;
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    /// Sends `method path` byte for byte (HTTP clients normalise `..` and `%2e` away before
    /// sending) and returns the answer's status code.
    pub async fn raw_request(&self, method: &str, path: &str) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.addr
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await.unwrap();
        let text = String::from_utf8_lossy(&answer);
        text.split(' ').nth(1).unwrap().parse().unwrap()
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.server.await;
    }
}

/// Admin REST helpers shared by the relay tests.
impl TestApp {
    pub async fn admin_post(
        &self,
        token: &str,
        path: &str,
        body: serde_json::Value,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let res = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn admin_send(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Creates an upstream account; returns its id.
    pub async fn create_account(&self, token: &str, body: serde_json::Value) -> String {
        let (status, v) = self.admin_post(token, "/admin/accounts", body).await;
        assert_eq!(status, 201, "create account: {v}");
        v["id"].as_str().unwrap().to_owned()
    }

    /// Creates an API key; returns `(id, plaintext key)`.
    pub async fn create_key(&self, token: &str, body: serde_json::Value) -> (String, String) {
        let (status, v) = self.admin_post(token, "/admin/api-keys", body).await;
        assert!(status.is_success(), "create key: {status} {v}");
        (
            v["id"].as_str().unwrap().to_owned(),
            v["key"].as_str().unwrap().to_owned(),
        )
    }

    /// Waits until the usage writer has persisted `n` events in total.
    pub async fn wait_for_usage_events(&self, n: i64) -> i64 {
        for _ in 0..200 {
            let count = self.count("SELECT COUNT(*) FROM usage_events").await;
            if count >= n {
                return count;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("usage events never reached {n}");
    }

    pub async fn count(&self, sql: &str) -> i64 {
        match &self.db.store {
            Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
            Store::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        }
    }

    /// One row of a query, on whichever backend the app runs.
    pub async fn fetch_one<T>(&self, sql: &str) -> T
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        match &self.db.store {
            Store::Sqlite(p) => sqlx::query_as(sql).fetch_one(p).await.unwrap(),
            Store::Postgres(p) => sqlx::query_as(sql).fetch_one(p).await.unwrap(),
        }
    }

    /// Waits until no reservation, concurrency slot or in-flight request on `account_id` is
    /// held any more (they are released when a response ends, a moment after the client saw it).
    pub async fn wait_idle(&self, account_id: &str) {
        for _ in 0..200 {
            let held = self.relay.held();
            let in_flight = self.relay.pool().live().in_flight(account_id);
            if held.reserved == 0 && held.slots == 0 && in_flight == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("slots or reservations still held: {:?}", self.relay.held());
    }

    /// What the pricing table says `usage` of `model` costs, in micro-USD.
    pub fn expected_cost(&self, model: &str, usage: &tollgate::pricing::TokenUsage) -> i64 {
        let price = self.relay.pricing().lookup(model).price;
        tollgate::pricing::cost_micros(&price, usage)
    }

    pub fn relay(&self) -> &std::sync::Arc<tollgate::relay::Relay> {
        &self.relay
    }
}

/// A Messages request body.
pub fn messages_body(model: &str, stream: bool) -> serde_json::Value {
    serde_json::json!({
        "model": model,
        "max_tokens": 1024,
        "stream": stream,
        "messages": [{"role": "user", "content": "Hello"}],
    })
}
