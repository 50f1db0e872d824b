//! Hostile or unlucky clients and deployments: a client that never reads, one that leaves
//! while queued, model names that try to leave the Gemini models path, a saturated pool, an
//! upstream reporting absurd token counts, a body nesting serde_json's raw-value marker, and
//! two instances sharing one database.

mod common;

use std::sync::Arc;
use std::time::Duration;
use tollgate::relay::control::RelayControl;

use common::{messages_body, spawn_app_on_with, spawn_app_with, Backend, TestApp, TestDb};
use mock_upstream::{Behavior, MockUpstream};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tollgate::secret::Secret;

async fn account(app: &TestApp, mock: &MockUpstream, name: &str, platform: &str) -> String {
    let token = app.admin_token().await;
    app.create_account(
        &token,
        json!({"name": name, "apiKey": name, "baseUrl": mock.url(), "platform": platform}),
    )
    .await
}

async fn until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..600 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test]
async fn a_client_that_never_reads_cannot_hold_its_slot() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.serve.relay.idle_timeout_ms = 300).await;
    // A long, fast stream: several MB, more than the socket buffers hold.
    let mock = MockUpstream::start(Behavior {
        chunks: 60_000,
        ..Default::default()
    })
    .await;
    let account_id = account(&app, &mock, "a", "claude").await;
    let token = app.admin_token().await;
    let (_, key) = app
        .create_key(&token, json!({"name": "k", "concurrencyLimit": 1}))
        .await;
    let res = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", &key)
        .json(&messages_body("claude-sonnet-4-5", true))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Hold the response without reading it: the relay gives up on us after the idle timeout.
    let relay = app.relay().clone();
    until("the stalled client's slot is freed", || {
        relay.held().holding() == (0, 0) && relay.pool().live().in_flight(&account_id) == 0
    })
    .await;
    drop(res);
    app.wait_for_usage_events(1).await;
    let disconnected = app
        .count("SELECT COUNT(*) FROM usage_events WHERE client_disconnected AND input_tokens > 0")
        .await;
    assert_eq!(
        disconnected, 1,
        "billed as a disconnect, for what it received"
    );
}

#[tokio::test]
async fn a_client_that_leaves_the_queue_still_leaves_a_usage_event() {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let mock = MockUpstream::start(Behavior {
        chunks: 10,
        chunk_gap_ms: 100,
        ..Default::default()
    })
    .await;
    account(&app, &mock, "a", "claude").await;
    let token = app.admin_token().await;
    let (_, key) = app
        .create_key(
            &token,
            json!({"name": "q", "concurrencyLimit": 1, "concurrentRequestQueueEnabled": true,
                   "concurrentRequestQueueMaxSize": 5, "concurrentRequestQueueTimeoutMs": 60000}),
        )
        .await;
    let hold = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", &key)
        .json(&messages_body("claude-sonnet-4-5", true))
        .send()
        .await
        .unwrap();
    let gone = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", &key)
        .json(&messages_body("claude-sonnet-4-5", false))
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(gone.is_err());
    let _ = hold.bytes().await;
    app.wait_for_usage_events(2).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM usage_events WHERE status = 499 AND client_disconnected")
            .await,
        1
    );
}

