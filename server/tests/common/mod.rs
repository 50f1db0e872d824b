//! Test harness: throw-away databases on both backends and `spawn_app()` on a real port.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::str::FromStr;

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
                }
            }
        }
    }

    /// A URL that reaches this database, for subprocesses and `Application::build`.
    pub fn url(&self) -> String {
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
                    if let Ok(pool) = sqlx::PgPool::connect(&postgres_url()).await {
                        let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                            .execute(&pool)
                            .await;
                        pool.close().await;
                    }
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
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Backend::Sqlite, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let db = TestDb::new(backend).await;
    let mut settings = test_settings(db.dir.path());
    tweak(&mut settings);
    let app = Application::build_with_store(settings, db.store.clone())
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

    /// A bearer token for the admin REST API.
    pub async fn admin_token(&self) -> String {
        let res = self.login("admin", ADMIN_PASSWORD).await;
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        body["token"].as_str().unwrap().to_owned()
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.server.await;
    }
}
