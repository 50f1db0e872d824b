//! Billing a hostile key holder cannot dodge, over real HTTP on loopback against the in-repo
//! mock upstream: model names refused at the door in each protocol's shape, answers without
//! usage billed from an estimate and flagged, streams cut before their usage billed on every
//! platform, a request whose input the key cannot pay refused, strict mode, answers × `n`,
//! server tools refused per key, and mapped models billed at the dearer price.

mod common;

use common::{spawn_app, spawn_app_with, Backend, TestApp};
use futures::StreamExt;
use mock_upstream::{Behavior, Fault, MockUpstream};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tollgate::pricing::TokenUsage;
use tollgate::relay::control::RelayControl;

const CLAUDE_KEY: &str = "sk-ant-billing-1";
const OPENAI_KEY: &str = "sk-openai-billing-1";
const GEMINI_KEY: &str = "AIza-billing-1";

struct Setup {
    app: TestApp,
    mock: MockUpstream,
    token: String,
    key: String,
    key_id: String,
}

/// One account per platform on one mock, and a key made from `key_body`.
async fn setup_on(app: TestApp, behavior: Behavior, key_body: Value, claude: Value) -> Setup {
    let mock = MockUpstream::start(behavior).await;
    let token = app.admin_token().await;
    let mut account = json!({ "name": "claude-1", "apiKey": CLAUDE_KEY, "baseUrl": mock.url() });
    for (k, v) in claude.as_object().unwrap() {
        account[k] = v.clone();
    }
    app.create_account(&token, account).await;
    app.create_account(
        &token,
        json!({ "name": "openai-1", "platform": "openai", "apiKey": OPENAI_KEY, "baseUrl": mock.url() }),
    )
    .await;
    app.create_account(
        &token,
        json!({ "name": "gemini-1", "platform": "gemini", "apiKey": GEMINI_KEY, "baseUrl": mock.url() }),
    )
    .await;
    let (key_id, key) = app.create_key(&token, key_body).await;
    Setup {
        app,
        mock,
        token,
        key,
        key_id,
    }
}

async fn setup(behavior: Behavior, key_body: Value) -> Setup {
    setup_on(spawn_app().await, behavior, key_body, json!({})).await
}

fn messages(model: &str, stream: bool) -> Value {
    json!({ "model": model, "max_tokens": 1024, "stream": stream,
            "messages": [{"role": "user", "content": "Hello"}] })
}

fn chat(model: &str, stream: bool) -> Value {
    json!({ "model": model, "stream": stream, "messages": [{"role": "user", "content": "Hello"}] })
}

fn generate() -> Value {
    json!({ "contents": [{"role": "user", "parts": [{"text": "Hello"}]}],
            "generationConfig": {"maxOutputTokens": 256} })
}

impl Setup {
    fn claude(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.app
            .client
            .post(self.app.url(path))
            .header("x-api-key", &self.key)
            .json(body)
    }

    fn openai(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.app
            .client
            .post(self.app.url(path))
            .bearer_auth(&self.key)
            .json(body)
    }

    fn gemini(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.app
            .client
            .post(self.app.url(path))
            .header("x-goog-api-key", &self.key)
            .json(body)
    }

    /// The `n`-th usage event (1-based, in order of writing) once it is written.
    async fn event(&self, n: i64) -> (i64, i64, i64, bool, String) {
        self.app.wait_for_usage_events(n).await;
        let sql = format!(
            "SELECT input_tokens, output_tokens, cost_micros, usage_estimated, model
             FROM usage_events ORDER BY id LIMIT 1 OFFSET {}",
            n - 1
        );
        self.app.fetch_one(&sql).await
    }
}

/// Reads a body to its end, whether it ends cleanly or is cut.
async fn drain(res: reqwest::Response) {
    let mut body = res.bytes_stream();
    while let Some(Ok(_)) = body.next().await {}
}

