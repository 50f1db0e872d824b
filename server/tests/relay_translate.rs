//! OpenAI Chat Completions clients on Claude accounts over real HTTP on loopback: requests
//! translated to the Messages API, answers (plain and streamed, tool calls included) and
//! errors translated back, billing from the Anthropic usage, refusals naming the field.

mod common;

use common::{spawn_app, TestApp};
use mock_upstream::{Behavior, Fault, MockUpstream, MockUsage};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tollgate::pricing::{cost_micros, TokenUsage};
use tollgate::relay::control::RelayControl;

const UPSTREAM_KEY: &str = "sk-ant-upstream-translate";
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/translate");

struct Setup {
    app: TestApp,
    token: String,
    key: String,
    account_id: String,
}

async fn setup_on(base_url: &str, key_body: Value) -> Setup {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let account_id = app
        .create_account(
            &token,
            json!({ "name": "claude-1", "apiKey": UPSTREAM_KEY, "baseUrl": base_url }),
        )
        .await;
    let (_, key) = app.create_key(&token, key_body).await;
    Setup {
        app,
        token,
        key,
        account_id,
    }
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
}

fn golden(path: &str) -> String {
    std::fs::read_to_string(format!("{GOLDEN}/{path}")).unwrap()
}

async fn last_usage(app: &TestApp) -> Value {
    let sql = "SELECT input_tokens, output_tokens, cache_write_5m_tokens, cache_read_tokens, cost_micros, status, platform, model
               FROM usage_events ORDER BY id DESC LIMIT 1";
    let row: (i64, i64, i64, i64, i64, i64, String, String) = app.fetch_one(sql).await;
    json!({ "input": row.0, "output": row.1, "cw5m": row.2, "cr": row.3, "cost": row.4, "status": row.5, "platform": row.6, "model": row.7 })
}

/// The `data:` payloads of an SSE body, `[DONE]` included.
fn sse_payloads(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

fn chat_body(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "max_completion_tokens": 300,
        "stop": ["END"],
        "temperature": 0.3,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
    })
}

#[tokio::test]
async fn plain_answer_round_trip_is_billed_from_anthropic_usage() {
    let usage = MockUsage {
        input: 500,
        output: 40,
        cache_write_5m: 60,
        cache_write_1h: 0,
        cache_read: 200,
    };
    let mock = MockUpstream::start(Behavior {
        usage,
        ..Default::default()
    })
    .await;
    let s = setup_on(&mock.url(), json!({"name": "k"})).await;
    let res = s
        .post(
            "/v1/chat/completions",
            &chat_body("claude-sonnet-4-5", false),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "claude-sonnet-4-5");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(!v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .is_empty());
    assert_eq!(v["usage"]["prompt_tokens"], 760);
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 200);

    let seen = mock.last_request(UPSTREAM_KEY).unwrap();
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.headers["x-api-key"], UPSTREAM_KEY);
    assert_eq!(seen.headers["anthropic-version"], "2023-06-01");
    assert!(
        seen.headers.get("authorization").is_none(),
        "client key leaked upstream"
    );
    let sent: Value = serde_json::from_slice(&seen.body).unwrap();
    assert_eq!(
        sent["system"],
        json!([{"type": "text", "text": "Be brief."}])
    );
    assert_eq!(sent["max_tokens"], 300);
    assert_eq!(sent["stop_sequences"], json!(["END"]));
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "Hello"}]}])
    );

    s.app.wait_for_usage_events(1).await;
    let row = last_usage(&s.app).await;
    assert_eq!(
        (
            row["input"].as_i64(),
            row["output"].as_i64(),
            row["cw5m"].as_i64(),
            row["cr"].as_i64()
        ),
        (Some(500), Some(40), Some(60), Some(200))
    );
    assert_eq!(row["platform"], "claude");
    let price = s.app.relay().pricing().lookup("claude-sonnet-4-5").price;
    let want = cost_micros(
        &price,
        &TokenUsage {
            input: 500,
            output: 40,
            cache_write_5m: 60,
            cache_write_1h: 0,
            cache_read: 200,
        },
    );
    assert_eq!(row["cost"], want);
    s.wait_idle().await;
}

