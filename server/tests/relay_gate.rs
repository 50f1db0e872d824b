//! What anyone on the network can throw at the relay before a key is known: malformed and
//! unknown keys (no database lookup for the first, a limit per address for both), more requests
//! or bytes than the process may hold, and connections that send their headers or body too
//! slowly. Each refusal comes in the route's own error shape.

mod common;

use std::time::Duration;

use common::{messages_body, spawn_app_clocked, spawn_app_with, Backend, TestApp, TestDb};
use mock_upstream::{Behavior, MockUpstream};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tollgate::clock::ManualClock;

async fn with_account(app: &TestApp, mock: &MockUpstream) -> String {
    let token = app.admin_token().await;
    app.create_account(
        &token,
        json!({"name": "a", "apiKey": "a", "baseUrl": mock.url()}),
    )
    .await;
    app.create_key(&token, json!({"name": "k"})).await.1
}

/// Sends raw bytes and reads whatever comes back until the server closes (or `wait` passes).
async fn raw(app: &TestApp, bytes: &[u8], wait: Duration) -> String {
    let mut tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(bytes).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(wait, tcp.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn malformed_keys_cost_no_lookup_and_unknown_keys_are_limited_per_address() {
    let clock = ManualClock::new();
    let app = spawn_app_clocked(TestDb::new(Backend::Sqlite).await, clock.clone(), |_| {}).await;
    let mock = MockUpstream::start(Behavior::default()).await;
    let key = with_account(&app, &mock).await;
    let send = |k: String, path: &'static str, header: &'static str| {
        let body = if path.starts_with("/gemini") {
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
        } else {
            messages_body("claude-sonnet-4-5", false)
        };
        app.client
            .post(app.url(path))
            .header(header, k)
            .json(&body)
            .send()
    };
    // Not the shape of a key: refused without a lookup (nothing remembered as unknown).
    for bad in ["sk-ant-whatever", "tg_short", &"x".repeat(5000)] {
        let res = send(bad.to_string(), "/v1/messages", "x-api-key")
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    assert_eq!(app.relay.unknown_keys_remembered(), 0);
    // The right shape, unknown: one lookup, then remembered.
    let unknown = format!("tg_{}", "A".repeat(43));
    let res = send(unknown.clone(), "/v1/messages", "x-api-key")
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(app.relay.unknown_keys_remembered(), 1);
    // 20 failures in a burst in all (3 above + 1), then the address is refused, whatever key
    // it presents, in the route's shape.
    for i in 0..16 {
        let res = send(format!("tg_{i:0>43}"), "/v1/messages", "x-api-key")
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "failure {}", i + 5);
    }
    let res = send(key.clone(), "/v1/messages", "x-api-key")
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3).contains(&retry), "{retry}");
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error");
    let res = send(
        key.clone(),
        "/gemini/v1beta/models/gemini-2.5-pro:generateContent",
        "x-goog-api-key",
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 429);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(mock.total_requests(), 0);
    // Time refills the address's failures: once `Retry-After` has passed, it is served again.
    clock.advance(Duration::from_secs(retry));
    let res = send(key.clone(), "/v1/messages", "x-api-key")
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn requests_in_flight_are_bounded_process_wide() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.serve.guard.max_in_flight = 2).await;
    let mock = MockUpstream::start(Behavior {
        chunks: 20,
        chunk_gap_ms: 50,
        ..Default::default()
    })
    .await;
    let key = with_account(&app, &mock).await;
    let stream = || {
        app.client
            .post(app.url("/v1/messages"))
            .header("x-api-key", &key)
            .json(&messages_body("claude-sonnet-4-5", true))
            .send()
    };
    let a = stream().await.unwrap();
    let b = stream().await.unwrap();
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    let c = stream().await.unwrap();
    assert_eq!(c.status(), 503);
    assert_eq!(c.headers()["retry-after"], "2");
    let v: Value = c.json().await.unwrap();
    assert_eq!(v["error"]["type"], "overloaded_error");
    // Streams hold their place until they end; then it is free again.
    let _ = (a.bytes().await, b.bytes().await);
    for _ in 0..200 {
        if app.relay.held().budget() == (0, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(app.relay.held().budget(), (0, 0));
    assert_eq!(stream().await.unwrap().status(), 200);
}

#[tokio::test]
async fn request_bytes_are_bounded_process_wide() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.serve.guard.max_buffered_mb = 1).await;
    let mock = MockUpstream::start(Behavior::default()).await;
    let key = with_account(&app, &mock).await;
    let big = json!({"model": "claude-sonnet-4-5", "max_tokens": 10,
        "messages": [{"role": "user", "content": "x".repeat(1_200_000)}]});
    // Declared up front.
    let res = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", &key)
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "2");
    // Streamed without a length: refused while it is read.
    let bytes = serde_json::to_vec(&big).unwrap();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let res = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", &key)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["type"], "overloaded_error");
    assert_eq!(mock.total_requests(), 0);
    assert_eq!(app.relay.held().budget(), (0, 0));
    // A body that fits is served.
    let res = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", &key)
        .json(&messages_body("claude-sonnet-4-5", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn slow_headers_and_slow_bodies_are_cut_and_bodies_wait_for_the_key() {
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.serve.guard.header_timeout_secs = 1;
        s.serve.guard.body_timeout_secs = 1;
    })
    .await;
    let mock = MockUpstream::start(Behavior::default()).await;
    let key = with_account(&app, &mock).await;
    // Headers that never end: the connection is closed.
    let started = std::time::Instant::now();
    let answer = raw(
        &app,
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: ",
        Duration::from_secs(10),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed after the header timeout: {answer:?}"
    );
    // An unknown key with a body announced but never sent: answered at once, unread.
    let started = std::time::Instant::now();
    let answer = raw(
        &app,
        format!(
            "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: tg_{}\r\ncontent-type: application/json\r\ncontent-length: 30000000\r\n\r\n",
            "B".repeat(43)
        )
        .as_bytes(),
        Duration::from_millis(800),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(started.elapsed() < Duration::from_millis(900));
    // A known key whose body trickles: 408 after the body timeout.
    let answer = raw(
        &app,
        format!(
            "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: {key}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{\"model\""
        )
        .as_bytes(),
        Duration::from_secs(10),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("timeout_error"), "{answer}");
    assert_eq!(mock.total_requests(), 0);
}

#[tokio::test]
async fn a_key_that_would_be_refused_anyway_is_refused_before_its_body() {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let mock = MockUpstream::start(Behavior {
        chunks: 20,
        chunk_gap_ms: 50,
        ..Default::default()
    })
    .await;
    let token = app.admin_token().await;
    app.create_account(
        &token,
        json!({"name": "a", "apiKey": "a", "baseUrl": mock.url()}),
    )
    .await;
    let (_, key) = app
        .create_key(&token, json!({"name": "one", "concurrencyLimit": 1}))
        .await;
    let held = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", &key)
        .json(&messages_body("claude-sonnet-4-5", true))
        .send()
        .await
        .unwrap();
    assert_eq!(held.status(), 200);
    let answer = raw(
        &app,
        format!(
            "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: {key}\r\ncontent-type: application/json\r\ncontent-length: 30000000\r\n\r\n"
        )
        .as_bytes(),
        Duration::from_millis(800),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(answer.contains("concurrency limit"), "{answer}");
    drop(held);
}

#[tokio::test]
async fn the_busiest_routes_skip_the_router_but_answer_as_it_would() {
    // The listener hands these to their handler through the gate without the router: each
    // still refuses a missing key in its protocol's shape (a path dropped from the table would
    // not), other methods still get the router's 405, and a path that only looks like one is
    // still left to the router.
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let anthropic = [
        "/v1/messages",
        "/v1/messages/count_tokens",
        "/api/v1/messages",
        "/api/v1/messages/count_tokens",
        "/claude/v1/messages",
        "/claude/v1/messages/count_tokens",
    ];
    let openai = [
        "/v1/chat/completions",
        "/openai/v1/chat/completions",
        "/v1/responses",
        "/openai/v1/responses",
        "/openai/responses",
    ];
    for path in anthropic.iter().chain(&openai) {
        let res = app
            .client
            .post(app.url(&format!("{path}?beta=true")))
            .json(&messages_body("claude-sonnet-4-5", false))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{path}");
        let v: Value = res.json().await.unwrap();
        if anthropic.contains(path) {
            assert_eq!(v["type"], "error", "{path}: {v}");
            assert_eq!(v["error"]["type"], "authentication_error", "{path}: {v}");
        } else {
            assert_eq!(v["error"]["code"], "invalid_api_key", "{path}: {v}");
        }
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 405, "GET {path}");
        let res = app
            .client
            .post(app.url(&format!("{path}/")))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        // The dashboard's deny-by-default layer, not a relay handler, answers it.
        assert_eq!(res.status(), 401, "{path}/");
        let body = res.text().await.unwrap();
        assert!(
            !body.contains("authentication_error") && !body.contains("invalid_api_key"),
            "{path}/: {body}"
        );
    }
}
