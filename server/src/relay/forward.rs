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

use super::accounting::Accounting;
use super::blame::{needs_verdict, verdict};
pub use super::body::{read_body, read_key_body};
use super::error::{ErrorKind, Protocol, RelayError};
use super::meter::MeteredBody;
use super::request_cost::{self, RequestShape};
use super::usage_parse::UsageParser;
use super::writer::UsageEvent;
use super::Relay;
use crate::limits::{Admitted, Binding, KeyLimits, Refusal};
use crate::pricing::PriceLookup;
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
    /// For a 403: whether the body shows the request itself was refused (an unknown or
    /// forbidden model, a moderation refusal, Gemini's PERMISSION_DENIED on a file the caller
    /// does not own), not the account's credential. Such answers go to the client as they are,
    /// without failover and without touching the account's health (see [`super::blame`]).
    fn request_fault(&self, status: StatusCode, body: &[u8]) -> bool {
        status == StatusCode::FORBIDDEN && super::blame::forbidden_by_request(self.platform(), body)
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
    /// Answers, declared server tools and where the output ceiling lives.
    pub shape: RequestShape,
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
    mut call: Call,
    started: Instant,
) -> Response {
    let protocol = adapter.protocol();
    let platform = adapter.platform();
    // A name the usage store could not hold is refused before anything records it.
    if let Err(e) = super::guards::check_model_name(&call.model) {
        return e.into_response(protocol);
    }
    // From here on the request leaves a usage event whatever happens, even if the client goes
    // away while it waits in the queue or for an upstream (the future is then dropped).
    let mut record = Unanswered::new(relay, &key, platform, &call, started);
    let refused = if !key.platform_allowed(platform) {
        Some(RelayError::from(Refusal::PlatformNotAllowed { platform }))
    } else if !key.model_allowed(&call.model) {
        Some(RelayError::from(Refusal::ModelNotAllowed {
            model: call.model.clone(),
        }))
    } else if call.billable && call.shape.tools.any && !key.allow_server_tools {
        Some(RelayError::new(
            StatusCode::FORBIDDEN,
            ErrorKind::Permission,
            "this API key may not use server-side tools (web search, code execution, grounding)",
        ))
    } else if call.billable {
        relay
            .family_spend
            .check(relay, &key, &call.model, now_ms())
            .await
            .map(RelayError::from)
    } else {
        None
    };
    if let Some(err) = refused {
        record.refused(err.status.as_u16(), err.kind.as_str());
        return err.into_response(protocol);
    }
    if !call.billable {
        if let Err(wait) = relay.counting.admit(&key.id) {
            let err = RelayError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorKind::RateLimit,
                format!(
                    "token counting is limited to {} calls a minute per key",
                    crate::limits::counting::COUNT_TOKENS_PER_MINUTE
                ),
            )
            .retry_after(wait);
            record.refused(err.status.as_u16(), err.kind.as_str());
            return err.into_response(protocol);
        }
    }
    let price = relay.pricing.load().lookup(&call.model);
    let (estimate, floor) = if call.billable {
        if key.strict_max_tokens {
            if let Err(err) = apply_strict_ceiling(relay, &key, &price, &mut call) {
                record.refused(err.status.as_u16(), err.kind.as_str());
                let mut res = err.into_response(protocol);
                relay.key_headers(&key, res.headers_mut());
                return res;
            }
        }
        let estimate = request_cost::reservation_micros(
            &price.price,
            call.body.len(),
            call.max_output_tokens,
            &call.shape,
        );
        let floor = request_cost::input_cost_micros(
            &price.price,
            request_cost::refusal_prompt_tokens(call.body.len()),
        );
        (estimate, floor)
    } else {
        (0, 0)
    };
    let (day, midnight) =
        crate::limits::directory::day_and_next_midnight(now_ms(), relay.keys.time_zone());
    let admitted = match relay
        .admission
        .admit_within(&key, estimate, floor, day, midnight)
        .await
    {
        Ok(a) => a,
        Err(refusal) => {
            let err = RelayError::from(refusal);
            record.refused(err.status.as_u16(), err.kind.as_str());
            let mut res = err.into_response(protocol);
            relay.key_headers(&key, res.headers_mut());
            return res;
        }
    };
    let mut res = attempt_loop(relay, adapter, admitted, price, call, started, record).await;
    relay.key_headers(&key, res.headers_mut());
    res
}

