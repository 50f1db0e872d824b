//! The direct client's pool over real loopback connections: a raw HTTP/1.1 upstream that counts
//! its connections and does what each test tells it (answer, close, cut an answer short).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use super::super::{direct_with, UpstreamClient, IDLE_TIMEOUT};
use super::DirectClient;

/// What the upstream does with the request it has just read.
#[derive(Clone, Copy)]
enum Then {
    /// Answers with the request line and `Host` header as its body, and keeps the connection.
    Echo,
    /// Answers 100 000 bytes.
    Large,
    /// Declares 100 bytes, sends 10 and closes.
    CutShort,
    /// Answers `Echo`'s way, then closes the connection once told to (on the channel).
    EchoThenClose,
    /// Declares 2 bytes and sends 7: the rest would be read as the next answer's start.
    Trailing,
    /// Answers `Echo`'s body in chunked coding (two chunks, a trailer), keeping the connection.
    Chunked,
    /// Answers with no length after a `100 Continue`, then closes to end the body.
    UntilClose,
}

struct Upstream {
    url: String,
    accepted: Arc<AtomicUsize>,
    /// `EchoThenClose`: closes the connection, then answers on the sender it was given.
    close: mpsc::UnboundedSender<oneshot::Sender<()>>,
}

async fn upstream(then: Then) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let (close, mut closing) = mpsc::unbounded_channel::<oneshot::Sender<()>>();
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            while let Some(head) = read_request(&mut tcp).await {
                let echo = echo_of(&head);
                let answer = match then {
                    Then::Echo | Then::EchoThenClose => ok(echo.as_bytes()),
                    Then::Large => ok(&vec![b'x'; 100_000]),
                    Then::CutShort => {
                        b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789".to_vec()
                    }
                    Then::Trailing => {
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA".to_vec()
                    }
                    Then::Chunked => {
                        let (a, b) = echo.split_at(echo.len() / 2);
                        format!(
                            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
                             {:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\nx-t: 1\r\n\r\n",
                            a.len(),
                            b.len()
                        )
                        .into_bytes()
                    }
                    Then::UntilClose => {
                        format!("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n{echo}")
                            .into_bytes()
                    }
                };
                if tcp.write_all(&answer).await.is_err() {
                    break;
                }
                if matches!(then, Then::CutShort | Then::UntilClose) {
                    break;
                }
                if matches!(then, Then::EchoThenClose) {
                    if let Some(done) = closing.recv().await {
                        drop(tcp);
                        let _ = done.send(());
                    }
                    break;
                }
            }
        }
    });
    Upstream {
        url,
        accepted,
        close,
    }
}

fn ok(body: &[u8]) -> Vec<u8> {
    let mut answer =
        format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
    answer.extend_from_slice(body);
    answer
}

/// Reads one request (head and a `content-length` body); `None` at the end of the connection.
async fn read_request(tcp: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if tcp.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8(buf).ok()?;
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    tcp.read_exact(&mut body).await.ok()?;
    Some(head)
}

fn echo_of(head: &str) -> String {
    let line = head.lines().next().unwrap_or_default();
    let host = head
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap_or("-");
    format!("{line} | {host}")
}

fn client() -> (UpstreamClient, Arc<DirectClient>) {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let direct = Arc::new(direct_with(tls, Duration::from_secs(5)));
    (UpstreamClient::Direct(direct.clone()), direct)
}

/// Every exchange is bounded: a request the client loses track of fails the test, not CI.
const BOUND: Duration = Duration::from_secs(10);

async fn post(client: &UpstreamClient, url: &str) -> Result<Bytes, String> {
    tokio::time::timeout(BOUND, post_unbounded(client, url))
        .await
        .expect("the exchange ended")
}

async fn post_unbounded(client: &UpstreamClient, url: &str) -> Result<Bytes, String> {
    let answer = client
        .post_str(url)
        .body("{}")
        .send()
        .await
        .map_err(|e| e.describe())?;
    let mut body = answer.body;
    let mut read = Vec::new();
    while let Some(chunk) = body.next().await {
        read.extend_from_slice(&chunk.map_err(|e| e.describe())?);
    }
    Ok(Bytes::from(read))
}

#[tokio::test]
async fn sequential_requests_share_one_connection_in_origin_form_with_a_host_header() {
    let up = upstream(Then::Echo).await;
    let (client, direct) = client();
    let port = up.url.rsplit(':').next().unwrap().to_owned();
    for _ in 0..5 {
        let body = post(&client, &format!("{}/v1/messages?beta=true", up.url)).await;
        assert_eq!(
            body.unwrap(),
            format!("POST /v1/messages?beta=true HTTP/1.1 | 127.0.0.1:{port}")
        );
    }
    assert_eq!(up.accepted.load(Ordering::SeqCst), 1);
    assert_eq!(direct.idle_h1(), 1);
}

#[tokio::test]
async fn an_answer_dropped_before_its_end_closes_its_connection() {
    let up = upstream(Then::Large).await;
    let (client, direct) = client();
    let url = format!("{}/v1/messages", up.url);
    let answer = tokio::time::timeout(BOUND, client.post_str(&url).body("{}").send())
        .await
        .unwrap()
        .unwrap();
    let mut body = answer.body;
    let first = tokio::time::timeout(BOUND, body.next()).await.unwrap();
    assert!(!first.unwrap().unwrap().is_empty());
    drop(body);
    assert_eq!(
        direct.idle_h1(),
        0,
        "a half-read connection is never pooled"
    );
    assert_eq!(post(&client, &url).await.unwrap().len(), 100_000);
    assert_eq!(up.accepted.load(Ordering::SeqCst), 2);
    assert_eq!(direct.idle_h1(), 1);
}

