//! Clients on accounts of another platform, over real HTTP on loopback with the mock upstream:
//! Responses clients on Claude accounts, Chat Completions clients on Gemini accounts, Messages
//! clients on OpenAI(-compatible) accounts. Each pair plain and streamed, billed from the
//! upstream's own usage at the upstream model's price, upstream errors in the client's shape.

mod common;

use common::{spawn_app, TestApp};
use mock_upstream::{Behavior, Fault, MockUpstream, MockUsage};
use serde_json::{json, Value};
use tollgate::pricing::TokenUsage;

const CLAUDE_KEY: &str = "sk-ant-cross";
const OPENAI_KEY: &str = "sk-openai-cross";
const GEMINI_KEY: &str = "gemini-cross";

struct Setup {
    app: TestApp,
    mock: MockUpstream,
    token: String,
    account: String,
}

async fn setup(platform: &str, upstream_key: &str, extra: Value) -> Setup {
    let mock = MockUpstream::start(Behavior {
        usage: MockUsage {
            input: 70,
            output: 9,
            ..Default::default()
        },
        chunks: 4,
        ..Default::default()
    })
    .await;
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let mut body = json!({ "name": format!("{platform}-1"), "platform": platform,
        "apiKey": upstream_key, "baseUrl": mock.url() });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let account = app.create_account(&token, body).await;
    Setup {
        app,
        mock,
        token,
        account,
    }
}

impl Setup {
    async fn key(&self, body: Value) -> String {
        self.app.create_key(&self.token, body).await.1
    }

    async fn last_row(&self) -> (i64, i64, i64, String, String, i64) {
        self.app
            .fetch_one(
                "SELECT input_tokens, output_tokens, cost_micros, platform, model, status
                 FROM usage_events ORDER BY id DESC LIMIT 1",
            )
            .await
    }
}

fn sse_events(text: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut event = String::new();
    for line in text.lines() {
        if let Some(e) = line.strip_prefix("event: ") {
            event = e.to_owned();
        } else if let Some(d) = line.strip_prefix("data: ") {
            if d != "[DONE]" {
                out.push((std::mem::take(&mut event), serde_json::from_str(d).unwrap()));
            }
        }
    }
    out
}

fn usage(input: u64, output: u64) -> TokenUsage {
    TokenUsage {
        input,
        output,
        ..Default::default()
    }
}

#[tokio::test]
async fn responses_clients_on_claude_accounts() {
    let s = setup("claude", CLAUDE_KEY, json!({})).await;
    let key = s.key(json!({"name": "codex"})).await;
    let body = json!({"model": "claude-sonnet-4-5", "instructions": "Be brief.",
        "input": "Hello", "max_output_tokens": 200, "store": false});
    for path in ["/v1/responses", "/openai/v1/responses"] {
        let res = s
            .app
            .client
            .post(s.app.url(path))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(
            (v["object"].as_str(), v["status"].as_str()),
            (Some("response"), Some("completed"))
        );
        assert_eq!(v["model"], "claude-sonnet-4-5");
        assert_eq!(v["output"][0]["type"], "message");
        assert!(!v["output"][0]["content"][0]["text"]
            .as_str()
            .unwrap()
            .is_empty());
        assert_eq!(v["usage"]["input_tokens"], 70);
        let seen = s.mock.last_request(CLAUDE_KEY).unwrap();
        assert_eq!(seen.path, "/v1/messages");
        let sent: Value = serde_json::from_slice(&seen.body).unwrap();
        assert_eq!(
            sent["system"],
            json!([{"type": "text", "text": "Be brief."}])
        );
        assert_eq!(sent["max_tokens"], 200);
    }
    // Streamed: the Responses event sequence, billed from the Anthropic stream.
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let res = s
        .app
        .client
        .post(s.app.url("/v1/responses"))
        .bearer_auth(&key)
        .json(&streamed)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let events = sse_events(&res.text().await.unwrap());
    assert_eq!(events.first().unwrap().0, "response.created");
    let done = events.last().unwrap();
    assert_eq!(done.0, "response.completed", "{events:?}");
    assert_eq!(done.1["response"]["usage"]["output_tokens"], 9);
    let text: String = events
        .iter()
        .filter(|(e, _)| e == "response.output_text.delta")
        .filter_map(|(_, d)| d["delta"].as_str())
        .collect();
    assert!(!text.is_empty());
    s.app.wait_for_usage_events(3).await;
    let row = s.last_row().await;
    assert_eq!(
        (row.0, row.1, row.3.as_str(), row.5),
        (70, 9, "claude", 200)
    );
    assert_eq!(
        row.2,
        s.app.expected_cost("claude-sonnet-4-5", &usage(70, 9))
    );

    // A key that can reach only Claude accounts: any model name goes to Claude.
    let only_claude = s
        .key(json!({"name": "cards", "permissions": ["claude"]}))
        .await;
    let mut other = body.clone();
    other["model"] = json!("claude-haiku-4-5");
    let res = s
        .app
        .client
        .post(s.app.url("/v1/responses"))
        .bearer_auth(&only_claude)
        .json(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Refused fields name themselves; state is not kept.
    let mut stateful = body.clone();
    stateful["previous_response_id"] = json!("resp_1");
    let res = s
        .app
        .client
        .post(s.app.url("/v1/responses"))
        .bearer_auth(&key)
        .json(&stateful)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["param"], "previous_response_id", "{v}");

    // An upstream 400 reaches the client in OpenAI's shape.
    s.mock.set_behavior(
        CLAUDE_KEY,
        Behavior {
            fault: Some(Fault::Status {
                status: 400,
                retry_after_secs: None,
            }),
            ..Default::default()
        },
    );
    let res = s
        .app
        .client
        .post(s.app.url("/v1/responses"))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    assert!(v.get("type").is_none(), "not Anthropic's shape: {v}");
    // A 529 becomes the relay's own overload answer, in OpenAI's shape with Retry-After.
    s.mock.set_behavior(
        CLAUDE_KEY,
        Behavior {
            fault: Some(Fault::Status {
                status: 529,
                retry_after_secs: None,
            }),
            ..Default::default()
        },
    );
    let res = s
        .app
        .client
        .post(s.app.url("/v1/responses"))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["type"], "server_error", "{v}");
    s.app.wait_idle(&s.account).await;
}

