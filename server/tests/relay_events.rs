//! Events the relay emits, delivered to a local webhook receiver: each fires once per
//! transition, not per request.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use common::{messages_body, spawn_app_clocked, Backend, TestDb};
use mock_upstream::{Behavior, Fault, MockUpstream, MockUsage};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tollgate::secret::Secret;

async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let store = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |body: axum::Json<Value>| {
            let store = store.clone();
            async move {
                store.lock().push(body.0);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn count(seen: &Mutex<Vec<Value>>, event: &str) -> usize {
    seen.lock().iter().filter(|e| e["event"] == event).count()
}

async fn wait_for(seen: &Mutex<Vec<Value>>, event: &str, n: usize) {
    for _ in 0..300 {
        if count(seen, event) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{event} never arrived {n} time(s): {:?}", seen.lock());
}

#[tokio::test]
async fn account_and_quota_events_fire_once_per_transition() {
    let (url, seen) = receiver().await;
    let clock = tollgate::clock::ManualClock::new();
    let app = spawn_app_clocked(TestDb::new(Backend::Sqlite).await, clock.clone(), |s| {
        s.serve.webhooks.webhook_enabled = true;
        s.serve.webhooks.webhook_urls = vec![Secret::new(url)];
        s.serve.scheduler.overload_cooldown_secs = 1;
    })
    .await;
    // Each request costs 1000 out × $15/MTok = $0.015 on Sonnet.
    let mock = MockUpstream::start(Behavior {
        usage: MockUsage {
            input: 0,
            output: 1000,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let token = app.admin_token().await;
    for name in ["ok", "flaky"] {
        app.create_account(
            &token,
            json!({"name": name, "apiKey": name, "baseUrl": mock.url()}),
        )
        .await;
    }
    mock.set_behavior(
        "flaky",
        Behavior {
            fault: Some(Fault::Status {
                status: 529,
                retry_after_secs: None,
            }),
            ..Default::default()
        },
    );
    let (_, key) = app
        .create_key(&token, json!({"name": "events", "quotaLimit": 0.05}))
        .await;
    let mut refused = false;
    for i in 0..10 {
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": format!("e{i}")}]});
        let res = app
            .client
            .post(app.url("/v1/messages"))
            .header("x-api-key", &key)
            .json(&body)
            .send()
            .await
            .unwrap();
        match res.status().as_u16() {
            200 => {}
            402 => refused = true,
            s => panic!("{s}"),
        }
    }
    assert!(refused, "the quota ran out");
    wait_for(&seen, "account.overloaded", 1).await;
    wait_for(&seen, "key.quota_warning", 1).await;
    wait_for(&seen, "key.quota_exhausted", 1).await;
    // Recovery: the fault is gone, the cooldown ends, a probe succeeds.
    mock.clear_behavior("flaky");
    clock.advance(Duration::from_millis(1_200));
    let (_, key2) = app.create_key(&token, json!({"name": "more"})).await;
    for i in 0..6 {
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": format!("r{i}")}]});
        app.client
            .post(app.url("/v1/messages"))
            .header("x-api-key", &key2)
            .json(&body)
            .send()
            .await
            .unwrap();
    }
    wait_for(&seen, "account.recovered", 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(count(&seen, "account.overloaded"), 1, "once per transition");
    assert_eq!(count(&seen, "key.quota_warning"), 1);
    assert_eq!(count(&seen, "key.quota_exhausted"), 1);
    let warn = seen
        .lock()
        .iter()
        .find(|e| e["event"] == "key.quota_warning")
        .cloned()
        .unwrap();
    assert_eq!(warn["data"]["keyName"], "events");
    assert!(warn["timestamp"].as_str().unwrap().ends_with('Z'));
    let _ = messages_body;
}

#[tokio::test]
async fn a_key_whose_validity_ended_is_announced_once() {
    use tollgate::keys::expiry_watch::ExpiryWatch;
    const DAY: i64 = 86_400_000;
    let (url, seen) = receiver().await;
    let app = spawn_app_clocked(
        TestDb::new(Backend::Sqlite).await,
        tollgate::clock::ManualClock::new(),
        |s| {
            s.serve.webhooks.webhook_enabled = true;
            s.serve.webhooks.webhook_urls = vec![Secret::new(url)];
        },
    )
    .await;
    let token = app.admin_token().await;
    let (trial, _) = app
        .create_key(&token, json!({"name": "trial", "activationDays": 7}))
        .await;
    app.create_key(&token, json!({"name": "unused", "activationDays": 7}))
        .await;
    let now = tollgate::storage::now_ms();
    // Activated 8 days ago for 7 days: its validity ended a day ago.
    let sql = format!(
        "UPDATE api_keys SET activated_at = {} WHERE id = '{trial}'",
        now - 8 * DAY
    );
    match &app.db.store {
        tollgate::storage::Store::Sqlite(p) => sqlx::query(&sql).execute(p).await.map(|_| ()),
        tollgate::storage::Store::Postgres(p) => sqlx::query(&sql).execute(p).await.map(|_| ()),
    }
    .unwrap();
    let mut watch = ExpiryWatch::starting_at(now - 2 * DAY);
    watch.announce(&app.db.store, &app.webhooks, now).await;
    wait_for(&seen, "key.expired", 1).await;
    // The next look starts where this one ended: nothing new.
    watch.announce(&app.db.store, &app.webhooks, now + 1).await;
    let sentinel = json!({"keyId": "sentinel"});
    app.webhooks
        .emit(tollgate::webhooks::EventKind::KeyExpired, sentinel);
    wait_for(&seen, "key.expired", 2).await;
    let mut expired: Vec<String> = seen
        .lock()
        .iter()
        .filter(|e| e["event"] == "key.expired")
        .map(|e| e["data"]["keyId"].as_str().unwrap_or_default().to_owned())
        .collect();
    expired.sort();
    let mut expected = vec![trial, "sentinel".to_owned()];
    expected.sort();
    assert_eq!(expired, expected, "once, the used trial only");
}
