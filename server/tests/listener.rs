//! The listener's own HTTP/1.1 for the relay's hot routes, over raw sockets: keep-alive and
//! pipelining, the answer's framing, a connection handed to hyper halfway with nothing lost,
//! and a client that leaves while its request waits for the upstream.

mod common;

use std::time::Duration;

use common::{messages_body, spawn_app_with, Backend, TestApp};
use mock_upstream::{Behavior, MockUpstream};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Waits until `f` holds, checking every 20 ms for at most 20 s.
async fn until(what: &str, mut f: impl AsyncFnMut() -> bool) {
    for _ in 0..1000 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never happened: {what}");
}

async fn with_key(app: &TestApp, mock: &MockUpstream) -> String {
    let token = app.admin_token().await;
    app.create_account(
        &token,
        json!({"name": "a", "apiKey": "a", "baseUrl": mock.url()}),
    )
    .await;
    app.create_key(&token, json!({"name": "k"})).await.1
}

fn post(path: &str, key: &str, stream: bool, extra: &str) -> String {
    let body = messages_body("claude-sonnet-4-5", stream).to_string();
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nx-api-key: {key}\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// One answer read off the socket: its head (lower-cased) and its body, unframed.
struct Answer {
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn status(&self) -> u16 {
        self.head[9..12].parse().unwrap()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Reads one answer from `tcp`, keeping what follows it in `buf`.
async fn answer(tcp: &mut TcpStream, buf: &mut Vec<u8>) -> Answer {
    let fill = async |tcp: &mut TcpStream, buf: &mut Vec<u8>| {
        let mut chunk = [0u8; 4096];
        let n = tcp.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(buf));
        buf.extend_from_slice(&chunk[..n]);
    };
    let head_len = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        fill(tcp, buf).await;
    };
    let head = String::from_utf8(buf.drain(..head_len).collect())
        .unwrap()
        .to_ascii_lowercase();
    let mut body = Vec::new();
    if let Some(len) = head.split("content-length: ").nth(1) {
        let len: usize = len.split("\r\n").next().unwrap().parse().unwrap();
        while buf.len() < len {
            fill(tcp, buf).await;
        }
        body.extend(buf.drain(..len));
    } else {
        assert!(head.contains("transfer-encoding: chunked"), "{head}");
        loop {
            let line = loop {
                if let Some(at) = buf.windows(2).position(|w| w == b"\r\n") {
                    break at;
                }
                fill(tcp, buf).await;
            };
            let size =
                usize::from_str_radix(std::str::from_utf8(&buf[..line]).unwrap(), 16).unwrap();
            while buf.len() < line + 2 + size + 2 {
                fill(tcp, buf).await;
            }
            body.extend_from_slice(&buf[line + 2..line + 2 + size]);
            assert_eq!(&buf[line + 2 + size..line + 4 + size], b"\r\n");
            buf.drain(..line + 4 + size);
            if size == 0 {
                break;
            }
        }
    }
    Answer { head, body }
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_and_a_closing_one_closes() {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let mock = MockUpstream::start(Behavior::default()).await;
    let key = with_key(&app, &mock).await;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    // Three requests in one write: a JSON answer, a stream, an unknown key; then one asking to
    // close.
    let mut bytes = post("/v1/messages?beta=true", &key, false, "");
    bytes += &post("/v1/messages", &key, true, "");
    bytes += &post(
        "/v1/chat/completions",
        &format!("tg_{}", "B".repeat(43)),
        false,
        "",
    );
    tcp.write_all(bytes.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let first = answer(&mut tcp, &mut buf).await;
    assert_eq!(first.status(), 200, "{}", first.head);
    assert!(first.head.contains("\r\ndate: "), "{}", first.head);
    assert!(first.head.contains("content-length: "), "{}", first.head);
    assert_eq!(first.json()["type"], "message");
    let second = answer(&mut tcp, &mut buf).await;
    assert_eq!(second.status(), 200);
    assert!(second.head.contains("text/event-stream"), "{}", second.head);
    let events = String::from_utf8(second.body).unwrap();
    assert!(events.contains("event: message_stop"), "{events}");
    let third = answer(&mut tcp, &mut buf).await;
    assert_eq!(third.status(), 401);
    assert_eq!(third.json()["error"]["code"], "invalid_api_key");
    tcp.write_all(post("/v1/messages", &key, false, "Connection: close\r\n").as_bytes())
        .await
        .unwrap();
    let last = answer(&mut tcp, &mut buf).await;
    assert_eq!(last.status(), 200);
    assert!(last.head.contains("connection: close"), "{}", last.head);
    let mut rest = Vec::new();
    tcp.read_to_end(&mut rest).await.unwrap();
    assert!(buf.is_empty() && rest.is_empty());
    assert_eq!(mock.total_requests(), 3);
}

#[tokio::test]
async fn a_connection_handed_to_hyper_halfway_loses_nothing() {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let mock = MockUpstream::start(Behavior::default()).await;
    let key = with_key(&app, &mock).await;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    let mut buf = Vec::new();
    // Served here, then a route of the router's (hyper's from then on), pipelined behind it
    // with another hot-route request, which hyper now serves.
    let models = format!("GET /v1/models HTTP/1.1\r\nHost: x\r\nx-api-key: {key}\r\n\r\n");
    let bytes =
        post("/v1/messages", &key, false, "") + &models + &post("/v1/messages", &key, false, "");
    tcp.write_all(bytes.as_bytes()).await.unwrap();
    for expected in ["message", "list", "message"] {
        let a = answer(&mut tcp, &mut buf).await;
        assert_eq!(a.status(), 200, "{}", a.head);
        let v = a.json();
        let kind = if v["data"].is_array() {
            "list"
        } else {
            v["type"].as_str().unwrap()
        };
        assert_eq!(kind, expected, "{v}");
    }
    // A chunked body is hyper's too, on a fresh connection: its bytes reach the handler whole.
    let body = messages_body("claude-sonnet-4-5", false).to_string();
    let (a, b) = body.split_at(10);
    let chunked = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: {key}\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(chunked.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let a = answer(&mut tcp, &mut buf).await;
    assert_eq!(a.status(), 200, "{}", a.head);
    // A body that follows its head in a later write: served either way, whole.
    let req = post("/v1/messages", &key, false, "");
    let split = req.find("\r\n\r\n").unwrap() + 4;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(&req.as_bytes()[..split]).await.unwrap();
    let other = app.client.get(app.url("/health")).send().await.unwrap();
    assert!(other.status().is_success());
    tcp.write_all(&req.as_bytes()[split..]).await.unwrap();
    let mut buf = Vec::new();
    let a = answer(&mut tcp, &mut buf).await;
    assert_eq!(a.status(), 200, "{}", a.head);
    // HTTP/2's preface after a request served here: refused as HTTP/1.1 refuses it, by closing
    // the connection (hyper's HTTP/1.1 held it open past the header timeout); it does not switch
    // the connection to HTTP/2.
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    let bytes = post("/v1/messages", &key, false, "") + "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    tcp.write_all(bytes.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let a = answer(&mut tcp, &mut buf).await;
    assert_eq!(a.status(), 200, "{}", a.head);
    let mut rest = buf;
    tcp.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(mock.total_requests(), 5);
}

#[tokio::test]
async fn a_client_that_leaves_while_its_request_waits_is_settled_as_a_disconnect() {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    // The upstream answers after 30 s: the request is still waiting when the client leaves.
    let mock = MockUpstream::start(Behavior {
        latency_ms: 30_000,
        ..Default::default()
    })
    .await;
    let key = with_key(&app, &mock).await;
    let mut tcp = TcpStream::connect(app.addr).await.unwrap();
    tcp.write_all(post("/v1/messages", &key, false, "").as_bytes())
        .await
        .unwrap();
    until("the request reached the upstream", async || {
        mock.total_requests() == 1
    })
    .await;
    drop(tcp);
    // Dropped at once, not when the upstream answers: billed as a client that left (499).
    app.wait_for_usage_events(1).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM usage_events WHERE status = 499 AND client_disconnected")
            .await,
        1
    );
}

#[tokio::test]
async fn http2_with_prior_knowledge_is_still_hypers() {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let mock = MockUpstream::start(Behavior::default()).await;
    let key = with_key(&app, &mock).await;
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    for stream in [false, true] {
        let res = client
            .post(app.url("/v1/messages"))
            .header("x-api-key", &key)
            .json(&messages_body("claude-sonnet-4-5", stream))
            .send()
            .await
            .unwrap();
        assert_eq!(res.version(), reqwest::Version::HTTP_2);
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap();
        assert!(text.contains("message"), "{text}");
    }
    assert_eq!(mock.total_requests(), 2);
}
