//! Checks 3–5 of a request ([`Admission`]) and the guard an admitted request holds until it
//! settles ([`Admitted`]): the reservation, the local slot and the slot across instances are
//! released on every path.

use std::sync::Arc;
use std::time::Instant;

use super::slots::SlotGuard;
use super::{KeyLimits, LimitState, RateEntry, Refusal, Reservation, Settled, SharedSlot};

/// Runs checks 3–5 for an authenticated key whose model and platform are allowed.
pub struct Admission {
    pub state: Arc<dyn LimitState>,
}

impl Admission {
    pub async fn admit(
        &self,
        key: &Arc<KeyLimits>,
        estimate: i64,
        day: i32,
        next_midnight: i64,
    ) -> Result<Admitted, Refusal> {
        self.admit_within(key, estimate, 0, day, next_midnight)
            .await
    }

    /// [`Admission::admit`] refusing a request whose input alone (`floor`) the key's quota
    /// or today's budget cannot pay.
    pub async fn admit_within(
        &self,
        key: &Arc<KeyLimits>,
        estimate: i64,
        floor: i64,
        day: i32,
        next_midnight: i64,
    ) -> Result<Admitted, Refusal> {
        // A shared store may first lease more headroom; it then decides as memory does.
        let mut tries = 0;
        while let Some(wait) = self.state.prepare(key, estimate, day) {
            wait.await;
            tries += 1;
            if tries == 3 {
                break;
            }
        }
        let reservation = self
            .state
            .reserve(key, estimate, floor, day, next_midnight)?;
        let mut admitted = Admitted {
            state: self.state.clone(),
            key: key.clone(),
            reservation: Some(reservation),
            slot: None,
            shared: None,
            rate_at: None,
            shared_rate: None,
        };
        if key.rate_window.is_some() {
            admitted.rate_at = self.state.rate_admit(key, Instant::now())?;
            if let Some(entry) = self.state.shared_rate(key) {
                admitted.shared_rate = Some(entry.await?);
            }
        }
        let slots = self.state.slots(&key.id);
        let queue = key.queue;
        match slots.acquire(key.concurrency_limit, queue).await {
            Ok(slot) => {
                admitted.slot = Some(slot);
                if let Some(shared) = self.state.shared_slot(key, queue.map(|q| q.timeout)) {
                    admitted.shared = Some(shared.await?);
                }
                // Served: it counts against the window for good.
                admitted.rate_at = None;
                if let Some(entry) = admitted.shared_rate.take() {
                    entry.keep();
                }
            }
            Err(reason) => {
                // A refused request does not count against the rate window: dropping
                // `admitted` takes back its own entry (as when the client leaves the queue).
                return Err(Refusal::Concurrency {
                    limit: key.concurrency_limit,
                    reason,
                });
            }
        }
        Ok(admitted)
    }
}

/// An admitted request: holds the reservation and the concurrency slot until it settles or is
/// dropped. Dropping without settling releases everything at zero cost.
pub struct Admitted {
    state: Arc<dyn LimitState>,
    key: Arc<KeyLimits>,
    reservation: Option<Reservation>,
    slot: Option<SlotGuard>,
    /// The key's slot across instances (several instances on one database).
    shared: Option<SharedSlot>,
    /// The rate-window entry of a request not yet given a slot, taken back if it never is.
    rate_at: Option<Instant>,
    /// The same in a window shared across instances (taken back when dropped).
    shared_rate: Option<Box<dyn RateEntry>>,
}

impl Admitted {
    pub fn key(&self) -> &Arc<KeyLimits> {
        &self.key
    }

    pub fn reserved(&self) -> i64 {
        self.reservation.map(|r| r.amount).unwrap_or(0)
    }

    /// Settles the actual cost, frees the slot, and reports the spend before and after.
    pub fn settle(mut self, actual: i64) -> Settled {
        let settled = self.settle_inner(actual);
        self.shared.take();
        self.slot.take();
        settled
    }

    fn settle_inner(&mut self, actual: i64) -> Settled {
        match self.reservation.take() {
            Some(r) => {
                if self.key.rate_window.is_some() {
                    self.state
                        .rate_add_cost(&self.key.id, Instant::now(), actual);
                }
                self.state.settle(&self.key.id, r, actual)
            }
            None => {
                let spent = self.state.usage(&self.key.id).spent;
                Settled {
                    spent_before: spent,
                    spent_after: spent,
                }
            }
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some(at) = self.rate_at.take() {
            self.state.rate_undo(&self.key.id, at);
        }
        self.settle_inner(0);
    }
}
