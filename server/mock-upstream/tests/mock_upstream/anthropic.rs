//! Anthropic Messages API answers.

use std::time::Duration;

use mock_upstream::{Behavior, MockUpstream, MockUsage};
use serde_json::{json, Value};

use crate::support::{anthropic_body, client, names, read_sse};

fn usage() -> MockUsage {
    MockUsage {
        input: 11,
        output: 7,
        cache_write_5m: 3,
        cache_write_1h: 4,
        cache_read: 5,
    }
}

#[tokio::test]
async fn non_stream_message_has_text_usage_and_request_id() {
    let mock = MockUpstream::start(Behavior {
        chunks: 4,
        usage: usage(),
        ..Behavior::default()
    })
    .await;
    let response = client()
        .post(format!("{}/v1/messages?beta=true", mock.url()))
        .header("x-api-key", "sk-ant-1")
        .header("anthropic-version", "2023-06-01")
        .json(&anthropic_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["request-id"]
        .to_str()
        .unwrap()
        .starts_with("req_"));
    assert!(response.headers().contains_key("content-length"));
    let body: Value = response.json().await.unwrap();
    assert!(body["id"].as_str().unwrap().starts_with("msg_mock_"));
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], "claude-sonnet-4-5");
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": "Hello from the Tollgate"}])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["stop_sequence"], Value::Null);
    let usage = &body["usage"];
    assert_eq!(usage["input_tokens"], 11);
    assert_eq!(usage["output_tokens"], 7);
    assert_eq!(usage["cache_creation_input_tokens"], 7);
    assert_eq!(usage["cache_read_input_tokens"], 5);
    assert_eq!(usage["cache_creation"]["ephemeral_5m_input_tokens"], 3);
    assert_eq!(usage["cache_creation"]["ephemeral_1h_input_tokens"], 4);
    assert_eq!(mock.requests("sk-ant-1"), 1);
    let recorded = mock.last_request("sk-ant-1").unwrap();
    assert_eq!(recorded.path, "/v1/messages");
    assert_eq!(recorded.query.as_deref(), Some("beta=true"));
    assert_eq!(recorded.headers["anthropic-version"], "2023-06-01");
    let sent: Value = serde_json::from_slice(&recorded.body).unwrap();
    assert_eq!(sent["max_tokens"], 64);
}

#[tokio::test]
async fn stream_sends_events_in_order_each_as_it_happens() {
    let mock = MockUpstream::start(Behavior {
        chunks: 3,
        chunk_gap_ms: 100,
        usage: usage(),
        ..Behavior::default()
    })
    .await;
    let response = client()
        .post(format!("{}/v1/messages", mock.url()))
        .header("x-api-key", "sk-ant-1")
        .json(&anthropic_body(true))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert!(!response.headers().contains_key("content-length"));
    let (events, raw) = read_sse(response).await;
    assert_eq!(
        names(&events),
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    assert!(raw.starts_with("event: message_start\ndata: {\"type\":\"message_start\""));
    for event in &events {
        assert_eq!(event.json()["type"], event.name.as_deref().unwrap());
    }
    let start = events[0].json();
    assert_eq!(start["message"]["content"], json!([]));
    assert_eq!(start["message"]["stop_reason"], Value::Null);
    assert_eq!(start["message"]["usage"]["input_tokens"], 11);
    assert_eq!(start["message"]["usage"]["cache_read_input_tokens"], 5);
    assert_eq!(start["message"]["usage"]["output_tokens"], 1);
    assert_eq!(
        events[1].json()["content_block"],
        json!({"type": "text", "text": ""})
    );
    let text: String = events[3..6]
        .iter()
        .map(|e| {
            let delta = e.json()["delta"].clone();
            assert_eq!(delta["type"], "text_delta");
            delta["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(text, "Hello from the");
    assert_eq!(
        events[7].json(),
        json!({"type": "message_delta",
               "delta": {"stop_reason": "end_turn", "stop_sequence": null},
               "usage": {"output_tokens": 7}})
    );
    // Deltas are paced by chunk_gap_ms, so each one left the mock on its own.
    for pair in events[3..6].windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(50),
            "deltas only {gap:?} apart"
        );
    }
}

#[tokio::test]
async fn bad_requests_and_missing_keys_get_anthropic_errors() {
    let mock = MockUpstream::start(Behavior::default()).await;
    let url = format!("{}/v1/messages", mock.url());
    let missing_max_tokens = json!({"model": "m", "messages": []});
    let response = client()
        .post(&url)
        .header("x-api-key", "k")
        .json(&missing_max_tokens)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("max_tokens"));

    let response = client()
        .post(&url)
        .json(&anthropic_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "authentication_error");

    // A bearer token counts as the credential too (Claude Code with an OAuth token).
    let response = client()
        .post(&url)
        .bearer_auth("oauth-token")
        .json(&anthropic_body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(mock.requests("oauth-token"), 1);
    assert_eq!(mock.total_requests(), 3);
}

#[tokio::test]
async fn count_tokens_and_models() {
    let mock = MockUpstream::start(Behavior::default()).await;
    let body = anthropic_body(false);
    let response = client()
        .post(format!("{}/v1/messages/count_tokens", mock.url()))
        .header("x-api-key", "k")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let counted: Value = response.json().await.unwrap();
    let expected = (serde_json::to_vec(&body).unwrap().len() / 4) as u64;
    assert_eq!(counted, json!({"input_tokens": expected}));

    let response = client()
        .get(format!("{}/v1/models", mock.url()))
        .header("x-api-key", "k")
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap();
    let models: Value = response.json().await.unwrap();
    assert_eq!(models["data"][0]["id"], "claude-opus-4-8");
    assert_eq!(models["data"][0]["type"], "model");
    assert_eq!(models["has_more"], false);
    assert_eq!(models["first_id"], "claude-opus-4-8");
    assert_eq!(mock.requests("k"), 2);
}
