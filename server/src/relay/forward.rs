//! The platform-generic part of relaying: admission (limits 2–5), the failover loop over
//! scheduled accounts, and the streamed answer with its accounting hook.

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::types::Platform;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;

use super::error::{ErrorKind, Protocol, RelayError};
use super::meter::{BodyEnd, Finish, MeteredBody};
use super::usage_parse::{ParsedUsage, UsageParser};
use super::writer::UsageEvent;
use super::Relay;
use crate::limits::{Admitted, Binding, KeyLimits, Refusal};
use crate::pricing::{cost_micros, worst_case_micros, PriceLookup, PriceSource};
use crate::scheduler::health::Outcome;
use crate::scheduler::pool::UpstreamAccount;
use crate::scheduler::Lease;
use crate::storage::now_ms;

/// What a platform adapter needs to talk to its upstream.
pub trait Adapter: Send + Sync {
    fn protocol(&self) -> Protocol;
    fn platform(&self) -> Platform;
    /// The upstream request for this account (URL, credentials, forwarded headers, body with
    /// the account's model mapping applied).
    fn build(
        &self,
        account: &UpstreamAccount,
        call: &Call,
    ) -> Result<reqwest::RequestBuilder, RelayError>;
    /// How a non-success answer bears on the account's health.
    fn classify(
        &self,
        status: StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Outcome;
    fn parser(&self, stream: bool) -> Box<dyn UsageParser>;
    /// For a 4xx answer not already treated as the account's fault (401/403/429): whether the
    /// body says the account is at fault after all (Gemini answers a revoked key with 400
    /// `API_KEY_INVALID`). Only adapters that return `true` from
    /// [`Adapter::inspects_client_errors`] are asked, so other platforms' 4xx bodies stream
    /// through untouched.
    fn account_fault(&self, _status: StatusCode, _body: &[u8]) -> Option<Outcome> {
        None
    }
    fn inspects_client_errors(&self) -> bool {
        false
    }
    /// A rewrite of the answer body for clients that speak another protocol than the upstream
    /// (OpenAI clients on Claude accounts). `None` passes the body through untouched.
    fn transform(&self, _call: &Call, _status: StatusCode) -> Option<Box<dyn BodyTransform>> {
        None
    }
}

/// Rewrites an answer body chunk by chunk (after metering, which reads the upstream's bytes).
pub trait BodyTransform: Send + 'static {
    /// The client-facing bytes for one upstream chunk (possibly empty).
    fn chunk(&mut self, upstream: &[u8]) -> Bytes;
    /// Whatever remains when the upstream body ends.
    fn end(&mut self) -> Bytes;
    /// The client-facing content type.
    fn content_type(&self) -> &'static str;
}

/// Applies a [`BodyTransform`] to a body stream; upstream errors pass through.
fn transformed(
    body: MeteredBody,
    mut t: Box<dyn BodyTransform>,
) -> impl futures::Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let tail = futures::stream::once(async { Ok::<_, std::io::Error>(Bytes::new()) });
    let mut ended = false;
    body.map(Some)
        .chain(tail.map(|_| None))
        .filter_map(move |item| {
            let out = match item {
                Some(Ok(bytes)) => Some(Ok(t.chunk(&bytes))),
                Some(Err(e)) => {
                    ended = true;
                    Some(Err(e))
                }
                None if !ended => Some(Ok(t.end())),
                None => None,
            };
            futures::future::ready(out.filter(|r| !matches!(r, Ok(b) if b.is_empty())))
        })
}

/// A client request, parsed just enough to route and bill it.
pub struct Call {
    /// Path and query to send upstream (e.g. `/v1/messages?beta=true`).
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub model: String,
    pub stream: bool,
    /// Upper bound of output tokens the request may produce.
    pub max_output_tokens: u64,
    pub session: Option<u64>,
    /// False for free endpoints (token counting): no reservation, zero cost.
    pub billable: bool,
}

/// Hop-by-hop and framing headers never forwarded, in either direction.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// Upstream answer headers passed to the client. Upstream rate-limit headers describe the
/// account, not the client's key, and are replaced by ours.
const PASS_BACK: &[&str] = &[
    "content-type",
    "content-encoding",
    "content-length",
    "request-id",
    "x-request-id",
    "cache-control",
];

pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.contains(&name)
}

