//! The Claude relay over real HTTP on loopback against the in-repo mock upstream.

mod common;

use std::time::{Duration, Instant};

use common::{messages_body, spawn_app, spawn_app_with, Backend, TestApp};
use futures::StreamExt;
use mock_upstream::{Behavior, Fault, MockUpstream, MockUsage};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tollgate::pricing::TokenUsage;

struct Setup {
    app: TestApp,
    mock: MockUpstream,
    key: String,
    key_id: String,
    account_id: String,
}

const UPSTREAM_KEY: &str = "sk-ant-upstream-secret-1";

async fn setup_with(app: TestApp, behavior: Behavior, key_body: Value) -> Setup {
    let mock = MockUpstream::start(behavior).await;
    let token = app.admin_token().await;
    let account_id = app
        .create_account(
            &token,
            json!({ "name": "claude-1", "apiKey": UPSTREAM_KEY, "baseUrl": mock.url() }),
        )
        .await;
    let (key_id, key) = app.create_key(&token, key_body).await;
    Setup {
        app,
        mock,
        key,
        key_id,
        account_id,
    }
}

async fn setup() -> Setup {
    setup_with(
        spawn_app().await,
        Behavior::default(),
        json!({ "name": "test key" }),
    )
    .await
}

impl Setup {
    fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.app
            .client
            .post(self.app.url(path))
            .header("x-api-key", &self.key)
            .header("anthropic-version", "2023-06-01")
            .json(body)
    }

    async fn wait_idle(&self) {
        self.app.wait_idle(&self.account_id).await;
    }
}

async fn usage_row(app: &TestApp) -> Value {
    let row: (i64, i64, i64, i64, i64, i64, i64, bool, bool, Option<String>) = app
        .fetch_one(
            "SELECT input_tokens, output_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens,
                    cost_micros, status, stream, client_disconnected, error_type
             FROM usage_events ORDER BY id DESC LIMIT 1",
        )
        .await;
    json!({
        "input": row.0, "output": row.1, "cw5m": row.2, "cw1h": row.3, "cr": row.4,
        "cost": row.5, "status": row.6, "stream": row.7, "disconnected": row.8, "error": row.9,
    })
}

fn expected_cost(app: &TestApp, model: &str, u: &MockUsage) -> i64 {
    let usage = TokenUsage {
        input: u.input,
        output: u.output,
        cache_write_5m: u.cache_write_5m,
        cache_write_1h: u.cache_write_1h,
        cache_read: u.cache_read,
    };
    app.expected_cost(model, &usage)
}

#[tokio::test]
async fn non_streaming_answer_is_passed_through_and_billed() {
    let usage = MockUsage {
        input: 1200,
        output: 345,
        cache_write_5m: 100,
        cache_write_1h: 200,
        cache_read: 5000,
    };
    let s = setup_with(
        spawn_app().await,
        Behavior {
            usage,
            ..Default::default()
        },
        json!({"name": "k"}),
    )
    .await;
    let res = s
        .post(
            "/v1/messages?beta=true",
            &messages_body("claude-sonnet-4-5", false),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["x-tollgate-quota-remaining"]
            .to_str()
            .unwrap()
            == "unlimited"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["usage"]["input_tokens"], 1200);

    // What the upstream saw: the account's credential, never the client's; the query kept.
    let seen = s
        .mock
        .last_request(UPSTREAM_KEY)
        .expect("upstream got the request");
    assert_eq!(seen.query.as_deref(), Some("beta=true"));
    assert_eq!(seen.headers["x-api-key"], UPSTREAM_KEY);
    assert_eq!(seen.headers["anthropic-version"], "2023-06-01");
    assert!(seen.headers.get("authorization").is_none());
    assert!(
        !format!("{:?}", seen.headers).contains(&s.key),
        "client key leaked upstream"
    );

    s.app.wait_for_usage_events(1).await;
    let row = usage_row(&s.app).await;
    assert_eq!(row["input"], 1200);
    assert_eq!(row["output"], 345);
    assert_eq!(row["cw5m"], 100);
    assert_eq!(row["cw1h"], 200);
    assert_eq!(row["cr"], 5000);
    assert_eq!(row["status"], 200);
    assert_eq!(
        row["cost"],
        expected_cost(&s.app, "claude-sonnet-4-5", &usage)
    );
    let spent = s
        .app
        .count(&format!(
            "SELECT spent_micros FROM api_keys WHERE id = '{}'",
            s.key_id
        ))
        .await;
    assert_eq!(spent, row["cost"].as_i64().unwrap());
    s.wait_idle().await;
}

