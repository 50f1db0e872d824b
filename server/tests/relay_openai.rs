//! The OpenAI platform over real HTTP on loopback against the in-repo mock upstream: Chat
//! Completions and the Responses API, plain and streamed, on OpenAI and Azure accounts;
//! usage billing (including the usage chunk the relay asks for and hides); limit refusals in
//! OpenAI's shape; failover and cooldown on 429.

mod common;

use app::types::AccountStatus;
use common::{spawn_app, TestApp};
use mock_upstream::{Behavior, Fault, MockUpstream, MockUsage};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tollgate::pricing::TokenUsage;
use tollgate::relay::control::RelayControl;

const UPSTREAM_KEY: &str = "sk-openai-upstream-1";
const SECOND_KEY: &str = "sk-openai-upstream-2";
const THIRD_KEY: &str = "sk-openai-upstream-3";

struct Setup {
    app: TestApp,
    mock: MockUpstream,
    token: String,
    key: String,
    key_id: String,
    account_id: String,
}

async fn setup_with(behavior: Behavior, account: Value, key_body: Value) -> Setup {
    let app = spawn_app().await;
    let mock = MockUpstream::start(behavior).await;
    let token = app.admin_token().await;
    let mut body = json!({ "name": "openai-1", "platform": "openai", "apiKey": UPSTREAM_KEY, "baseUrl": mock.url() });
    for (k, v) in account.as_object().unwrap() {
        body[k] = v.clone();
    }
    let account_id = app.create_account(&token, body).await;
    let (key_id, key) = app.create_key(&token, key_body).await;
    Setup {
        app,
        mock,
        token,
        key,
        key_id,
        account_id,
    }
}

async fn setup() -> Setup {
    setup_with(Behavior::default(), json!({}), json!({"name": "k"})).await
}

