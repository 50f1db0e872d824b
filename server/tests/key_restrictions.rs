//! Key-level restrictions over real HTTP: allowed clients (recognised from what Claude Code,
//! Codex CLI and Gemini CLI send), allowed client addresses (IPv4/IPv6, the forwarded address
//! with TRUST_PROXY_HEADERS), daily cost caps per model family; refused in each protocol's
//! error shape naming the restriction; REST validation, presets, both databases.

mod common;

use common::{messages_body, spawn_app_with, Backend, TestApp};
use mock_upstream::{Behavior, MockUpstream};
use reqwest::Method;
use serde_json::{json, Value};

const CLAUDE_CODE_UA: &str = "claude-cli/2.0.14 (external, cli)";
const CODEX_UA: &str = "codex_cli_rs/0.46.0 (Mac OS 15.6.1; arm64) iTerm.app/3.6.2";
const GEMINI_UA: &str = "GeminiCLI/0.9.0 (darwin; arm64)";

struct Setup {
    app: TestApp,
    token: String,
    _mock: MockUpstream,
}

async fn setup(backend: Backend, trust_proxy: bool) -> Setup {
    let mock = MockUpstream::start(Behavior::default()).await;
    let app = spawn_app_with(backend, |s| s.serve.trust_proxy_headers = trust_proxy).await;
    let token = app.admin_token().await;
    for platform in ["claude", "openai", "gemini"] {
        app.create_account(
            &token,
            json!({"name": platform, "platform": platform, "apiKey": format!("up-{platform}"), "baseUrl": mock.url()}),
        )
        .await;
    }
    Setup {
        app,
        token,
        _mock: mock,
    }
}

impl Setup {
    async fn key(&self, body: Value) -> String {
        self.app.create_key(&self.token, body).await.1
    }

    async fn messages(&self, key: &str, ua: &str, forwarded: Option<&str>) -> reqwest::Response {
        let mut rb = self
            .app
            .client
            .post(self.app.url("/v1/messages"))
            .header("x-api-key", key)
            .header("user-agent", ua)
            .json(&messages_body("claude-sonnet-4-5", false));
        if let Some(f) = forwarded {
            rb = rb.header("x-forwarded-for", f);
        }
        rb.send().await.unwrap()
    }

    async fn chat(&self, key: &str, ua: &str) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url("/openai/v1/chat/completions"))
            .bearer_auth(key)
            .header("user-agent", ua)
            .json(&json!({"model": "gpt-4.1", "messages": [{"role": "user", "content": "Hi"}]}))
            .send()
            .await
            .unwrap()
    }

    async fn responses(&self, key: &str, ua: &str) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url("/openai/v1/responses"))
            .bearer_auth(key)
            .header("user-agent", ua)
            .json(&json!({"model": "gpt-5", "input": "Hi"}))
            .send()
            .await
            .unwrap()
    }

    async fn gemini(&self, key: &str, ua: &str) -> reqwest::Response {
        self.app
            .client
            .post(
                self.app
                    .url("/gemini/v1beta/models/gemini-2.5-flash:generateContent"),
            )
            .header("x-goog-api-key", key)
            .header("user-agent", ua)
            .json(&json!({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}))
            .send()
            .await
            .unwrap()
    }
}

async fn refused(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status(), status);
    res.json().await.unwrap()
}

