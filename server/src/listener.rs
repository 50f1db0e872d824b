//! The HTTP listener. Hand-rolled rather than `axum::serve` so the connection can be
//! configured: a client gets `HTTP_HEADER_TIMEOUT_SECS` to send a request's headers (a
//! connection that trickles them in, or opens and says nothing, is closed), every socket gets
//! `TCP_NODELAY` (small SSE writes must leave at once), and shutdown is graceful: no new
//! connections, idle ones closed, open requests given the grace period by the caller.
//!
//! A connection starts in the listener's own HTTP/1.1 ([`fast`]), which serves the relay's hot
//! routes; the first request it does not serve hands the connection, with what was read of it,
//! to hyper (HTTP/1.1 or HTTP/2, the router) for good.

mod fast;
mod parse;
mod rewind;
mod write;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use futures::future::Either;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::relay::{serve_hot, Hot, Relay};
use rewind::Rewind;

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
    // After a request served by `fast`, the connection is HTTP/1.1's for good.
    let builders = Arc::new((builder.clone(), builder.http1_only()));
    let connections = TaskTracker::new();
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
        let (router, relay, builders, stop) = (
            router.clone(),
            relay.clone(),
            builders.clone(),
            stop.clone(),
        );
        connections.spawn(async move {
            let (stream, read, served) =
                match fast::serve(stream, peer, relay.clone(), header_timeout, &stop).await {
                    fast::End::Closed => return,
                    fast::End::Hyper(stream, read, served) => (stream, read, served),
                };
            let service =
                hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
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
            let io = TokioIo::new(Rewind::new(read, stream));
            let builder = if served { &builders.1 } else { &builders.0 };
            let mut connection = pin!(builder.serve_connection_with_upgrades(io, service));
            let ended = tokio::select! {
                biased;
                ended = connection.as_mut() => ended,
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}