#[tokio::test]
async fn an_answer_cut_short_ends_in_an_error_not_a_clean_end() {
    let up = upstream(Then::CutShort).await;
    let (client, direct) = client();
    let err = post(&client, &format!("{}/v1/messages", up.url)).await;
    assert!(err.is_err(), "a truncated answer must not read as complete");
    assert_eq!(direct.idle_h1(), 0);
}

#[tokio::test]
async fn a_pooled_connection_the_upstream_closed_is_not_used() {
    let up = upstream(Then::EchoThenClose).await;
    let (client, direct) = client();
    let url = format!("{}/v1/messages", up.url);
    post(&client, &url).await.unwrap();
    assert_eq!(direct.idle_h1(), 1);
    let (done, closed) = oneshot::channel();
    up.close.send(done).unwrap();
    closed.await.unwrap();
    // Let the runtime's reactor see the close (a yield polls it; no clock involved).
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
    let body = post(&client, &url).await.unwrap();
    assert!(body.starts_with(b"POST /v1/messages HTTP/1.1"));
    assert_eq!(up.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_request_queued_on_a_connection_that_then_closes_comes_back_unsent() {
    let up = upstream(Then::EchoThenClose).await;
    let (client, direct) = client();
    let url = format!("{}/v1/messages", up.url);
    post(&client, &url).await.unwrap();
    let uri: http::Uri = url.parse().unwrap();
    let key = (
        uri.scheme().unwrap().clone(),
        uri.authority().unwrap().clone(),
    );
    // Taken from the pool while still open, as a request that passed the liveness check.
    let h1 = direct.checkout(&key).unwrap();
    let (done, closed) = oneshot::channel();
    up.close.send(done).unwrap();
    closed.await.unwrap();
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
    let mut req = http::Request::new(Bytes::from_static(b"{}"));
    *req.uri_mut() = "/v1/messages".parse().unwrap();
    let sent = tokio::time::timeout(BOUND, direct.send_h1(h1, req, &key))
        .await
        .expect("the request does not wait on a closed connection");
    assert!(matches!(sent, Err(super::Failed::Unsent(_))));
    // And through the client, it goes out on a new connection.
    assert!(post(&client, &url)
        .await
        .unwrap()
        .starts_with(b"POST /v1/messages"));
    assert_eq!(up.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn bytes_past_an_answers_end_keep_its_connection_out_of_the_pool() {
    let up = upstream(Then::Trailing).await;
    let (client, direct) = client();
    let url = format!("{}/v1/messages", up.url);
    for _ in 0..2 {
        assert_eq!(post(&client, &url).await.unwrap(), "ok");
    }
    assert_eq!(up.accepted.load(Ordering::SeqCst), 2, "never reused");
    assert_eq!(direct.idle_h1(), 0);
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let up = upstream(Then::Echo).await;
    let (client, direct) = client();
    post(&client, &format!("{}/v1/messages", up.url))
        .await
        .unwrap();
    assert_eq!(direct.idle_h1(), 1);
    direct.reap_at(Instant::now());
    assert_eq!(direct.idle_h1(), 1, "not yet expired");
    direct.reap_at(Instant::now() + IDLE_TIMEOUT + Duration::from_secs(1));
    assert_eq!(direct.idle_h1(), 0);
}

#[tokio::test]
async fn chunked_answers_are_decoded_and_keep_their_connection() {
    let up = upstream(Then::Chunked).await;
    let (client, direct) = client();
    let url = format!("{}/v1/messages?beta=true", up.url);
    for _ in 0..3 {
        let body = post(&client, &url).await.unwrap();
        assert!(body.starts_with(b"POST /v1/messages?beta=true HTTP/1.1 | 127.0.0.1:"));
    }
    assert_eq!(up.accepted.load(Ordering::SeqCst), 1);
    assert_eq!(direct.idle_h1(), 1);
}

#[tokio::test]
async fn an_answer_without_a_length_ends_with_its_connection_which_is_not_reused() {
    let up = upstream(Then::UntilClose).await;
    let (client, direct) = client();
    let url = format!("{}/v1/messages", up.url);
    for _ in 0..2 {
        let body = post(&client, &url).await.unwrap();
        assert!(body.starts_with(b"POST /v1/messages HTTP/1.1 | 127.0.0.1:"));
    }
    assert_eq!(up.accepted.load(Ordering::SeqCst), 2);
    assert_eq!(direct.idle_h1(), 0);
}

/// An upstream that answers a body too large after reading its start, then holds the
/// connection without reading more, or closes it (a reset, with the request still unread).
async fn early_answer(then_close: bool) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/messages", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut start = [0u8; 1024];
        let _ = tcp.read(&mut start).await;
        let answer = b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 8\r\n\r\ntoo big!";
        tcp.write_all(answer).await.unwrap();
        if !then_close {
            let _ = stopped.await;
        }
    });
    let (client, direct) = client();
    // Far more than the loopback socket's buffers take.
    let sent = client.post_str(&url).body(vec![b'x'; 32 << 20]).send();
    let answer = tokio::time::timeout(BOUND, sent)
        .await
        .expect("the answer is read while the request is written")
        .unwrap();
    assert_eq!(answer.status, 413);
    let mut body = answer.body;
    assert_eq!(body.next().await.unwrap().unwrap(), "too big!");
    assert!(body.next().await.is_none());
    assert_eq!(direct.idle_h1(), 0, "half a request went out on it");
    let _ = stop.send(());
}

#[tokio::test]
async fn an_answer_given_before_the_request_is_all_written_is_relayed() {
    early_answer(false).await;
}

#[tokio::test]
async fn an_early_answer_is_relayed_even_when_the_upstream_resets_the_connection_after_it() {
    early_answer(true).await;
}