/// Limits (2)–(5) and the relay itself.
pub async fn relay_call(
    relay: &Arc<Relay>,
    adapter: &dyn Adapter,
    key: Arc<KeyLimits>,
    call: Call,
    started: Instant,
) -> Response {
    let protocol = adapter.protocol();
    let platform = adapter.platform();
    if !key.platform_allowed(platform) {
        let refusal = Refusal::PlatformNotAllowed { platform };
        relay.record_refusal(
            &key,
            platform,
            &call.model,
            403,
            "permission_error",
            call.stream,
            started,
        );
        return RelayError::from(refusal).into_response(protocol);
    }
    if !key.model_allowed(&call.model) {
        relay.record_refusal(
            &key,
            platform,
            &call.model,
            403,
            "permission_error",
            call.stream,
            started,
        );
        return RelayError::from(Refusal::ModelNotAllowed {
            model: call.model.clone(),
        })
        .into_response(protocol);
    }
    let price = relay.pricing.load().lookup(&call.model);
    let estimate = if call.billable {
        let input_estimate = (call.body.len() / 3) as u64;
        worst_case_micros(&price.price, input_estimate, call.max_output_tokens)
    } else {
        0
    };
    let (day, midnight) =
        crate::limits::directory::day_and_next_midnight(now_ms(), relay.keys.time_zone());
    let admitted = match relay.admission.admit(&key, estimate, day, midnight).await {
        Ok(a) => a,
        Err(refusal) => {
            let err = RelayError::from(refusal);
            relay.record_refusal(
                &key,
                platform,
                &call.model,
                err.status.as_u16(),
                err.kind.as_str(),
                call.stream,
                started,
            );
            let mut res = err.into_response(protocol);
            relay.key_headers(&key, res.headers_mut());
            return res;
        }
    };
    let mut res = attempt_loop(relay, adapter, admitted, price, call, started).await;
    relay.key_headers(&key, res.headers_mut());
    res
}

/// Why the previous attempt failed, kept to answer the client if no account succeeds.
enum Failure {
    Upstream {
        status: StatusCode,
        headers: reqwest::header::HeaderMap,
        body: Bytes,
    },
    Transport(RelayError),
}

async fn attempt_loop(
    relay: &Arc<Relay>,
    adapter: &dyn Adapter,
    admitted: Admitted,
    price: PriceLookup,
    call: Call,
    started: Instant,
) -> Response {
    let protocol = adapter.protocol();
    let platform = adapter.platform();
    let key = admitted.key().clone();
    let max_attempts = relay.settings.serve.scheduler.failover_max_attempts.max(1);
    let first_byte_timeout =
        Duration::from_millis(relay.settings.serve.relay.first_byte_timeout_ms);
    let mut exclude: Vec<Arc<str>> = Vec::new();
    let mut last: Option<Failure> = None;
    let group_id = match key.binding(platform) {
        Binding::Group(g) => Some(g.clone()),
        _ => None,
    };

    for _ in 0..max_attempts {
        let now = now_ms();
        let mut lease =
            match relay
                .scheduler
                .select(&key, platform, &call.model, call.session, &exclude, now)
            {
                Ok(lease) => lease,
                Err(none) => {
                    if last.is_none() {
                        let err = RelayError::from(none);
                        let status = err.status.as_u16();
                        finish_without_answer(
                            relay,
                            admitted,
                            &price,
                            &call,
                            platform,
                            None,
                            group_id,
                            status,
                            "overloaded_error",
                            started,
                        );
                        return err.into_response(protocol);
                    }
                    break;
                }
            };
        let request = match adapter.build(&lease.account, &call) {
            Ok(r) => r,
            Err(e) => {
                finish_without_answer(
                    relay,
                    admitted,
                    &price,
                    &call,
                    platform,
                    Some(lease.account.id.clone()),
                    group_id,
                    e.status.as_u16(),
                    "invalid_request_error",
                    started,
                );
                return e.into_response(protocol);
            }
        };
        let sent = tokio::time::timeout(first_byte_timeout, request.send()).await;
        let answer = match sent {
            Err(_) => {
                relay.metrics.attempt(0, now_ms());
                relay.prometheus.attempt(platform, &lease.account.id, 0);
                relay.scheduler.report(
                    &mut lease,
                    Outcome::Failed {
                        status: None,
                        message: "no answer in time".into(),
                    },
                    now_ms(),
                );
                last = Some(Failure::Transport(RelayError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    ErrorKind::Timeout,
                    "the upstream did not answer in time",
                )));
                exclude.push(lease.account.id.clone());
                continue;
            }
            Ok(Err(e)) => {
                relay.metrics.attempt(0, now_ms());
                relay.prometheus.attempt(platform, &lease.account.id, 0);
                let message = format!("upstream unreachable: {}", describe(e));
                relay.scheduler.report(
                    &mut lease,
                    Outcome::Failed {
                        status: None,
                        message: message.clone(),
                    },
                    now_ms(),
                );
                last = Some(Failure::Transport(RelayError::new(
                    StatusCode::BAD_GATEWAY,
                    ErrorKind::Api,
                    message,
                )));
                exclude.push(lease.account.id.clone());
                continue;
            }
            Ok(Ok(answer)) => answer,
        };
        let status = answer.status();
        relay.metrics.attempt(status.as_u16(), now_ms());
        relay
            .prometheus
            .attempt(platform, &lease.account.id, status.as_u16());
        let retryable = status == StatusCode::TOO_MANY_REQUESTS
            || status.as_u16() == 529
            || status.is_server_error()
            || status == StatusCode::UNAUTHORIZED
            || status == StatusCode::FORBIDDEN;
        if retryable {
            let headers = answer.headers().clone();
            let body = read_error_body(answer).await;
            let outcome = adapter.classify(status, &headers, &body, now_ms());
            relay.scheduler.report(&mut lease, outcome, now_ms());
            exclude.push(lease.account.id.clone());
            last = Some(Failure::Upstream {
                status,
                headers,
                body,
            });
            continue;
        }
        let headers = answer.headers().clone();
        let body: BoxStream<'static, reqwest::Result<Bytes>> =
            if status.is_client_error() && adapter.inspects_client_errors() {
                let bytes = read_error_body(answer).await;
                if let Some(outcome) = adapter.account_fault(status, &bytes) {
                    relay.scheduler.report(&mut lease, outcome, now_ms());
                    exclude.push(lease.account.id.clone());
                    last = Some(Failure::Upstream {
                        status,
                        headers,
                        body: bytes,
                    });
                    continue;
                }
                futures::stream::once(futures::future::ready(Ok(bytes))).boxed()
            } else {
                answer.bytes_stream().boxed()
            };
        // Success, or an error caused by the request itself: the account is fine.
        relay
            .scheduler
            .report(&mut lease, Outcome::Success, now_ms());
        let upstream = Upstream {
            status,
            headers: &headers,
            body,
        };
        return stream_answer(
            relay, adapter, upstream, admitted, lease, price, &call, group_id, started,
        );
    }

    // Every attempt failed: the client gets the last failure as it was.
    let (status, error_type, response) = match last {
        Some(Failure::Upstream {
            status,
            headers,
            body,
        }) => {
            let mut res = Response::new(Body::from(body));
            *res.status_mut() = status;
            copy_headers(&headers, res.headers_mut());
            if let Some(ra) = headers.get(header::RETRY_AFTER) {
                res.headers_mut().insert(header::RETRY_AFTER, ra.clone());
            }
            (status.as_u16(), "upstream_error", res)
        }
        Some(Failure::Transport(e)) => (
            e.status.as_u16(),
            "upstream_unreachable",
            e.into_response(protocol),
        ),
        None => {
            let e = RelayError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorKind::Overloaded,
                "no upstream account available",
            );
            (503, "overloaded_error", e.into_response(protocol))
        }
    };
    finish_without_answer(
        relay,
        admitted,
        &price,
        &call,
        platform,
        exclude.last().cloned(),
        group_id,
        status,
        error_type,
        started,
    );
    response
}

