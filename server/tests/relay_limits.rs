//! Key limits enforced on the relay, over real HTTP against the mock upstream: every refusal's
//! status, body and headers; expiry; the concurrency queue; rate windows; exact quota under
//! load; nothing held after chaos; spend kept across a restart.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};
use tollgate::relay::control::RelayControl;

use common::{
    messages_body, spawn_app, spawn_app_clocked, spawn_app_with, Backend, TestApp, TestDb,
};
use futures::StreamExt;
use mock_upstream::{Behavior, Fault, MockUpstream, MockUsage};
use serde_json::{json, Value};
use tollgate::clock::ManualClock;

const UPSTREAM: &str = "sk-upstream-limits";

async fn with_account(app: &TestApp, behavior: Behavior) -> (MockUpstream, String) {
    let mock = MockUpstream::start(behavior).await;
    let token = app.admin_token().await;
    app.create_account(
        &token,
        json!({"name": "a", "apiKey": UPSTREAM, "baseUrl": mock.url()}),
    )
    .await;
    (mock, token)
}

fn send(app: &TestApp, key: &str, body: &Value) -> reqwest::RequestBuilder {
    app.client
        .post(app.url("/v1/messages"))
        .header("x-api-key", key)
        .json(body)
}

async fn error_of(res: reqwest::Response) -> (u16, String, String, reqwest::header::HeaderMap) {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["type"], "error", "{v}");
    (
        status,
        v["error"]["type"].as_str().unwrap().to_owned(),
        v["error"]["message"].as_str().unwrap().to_owned(),
        headers,
    )
}

async fn sql(app: &TestApp, q: &str) {
    match &app.db.store {
        tollgate::storage::Store::Sqlite(p) => {
            sqlx::query(q).execute(p).await.unwrap();
        }
        tollgate::storage::Store::Postgres(p) => {
            sqlx::query(q).execute(p).await.unwrap();
        }
    }
}

