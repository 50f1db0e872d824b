use std::collections::VecDeque;

use parking_lot::Mutex;

use crate::storage::usage_write::UsageEvent;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Minute {
    minute: i64,
    requests: u64,
    tokens: u64,
    cost_micros: i64,
    /// Client-visible answers by class.
    errors: u64,
    refused_429: u64,
    /// Upstream attempts (including ones failover hid from the client).
    attempts: u64,
    upstream_429: u64,
    upstream_529: u64,
}

/// Totals over the window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LiveSnapshot {
    pub window_minutes: u32,
    pub requests: u64,
    pub tokens: u64,
    pub cost_micros: i64,
    pub errors: u64,
    pub refused_429: u64,
    pub attempts: u64,
    pub upstream_429: u64,
    pub upstream_529: u64,
}

impl LiveSnapshot {
    pub fn per_minute(&self, n: u64) -> f64 {
        n as f64 / self.window_minutes.max(1) as f64
    }

    /// Share of upstream attempts answered with `n` (0 when there were none).
    pub fn attempt_rate(&self, n: u64) -> f64 {
        if self.attempts == 0 {
            0.0
        } else {
            n as f64 / self.attempts as f64
        }
    }
}

pub struct LiveMetrics {
    window_minutes: u32,
    minutes: Mutex<VecDeque<Minute>>,
}

impl LiveMetrics {
    pub fn new(window_minutes: u32) -> Self {
        LiveMetrics {
            window_minutes: window_minutes.max(1),
            minutes: Mutex::new(VecDeque::new()),
        }
    }

    pub fn window_minutes(&self) -> u32 {
        self.window_minutes
    }

    fn with_minute(&self, now_ms: i64, f: impl FnOnce(&mut Minute)) {
        let minute = now_ms / 60_000;
        let mut q = self.minutes.lock();
        if q.back().is_none_or(|m| m.minute != minute) {
            q.push_back(Minute {
                minute,
                ..Default::default()
            });
        }
        while q
            .front()
            .is_some_and(|m| m.minute <= minute - self.window_minutes as i64)
        {
            q.pop_front();
        }
        if let Some(m) = q.back_mut() {
            f(m);
        }
    }

    /// Counts a finished request (one per usage event).
    pub fn record(&self, e: &UsageEvent, now_ms: i64) {
        self.with_minute(now_ms, |m| {
            m.requests += 1;
            m.tokens += e.usage.input
                + e.usage.output
                + e.usage.cache_write_5m
                + e.usage.cache_write_1h
                + e.usage.cache_read;
            m.cost_micros += e.cost_micros;
            m.errors += u64::from(e.status >= 400);
            m.refused_429 += u64::from(e.status == 429);
        });
    }

    /// Counts one upstream attempt and its status (0 for a transport failure).
    pub fn attempt(&self, status: u16, now_ms: i64) {
        self.with_minute(now_ms, |m| {
            m.attempts += 1;
            m.upstream_429 += u64::from(status == 429);
            m.upstream_529 += u64::from(status == 529);
        });
    }

    pub fn snapshot(&self, now_ms: i64) -> LiveSnapshot {
        let minute = now_ms / 60_000;
        let q = self.minutes.lock();
        q.iter()
            .filter(|m| m.minute > minute - self.window_minutes as i64)
            .fold(
                LiveSnapshot {
                    window_minutes: self.window_minutes,
                    ..Default::default()
                },
                |mut s, m| {
                    s.requests += m.requests;
                    s.tokens += m.tokens;
                    s.cost_micros += m.cost_micros;
                    s.errors += m.errors;
                    s.refused_429 += m.refused_429;
                    s.attempts += m.attempts;
                    s.upstream_429 += m.upstream_429;
                    s.upstream_529 += m.upstream_529;
                    s
                },
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::TokenUsage;

    #[test]
    fn window_slides() {
        let m = LiveMetrics::new(5);
        let e = UsageEvent {
            status: 200,
            cost_micros: 10,
            usage: TokenUsage {
                input: 3,
                output: 4,
                ..Default::default()
            },
            ..Default::default()
        };
        m.record(&e, 0);
        m.record(
            &UsageEvent {
                status: 429,
                ..Default::default()
            },
            60_000,
        );
        m.attempt(529, 60_000);
        m.attempt(200, 60_000);
        let s = m.snapshot(60_000);
        assert_eq!(
            (s.requests, s.tokens, s.cost_micros, s.errors, s.refused_429),
            (2, 7, 10, 1, 1)
        );
        assert_eq!(s.attempt_rate(s.upstream_529), 0.5);
        assert_eq!(
            m.snapshot(5 * 60_000).requests,
            1,
            "minute 0 left the window"
        );
        assert_eq!(m.snapshot(6 * 60_000).requests, 0);
    }
}
