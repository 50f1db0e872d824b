//! Per-key concurrency slots with a bounded FIFO wait queue.
//!
//! Every acquire records the key's current limit and releases hand slots over under it, so an
//! admin edit takes effect with the next request without recreating anything. A freed slot is handed directly to the oldest waiter; a waiter
//! that gives up (timeout, client gone) removes itself at once, and if a slot was handed to it
//! in that instant it passes the slot on.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::oneshot;

#[derive(Default)]
pub struct SlotQueue {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    in_use: u32,
    /// The limit as of the latest acquire (0 = unlimited); releases hand over under it.
    limit: u32,
    next_waiter: u64,
    waiters: VecDeque<(u64, oneshot::Sender<()>)>,
}

impl Inner {
    fn has_room(&self) -> bool {
        self.limit == 0 || self.in_use < self.limit
    }

    /// Gives free slots to waiters, oldest first, while the limit allows. A waiter counts as in
    /// use from the moment the slot is sent to it. Sends cannot fail: a waiter closes its end
    /// only under this same lock, after leaving the queue.
    fn hand_over(&mut self) {
        while self.has_room() {
            let Some((_, tx)) = self.waiters.pop_front() else {
                break;
            };
            self.in_use += 1;
            if tx.send(()).is_err() {
                self.in_use -= 1;
            }
        }
    }
}

/// Why no slot was granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotRefusal {
    /// At the limit and queueing is off.
    Busy,
    /// The wait queue is full.
    QueueFull,
    /// Waited the whole timeout.
    TimedOut,
}

/// How to wait when the limit is reached.
#[derive(Debug, Clone, Copy)]
pub struct QueuePolicy {
    pub max_waiters: u32,
    pub timeout: Duration,
}

impl SlotQueue {
    pub fn in_use(&self) -> u32 {
        self.inner.lock().in_use
    }

    pub fn waiting(&self) -> usize {
        self.inner.lock().waiters.len()
    }

    /// Whether an acquire under `limit` and `queue` would be refused at once (nothing is taken:
    /// a check before the request's body is read).
    pub fn precheck(&self, limit: u32, queue: Option<QueuePolicy>) -> Result<(), SlotRefusal> {
        let inner = self.inner.lock();
        let room = limit == 0 || inner.in_use < limit;
        if room && inner.waiters.is_empty() {
            return Ok(());
        }
        match queue {
            None => Err(SlotRefusal::Busy),
            Some(p) if inner.waiters.len() >= p.max_waiters as usize => Err(SlotRefusal::QueueFull),
            Some(_) => Ok(()),
        }
    }

    /// Takes a slot (`limit` 0 = unlimited, still counted), waiting in FIFO order per `queue`.
    pub async fn acquire(
        self: &Arc<Self>,
        limit: u32,
        queue: Option<QueuePolicy>,
    ) -> Result<SlotGuard, SlotRefusal> {
        let (id, rx, timeout) = {
            let mut inner = self.inner.lock();
            inner.limit = limit;
            // A raised limit admits the waiters first.
            inner.hand_over();
            if inner.has_room() && inner.waiters.is_empty() {
                inner.in_use += 1;
                return Ok(SlotGuard {
                    queue: self.clone(),
                });
            }
            let Some(policy) = queue else {
                return Err(SlotRefusal::Busy);
            };
            if inner.waiters.len() >= policy.max_waiters as usize {
                return Err(SlotRefusal::QueueFull);
            }
            let (tx, rx) = oneshot::channel();
            inner.next_waiter += 1;
            let id = inner.next_waiter;
            inner.waiters.push_back((id, tx));
            (id, rx, policy.timeout)
        };
        // Whatever ends the wait (grant, timeout, or this future being dropped because the
        // client went away), `Waiting` cleans up.
        let mut waiting = Waiting {
            queue: self.clone(),
            id,
            rx,
            granted: false,
        };
        match tokio::time::timeout(timeout, &mut waiting.rx).await {
            Ok(Ok(())) => {
                waiting.granted = true;
                Ok(SlotGuard {
                    queue: self.clone(),
                })
            }
            _ => Err(SlotRefusal::TimedOut),
        }
    }

    fn release(&self) {
        let mut inner = self.inner.lock();
        inner.in_use = inner.in_use.saturating_sub(1);
        inner.hand_over();
    }
}

