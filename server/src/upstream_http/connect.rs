//! The direct client's connector: rustls over hyper-util's TCP connector, with the connect
//! timeout over the whole connection set-up (name lookup, TCP and the TLS handshake), as
//! reqwest applies it. hyper-util's own timeout covers the TCP connect alone, so an upstream
//! (or a middlebox) that accepts and then never completes the handshake would otherwise hold
//! the attempt until the first-byte timeout instead of failing over.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(super) type Stream = MaybeHttpsStream<TokioIo<TcpStream>>;

#[derive(Clone)]
pub struct TimedConnector {
    inner: HttpsConnector<HttpConnector>,
    timeout: Duration,
}

impl TimedConnector {
    pub fn new(inner: HttpsConnector<HttpConnector>, timeout: Duration) -> Self {
        TimedConnector { inner, timeout }
    }
}

impl tower::Service<Uri> for TimedConnector {
    type Response = Stream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(connected) => connected,
                Err(_) => Err(Box::new(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("connection not set up within {} ms", timeout.as_millis()),
                )) as BoxError),
            }
        })
    }
}
