//! The Gemini platform over real HTTP on loopback against the in-repo mock upstream:
//! generateContent, both stream framings, countTokens and the model list; the key as header
//! or `?key=`; usage billing; limit refusals in Google's error shape; failover and cooldown.

mod common;

use app::types::AccountStatus;
use common::{spawn_app, TestApp};
use mock_upstream::{Behavior, Fault, MockUpstream, MockUsage};
use serde_json::{json, Value};
use tollgate::pricing::TokenUsage;
use tollgate::relay::control::RelayControl;

const UPSTREAM_KEY: &str = "AIza-upstream-gemini-1";
const SECOND_KEY: &str = "AIza-upstream-gemini-2";

struct Setup {
    app: TestApp,
    mock: MockUpstream,
    token: String,
    key: String,
    account_id: String,
}

async fn setup_with(behavior: Behavior, key_body: Value) -> Setup {
    let app = spawn_app().await;
    let mock = MockUpstream::start(behavior).await;
    let token = app.admin_token().await;
    let account_id = app
        .create_account(&token, json!({ "name": "gemini-1", "platform": "gemini", "apiKey": UPSTREAM_KEY, "baseUrl": mock.url() }))
        .await;
    let (_, key) = app.create_key(&token, key_body).await;
    Setup {
        app,
        mock,
        token,
        key,
        account_id,
    }
}

async fn setup() -> Setup {
    setup_with(Behavior::default(), json!({"name": "k"})).await
}

fn generate_body() -> Value {
    json!({
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": "Hello"}]}],
        "generationConfig": {"maxOutputTokens": 256},
    })
}

impl Setup {
    fn post(&self, path_and_query: &str) -> reqwest::RequestBuilder {
        self.app
            .client
            .post(self.app.url(path_and_query))
            .header("x-goog-api-key", &self.key)
            .json(&generate_body())
    }

    async fn wait_idle(&self) {
        self.app.wait_idle(&self.account_id).await;
    }
}

async fn last_usage(app: &TestApp) -> Value {
    let sql = "SELECT input_tokens, output_tokens, cache_read_tokens, cost_micros, status, platform, stream
               FROM usage_events ORDER BY id DESC LIMIT 1";
    let row: (i64, i64, i64, i64, i64, String, bool) = app.fetch_one(sql).await;
    json!({ "input": row.0, "output": row.1, "cr": row.2, "cost": row.3, "status": row.4, "platform": row.5, "stream": row.6 })
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

#[tokio::test]
async fn generate_content_is_passed_through_and_billed() {
    let usage = MockUsage {
        input: 900,
        output: 64,
        cache_read: 100,
        ..Default::default()
    };
    let s = setup_with(
        Behavior {
            usage,
            ..Default::default()
        },
        json!({"name": "k"}),
    )
    .await;
    let res = s
        .post("/gemini/v1beta/models/gemini-2.5-flash:generateContent")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-tollgate-quota-remaining"], "unlimited");
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["candidates"][0]["content"]["role"], "model");
    assert_eq!(v["usageMetadata"]["promptTokenCount"], 1000);

    let seen = s
        .mock
        .last_request(UPSTREAM_KEY)
        .expect("upstream got the request");
    assert_eq!(seen.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(seen.query, None);
    assert_eq!(seen.headers["x-goog-api-key"], UPSTREAM_KEY);
    assert!(
        !format!("{:?}", seen.headers).contains(&s.key),
        "client key leaked upstream"
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&seen.body).unwrap(),
        generate_body()
    );

    s.app.wait_for_usage_events(1).await;
    let row = last_usage(&s.app).await;
    assert_eq!(
        (
            row["input"].as_i64(),
            row["output"].as_i64(),
            row["cr"].as_i64()
        ),
        (Some(900), Some(64), Some(100))
    );
    assert_eq!(row["platform"], "gemini");
    assert_eq!(
        row["cost"],
        expected_cost(&s.app, "gemini-2.5-flash", 900, 64, 100)
    );
    s.wait_idle().await;
}

