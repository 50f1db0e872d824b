//! Helpers: a plain reqwest client and an SSE reader that timestamps every event.

use std::time::{Duration, Instant};

use serde_json::Value;

/// No proxy from the environment, no transparent decompression: the tests see the wire.
pub fn client() -> reqwest::Client {
    client_builder().build().unwrap()
}

pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .no_gzip()
        .no_brotli()
        .no_zstd()
        .no_deflate()
}

/// One server-sent event and when its last byte arrived.
#[derive(Debug, Clone)]
pub struct Event {
    pub at: Instant,
    pub name: Option<String>,
    pub data: String,
}

impl Event {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {}", self.data))
    }
}

/// Splits complete events (`\n\n` or `\r\n\r\n` terminated) off the front of `buf`.
pub fn drain_events(buf: &mut String, at: Instant, out: &mut Vec<Event>) {
    loop {
        let lf = buf.find("\n\n").map(|i| (i, 2));
        let crlf = buf.find("\r\n\r\n").map(|i| (i, 4));
        let Some((end, sep)) = [lf, crlf].into_iter().flatten().min_by_key(|(i, _)| *i) else {
            return;
        };
        let block: String = buf.drain(..end + sep).collect();
        let mut event = Event {
            at,
            name: None,
            data: String::new(),
        };
        for line in block.lines().map(|l| l.trim_end_matches('\r')) {
            if let Some(name) = line.strip_prefix("event: ") {
                event.name = Some(name.to_owned());
            } else if let Some(data) = line.strip_prefix("data: ") {
                event.data.push_str(data);
            }
        }
        if event.name.is_some() || !event.data.is_empty() {
            out.push(event);
        }
    }
}

/// Reads a whole SSE response, returning its events and the raw text.
pub async fn read_sse(mut response: reqwest::Response) -> (Vec<Event>, String) {
    let mut raw = String::new();
    let mut buf = String::new();
    let mut events = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        let text = std::str::from_utf8(&chunk).unwrap();
        raw.push_str(text);
        buf.push_str(text);
        drain_events(&mut buf, Instant::now(), &mut events);
    }
    (events, raw)
}

/// Reads events until the body fails, returning what arrived and the error.
pub async fn read_sse_until_error(mut response: reqwest::Response) -> (Vec<Event>, reqwest::Error) {
    let mut buf = String::new();
    let mut events = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                buf.push_str(std::str::from_utf8(&chunk).unwrap());
                drain_events(&mut buf, Instant::now(), &mut events);
            }
            Ok(None) => panic!("stream ended cleanly; events: {events:?}"),
            Err(e) => return (events, e),
        }
    }
}

pub fn names(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e.name.as_deref().unwrap_or(""))
        .collect()
}

/// Polls `check` until it holds or two seconds pass.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn anthropic_body(stream: bool) -> Value {
    serde_json::json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
    })
}
