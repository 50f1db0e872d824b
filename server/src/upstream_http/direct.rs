//! The client of accounts that connect directly: hyper's connections over rustls (HTTP/2 when the
//! upstream offers it by ALPN, HTTP/1.1 otherwise) in a pool of our own, instead of hyper-util's
//! pooled client.
//!
//! Why not hyper-util's client: it runs every HTTP/1.1 connection as a task of its own, so each
//! relayed request crossed tasks several times (the request to the connection's task, its answer
//! back, each piece of the body again, and a further task spawned per request to put the
//! connection back in the pool once its body was read). Here an HTTP/1.1 connection is driven by
//! whoever holds it: while a request waits for its answer the request's own task polls the
//! connection, and the answer's body ([`body::H1Body`]) polls it with every read, then puts it
//! back in the pool when the body has ended. An HTTP/2 connection multiplexes many requests, so
//! it keeps a task of its own and one sender per host is shared.
//!
//! What it keeps of hyper-util's client: at most [`MAX_IDLE_PER_HOST`] idle connections per
//! host, closed after [`IDLE_TIMEOUT`] unused (also by a reaper task while no request comes);
//! the `Host` header and origin-form request target for HTTP/1.1; and a request that a reused
//! connection closed before writing any of it is tried again on another connection (never one
//! that may have reached the upstream).

mod body;

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use http::header::{HeaderValue, HOST};
use http::uri::{Authority, Scheme};
use http::{Request, Uri};
use http_body_util::{BodyDataStream, Full};
use hyper::client::conn::{http1, http2, TrySendError};
use hyper_util::client::legacy::connect::Connection as _;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use parking_lot::Mutex;
use tower::Service;

use super::connect::{Stream, TimedConnector};
use super::error::{BodyStream, UpstreamError};
use super::{IDLE_TIMEOUT, MAX_IDLE_PER_HOST};
use crate::fast_hash::FastMap;

type ReqBody = Full<Bytes>;
type Key = (Scheme, Authority);

/// An HTTP/1.1 connection with its sender, driven by whoever holds it.
struct H1 {
    sender: http1::SendRequest<ReqBody>,
    /// `None` once it has ended.
    conn: Option<http1::Connection<Stream, ReqBody>>,
}

impl H1 {
    /// Polls the connection, which reads what arrived (a close, the rest of an answer), and lets
    /// go of it once it has ended: hyper hands back a request still queued on a connection only
    /// when the connection is dropped (kept, the request would wait for good). `false` once
    /// ended.
    fn drive(&mut self, cx: &mut Context<'_>) -> bool {
        if let Some(conn) = &mut self.conn {
            if Pin::new(conn).poll(cx).is_ready() {
                self.conn = None;
            }
        }
        self.conn.is_some()
    }

    /// Polls the connection once: `false` if the upstream has closed it meanwhile.
    async fn alive(&mut self) -> bool {
        poll_fn(|cx| Poll::Ready(self.drive(cx))).await
    }
}

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
    Unsent(Box<Request<ReqBody>>),
    Error(UpstreamError),
}

impl From<TrySendError<Request<ReqBody>>> for Failed {
    fn from(mut e: TrySendError<Request<ReqBody>>) -> Self {
        match e.take_message() {
            Some(req) => Failed::Unsent(Box::new(req)),
            None => Failed::Error(UpstreamError::boxed(e.into_error())),
        }
    }
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
        mut req: Request<ReqBody>,
    ) -> Result<http::Response<BodyStream>, UpstreamError> {
        let uri = req.uri().clone();
        let key = match (uri.scheme(), uri.authority()) {
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
        let had_host = req.headers().contains_key(HOST);
        while let Some(mut h1) = self.checkout(&key) {
            if !h1.alive().await || !h1.sender.is_ready() {
                continue;
            }
            to_origin_form(&mut req, &uri);
            match self.send_h1(h1, req, &key).await {
                Ok(answer) => return Ok(answer),
                Err(Failed::Unsent(back)) => req = *back,
                Err(Failed::Error(e)) => return Err(e),
            }
        }
        let fresh = match Box::pin(self.connect(&key)).await? {
            Fresh::H1(h1) => h1,
            Fresh::H2(sender) => {
                // A request first meant for a pooled HTTP/1.1 connection: back to its absolute
                // form.
                *req.uri_mut() = uri;
                if !had_host {
                    req.headers_mut().remove(HOST);
                }
                return match Box::pin(send_h2(sender, req)).await {
                    Ok(answer) => Ok(answer),
                    Err(Failed::Unsent(_)) => Err(UpstreamError::msg(
                        "the upstream closed a new connection before the request was sent",
                    )),
                    Err(Failed::Error(e)) => Err(e),
                };
            }
        };
        to_origin_form(&mut req, &uri);
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
        let (sender, conn) = http1::handshake(io).await.map_err(UpstreamError::boxed)?;
        Ok(Fresh::H1(Box::new(H1 {
            sender,
            conn: Some(conn),
        })))
    }

    /// Sends on `h1`, polling the connection in this task until the answer's head is in; the
    /// answer's body then drives the connection and puts it back in the pool at its end.
    async fn send_h1(
        self: &Arc<Self>,
        mut h1: Box<H1>,
        req: Request<ReqBody>,
        key: &Key,
    ) -> Result<http::Response<BodyStream>, Failed> {
        let mut sent = std::pin::pin!(h1.sender.try_send_request(req));
        let answer = poll_fn(|cx| {
            // A connection that ends (closed, failed) is dropped here, so the send below ends
            // with the request back or an error.
            h1.drive(cx);
            sent.as_mut().poll(cx)
        })
        .await;
        let (parts, incoming) = answer?.into_parts();
        let held = h1.conn.is_some().then_some(h1);
        let body = body::H1Body::new(incoming, held, Arc::downgrade(self), key.clone());
        Ok(http::Response::from_parts(parts, body.boxed()))
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
    req: Request<ReqBody>,
) -> Result<http::Response<BodyStream>, Failed> {
    if sender.ready().await.is_err() {
        return Err(Failed::Unsent(Box::new(req)));
    }
    let (parts, incoming) = sender.try_send_request(req).await?.into_parts();
    let body = BodyDataStream::new(incoming).map_err(UpstreamError::boxed);
    Ok(http::Response::from_parts(parts, body.boxed()))
}

/// HTTP/1.1's request target and `Host` header, as hyper-util's client sets them (only the
/// first call on a request changes it).
fn to_origin_form(req: &mut Request<ReqBody>, uri: &Uri) {
    if req.uri().scheme().is_none() {
        return;
    }
    if !req.headers().contains_key(HOST) {
        if let Some(host) = host_header(uri) {
            req.headers_mut().insert(HOST, host);
        }
    }
    let target = match uri.path_and_query() {
        Some(p) if p.as_str() != "/" => Uri::from(p.clone()),
        _ => Uri::default(),
    };
    *req.uri_mut() = target;
}

fn host_header(uri: &Uri) -> Option<HeaderValue> {
    let host = uri.host()?;
    let default = match uri.scheme_str() {
        Some("https") => 443,
        _ => 80,
    };
    match uri.port_u16() {
        Some(port) if port != default => HeaderValue::try_from(format!("{host}:{port}")).ok(),
        _ => HeaderValue::from_str(host).ok(),
    }
}

#[cfg(test)]
mod tests;