#[tokio::test]
async fn chat_clients_on_gemini_accounts() {
    let s = setup("gemini", GEMINI_KEY, json!({})).await;
    let key = s.key(json!({"name": "chat"})).await;
    let body = json!({"model": "gemini-2.5-flash", "max_tokens": 100,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]});
    let res = s
        .app
        .client
        .post(s.app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "gemini-2.5-flash");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(!v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .is_empty());
    assert_eq!(v["usage"]["prompt_tokens"], 70);
    let seen = s.mock.last_request(GEMINI_KEY).unwrap();
    assert_eq!(seen.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(seen.headers["x-goog-api-key"], GEMINI_KEY);
    assert!(
        seen.headers.get("authorization").is_none(),
        "client key leaked upstream"
    );
    let sent: Value = serde_json::from_slice(&seen.body).unwrap();
    assert_eq!(sent["systemInstruction"]["parts"][0]["text"], "Be brief.");
    assert_eq!(sent["generationConfig"]["maxOutputTokens"], 100);

    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let res = s
        .app
        .client
        .post(s.app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&streamed)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    let chunks = sse_events(&text);
    let content: String = chunks
        .iter()
        .filter_map(|(_, c)| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(!content.is_empty(), "{text}");
    let last = &chunks.last().unwrap().1;
    assert_eq!(last["usage"]["completion_tokens"], 9, "{text}");
    let seen = s.mock.last_request(GEMINI_KEY).unwrap();
    assert_eq!(
        seen.path,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    );
    assert_eq!(seen.query.as_deref(), Some("alt=sse"));
    s.app.wait_for_usage_events(2).await;
    let row = s.last_row().await;
    assert_eq!(
        (row.0, row.1, row.3.as_str(), row.4.as_str()),
        (70, 9, "gemini", "gemini-2.5-flash")
    );
    assert_eq!(
        row.2,
        s.app.expected_cost("gemini-2.5-flash", &usage(70, 9))
    );

    // Untranslatable fields are refused naming them, before anything goes upstream.
    let before = s.mock.total_requests();
    let mut bad = body.clone();
    bad["logit_bias"] = json!({"1": 2});
    let res = s
        .app
        .client
        .post(s.app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["param"], "logit_bias", "{v}");
    assert_eq!(s.mock.total_requests(), before);

    // Gemini's errors in OpenAI's shape.
    s.mock.set_behavior(
        GEMINI_KEY,
        Behavior {
            fault: Some(Fault::Status {
                status: 400,
                retry_after_secs: None,
            }),
            ..Default::default()
        },
    );
    let res = s
        .app
        .client
        .post(s.app.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
    assert!(
        v["error"].get("status").is_none(),
        "not Gemini's shape: {v}"
    );
    s.app.wait_idle(&s.account).await;
}

#[tokio::test]
async fn messages_clients_on_openai_accounts() {
    // Claude Code asks for Claude models: the account maps them to its own.
    let s = setup(
        "openai",
        OPENAI_KEY,
        json!({"modelMapping": {"claude-sonnet-4-5": "gpt-4o"}, "accountType": "dedicated"}),
    )
    .await;
    let bound = s
        .key(json!({"name": "cc", "openaiAccountId": s.account}))
        .await;
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 300, "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hello"}]});
    let res = s
        .app
        .client
        .post(s.app.url("/v1/messages"))
        .header("x-api-key", &bound)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        (v["type"].as_str(), v["role"].as_str()),
        (Some("message"), Some("assistant"))
    );
    assert_eq!(v["model"], "claude-sonnet-4-5");
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["content"][0]["type"], "text");
    assert_eq!(v["usage"]["input_tokens"], 70);
    let seen = s.mock.last_request(OPENAI_KEY).unwrap();
    assert_eq!(seen.path, "/v1/chat/completions");
    assert_eq!(
        seen.headers["authorization"],
        format!("Bearer {OPENAI_KEY}").as_str()
    );
    assert!(
        seen.headers.get("x-api-key").is_none(),
        "client key leaked upstream"
    );
    let sent: Value = serde_json::from_slice(&seen.body).unwrap();
    assert_eq!(sent["model"], "gpt-4o");
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(
        sent["max_tokens"], 300,
        "a compatible server gets max_tokens: {sent}"
    );
    s.app.wait_for_usage_events(1).await;
    let row = s.last_row().await;
    assert_eq!((row.0, row.1, row.3.as_str()), (70, 9, "openai"));
    assert_eq!(
        row.2,
        s.app.expected_cost("gpt-4o", &usage(70, 9)),
        "priced by the upstream model"
    );

    // Streamed: Anthropic's event sequence closing with the usage.
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let res = s
        .app
        .client
        .post(s.app.url("/v1/messages"))
        .header("x-api-key", &bound)
        .json(&streamed)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let events = sse_events(&res.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"), "{names:?}");
    let delta = events.iter().find(|(e, _)| e == "message_delta").unwrap();
    assert_eq!(delta.1["usage"]["output_tokens"], 9);
    assert!(events.iter().any(|(e, _)| e == "content_block_delta"));
    let sent: Value =
        serde_json::from_slice(&s.mock.last_request(OPENAI_KEY).unwrap().body).unwrap();
    assert_eq!(sent["stream_options"]["include_usage"], true);
    s.app.wait_for_usage_events(2).await;
    let row = s.last_row().await;
    assert_eq!((row.0, row.1), (70, 9), "billed from the usage chunk");

    // An OpenAI model from an unbound key goes to OpenAI accounts too (the shared pool).
    let shared = s
        .app
        .create_account(
            &s.token,
            json!({"name": "openai-pool", "platform": "openai", "apiKey": OPENAI_KEY, "baseUrl": s.mock.url()}),
        )
        .await;
    let plain = s.key(json!({"name": "sdk"})).await;
    let mut gpt = body.clone();
    gpt["model"] = json!("gpt-4o-mini");
    let res = s
        .app
        .client
        .post(s.app.url("/v1/messages"))
        .header("x-api-key", &plain)
        .json(&gpt)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // count_tokens is estimated, nothing goes upstream.
    let before = s.mock.total_requests();
    let res = s
        .app
        .client
        .post(s.app.url("/v1/messages/count_tokens"))
        .header("x-api-key", &bound)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert!(v["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(s.mock.total_requests(), before);
    s.app.wait_idle(&shared).await;
    // top_k cannot be translated.
    let mut bad = body.clone();
    bad["top_k"] = json!(5);
    let res = s
        .app
        .client
        .post(s.app.url("/v1/messages"))
        .header("x-api-key", &bound)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert!(
        v["error"]["message"].as_str().unwrap().starts_with("top_k"),
        "{v}"
    );

    // OpenAI's errors in Anthropic's shape.
    s.mock.set_behavior(
        OPENAI_KEY,
        Behavior {
            fault: Some(Fault::Status {
                status: 400,
                retry_after_secs: None,
            }),
            ..Default::default()
        },
    );
    let res = s
        .app
        .client
        .post(s.app.url("/v1/messages"))
        .header("x-api-key", &bound)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        (v["type"].as_str(), v["error"]["type"].as_str()),
        (Some("error"), Some("invalid_request_error")),
        "{v}"
    );
    s.app.wait_idle(&s.account).await;
}