#[tokio::test]
async fn sse_stream_with_the_key_in_the_query() {
    let usage = MockUsage {
        input: 400,
        output: 90,
        ..Default::default()
    };
    let s = setup_with(
        Behavior {
            usage,
            chunks: 6,
            chunk_gap_ms: 10,
            ..Default::default()
        },
        json!({"name": "k"}),
    )
    .await;
    let path = format!(
        "/gemini/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key={}",
        s.key
    );
    let res = s
        .app
        .client
        .post(s.app.url(&path))
        .json(&generate_body())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let text = res.text().await.unwrap();
    let events: Vec<Value> = text
        .split("\r\n\r\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(events.len(), 6);
    assert_eq!(
        events.last().unwrap()["candidates"][0]["finishReason"],
        "STOP"
    );

    let seen = s.mock.last_request(UPSTREAM_KEY).unwrap();
    assert_eq!(
        seen.path,
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent"
    );
    assert_eq!(
        seen.query.as_deref(),
        Some("alt=sse"),
        "the client's key= is not forwarded"
    );

    s.app.wait_for_usage_events(1).await;
    let row = last_usage(&s.app).await;
    assert_eq!(
        (row["input"].as_i64(), row["output"].as_i64()),
        (Some(400), Some(90)),
        "the last cumulative usage counts"
    );
    assert_eq!(row["stream"], true);
    assert_eq!(
        row["cost"],
        expected_cost(&s.app, "gemini-2.5-pro", 400, 90, 0)
    );
    s.wait_idle().await;
}

#[tokio::test]
async fn json_array_stream_is_passed_through_and_billed() {
    let usage = MockUsage {
        input: 50,
        output: 30,
        cache_read: 10,
        ..Default::default()
    };
    let s = setup_with(
        Behavior {
            usage,
            chunks: 4,
            ..Default::default()
        },
        json!({"name": "k"}),
    )
    .await;
    let res = s
        .post("/gemini/v1/models/gemini-2.5-flash:streamGenerateContent")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let chunks: Vec<Value> = res.json().await.unwrap();
    assert_eq!(chunks.len(), 4);
    let seen = s.mock.last_request(UPSTREAM_KEY).unwrap();
    assert_eq!(
        seen.path,
        "/v1/models/gemini-2.5-flash:streamGenerateContent"
    );
    assert_eq!(seen.query, None);
    s.app.wait_for_usage_events(1).await;
    let row = last_usage(&s.app).await;
    assert_eq!(
        (
            row["input"].as_i64(),
            row["output"].as_i64(),
            row["cr"].as_i64()
        ),
        (Some(50), Some(30), Some(10))
    );
    s.wait_idle().await;
}

#[tokio::test]
async fn count_tokens_and_models_are_free() {
    let s = setup().await;
    let res = s
        .post("/gemini/v1beta/models/gemini-2.5-flash:countTokens")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert!(v["totalTokens"].as_u64().unwrap() > 0);
    s.app.wait_for_usage_events(1).await;
    assert_eq!(last_usage(&s.app).await["cost"], 0);

    let res = s
        .app
        .client
        .get(s.app.url(&format!("/gemini/v1beta/models?key={}", s.key)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    let names: Vec<&str> = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"models/gemini-2.5-pro"), "{names:?}");
    // Gemini's own names (gemma and lyria are Gemini API models too), never a router's
    // namespace, nor another platform's model.
    assert!(
        names.iter().all(|n| n.starts_with("models/")
            && !n["models/".len()..].contains('/')
            && !n.contains("claude")
            && !n.contains("gpt")),
        "{names:?}"
    );
    let res = s
        .app
        .client
        .get(s.app.url("/gemini/v1beta/models/gemini-2.5-pro"))
        .header("x-goog-api-key", &s.key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["name"], "models/gemini-2.5-pro");
    assert!(v["supportedGenerationMethods"]
        .as_array()
        .unwrap()
        .contains(&json!("streamGenerateContent")));
    let res = s
        .app
        .client
        .get(s.app.url("/gemini/v1beta/models/gpt-5"))
        .header("x-goog-api-key", &s.key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // Methods the relay does not bill are refused, never forwarded.
    let res = s
        .post("/gemini/v1beta/models/gemini-embedding-001:embedContent")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["status"], "NOT_FOUND");
    assert_eq!(s.mock.requests(UPSTREAM_KEY), 1);
}

#[tokio::test]
async fn model_mapping_renames_the_model_in_the_path() {
    let s = setup().await;
    let (status, _) = s
        .app
        .admin_send(
            &s.token,
            reqwest::Method::PATCH,
            &format!("/admin/accounts/{}", s.account_id),
            Some(json!({"modelMapping": {"gemini-latest": "gemini-2.5-pro"}})),
        )
        .await;
    assert_eq!(status, 200);
    let res = s
        .post("/gemini/v1beta/models/gemini-latest:generateContent")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        s.mock.last_request(UPSTREAM_KEY).unwrap().path,
        "/v1beta/models/gemini-2.5-pro:generateContent"
    );
}