/// Strict mode: lowers the request's output ceiling to what the key's remaining quota and
/// today's budget can pay for; refuses (402) when not even one output token fits.
fn apply_strict_ceiling(
    relay: &Relay,
    key: &KeyLimits,
    price: &PriceLookup,
    call: &mut Call,
) -> Result<(), RelayError> {
    let usage = relay.keys.state().usage(&key.id);
    let quota_left = (key.quota_limit > 0).then(|| key.quota_limit - usage.spent - usage.reserved);
    let day_left = (key.daily_cost_limit > 0).then(|| key.daily_cost_limit - usage.day_spent);
    let Some(budget) = quota_left.into_iter().chain(day_left).min() else {
        return Ok(());
    };
    let affordable =
        request_cost::affordable_output_tokens(&price.price, call.body.len(), &call.shape, budget);
    if affordable >= call.max_output_tokens {
        return Ok(());
    }
    if affordable == 0 {
        return Err(RelayError::from(Refusal::InputOverBudget {
            estimate: request_cost::reservation_micros(
                &price.price,
                call.body.len(),
                0,
                &call.shape,
            ),
            remaining: budget.max(0),
            daily: day_left == Some(budget),
        }));
    }
    call.body = call.shape.output_field.rewrite(&call.body, affordable)?;
    call.max_output_tokens = affordable;
    Ok(())
}

/// The usage event of a request that has no answer body (yet): written when the request is
/// refused, fails, or is abandoned — dropped before an answer exists because the client went
/// away or shutdown cut it. An answered request hands over to [`Accounting`] instead.
struct Unanswered {
    relay: Arc<Relay>,
    event: Option<UsageEvent>,
    started: Instant,
}

impl Unanswered {
    fn new(
        relay: &Arc<Relay>,
        key: &KeyLimits,
        platform: Platform,
        call: &Call,
        started: Instant,
    ) -> Self {
        let event = UsageEvent {
            request_id: uuid::Uuid::now_v7().to_string(),
            key_id: key.id.clone(),
            platform: platform.as_str(),
            model: call.model.clone(),
            stream: call.stream,
            created_at: now_ms(),
            ..Default::default()
        };
        Unanswered {
            relay: relay.clone(),
            event: Some(event),
            started,
        }
    }

    fn set_group(&mut self, group: Option<Arc<str>>) {
        if let Some(e) = self.event.as_mut() {
            e.group_id = group;
        }
    }

    fn write(
        &mut self,
        status: u16,
        error_type: &str,
        account: Option<Arc<str>>,
        price: Option<&PriceLookup>,
    ) {
        if let Some(mut e) = self.event.take() {
            e.status = status;
            e.error_type = Some(error_type.to_owned());
            e.account_id = account;
            if let Some(p) = price {
                e.price = serde_json::to_string(&p.price).unwrap_or_default();
            }
            e.latency_ms = self.started.elapsed().as_millis() as i64;
            self.relay.record_event(e);
        }
    }

    /// A refusal before admission or by it.
    fn refused(&mut self, status: u16, error_type: &str) {
        self.write(status, error_type, None, None);
    }

    /// Settles at zero and records a request that ends without an answer body.
    fn failed(
        &mut self,
        admitted: Admitted,
        status: u16,
        error_type: &str,
        account: Option<Arc<str>>,
        price: &PriceLookup,
    ) {
        admitted.settle(0);
        self.write(status, error_type, account, Some(price));
    }

    /// The answer's accounting takes over.
    fn answered(&mut self) -> UsageEvent {
        self.event.take().unwrap_or_default()
    }
}

impl Drop for Unanswered {
    fn drop(&mut self) {
        if let Some(e) = self.event.as_mut() {
            e.client_disconnected = !self.relay.cut.is_cancelled();
        }
        let kind = if self.relay.cut.is_cancelled() {
            "shutdown"
        } else {
            "client_disconnected"
        };
        // 499: the client closed the request before an answer (nginx's convention).
        self.write(499, kind, None, None);
    }
}

/// Why the previous attempt failed, kept to answer the client if no account succeeds.
enum Failure {
    Upstream {
        status: StatusCode,
        headers: reqwest::header::HeaderMap,
    },
    Transport(StatusCode, ErrorKind),
}

