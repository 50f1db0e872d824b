//! The CONNECT/forwarding HTTP proxy and the SOCKS5 proxy, in front of the mock.

use mock_upstream::proxy::{ConnectProxy, Socks5Proxy};
use mock_upstream::{Behavior, MockUpstream};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::client_builder;

fn credentials() -> Option<(String, String)> {
    Some(("relay".to_owned(), "s3cret".to_owned()))
}

async fn models_through(
    proxy_url: &str,
    mock: &MockUpstream,
) -> reqwest::Result<reqwest::Response> {
    let client = client_builder()
        .proxy(reqwest::Proxy::all(proxy_url).unwrap())
        .build()
        .unwrap();
    client
        .get(format!("{}/v1/models", mock.url()))
        .bearer_auth("through-proxy")
        .send()
        .await
}

#[tokio::test]
async fn http_proxy_forwards_with_credentials_and_demands_them() {
    let mock = MockUpstream::start(Behavior::default()).await;
    let proxy = ConnectProxy::start(credentials()).await;
    assert!(proxy.url().starts_with("http://relay:s3cret@127.0.0.1:"));

    let response = models_through(&proxy.url(), &mock).await.unwrap();
    assert_eq!(response.status(), 200);
    let models: Value = response.json().await.unwrap();
    assert_eq!(models["object"], "list");
    assert_eq!(proxy.tunnels(), 1);
    assert_eq!(mock.requests("through-proxy"), 1);
    let seen = mock.last_request("through-proxy").unwrap();
    assert!(!seen.headers.contains_key("proxy-authorization"));

    let anonymous = format!("http://{}", proxy.addr());
    let response = models_through(&anonymous, &mock).await.unwrap();
    assert_eq!(response.status(), 407);
    assert!(response.headers().contains_key("proxy-authenticate"));
    assert_eq!(proxy.tunnels(), 1);
    assert_eq!(mock.requests("through-proxy"), 1);
}

async fn read_response_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let byte = stream.read_u8().await.unwrap();
        head.push(byte);
    }
    String::from_utf8(head).unwrap()
}

#[tokio::test]
async fn connect_tunnels_to_loopback_only() {
    let mock = MockUpstream::start(Behavior::default()).await;
    let proxy = ConnectProxy::start(None).await;

    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let target = mock.addr();
    stream
        .write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let head = read_response_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    stream
        .write_all(
            format!(
                "GET /v1beta/models HTTP/1.1\r\nHost: {target}\r\nx-goog-api-key: tunnelled\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("models/gemini-2.5-pro"));
    assert_eq!(proxy.tunnels(), 1);
    assert_eq!(mock.requests("tunnelled"), 1);

    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    stream
        .write_all(b"CONNECT example.invalid:443 HTTP/1.1\r\nHost: example.invalid:443\r\n\r\n")
        .await
        .unwrap();
    let head = read_response_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    assert_eq!(proxy.tunnels(), 1);
}

#[tokio::test]
async fn socks5_proxy_with_and_without_authentication() {
    let mock = MockUpstream::start(Behavior::default()).await;

    let open = Socks5Proxy::start(None).await;
    assert!(open.url().starts_with("socks5://127.0.0.1:"));
    let response = models_through(&open.url(), &mock).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(open.tunnels(), 1);

    let guarded = Socks5Proxy::start(credentials()).await;
    assert!(guarded
        .url()
        .starts_with("socks5://relay:s3cret@127.0.0.1:"));
    let response = models_through(&guarded.url(), &mock).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(guarded.tunnels(), 1);

    let wrong = format!("socks5://relay:wrong@{}", guarded.addr());
    assert!(models_through(&wrong, &mock).await.is_err());
    let anonymous = format!("socks5://{}", guarded.addr());
    assert!(models_through(&anonymous, &mock).await.is_err());
    assert_eq!(guarded.tunnels(), 1);
    assert_eq!(mock.requests("through-proxy"), 2);
}
