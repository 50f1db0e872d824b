//! `GET /metrics` over real HTTP: the token gate, and the counters and gauges after traffic
//! through the in-repo mock upstream.

mod common;

use std::time::Duration;

use common::{messages_body, spawn_app, spawn_app_with, Backend, TestApp};
use futures::StreamExt;
use mock_upstream::{Behavior, Fault, MockUpstream};
use serde_json::json;
use tollgate::secret::Secret;

const TOKEN: &str = "scrape-token-for-tests";
const BUSY_KEY: &str = "sk-ant-busy-account";
const STEADY_KEY: &str = "sk-ant-steady-account";

async fn app_with_token() -> TestApp {
    spawn_app_with(Backend::Sqlite, |s| {
        s.serve.ops.metrics_token = Some(Secret::new(TOKEN.into()))
    })
    .await
}

async fn scrape(app: &TestApp) -> String {
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    res.text().await.unwrap()
}

/// The value of the sample written exactly as `series` (name and labels in exposition order).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .map(|v| v.parse().unwrap())
}

fn has(text: &str, series: &str, expected: f64) {
    assert_eq!(value(text, series), Some(expected), "{series} in:\n{text}");
}

#[tokio::test]
async fn metrics_are_404_without_a_token_and_401_without_the_right_one() {
    let plain = spawn_app().await;
    let res = plain
        .client
        .get(plain.url("/metrics"))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        404,
        "no METRICS_TOKEN: the endpoint does not exist"
    );
    plain.stop().await;

    let app = app_with_token().await;
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("scrape-token-for-test")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "a prefix of the token is not the token");
    // A dashboard session or admin token is no substitute.
    let admin = app.admin_token().await;
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let text = scrape(&app).await;
    has(&text, "tollgate_key_slots_in_use", 0.0);
    has(&text, "tollgate_webhook_dropped_total", 0.0);
    app.stop().await;
}