#[tokio::test]
async fn stream_is_byte_identical_chunk_by_chunk_and_billed() {
    let usage = MockUsage {
        input: 50,
        output: 40,
        cache_write_5m: 0,
        cache_write_1h: 0,
        cache_read: 0,
    };
    let behavior = Behavior {
        chunks: 8,
        chunk_gap_ms: 40,
        usage,
        ..Default::default()
    };
    let s = setup_with(spawn_app().await, behavior.clone(), json!({"name": "k"})).await;

    // The same stream fetched from the mock directly, for comparison.
    let direct = reqwest::Client::new()
        .post(format!("{}/v1/messages", s.mock.url()))
        .header("x-api-key", "someone-else")
        .json(&messages_body("claude-opus-4-8", true))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();

    let res = s
        .post("/v1/messages", &messages_body("claude-opus-4-8", true))
        .header("accept-encoding", "gzip, deflate, br, zstd")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut arrivals = Vec::new();
    let mut relayed = Vec::new();
    let mut stream = res.bytes_stream();
    let start = Instant::now();
    while let Some(chunk) = stream.next().await {
        arrivals.push(start.elapsed());
        relayed.extend_from_slice(&chunk.unwrap());
    }
    // Identical except for the per-message id the mock numbers.
    let norm = |b: &[u8]| {
        let t = String::from_utf8(b.to_vec()).unwrap();
        regex_lite(&t)
    };
    assert_eq!(norm(&relayed), norm(&direct));
    // Deltas came 40 ms apart and were not coalesced.
    assert!(arrivals.len() >= 8, "{} chunks", arrivals.len());
    let spread = *arrivals.last().unwrap() - arrivals[0];
    assert!(
        spread >= Duration::from_millis(250),
        "stream was buffered: {spread:?}"
    );

    s.app.wait_for_usage_events(1).await;
    let row = usage_row(&s.app).await;
    assert_eq!(
        (row["input"].as_i64(), row["output"].as_i64()),
        (Some(50), Some(40))
    );
    assert_eq!(row["stream"], true);
    assert_eq!(
        row["cost"],
        expected_cost(&s.app, "claude-opus-4-8", &usage)
    );
    s.wait_idle().await;
}

