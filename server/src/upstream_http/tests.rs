use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use super::*;

#[test]
fn proxies() {
    assert!(validate_proxy("socks5://u:p@127.0.0.1:1080").is_ok());
    assert!(validate_proxy("http://127.0.0.1:8080").is_ok());
    assert!(validate_proxy("ftp://x").is_err());
    assert!(validate_proxy("nonsense").is_err());
    assert_eq!(
        mask_proxy("socks5://user:secret@10.0.0.1:1080"),
        "socks5://user:****@10.0.0.1:1080"
    );
    assert_eq!(mask_proxy("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
}

/// A TLS upstream on 127.0.0.1 with a fresh self-signed certificate, offering `alpn`; it answers
/// with the HTTP version it was asked in and the `x-api-key` it received.
async fn tls_upstream(alpn: &[&[u8]]) -> (String, rustls::pki_types::CertificateDer<'static>) {
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let der = cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key_pair.serialize_der().into());
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![der.clone()], key)
    .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(|req: http::Request<hyper::body::Incoming>| async move {
                    let key = req.headers().get("x-api-key").cloned();
                    let text = format!("{:?} {:?}", req.version(), key);
                    Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from(text))))
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (url, der)
}

async fn answer_text(answer: UpstreamAnswer) -> String {
    let chunks: Vec<Bytes> = answer.body.map(|c| c.unwrap()).collect().await;
    String::from_utf8(chunks.concat()).unwrap()
}

fn trusting(root: rustls::pki_types::CertificateDer<'static>) -> UpstreamClient {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root).unwrap();
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    UpstreamClient::Direct(Arc::new(direct_with(tls, Duration::from_secs(5))))
}

fn production() -> UpstreamClient {
    UpstreamClient::Direct(Arc::new(direct(Duration::from_secs(5)).unwrap()))
}

#[tokio::test]
async fn direct_https_speaks_http2_or_http1_as_the_upstream_offers() {
    for (alpn, version) in [
        (&[&b"h2"[..], &b"http/1.1"[..]][..], "HTTP/2.0"),
        (&[&b"http/1.1"[..]][..], "HTTP/1.1"),
    ] {
        let (url, root) = tls_upstream(alpn).await;
        let answer = trusting(root)
            .post_str(&format!("{url}/v1/messages"))
            .header("x-api-key", "sk-upstream")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status, http::StatusCode::OK);
        assert_eq!(
            answer_text(answer).await,
            format!("{version} Some(\"sk-upstream\")")
        );
    }
}

#[tokio::test]
async fn direct_https_refuses_a_certificate_no_root_vouches_for() {
    let (url, _) = tls_upstream(&[b"http/1.1"]).await;
    let err = match production()
        .post_str(&format!("{url}/v1/messages?key=secret"))
        .body("{}")
        .send()
        .await
    {
        Ok(_) => panic!("a self-signed upstream was trusted"),
        Err(e) => e.describe(),
    };
    assert!(err.contains("certificate"), "{err}");
    assert!(
        !err.contains("secret"),
        "the URL stays out of the text: {err}"
    );
}

#[tokio::test]
async fn requests_that_cannot_be_built_fail_when_sent() {
    let client = production();
    let bad_header = client
        .post_str("http://127.0.0.1:9/x")
        .header("x-api-key", "line\nbreak");
    assert!(bad_header.send().await.is_err());
    let bad_url = client.post_str("not a url");
    assert!(bad_url.url().is_none());
    let err = bad_url.send().await.err().unwrap().describe();
    assert!(err.contains("invalid upstream URL"), "{err}");
}

#[tokio::test]
async fn headers_repeat_and_bearer_tokens_are_sensitive() {
    let request = production()
        .post_str("http://127.0.0.1:9/x")
        .header("anthropic-beta", "a")
        .header("anthropic-beta", "b")
        .bearer_auth("sk-1");
    let h = request.headers();
    assert_eq!(h.get_all("anthropic-beta").iter().count(), 2);
    let auth = h.get(http::header::AUTHORIZATION).unwrap();
    assert_eq!(auth, "Bearer sk-1");
    assert!(auth.is_sensitive());
}

#[tokio::test]
async fn credentials_in_the_url_go_as_basic_authentication() {
    let request = production().post_str("https://us%40er:p%3Ass@127.0.0.1:9/v1/messages");
    assert_eq!(
        request.url().unwrap().as_str(),
        "https://127.0.0.1:9/v1/messages"
    );
    let auth = request.headers().get(http::header::AUTHORIZATION).unwrap();
    // base64("us@er:p:ss")
    assert_eq!(auth, "Basic dXNAZXI6cDpzcw==");
    assert!(auth.is_sensitive());
    let plain = production().post_str("https://127.0.0.1:9/v1/messages");
    assert!(plain.headers().get(http::header::AUTHORIZATION).is_none());
}

#[tokio::test(start_paused = true)]
async fn an_upstream_that_never_finishes_the_handshake_fails_within_the_connect_timeout() {
    // Accepts TCP connections and never says a word.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://127.0.0.1:{}/v1/messages",
        listener.local_addr().unwrap().port()
    );
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            open.push(tcp);
        }
    });
    let sent = tokio::time::timeout(
        Duration::from_secs(60),
        production().post_str(&url).body("{}").send(),
    )
    .await
    .expect("the connect timeout (5 s) ends the attempt, not the caller's 60 s");
    let err = sent.err().expect("no answer").describe();
    // The handshake's timeout (or, should the paused clock run out first, the TCP connect's).
    assert!(
        err.contains("within 5000 ms") || err.contains("timed out"),
        "{err}"
    );
    held.abort();
}
