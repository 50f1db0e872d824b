//! The client of accounts that connect directly, over rustls: HTTP/1.1 spoken by [`h1`] (HTTP/2,
//! when the upstream offers it by ALPN, by hyper's connection) in a pool of our own, instead of
//! hyper-util's pooled client.
//!
//! Why not hyper-util's client: it runs every HTTP/1.1 connection as a task of its own, so each
//! relayed request crossed tasks several times (the request to the connection's task, its answer
//! back, each piece of the body again, and a further task spawned per request to put the
//! connection back in the pool once its body was read). Here an HTTP/1.1 connection is used by
//! whoever holds it: the request's own task writes the request and reads the answer's head, and
//! the answer's body ([`body::H1Body`]) reads the rest, then puts the connection back in the pool
//! when the body has ended. An HTTP/2 connection multiplexes many requests, so it keeps a task of
//! its own and one sender per host is shared.
//!
//! What it keeps of hyper-util's client: at most [`MAX_IDLE_PER_HOST`] idle connections per
//! host, closed after [`IDLE_TIMEOUT`] unused (also by a reaper task while no request comes);
//! the `Host` header and origin-form request target for HTTP/1.1; and a request that a reused
//! connection closed before writing any of it is tried again on another connection (never one
//! that may have reached the upstream).

mod body;
mod h1;

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use http::header::HeaderValue;
use http::uri::{Authority, Scheme};
use http::{Request, Uri};
use http_body_util::{BodyDataStream, Full};
use hyper::client::conn::{http2, TrySendError};
use hyper_util::client::legacy::connect::Connection as _;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use parking_lot::Mutex;
use tower::Service;

use super::connect::TimedConnector;
use super::error::{BodyStream, UpstreamError};
use super::{IDLE_TIMEOUT, MAX_IDLE_PER_HOST};
use crate::fast_hash::FastMap;

type ReqBody = Full<Bytes>;
type Key = (Scheme, Authority);
use h1::H1;

#[derive(Default)]
struct Idle {
    h1: FastMap<Key, Vec<(Box<H1>, Instant)>>,
    /// One sender per host, with when it was last used.
    h2: FastMap<Key, (http2::SendRequest<ReqBody>, Instant)>,
    reaper: bool,
}

pub struct DirectClient {
    connector: TimedConnector,
    idle: Mutex<Idle>,
}

enum Fresh {
    H1(Box<H1>),
    H2(http2::SendRequest<ReqBody>),
}

/// A send that did not happen: `Unsent` gives the request back (nothing of it was written).
enum Failed {
    Unsent(Box<Request<Bytes>>),
    Error(UpstreamError),
}

impl DirectClient {
    pub(super) fn new(connector: TimedConnector) -> Self {
        DirectClient {
            connector,
            idle: Mutex::new(Idle::default()),
        }
    }

    /// Sends `req` (absolute URI) and waits for the answer's status and headers.
    ///
    /// The future stays small (a relayed request's future holds it, and moves it): a connection
    /// is boxed, and the paths that set one up or speak HTTP/2 run as boxed futures of their own.
    pub(super) async fn request(
        self: &Arc<Self>,
        mut req: Request<Bytes>,
    ) -> Result<http::Response<BodyStream>, UpstreamError> {
        let key = match (req.uri().scheme(), req.uri().authority()) {
            (Some(s), Some(a)) => (s.clone(), a.clone()),
            _ => return Err(UpstreamError::msg("the upstream URL has no host")),
        };
        if let Some(sender) = self.h2_sender(&key) {
            match Box::pin(send_h2(sender, req)).await {
                Ok(answer) => return Ok(answer),
                // The connection went away (GOAWAY, a close) before the request left: a new one.
                Err(Failed::Unsent(back)) => req = *back,
                Err(Failed::Error(e)) => return Err(e),
            }
        }
        while let Some(h1) = self.checkout(&key) {
            match self.send_h1(h1, req, &key).await {
                Ok(answer) => return Ok(answer),
                Err(Failed::Unsent(back)) => req = *back,
                Err(Failed::Error(e)) => return Err(e),
            }
        }
        let fresh = match Box::pin(self.connect(&key)).await? {
            Fresh::H1(h1) => h1,
            Fresh::H2(sender) => {
                return match Box::pin(send_h2(sender, req)).await {
                    Ok(answer) => Ok(answer),
                    Err(Failed::Unsent(_)) => Err(UpstreamError::msg(
                        "the upstream closed a new connection before the request was sent",
                    )),
                    Err(Failed::Error(e)) => Err(e),
                };
            }
        };
        match self.send_h1(fresh, req, &key).await {
            Ok(answer) => Ok(answer),
            Err(Failed::Unsent(_)) => Err(UpstreamError::msg(
                "the upstream closed a new connection before the request was sent",
            )),
            Err(Failed::Error(e)) => Err(e),
        }
    }

