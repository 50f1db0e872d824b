//! The first-token timeout of streams: a stream whose headers arrived but which sends no
//! content event in time is abandoned before anything reaches the client, so the request can
//! fail over to another account. The time allowed is `FIRST_TOKEN_TIMEOUT_MS` (60 s), or the
//! account's own `firstTokenTimeoutMs` (in its settings).
//!
//! A content event is what only a generating model sends, in any of the upstream formats:
//! Anthropic `content_block_delta`, an OpenAI chat chunk with content or tool calls, a
//! Responses `response.output_*` event, a Gemini chunk with `candidates`, or an error event
//! (which the client should see as it is). `message_start`, pings and role-only chunks are not.

use std::time::Duration;

use crate::upstream_http::{BodyStream, UpstreamError};
use bytes::Bytes;
use futures::StreamExt;

/// Bytes held while waiting; a stream that sends this much without a content event is treated
/// as having started.
const MAX_HELD: usize = 256 * 1024;

/// Markers of a content event in the bytes seen so far.
fn has_content(seen: &[u8]) -> bool {
    const MARKERS: &[&[u8]] = &[
        b"content_block_delta",
        b"\"tool_calls\"",
        b"\"reasoning_content\":\"",
        b"response.output_",
        b"response.failed",
        b"response.completed",
        b"\"candidates\"",
        b"\"error\"",
        b"[DONE]",
    ];
    if MARKERS
        .iter()
        .any(|m| memchr::memmem::find(seen, m).is_some())
    {
        return true;
    }
    // An OpenAI chat delta with text (the first chunk often carries only the role and "").
    memchr::memmem::find_iter(seen, b"\"content\":\"")
        .any(|at| seen.get(at + 11).is_some_and(|b| *b != b'"'))
}

/// The stream, unchanged, once a content event (or its end, or an error) arrived within
/// `timeout`; `None` when the time ran out first (the upstream body is dropped).
pub async fn first_content(mut body: BodyStream, timeout: Duration) -> Option<BodyStream> {
    let mut held: Vec<Result<Bytes, UpstreamError>> = Vec::new();
    let mut seen: Vec<u8> = Vec::new();
    let wait = async {
        loop {
            match body.next().await {
                Some(Ok(chunk)) => {
                    seen.extend_from_slice(&chunk);
                    held.push(Ok(chunk));
                    if seen.len() >= MAX_HELD || has_content(&seen) {
                        return;
                    }
                }
                Some(Err(e)) => {
                    held.push(Err(e));
                    return;
                }
                None => return,
            }
        }
    };
    tokio::time::timeout(timeout, wait).await.ok()?;
    Some(futures::stream::iter(held).chain(body).boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_events_of_each_format() {
        assert!(!has_content(
            b"event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: ping\n"
        ));
        assert!(has_content(b"event: content_block_delta\ndata: {}"));
        assert!(!has_content(
            b"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}"
        ));
        assert!(has_content(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}"
        ));
        assert!(has_content(b"data: {\"candidates\":[]}"));
        assert!(has_content(b"event: response.output_item.added\n"));
        assert!(!has_content(b"event: response.created\n"));
    }

    #[tokio::test(start_paused = true)]
    async fn silence_after_the_headers_times_out_content_passes_whole() {
        let silent = futures::stream::iter(vec![Ok(Bytes::from_static(b"event: ping\n\n"))])
            .chain(futures::stream::pending())
            .boxed();
        assert!(first_content(silent, Duration::from_secs(60))
            .await
            .is_none());

        let chunks = vec![
            Ok(Bytes::from_static(b"event: message_start\n\n")),
            Ok(Bytes::from_static(b"event: content_block_delta\n\n")),
            Ok(Bytes::from_static(b"tail")),
        ];
        let body = futures::stream::iter(chunks).boxed();
        let passed = first_content(body, Duration::from_secs(60)).await.unwrap();
        let all: Vec<Bytes> = passed.map(|c| c.unwrap()).collect().await;
        assert_eq!(
            all.concat(),
            b"event: message_start\n\nevent: content_block_delta\n\ntail"
        );
    }
}