async fn wait_released(app: &TestApp) {
    for _ in 0..500 {
        if app.relay().held().holding() == (0, 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("still held: {:?}", app.relay().held().holding());
}

#[tokio::test]
async fn refusals_in_order_with_status_body_and_headers() {
    let app = spawn_app().await;
    let (_mock, token) = with_account(&app, Behavior::default()).await;

    // (1) unknown, disabled, expired.
    let (s, t, _, _) = error_of(
        send(
            &app,
            "tg_unknown",
            &messages_body("claude-sonnet-4-5", false),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((s, t.as_str()), (401, "authentication_error"));
    let (id, key) = app
        .create_key(&token, json!({"name": "k", "isActive": false}))
        .await;
    let (s, t, m, _) = error_of(
        send(&app, &key, &messages_body("claude-sonnet-4-5", false))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, t.as_str()), (401, "authentication_error"));
    assert!(m.contains("disabled"), "{m}");
    sql(
        &app,
        &format!(
            "UPDATE api_keys SET is_active = TRUE, expires_at = 1700000000000 WHERE id = '{id}'"
        ),
    )
    .await;
    app.relay().key_changed(&id);
    let (s, _, m, _) = error_of(
        send(&app, &key, &messages_body("claude-sonnet-4-5", false))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 401);
    assert!(m.contains("expired at 2023-11-14T22:13:20Z"), "{m}");

    // (2) model.
    let (_, key) = app
        .create_key(
            &token,
            json!({"name": "m", "allowedModels": ["claude-haiku-4-5"]}),
        )
        .await;
    let (s, t, m, _) = error_of(
        send(&app, &key, &messages_body("claude-opus-4-8", false))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, t.as_str()), (403, "permission_error"));
    assert!(m.contains("claude-opus-4-8"), "{m}");
    assert_eq!(
        send(&app, &key, &messages_body("claude-haiku-4-5", false))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // (3) quota: 402 billing_error naming limit and spent; the model check came first.
    let (id, key) = app
        .create_key(&token, json!({"name": "q", "quotaLimit": 5.0}))
        .await;
    sql(
        &app,
        &format!("UPDATE api_keys SET spent_micros = 5000000 WHERE id = '{id}'"),
    )
    .await;
    let (s, t, m, h) = error_of(
        send(&app, &key, &messages_body("claude-sonnet-4-5", false))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, t.as_str()), (402, "billing_error"));
    assert!(m.contains("$5.00") && m.contains("spent $5.00"), "{m}");
    assert_eq!(h["x-tollgate-quota-remaining"], "0.000000");
    assert!(
        h.get("retry-after").is_none(),
        "billing errors are not retried"
    );

    // (3b) daily cost limit.
    let (id, key) = app
        .create_key(&token, json!({"name": "d", "dailyCostLimit": 0.5}))
        .await;
    let now = chrono::Utc::now().timestamp_millis();
    sql(&app, &format!(
        "INSERT INTO usage_events (request_id, key_id, platform, model, cost_micros, status, created_at) VALUES ('r', '{id}', 'claude', 'm', 500000, 200, {now})"
    )).await;
    let (s, t, m, _) = error_of(
        send(&app, &key, &messages_body("claude-sonnet-4-5", false))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, t.as_str()), (402, "billing_error"));
    assert!(
        m.contains("daily cost limit") && m.contains("resets at"),
        "{m}"
    );

    // (4) rate window: Retry-After until the window frees a slot; headers on every answer.
    let (_, key) = app
        .create_key(
            &token,
            json!({"name": "r", "rateLimitWindow": 1, "rateLimitRequests": 2}),
        )
        .await;
    let first = send(&app, &key, &messages_body("claude-sonnet-4-5", false))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-ratelimit-remaining-requests"], "1");
    assert!(first.headers().contains_key("x-ratelimit-reset"));
    assert_eq!(
        send(&app, &key, &messages_body("claude-sonnet-4-5", false))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (s, t, _, h) = error_of(
        send(&app, &key, &messages_body("claude-sonnet-4-5", false))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, t.as_str()), (429, "rate_limit_error"));
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((55..=60).contains(&retry), "retry-after {retry}");
    assert_eq!(h["x-ratelimit-remaining-requests"], "0");
    wait_released(&app).await;
}

#[tokio::test]
async fn expiry_by_activation_days() {
    let app = spawn_app().await;
    let (_mock, token) = with_account(&app, Behavior::default()).await;
    let (id, key) = app
        .create_key(&token, json!({"name": "a", "activationDays": 7}))
        .await;
    let (_, v) = app
        .admin_send(
            &token,
            reqwest::Method::GET,
            &format!("/admin/api-keys/{id}"),
            None,
        )
        .await;
    assert!(v["activatedAt"].is_null());
    assert_eq!(
        send(&app, &key, &messages_body("claude-sonnet-4-5", false))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The first request started the validity, persisted.
    let mut activated = Value::Null;
    for _ in 0..100 {
        let (_, v) = app
            .admin_send(
                &token,
                reqwest::Method::GET,
                &format!("/admin/api-keys/{id}"),
                None,
            )
            .await;
        activated = v["activatedAt"].clone();
        if !activated.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!activated.is_null(), "activation persisted");
    // Eight days later it has expired.
    let eight_days_ago = chrono::Utc::now().timestamp_millis() - 8 * 86_400_000;
    sql(
        &app,
        &format!("UPDATE api_keys SET activated_at = {eight_days_ago} WHERE id = '{id}'"),
    )
    .await;
    app.relay().key_changed(&id);
    let (s, _, m, _) = error_of(
        send(&app, &key, &messages_body("claude-sonnet-4-5", false))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 401);
    assert!(m.contains("expired"), "{m}");
}

/// A corrupt `allowed_models` refuses the key (fail closed) instead of allowing every model;
/// the admin side reports the same row as corrupt, and a repaired row works at once.
async fn corrupt_settings_refuse_the_key(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let (_mock, token) = with_account(&app, Behavior::default()).await;
    let (id, key) = app
        .create_key(
            &token,
            json!({"name": "c", "allowedModels": ["claude-haiku-4-5"]}),
        )
        .await;
    let ok = |model: &'static str| {
        let app = &app;
        let key = key.clone();
        async move {
            send(app, &key, &messages_body(model, false))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(ok("claude-haiku-4-5").await.status(), 200);

    for (column, value) in [
        ("allowed_models", "'[\"claude-haiku'"),
        ("permissions", "'{'"),
    ] {
        sql(
            &app,
            &format!("UPDATE api_keys SET {column} = {value} WHERE id = '{id}'"),
        )
        .await;
        app.relay().key_changed(&id);
        for model in ["claude-haiku-4-5", "claude-opus-4-8"] {
            let (s, t, m, _) = error_of(ok(model).await).await;
            assert_eq!(
                (s, t.as_str()),
                (403, "permission_error"),
                "{column} {model}"
            );
            assert!(m.contains("unreadable"), "{m}");
        }
        let (status, v) = app
            .admin_send(
                &token,
                reqwest::Method::GET,
                &format!("/admin/api-keys/{id}"),
                None,
            )
            .await;
        assert_eq!(status, 500, "the admin side calls it corrupt too: {v}");
        sql(
            &app,
            &format!(
                "UPDATE api_keys SET {column} = '{}' WHERE id = '{id}'",
                match column {
                    "allowed_models" => "[\"claude-haiku-4-5\"]",
                    _ => "[]",
                }
            ),
        )
        .await;
        assert_eq!(ok("claude-haiku-4-5").await.status(), 200, "repaired");
        let (s, _, _, _) = error_of(ok("claude-opus-4-8").await).await;
        assert_eq!(s, 403, "the repaired list applies");
    }
}

#[tokio::test]
async fn corrupt_settings_refuse_the_key_sqlite() {
    corrupt_settings_refuse_the_key(Backend::Sqlite).await;
}

#[tokio::test]
async fn corrupt_settings_refuse_the_key_postgres() {
    corrupt_settings_refuse_the_key(Backend::Postgres).await;
}

#[tokio::test]
async fn concurrency_queue_fifo_full_and_timeout() {
    let app = spawn_app().await;
    // Streams that take ~600 ms hold their slot.
    let (_mock, token) = with_account(
        &app,
        Behavior {
            chunks: 6,
            chunk_gap_ms: 100,
            ..Default::default()
        },
    )
    .await;

    // Without a queue the 2nd concurrent request is refused at once.
    let (_, key) = app
        .create_key(&token, json!({"name": "n", "concurrencyLimit": 1}))
        .await;
    let hold = send(&app, &key, &messages_body("claude-sonnet-4-5", true))
        .send()
        .await
        .unwrap();
    let (s, t, m, h) = error_of(
        send(&app, &key, &messages_body("claude-sonnet-4-5", false))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, t.as_str()), (429, "rate_limit_error"));
    assert!(m.contains("concurrency limit"), "{m}");
    assert!(h.contains_key("retry-after"));
    drop(hold);
    wait_released(&app).await;

    // Limit 3, queue 5 for 10 s: the 4th waits and succeeds; the 9th finds the queue full.
    let (_, key) = app
        .create_key(
            &token,
            json!({"name": "q", "concurrencyLimit": 3, "concurrentRequestQueueEnabled": true,
               "concurrentRequestQueueMaxSize": 5, "concurrentRequestQueueTimeoutMs": 10000}),
        )
        .await;
    let key = Arc::new(key);
    let mut running = Vec::new();
    for _ in 0..3 {
        running.push(
            send(&app, &key, &messages_body("claude-sonnet-4-5", true))
                .send()
                .await
                .unwrap(),
        );
    }
    let started = Instant::now();
    let mut queued = Vec::new();
    for _ in 0..5 {
        let req = send(&app, &key, &messages_body("claude-sonnet-4-5", false));
        queued.push(tokio::spawn(async move {
            req.send().await.unwrap().status().as_u16()
        }));
    }
    // Wait until all five are in the queue, then the ninth is refused.
    let queue_key = app_key_id(&app, &token, "q").await;
    for _ in 0..200 {
        if app.relay().key_waiting(&queue_key) == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(app.relay().key_waiting(&queue_key), 5);
    let (s, _, m, _) = error_of(
        send(&app, &key, &messages_body("claude-sonnet-4-5", false))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 429);
    assert!(m.contains("queue is full"), "{m}");
    for r in running {
        let _ = r.bytes().await;
    }
    for q in queued {
        assert_eq!(
            q.await.unwrap(),
            200,
            "queued requests are served when slots free up"
        );
    }
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "they really waited"
    );
    wait_released(&app).await;

    // A short queue timeout gives 429.
    let (_, key) = app
        .create_key(
            &token,
            json!({"name": "t", "concurrencyLimit": 1, "concurrentRequestQueueEnabled": true,
               "concurrentRequestQueueMaxSize": 5, "concurrentRequestQueueTimeoutMs": 150}),
        )
        .await;
    let hold = send(&app, &key, &messages_body("claude-sonnet-4-5", true))
        .send()
        .await
        .unwrap();
    let t0 = Instant::now();
    let (s, _, m, _) = error_of(
        send(&app, &key, &messages_body("claude-sonnet-4-5", false))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 429);
    assert!(m.contains("waited too long"), "{m}");
    assert!(t0.elapsed() >= Duration::from_millis(140));
    // A queued client that disconnects leaves the queue at once.
    let id = app_key_id(&app, &token, "t").await;
    let req = send(&app, &key, &messages_body("claude-sonnet-4-5", false))
        .timeout(Duration::from_millis(60));
    assert!(req.send().await.is_err(), "client gave up");
    for _ in 0..100 {
        if app.relay().key_waiting(&id) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        app.relay().key_waiting(&id),
        0,
        "the disconnected client left the queue"
    );
    drop(hold);
    wait_released(&app).await;
}

async fn app_key_id(app: &TestApp, token: &str, name: &str) -> String {
    let (_, v) = app
        .admin_send(
            token,
            reqwest::Method::GET,
            &format!("/admin/api-keys?search={name}"),
            None,
        )
        .await;
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == name)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn quota_holds_under_500_concurrent_requests() {
    let app = spawn_app().await;
    // Each request really costs 100 in × $3 + 600 out × $15 per MTok = $0.0093.
    let usage = MockUsage {
        input: 100,
        output: 600,
        ..Default::default()
    };
    let (_mock, token) = with_account(
        &app,
        Behavior {
            usage,
            chunks: 2,
            chunk_gap_ms: 5,
            ..Default::default()
        },
    )
    .await;
    let (id, key) = app
        .create_key(&token, json!({"name": "dollar", "quotaLimit": 1.0}))
        .await;
    let key = Arc::new(key);
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": true,
                      "messages": [{"role": "user", "content": "hi"}]});
    let mut tasks = Vec::new();
    for _ in 0..500 {
        let req = send(&app, &key, &body);
        tasks.push(tokio::spawn(async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let text = res.text().await.unwrap_or_default();
            (status, text)
        }));
    }
    let (mut ok, mut refused, mut held) = (0, 0, 0);
    for t in tasks {
        match t.await.unwrap() {
            (200, _) => ok += 1,
            (402, _) => refused += 1,
            // The remainder is held by the one request that could not reserve its worst case.
            (429, text) if text.contains("held by another request") => held += 1,
            (other, text) => panic!("unexpected status {other}: {text}"),
        }
    }
    println!("burst: {ok} served, {refused} refused (402), {held} told to retry (429)");
    wait_released(&app).await;
    app.wait_for_usage_events(500).await;
    let spent = app
        .count(&format!(
            "SELECT spent_micros FROM api_keys WHERE id = '{id}'"
        ))
        .await;
    let one_request = 9_300;
    println!(
        "quota $1.00, 500 concurrent: served {ok}, refused {refused}, spent {spent} micro-USD, overshoot {} micro-USD (one request = {one_request})",
        spent - 1_000_000
    );
    assert!(spent <= 1_000_000 + one_request, "overspent: {spent}");
    assert!(refused > 0 && ok > 50);

    // Reservations were released at settlement: what remains stays usable until the quota is
    // really used up, and never beyond one request's cost.
    let mut served = 0;
    loop {
        let res = send(&app, &key, &body).send().await.unwrap();
        match res.status().as_u16() {
            200 => {
                let _ = res.bytes().await;
                served += 1;
            }
            402 => break,
            other => panic!("unexpected {other}"),
        }
        assert!(served < 200, "the quota never ran out");
    }
    wait_released(&app).await;
    app.wait_for_usage_events(500 + served).await;
    let spent = app
        .count(&format!(
            "SELECT spent_micros FROM api_keys WHERE id = '{id}'"
        ))
        .await;
    println!(
        "after draining: spent {spent} micro-USD, overshoot {} micro-USD",
        spent - 1_000_000
    );
    assert!(spent <= 1_000_000 + one_request, "overspent: {spent}");
    assert!(
        spent > 1_000_000 - one_request,
        "the whole quota was usable: {spent}"
    );
}