#[tokio::test]
async fn bad_model_names_are_refused_in_each_protocols_shape_and_never_recorded() {
    let s = setup(Behavior::default(), json!({"name": "k"})).await;
    let nul = "claude-\u{0}x";
    let long = "m".repeat(129);
    for path in ["/v1/messages", "/v1/messages/count_tokens"] {
        for model in [nul, long.as_str(), "a\nb"] {
            let res = s
                .claude(path, &messages(model, false))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path} {model:?}");
            let v: Value = res.json().await.unwrap();
            assert_eq!(v["type"], "error");
            assert_eq!(v["error"]["type"], "invalid_request_error");
        }
    }
    for path in ["/openai/v1/chat/completions", "/v1/chat/completions"] {
        let res = s.openai(path, &chat(nul, false)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error", "{path}: {v}");
    }
    let res = s
        .openai(
            "/openai/v1/responses",
            &json!({"model": long, "input": "hi"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_request"
    );
    // Gemini takes the model from the path: an over-long name, and a segment that does not
    // decode to UTF-8, get Google's shape, never the framework's extractor text.
    for path in [
        format!("/gemini/v1beta/models/{long}:generateContent"),
        "/gemini/v1beta/models/%FF%FE:generateContent".to_owned(),
        "/gemini/v1beta/models/gemini-%00:generateContent".to_owned(),
    ] {
        let res = s.gemini(&path, &generate()).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"]["status"], "INVALID_ARGUMENT", "{path}: {v}");
        assert_eq!(v["error"]["code"], 400);
    }
    let res = s
        .app
        .client
        .get(s.app.url("/gemini/v1beta/models/%FF"))
        .header("x-goog-api-key", &s.key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["status"],
        "INVALID_ARGUMENT"
    );
    // One valid request afterwards: it is the only event written.
    let res = s
        .claude("/v1/messages", &messages("claude-sonnet-4-5", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(s.event(1).await.4, "claude-sonnet-4-5");
    assert_eq!(s.app.count("SELECT COUNT(*) FROM usage_events").await, 1);
    assert_eq!(
        s.mock.total_requests(),
        1,
        "no refused name reached the upstream"
    );
}

/// A compatible upstream that ignores `stream_options`, and a Gemini answer without
/// `usageMetadata`, are billed from an estimate and flagged; `fields=` never reaches Google.
async fn answers_without_usage_are_estimated(backend: Backend) {
    let s = setup_on(
        spawn_app_with(backend, |_| {}).await,
        Behavior {
            omit_usage: true,
            chunks: 8,
            ..Default::default()
        },
        json!({"name": "k"}),
        json!({}),
    )
    .await;
    let mut n = 0;
    for stream in [true, false] {
        let res = s
            .openai("/openai/v1/chat/completions", &chat("gpt-4o", stream))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        drain(res).await;
        n += 1;
        let (input, output, cost, estimated, _) = s.event(n).await;
        assert!(estimated, "chat stream={stream}");
        assert!(
            input > 0 && output > 0 && cost > 0,
            "chat stream={stream}: {input} {output} {cost}"
        );
    }
    for path in [
        "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&fields=candidates",
        "/gemini/v1beta/models/gemini-2.5-flash:generateContent?fields=candidates.content",
    ] {
        let res = s.gemini(path, &generate()).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        drain(res).await;
        n += 1;
        let (input, output, cost, estimated, _) = s.event(n).await;
        assert!(estimated, "{path}");
        assert!(input > 0 && output > 0 && cost > 0, "{path}");
        let query = s.mock.last_request(GEMINI_KEY).unwrap().query;
        assert!(
            query.as_deref().is_none_or(|q| !q.contains("fields")),
            "only alt is forwarded: {query:?}"
        );
    }
    assert_eq!(
        s.mock.last_request(GEMINI_KEY).unwrap().query,
        None,
        "a whole answer forwards no query"
    );
    // The key holder sees how many requests were estimated.
    let usage: Value = s
        .app
        .client
        .get(s.app.url("/v1/usage"))
        .bearer_auth(&s.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(usage["usage"]["estimatedRequests"], 4, "{usage}");
    // With usage, nothing is estimated.
    s.mock.set_defaults(Behavior::default());
    let res = s
        .openai("/openai/v1/chat/completions", &chat("gpt-4o", true))
        .send()
        .await
        .unwrap();
    drain(res).await;
    n += 1;
    let (input, output, _, estimated, _) = s.event(n).await;
    assert!(!estimated);
    assert_eq!((input, output), (100, 20));
}

#[tokio::test]
async fn answers_without_usage_are_estimated_on_sqlite() {
    answers_without_usage_are_estimated(Backend::Sqlite).await;
}

#[tokio::test]
async fn answers_without_usage_are_estimated_on_postgres() {
    answers_without_usage_are_estimated(Backend::Postgres).await;
}

/// The upstream resets every stream after two text deltas, before any usage chunk: each
/// platform bills more than $0 and says the bill is (partly) estimated.
#[tokio::test]
async fn streams_cut_before_their_usage_are_billed_on_every_platform() {
    let s = setup(
        Behavior {
            chunks: 6,
            fault: Some(Fault::ResetMidStream { after_chunks: 2 }),
            ..Default::default()
        },
        json!({"name": "k"}),
    )
    .await;
    let requests = [
        (
            "claude",
            s.claude("/v1/messages", &messages("claude-sonnet-4-5", true)),
        ),
        (
            "chat",
            s.openai("/openai/v1/chat/completions", &chat("gpt-4o", true)),
        ),
        (
            "responses",
            s.openai(
                "/openai/v1/responses",
                &json!({"model": "gpt-4o", "input": "Hello", "stream": true}),
            ),
        ),
        (
            "gemini",
            s.gemini(
                "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                &generate(),
            ),
        ),
    ];
    for (i, (name, req)) in requests.into_iter().enumerate() {
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200, "{name}");
        drain(res).await;
        let (input, output, cost, estimated, _) = s.event(i as i64 + 1).await;
        assert!(cost > 0, "{name}: billed {cost}");
        assert!(input > 0 && output > 0, "{name}: {input} in, {output} out");
        if name != "gemini" {
            // Gemini reports running counts in every chunk; the others had none yet for output.
            assert!(estimated, "{name}");
        }
    }
    let (reserved, slots) = s.app.relay().held().holding();
    assert_eq!((reserved, slots), (0, 0), "nothing left held");
}

#[tokio::test]
async fn a_request_whose_input_alone_exceeds_what_is_left_gets_402() {
    // $0.001 left; a ~3,000-token Opus prompt costs ~$0.045 of input alone.
    let s = setup(
        Behavior::default(),
        json!({"name": "k", "quotaLimit": 0.001}),
    )
    .await;
    let mut body = messages("claude-opus-4-1", false);
    body["messages"][0]["content"] = json!("word ".repeat(2_400));
    let res = s.claude("/v1/messages", &body).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYMENT_REQUIRED);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["type"], "billing_error");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("input alone"), "{message}");
    assert!(message.contains("$0.0010"), "names what is left: {message}");
    assert_eq!(s.mock.total_requests(), 0);
    // A small request still goes through (the overshoot is at most its output).
    let res = s
        .claude("/v1/messages", &messages("claude-haiku-4-5", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Same in OpenAI's shape, on a daily budget.
    let (_, key) = s
        .app
        .create_key(&s.token, json!({"name": "daily", "dailyCostLimit": 0.001}))
        .await;
    let mut body = chat("gpt-4o", false);
    body["messages"][0]["content"] = json!("word ".repeat(4_000));
    let res = s
        .app
        .client
        .post(s.app.url("/openai/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYMENT_REQUIRED);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "insufficient_quota");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("today's budget"));
}

#[tokio::test]
async fn strict_mode_lowers_the_output_ceiling_to_what_is_left() {
    let s = setup(
        Behavior::default(),
        json!({"name": "strict", "quotaLimit": 0.05, "strictMaxTokens": true}),
    )
    .await;
    let (_, v) = s
        .app
        .admin_send(
            &s.token,
            reqwest::Method::GET,
            &format!("/admin/api-keys/{}", s.key_id),
            None,
        )
        .await;
    assert_eq!(v["strictMaxTokens"], true);
    let mut body = messages("claude-sonnet-4-5", false);
    body["max_tokens"] = json!(64_000);
    let res = s.claude("/v1/messages", &body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let sent: Value =
        serde_json::from_slice(&s.mock.last_request(CLAUDE_KEY).unwrap().body).unwrap();
    let lowered = sent["max_tokens"].as_u64().unwrap();
    // $0.05 at $15/MTok output is at most 3,333 tokens, less the prompt's share.
    assert!(lowered > 1_000 && lowered < 3_334, "max_tokens {lowered}");
    let res = s
        .gemini(
            "/gemini/v1beta/models/gemini-2.5-pro:generateContent",
            &json!({"contents": [{"parts": [{"text": "hi"}]}],
                    "generationConfig": {"maxOutputTokens": 65_536, "temperature": 0.5}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let sent: Value =
        serde_json::from_slice(&s.mock.last_request(GEMINI_KEY).unwrap().body).unwrap();
    let config = &sent["generationConfig"];
    assert!(
        config["maxOutputTokens"].as_u64().unwrap() < 65_536,
        "{config}"
    );
    assert_eq!(config["temperature"], 0.5);
    // Without strict mode (the default) the client's ceiling goes out unchanged.
    let (_, key) = s
        .app
        .create_key(&s.token, json!({"name": "lenient", "quotaLimit": 0.05}))
        .await;
    let res = s
        .app
        .client
        .post(s.app.url("/v1/messages"))
        .header("x-api-key", &key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let sent: Value =
        serde_json::from_slice(&s.mock.last_request(CLAUDE_KEY).unwrap().body).unwrap();
    assert_eq!(sent["max_tokens"], 64_000);
}

#[tokio::test]
async fn server_tools_are_refused_on_keys_that_do_not_allow_them() {
    let s = setup(
        Behavior::default(),
        json!({"name": "no-tools", "allowServerTools": false}),
    )
    .await;
    let mut body = messages("claude-sonnet-4-5", false);
    body["tools"] = json!([{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}]);
    let res = s.claude("/v1/messages", &body).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["type"],
        "permission_error"
    );
    let res = s
        .openai(
            "/openai/v1/chat/completions",
            &chat("gpt-4o-search-preview", false),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = s
        .gemini(
            "/gemini/v1beta/models/gemini-2.5-flash:generateContent",
            &json!({"contents": [{"parts": [{"text": "hi"}]}], "tools": [{"googleSearch": {}}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(s.mock.total_requests(), 0);
    // Plain function tools are fine.
    body["tools"] = json!([{"name": "f", "input_schema": {"type": "object"}}]);
    let res = s.claude("/v1/messages", &body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // The trial preset refuses server tools; a key without a preset allows them.
    let (_, trial) = s
        .app
        .admin_post(
            &s.token,
            "/admin/api-keys",
            json!({"name": "trial", "presetId": "preset-trial"}),
        )
        .await;
    assert_eq!(trial["allowServerTools"], false, "{trial}");
    let (_, plain) = s
        .app
        .admin_post(&s.token, "/admin/api-keys", json!({"name": "plain"}))
        .await;
    assert_eq!(plain["allowServerTools"], true);
    assert_eq!(plain["strictMaxTokens"], false);
}

#[tokio::test]
async fn answers_times_n_are_reserved() {
    let s = setup(
        Behavior {
            latency_ms: 300,
            ..Default::default()
        },
        json!({"name": "k", "quotaLimit": 100.0}),
    )
    .await;
    let mut reserved = Vec::new();
    for n in [1, 4] {
        let mut body = chat("gpt-4o", false);
        body["n"] = json!(n);
        body["max_tokens"] = json!(10_000);
        let req = s.openai("/openai/v1/chat/completions", &body).send();
        let pending = tokio::spawn(req);
        let mut seen = 0;
        for _ in 0..200 {
            seen = s.app.relay().key_usage(&s.key_id).reserved;
            if seen > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        reserved.push(seen);
        drain(pending.await.unwrap().unwrap()).await;
    }
    // gpt-4o output is $10/MTok: each extra answer reserves 10,000 more output tokens ($0.10).
    assert!(
        reserved[1] - reserved[0] >= 3 * 100_000,
        "reserved {reserved:?}"
    );
}

#[tokio::test]
async fn a_cheap_name_mapped_to_a_dear_model_is_billed_at_the_dear_price() {
    let s = setup_on(
        spawn_app().await,
        Behavior::default(),
        json!({"name": "k"}),
        json!({"modelMapping": {"claude-haiku-4-5": "claude-opus-4-1"}}),
    )
    .await;
    let res = s
        .claude("/v1/messages", &messages("claude-haiku-4-5", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (input, output, cost, _, model) = s.event(1).await;
    assert_eq!(
        model, "claude-haiku-4-5",
        "the event names what the client asked for"
    );
    let usage = TokenUsage {
        input: input as u64,
        output: output as u64,
        ..Default::default()
    };
    assert_eq!(cost, s.app.expected_cost("claude-opus-4-1", &usage));
    assert!(cost > s.app.expected_cost("claude-haiku-4-5", &usage));
}