#[tokio::test]
async fn gemini_model_names_cannot_reach_other_google_endpoints() {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let mock = MockUpstream::start(Behavior::default()).await;
    account(&app, &mock, "g", "gemini").await;
    let token = app.admin_token().await;
    let (_, key) = app
        .create_key(
            &token,
            json!({"name": "k", "allowedModels": ["gemini-2.5-*"]}),
        )
        .await;
    for path in [
        "/gemini/v1beta/models/gemini-2.5-pro:batchGenerateContent%23:generateContent",
        "/gemini/v1beta/models/..%2F..%2Fupload%2Fv1beta%2Ffiles%23:generateContent",
    ] {
        let res = app
            .client
            .post(app.url(path))
            .header("x-goog-api-key", &key)
            .json(&json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{path}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
    }
    assert_eq!(mock.total_requests(), 0, "nothing reached the upstream");
}

#[tokio::test]
async fn a_saturated_pool_is_announced_once() {
    let seen = Arc::new(Mutex::new(Vec::<Value>::new()));
    let store = seen.clone();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::Json<Value>| {
            let store = store.clone();
            async move {
                store.lock().push(body.0);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });

    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.serve.webhooks.webhook_enabled = true;
        s.serve.webhooks.webhook_urls = vec![Secret::new(url)];
        s.serve.relay.pool_saturation_threshold = 0.5;
        s.serve.relay.pool_saturation_minutes = 0;
        s.serve.relay.housekeeping_interval_ms = 50;
    })
    .await;
    let mock = MockUpstream::start(Behavior {
        chunks: 100,
        chunk_gap_ms: 100,
        ..Default::default()
    })
    .await;
    let token = app.admin_token().await;
    app.create_account(
        &token,
        json!({"name": "small", "apiKey": "small", "baseUrl": mock.url(), "maxConcurrency": 2}),
    )
    .await;
    let (_, key) = app.create_key(&token, json!({"name": "k"})).await;
    let mut held = Vec::new();
    for i in 0..2 {
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "stream": true, "messages": [{"role": "user", "content": format!("s{i}")}]});
        held.push(
            app.client
                .post(app.url("/v1/messages"))
                .header("x-api-key", &key)
                .json(&body)
                .send()
                .await
                .unwrap(),
        );
    }
    let count = || {
        seen.lock()
            .iter()
            .filter(|e| e["event"] == "pool.saturated")
            .count()
    };
    until("pool.saturated delivered", || count() >= 1).await;
    // Still saturated through several more looks at the pool: no second announcement.
    let rounds = app.relay().housekeeping_rounds();
    until("three more housekeeping rounds", || {
        app.relay().housekeeping_rounds() >= rounds + 3
    })
    .await;
    assert_eq!(count(), 1, "once per stretch of saturation");
    let e = seen
        .lock()
        .iter()
        .find(|e| e["event"] == "pool.saturated")
        .cloned()
        .unwrap();
    assert_eq!(e["data"]["platform"], "claude");
    assert_eq!(e["data"]["capacity"], 2);
    drop(held);
}

#[tokio::test]
async fn instances_sharing_a_database_see_each_others_changes() {
    let db = TestDb::new(Backend::Postgres).await;
    let url = db.url();
    let a = spawn_app_on_with(db, |_| {}).await;
    let second_db = TestDb::attach(url).await;
    // B polls for changes every 100 ms instead of 5 s: the same poll, sooner.
    let b = spawn_app_on_with(second_db, |s| {
        s.serve.admin_password = None;
        s.serve.relay.housekeeping_interval_ms = 100;
    })
    .await;
    let mock = MockUpstream::start(Behavior::default()).await;
    let token = a.admin_token().await;
    let account_id = a
        .create_account(
            &token,
            json!({"name": "shared", "apiKey": "shared", "baseUrl": mock.url()}),
        )
        .await;
    let (key_id, key) = a.create_key(&token, json!({"name": "k"})).await;
    let send = |app: &TestApp| {
        app.client
            .post(app.url("/v1/messages"))
            .header("x-api-key", &key)
            .json(&messages_body("claude-sonnet-4-5", false))
            .send()
    };
    // B learns about the account created on A, then serves the key.
    let mut served = false;
    for _ in 0..400 {
        if send(&b).await.unwrap().status() == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "instance B picked up the account created on A");
    // Disabling the key on A stops it on B within the poll interval.
    let (s, _) = a
        .admin_send(
            &token,
            reqwest::Method::PATCH,
            &format!("/admin/api-keys/{key_id}"),
            Some(json!({"isActive": false})),
        )
        .await;
    assert_eq!(s, 200);
    let mut refused = false;
    for _ in 0..400 {
        if send(&b).await.unwrap().status() == 401 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused, "instance B refused the key disabled on A");
    let _ = account_id;
}

