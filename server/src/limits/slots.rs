//! Per-key concurrency slots with a bounded FIFO wait queue.
//!
//! The limit is read at every acquire and release, so an admin edit takes effect at once
//! without recreating anything. A freed slot is handed directly to the oldest waiter; a waiter
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
    next_waiter: u64,
    waiters: VecDeque<(u64, oneshot::Sender<()>)>,
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

    /// Takes a slot (`limit` 0 = unlimited, still counted), waiting in FIFO order per `queue`.
    pub async fn acquire(
        self: &Arc<Self>,
        limit: u32,
        queue: Option<QueuePolicy>,
    ) -> Result<SlotGuard, SlotRefusal> {
        let (id, rx) = {
            let mut inner = self.inner.lock();
            if limit == 0 || (inner.in_use < limit && inner.waiters.is_empty()) {
                inner.in_use += 1;
                return Ok(SlotGuard {
                    queue: self.clone(),
                    released: false,
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
            (id, (rx, policy.timeout))
        };
        // Whatever ends the wait (grant, timeout, or this future being dropped because the
        // client went away), `Waiting` cleans up.
        let waiting = Waiting {
            queue: self.clone(),
            id,
            done: false,
        };
        let (rx, timeout) = rx;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(())) => {
                waiting.granted();
                Ok(SlotGuard {
                    queue: self.clone(),
                    released: false,
                })
            }
            _ => {
                drop(waiting);
                Err(SlotRefusal::TimedOut)
            }
        }
    }

    fn release(&self) {
        let mut inner = self.inner.lock();
        inner.in_use = inner.in_use.saturating_sub(1);
        Self::hand_over(&mut inner);
    }

    /// Gives the slot just freed to the oldest live waiter. A waiter counts as in use from the
    /// moment the slot is sent to it.
    fn hand_over(inner: &mut Inner) {
        while let Some((_, tx)) = inner.waiters.pop_front() {
            inner.in_use += 1;
            if tx.send(()).is_ok() {
                return;
            }
            // The waiter is gone; undo and try the next one.
            inner.in_use -= 1;
        }
    }
}

struct Waiting {
    queue: Arc<SlotQueue>,
    id: u64,
    done: bool,
}

impl Waiting {
    fn granted(mut self) {
        self.done = true;
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut inner = self.queue.inner.lock();
        if let Some(pos) = inner.waiters.iter().position(|(id, _)| *id == self.id) {
            inner.waiters.remove(pos);
        } else {
            // A slot was sent to us just as we gave up: pass it on.
            inner.in_use = inner.in_use.saturating_sub(1);
            SlotQueue::hand_over(&mut inner);
        }
    }
}

/// A held slot; dropping it frees the slot for the next waiter.
pub struct SlotGuard {
    queue: Arc<SlotQueue>,
    released: bool,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        if !self.released {
            self.released = true;
            self.queue.release();
        }
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