    /// A new connection to `key`: HTTP/2 if the upstream chose it by ALPN (its sender then
    /// shared by later requests), else HTTP/1.1.
    async fn connect(&self, key: &Key) -> Result<Fresh, UpstreamError> {
        let origin = Uri::builder()
            .scheme(key.0.clone())
            .authority(key.1.clone())
            .path_and_query("/")
            .build()
            .map_err(UpstreamError::boxed)?;
        let io = self
            .connector
            .clone()
            .call(origin)
            .await
            .map_err(UpstreamError::from_box)?;
        if io.connected().is_negotiated_h2() {
            let mut builder = http2::Builder::new(TokioExecutor::new());
            builder.timer(TokioTimer::new());
            let (sender, conn) = builder.handshake(io).await.map_err(UpstreamError::boxed)?;
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "upstream HTTP/2 connection ended with an error");
                }
            });
            let now = Instant::now();
            self.idle
                .lock()
                .h2
                .insert(key.clone(), (sender.clone(), now));
            return Ok(Fresh::H2(sender));
        }
        Ok(Fresh::H1(Box::new(H1::new(io, host_header(key)))))
    }

    /// Sends on `h1` and reads the answer's head in this task; the answer's body then reads the
    /// rest and puts the connection back in the pool at its end. A connection found closed (or
    /// saying something unasked) before the request is written gives the request back, as does
    /// one that fails before taking any of it ([`h1::H1::exchange`]); once any of it may have
    /// left, a failure is an error (the upstream may have received it).
    async fn send_h1(
        self: &Arc<Self>,
        mut h1: Box<H1>,
        req: Request<Bytes>,
        key: &Key,
    ) -> Result<http::Response<BodyStream>, Failed> {
        if !h1.quiet().await {
            return Err(Failed::Unsent(Box::new(req)));
        }
        let head = h1::encode_head(&req, h1.host());
        let head = match h1.exchange(&head, req.body()).await {
            Ok(head) => head,
            Err(h1::SendError::Unsent) => return Err(Failed::Unsent(Box::new(req))),
            Err(h1::SendError::Failed(e)) => return Err(Failed::Error(e)),
        };
        drop(req);
        let body = body::H1Body::new(
            h1,
            head.framing,
            head.reusable,
            Arc::downgrade(self),
            key.clone(),
        );
        Ok(http::Response::from_parts(head.parts, body.boxed()))
    }

    /// The host's HTTP/2 sender, if it has a live one.
    fn h2_sender(&self, key: &Key) -> Option<http2::SendRequest<ReqBody>> {
        let mut idle = self.idle.lock();
        let (sender, used) = idle.h2.get_mut(key)?;
        if sender.is_closed() {
            return None;
        }
        *used = Instant::now();
        Some(sender.clone())
    }

    fn checkout(&self, key: &Key) -> Option<Box<H1>> {
        let mut idle = self.idle.lock();
        let list = idle.h1.get_mut(key)?;
        while let Some((h1, since)) = list.pop() {
            if since.elapsed() < IDLE_TIMEOUT {
                return Some(h1);
            }
        }
        None
    }

    /// Puts a connection whose exchange has ended back in the pool.
    fn checkin(self: &Arc<Self>, key: Key, h1: Box<H1>) {
        let mut idle = self.idle.lock();
        let list = idle.h1.entry(key).or_default();
        if list.len() < MAX_IDLE_PER_HOST {
            list.push((h1, Instant::now()));
        }
        if !std::mem::replace(&mut idle.reaper, true) {
            reap_every(Arc::downgrade(self), IDLE_TIMEOUT / 3);
        }
    }

    /// Closes idle connections unused since before `now - IDLE_TIMEOUT`, and lets go of HTTP/2
    /// senders unused as long or whose connection has ended (the connection closes with its
    /// last sender and stream).
    fn reap(&self, now: Instant) {
        let mut idle = self.idle.lock();
        for list in idle.h1.values_mut() {
            list.retain(|(_, since)| now.saturating_duration_since(*since) < IDLE_TIMEOUT);
        }
        idle.h1.retain(|_, list| !list.is_empty());
        idle.h2.retain(|_, (sender, used)| {
            !sender.is_closed() && now.saturating_duration_since(*used) < IDLE_TIMEOUT
        });
    }

    /// Idle HTTP/1.1 connections held (tests).
    #[cfg(test)]
    pub(super) fn idle_h1(&self) -> usize {
        self.idle.lock().h1.values().map(Vec::len).sum()
    }

    #[cfg(test)]
    pub(super) fn reap_at(&self, now: Instant) {
        self.reap(now)
    }
}

/// While the client lives, closes its expired idle connections every `period`.
fn reap_every(client: Weak<DirectClient>, period: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.tick().await;
        loop {
            tick.tick().await;
            match client.upgrade() {
                Some(c) => c.reap(Instant::now()),
                None => return,
            }
        }
    });
}

async fn send_h2(
    mut sender: http2::SendRequest<ReqBody>,
    req: Request<Bytes>,
) -> Result<http::Response<BodyStream>, Failed> {
    if sender.ready().await.is_err() {
        return Err(Failed::Unsent(Box::new(req)));
    }
    let body = req.body().clone();
    let sent = sender.try_send_request(req.map(Full::new)).await;
    let (parts, incoming) = sent.map_err(|e| unsent_h2(e, body))?.into_parts();
    let body = BodyDataStream::new(incoming).map_err(UpstreamError::boxed);
    Ok(http::Response::from_parts(parts, body.boxed()))
}

/// hyper's send error: the request back if it never left, else the error.
fn unsent_h2(mut e: TrySendError<Request<ReqBody>>, body: Bytes) -> Failed {
    match e.take_message() {
        Some(req) => Failed::Unsent(Box::new(req.map(|_| body))),
        None => Failed::Error(UpstreamError::boxed(e.into_error())),
    }
}

/// HTTP/1.1's `Host` header for the upstream, as hyper-util's client set it (the port only when
/// it is not the scheme's default).
fn host_header((scheme, authority): &Key) -> Option<HeaderValue> {
    let host = authority.host();
    let default = if *scheme == Scheme::HTTPS { 443 } else { 80 };
    match authority.port_u16() {
        Some(port) if port != default => HeaderValue::try_from(format!("{host}:{port}")).ok(),
        _ => HeaderValue::from_str(host).ok(),
    }
}

#[cfg(test)]
mod tests;