/// An upstream reporting 2^64 − 1 cached tokens: each answer is billed for 2^40 (past any
/// quota), and the database's sums of such answers neither wrap nor overflow (PostgreSQL
/// refuses a bigint overflow, which would leave the usage unbilled).
async fn absurd_token_counts_are_capped_and_billed(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let mock = MockUpstream::start(Behavior {
        usage: mock_upstream::MockUsage {
            input: 1,
            output: 1,
            cache_read: u64::MAX,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    account(&app, &mock, "huge", "claude").await;
    let token = app.admin_token().await;
    let (key_id, key) = app.create_key(&token, json!({"name": "k"})).await;
    for _ in 0..3 {
        let res = app
            .client
            .post(app.url("/v1/messages"))
            .header("x-api-key", &key)
            .json(&messages_body("claude-sonnet-4-5", false))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.bytes().await.unwrap();
    }
    app.wait_for_usage_events(3).await;
    let cap = 1_i64 << 40;
    let read = app
        .count("SELECT COUNT(*) FROM usage_events WHERE cache_read_tokens = 1099511627776")
        .await;
    assert_eq!(read, 3, "each event keeps 2^40 cached tokens");
    let cost = app
        .count("SELECT CAST(SUM(cost_micros) AS BIGINT) FROM usage_events")
        .await;
    // Sonnet's cache reads: $0.30 per million tokens, 3 answers.
    assert!(cost >= 3 * (cap / 1_000_000) * 3 / 10, "cost {cost}");
    let spent = app
        .count(&format!(
            "SELECT spent_micros FROM api_keys WHERE id = '{key_id}'"
        ))
        .await;
    assert_eq!(spent, cost, "the key is charged what the events cost");
    let hourly = app
        .count("SELECT CAST(SUM(cache_read_tokens) AS BIGINT) FROM usage_hourly")
        .await;
    assert_eq!(hourly, 3 * cap);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM usage_dead_letters").await,
        0
    );
}

#[tokio::test]
async fn absurd_token_counts_are_capped_and_billed_on_both_databases() {
    absurd_token_counts_are_capped_and_billed(Backend::Sqlite).await;
    absurd_token_counts_are_capped_and_billed(Backend::Postgres).await;
}

/// serde_json's private raw-value marker nested 150 times (about 150 KB): parsed into a JSON
/// value anywhere, it recurses past any stack and aborts the process. It is refused in the
/// protocol's shape before anything parses it (and by the admin API before it reads a body into
/// a value), and the relay goes on serving.
#[tokio::test]
async fn a_body_nesting_the_raw_value_marker_is_refused_and_the_relay_lives() {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let mock = MockUpstream::start(Behavior::default()).await;
    account(&app, &mock, "c", "claude").await;
    let token = app.admin_token().await;
    let (_, key) = app.create_key(&token, json!({"name": "k"})).await;
    let mut doc = String::from("1");
    for _ in 0..150 {
        let inner = format!("{}{doc}{}", "[".repeat(120), "]".repeat(120));
        let escaped = inner.replace('\\', "\\u005c").replace('"', "\\u0022");
        doc = format!("{{\"\\u0024serde_json::private::RawValue\":\"{escaped}\"}}");
    }
    for (path, body) in [
        (
            "/v1/messages",
            format!(
                r#"{{"model":"claude-sonnet-4-5","max_tokens":10,"system":{doc},"messages":[{{"role":"user","content":"hi"}}]}}"#
            ),
        ),
        (
            "/openai/v1/chat/completions",
            format!(
                r#"{{"model":"claude-sonnet-4-5","messages":[{{"role":"user","content":{doc}}}]}}"#
            ),
        ),
    ] {
        let res = app
            .client
            .post(app.url(path))
            .header("x-api-key", &key)
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{path}");
        let v: Value = res.json().await.unwrap();
        let kind = v["error"]["type"].as_str().unwrap_or_default().to_owned();
        assert_eq!(kind, "invalid_request_error", "{path}: {v}");
    }
    let res = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", &key)
        .json(&messages_body("claude-sonnet-4-5", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "still serving");
    assert_eq!(
        mock.requests("c"),
        1,
        "only the ordinary request went upstream"
    );
    // The admin API's JSON bodies too (a staff member with any role can send one).
    let res = app
        .client
        .post(app.url("/admin/api-keys"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(format!(r#"{{"name":"k2","tags":{doc}}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let text = res.text().await.unwrap();
    assert!(text.contains("reserved key"), "{text}");
    let (_, again) = app.create_key(&token, json!({"name": "k3"})).await;
    assert!(!again.is_empty(), "the admin API still serves");
}
