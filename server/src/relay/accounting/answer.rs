//! The answer on its way back: the upstream's status and chosen headers, the body metered
//! ([`MeteredBody`] with the [`Accounting`] finish hook), optionally rewritten for the
//! client's protocol, and moved to the client by a pump of its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::upstream_http::BodyStream;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures::{FutureExt, StreamExt};

use super::meter::MeteredBody;
use super::Accounting;
use crate::limits::Admitted;
use crate::pricing::PriceLookup;
use crate::relay::platforms::{Adapter, BodyTransform, Call};
use crate::relay::writer::UsageEvent;
use crate::relay::Relay;
use crate::scheduler::Lease;

/// Upstream answer headers passed to the client. Upstream rate-limit headers describe the
/// account, not the client's key, and are replaced by ours.
static PASS_BACK: [HeaderName; 6] = [
    header::CONTENT_TYPE,
    header::CONTENT_ENCODING,
    header::CONTENT_LENGTH,
    HeaderName::from_static("request-id"),
    HeaderName::from_static("x-request-id"),
    header::CACHE_CONTROL,
];

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

/// Chunks of a whole answer taken before its headers go out without a pump (the pump's own
/// buffer holds as many).
const READY_CHUNKS: usize = 16;

/// Moves the answer from the upstream to the client in a task of its own, through a small
/// buffer. hyper stops polling a body whose client does not read; without the pump such a
/// client would hold its slot, its reservation and the account's in-flight count for as long
/// as it liked, out of reach of the idle timeout and the shutdown cut. The pump gives a
/// stalled client the idle timeout to make room, then ends the answer (billed as seen).
///
/// With `wait_first` (whole, non-streamed answers) the headers wait for the first chunk of the
/// body: an answer that arrives in one piece is then settled — its slot free — before the
/// client sees anything, so a client that reads the status, hangs up and sends its next request
/// at once never finds its own slot still held. When the whole answer is in by then (the body
/// has ended: settled, the upstream done with), there is nothing left for a client to hold and
/// no pump is started: the chunks go out as they are.
async fn pumped<S>(relay: &Arc<Relay>, mut body: S, wait_first: bool) -> Response
where
    S: futures::Stream<Item = std::io::Result<Bytes>> + Send + Unpin + 'static,
{
    let mut taken = Vec::new();
    if wait_first {
        let mut next = body.next().await;
        loop {
            match next {
                Some(item) => taken.push(item),
                None => {
                    // Ended: the upstream is done with and the answer settled. An answer of
                    // one piece goes out as a body of known length.
                    drop(body);
                    if let [Ok(whole)] = taken.as_slice() {
                        return Response::new(Body::from(whole.clone()));
                    }
                    return Response::new(Body::from_stream(futures::stream::iter(taken)));
                }
            }
            if taken.len() >= READY_CHUNKS {
                break;
            }
            match body.next().now_or_never() {
                Some(item) => next = item,
                None => break,
            }
        }
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(READY_CHUNKS);
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
    let rest = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Response::new(Body::from_stream(futures::stream::iter(taken).chain(rest)))
}

/// The headers passed back (reqwest's and axum's header maps are the same type: names and
/// values are shared, not copied).
fn copy_headers(from: &reqwest::header::HeaderMap, to: &mut HeaderMap) {
    for name in &PASS_BACK {
        if let Some(v) = from.get(name) {
            to.insert(name.clone(), v.clone());
        }
    }
}

/// An upstream answer's status, headers and body stream.
pub(crate) struct Upstream<'a> {
    pub status: StatusCode,
    pub headers: &'a reqwest::header::HeaderMap,
    pub body: BodyStream,
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn stream_answer(
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
