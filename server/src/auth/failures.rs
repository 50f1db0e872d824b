//! Failed authentications per client address: a burst of failures is allowed, then one more per
//! `refill` period; beyond that the address is refused (429 with `Retry-After`) before any
//! database lookup or password hash is spent on it. Successful authentications cost nothing.
//!
//! Used by the admin side for unknown bearer tokens and failed logins. The relay can use one for
//! unknown API keys the same way: `check(ip)` before looking the key up (refuse with 429 on
//! `Err`), `record_failure(ip)` when the key is unknown.
//!
//! Each address costs one `i64` (GCRA: the time at which its failure budget is whole again),
//! kept in a bounded LRU. IPv6 addresses count per /64, the block one subscriber usually holds.

use std::net::IpAddr;
use std::time::Duration;

use super::client_addr::canonical;
use super::lru::ShardedLru;
use crate::clock::SharedClock;

#[derive(Clone, Copy, Debug)]
pub struct FailurePolicy {
    /// Failures allowed in a row before the address is refused.
    pub burst: u32,
    /// One more failure is allowed each time this much time passes.
    pub refill: Duration,
    /// Addresses remembered at most (the least recently failing are forgotten first).
    pub capacity: usize,
}

impl Default for FailurePolicy {
    /// 20 failures at once, then 2 a minute; 65,536 addresses.
    fn default() -> Self {
        FailurePolicy {
            burst: 20,
            refill: Duration::from_secs(30),
            capacity: 65_536,
        }
    }
}

/// The address a failure is counted against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressKey {
    V4(u32),
    /// The upper 64 bits.
    V6(u64),
}

impl From<IpAddr> for AddressKey {
    fn from(ip: IpAddr) -> Self {
        match canonical(ip) {
            IpAddr::V4(v4) => AddressKey::V4(u32::from(v4)),
            IpAddr::V6(v6) => AddressKey::V6((u128::from(v6) >> 64) as u64),
        }
    }
}

pub struct FailureLimiter {
    policy: FailurePolicy,
    clock: SharedClock,
    /// Per address: when its failure budget is whole again (epoch ms).
    whole_at: ShardedLru<AddressKey, i64>,
}

/// An authentication in progress whose failure is already counted (see
/// [`FailureLimiter::begin`]): [`Attempt::succeeded`] or [`Attempt::not_tried`] give it back;
/// dropping it leaves the failure counted.
#[must_use = "dropping an attempt counts it as a failure"]
pub struct Attempt<'a> {
    limiter: &'a FailureLimiter,
    key: AddressKey,
    settled: bool,
}

impl FailureLimiter {
    pub fn new(policy: FailurePolicy, clock: SharedClock) -> Self {
        FailureLimiter {
            whole_at: ShardedLru::new(policy.capacity),
            policy,
            clock,
        }
    }

    fn refill_ms(&self) -> i64 {
        self.policy.refill.as_millis().max(1) as i64
    }

    /// How long the address must wait before one more failure is allowed, if it must.
    fn wait_ms(&self, whole_at: i64, now: i64) -> Option<i64> {
        let owed = whole_at - now;
        let allowed = (i64::from(self.policy.burst) - 1) * self.refill_ms();
        (owed > allowed).then_some(owed - allowed)
    }

    fn retry_secs(ms: i64) -> u64 {
        ((ms + 999) / 1000).max(1) as u64
    }