#[allow(clippy::too_many_arguments)]
async fn attempt_loop(
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
        let mut lease =
            match relay
                .scheduler
                .select(&key, platform, &call.model, call.session, &exclude, now)
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
                format!("upstream unreachable: {}", describe(e)),
            )),
            Err(_) => Err((
                StatusCode::GATEWAY_TIMEOUT,
                ErrorKind::Timeout,
                "no answer in time".to_owned(),
            )),
        };
        let answer = match sent {
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
        let status = answer.status();
        relay.metrics.attempt(status.as_u16(), now_ms());
        relay
            .prometheus
            .attempt(platform, &lease.account.id, status.as_u16());
        let headers = answer.headers().clone();
        let body: BoxStream<'static, reqwest::Result<Bytes>> = if needs_verdict(adapter, status) {
            let bytes = read_error_body(answer).await;
            if let Some(outcome) = verdict(adapter, status, &headers, &bytes, call.billable) {
                relay
                    .scheduler
                    .report(&mut lease, outcome, relay.scheduler.now_ms());
                exclude.push(lease.account.id.clone());
                last = Some(Failure::Upstream { status, headers });
                continue;
            }
            futures::stream::once(futures::future::ready(Ok(bytes))).boxed()
        } else {
            answer.bytes_stream().boxed()
        };
        let body = if call.stream && status.is_success() {
            let wait = lease
                .account
                .first_token_timeout
                .unwrap_or(Duration::from_millis(
                    relay.settings.serve.relay.first_token_timeout_ms,
                ));
            match super::first_token::first_content(body, wait).await {
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

/// Moves the answer from the upstream to the client in a task of its own, through a small
/// buffer. hyper stops polling a body whose client does not read; without the pump such a
/// client would hold its slot, its reservation and the account's in-flight count for as long
/// as it liked, out of reach of the idle timeout and the shutdown cut. The pump gives a
/// stalled client the idle timeout to make room, then ends the answer (billed as seen).
///
/// With `wait_first` (whole, non-streamed answers) the headers wait for the first chunk of the
/// body: an answer that arrives in one piece is then settled — its slot free — before the
/// client sees anything, so a client that reads the status, hangs up and sends its next request
/// at once never finds its own slot still held.
async fn pumped<S>(relay: &Arc<Relay>, mut body: S, wait_first: bool) -> Response
where
    S: futures::Stream<Item = std::io::Result<Bytes>> + Send + Unpin + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(16);
    let stall = Duration::from_millis(relay.settings.serve.relay.idle_timeout_ms);
    relay.tasks.spawn(async move {
        loop {
            let item = tokio::select! {
                item = body.next() => item,
                // The client went away: dropping the body ends it as ClientGone.
                _ = tx.closed() => return,
            };
            let Some(item) = item else { return };
            let failed = item.is_err();
            match tokio::time::timeout(stall, tx.send(item)).await {
                Ok(Ok(())) if !failed => {}
                _ => return,
            }
        }
    });
    let first = if wait_first { rx.recv().await } else { None };
    let rest = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Response::new(Body::from_stream(futures::stream::iter(first).chain(rest)))
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
async fn stream_answer(
    relay: &Arc<Relay>,
    adapter: &dyn Adapter,
    answer: Upstream<'_>,
    admitted: Admitted,
    lease: Lease,
    price: PriceLookup,
    call: &Call,
    event: UsageEvent,
    started: Instant,
) -> Response {
    let status = answer.status;
    let mut headers = HeaderMap::new();
    copy_headers(answer.headers, &mut headers);
    if !status.is_success() {
        // Error bodies may have been read (and bounded) already; let the framing follow the body.
        headers.remove(header::CONTENT_LENGTH);
    }
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
        event,
        status: status.as_u16(),
        request_bytes: call.body.len(),
        shape: call.shape,
        billable: call.billable,
        started,
    });
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body = MeteredBody::new(
        answer.body,
        parser,
        encoding.as_deref(),
        finish,
        started,
        Duration::from_millis(relay.settings.serve.relay.idle_timeout_ms),
        relay.cut.clone().cancelled_owned(),
    )
    .with_declared_length(declared_length);
    let mut res = match adapter.transform(call, status) {
        Some(t) => {
            headers.remove(header::CONTENT_LENGTH);
            headers.remove(header::CONTENT_ENCODING);
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(t.content_type()),
            );
            pumped(relay, Box::pin(transformed(body, t)), !call.stream).await
        }
        None => pumped(relay, body, !call.stream).await,
    };
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}
