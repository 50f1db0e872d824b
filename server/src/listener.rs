//! The HTTP listener. Hand-rolled rather than `axum::serve` so the connection builder can be
//! configured: a client gets `HTTP_HEADER_TIMEOUT_SECS` to send a request's headers (a
//! connection that trickles them in, or opens and says nothing, is closed), every socket gets
//! `TCP_NODELAY` (small SSE writes must leave at once), and shutdown is graceful: no new
//! connections, idle ones closed, open requests given the grace period by the caller.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use futures::future::Either;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::relay::{serve_hot, Hot, Relay};

/// Serves `router` until `stop` fires, then waits for open connections to finish. The relay's
/// hot routes ([`Hot`]) skip the router: the same gate and handler, without its layers.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    relay: Arc<Relay>,
    header_timeout: Duration,
    stop: CancellationToken,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY on a connection");
        }
        let router = router.clone();
        let relay = relay.clone();
        let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            match Hot::of(request.method(), request.uri().path()) {
                Some(hot) => {
                    let served = serve_hot(relay.clone(), hot, request.map(Body::new));
                    Either::Left(async move { Ok::<_, Infallible>(served.await) })
                }
                None => Either::Right(router.clone().oneshot(request)),
            }
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