    /// `Err(seconds to wait)` when the address has used up its failures.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        let now = self.clock.now_ms();
        let wait = self.whole_at.peek(&AddressKey::from(ip), |at| {
            at.and_then(|at| self.wait_ms(*at, now))
        });
        match wait {
            Some(ms) => Err(Self::retry_secs(ms)),
            None => Ok(()),
        }
    }

    /// Counts one failure against the address.
    pub fn record_failure(&self, ip: IpAddr) {
        let now = self.clock.now_ms();
        let step = self.refill_ms();
        self.whole_at.update(
            AddressKey::from(ip),
            || now,
            |at| *at = (*at).max(now) + step,
        );
    }

    /// Checks and counts a failure in one step, so that a parallel burst cannot pass the check
    /// together: use it where every attempt is expensive (a password hash). The failure is given
    /// back when the attempt succeeds or turns out not to have been made.
    pub fn begin(&self, ip: IpAddr) -> Result<Attempt<'_>, u64> {
        let now = self.clock.now_ms();
        let step = self.refill_ms();
        let key = AddressKey::from(ip);
        self.whole_at.update(
            key,
            || now,
            |at| match self.wait_ms(*at, now) {
                Some(ms) => Err(Self::retry_secs(ms)),
                None => {
                    *at = (*at).max(now) + step;
                    Ok(())
                }
            },
        )?;
        Ok(Attempt {
            limiter: self,
            key,
            settled: false,
        })
    }

    fn give_back(&self, key: AddressKey) {
        let step = self.refill_ms();
        self.whole_at.peek(&key, |at| {
            if let Some(at) = at {
                *at -= step;
            }
        });
    }

    /// Addresses currently remembered.
    pub fn tracked(&self) -> usize {
        self.whole_at.len()
    }
}

impl Attempt<'_> {
    pub fn succeeded(mut self) {
        self.settled = true;
        self.limiter.give_back(self.key);
    }

    /// The attempt was refused before it was tried (e.g. the server was busy).
    pub fn not_tried(mut self) {
        self.settled = true;
        self.limiter.give_back(self.key);
    }

    /// The attempt failed; the failure stays counted (the same as dropping it).
    pub fn failed(mut self) {
        self.settled = true;
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            tracing::debug!("authentication attempt abandoned; counted as a failure");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn limiter(burst: u32) -> (FailureLimiter, std::sync::Arc<ManualClock>) {
        let clock = ManualClock::new();
        let policy = FailurePolicy {
            burst,
            refill: Duration::from_secs(30),
            capacity: 1024,
        };
        (FailureLimiter::new(policy, clock.clone()), clock)
    }

    #[test]
    fn a_burst_then_one_per_refill() {
        let (l, clock) = limiter(3);
        let ip: IpAddr = "203.0.113.1".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check(ip).is_ok());
            l.record_failure(ip);
        }
        assert_eq!(l.check(ip), Err(30));
        // Another address is not affected.
        assert!(l.check("203.0.113.2".parse().unwrap()).is_ok());
        clock.advance(Duration::from_secs(29));
        assert_eq!(l.check(ip), Err(1));
        clock.advance(Duration::from_secs(1));
        assert!(l.check(ip).is_ok());
        l.record_failure(ip);
        assert!(l.check(ip).is_err());
        // After a long quiet time the whole burst is back.
        clock.advance(Duration::from_secs(3600));
        for _ in 0..3 {
            l.record_failure(ip);
        }
        assert!(l.check(ip).is_err());
    }

    #[test]
    fn begin_counts_up_front_and_gives_back_on_success() {
        let (l, _clock) = limiter(2);
        let ip: IpAddr = "2001:db8:1:2::7".parse().unwrap();
        let a = l.begin(ip).unwrap();
        let b = l.begin(ip).unwrap();
        // Two in flight use the whole budget: a third is refused before it starts.
        assert!(l.begin(ip).is_err());
        a.succeeded();
        b.not_tried();
        let c = l.begin(ip).unwrap();
        c.failed();
        let d = l.begin(ip).unwrap();
        drop(d);
        assert!(l.begin(ip).is_err(), "a dropped attempt counts as failed");
        // The same /64 is the same subscriber.
        assert!(l.check("2001:db8:1:2::8".parse().unwrap()).is_err());
        assert!(l.check("2001:db8:1:3::8".parse().unwrap()).is_ok());
    }

    #[test]
    fn memory_is_bounded() {
        let (l, _clock) = limiter(2);
        for i in 0..100_000u32 {
            l.record_failure(IpAddr::V4(i.into()));
        }
        assert!(l.tracked() <= 1024);
    }
}