#[tokio::test]
async fn counters_and_gauges_follow_the_traffic() {
    let app = app_with_token().await;
    let mock = MockUpstream::start(Behavior::default()).await;
    mock.set_behavior(
        BUSY_KEY,
        Behavior {
            fault: Some(Fault::Status {
                status: 529,
                retry_after_secs: None,
            }),
            ..Default::default()
        },
    );
    let token = app.admin_token().await;
    // The busy account is tried first (lower priority number) and fails over to the steady one.
    let busy = app
        .create_account(
            &token,
            json!({ "name": "busy", "apiKey": BUSY_KEY, "baseUrl": mock.url(), "priority": 1 }),
        )
        .await;
    let steady = app
        .create_account(&token, json!({ "name": "steady", "apiKey": STEADY_KEY, "baseUrl": mock.url(), "priority": 10 }))
        .await;
    let (_, key) = app
        .create_key(
            &token,
            json!({"name": "m", "concurrencyLimit": 1, "concurrentRequestQueueEnabled": true,
                   "concurrentRequestQueueMaxSize": 5, "concurrentRequestQueueTimeoutMs": 20000}),
        )
        .await;
    let send = |model: &str, stream: bool| {
        app.client
            .post(app.url("/v1/messages"))
            .header("x-api-key", &key)
            .header("anthropic-version", "2023-06-01")
            .json(&messages_body(model, stream))
            .send()
    };

    let res = send("claude-sonnet-4-5", false).await.unwrap();
    assert_eq!(res.status(), 200, "failover hid the 529");
    res.bytes().await.unwrap();
    let res = send("a-model-nobody-prices", false).await.unwrap();
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap();
    app.wait_for_usage_events(2).await;

    let text = scrape(&app).await;
    let attempts = |id: &str, name: &str, status: u16| {
        format!("tollgate_upstream_attempts_total{{platform=\"claude\",account_id=\"{id}\",account=\"{name}\",status=\"{status}\"}}")
    };
    has(&text, &attempts(&busy, "busy", 529), 1.0);
    has(&text, &attempts(&steady, "steady", 200), 2.0);
    let requests = |model: &str| {
        format!("tollgate_requests_total{{platform=\"claude\",model=\"{model}\",account_id=\"{steady}\",account=\"steady\",status=\"200\"}}")
    };
    has(&text, &requests("claude-sonnet-4-5"), 1.0);
    has(&text, &requests("other"), 1.0);
    assert!(
        !text.contains("a-model-nobody-prices"),
        "unpriced models collapse to `other`"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("tollgate_requests_total") && l.contains(&busy)),
        "the client never saw the busy account's answer"
    );
    // The mock reports 100 input and 20 output tokens per answer.
    has(
        &text,
        "tollgate_tokens_total{platform=\"claude\",model=\"claude-sonnet-4-5\",kind=\"input\"}",
        100.0,
    );
    has(
        &text,
        "tollgate_tokens_total{platform=\"claude\",model=\"claude-sonnet-4-5\",kind=\"output\"}",
        20.0,
    );
    has(
        &text,
        "tollgate_tokens_total{platform=\"claude\",model=\"other\",kind=\"cache_read\"}",
        0.0,
    );
    let cost = value(
        &text,
        "tollgate_cost_micro_usd_total{platform=\"claude\",model=\"claude-sonnet-4-5\"}",
    )
    .unwrap();
    assert!(cost > 0.0);
    has(
        &text,
        "tollgate_request_duration_seconds_count{platform=\"claude\",status_class=\"2xx\"}",
        2.0,
    );
    has(&text, "tollgate_request_duration_seconds_bucket{platform=\"claude\",status_class=\"2xx\",le=\"+Inf\"}", 2.0);
    has(&text, &format!("tollgate_account_status{{platform=\"claude\",account_id=\"{busy}\",account=\"busy\",status=\"overloaded\"}}"), 1.0);
    has(&text, &format!("tollgate_account_status{{platform=\"claude\",account_id=\"{steady}\",account=\"steady\",status=\"active\"}}"), 1.0);
    let cooldown = value(&text, &format!("tollgate_account_cooldown_seconds{{platform=\"claude\",account_id=\"{busy}\",account=\"busy\"}}")).unwrap();
    // The first 529 cools the account for the short first step (30 s), not the old 10 minutes.
    assert!(
        cooldown > 20.0 && cooldown <= 30.0,
        "the 529 cooldown shows: {cooldown}"
    );

    // A slow stream holds the key's only slot and one request in flight on the steady
    // account; a second request waits in the key's queue.
    mock.set_behavior(
        STEADY_KEY,
        Behavior {
            chunks: 30,
            chunk_gap_ms: 50,
            ..Default::default()
        },
    );
    let streaming = send("claude-sonnet-4-5", true).await.unwrap();
    assert_eq!(streaming.status(), 200);
    let queued = tokio::spawn(send("claude-sonnet-4-5", false));
    let in_flight = format!("tollgate_account_in_flight{{platform=\"claude\",account_id=\"{steady}\",account=\"steady\"}}");
    let mut seen = String::new();
    for _ in 0..100 {
        seen = scrape(&app).await;
        if value(&seen, "tollgate_key_queue_waiting") == Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    has(&seen, &in_flight, 1.0);
    has(&seen, "tollgate_key_slots_in_use", 1.0);
    has(&seen, "tollgate_key_queue_waiting", 1.0);
    let mut body = streaming.bytes_stream();
    while let Some(chunk) = body.next().await {
        chunk.unwrap();
    }
    let second = queued.await.unwrap().unwrap();
    assert_eq!(second.status(), 200);
    second.bytes().await.unwrap();
    app.wait_for_usage_events(4).await;
    let text = scrape(&app).await;
    has(&text, &in_flight, 0.0);
    has(&text, "tollgate_key_queue_waiting", 0.0);
    has(&text, &requests("claude-sonnet-4-5"), 3.0);
    has(
        &text,
        "tollgate_request_ttft_seconds_count{platform=\"claude\",status_class=\"2xx\"}",
        4.0,
    );
    assert!(value(&text, "tollgate_usage_writer_pending").is_some());
    has(&text, "tollgate_usage_writer_spooled", 0.0);
    has(&text, "tollgate_usage_writer_database_up", 1.0);
    has(&text, "tollgate_usage_dead_letters_total", 0.0);
    app.stop().await;
}
