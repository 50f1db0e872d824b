//! Failover: for each attempt, schedule an account, send the request, classify the answer
//! ([`classify`]) and either stream it back or try the next account; when every attempt
//! failed, answer the client in its protocol's shape.

pub mod classify;
pub mod first_token;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use futures::StreamExt;

use super::accounting::answer::{stream_answer, Upstream};
use super::accounting::unanswered::Unanswered;
use super::error::{ErrorKind, RelayError};
use super::platforms::{Adapter, Call};
use super::Relay;
use crate::limits::{Admitted, Binding};
use crate::pricing::PriceLookup;
use crate::scheduler::health::Outcome;
use crate::scheduler::pool::UpstreamAccount;
use crate::storage::now_ms;
use crate::upstream_http::BodyStream;
use classify::{needs_verdict, verdict};

/// Why the previous attempt failed, kept to answer the client if no account succeeds.
enum Failure {
    Upstream {
        status: StatusCode,
        headers: HeaderMap,
    },
    Transport(StatusCode, ErrorKind),
}

/// How much of an error answer's body is read to judge it, and for how long.
const MAX_ERROR_BODY: usize = 64 * 1024;
const ERROR_BODY_WAIT: Duration = Duration::from_secs(10);

#[allow(clippy::too_many_arguments)]
pub(crate) async fn attempt_loop(
    relay: &Arc<Relay>,
    adapter: &dyn Adapter,
    admitted: Admitted,
    price: PriceLookup,
    call: Call,
    started: Instant,
    mut record: Unanswered,
) -> Response {
    let protocol = adapter.protocol();
    let platform = adapter.platform();
    let key = admitted.key().clone();
    let max_attempts = relay.settings.serve.scheduler.failover_max_attempts.max(1);
    let first_byte_timeout =
        Duration::from_millis(relay.settings.serve.relay.first_byte_timeout_ms);
    let mut exclude: Vec<Arc<str>> = Vec::new();
    let mut last: Option<Failure> = None;
    record.set_group(match key.binding(platform) {
        Binding::Group(g) => Some(g.clone()),
        _ => None,
    });

    for _ in 0..max_attempts {
        let now = relay.scheduler.now_ms();
        let mut lease = match relay
            .scheduler
            .schedule(&key, platform, &call.model, call.session, &exclude, now)
            .await
        {
            Ok(lease) => lease,
            Err(none) if last.is_none() => {
                let err = RelayError::from(none);
                record.failed(
                    admitted,
                    err.status.as_u16(),
                    err.kind.as_str(),
                    None,
                    &price,
                );
                return err.into_response(protocol);
            }
            Err(_) => break,
        };
        let request = match adapter.build(&lease.account, &call) {
            Ok(r) => r,
            Err(e) => {
                record.failed(
                    admitted,
                    e.status.as_u16(),
                    e.kind.as_str(),
                    Some(lease.account.id.clone()),
                    &price,
                );
                return e.into_response(protocol);
            }
        };
        let sent = match tokio::time::timeout(first_byte_timeout, request.send()).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err((
                StatusCode::BAD_GATEWAY,
                ErrorKind::Api,
                format!("upstream unreachable: {}", e.describe()),
            )),
            Err(_) => Err((
                StatusCode::GATEWAY_TIMEOUT,
                ErrorKind::Timeout,
                "no answer in time".to_owned(),
            )),
        };
        let mut answer = match sent {
            Ok(answer) => answer,
            Err((status, kind, message)) => {
                relay.metrics.attempt(0, now_ms());
                relay.prometheus.attempt(platform, &lease.account.id, 0);
                relay.scheduler.report(
                    &mut lease,
                    Outcome::Failed {
                        status: None,
                        message,
                    },
                    relay.scheduler.now_ms(),
                );
                last = Some(Failure::Transport(status, kind));
                exclude.push(lease.account.id.clone());
                continue;
            }
        };
        let status = answer.status;
        relay.metrics.attempt(status.as_u16(), now_ms());
        relay
            .prometheus
            .attempt(platform, &lease.account.id, status.as_u16());
        // Taken, not cloned: the body stream does not need them.
        let headers = std::mem::take(&mut answer.headers);
        let body: BodyStream = if needs_verdict(adapter, status) {
            let bytes = answer.read_bounded(MAX_ERROR_BODY, ERROR_BODY_WAIT).await;
            if let Some(outcome) = verdict(adapter, status, &headers, &bytes, call.billable) {
                let now = relay.scheduler.now_ms();
                relay.scheduler.report(&mut lease, outcome, now);
                exclude.push(lease.account.id.clone());
                last = Some(Failure::Upstream { status, headers });
                continue;
            }
            futures::stream::once(futures::future::ready(Ok(bytes))).boxed()
        } else {
            answer.body
        };
        let body = if call.stream && status.is_success() {
            let wait = lease
                .account
                .first_token_timeout
                .unwrap_or(Duration::from_millis(
                    relay.settings.serve.relay.first_token_timeout_ms,
                ));
            match first_token::first_content(body, wait).await {
                Some(body) => body,
                None => {
                    // Nothing reached the client yet: abandon the stream and fail over.
                    relay.scheduler.report(
                        &mut lease,
                        Outcome::Failed {
                            status: None,
                            message: format!("no first token within {} ms", wait.as_millis()),
                        },
                        relay.scheduler.now_ms(),
                    );
                    last = Some(Failure::Transport(
                        StatusCode::GATEWAY_TIMEOUT,
                        ErrorKind::Timeout,
                    ));
                    exclude.push(lease.account.id.clone());
                    continue;
                }
            }
        } else {
            body
        };
        // A success proves the account sound; an error caused by the request itself says
        // nothing about it either way (a probe that ends so is given back when the lease goes).
        if status.is_success() {
            relay
                .scheduler
                .report(&mut lease, Outcome::Success, relay.scheduler.now_ms());
        }
        let upstream = Upstream {
            status,
            headers: &headers,
            body,
        };
        let event = record.answered();
        let price = priced_upstream(relay, &lease.account, &call.model, price);
        return stream_answer(
            relay, adapter, upstream, admitted, lease, price, &call, event, started,
        )
        .await;
    }

    // Every attempt failed. The client learns what kind of failure it was (and when to retry)
    // in its protocol's shape, never the upstream's own text: that describes the operator's
    // accounts (organisation ids, key hints) and would make the client doubt its own key.
    // When the accounts tried are cooling down now, the soonest recovery says when to retry.
    let recovery = relay
        .scheduler
        .soonest_recovery(&exclude, relay.scheduler.now_ms());
    let err = match last {
        Some(Failure::Upstream { status, headers }) => {
            let retry_after = recovery.or_else(|| {
                headers
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs)
            });
            let e = match status.as_u16() {
                429 => RelayError::new(
                    status,
                    ErrorKind::RateLimit,
                    "every upstream account that can serve this request is rate limited",
                ),
                529 | 503 => RelayError::new(
                    status,
                    ErrorKind::Overloaded,
                    "the upstream accounts are overloaded",
                ),
                401 | 403 | 400 => RelayError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorKind::Overloaded,
                    "no upstream account could serve this request: their credentials were refused",
                ),
                _ => RelayError::new(
                    status,
                    ErrorKind::Api,
                    format!("the upstream failed with HTTP {}", status.as_u16()),
                ),
            };
            match retry_after {
                Some(d) => e.retry_after(d),
                None if status.as_u16() != 500 => e.retry_after(Duration::from_secs(5)),
                None => e,
            }
        }
        Some(Failure::Transport(status, kind)) => {
            let message = if kind == ErrorKind::Timeout {
                "the upstream did not answer in time"
            } else {
                "the upstream could not be reached"
            };
            let e = RelayError::new(status, kind, message);
            match recovery {
                Some(d) => e.retry_after(d),
                None => e,
            }
        }
        None => RelayError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Overloaded,
            "no upstream account available",
        ),
    };
    record.failed(
        admitted,
        err.status.as_u16(),
        err.kind.as_str(),
        exclude.last().cloned(),
        &price,
    );
    err.into_response(protocol)
}

/// The price of what the account is really asked for: its model mapping may send another
/// model upstream than the client named (e.g. `claude-sonnet-4-5` to a GPT model behind a
/// translation), and usage is billed at that model's price.
fn priced_upstream(
    relay: &Relay,
    account: &UpstreamAccount,
    model: &str,
    price: PriceLookup,
) -> PriceLookup {
    match account.upstream_model(model) {
        upstream if upstream != model => relay.pricing.load().lookup(upstream),
        _ => price,
    }
}