#[tokio::test]
async fn streamed_round_trip_with_and_without_the_usage_chunk() {
    let usage = MockUsage {
        input: 80,
        output: 12,
        ..Default::default()
    };
    let mock = MockUpstream::start(Behavior {
        usage,
        chunks: 5,
        chunk_gap_ms: 20,
        ..Default::default()
    })
    .await;
    let s = setup_on(&mock.url(), json!({"name": "k"})).await;
    for (path, include_usage) in [
        ("/v1/chat/completions", false),
        ("/openai/claude/v1/chat/completions", true),
    ] {
        let mut body = chat_body("claude-haiku-4-5", true);
        if include_usage {
            body["stream_options"] = json!({"include_usage": true});
        }
        let res = s.post(path, &body).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        let text = res.text().await.unwrap();
        let payloads = sse_payloads(&text);
        assert_eq!(
            payloads.last().map(String::as_str),
            Some("[DONE]"),
            "{text}"
        );
        let chunks: Vec<Value> = payloads[..payloads.len() - 1]
            .iter()
            .map(|p| serde_json::from_str(p).unwrap())
            .collect();
        assert!(chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk" && c["model"] == "claude-haiku-4-5"));
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        let content: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
            .collect();
        assert!(content.len() > 5, "{content:?}");
        let finish: Vec<&Value> = chunks
            .iter()
            .map(|c| &c["choices"][0]["finish_reason"])
            .filter(|f| !f.is_null())
            .collect();
        assert_eq!(finish, [&json!("stop")]);
        let usage_chunk = chunks.last().unwrap();
        if include_usage {
            assert_eq!(usage_chunk["choices"], json!([]));
            assert_eq!(usage_chunk["usage"]["prompt_tokens"], 80);
            assert_eq!(usage_chunk["usage"]["completion_tokens"], 12);
        } else {
            assert!(chunks.iter().all(|c| c.get("usage").is_none()), "{text}");
        }
        let sent: Value =
            serde_json::from_slice(&mock.last_request(UPSTREAM_KEY).unwrap().body).unwrap();
        assert_eq!(sent["stream"], true);
        assert!(sent.get("stream_options").is_none());
    }
    s.app.wait_for_usage_events(2).await;
    let row = last_usage(&s.app).await;
    assert_eq!(
        (row["input"].as_i64(), row["output"].as_i64()),
        (Some(80), Some(12))
    );
    assert!(row["cost"].as_i64().unwrap() > 0);
    s.wait_idle().await;
}

/// An Anthropic upstream that answers with the golden tool-use answers and hands over every
/// request body it gets.
async fn tool_use_upstream() -> (String, mpsc::UnboundedReceiver<Value>) {
    use axum::extract::Request;
    use axum::response::IntoResponse;
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/v1/messages",
        axum::routing::post(move |req: Request| {
            let tx = tx.clone();
            async move {
                let body = axum::body::to_bytes(req.into_body(), 1 << 20)
                    .await
                    .unwrap();
                let v: Value = serde_json::from_slice(&body).unwrap();
                let stream = v["stream"] == true;
                let _ = tx.send(v);
                if stream {
                    (
                        [("content-type", "text/event-stream")],
                        golden("stream_tool_use/anthropic_stream.sse"),
                    )
                        .into_response()
                } else {
                    (
                        [("content-type", "application/json")],
                        golden("response_tool_use/messages_response.json"),
                    )
                        .into_response()
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

/// A chunk or answer without the parts that differ per request.
fn comparable(mut v: Value) -> Value {
    v["created"] = json!(0);
    v["model"] = json!("");
    v
}

#[tokio::test]
async fn tool_calls_round_trip_plain_and_streamed() {
    let (url, mut seen) = tool_use_upstream().await;
    let s = setup_on(&url, json!({"name": "k"})).await;
    let request: Value =
        serde_json::from_str(&golden("tool_round_trip/chat_request.json")).unwrap();
    let want_upstream: Value =
        serde_json::from_str(&golden("tool_round_trip/messages_request.json")).unwrap();

    let res = s
        .post("/v1/chat/completions", &request)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(
        seen.recv().await.unwrap(),
        want_upstream,
        "the golden translation went upstream"
    );
    let want: Value =
        serde_json::from_str(&golden("response_tool_use/chat_response.json")).unwrap();
    assert_eq!(comparable(answer), comparable(want));

    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let res = s
        .post("/v1/chat/completions", &streamed)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let mut want_upstream = want_upstream;
    want_upstream["stream"] = json!(true);
    assert_eq!(seen.recv().await.unwrap(), want_upstream);
    let payloads = sse_payloads(&text);
    assert_eq!(payloads.last().map(String::as_str), Some("[DONE]"));
    let got: Vec<Value> = payloads[..payloads.len() - 1]
        .iter()
        .map(|p| comparable(serde_json::from_str(p).unwrap()))
        .collect();
    let want: Vec<Value> = golden("stream_tool_use/openai_chunks.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| comparable(serde_json::from_str(l).unwrap()))
        .collect();
    assert_eq!(got, want);

    s.app.wait_for_usage_events(2).await;
    let row = last_usage(&s.app).await;
    assert_eq!(
        (row["input"].as_i64(), row["output"].as_i64()),
        (Some(40), Some(60)),
        "billed from the Anthropic stream"
    );
    s.wait_idle().await;
}

#[tokio::test]
async fn untranslatable_requests_are_refused_naming_the_field() {
    let mock = MockUpstream::start(Behavior::default()).await;
    let s = setup_on(&mock.url(), json!({"name": "k"})).await;
    for (field, value, param) in [
        ("n", json!(2), "n"),
        ("logprobs", json!(true), "logprobs"),
        (
            "response_format",
            json!({"type": "json_object"}),
            "response_format",
        ),
        ("frobnicate", json!(1), "frobnicate"),
    ] {
        let mut body = chat_body("claude-sonnet-4-5", false);
        body[field] = value;
        let res = s.post("/v1/chat/completions", &body).send().await.unwrap();
        assert_eq!(res.status(), 400, "{field}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
        assert_eq!(v["error"]["param"], param, "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().starts_with(param),
            "{v}"
        );
    }
    let mut body = chat_body("claude-sonnet-4-5", false);
    body["messages"][1]["content"] =
        json!([{"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}]);
    let v: Value = s
        .post("/v1/chat/completions", &body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        v["error"]["param"]
            .as_str()
            .unwrap()
            .starts_with("messages[1].content[0]"),
        "{v}"
    );
    assert_eq!(mock.total_requests(), 0, "nothing reached the upstream");
}

#[tokio::test]
async fn upstream_and_relay_errors_reach_the_client_in_openai_shape() {
    let mock = MockUpstream::start(Behavior::default()).await;
    let s = setup_on(&mock.url(), json!({"name": "k"})).await;
    // A request error the upstream reports passes through, translated.
    mock.set_behavior(
        UPSTREAM_KEY,
        Behavior {
            fault: Some(Fault::Status {
                status: 400,
                retry_after_secs: None,
            }),
            ..Default::default()
        },
    );
    for stream in [false, true] {
        let res = s
            .post(
                "/v1/chat/completions",
                &chat_body("claude-sonnet-4-5", stream),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error", "{v}");
        assert!(v.get("type").is_none(), "{v}");
    }
    // The only account overloaded: OpenAI clients get a 503 they know to retry.
    mock.set_behavior(
        UPSTREAM_KEY,
        Behavior {
            fault: Some(Fault::Status {
                status: 529,
                retry_after_secs: None,
            }),
            ..Default::default()
        },
    );
    let res = s
        .post(
            "/v1/chat/completions",
            &chat_body("claude-sonnet-4-5", false),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["type"], "server_error", "{v}");
    assert_eq!(v["error"]["code"], "overloaded", "{v}");
    // Now no account is available at all: the relay's own error, in OpenAI shape.
    let res = s
        .post(
            "/v1/chat/completions",
            &chat_body("claude-sonnet-4-5", false),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["type"], "server_error", "{v}");

    // Key limits speak OpenAI too, for the Claude platform.
    let (_, openai_only) = s
        .app
        .create_key(&s.token, json!({"name": "o", "permissions": ["openai"]}))
        .await;
    let res = s
        .app
        .client
        .post(s.app.url("/v1/chat/completions"))
        .bearer_auth(&openai_only)
        .json(&chat_body("claude-sonnet-4-5", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["type"], "permission_error");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("claude"),
        "{v}"
    );
}

#[tokio::test]
async fn the_keys_claude_binding_and_model_list_apply() {
    let mock = MockUpstream::start(Behavior::default()).await;
    let s = setup_on(&mock.url(), json!({"name": "k"})).await;
    let dedicated = s
        .app
        .create_account(&s.token, json!({ "name": "claude-dedicated", "apiKey": "sk-ant-dedicated", "baseUrl": mock.url(), "accountType": "dedicated" }))
        .await;
    let (_, bound) = s
        .app
        .create_key(
            &s.token,
            json!({"name": "bound", "claudeAccountId": dedicated}),
        )
        .await;
    let res = s
        .app
        .client
        .post(s.app.url("/v1/chat/completions"))
        .bearer_auth(&bound)
        .json(&chat_body("claude-sonnet-4-5", false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        (
            mock.requests("sk-ant-dedicated"),
            mock.requests(UPSTREAM_KEY)
        ),
        (1, 0)
    );

    let v: Value = s
        .app
        .client
        .get(s.app.url("/openai/claude/v1/models"))
        .bearer_auth(&s.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"claude-sonnet-4-5") && ids.iter().all(|i| i.starts_with("claude-")),
        "{ids:?}"
    );
}
