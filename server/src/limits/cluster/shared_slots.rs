//! A key's concurrency slots over all instances. An instance holds some of the key's slots
//! in the database (`cluster_key_leases.slots`); a request that has its local slot (the local
//! queue is FIFO and bounded as on a single instance) takes one of them, leasing one more when
//! all are in use, and waits (polling, up to the queue's timeout) when the key's limit is
//! reached on all instances together. A freed slot goes to a request of this instance waiting
//! for one, else back to the database.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::Shared;
use crate::limits::slots::SlotRefusal;
use crate::limits::{LimitState, Refusal, SharedSlot};
use crate::storage::now_ms;

const FIRST_POLL: Duration = Duration::from_millis(10);
const MAX_POLL: Duration = Duration::from_millis(200);

#[derive(Default)]
pub(super) struct SharedSlots {
    book: tokio::sync::Mutex<Book>,
    /// Requests of this instance waiting for a slot of the key.
    waiters: AtomicUsize,
    freed: Notify,
}

#[derive(Default, Clone, Copy)]
pub(super) struct Book {
    /// Slots this instance holds in the database.
    pub held: u32,
    /// Of those, the ones a request uses.
    pub in_use: u32,
}

impl SharedSlots {
    pub(super) async fn book(&self) -> tokio::sync::MutexGuard<'_, Book> {
        self.book.lock().await
    }

    pub(super) fn has_waiters(&self) -> bool {
        self.waiters.load(Ordering::Acquire) > 0
    }
}

struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Takes one of the key's slots, waiting up to `wait` (none: refused at once when busy).
pub(super) async fn acquire(
    shared: Arc<Shared>,
    key_id: Arc<str>,
    limit: u32,
    wait: Option<Duration>,
) -> Result<SharedSlot, Refusal> {
    let slots = shared.shared_slots(&key_id);
    let deadline = wait.map(|w| tokio::time::Instant::now() + w);
    slots.waiters.fetch_add(1, Ordering::AcqRel);
    let _waiting = Waiting(&slots.waiters);
    let mut poll = FIRST_POLL;
    loop {
        {
            let mut book = slots.book.lock().await;
            if book.held > book.in_use {
                book.in_use += 1;
                return Ok(guard(&shared, &key_id, &slots));
            }
            let now = now_ms();
            if !shared.valid(now) {
                return Err(Refusal::Unavailable);
            }
            let taken = shared
                .store
                .cluster_hold_slots(
                    &shared.instance,
                    &key_id,
                    book.held + 1,
                    limit,
                    now,
                    shared.alive_after(now),
                )
                .await;
            match taken {
                Ok(true) => {
                    book.held += 1;
                    book.in_use += 1;
                    return Ok(guard(&shared, &key_id, &slots));
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, key_id = %key_id, "leasing a concurrency slot failed");
                    return Err(Refusal::Unavailable);
                }
            }
        }
        let busy = |reason| Refusal::Concurrency { limit, reason };
        let Some(deadline) = deadline else {
            return Err(busy(SlotRefusal::Busy));
        };
        let now = tokio::time::Instant::now();
        if now >= deadline {
            // A slot freed here for this request while it gave up goes back.
            let mut book = slots.book.lock().await;
            if slots.waiters.load(Ordering::Acquire) == 1 {
                trim(&shared, &key_id, &mut book).await;
            }
            return Err(busy(SlotRefusal::TimedOut));
        }
        let nap = poll.min(deadline - now);
        tokio::select! {
            _ = slots.freed.notified() => {}
            _ = tokio::time::sleep(nap) => {}
        }
        poll = (poll * 2).min(MAX_POLL);
    }
}

fn guard(shared: &Arc<Shared>, key_id: &Arc<str>, slots: &Arc<SharedSlots>) -> SharedSlot {
    Box::new(SlotLease {
        shared: shared.clone(),
        key_id: key_id.clone(),
        slots: slots.clone(),
    })
}

/// A slot in use; dropping it frees it.
struct SlotLease {
    shared: Arc<Shared>,
    key_id: Arc<str>,
    slots: Arc<SharedSlots>,
}

impl Drop for SlotLease {
    fn drop(&mut self) {
        // A request here waiting for one (already, or next in the local queue) takes it
        // without a database call; otherwise it goes back to the database.
        let keep = self.slots.has_waiters() || self.shared.local.slots(&self.key_id).waiting() > 0;
        if let Ok(mut book) = self.slots.book.try_lock() {
            book.in_use = book.in_use.saturating_sub(1);
            if keep {
                self.slots.freed.notify_one();
                return;
            }
        } else {
            let slots = self.slots.clone();
            let Ok(rt) = tokio::runtime::Handle::try_current() else {
                return;
            };
            let (shared, key_id) = (self.shared.clone(), self.key_id.clone());
            rt.spawn(async move {
                let mut book = slots.book.lock().await;
                book.in_use = book.in_use.saturating_sub(1);
                if slots.has_waiters() || shared.local.slots(&key_id).waiting() > 0 {
                    slots.freed.notify_one();
                    return;
                }
                trim(&shared, &key_id, &mut book).await;
            });
            return;
        }
        let (shared, key_id, slots) =
            (self.shared.clone(), self.key_id.clone(), self.slots.clone());
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        rt.spawn(async move {
            let mut book = slots.book.lock().await;
            if !slots.has_waiters() {
                trim(&shared, &key_id, &mut book).await;
            }
        });
    }
}

/// Gives the slots no request uses back to the database (kept when that fails, for the next
/// upkeep round).
pub(super) async fn trim(shared: &Shared, key_id: &str, book: &mut Book) {
    if book.held <= book.in_use {
        return;
    }
    let now = now_ms();
    match shared
        .store
        .cluster_hold_slots(
            &shared.instance,
            key_id,
            book.in_use,
            0,
            now,
            shared.alive_after(now),
        )
        .await
    {
        Ok(_) => book.held = book.in_use,
        Err(e) => {
            tracing::warn!(error = %e, key_id = %key_id, "giving concurrency slots back failed; retrying later")
        }
    }
}