fn chat_body(model: &str, stream: bool) -> Value {
    json!({ "model": model, "stream": stream, "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}] })
}

impl Setup {
    fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.app
            .client
            .post(self.app.url(path))
            .bearer_auth(&self.key)
            .json(body)
    }

    async fn wait_idle(&self) {
        self.app.wait_idle(&self.account_id).await;
    }

    async fn add_account(&self, name: &str, api_key: &str, extra: Value) -> String {
        let mut body = json!({ "name": name, "platform": "openai", "apiKey": api_key, "baseUrl": self.mock.url() });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.app.create_account(&self.token, body).await
    }
}

async fn last_usage(app: &TestApp) -> Value {
    let sql = "SELECT input_tokens, output_tokens, cache_read_tokens, cost_micros, status, platform, error_type
               FROM usage_events ORDER BY id DESC LIMIT 1";
    let row: (i64, i64, i64, i64, i64, String, Option<String>) = app.fetch_one(sql).await;
    json!({ "input": row.0, "output": row.1, "cr": row.2, "cost": row.3, "status": row.4, "platform": row.5, "error": row.6 })
}

fn expected_cost(app: &TestApp, model: &str, input: u64, output: u64, cache_read: u64) -> i64 {
    let usage = TokenUsage {
        input,
        output,
        cache_read,
        ..Default::default()
    };
    app.expected_cost(model, &usage)
}

/// The `data:` payloads of an SSE body.
fn sse_payloads(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn chat_completion_is_passed_through_and_billed() {
    let usage = MockUsage {
        input: 1000,
        output: 42,
        cache_read: 500,
        ..Default::default()
    };
    let s = setup_with(
        Behavior {
            usage,
            ..Default::default()
        },
        json!({}),
        json!({"name": "k"}),
    )
    .await;
    let res = s
        .post("/openai/v1/chat/completions", &chat_body("gpt-4.1", false))
        .header("openai-organization", "org-client")
        .header("openai-beta", "assistants=v2")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-tollgate-quota-remaining"], "unlimited");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["usage"]["prompt_tokens"], 1500);
    assert_eq!(body["usage"]["prompt_tokens_details"]["cached_tokens"], 500);

    let seen = s
        .mock
        .last_request(UPSTREAM_KEY)
        .expect("upstream got the request");
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(
        seen.headers["authorization"],
        format!("Bearer {UPSTREAM_KEY}")
    );
    assert_eq!(seen.headers["openai-beta"], "assistants=v2");
    assert!(
        seen.headers.get("openai-organization").is_none(),
        "client organisation forwarded"
    );
    assert!(
        !format!("{:?}", seen.headers).contains(&s.key),
        "client key leaked upstream"
    );
    let sent: Value = serde_json::from_slice(&seen.body).unwrap();
    assert!(
        sent.get("stream_options").is_none(),
        "non-streaming bodies are not rewritten"
    );

    s.app.wait_for_usage_events(1).await;
    let row = last_usage(&s.app).await;
    assert_eq!(
        (
            row["input"].as_i64(),
            row["output"].as_i64(),
            row["cr"].as_i64()
        ),
        (Some(1000), Some(42), Some(500))
    );
    assert_eq!(row["platform"], "openai");
    assert_eq!(row["cost"], expected_cost(&s.app, "gpt-4.1", 1000, 42, 500));
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
async fn stream_without_include_usage_is_billed_and_the_usage_chunk_hidden() {
    let usage = MockUsage {
        input: 300,
        output: 25,
        cache_read: 100,
        ..Default::default()
    };
    let s = setup_with(
        Behavior {
            usage,
            chunks: 5,
            chunk_gap_ms: 10,
            ..Default::default()
        },
        json!({}),
        json!({"name": "k"}),
    )
    .await;
    let res = s
        .post("/v1/chat/completions", &chat_body("gpt-4.1-mini", true))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let text = res.text().await.unwrap();
    let payloads = sse_payloads(&text);
    assert_eq!(payloads.last().map(String::as_str), Some("[DONE]"));
    for p in &payloads[..payloads.len() - 1] {
        let chunk: Value = serde_json::from_str(p).unwrap();
        assert!(
            !chunk["choices"].as_array().unwrap().is_empty(),
            "usage-only chunk reached the client: {p}"
        );
        assert!(!chunk["usage"].is_object(), "{p}");
    }
    let content: String = payloads[..payloads.len() - 1]
        .iter()
        .filter_map(|p| serde_json::from_str::<Value>(p).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert!(!content.is_empty());
    assert!(
        text.ends_with("data: [DONE]\n\n"),
        "SSE framing kept: {text:?}"
    );

    // The relay asked for the usage chunk the client did not.
    let sent: Value =
        serde_json::from_slice(&s.mock.last_request(UPSTREAM_KEY).unwrap().body).unwrap();
    assert_eq!(sent["stream_options"]["include_usage"], true);

    s.app.wait_for_usage_events(1).await;
    let row = last_usage(&s.app).await;
    assert_eq!(
        (
            row["input"].as_i64(),
            row["output"].as_i64(),
            row["cr"].as_i64()
        ),
        (Some(300), Some(25), Some(100))
    );
    assert_eq!(
        row["cost"],
        expected_cost(&s.app, "gpt-4.1-mini", 300, 25, 100)
    );
    assert!(row["cost"].as_i64().unwrap() > 0);
    s.wait_idle().await;
}

/// Replaces the per-request parts of a mock answer (`chatcmpl-mock<hex>`, `created`).
fn normalise(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    loop {
        let next = [("chatcmpl-mock", 16usize), ("\"created\":", 0)]
            .iter()
            .filter_map(|(pat, len)| rest.find(pat).map(|at| (at, *pat, *len)))
            .min();
        let Some((at, pat, len)) = next else { break };
        out.push_str(&rest[..at + pat.len()]);
        rest = &rest[at + pat.len()..];
        let skip = if len > 0 {
            len
        } else {
            rest.find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len())
        };
        out.push('N');
        rest = &rest[skip..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn stream_with_include_usage_is_passed_through_untouched() {
    let s = setup_with(
        Behavior {
            chunks: 4,
            ..Default::default()
        },
        json!({}),
        json!({"name": "k"}),
    )
    .await;
    let mut body = chat_body("gpt-4.1", true);
    body["stream_options"] = json!({"include_usage": true});
    let direct = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", s.mock.url()))
        .bearer_auth("someone-else")
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let res = s
        .post("/openai/v1/chat/completions", &body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let relayed = res.text().await.unwrap();
    assert_eq!(normalise(&relayed), normalise(&direct));
    assert!(
        relayed.contains("\"choices\":[],\"usage\":{"),
        "the usage chunk the client asked for arrives"
    );
    let seen = s.mock.last_request(UPSTREAM_KEY).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&seen.body).unwrap(),
        body,
        "body forwarded as sent"
    );
    s.app.wait_for_usage_events(1).await;
    assert_eq!(last_usage(&s.app).await["input"], 100);
    s.wait_idle().await;
}

#[tokio::test]
async fn responses_api_plain_and_streamed_at_both_paths() {
    let usage = MockUsage {
        input: 700,
        output: 33,
        cache_read: 300,
        ..Default::default()
    };
    let s = setup_with(
        Behavior {
            usage,
            ..Default::default()
        },
        json!({}),
        json!({"name": "k"}),
    )
    .await;
    let body = json!({"model": "gpt-5", "input": "Say hi", "instructions": "Be brief.", "prompt_cache_key": "conv-1"});
    let res = s.post("/openai/v1/responses", &body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["object"], "response");
    assert_eq!(
        s.mock.last_request(UPSTREAM_KEY).unwrap().path,
        "/v1/responses"
    );
    s.app.wait_for_usage_events(1).await;
    let row = last_usage(&s.app).await;
    assert_eq!(
        (
            row["input"].as_i64(),
            row["output"].as_i64(),
            row["cr"].as_i64()
        ),
        (Some(700), Some(33), Some(300))
    );
    assert_eq!(row["cost"], expected_cost(&s.app, "gpt-5", 700, 33, 300));

    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let res = s.post("/v1/responses", &streamed).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(text.contains("event: response.completed"), "{text}");
    s.app.wait_for_usage_events(2).await;
    let row = last_usage(&s.app).await;
    assert_eq!(
        (
            row["input"].as_i64(),
            row["output"].as_i64(),
            row["cr"].as_i64()
        ),
        (Some(700), Some(33), Some(300))
    );
    s.wait_idle().await;
}

#[tokio::test]
async fn azure_deployments_get_their_own_url_and_header() {
    let account = json!({"azureDeployment": "prod-gpt41"});
    let s = setup_with(Behavior::default(), account, json!({"name": "k"})).await;
    for stream in [false, true] {
        let res = s
            .post("/openai/v1/chat/completions", &chat_body("gpt-4.1", stream))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap();
        assert!(
            !text.contains("\"choices\":[]"),
            "usage chunk hidden on Azure too"
        );
        let seen = s.mock.last_request(UPSTREAM_KEY).unwrap();
        assert_eq!(seen.path, "/openai/deployments/prod-gpt41/chat/completions");
        assert_eq!(seen.query.as_deref(), Some("api-version=2024-10-21"));
        assert_eq!(seen.headers["api-key"], UPSTREAM_KEY);
        assert!(seen.headers.get("authorization").is_none());
    }
    s.app.wait_for_usage_events(2).await;
    let row = last_usage(&s.app).await;
    assert_eq!(
        (row["input"].as_i64(), row["output"].as_i64()),
        (Some(100), Some(20))
    );

    // An explicit api-version is used as set.
    let (status, _) = s
        .app
        .admin_send(
            &s.token,
            reqwest::Method::PATCH,
            &format!("/admin/accounts/{}", s.account_id),
            Some(json!({"azureApiVersion": "2025-01-01-preview"})),
        )
        .await;
    assert_eq!(status, 200);
    let res = s
        .post("/openai/v1/chat/completions", &chat_body("gpt-4.1", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        s.mock.last_request(UPSTREAM_KEY).unwrap().query.as_deref(),
        Some("api-version=2025-01-01-preview")
    );
    s.wait_idle().await;
}

/// A loopback upstream that records the one request it gets and answers a Responses body.
async fn recording_upstream() -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<(String, reqwest::header::HeaderMap, Value)>,
) {
    use axum::extract::Request;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().fallback(move |req: Request| {
        let tx = tx.clone();
        async move {
            let uri = req.uri().to_string();
            let headers = req.headers().clone();
            let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap();
            let _ = tx.send((uri, headers, serde_json::from_slice(&body).unwrap()));
            axum::Json(json!({"object": "response", "status": "completed", "usage": {"input_tokens": 11, "output_tokens": 2}}))
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

#[tokio::test]
async fn azure_responses_use_the_v1_api_with_the_deployment_as_model() {
    let s = setup().await;
    let (url, mut seen) = recording_upstream().await;
    let (status, _) = s
        .app
        .admin_send(
            &s.token,
            reqwest::Method::PATCH,
            &format!("/admin/accounts/{}", s.account_id),
            Some(json!({"azureDeployment": "codex-prod", "baseUrl": url})),
        )
        .await;
    assert_eq!(status, 200);
    let res = s
        .post(
            "/openai/v1/responses",
            &json!({"model": "gpt-5", "input": "hi"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (uri, headers, body) = seen.recv().await.unwrap();
    assert_eq!(uri, "/openai/v1/responses?api-version=preview");
    assert_eq!(headers["api-key"], UPSTREAM_KEY);
    assert_eq!(body["model"], "codex-prod");
    s.app.wait_for_usage_events(1).await;
    assert_eq!(last_usage(&s.app).await["input"], 11);
}

#[tokio::test]
async fn models_list_the_openai_models_the_key_may_use() {
    let s = setup_with(
        Behavior::default(),
        json!({}),
        json!({"name": "k", "allowedModels": ["gpt-5*", "gpt-4.1"]}),
    )
    .await;
    let res = s
        .app
        .client
        .get(s.app.url("/openai/v1/models"))
        .bearer_auth(&s.key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"gpt-5") && ids.contains(&"gpt-4.1"),
        "{ids:?}"
    );
    assert!(
        ids.iter()
            .all(|id| id.starts_with("gpt-5") || *id == "gpt-4.1"),
        "{ids:?}"
    );
    let res = s
        .app
        .client
        .get(s.app.url("/openai/v1/models"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

async fn check_openai_error(
    res: reqwest::Response,
    status: u16,
    ty: &str,
) -> reqwest::header::HeaderMap {
    assert_eq!(res.status().as_u16(), status);
    let headers = res.headers().clone();
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["type"], ty, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    assert!(v.get("type").is_none(), "OpenAI shape, not Anthropic: {v}");
    headers
}

#[tokio::test]
async fn limit_refusals_come_in_openai_shape() {
    let s = setup().await;
    let c = &s.app.client;
    let url = s.app.url("/openai/v1/chat/completions");
    let body = chat_body("gpt-4.1", false);
    check_openai_error(
        c.post(&url).json(&body).send().await.unwrap(),
        401,
        "invalid_request_error",
    )
    .await;
    check_openai_error(
        c.post(&url)
            .bearer_auth("tg_nope")
            .json(&body)
            .send()
            .await
            .unwrap(),
        401,
        "invalid_request_error",
    )
    .await;
    // Azure-style clients send `api-key`.
    assert_eq!(
        c.post(&url)
            .header("api-key", &s.key)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    check_openai_error(
        s.post("/openai/v1/chat/completions", &json!({"messages": []}))
            .send()
            .await
            .unwrap(),
        400,
        "invalid_request_error",
    )
    .await;

    let make = |settings: Value| {
        let app = &s.app;
        let token = s.token.clone();
        async move { app.create_key(&token, settings).await.1 }
    };
    let only_claude = make(json!({"name": "claude only", "permissions": ["claude"]})).await;
    let res = c
        .post(&url)
        .bearer_auth(&only_claude)
        .json(&body)
        .send()
        .await
        .unwrap();
    let headers = check_openai_error(res, 403, "permission_error").await;
    assert!(headers.get("retry-after").is_none());

    let gpt5_only = make(json!({"name": "gpt-5 only", "allowedModels": ["gpt-5"]})).await;
    check_openai_error(
        c.post(&url)
            .bearer_auth(&gpt5_only)
            .json(&body)
            .send()
            .await
            .unwrap(),
        403,
        "permission_error",
    )
    .await;

    // Enough for this small request's input (a request whose input alone costs more than what
    // is left is refused outright), not for its whole cost.
    let tiny_quota = make(json!({"name": "tiny", "quotaLimit": 0.0001})).await;
    assert_eq!(
        c.post(&url)
            .bearer_auth(&tiny_quota)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    s.app.wait_for_usage_events(3).await;
    let res = c
        .post(&url)
        .bearer_auth(&tiny_quota)
        .json(&body)
        .send()
        .await
        .unwrap();
    let headers = check_openai_error(res, 402, "insufficient_quota").await;
    assert!(headers.contains_key("x-tollgate-quota-remaining"));

    let one_a_minute =
        make(json!({"name": "rate", "rateLimitWindow": 1, "rateLimitRequests": 1})).await;
    assert_eq!(
        c.post(&url)
            .bearer_auth(&one_a_minute)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let res = c
        .post(&url)
        .bearer_auth(&one_a_minute)
        .json(&body)
        .send()
        .await
        .unwrap();
    let headers = check_openai_error(res, 429, "rate_limit_error").await;
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(headers["x-ratelimit-remaining-requests"], "0");
    s.wait_idle().await;
}

#[tokio::test]
async fn a_rate_limited_account_cools_down_and_the_request_fails_over() {
    let s = setup().await;
    let second = s
        .add_account("openai-2", SECOND_KEY, json!({"priority": 90}))
        .await;
    let (status, _) = s
        .app
        .admin_send(
            &s.token,
            reqwest::Method::PATCH,
            &format!("/admin/accounts/{}", s.account_id),
            Some(json!({"priority": 10})),
        )
        .await;
    assert_eq!(status, 200);
    // The first account answers 429 with `x-ratelimit-reset-requests: 1s` and no retry-after.
    s.mock.set_behavior(
        UPSTREAM_KEY,
        Behavior {
            fault: Some(Fault::Status {
                status: 429,
                retry_after_secs: None,
            }),
            ..Default::default()
        },
    );
    let before = tollgate::storage::now_ms();
    let res = s
        .post("/openai/v1/chat/completions", &chat_body("gpt-4.1", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "served by the second account");
    assert!(
        res.headers().get("x-ratelimit-reset-requests").is_none(),
        "upstream rate-limit headers never reach the client"
    );
    assert_eq!(s.mock.requests(UPSTREAM_KEY), 1);
    assert_eq!(s.mock.requests(SECOND_KEY), 1);
    let (state, until, _) = s.app.relay().pool().display_status(&s.account_id, true);
    assert_eq!(state, AccountStatus::RateLimited);
    let until = until.expect("a cooldown");
    assert!(
        until >= before + 900 && until <= tollgate::storage::now_ms() + 1_500,
        "reset from x-ratelimit-reset-requests: {}",
        until - before
    );

    // While it cools down, requests go straight to the other account.
    let res = s
        .post("/openai/v1/chat/completions", &chat_body("gpt-4.1", true))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let _ = res.text().await.unwrap();
    assert_eq!(s.mock.requests(UPSTREAM_KEY), 1);
    assert_eq!(s.mock.requests(SECOND_KEY), 2);
    s.app.wait_for_usage_events(2).await;
    let row = last_usage(&s.app).await;
    assert_eq!(row["status"], 200);
    assert_eq!(
        s.app
            .count(&format!(
                "SELECT COUNT(*) FROM usage_events WHERE account_id = '{second}'"
            ))
            .await,
        2
    );

    // Every account failing: the client gets the last 429 in OpenAI's shape.
    s.mock.set_behavior(
        SECOND_KEY,
        Behavior {
            fault: Some(Fault::Status {
                status: 503,
                retry_after_secs: None,
            }),
            ..Default::default()
        },
    );
    let res = s
        .post("/openai/v1/chat/completions", &chat_body("gpt-4.1", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v: Value = res.json().await.unwrap();
    assert!(v["error"].is_object(), "{v}");
    assert_eq!(
        s.app.relay().pool().display_status(&second, true).0,
        AccountStatus::Overloaded
    );
}

#[tokio::test]
async fn dedicated_and_group_bindings_choose_the_openai_account() {
    let s = setup().await;
    let dedicated = s
        .add_account(
            "openai-dedicated",
            SECOND_KEY,
            json!({"accountType": "dedicated"}),
        )
        .await;
    let (_, bound) = s
        .app
        .create_key(
            &s.token,
            json!({"name": "bound", "openaiAccountId": dedicated}),
        )
        .await;
    for _ in 0..3 {
        let res = s
            .app
            .client
            .post(s.app.url("/openai/v1/chat/completions"))
            .bearer_auth(&bound)
            .json(&chat_body("gpt-4.1", false))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    assert_eq!(s.mock.requests(SECOND_KEY), 3);
    assert_eq!(s.mock.requests(UPSTREAM_KEY), 0);
    // A pool key never lands on the dedicated account.
    assert_eq!(
        s.post("/openai/v1/chat/completions", &chat_body("gpt-4.1", false))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        (s.mock.requests(UPSTREAM_KEY), s.mock.requests(SECOND_KEY)),
        (1, 3)
    );

    let member = s
        .add_account("openai-grouped", THIRD_KEY, json!({"accountType": "group"}))
        .await;
    let (status, group) = s
        .app
        .admin_post(
            &s.token,
            "/admin/account-groups",
            json!({"name": "gpt", "platform": "openai"}),
        )
        .await;
    assert_eq!(status, 201, "{group}");
    let gid = group["id"].as_str().unwrap();
    let (status, v) = s
        .app
        .admin_send(
            &s.token,
            reqwest::Method::PUT,
            &format!("/admin/account-groups/{gid}/members"),
            Some(json!({"accountIds": [member]})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (_, grouped) = s
        .app
        .create_key(
            &s.token,
            json!({"name": "grouped", "openaiAccountId": format!("group:{gid}")}),
        )
        .await;
    let res = s
        .app
        .client
        .post(s.app.url("/v1/chat/completions"))
        .bearer_auth(&grouped)
        .json(&chat_body("gpt-4.1", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(s.mock.requests(THIRD_KEY), 1);
    assert_eq!(
        (s.mock.requests(UPSTREAM_KEY), s.mock.requests(SECOND_KEY)),
        (1, 3)
    );
}

#[tokio::test]
async fn gemini_models_at_the_root_go_to_gemini_accounts_not_openai() {
    // With no Gemini account configured, the request is refused in OpenAI's shape; the OpenAI
    // account never sees it (the translated pair itself is in relay_cross.rs).
    let s = setup().await;
    let res = s
        .post("/v1/chat/completions", &chat_body("gemini-2.5-pro", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let v: Value = res.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no gemini accounts are configured"),
        "{v}"
    );
    assert_eq!(s.mock.total_requests(), 0);
}