struct Waiting {
    queue: Arc<SlotQueue>,
    id: u64,
    rx: oneshot::Receiver<()>,
    granted: bool,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if self.granted {
            return;
        }
        let mut inner = self.queue.inner.lock();
        self.rx.close();
        if let Some(pos) = inner.waiters.iter().position(|(id, _)| *id == self.id) {
            inner.waiters.remove(pos);
        } else {
            // Out of the queue but not granted: a slot was sent to us as we gave up. Pass it on.
            inner.in_use = inner.in_use.saturating_sub(1);
            inner.hand_over();
        }
    }
}

/// A held slot; dropping it frees the slot for the next waiter.
pub struct SlotGuard {
    queue: Arc<SlotQueue>,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.queue.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(n: u32, ms: u64) -> Option<QueuePolicy> {
        Some(QueuePolicy {
            max_waiters: n,
            timeout: Duration::from_millis(ms),
        })
    }

    #[tokio::test]
    async fn busy_without_queue() {
        let q = Arc::new(SlotQueue::default());
        let a = q.acquire(1, None).await.unwrap();
        assert_eq!(q.acquire(1, None).await.err(), Some(SlotRefusal::Busy));
        drop(a);
        assert!(q.acquire(1, None).await.is_ok());
        assert_eq!(q.in_use(), 0);
    }

    #[tokio::test]
    async fn fifo_handover_and_queue_full() {
        let q = Arc::new(SlotQueue::default());
        let held = q.acquire(1, None).await.unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..3 {
            let (q2, order) = (q.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let g = q2.acquire(1, policy(3, 5_000)).await.unwrap();
                order.lock().push(i);
                tokio::time::sleep(Duration::from_millis(5)).await;
                drop(g);
            }));
            // Make arrival order deterministic.
            while q.waiting() < i + 1 {
                tokio::task::yield_now().await;
            }
        }
        assert_eq!(
            q.acquire(1, policy(3, 5_000)).await.err(),
            Some(SlotRefusal::QueueFull)
        );
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock(), vec![0, 1, 2]);
        assert_eq!(q.in_use(), 0);
        assert_eq!(q.waiting(), 0);
    }

    #[tokio::test]
    async fn timeout_and_cancelled_waiters_leave_the_queue() {
        let q = Arc::new(SlotQueue::default());
        let held = q.acquire(1, None).await.unwrap();
        assert_eq!(
            q.acquire(1, policy(5, 20)).await.err(),
            Some(SlotRefusal::TimedOut)
        );
        assert_eq!(q.waiting(), 0);
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.acquire(1, policy(5, 60_000)).await.is_ok() });
        while q.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        waiter.abort();
        let _ = waiter.await;
        assert_eq!(q.waiting(), 0, "a dropped waiter leaves at once");
        drop(held);
        assert_eq!(q.in_use(), 0);
    }

    #[tokio::test]
    async fn a_lowered_limit_holds_back_waiters_and_a_raised_one_admits_them() {
        let q = Arc::new(SlotQueue::default());
        let a = q.acquire(2, None).await.unwrap();
        let b = q.acquire(2, None).await.unwrap();
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.acquire(1, policy(5, 5_000)).await.map(|_| ()) });
        while q.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        // The limit is now 1: freeing one of two slots must not admit the waiter.
        drop(a);
        assert_eq!((q.in_use(), q.waiting()), (1, 1));
        // A request under a raised limit lets the queue go first.
        let c = q.acquire(3, policy(5, 5_000)).await.unwrap();
        waiter.await.unwrap().unwrap();
        assert_eq!(q.waiting(), 0);
        drop((b, c));
        assert_eq!(q.in_use(), 0);
    }

    #[tokio::test]
    async fn racing_timeouts_and_releases_never_leak_or_double_count() {
        let q = Arc::new(SlotQueue::default());
        for _ in 0..200 {
            let held = q.acquire(1, None).await.unwrap();
            let q2 = q.clone();
            let waiter = tokio::spawn(async move { q2.acquire(1, policy(5, 1)).await.is_ok() });
            tokio::task::yield_now().await;
            drop(held);
            let _ = waiter.await.unwrap();
            assert_eq!(q.in_use(), 0);
            assert_eq!(q.waiting(), 0);
        }
    }

    #[tokio::test]
    async fn limit_changes_apply_and_zero_is_unlimited() {
        let q = Arc::new(SlotQueue::default());
        let guards: Vec<_> = futures::future::join_all((0..50).map(|_| q.acquire(0, None))).await;
        assert!(guards.iter().all(|g| g.is_ok()));
        assert_eq!(q.in_use(), 50);
        assert_eq!(q.acquire(10, None).await.err(), Some(SlotRefusal::Busy));
        drop(guards);
        assert_eq!(q.in_use(), 0);
    }
}
