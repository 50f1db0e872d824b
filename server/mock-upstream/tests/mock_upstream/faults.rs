//! Injected faults (status errors, resets, stalls, fault budgets) and forced compression.

use std::io::Write;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mock_upstream::{Behavior, Fault, MockUpstream};
use serde_json::Value;

use crate::support::{
    anthropic_body, client, client_builder, drain_events, eventually, names, read_sse,
    read_sse_until_error,
};

fn faulty(fault: Fault) -> Behavior {
    Behavior {
        fault: Some(fault),
        ..Behavior::default()
    }
}

fn status(status: u16, retry_after_secs: Option<u64>) -> Fault {
    Fault::Status {
        status,
        retry_after_secs,
    }
}

async fn anthropic(mock: &MockUpstream, key: &str, stream: bool) -> reqwest::Response {
    client()
        .post(format!("{}/v1/messages", mock.url()))
        .header("x-api-key", key)
        .json(&anthropic_body(stream))
        .send()
        .await
        .unwrap()
}

async fn openai(mock: &MockUpstream, key: &str) -> reqwest::Response {
    client()
        .post(format!("{}/v1/chat/completions", mock.url()))
        .bearer_auth(key)
        .json(&serde_json::json!({"model": "gpt-5", "messages": []}))
        .send()
        .await
        .unwrap()
}

async fn gemini(mock: &MockUpstream, key: &str) -> reqwest::Response {
    client()
        .post(format!(
            "{}/v1beta/models/gemini-2.5-pro:generateContent",
            mock.url()
        ))
        .header("x-goog-api-key", key)
        .json(&serde_json::json!({"contents": []}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn rate_limits_carry_each_platforms_headers_and_shape() {
    let mock = MockUpstream::start(Behavior::default()).await;
    mock.set_behavior("limited", faulty(status(429, Some(7))));

    let response = anthropic(&mock, "limited", false).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    let reset = response.headers()["anthropic-ratelimit-requests-reset"]
        .to_str()
        .unwrap()
        .to_owned();
    let reset: DateTime<Utc> = DateTime::parse_from_rfc3339(&reset).unwrap().into();
    let ahead = reset - Utc::now();
    assert!(
        ahead.num_seconds() >= 5 && ahead.num_seconds() <= 8,
        "{ahead}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "rate_limit_error");

    let response = openai(&mock, "limited").await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    assert_eq!(response.headers()["x-ratelimit-reset-requests"], "7s");
    assert_eq!(response.headers()["x-ratelimit-reset-tokens"], "7s");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "requests");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");

    let response = gemini(&mock, "limited").await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], 429);
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(body["error"]["details"][0]["retryDelay"], "7s");
    assert_eq!(mock.requests("limited"), 3);
}

#[tokio::test]
async fn other_statuses_map_to_platform_error_types() {
    let mock = MockUpstream::start(Behavior::default()).await;
    let cases = [
        (529, "overloaded_error", "server_error", "INTERNAL"),
        (500, "api_error", "server_error", "INTERNAL"),
        (503, "api_error", "server_error", "UNAVAILABLE"),
        (
            401,
            "authentication_error",
            "invalid_request_error",
            "UNAUTHENTICATED",
        ),
        (
            403,
            "permission_error",
            "invalid_request_error",
            "PERMISSION_DENIED",
        ),
    ];
    for (code, anthropic_type, openai_type, gemini_status) in cases {
        let key = format!("k{code}");
        mock.set_behavior(&key, faulty(status(code, None)));
        let response = anthropic(&mock, &key, true).await;
        assert_eq!(response.status().as_u16(), code);
        assert!(!response.headers().contains_key("retry-after"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["type"], anthropic_type, "{code}");
        let body: Value = openai(&mock, &key).await.json().await.unwrap();
        assert_eq!(body["error"]["type"], openai_type, "{code}");
        let body: Value = gemini(&mock, &key).await.json().await.unwrap();
        assert_eq!(body["error"]["status"], gemini_status, "{code}");
    }
}

#[tokio::test]
async fn fault_times_faults_the_next_requests_then_recovers() {
    let mock = MockUpstream::start(Behavior::default()).await;
    mock.set_behavior(
        "flaky",
        Behavior {
            fault_times: Some(2),
            ..faulty(status(503, None))
        },
    );
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(anthropic(&mock, "flaky", false).await.status().as_u16());
    }
    assert_eq!(seen, [503, 503, 200, 200]);
    assert_eq!(anthropic(&mock, "healthy", false).await.status(), 200);
    mock.set_behavior("flaky", faulty(status(503, None)));
    assert_eq!(anthropic(&mock, "flaky", false).await.status(), 503);
    mock.clear_behavior("flaky");
    assert_eq!(anthropic(&mock, "flaky", false).await.status(), 200);
}

#[tokio::test]
async fn reset_mid_stream_breaks_the_body_after_the_given_deltas() {
    let mock = MockUpstream::start(faulty(Fault::ResetMidStream { after_chunks: 2 })).await;
    let response = anthropic(&mock, "k", true).await;
    assert_eq!(response.status(), 200);
    let (events, _error) = read_sse_until_error(response).await;
    assert_eq!(
        names(&events),
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta"
        ]
    );
    // OpenAI clients never see the [DONE] terminator.
    let (events, _error) = read_sse_until_error(
        client()
            .post(format!("{}/v1/chat/completions", mock.url()))
            .bearer_auth("k")
            .json(&serde_json::json!({"model": "m", "messages": [], "stream": true}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.data != "[DONE]"));
    // A non-stream answer is cut halfway through its declared length.
    let response = anthropic(&mock, "k", false).await;
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.is_err());
    eventually("in-flight to drain", || mock.in_flight() == 0).await;
}

