//! The local receiver the webhook tests deliver to, and a dispatcher on a throw-away database.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tollgate::crypto::{Binding, Cipher};
use tollgate::secret::Secret;
use tollgate::storage::webhooks::{WebhookDeliveryRow, WebhookTargetRow};
use tollgate::storage::Store;
use tollgate::webhooks::{WebhookOpts, Webhooks};

use crate::common::{Backend, TestDb};

// The receiver: records every request; answers `fail_status` (after `delay`) to the first
// `fail_first` requests, then 200 with a body every chat tool reads as success.

#[derive(Clone)]
pub struct Script {
    pub fail_first: usize,
    pub fail_status: u16,
    pub delay: Duration,
}

impl Script {
    pub fn ok() -> Script {
        Script {
            fail_first: 0,
            fail_status: 200,
            delay: Duration::ZERO,
        }
    }
    pub fn failing(times: usize, status: u16) -> Script {
        Script {
            fail_first: times,
            fail_status: status,
            delay: Duration::ZERO,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Recorded {
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers[name].to_str().unwrap()
    }
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Vec<Recorded>>>,
    pub script: Script,
}

impl Receiver {
    pub async fn start(script: Script) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            addr: listener.local_addr().unwrap(),
            log: Arc::default(),
            script,
        };
        let app = Router::new().fallback(record).with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        receiver
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }

    pub async fn wait_for(&self, n: usize) -> Vec<Recorded> {
        wait_until(|| self.log.lock().unwrap().len() >= n).await;
        self.requests()
    }
}

async fn record(State(rx): State<Receiver>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let n = {
        let mut log = rx.log.lock().unwrap();
        log.push(Recorded { uri, headers, body });
        log.len()
    };
    if n <= rx.script.fail_first {
        tokio::time::sleep(rx.script.delay).await;
        let status = StatusCode::from_u16(rx.script.fail_status).unwrap();
        return (status, "receiver says no").into_response();
    }
    Json(json!({ "errcode": 0, "errmsg": "ok", "code": 0, "ok": true })).into_response()
}

pub async fn wait_until(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub async fn wait_for_log(store: &Store, n: usize) -> Vec<WebhookDeliveryRow> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut rows = store.list_webhook_deliveries(100, None).await.unwrap();
        if rows.len() >= n {
            rows.reverse(); // oldest first
            return rows;
        }
        assert!(Instant::now() < deadline, "timed out waiting for the log");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// Harness: a dispatcher on a throw-away SQLite database.

pub fn opts() -> WebhookOpts {
    let mut o = tollgate::config::ServeOpts::from_env().webhooks;
    o.webhook_enabled = false;
    o.webhook_urls = Vec::new();
    o.webhook_secret = None;
    o.webhook_timeout_ms = 2_000;
    o.webhook_max_attempts = 5;
    o.webhook_backoff_ms = 50;
    o.webhook_queue_size = 100;
    o
}

pub fn env_target(o: &mut WebhookOpts, url: String, secret: Option<&str>) {
    o.webhook_enabled = true;
    o.webhook_urls = vec![Secret::new(url)];
    o.webhook_secret = secret.map(|s| Secret::new(s.to_owned()));
}

pub fn cipher() -> Cipher {
    Cipher::from_key_bytes(&[7u8; 32])
}

pub struct Running {
    pub db: TestDb,
    pub hooks: Webhooks,
    pub tasks: TaskTracker,
    pub stop: CancellationToken,
}

impl Running {
    pub async fn start(o: &WebhookOpts) -> Running {
        Self::start_clocked(o, tollgate::clock::system()).await
    }

    /// Backoffs wait on `clock`: a manual one makes retries immediate and counts their waits.
    pub async fn start_clocked(o: &WebhookOpts, clock: tollgate::clock::SharedClock) -> Running {
        let db = TestDb::new(Backend::Sqlite).await;
        let tasks = TaskTracker::new();
        let stop = CancellationToken::new();
        let hooks =
            Webhooks::start(o, db.store.clone(), cipher(), &tasks, stop.clone(), clock).unwrap();
        Running {
            db,
            hooks,
            tasks,
            stop,
        }
    }

    pub async fn shutdown(self) -> TestDb {
        self.stop.cancel();
        self.tasks.close();
        tokio::time::timeout(Duration::from_secs(10), self.tasks.wait())
            .await
            .expect("webhook tasks stop on shutdown");
        self.db
    }
}

pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

/// Stores a dashboard target the way the admin service does.
pub async fn add_target(
    store: &Store,
    kind: &str,
    url: &str,
    secret: Option<&str>,
    events: &[&str],
    enabled: bool,
) {
    let c = cipher();
    let now = tollgate::storage::now_ms();
    let id = uuid::Uuid::now_v7().to_string();
    store
        .insert_webhook_target(
            &WebhookTargetRow {
                url_enc: c.encrypt(Binding::webhook_url(&id), url),
                secret_enc: secret.map(|s| c.encrypt(Binding::webhook_secret(&id), s)),
                id,
                name: format!("{kind} target"),
                kind: kind.into(),
                url_hint: "hint".into(),
                events: serde_json::to_string(events).unwrap(),
                enabled,
                created_at: now,
                updated_at: now,
            },
            None,
        )
        .await
        .unwrap();
}
