//! OpenAI Chat Completions, Azure and Responses API answers.

use mock_upstream::{Behavior, MockUpstream, MockUsage};
use serde_json::{json, Value};

use crate::support::{client, names, read_sse};

fn usage() -> MockUsage {
    MockUsage {
        input: 40,
        output: 9,
        cache_read: 60,
        ..MockUsage::default()
    }
}

async fn mock() -> MockUpstream {
    MockUpstream::start(Behavior {
        chunks: 3,
        usage: usage(),
        ..Behavior::default()
    })
    .await
}

fn chat(stream: bool) -> Value {
    json!({"model": "gpt-5", "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn chat_completion_reports_cached_tokens_inside_prompt_tokens() {
    let mock = mock().await;
    let response = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .bearer_auth("sk-1")
        .json(&chat(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "gpt-5");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert_eq!(body["choices"][0]["message"]["content"], "Hello from the");
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["prompt_tokens"], 100);
    assert_eq!(body["usage"]["prompt_tokens_details"]["cached_tokens"], 60);
    assert_eq!(body["usage"]["completion_tokens"], 9);
    assert_eq!(body["usage"]["total_tokens"], 109);
    assert_eq!(mock.requests("sk-1"), 1);
}

#[tokio::test]
async fn chat_stream_ends_with_usage_chunk_and_done() {
    let mock = mock().await;
    let mut body = chat(true);
    body["stream_options"] = json!({"include_usage": true});
    let response = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .bearer_auth("sk-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let (events, raw) = read_sse(response).await;
    assert!(raw.ends_with("data: [DONE]\n\n"));
    assert!(events.iter().all(|e| e.name.is_none()));
    // role chunk, 3 content chunks, finish chunk, usage chunk, [DONE]
    assert_eq!(events.len(), 7);
    let chunks: Vec<Value> = events[..6].iter().map(|e| e.json()).collect();
    assert!(chunks
        .iter()
        .all(|c| c["object"] == "chat.completion.chunk"));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks[1..4]
        .iter()
        .map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(text, "Hello from the");
    assert_eq!(chunks[4]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[4]["usage"], Value::Null);
    assert_eq!(chunks[5]["choices"], json!([]));
    assert_eq!(chunks[5]["usage"]["prompt_tokens"], 100);
    assert_eq!(chunks[5]["usage"]["completion_tokens"], 9);
    assert_eq!(events[6].data, "[DONE]");

    // Without include_usage there is no usage chunk and no usage key at all.
    let response = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .bearer_auth("sk-1")
        .json(&chat(true))
        .send()
        .await
        .unwrap();
    let (events, _) = read_sse(response).await;
    assert_eq!(events.len(), 6);
    assert!(events[..5].iter().all(|e| e.json().get("usage").is_none()));
}

#[tokio::test]
async fn tools_get_a_tool_call_answer() {
    let mock = mock().await;
    let mut body = chat(false);
    body["tools"] = json!([{"type": "function", "function": {"name": "lookup", "parameters": {}}}]);
    let response = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .bearer_auth("sk-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    let answer: Value = response.json().await.unwrap();
    let message = &answer["choices"][0]["message"];
    assert_eq!(message["content"], Value::Null);
    assert_eq!(message["tool_calls"][0]["type"], "function");
    assert_eq!(message["tool_calls"][0]["function"]["name"], "lookup");
    assert_eq!(
        message["tool_calls"][0]["function"]["arguments"],
        r#"{"query":"mock"}"#
    );
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");

    body["stream"] = json!(true);
    let response = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .bearer_auth("sk-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    let (events, _) = read_sse(response).await;
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| e.json())
        .collect();
    let first = &chunks[0]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(first["function"]["name"], "lookup");
    assert!(first["id"].as_str().unwrap().starts_with("call_"));
    let arguments: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    assert_eq!(arguments, r#"{"query":"mock"}"#);
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[tokio::test]
async fn azure_deployment_route_uses_api_key_and_deployment_as_model() {
    let mock = mock().await;
    let response = client()
        .post(format!(
            "{}/openai/deployments/prod-gpt/chat/completions?api-version=2024-10-21",
            mock.url()
        ))
        .header("api-key", "azure-key")
        .json(&json!({"messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"], "prod-gpt");
    assert_eq!(mock.requests("azure-key"), 1);
}

#[tokio::test]
async fn responses_api_plain_and_streamed() {
    let mock = mock().await;
    let url = format!("{}/v1/responses", mock.url());
    let request = json!({"model": "gpt-5", "input": "hi"});
    let body: Value = client()
        .post(&url)
        .bearer_auth("sk-1")
        .json(&request)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["object"], "response");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["output"][0]["type"], "message");
    assert_eq!(body["output"][0]["content"][0]["type"], "output_text");
    assert_eq!(body["output"][0]["content"][0]["text"], "Hello from the");
    assert_eq!(body["usage"]["input_tokens"], 100);
    assert_eq!(body["usage"]["input_tokens_details"]["cached_tokens"], 60);
    assert_eq!(body["usage"]["output_tokens"], 9);
    assert_eq!(
        body["usage"]["output_tokens_details"]["reasoning_tokens"],
        0
    );
    assert_eq!(body["usage"]["total_tokens"], 109);

    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    let response = client()
        .post(&url)
        .bearer_auth("sk-1")
        .json(&streamed)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let (events, _) = read_sse(response).await;
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    for (i, event) in events.iter().enumerate() {
        let data = event.json();
        assert_eq!(data["type"], event.name.as_deref().unwrap());
        assert_eq!(data["sequence_number"], i as u64);
    }
    assert_eq!(events[0].json()["response"]["status"], "in_progress");
    assert_eq!(events[4].json()["delta"], "Hello");
    assert_eq!(events[7].json()["text"], "Hello from the");
    let completed = events[10].json();
    assert_eq!(completed["response"]["status"], "completed");
    assert_eq!(completed["response"]["usage"]["total_tokens"], 109);
    assert_eq!(
        completed["response"]["output"][0]["content"][0]["text"],
        "Hello from the"
    );
}

#[tokio::test]
async fn models_and_errors_have_openai_shape() {
    let mock = mock().await;
    let models: Value = client()
        .get(format!("{}/v1/models", mock.url()))
        .bearer_auth("sk-1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["object"], "list");
    assert_eq!(
        models["data"][0],
        json!({"id": "gpt-5", "object": "model", "created": 1754425777, "owned_by": "openai"})
    );

    let response = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .json(&chat(false))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert_eq!(body["error"]["param"], Value::Null);

    let response = client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .bearer_auth("sk-1")
        .json(&json!({"messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
}
