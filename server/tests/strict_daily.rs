//! Strict mode under today's budget with a request in flight: the ceiling is sized to what is
//! left after what other requests hold, not to the budget as if nothing were reserved.

mod common;

use common::spawn_app;
use futures::StreamExt;
use mock_upstream::{Behavior, MockUpstream};
use serde_json::{json, Value};

const CLAUDE_KEY: &str = "strict-daily-upstream";

#[tokio::test]
async fn strict_ceiling_leaves_out_what_requests_in_flight_hold_of_todays_budget() {
    let app = spawn_app().await;
    let mock = MockUpstream::start(Behavior::default()).await;
    let token = app.admin_token().await;
    app.create_account(
        &token,
        json!({"name": "claude-1", "apiKey": CLAUDE_KEY, "baseUrl": mock.url()}),
    )
    .await;
    let (_, key) = app
        .create_key(
            &token,
            json!({"name": "strict", "dailyCostLimit": 0.05, "strictMaxTokens": true}),
        )
        .await;
    let send = |body: Value| {
        app.client
            .post(app.url("/v1/messages"))
            .header("x-api-key", &key)
            .json(&body)
            .send()
    };
    // The first request holds its reservation (about $0.015 at $15/MTok) while it streams: it
    // stalls after its first chunk until this test drops it.
    let held = send(
        json!({"model": "claude-sonnet-4-5", "max_tokens": 1_000, "stream": true,
        "messages": [{"role": "user", "content": "first"}],
        "mockFault": {"type": "stall", "afterChunks": 1}}),
    )
    .await
    .unwrap();
    assert_eq!(held.status(), 200);
    let mut held = held.bytes_stream();
    assert!(held.next().await.is_some());

    let res = send(json!({"model": "claude-sonnet-4-5", "max_tokens": 64_000,
        "messages": [{"role": "user", "content": "second"}]}))
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let sent: Value = serde_json::from_slice(&mock.last_request(CLAUDE_KEY).unwrap().body).unwrap();
    let lowered = sent["max_tokens"].as_u64().unwrap();
    // $0.05 alone would allow up to 3,333 output tokens; less the first request's $0.015 about
    // 2,330 (the prompts' share aside).
    assert!(
        lowered > 1_500 && lowered < 2_400,
        "max_tokens {lowered}: sized to today's budget less what is held"
    );
    drop(held);
}