#[tokio::test]
async fn stall_keeps_the_stream_open_until_the_client_gives_up() {
    let mock = MockUpstream::start(faulty(Fault::Stall { after_chunks: 1 })).await;
    let impatient = client_builder()
        .timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let started = Instant::now();
    let response = impatient
        .post(format!("{}/v1/messages", mock.url()))
        .header("x-api-key", "k")
        .json(&anthropic_body(true))
        .send()
        .await
        .unwrap();
    assert_eq!(mock.in_flight(), 1);
    let (events, error) = read_sse_until_error(response).await;
    assert!(error.is_timeout(), "{error:?}");
    assert!(started.elapsed() >= Duration::from_millis(350));
    assert_eq!(names(&events).last(), Some(&"content_block_delta"));
    assert_eq!(events.len(), 4);
    eventually("the stalled stream to be dropped", || mock.in_flight() == 0).await;
}

#[tokio::test]
async fn stall_before_headers_never_answers() {
    let mock = MockUpstream::start(faulty(Fault::StallBeforeHeaders)).await;
    let impatient = client_builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let error = impatient
        .post(format!("{}/v1/chat/completions", mock.url()))
        .bearer_auth("k")
        .json(&serde_json::json!({"model": "m", "messages": []}))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(mock.requests("k"), 1);
    eventually("the stalled request to be dropped", || {
        mock.in_flight() == 0
    })
    .await;
}

#[tokio::test]
async fn open_streams_count_as_in_flight() {
    let mock = MockUpstream::start(Behavior {
        chunk_gap_ms: 100,
        ..Behavior::default()
    })
    .await;
    let response = anthropic(&mock, "k", true).await;
    assert_eq!(mock.in_flight(), 1);
    let (events, _) = read_sse(response).await;
    assert_eq!(events.len(), 9);
    eventually("the finished stream to leave", || mock.in_flight() == 0).await;
}

/// A streaming decoder for one content-encoding, fed chunk by chunk as they arrive.
enum Decoder {
    Gzip(flate2::write::GzDecoder<Vec<u8>>),
    Deflate(flate2::write::ZlibDecoder<Vec<u8>>),
    Brotli(Box<brotli::DecompressorWriter<Vec<u8>>>),
    Zstd(zstd::stream::write::Decoder<'static, Vec<u8>>),
}

impl Decoder {
    fn new(encoding: &str) -> Decoder {
        match encoding {
            "gzip" => Decoder::Gzip(flate2::write::GzDecoder::new(Vec::new())),
            "deflate" => Decoder::Deflate(flate2::write::ZlibDecoder::new(Vec::new())),
            "br" => Decoder::Brotli(Box::new(brotli::DecompressorWriter::new(Vec::new(), 4096))),
            "zstd" => Decoder::Zstd(zstd::stream::write::Decoder::new(Vec::new()).unwrap()),
            other => panic!("no decoder for {other}"),
        }
    }

    /// Feeds compressed bytes and returns everything decoded so far.
    fn feed(&mut self, bytes: &[u8]) -> String {
        let decoded = match self {
            Decoder::Gzip(d) => {
                d.write_all(bytes).unwrap();
                d.flush().unwrap();
                d.get_ref()
            }
            Decoder::Deflate(d) => {
                d.write_all(bytes).unwrap();
                d.flush().unwrap();
                d.get_ref()
            }
            Decoder::Brotli(d) => {
                d.write_all(bytes).unwrap();
                d.flush().unwrap();
                d.get_ref()
            }
            Decoder::Zstd(d) => {
                d.write_all(bytes).unwrap();
                d.flush().unwrap();
                d.get_ref()
            }
        };
        String::from_utf8(decoded.clone()).unwrap()
    }
}

#[tokio::test]
async fn forced_compression_streams_event_by_event() {
    let mock = MockUpstream::start(Behavior::default()).await;
    for encoding in ["gzip", "br", "zstd", "deflate"] {
        mock.set_behavior(
            encoding,
            Behavior {
                compress: Some(encoding.into()),
                chunk_gap_ms: 150,
                ..Behavior::default()
            },
        );
        let mut response = anthropic(&mock, encoding, true).await;
        assert_eq!(response.headers()["content-encoding"], encoding);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let mut decoder = Decoder::new(encoding);
        let mut first_event_at = None;
        let mut decoded = String::new();
        while let Some(chunk) = response.chunk().await.unwrap() {
            decoded = decoder.feed(&chunk);
            if first_event_at.is_none() && decoded.contains("event: message_start\n") {
                first_event_at = Some(Instant::now());
            }
        }
        let first_event_at = first_event_at.expect("message_start decoded");
        assert!(
            first_event_at.elapsed() >= Duration::from_millis(150),
            "{encoding}: events were not decodable before the stream ended"
        );
        let mut events = Vec::new();
        drain_events(&mut decoded, Instant::now(), &mut events);
        assert_eq!(events.len(), 9, "{encoding}");
        assert_eq!(events[8].name.as_deref(), Some("message_stop"));

        let response = anthropic(&mock, encoding, false).await;
        assert_eq!(response.headers()["content-encoding"], encoding);
        let compressed = response.bytes().await.unwrap();
        let document: Value =
            serde_json::from_str(&Decoder::new(encoding).feed(&compressed)).unwrap();
        assert_eq!(document["type"], "message");
    }
}
