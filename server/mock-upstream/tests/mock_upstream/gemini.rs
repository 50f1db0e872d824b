//! Gemini answers: plain, SSE, JSON-array stream, countTokens, models.

use mock_upstream::{Behavior, MockUpstream, MockUsage};
use serde_json::{json, Value};

use crate::support::{client, read_sse};

async fn mock() -> MockUpstream {
    MockUpstream::start(Behavior {
        chunks: 4,
        usage: MockUsage {
            input: 30,
            output: 8,
            cache_read: 20,
            ..MockUsage::default()
        },
        ..Behavior::default()
    })
    .await
}

fn body() -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
}

#[tokio::test]
async fn generate_content_with_key_in_query_or_header() {
    let mock = mock().await;
    let response = client()
        .post(format!(
            "{}/v1beta/models/gemini-2.5-pro:generateContent?key=g-1",
            mock.url()
        ))
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    let candidate = &answer["candidates"][0];
    assert_eq!(candidate["content"]["role"], "model");
    assert_eq!(
        candidate["content"]["parts"][0]["text"],
        "Hello from the Tollgate"
    );
    assert_eq!(candidate["finishReason"], "STOP");
    let usage = &answer["usageMetadata"];
    assert_eq!(usage["promptTokenCount"], 50);
    assert_eq!(usage["cachedContentTokenCount"], 20);
    assert_eq!(usage["candidatesTokenCount"], 8);
    assert_eq!(usage["totalTokenCount"], 58);
    assert_eq!(answer["modelVersion"], "gemini-2.5-pro");
    assert_eq!(mock.requests("g-1"), 1);

    let response = client()
        .post(format!(
            "{}/v1beta/models/gemini-2.5-pro:generateContent",
            mock.url()
        ))
        .header("x-goog-api-key", "g-2")
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(mock.requests("g-2"), 1);
}

#[tokio::test]
async fn sse_stream_uses_crlf_framing_and_running_usage() {
    let mock = mock().await;
    let response = client()
        .post(format!(
            "{}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
            mock.url()
        ))
        .header("x-goog-api-key", "g-1")
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let (events, raw) = read_sse(response).await;
    assert!(raw.starts_with("data: {"));
    assert_eq!(raw.matches("\r\n\r\n").count(), 4);
    assert_eq!(events.len(), 4);
    let chunks: Vec<Value> = events.iter().map(|e| e.json()).collect();
    let counts: Vec<u64> = chunks
        .iter()
        .map(|c| c["usageMetadata"]["candidatesTokenCount"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [2, 4, 6, 8]);
    assert!(chunks[..3]
        .iter()
        .all(|c| c["candidates"][0].get("finishReason").is_none()));
    assert_eq!(chunks[3]["candidates"][0]["finishReason"], "STOP");
    assert_eq!(chunks[3]["usageMetadata"]["totalTokenCount"], 58);
    let text: String = chunks
        .iter()
        .map(|c| {
            c["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(text, "Hello from the Tollgate");
}

#[tokio::test]
async fn stream_without_alt_sse_is_a_json_array() {
    let mock = mock().await;
    let response = client()
        .post(format!(
            "{}/v1beta/models/gemini-2.5-flash:streamGenerateContent",
            mock.url()
        ))
        .header("x-goog-api-key", "g-1")
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.unwrap();
    assert!(text.starts_with("[{"));
    assert!(text.contains("},\r\n{"));
    assert!(text.ends_with("}]"));
    let chunks: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(chunks.len(), 4);
    assert_eq!(chunks[3]["candidates"][0]["finishReason"], "STOP");
}

#[tokio::test]
async fn count_tokens_models_and_errors() {
    let mock = mock().await;
    let counted: Value = client()
        .post(format!(
            "{}/v1beta/models/gemini-2.5-pro:countTokens",
            mock.url()
        ))
        .header("x-goog-api-key", "g-1")
        .json(&body())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(counted["totalTokens"].as_u64().unwrap() >= 1);

    let models: Value = client()
        .get(format!("{}/v1beta/models?key=g-1", mock.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["models"][0]["name"], "models/gemini-2.5-pro");
    assert_eq!(
        models["models"][0]["supportedGenerationMethods"],
        json!(["generateContent", "streamGenerateContent", "countTokens"])
    );

    let response = client()
        .post(format!(
            "{}/v1beta/models/gemini-2.5-pro:generateContent",
            mock.url()
        ))
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], 401);
    assert_eq!(error["error"]["status"], "UNAUTHENTICATED");

    let response = client()
        .post(format!(
            "{}/v1beta/models/gemini-2.5-pro:generateContent",
            mock.url()
        ))
        .header("x-goog-api-key", "g-1")
        .json(&json!({"no": "contents"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
}