#[tokio::test]
async fn allowed_clients_are_recognised_and_refused_in_each_protocols_shape() {
    let s = setup(Backend::Sqlite, false).await;
    let cards = s
        .key(json!({"name": "cc-card", "allowedClients": ["claude_code"]}))
        .await;
    assert_eq!(s.messages(&cards, CLAUDE_CODE_UA, None).await.status(), 200);
    // Anthropic shape.
    let v = refused(s.messages(&cards, "Anthropic/JS 0.65.0", None).await, 403).await;
    assert_eq!(
        (v["type"].as_str(), v["error"]["type"].as_str()),
        (Some("error"), Some("permission_error")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("allowedClients"),
        "{v}"
    );
    // OpenAI shape, naming the client it was taken for.
    let v = refused(s.chat(&cards, CODEX_UA).await, 403).await;
    assert_eq!(v["error"]["type"], "permission_error", "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("allowedClients") && message.contains("codex_cli"),
        "{v}"
    );
    // Gemini shape.
    let v = refused(s.gemini(&cards, GEMINI_UA).await, 403).await;
    assert_eq!(v["error"]["status"], "PERMISSION_DENIED", "{v}");
    // Model lists are behind the same door.
    let res = s
        .app
        .client
        .get(s.app.url("/v1/models"))
        .header("x-api-key", &cards)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    let codex = s
        .key(json!({"name": "codex", "allowedClients": ["codex_cli", "gemini_cli"]}))
        .await;
    assert_eq!(s.responses(&codex, CODEX_UA).await.status(), 200);
    assert_eq!(s.gemini(&codex, GEMINI_UA).await.status(), 200);
    assert_eq!(s.messages(&codex, CLAUDE_CODE_UA, None).await.status(), 403);
    // Codex CLI's originator header alone is enough.
    let res = s
        .app
        .client
        .post(s.app.url("/openai/v1/responses"))
        .bearer_auth(&codex)
        .header("originator", "codex_cli_rs")
        .json(&json!({"model": "gpt-5", "input": "Hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // No restriction: any client.
    let any = s.key(json!({"name": "any"})).await;
    assert_eq!(s.chat(&any, "curl/8").await.status(), 200);
}

#[tokio::test]
async fn allowed_addresses_v4_and_v6_through_trusted_proxy_headers() {
    // Without TRUST_PROXY_HEADERS the socket peer counts (127.0.0.1 in tests).
    let s = setup(Backend::Sqlite, false).await;
    let local = s
        .key(json!({"name": "local", "allowedCidrs": ["127.0.0.0/8"]}))
        .await;
    let office = s
        .key(json!({"name": "office", "allowedCidrs": ["203.0.113.0/24"]}))
        .await;
    assert_eq!(
        s.messages(&local, "x", Some("203.0.113.9")).await.status(),
        200
    );
    let v = refused(s.messages(&office, "x", Some("203.0.113.9")).await, 403).await;
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("allowedCidrs") && message.contains("127.0.0.1"),
        "{v}"
    );
    let v = refused(s.chat(&office, "x").await, 403).await;
    assert_eq!(v["error"]["type"], "permission_error");

    // With it, the forwarded address counts, IPv6 included.
    let s = setup(Backend::Sqlite, true).await;
    let v6 = s
        .key(json!({"name": "v6", "allowedCidrs": ["2001:db8::/32", "198.51.100.7"]}))
        .await;
    assert_eq!(
        s.messages(&v6, "x", Some("2001:db8::5")).await.status(),
        200
    );
    assert_eq!(
        s.messages(&v6, "x", Some("198.51.100.7")).await.status(),
        200
    );
    assert_eq!(
        s.messages(&v6, "x", Some("2001:db9::5")).await.status(),
        403
    );
    assert_eq!(
        s.messages(&v6, "x", Some("198.51.100.8")).await.status(),
        403
    );
}

#[tokio::test]
async fn a_daily_cap_per_model_family() {
    let s = setup(Backend::Sqlite, false).await;
    let trial = s
        .key(json!({"name": "trial", "modelDailyCostLimits": {"opus": 0.000001}}))
        .await;
    let send = |model: &'static str| {
        s.app
            .client
            .post(s.app.url("/v1/messages"))
            .header("x-api-key", &trial)
            .json(&messages_body(model, false))
            .send()
    };
    assert_eq!(send("claude-opus-4-1").await.unwrap().status(), 200);
    s.app.wait_for_usage_events(1).await;
    let res = send("claude-opus-4-1").await.unwrap();
    let v = refused(res, 402).await;
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("opus") && message.contains("modelDailyCostLimits"),
        "{v}"
    );
    assert_eq!(
        send("claude-sonnet-4-5").await.unwrap().status(),
        200,
        "other families are free"
    );
}

async fn restriction_settings_round_trip(backend: Backend) {
    let s = setup(backend, false).await;
    let api = |method: Method, path: String, body: Option<Value>| {
        let app = &s.app;
        let token = s.token.clone();
        async move { app.admin_send(&token, method, &path, body).await }
    };
    let (status, key) = api(
        Method::POST,
        "/admin/api-keys".into(),
        Some(json!({"name": "r", "allowedClients": ["gemini_cli"], "allowedCidrs": ["10.1.2.3/16", "::1"],
                    "modelDailyCostLimits": {"Opus": 5}})),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    assert_eq!(key["allowedClients"], json!(["gemini_cli"]));
    assert_eq!(
        key["allowedCidrs"],
        json!(["10.1.0.0/16", "::1/128"]),
        "normalised"
    );
    assert_eq!(key["modelDailyCostLimits"], json!({"opus": 5.0}));
    let path = format!("/admin/api-keys/{}", key["id"].as_str().unwrap());
    let (status, patched) = api(
        Method::PATCH,
        path.clone(),
        Some(json!({"allowedCidrs": []})),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["allowedCidrs"], json!([]));
    assert_eq!(
        patched["allowedClients"],
        json!(["gemini_cli"]),
        "untouched"
    );
    for (body, field) in [
        (json!({"allowedClients": ["cursor"]}), "allowedClients"),
        (json!({"allowedCidrs": ["10.0.0.0/33"]}), "allowedCidrs"),
        (
            json!({"modelDailyCostLimits": {"op us": 1}}),
            "modelDailyCostLimits",
        ),
        (
            json!({"modelDailyCostLimits": {"opus": -1}}),
            "modelDailyCostLimits",
        ),
    ] {
        let (status, v) = api(Method::PATCH, path.clone(), Some(body)).await;
        assert_eq!(status, 400, "{v}");
        assert_eq!(v["error"]["field"], field, "{v}");
    }
    // Presets carry them.
    let (status, preset) = api(
        Method::POST,
        "/admin/key-presets".into(),
        Some(json!({"name": "CC card", "settings": {"allowedClients": ["claude_code"], "modelDailyCostLimits": {"opus": 2}}})),
    )
    .await;
    assert_eq!(status, 201, "{preset}");
    let (status, from_preset) = api(
        Method::POST,
        "/admin/api-keys".into(),
        Some(json!({"name": "p", "presetId": preset["id"]})),
    )
    .await;
    assert_eq!(status, 201, "{from_preset}");
    assert_eq!(from_preset["allowedClients"], json!(["claude_code"]));
    assert_eq!(from_preset["modelDailyCostLimits"], json!({"opus": 2.0}));
    let v = refused(s.chat(from_preset["key"].as_str().unwrap(), "x").await, 403).await;
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("allowedClients"));
}

#[tokio::test]
async fn restriction_settings_round_trip_on_sqlite() {
    restriction_settings_round_trip(Backend::Sqlite).await;
}

#[tokio::test]
async fn restriction_settings_round_trip_on_postgres() {
    restriction_settings_round_trip(Backend::Postgres).await;
}
