//! Login throttling: after 5 failures within a minute from one address or for one username,
//! further attempts are refused with a retry time until the oldest failure ages out.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

pub const MAX_FAILURES: usize = 5;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Above this many tracked keys, stale entries are swept on the next failure.
const SWEEP_AT: usize = 10_000;

#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginThrottle {
    fn keys(ip: IpAddr, username: &str) -> [String; 2] {
        [
            format!("ip:{ip}"),
            format!("user:{}", username.to_lowercase()),
        ]
    }

    /// `Err(seconds)` when either the address or the username is locked out.
    pub fn check(&self, ip: IpAddr, username: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut map = self.failures.lock();
        let mut wait = Duration::ZERO;
        for key in Self::keys(ip, username) {
            if let Some(q) = map.get_mut(&key) {
                while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
                    q.pop_front();
                }
                if q.len() >= MAX_FAILURES {
                    if let Some(oldest) = q.front() {
                        wait = wait.max(WINDOW - now.duration_since(*oldest));
                    }
                }
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            Err(wait.as_secs().max(1))
        }
    }

    pub fn record_failure(&self, ip: IpAddr, username: &str) {
        let now = Instant::now();
        let mut map = self.failures.lock();
        if map.len() > SWEEP_AT {
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        for key in Self::keys(ip, username) {
            let q = map.entry(key).or_default();
            q.push_back(now);
            while q.len() > MAX_FAILURES {
                q.pop_front();
            }
        }
    }

    /// A successful login clears the username's failures (the address keeps its record).
    pub fn record_success(&self, username: &str) {
        self.failures
            .lock()
            .remove(&format!("user:{}", username.to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_five_failures_per_ip_or_user() {
        let t = LoginThrottle::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(t.check(ip, "admin").is_ok());
            t.record_failure(ip, "admin");
        }
        let wait = t.check(ip, "admin").unwrap_err();
        assert!((1..=60).contains(&wait));
        // Same address, another username: still locked by address.
        assert!(t.check(ip, "other").is_err());
        // Another address, same username: locked by username.
        assert!(t.check("10.0.0.2".parse().unwrap(), "ADMIN").is_err());
        // Unrelated pair is free.
        assert!(t.check("10.0.0.3".parse().unwrap(), "someone").is_ok());
    }
}
