//! A sliding rate window: requests and cost admitted within the last `window`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct RateWindow {
    /// Admission times of the requests still inside the window, oldest first.
    requests: VecDeque<Instant>,
    /// Settled costs inside the window, oldest first.
    costs: VecDeque<(Instant, i64)>,
    cost_sum: i64,
}

/// A refusal: how long until the window frees room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowFull {
    pub retry_after: Duration,
    pub by_cost: bool,
}

impl WindowFull {
    /// The refusal the relay answers (429) for a key allowed `limit` requests per `window`.
    pub fn refusal(self, limit: u32, window: Duration) -> super::Refusal {
        super::Refusal::RateLimited {
            retry_after: self.retry_after,
            by_cost: self.by_cost,
            limit,
            window,
        }
    }
}

impl RateWindow {
    fn expire(&mut self, now: Instant, window: Duration) {
        while self
            .requests
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.requests.pop_front();
        }
        while let Some((t, c)) = self.costs.front().copied() {
            if now.duration_since(t) < window {
                break;
            }
            self.costs.pop_front();
            self.cost_sum -= c;
        }
    }

    /// Whether one more request would be admitted now (nothing is recorded).
    pub fn check(
        &mut self,
        now: Instant,
        window: Duration,
        max_requests: u32,
        max_cost: i64,
    ) -> Result<(), WindowFull> {
        self.expire(now, window);
        if max_requests > 0 && self.requests.len() >= max_requests as usize {
            let oldest = self.requests[self.requests.len() - max_requests as usize];
            return Err(WindowFull {
                retry_after: window.saturating_sub(now.duration_since(oldest)),
                by_cost: false,
            });
        }
        if max_cost > 0 && self.cost_sum >= max_cost {
            // Room comes back as the oldest costs age out, until the sum is under the limit.
            let mut sum = self.cost_sum;
            let mut until = Duration::ZERO;
            for (t, c) in &self.costs {
                sum -= c;
                until = window.saturating_sub(now.duration_since(*t));
                if sum < max_cost {
                    break;
                }
            }
            return Err(WindowFull {
                retry_after: until,
                by_cost: true,
            });
        }
        Ok(())
    }

    /// Admits one request if both the request count and the cost are under their limits
    /// (0 = unlimited). Its time is recorded only when requests are counted (`max_requests` >
    /// 0): the returned time, for [`RateWindow::undo_admit`].
    pub fn admit(
        &mut self,
        now: Instant,
        window: Duration,
        max_requests: u32,
        max_cost: i64,
    ) -> Result<Option<Instant>, WindowFull> {
        self.check(now, window, max_requests, max_cost)?;
        if max_requests == 0 {
            return Ok(None);
        }
        self.requests.push_back(now);
        Ok(Some(now))
    }

    /// Takes back the admission recorded at `at` (the request was refused by a later check or
    /// left the queue), not whichever came last: the newest may be another request's.
    pub fn undo_admit(&mut self, at: Instant) {
        if let Some(pos) = self.requests.iter().rposition(|t| *t == at) {
            self.requests.remove(pos);
        }
    }

    /// Request times held (tests: none are kept when requests are not limited).
    pub fn recorded(&self) -> usize {
        self.requests.len()
    }

    pub fn add_cost(&mut self, now: Instant, cost: i64) {
        if cost > 0 {
            self.costs.push_back((now, cost));
            self.cost_sum += cost;
        }
    }

    /// Requests left in the window and when the oldest one ages out.
    pub fn remaining(
        &mut self,
        now: Instant,
        window: Duration,
        max_requests: u32,
    ) -> (u32, Duration) {
        self.expire(now, window);
        let used = self.requests.len() as u32;
        let reset = self
            .requests
            .front()
            .map(|t| window.saturating_sub(now.duration_since(*t)))
            .unwrap_or(window);
        (max_requests.saturating_sub(used), reset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_retry_after() {
        let mut w = RateWindow::default();
        let t0 = Instant::now();
        let win = Duration::from_secs(60);
        for i in 0..3 {
            w.admit(t0 + Duration::from_secs(i), win, 3, 0).unwrap();
        }
        let full = w
            .admit(t0 + Duration::from_secs(10), win, 3, 0)
            .unwrap_err();
        assert_eq!(full.retry_after, Duration::from_secs(50));
        assert!(!full.by_cost);
        // After the first ages out, one more fits.
        w.admit(t0 + Duration::from_secs(60), win, 3, 0).unwrap();
        assert_eq!(w.remaining(t0 + Duration::from_secs(60), win, 3).0, 0);
    }

    #[test]
    fn cost_limit() {
        let mut w = RateWindow::default();
        let t0 = Instant::now();
        let win = Duration::from_secs(60);
        w.admit(t0, win, 0, 1_000).unwrap();
        w.add_cost(t0, 600);
        w.admit(t0 + Duration::from_secs(5), win, 0, 1_000).unwrap();
        w.add_cost(t0 + Duration::from_secs(5), 600);
        let full = w
            .admit(t0 + Duration::from_secs(10), win, 0, 1_000)
            .unwrap_err();
        assert!(full.by_cost);
        assert_eq!(full.retry_after, Duration::from_secs(50));
        assert_eq!(w.recorded(), 0, "no request times without a request limit");
    }

    #[test]
    fn undo_takes_back_the_callers_own_admission() {
        let mut w = RateWindow::default();
        let t0 = Instant::now();
        let win = Duration::from_secs(60);
        let first = w.admit(t0, win, 2, 0).unwrap().unwrap();
        let second = w.admit(t0 + Duration::from_secs(30), win, 2, 0).unwrap();
        assert!(second.is_some());
        // The first (older) request times out in the queue: its own entry goes.
        w.undo_admit(first);
        assert_eq!(w.recorded(), 1);
        // The window now frees up when the second request ages out, not the first.
        let full = w
            .admit(t0 + Duration::from_secs(31), win, 1, 0)
            .unwrap_err();
        assert_eq!(full.retry_after, Duration::from_secs(59));
    }
}
