//! What every relay request passes before its handler runs, none of it touching the database:
//!
//! 1. an address that has presented too many unknown keys is refused (429 with `Retry-After`)
//!    before its key is looked at ([`crate::auth::failures::FailureLimiter`], per address as
//!    [`crate::auth::client_addr::ProxyTrust`] finds it; IPv6 per /64);
//! 2. the process-wide budget ([`crate::limits::budget`]): one more request in flight, and a
//!    declared body that fits; the body itself is counted as the handler reads it, which it
//!    does only after the key is known;
//!
//! and after it: an answer saying "unknown key" counts one failure against the address.
//! Requests still waiting (queued, or for upstream headers) when the shutdown grace period
//! ends are answered with 503 so shutdown can finish (one layer for both: each layer costs
//! every request a boxed future and a service clone).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ErrorKind, Protocol, RelayError};
use super::Relay;
use crate::auth::failures::FailurePolicy;
use crate::limits::budget::{OverBudget, TicketedBody, RETRY_AFTER};

/// Unknown keys an address may present at once, then one more every [`KEY_FAILURE_REFILL`].
pub const KEY_FAILURE_BURST: u32 = 20;
pub const KEY_FAILURE_REFILL: Duration = Duration::from_secs(3);

pub fn key_failure_policy() -> FailurePolicy {
    FailurePolicy {
        burst: KEY_FAILURE_BURST,
        refill: KEY_FAILURE_REFILL,
        capacity: 65_536,
    }
}

pub use super::error::UnknownKeyPresented;

/// The protocol a relay path speaks, for answers given before its handler runs.
pub fn protocol_of(path: &str) -> Protocol {
    if path.starts_with("/gemini/") {
        Protocol::Gemini
    } else if path.starts_with("/openai/")
        || path.starts_with("/v1/chat/")
        || path.starts_with("/v1/responses")
    {
        Protocol::OpenAi
    } else {
        Protocol::Anthropic
    }
}

/// The gate as the relay router's layer.
pub async fn gate(State(relay): State<Arc<Relay>>, req: Request, next: Next) -> Response {
    pass(&relay, req, |req| next.run(req)).await
}

/// The gate around `handler`: for the router's layer and for the routes the listener hands
/// straight to their handler ([`super::routes::Hot`]).
pub async fn pass<F, Fut>(relay: &Relay, req: Request, handler: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let protocol = protocol_of(req.uri().path());
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = relay.proxies.client_ip(req.headers(), peer);
    if let Err(secs) = relay.key_failures.check(ip) {
        return RelayError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::RateLimit,
            "too many requests with unknown API keys from this address",
        )
        .retry_after(Duration::from_secs(secs))
        .into_response(protocol);
    }
    let over = |why: OverBudget| {
        RelayError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Overloaded,
            format!("{why}; try again shortly"),
        )
        .retry_after(RETRY_AFTER)
        .into_response(protocol)
    };
    let ticket = match relay.budget.enter() {
        Ok(t) => t,
        Err(why) => return over(why),
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| !relay.budget.would_fit(n)) {
        return over(OverBudget::Bytes);
    }
    let req = req.map(|body| Body::new(ticket.body(body)));
    let res = tokio::select! {
        res = handler(req) => res,
        _ = relay.cut.cancelled() => {
            return (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "5")],
                "shutting down",
            )
                .into_response();
        }
    };
    if res.extensions().get::<UnknownKeyPresented>().is_some() {
        relay.key_failures.record_failure(ip);
    }
    // The handler is done with the request body; the answer holds the in-flight count.
    ticket.release_bytes();
    res.map(|body| Body::new(TicketedBody::new(body, ticket)))
}