async fn check_gemini_error(
    res: reqwest::Response,
    status: u16,
    grpc: &str,
) -> reqwest::header::HeaderMap {
    assert_eq!(res.status().as_u16(), status);
    let headers = res.headers().clone();
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], status, "{v}");
    assert_eq!(v["error"]["status"], grpc, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    headers
}

#[tokio::test]
async fn limit_refusals_come_in_google_shape() {
    let s = setup().await;
    let c = &s.app.client;
    let url = s
        .app
        .url("/gemini/v1beta/models/gemini-2.5-flash:generateContent");
    let body = generate_body();
    check_gemini_error(
        c.post(&url).json(&body).send().await.unwrap(),
        401,
        "UNAUTHENTICATED",
    )
    .await;
    check_gemini_error(
        c.post(format!("{url}?key=tg_nope"))
            .json(&body)
            .send()
            .await
            .unwrap(),
        401,
        "UNAUTHENTICATED",
    )
    .await;
    check_gemini_error(
        s.post("/gemini/v1beta/models/gemini-2.5-flash:generateContent")
            .body("{oops")
            .send()
            .await
            .unwrap(),
        400,
        "INVALID_ARGUMENT",
    )
    .await;

    let make = |settings: Value| {
        let app = &s.app;
        let token = s.token.clone();
        async move { app.create_key(&token, settings).await.1 }
    };
    let send = |key: String| {
        c.post(&url)
            .header("x-goog-api-key", key)
            .json(&body)
            .send()
    };
    let only_openai = make(json!({"name": "openai only", "permissions": ["openai"]})).await;
    check_gemini_error(send(only_openai).await.unwrap(), 403, "PERMISSION_DENIED").await;
    let pro_only = make(json!({"name": "pro only", "allowedModels": ["gemini-2.5-pro"]})).await;
    check_gemini_error(send(pro_only).await.unwrap(), 403, "PERMISSION_DENIED").await;

    // Enough for this small request's input (a request whose input alone costs more than what
    // is left is refused outright), not for its whole cost.
    let tiny_quota = make(json!({"name": "tiny", "quotaLimit": 0.00005})).await;
    assert_eq!(send(tiny_quota.clone()).await.unwrap().status(), 200);
    s.app.wait_for_usage_events(3).await;
    check_gemini_error(send(tiny_quota).await.unwrap(), 402, "FAILED_PRECONDITION").await;

    let one_a_minute =
        make(json!({"name": "rate", "rateLimitWindow": 1, "rateLimitRequests": 1})).await;
    assert_eq!(send(one_a_minute.clone()).await.unwrap().status(), 200);
    let headers =
        check_gemini_error(send(one_a_minute).await.unwrap(), 429, "RESOURCE_EXHAUSTED").await;
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    s.wait_idle().await;
}

#[tokio::test]
async fn resource_exhausted_cools_the_account_down_and_fails_over() {
    let s = setup().await;
    let second = s
        .app
        .create_account(&s.token, json!({ "name": "gemini-2", "platform": "gemini", "apiKey": SECOND_KEY, "baseUrl": s.mock.url(), "priority": 90 }))
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
    s.mock.set_behavior(
        UPSTREAM_KEY,
        Behavior {
            fault: Some(Fault::Status {
                status: 429,
                retry_after_secs: Some(30),
            }),
            ..Default::default()
        },
    );
    let before = tollgate::storage::now_ms();
    let res = s
        .post("/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "served by the second account");
    assert!(res.text().await.unwrap().contains("STOP"));
    assert_eq!(
        (s.mock.requests(UPSTREAM_KEY), s.mock.requests(SECOND_KEY)),
        (1, 1)
    );
    let (state, until, message) = s.app.relay().pool().display_status(&s.account_id, true);
    assert_eq!(state, AccountStatus::RateLimited, "{message}");
    let until = until.expect("a cooldown");
    assert!(
        until >= before + 29_000 && until <= tollgate::storage::now_ms() + 31_000,
        "{}",
        until - before
    );

    // Cooling down: the next request goes straight to the second account.
    let res = s
        .post("/gemini/v1beta/models/gemini-2.5-flash:generateContent")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        (s.mock.requests(UPSTREAM_KEY), s.mock.requests(SECOND_KEY)),
        (1, 2)
    );

    // 503 UNAVAILABLE is an overload; with every account out, the client gets Google's shape.
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
        .post("/gemini/v1beta/models/gemini-2.5-flash:generateContent")
        .send()
        .await
        .unwrap();
    check_gemini_error(res, 503, "UNAVAILABLE").await;
    assert_eq!(
        s.app.relay().pool().display_status(&second, true).0,
        AccountStatus::Overloaded
    );
}