/// A transport error's text without the URL (a query string may carry credentials).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Reads an upstream error body, bounded in size and time.
async fn read_error_body(answer: reqwest::Response) -> Bytes {
    const MAX: usize = 64 * 1024;
    let read = async {
        let mut buf = Vec::new();
        let mut stream = answer.bytes_stream();
        while let Some(Ok(chunk)) = stream.next().await {
            let room = MAX.saturating_sub(buf.len());
            buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if buf.len() >= MAX {
                break;
            }
        }
        Bytes::from(buf)
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .unwrap_or_default()
}

fn copy_headers(from: &reqwest::header::HeaderMap, to: &mut HeaderMap) {
    for name in PASS_BACK {
        if let Some(v) = from.get(*name) {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(v.as_bytes()),
            ) {
                to.insert(n, v);
            }
        }
    }
}

/// An upstream answer's status, headers and body stream.
struct Upstream<'a> {
    status: StatusCode,
    headers: &'a reqwest::header::HeaderMap,
    body: BoxStream<'static, reqwest::Result<Bytes>>,
}

#[allow(clippy::too_many_arguments)]
fn stream_answer(
    relay: &Arc<Relay>,
    adapter: &dyn Adapter,
    answer: Upstream<'_>,
    admitted: Admitted,
    lease: Lease,
    price: PriceLookup,
    call: &Call,
    group_id: Option<Arc<str>>,
    started: Instant,
) -> Response {
    let status = answer.status;
    let mut headers = HeaderMap::new();
    copy_headers(answer.headers, &mut headers);
    let encoding = answer
        .headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let success = status.is_success();
    let parser = adapter.parser(call.stream && success);
    let finish = Box::new(Accounting {
        relay: relay.clone(),
        admitted: Some(admitted),
        lease: Some(lease),
        price,
        event: template(call, adapter.platform(), None, group_id, started),
        status: status.as_u16(),
        started,
    });
    let body = MeteredBody::new(
        answer.body,
        parser,
        encoding.as_deref(),
        finish,
        started,
        Duration::from_millis(relay.settings.serve.relay.idle_timeout_ms),
        relay.cut.clone().cancelled_owned(),
    );
    let mut res = match adapter.transform(call, status) {
        Some(t) => {
            headers.remove(header::CONTENT_LENGTH);
            headers.remove(header::CONTENT_ENCODING);
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(t.content_type()),
            );
            Response::new(Body::from_stream(transformed(body, t)))
        }
        None => Response::new(Body::from_stream(body)),
    };
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

