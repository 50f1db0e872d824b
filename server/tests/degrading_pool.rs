//! A pool that degrades instead of refusing, over real HTTP with the mock upstream: one
//! account's 529 costs a short cooldown, not ten minutes of 503s; while every account cools
//! down, a request probes the one that recovers first; the refusal says when to retry; a
//! stream that sends headers but no first token in time fails over before the client sees it.

mod common;

use std::time::Duration;
use tollgate::clock::{Clock, ManualClock};
use tollgate::relay::control::RelayControl;

use common::{messages_body, spawn_app_clocked, spawn_app_with, Backend, TestApp, TestDb};
use mock_upstream::{Behavior, Fault, MockUpstream};
use reqwest::Method;
use serde_json::{json, Value};

async fn account(app: &TestApp, token: &str, id: &str) -> Value {
    app.admin_send(token, Method::GET, &format!("/admin/accounts/{id}"), None)
        .await
        .1
}

fn retry_after(res: &reqwest::Response) -> u64 {
    res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn fault(status: u16, times: u32) -> Behavior {
    Behavior {
        fault: Some(Fault::Status {
            status,
            retry_after_secs: None,
        }),
        fault_times: Some(times),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_single_account_529_costs_seconds_and_the_next_request_probes_it() {
    // The defaults: 30 s after a 529, doubling up to MAX_COOLDOWN_SECS.
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    assert_eq!(app.config.serve.scheduler.overload_cooldown_secs, 30);
    let mock = MockUpstream::start(Behavior::default()).await;
    let token = app.admin_token().await;
    let id = app
        .create_account(
            &token,
            json!({"name": "only", "apiKey": "only", "baseUrl": mock.url()}),
        )
        .await;
    let key = app.create_key(&token, json!({"name": "k"})).await.1;
    let send = || {
        app.client
            .post(app.url("/v1/messages"))
            .header("x-api-key", &key)
            .json(&messages_body("claude-sonnet-4-5", false))
            .send()
    };

    mock.set_behavior("only", fault(529, 1));
    let first = send().await.unwrap();
    assert_eq!(first.status(), 529);
    let wait = retry_after(&first);
    assert!(
        (29..=30).contains(&wait),
        "Retry-After from the 30 s cooldown: {wait}"
    );
    let v = account(&app, &token, &id).await;
    assert_eq!(v["status"], "overloaded");
    let until = chrono::DateTime::parse_from_rfc3339(v["cooldownUntil"].as_str().unwrap()).unwrap();
    let secs = (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds();
    assert!(
        (25..=30).contains(&secs),
        "a short cooldown, not 600 s: {secs}"
    );

    // The upstream has recovered: the next request probes the cooling account and is served.
    let second = send().await.unwrap();
    assert_eq!(second.status(), 200, "{:?}", second.text().await);
    assert_eq!(account(&app, &token, &id).await["status"], "active");
    assert_eq!(mock.requests("only"), 2);

    // Still overloaded: the probe fails, the cooldown is kept (no new step), and the refusal
    // says when the account recovers.
    mock.set_behavior("only", fault(529, 2));
    assert_eq!(send().await.unwrap().status(), 529);
    let probed = send().await.unwrap();
    assert_eq!(probed.status(), 529);
    let wait = retry_after(&probed);
    assert!((28..=30).contains(&wait), "{wait}");
    assert_eq!(mock.requests("only"), 4, "one attempt per request");
    // Healthy again: served at once, through the probe.
    assert_eq!(send().await.unwrap().status(), 200);
    assert_eq!(account(&app, &token, &id).await["status"], "active");
    app.wait_idle(&id).await;
}

#[tokio::test]
async fn a_cooldown_doubles_with_repeats_and_resets_after_a_success() {
    let clock = ManualClock::new();
    let app = spawn_app_clocked(TestDb::new(Backend::Sqlite).await, clock.clone(), |s| {
        s.serve.scheduler.overload_cooldown_secs = 1;
        s.serve.scheduler.max_cooldown_secs = 3;
    })
    .await;
    let mock = MockUpstream::start(Behavior::default()).await;
    let token = app.admin_token().await;
    let id = app
        .create_account(
            &token,
            json!({"name": "only", "apiKey": "only", "baseUrl": mock.url()}),
        )
        .await;
    let key = app.create_key(&token, json!({"name": "k"})).await.1;
    let send = || {
        app.client
            .post(app.url("/v1/messages"))
            .header("x-api-key", &key)
            .json(&messages_body("claude-sonnet-4-5", false))
            .send()
    };
    mock.set_behavior("only", fault(529, 3));
    let mut waits = Vec::new();
    for _ in 0..3 {
        let res = send().await.unwrap();
        assert_eq!(res.status(), 529);
        waits.push(retry_after(&res));
        // The cooldown is over once the clock has moved past it.
        clock.advance(Duration::from_millis(retry_after(&res) * 1000 + 20));
        let cooling = app
            .relay()
            .pool()
            .soonest_recovery(&[id.as_str().into()], clock.now_ms());
        assert_eq!(cooling, None);
    }
    assert_eq!(waits, [1, 2, 3], "1 s, doubled, capped at 3 s");
    assert_eq!(send().await.unwrap().status(), 200);
    mock.set_behavior("only", fault(529, 1));
    let res = send().await.unwrap();
    assert_eq!(retry_after(&res), 1, "a success starts over");
    app.wait_idle(&id).await;
}

#[tokio::test]
async fn a_stream_without_a_first_token_fails_over_before_the_client_sees_it() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.serve.relay.first_token_timeout_ms = 300;
    })
    .await;
    let mock = MockUpstream::start(Behavior::default()).await;
    let token = app.admin_token().await;
    let mut ids = Vec::new();
    for (name, priority) in [("silent", 1), ("fine", 2)] {
        ids.push(
            app.create_account(
                &token,
                json!({"name": name, "apiKey": name, "baseUrl": mock.url(), "priority": priority}),
            )
            .await,
        );
    }
    // Headers and message_start, then nothing.
    mock.set_behavior(
        "silent",
        Behavior {
            fault: Some(Fault::Stall { after_chunks: 0 }),
            ..Default::default()
        },
    );
    let key = app.create_key(&token, json!({"name": "k"})).await.1;
    let started = std::time::Instant::now();
    let res = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", &key)
        .json(&messages_body("claude-sonnet-4-5", true))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(text.contains("message_stop"), "{text}");
    assert_eq!(text.matches("event: message_start").count(), 1, "{text}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(10),
        "{took:?}"
    );
    assert_eq!((mock.requests("silent"), mock.requests("fine")), (1, 1));
    // It counts against the silent account's health.
    let silent = account(&app, &token, &ids[0]).await;
    assert!(
        silent["stats24h"]["errors"].as_u64().unwrap() >= 1,
        "{silent}"
    );
    app.wait_for_usage_events(1).await;
    let (status, account_id): (i64, String) = app
        .fetch_one("SELECT status, account_id FROM usage_events ORDER BY id DESC LIMIT 1")
        .await;
    assert_eq!((status, account_id.as_str()), (200, ids[1].as_str()));
    for id in &ids {
        app.wait_idle(id).await;
    }
}

/// Where a conversation goes after its account cooled down, per group sticky mode.
async fn home_after_cooldown(mode: &str) -> (u64, u64) {
    let clock = ManualClock::new();
    let app = spawn_app_clocked(TestDb::new(Backend::Sqlite).await, clock.clone(), |s| {
        s.serve.scheduler.overload_cooldown_secs = 1;
        s.serve.scheduler.sticky_grace_secs = 0;
    })
    .await;
    let mock = MockUpstream::start(Behavior::default()).await;
    let token = app.admin_token().await;
    let mut ids = Vec::new();
    for (name, priority) in [("home", 1), ("other", 2)] {
        ids.push(
            app.create_account(
                &token,
                json!({"name": name, "apiKey": name, "baseUrl": mock.url(),
                       "accountType": "group", "priority": priority}),
            )
            .await,
        );
    }
    let (status, group) = app
        .admin_post(
            &token,
            "/admin/account-groups",
            json!({"name": "g", "platform": "claude", "stickyMode": mode}),
        )
        .await;
    assert_eq!(status, 201, "{group}");
    assert_eq!(group["stickyMode"], mode);
    let gid = group["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .admin_send(
            &token,
            Method::PUT,
            &format!("/admin/account-groups/{gid}/members"),
            Some(json!({"accountIds": ids})),
        )
        .await;
    assert_eq!(status, 200);
    let key = app
        .create_key(
            &token,
            json!({"name": "k", "claudeAccountId": format!("group:{gid}")}),
        )
        .await
        .1;
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 10,
        "metadata": {"user_id": "user_x_account__session_0b6c7a2e-1111-4222-8333-444455556666"},
        "messages": [{"role": "user", "content": "hi"}]});
    let send = || {
        app.client
            .post(app.url("/v1/messages"))
            .header("x-api-key", &key)
            .json(&body)
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 200);
    assert_eq!(mock.requests("home"), 1);
    // Its account is overloaded once: failed over, then cooling down.
    mock.set_behavior("home", fault(529, 1));
    assert_eq!(send().await.unwrap().status(), 200);
    assert_eq!(send().await.unwrap().status(), 200);
    // The 1 s cooldown is over once the clock has moved past it.
    clock.advance(Duration::from_millis(1_020));
    let cooling = app
        .relay()
        .pool()
        .soonest_recovery(&[ids[0].as_str().into()], clock.now_ms());
    assert_eq!(cooling, None);
    mock.reset_stats();
    assert_eq!(send().await.unwrap().status(), 200);
    for id in &ids {
        app.wait_idle(id).await;
    }
    (mock.requests("home"), mock.requests("other"))
}

#[tokio::test]
async fn group_sticky_modes_keep_or_move_a_conversation() {
    assert_eq!(
        home_after_cooldown("keep").await,
        (1, 0),
        "kept through the cooldown"
    );
    assert_eq!(home_after_cooldown("move").await, (0, 1), "moved at once");
    assert_eq!(
        home_after_cooldown("grace").await,
        (0, 1),
        "a cooldown longer than the grace moves it"
    );
}