/// Replaces `msg_mock_<n>` ids so two answers can be compared.
fn regex_lite(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    let mut rest = t;
    while let Some(i) = rest.find("msg_mock_") {
        out.push_str(&rest[..i]);
        out.push_str("msg_mock_N");
        rest = rest[i + 9..].trim_start_matches(|c: char| c.is_ascii_alphanumeric());
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn client_disconnect_mid_stream_bills_partial_usage_and_frees_everything() {
    let usage = MockUsage {
        input: 777,
        output: 100,
        ..Default::default()
    };
    let behavior = Behavior {
        chunks: 50,
        chunk_gap_ms: 30,
        usage,
        ..Default::default()
    };
    let s = setup_with(
        spawn_app().await,
        behavior,
        json!({"name": "k", "concurrencyLimit": 1, "quotaLimit": 10.0}),
    )
    .await;
    let res = s
        .post("/v1/messages", &messages_body("claude-sonnet-4-5", true))
        .send()
        .await
        .unwrap();
    let mut stream = res.bytes_stream();
    let _ = stream.next().await.unwrap().unwrap();
    let _ = stream.next().await.unwrap().unwrap();
    drop(stream);
    s.app.wait_for_usage_events(1).await;
    let row = usage_row(&s.app).await;
    assert_eq!(row["disconnected"], true);
    assert_eq!(row["input"], 777, "input from message_start is billed");
    assert!(row["cost"].as_i64().unwrap() > 0);
    s.wait_idle().await;
    // The upstream stream was stopped too.
    for _ in 0..100 {
        if s.mock.in_flight() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(s.mock.in_flight(), 0, "upstream stream still open");
    // The single concurrency slot is free again.
    let res = s
        .post("/v1/messages", &messages_body("claude-sonnet-4-5", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn compressed_upstream_stream_is_metered() {
    for enc in ["gzip", "br", "zstd"] {
        let usage = MockUsage {
            input: 11,
            output: 22,
            ..Default::default()
        };
        let behavior = Behavior {
            compress: Some(enc.into()),
            usage,
            ..Default::default()
        };
        let s = setup_with(spawn_app().await, behavior, json!({"name": "k"})).await;
        let res = s
            .post("/v1/messages", &messages_body("claude-sonnet-4-5", true))
            .header("accept-encoding", "gzip, deflate, br, zstd")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-encoding"], enc);
        let raw = res.bytes().await.unwrap();
        let plain = match enc {
            "gzip" => {
                use std::io::Read;
                let mut out = String::new();
                flate2::read::GzDecoder::new(&raw[..])
                    .read_to_string(&mut out)
                    .unwrap();
                out
            }
            "br" => {
                use std::io::Read;
                let mut out = String::new();
                brotli::Decompressor::new(&raw[..], 4096)
                    .read_to_string(&mut out)
                    .unwrap();
                out
            }
            _ => String::from_utf8(zstd::decode_all(&raw[..]).unwrap()).unwrap(),
        };
        assert!(
            plain.contains("message_stop"),
            "{enc}: client can decode the stream"
        );
        s.app.wait_for_usage_events(1).await;
        let row = usage_row(&s.app).await;
        assert_eq!(
            (row["input"].as_i64(), row["output"].as_i64()),
            (Some(11), Some(22)),
            "{enc}"
        );
    }
}

#[tokio::test]
async fn errors_in_anthropic_shape() {
    let s = setup_with(
        spawn_app_with(Backend::Sqlite, |c| c.serve.relay.body_limit_mb = 1).await,
        Behavior::default(),
        json!({"name": "k"}),
    )
    .await;
    let check = |res: reqwest::Response, status: u16, ty: &'static str| async move {
        assert_eq!(res.status().as_u16(), status);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["type"], "error", "{v}");
        assert_eq!(v["error"]["type"], ty, "{v}");
        v["error"]["message"].as_str().unwrap().to_owned()
    };
    let url = s.app.url("/v1/messages");
    let c = &s.app.client;
    check(
        c.post(&url)
            .json(&messages_body("claude-sonnet-4-5", false))
            .send()
            .await
            .unwrap(),
        401,
        "authentication_error",
    )
    .await;
    check(
        c.post(&url)
            .header("x-api-key", "tg_nope")
            .json(&messages_body("m", false))
            .send()
            .await
            .unwrap(),
        401,
        "authentication_error",
    )
    .await;
    // Bearer works like x-api-key (ANTHROPIC_AUTH_TOKEN).
    let ok = c
        .post(&url)
        .bearer_auth(&s.key)
        .json(&messages_body("claude-sonnet-4-5", false))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let msg = check(
        c.post(&url)
            .header("x-api-key", &s.key)
            .header("content-type", "application/json")
            .body("{\"model\": ")
            .send()
            .await
            .unwrap(),
        400,
        "invalid_request_error",
    )
    .await;
    assert!(msg.contains("malformed JSON"), "{msg}");
    let msg = check(
        c.post(&url)
            .header("x-api-key", &s.key)
            .json(&json!({"max_tokens": 5}))
            .send()
            .await
            .unwrap(),
        400,
        "invalid_request_error",
    )
    .await;
    assert!(msg.contains("model"), "{msg}");
    let big = json!({"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": "x".repeat(2 << 20)}]});
    check(
        c.post(&url)
            .header("x-api-key", &s.key)
            .json(&big)
            .send()
            .await
            .unwrap(),
        413,
        "request_too_large",
    )
    .await;
    // Upstream errors that no retry applies to pass through with status and body.
    s.mock.set_behavior(
        UPSTREAM_KEY,
        Behavior {
            fault: Some(Fault::Status {
                status: 400,
                retry_after_secs: None,
            }),
            ..Default::default()
        },
    );
    let res = c
        .post(&url)
        .header("x-api-key", &s.key)
        .json(&messages_body("claude-sonnet-4-5", false))
        .send()
        .await
        .unwrap();
    check(res, 400, "invalid_request_error").await;
}

#[tokio::test]
async fn no_usable_account_is_503_overloaded_with_retry_after() {
    let s = setup().await;
    let token = s.app.admin_token().await;
    let (status, _) = s
        .app
        .admin_send(
            &token,
            reqwest::Method::PATCH,
            &format!("/admin/accounts/{}", s.account_id),
            Some(json!({"isActive": false})),
        )
        .await;
    assert_eq!(status, 200);
    let res = s
        .post("/v1/messages", &messages_body("claude-sonnet-4-5", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.headers().contains_key("retry-after"));
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["type"], "overloaded_error");
    s.wait_idle().await;
}

#[tokio::test]
async fn claude_code_shapes_work() {
    let s = setup().await;
    // HEAD / answers at once.
    let res = s.app.client.head(s.app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // The paths claude-relay-service users configure.
    for path in ["/api/v1/messages?beta=true", "/claude/v1/messages"] {
        let body = json!({
            "model": "claude-opus-4-8",
            "max_tokens": 64000,
            "stream": true,
            "metadata": {"user_id": "{\"device_id\":\"d\",\"session_id\":\"7f3a\"}"},
            "system": [{"type": "text", "text": "You are Claude Code", "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        });
        let res = s
            .post(path, &body)
            .header("x-claude-code-session-id", "7f3a")
            .header(
                "anthropic-beta",
                "claude-code-20250219,interleaved-thinking-2025-05-14",
            )
            .header("accept-encoding", "gzip, deflate, br, zstd")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let text = res.text().await.unwrap();
        assert!(text.contains("message_stop"));
        let seen = s.mock.last_request(UPSTREAM_KEY).unwrap();
        assert_eq!(seen.path, "/v1/messages");
        assert_eq!(
            seen.headers["anthropic-beta"],
            "claude-code-20250219,interleaved-thinking-2025-05-14"
        );
    }
    // Models and token counting.
    let models: Value = s
        .app
        .client
        .get(s.app.url("/v1/models"))
        .header("x-api-key", &s.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(models["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == "claude-opus-4-8"));
    let res = s
        .post(
            "/v1/messages/count_tokens",
            &messages_body("claude-opus-4-8", false),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert!(v["input_tokens"].as_u64().unwrap() > 0);
    s.wait_idle().await;
}

#[tokio::test]
async fn accounts_behind_http_and_socks_proxies() {
    let s = setup().await;
    let token = s.app.admin_token().await;
    let http_proxy =
        mock_upstream::proxy::ConnectProxy::start(Some(("u".into(), "p".into()))).await;
    let (status, v) = s
        .app
        .admin_send(
            &token,
            reqwest::Method::PATCH,
            &format!("/admin/accounts/{}", s.account_id),
            Some(json!({"proxy": http_proxy.url()})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert!(
        !v["proxy"].as_str().unwrap().contains(":p@"),
        "proxy password masked: {v}"
    );
    let res = s
        .post("/v1/messages", &messages_body("claude-sonnet-4-5", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(http_proxy.tunnels() >= 1, "went through the CONNECT proxy");

    let socks = mock_upstream::proxy::Socks5Proxy::start(None).await;
    s.app
        .admin_send(
            &token,
            reqwest::Method::PATCH,
            &format!("/admin/accounts/{}", s.account_id),
            Some(json!({"proxy": socks.url()})),
        )
        .await;
    let res = s
        .post("/v1/messages", &messages_body("claude-sonnet-4-5", true))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("message_stop"));
    assert!(socks.tunnels() >= 1, "went through the SOCKS5 proxy");

    // The account test goes through the proxy too and reports latency.
    let (status, v) = s
        .app
        .admin_post(
            &token,
            &format!("/admin/accounts/{}/test", s.account_id),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["ok"], true, "{v}");
    let bad = s
        .app
        .admin_send(
            &token,
            reqwest::Method::PATCH,
            &format!("/admin/accounts/{}", s.account_id),
            Some(json!({"proxy": "ftp://x"})),
        )
        .await;
    assert_eq!(bad.0, 400);
    assert_eq!(bad.1["error"]["field"], "proxy");
}

#[tokio::test]
async fn postgres_backend_relays_and_bills_too() {
    let s = setup_with(
        spawn_app_with(Backend::Postgres, |_| {}).await,
        Behavior::default(),
        json!({"name": "k"}),
    )
    .await;
    let res = s
        .post("/v1/messages", &messages_body("claude-sonnet-4-5", true))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let _ = res.text().await.unwrap();
    s.app.wait_for_usage_events(1).await;
    let row = usage_row(&s.app).await;
    assert!(row["cost"].as_i64().unwrap() > 0);
    s.wait_idle().await;
}