fn template(
    call: &Call,
    platform: Platform,
    account: Option<Arc<str>>,
    group_id: Option<Arc<str>>,
    started: Instant,
) -> UsageEvent {
    UsageEvent {
        request_id: uuid::Uuid::now_v7().to_string(),
        account_id: account,
        group_id,
        platform: platform.as_str(),
        model: call.model.clone(),
        stream: call.stream,
        created_at: now_ms() - started.elapsed().as_millis() as i64,
        ..Default::default()
    }
}

/// Settles and records a request that ends without an upstream answer body.
#[allow(clippy::too_many_arguments)]
fn finish_without_answer(
    relay: &Arc<Relay>,
    admitted: Admitted,
    price: &PriceLookup,
    call: &Call,
    platform: Platform,
    account: Option<Arc<str>>,
    group_id: Option<Arc<str>>,
    status: u16,
    error_type: &str,
    started: Instant,
) {
    let mut event = template(call, platform, account, group_id, started);
    event.key_id = admitted.key().id.clone();
    event.status = status;
    event.error_type = Some(error_type.to_owned());
    event.price = serde_json::to_string(&price.price).unwrap_or_default();
    event.latency_ms = started.elapsed().as_millis() as i64;
    admitted.settle(0);
    relay.record_event(event);
}

/// The accounting hook of an answered request.
struct Accounting {
    relay: Arc<Relay>,
    admitted: Option<Admitted>,
    lease: Option<Lease>,
    price: PriceLookup,
    event: UsageEvent,
    status: u16,
    started: Instant,
}

impl Finish for Accounting {
    fn finish(
        mut self: Box<Self>,
        end: BodyEnd,
        parsed: ParsedUsage,
        first_byte: Option<Duration>,
    ) {
        let cost = if self.event.stream || self.status < 400 {
            cost_micros(&self.price.price, &parsed.usage)
        } else {
            0
        };
        let mut lease = self.lease.take();
        if let Some(lease) = lease.as_mut() {
            let outcome = match &end {
                BodyEnd::UpstreamError(m) => Some(Outcome::Failed {
                    status: None,
                    message: m.clone(),
                }),
                BodyEnd::IdleTimeout => Some(Outcome::Failed {
                    status: None,
                    message: "stream went silent".into(),
                }),
                _ => None,
            };
            if let Some(outcome) = outcome {
                self.relay.scheduler.report(lease, outcome, now_ms());
            }
        }
        let account = lease.as_ref().map(|l| l.account.id.clone());
        drop(lease);
        let key = self.admitted.as_ref().map(|a| a.key().clone());
        if let (Some(admitted), Some(key)) = (self.admitted.take(), key) {
            let settled = admitted.settle(cost);
            self.relay.after_settle(&key, settled);
            let mut e = std::mem::take(&mut self.event);
            e.key_id = key.id.clone();
            e.account_id = account;
            e.usage = parsed.usage;
            e.cost_micros = cost;
            e.price = serde_json::to_string(&self.price.price).unwrap_or_default();
            e.priced_by_fallback = self.price.source == PriceSource::Fallback;
            e.status = self.status;
            e.error_type = match &end {
                BodyEnd::Completed => parsed.error.clone(),
                BodyEnd::UpstreamError(_) => Some("upstream_stream_error".into()),
                BodyEnd::IdleTimeout => Some("upstream_idle_timeout".into()),
                BodyEnd::ClientGone => Some("client_disconnected".into()),
                BodyEnd::Cut => Some("shutdown".into()),
            };
            e.client_disconnected = end == BodyEnd::ClientGone;
            e.latency_ms = self.started.elapsed().as_millis() as i64;
            e.ttft_ms = first_byte.map(|d| d.as_millis() as i64);
            self.relay.record_event(e);
        }
    }
}

/// Reads a request body up to `limit` bytes; 413 beyond it.
pub async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, RelayError> {
    let too_large = || {
        RelayError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::RequestTooLarge,
            format!(
                "request body exceeds the limit of {} MiB",
                limit / (1024 * 1024)
            ),
        )
    };
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > limit {
            return Err(too_large());
        }
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
        {
            too_large()
        } else {
            RelayError::invalid(format!("could not read the request body: {e}"))
        }
    })
}
