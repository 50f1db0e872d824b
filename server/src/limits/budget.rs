//! The process-wide memory budget of the relay: requests in flight (queued, waiting for an
//! upstream, or streaming) and request-body bytes held in memory. Anyone on the network can
//! open requests, so both are bounded; over either bound a request is refused at once (503 with
//! `Retry-After`, in its protocol's shape) instead of growing the heap until the process dies.
//!
//! A [`Ticket`] is one request's share: taken before anything else is done, its body bytes are
//! added as they are read (a [`BudgetedBody`] refuses the chunk that would go over), the bytes
//! are given back once the handler has answered, the in-flight count when the answer's body has
//! ended or been dropped.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use http_body::{Body, Frame, SizeHint};

/// Listener and memory limits (`serve` flags and environment variables).
#[derive(Args, Debug, Clone)]
pub struct GuardOpts {
    /// Relay requests in flight at once, over all keys (queued and streaming included).
    #[arg(long, env = "RELAY_MAX_IN_FLIGHT", default_value_t = 2_048)]
    pub max_in_flight: usize,
    /// Request-body bytes held in memory at once over all relay requests, in MiB.
    #[arg(long, env = "RELAY_MAX_BUFFERED_MB", default_value_t = 512)]
    pub max_buffered_mb: usize,
    /// Time a client has to send a request's headers.
    #[arg(long, env = "HTTP_HEADER_TIMEOUT_SECS", default_value_t = 30)]
    pub header_timeout_secs: u64,
    /// Time a client has to send a relay request's whole body.
    #[arg(long, env = "REQUEST_BODY_TIMEOUT_SECS", default_value_t = 60)]
    pub body_timeout_secs: u64,
}

impl Default for GuardOpts {
    fn default() -> Self {
        GuardOpts {
            max_in_flight: 2_048,
            max_buffered_mb: 512,
            header_timeout_secs: 30,
            body_timeout_secs: 60,
        }
    }
}

/// Why a request was refused by the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverBudget {
    InFlight,
    Bytes,
}

impl std::fmt::Display for OverBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OverBudget::InFlight => "the relay has too many requests in flight",
            OverBudget::Bytes => "the relay holds too many request bytes in memory",
        })
    }
}

impl std::error::Error for OverBudget {}

pub struct Budget {
    max_in_flight: usize,
    max_bytes: usize,
    in_flight: AtomicUsize,
    bytes: AtomicUsize,
}

/// How long a refused client is told to wait.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);

impl Budget {
    pub fn new(max_in_flight: usize, max_bytes: usize) -> Arc<Budget> {
        Arc::new(Budget {
            max_in_flight: max_in_flight.max(1),
            max_bytes: max_bytes.max(1),
            in_flight: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
        })
    }

    pub fn from_opts(opts: &GuardOpts) -> Arc<Budget> {
        Budget::new(
            opts.max_in_flight,
            opts.max_buffered_mb.saturating_mul(1024 * 1024),
        )
    }

    /// Requests in flight and body bytes held now.
    pub fn used(&self) -> (usize, usize) {
        (
            self.in_flight.load(Ordering::Acquire),
            self.bytes.load(Ordering::Acquire),
        )
    }

    fn take(counter: &AtomicUsize, n: usize, max: usize) -> bool {
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|total| *total <= max)
            })
            .is_ok()
    }

    /// One more request in flight, if there is room.
    pub fn enter(self: &Arc<Self>) -> Result<Ticket, OverBudget> {
        if !Self::take(&self.in_flight, 1, self.max_in_flight) {
            return Err(OverBudget::InFlight);
        }
        Ok(Ticket {
            budget: self.clone(),
            bytes: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Whether `n` more bytes would fit now (a declared `Content-Length`, checked up front).
    pub fn would_fit(&self, n: usize) -> bool {
        self.bytes
            .load(Ordering::Acquire)
            .checked_add(n)
            .is_some_and(|total| total <= self.max_bytes)
    }
}

/// One request's share of the budget. Dropping it gives everything back.
pub struct Ticket {
    budget: Arc<Budget>,
    /// Body bytes this request holds (shared with its [`BudgetedBody`]).
    bytes: Arc<AtomicUsize>,
}

impl Ticket {
    /// The request body, counted against the budget as it is read.
    pub fn body<B>(&self, inner: B) -> BudgetedBody<B> {
        BudgetedBody {
            inner,
            budget: self.budget.clone(),
            held: self.bytes.clone(),
        }
    }

    /// Gives the body bytes back (the handler has answered; the body is no longer held).
    pub fn release_bytes(&self) {
        let n = self.bytes.swap(0, Ordering::AcqRel);
        self.budget.bytes.fetch_sub(n, Ordering::AcqRel);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.release_bytes();
        self.budget.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A request body whose bytes are taken from the budget as they arrive; the chunk that would go
/// over fails the read with [`OverBudget::Bytes`].
pub struct BudgetedBody<B> {
    inner: B,
    budget: Arc<Budget>,
    held: Arc<AtomicUsize>,
}

impl<B> Body for BudgetedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let n = data.len();
                    if !Budget::take(&this.budget.bytes, n, this.budget.max_bytes) {
                        return Poll::Ready(Some(Err(Box::new(OverBudget::Bytes))));
                    }
                    this.held.fetch_add(n, Ordering::AcqRel);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that holds its request's [`Ticket`] until it has ended or been dropped.
pub struct TicketedBody<B> {
    inner: B,
    _ticket: Ticket,
}

impl<B> TicketedBody<B> {
    pub fn new(inner: B, ticket: Ticket) -> Self {
        TicketedBody {
            inner,
            _ticket: ticket,
        }
    }
}

impl<B> Body for TicketedBody<B>
where
    B: Body + Unpin,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn in_flight_and_bytes_are_bounded_and_given_back() {
        let budget = Budget::new(2, 10);
        let a = budget.enter().unwrap();
        let b = budget.enter().unwrap();
        assert_eq!(budget.enter().err(), Some(OverBudget::InFlight));
        // 8 bytes fit, then a 5-byte body does not.
        let first = a.body(http_body_util::Full::new(Bytes::from_static(b"12345678")));
        assert_eq!(first.collect().await.unwrap().to_bytes().len(), 8);
        assert_eq!(budget.used(), (2, 8));
        let second = b.body(http_body_util::Full::new(Bytes::from_static(b"12345")));
        let err = second.collect().await.unwrap_err();
        assert!(err.downcast_ref::<OverBudget>().is_some());
        assert!(!budget.would_fit(3));
        a.release_bytes();
        assert_eq!(budget.used(), (2, 0));
        drop((a, b));
        assert_eq!(budget.used(), (0, 0));
        assert!(budget.enter().is_ok());
    }
}