#[tokio::test]
async fn ten_thousand_requests_with_chaos_leave_nothing_held() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.serve.relay.idle_timeout_ms = 150;
        s.serve.scheduler.error_threshold = 1_000_000;
    })
    .await;
    let healthy = MockUpstream::start(Behavior {
        chunks: 3,
        ..Default::default()
    })
    .await;
    let token = app.admin_token().await;
    for (name, behavior) in [
        (
            "healthy",
            Behavior {
                chunks: 3,
                ..Default::default()
            },
        ),
        (
            "resets",
            Behavior {
                chunks: 4,
                fault: Some(Fault::ResetMidStream { after_chunks: 1 }),
                ..Default::default()
            },
        ),
        (
            "stalls",
            Behavior {
                chunks: 4,
                fault: Some(Fault::Stall { after_chunks: 1 }),
                ..Default::default()
            },
        ),
    ] {
        healthy.set_behavior(name, behavior);
        app.create_account(
            &token,
            json!({"name": name, "apiKey": name, "baseUrl": healthy.url()}),
        )
        .await;
    }
    let (_, key) = app
        .create_key(
            &token,
            json!({"name": "chaos", "quotaLimit": 1000.0, "concurrencyLimit": 40,
               "concurrentRequestQueueEnabled": true, "concurrentRequestQueueMaxSize": 1000,
               "concurrentRequestQueueTimeoutMs": 60000}),
        )
        .await;
    let key = Arc::new(key);
    let total = 10_000usize;
    let sem = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let req = send(&app, &key, &messages_body("claude-haiku-4-5", i % 4 != 0));
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            // A refused connection is part of the chaos too; only held state matters here.
            if let Ok(res) = req.send().await {
                let mut s = res.bytes_stream();
                // Every 7th client walks away after its first chunk.
                if i % 7 == 0 {
                    let _ = s.next().await;
                    return;
                }
                while let Some(c) = s.next().await {
                    if c.is_err() {
                        break;
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    wait_released(&app).await;
    for _ in 0..200 {
        let live = app.relay().pool().live();
        let snap = app.relay().pool().snapshot();
        if snap.by_id.keys().all(|id| live.in_flight(id) == 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let live = app.relay().pool().live();
    for id in app.relay().pool().snapshot().by_id.keys() {
        assert_eq!(
            live.in_flight(id),
            0,
            "account {id} still has requests in flight"
        );
    }
    let events = app.wait_for_usage_events(total as i64).await;
    assert_eq!(events, total as i64, "one usage event per request");
    println!(
        "chaos: {total} requests, {} with errors",
        app.count("SELECT COUNT(*) FROM usage_events WHERE error_type IS NOT NULL")
            .await
    );
}

#[tokio::test]
async fn restart_keeps_spent() {
    let first = spawn_app().await;
    let (_mock, token) = with_account(
        &first,
        Behavior {
            usage: MockUsage {
                input: 1000,
                output: 1000,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .await;
    let (id, key) = first
        .create_key(&token, json!({"name": "persist", "quotaLimit": 10.0}))
        .await;
    for _ in 0..5 {
        assert_eq!(
            send(&first, &key, &messages_body("claude-sonnet-4-5", false))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    first.wait_for_usage_events(5).await;
    let spent_before = first
        .count(&format!(
            "SELECT spent_micros FROM api_keys WHERE id = '{id}'"
        ))
        .await;
    assert_eq!(spent_before, 5 * (3_000 + 15_000));
    // Same database, new process state.
    let TestApp {
        db,
        shutdown,
        server,
        ..
    } = first;
    shutdown.cancel();
    server.await.unwrap().unwrap();
    let second = common::spawn_app_on(db).await;
    let token = second.admin_token().await;
    let (_, v) = second
        .admin_send(
            &token,
            reqwest::Method::GET,
            &format!("/admin/api-keys/{id}"),
            None,
        )
        .await;
    assert_eq!(v["spent"], 0.09, "{v}");
    let res = send(&second, &key, &messages_body("claude-sonnet-4-5", false))
        .send()
        .await
        .unwrap();
    let remaining: f64 = res.headers()["x-tollgate-quota-remaining"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        remaining < 10.0 - 0.09 + 1e-9,
        "the restarted relay knows the spend: {remaining}"
    );
}

#[tokio::test]
async fn token_counting_has_a_limit_of_its_own_that_time_refills() {
    let clock = ManualClock::new();
    let app = spawn_app_clocked(TestDb::new(Backend::Sqlite).await, clock.clone(), |_| {}).await;
    let (mock, token) = with_account(&app, Behavior::default()).await;
    let (_, key) = app.create_key(&token, json!({"name": "counter"})).await;
    let count = || {
        app.client
            .post(app.url("/v1/messages/count_tokens"))
            .header("x-api-key", &key)
            .json(&messages_body("claude-sonnet-4-5", false))
            .send()
    };
    for i in 0..tollgate::limits::counting::COUNT_TOKENS_PER_MINUTE {
        assert_eq!(count().await.unwrap().status(), 200, "call {i}");
    }
    let refused = count().await.unwrap();
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    clock.advance(Duration::from_secs(retry));
    assert_eq!(count().await.unwrap().status(), 200);
    assert_eq!(
        mock.total_requests(),
        u64::from(tollgate::limits::counting::COUNT_TOKENS_PER_MINUTE) + 1,
        "the refused call never reached the upstream"
    );
}
