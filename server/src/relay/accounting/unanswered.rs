//! The usage event of a request before it has an answer body.

use std::sync::Arc;
use std::time::Instant;

use app::types::Platform;

use crate::limits::{Admitted, KeyLimits};
use crate::pricing::PriceLookup;
use crate::relay::platforms::Call;
use crate::relay::writer::UsageEvent;
use crate::relay::Relay;
use crate::storage::now_ms;

/// The usage event of a request that has no answer body (yet): written when the request is
/// refused, fails, or is abandoned — dropped before an answer exists because the client went
/// away or shutdown cut it. An answered request hands over to [`super::Accounting`] instead.
pub(crate) struct Unanswered {
    relay: Arc<Relay>,
    event: Option<UsageEvent>,
    started: Instant,
}

impl Unanswered {
    pub(crate) fn new(
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

    pub(crate) fn set_group(&mut self, group: Option<Arc<str>>) {
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
                e.price = p.price.to_json();
            }
            e.latency_ms = self.started.elapsed().as_millis() as i64;
            self.relay.record_event(e);
        }
    }

    /// A refusal before admission or by it.
    pub(crate) fn refused(&mut self, status: u16, error_type: &str) {
        self.write(status, error_type, None, None);
    }

    /// Settles at zero and records a request that ends without an answer body.
    pub(crate) fn failed(
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
    pub(crate) fn answered(&mut self) -> UsageEvent {
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
