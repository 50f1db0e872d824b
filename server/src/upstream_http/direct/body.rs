//! The body of an answer read over a pooled HTTP/1.1 connection. Each read first polls the
//! connection (which moves the answer's bytes from the socket into the body), then the body;
//! when the body has ended the connection goes back to the pool, and when the body is dropped
//! before its end the connection is closed with it (what is left of the answer is never read).

use std::pin::Pin;
use std::sync::Weak;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Body as _;
use hyper::body::Incoming;

use super::{DirectClient, Key, H1};
use crate::upstream_http::UpstreamError;

pub(super) struct H1Body {
    body: Incoming,
    /// The connection, until it ends or goes back to the pool.
    conn: Option<Box<H1>>,
    pool: Weak<DirectClient>,
    key: Key,
}

impl H1Body {
    pub(super) fn new(
        body: Incoming,
        conn: Option<Box<H1>>,
        pool: Weak<DirectClient>,
        key: Key,
    ) -> Self {
        H1Body {
            body,
            conn,
            pool,
            key,
        }
    }

    /// Drives the connection, and lets go of it once it has ended (closed, or failed, in which
    /// case hyper has already handed the failure to the body).
    fn drive(&mut self, cx: &mut Context<'_>) {
        if let Some(h1) = &mut self.conn {
            if !h1.drive(cx) {
                self.conn = None;
            }
        }
    }

    /// The answer has been read whole: the connection goes back to the pool once it is ready
    /// for the next request (which one more poll normally makes it).
    fn release(&mut self, cx: &mut Context<'_>) {
        self.drive(cx);
        if let Some(h1) = self.conn.take() {
            if let (true, Some(pool)) = (h1.sender.is_ready(), self.pool.upgrade()) {
                pool.checkin(self.key.clone(), h1);
            }
        }
    }
}

impl futures::Stream for H1Body {
    type Item = Result<Bytes, UpstreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.drive(cx);
        // hyper hands a piece of the body over only once the body has asked for it (its poll
        // below); the connection is then driven a second time in the same poll instead of
        // waiting for the wake-up that asking sends to this very task.
        let mut asked = false;
        loop {
            match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => return Poll::Ready(Some(Ok(data))),
                    // Trailers are not relayed (as before, through hyper-util's client).
                    Err(_) => continue,
                },
                Poll::Ready(Some(Err(e))) => {
                    this.conn = None;
                    return Poll::Ready(Some(Err(UpstreamError::boxed(e))));
                }
                Poll::Ready(None) => {
                    this.release(cx);
                    return Poll::Ready(None);
                }
                Poll::Pending if !asked && this.conn.is_some() => {
                    asked = true;
                    this.drive(cx);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
