//! Login throttling, in two parts:
//!
//! - **Lock-outs per (address, username).** 5 failures within a minute from one address for one
//!   username lock that pair until the oldest ages out. The check and the count are one step
//!   ([`LoginThrottle::begin`] counts the attempt as a failure before the password is checked), so
//!   a parallel burst gets exactly 5 attempts through, not 5 per request in flight.
//! - **Backoff per username, from every address.** After 5 failures in a row for a username, each
//!   further attempt for it waits before its password is checked: 250 ms, doubling per failure,
//!   at most 5 s; the count is forgotten 15 minutes after the last failure and cleared by a
//!   success. It is a wait, never a refusal: an attacker elsewhere can slow the admin's login by at
//!   most 5 s, but never lock the admin out; the right password from an address without failures
//!   always gets in.
//!
//! Both maps are bounded LRUs; usernames are capped in length before they get here.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Duration;

use super::failures::AddressKey;
use super::lru::ShardedLru;
use crate::clock::SharedClock;

/// Failures per (address, username) within [`WINDOW`] that lock the pair.
pub const MAX_FAILURES: usize = 5;
pub const WINDOW: Duration = Duration::from_secs(60);
/// Failures in a row for a username before its attempts are slowed down.
pub const BACKOFF_AFTER: u32 = 5;
pub const BACKOFF_BASE: Duration = Duration::from_millis(250);
pub const BACKOFF_CAP: Duration = Duration::from_secs(5);
/// A username's failures in a row are forgotten this long after the last one.
pub const BACKOFF_MEMORY: Duration = Duration::from_secs(15 * 60);

const PAIRS: usize = 100_000;
const USERS: usize = 10_000;

#[derive(Default)]
struct PairState {
    /// Times of recent failures, oldest first (at most [`MAX_FAILURES`]).
    failures: VecDeque<i64>,
    /// Attempts counted but not finished yet.
    pending: usize,
}

#[derive(Default)]
struct UserState {
    in_a_row: u32,
    last_failure: i64,
}

pub struct LoginThrottle {
    clock: SharedClock,
    pairs: ShardedLru<(AddressKey, String), PairState>,
    users: ShardedLru<String, UserState>,
}

/// A login attempt that passed the throttle. It is counted as a failure until it is settled:
/// [`LoginAttempt::succeeded`] clears the username's record, [`LoginAttempt::not_tried`] gives
/// the attempt back; [`LoginAttempt::failed`] or dropping it records the failure.
#[must_use = "dropping a login attempt records a failure"]
pub struct LoginAttempt<'a> {
    throttle: &'a LoginThrottle,
    pair: (AddressKey, String),
    delay: Duration,
    settled: bool,
}

/// The backoff for a username that failed `in_a_row` times.
pub fn backoff(in_a_row: u32) -> Duration {
    if in_a_row < BACKOFF_AFTER {
        return Duration::ZERO;
    }
    let doublings = (in_a_row - BACKOFF_AFTER).min(16);
    (BACKOFF_BASE * 2u32.pow(doublings)).min(BACKOFF_CAP)
}

impl LoginThrottle {
    pub fn new(clock: SharedClock) -> Self {
        LoginThrottle {
            clock,
            pairs: ShardedLru::new(PAIRS),
            users: ShardedLru::new(USERS),
        }
    }

    fn user_key(username: &str) -> String {
        username.to_lowercase()
    }

    /// Lets an attempt start, or `Err(seconds)` while the (address, username) pair is locked.
    pub fn begin(&self, ip: IpAddr, username: &str) -> Result<LoginAttempt<'_>, u64> {
        let now = self.clock.now_ms();
        let window = WINDOW.as_millis() as i64;
        let user = Self::user_key(username);
        let pair = (AddressKey::from(ip), user.clone());
        self.pairs
            .update(pair.clone(), PairState::default, |state| {
                while state.failures.front().is_some_and(|t| now - t >= window) {
                    state.failures.pop_front();
                }
                if state.failures.len() + state.pending >= MAX_FAILURES {
                    let wait = state
                        .failures
                        .front()
                        .map(|oldest| oldest + window - now)
                        .unwrap_or(1000);
                    return Err(((wait + 999) / 1000).max(1) as u64);
                }
                state.pending += 1;
                Ok(())
            })?;
        let delay = self.users.peek(&user, |state| match state {
            Some(s) if now - s.last_failure < BACKOFF_MEMORY.as_millis() as i64 => {
                backoff(s.in_a_row)
            }
            _ => Duration::ZERO,
        });
        Ok(LoginAttempt {
            throttle: self,
            pair,
            delay,
            settled: false,
        })
    }

    fn finish(&self, pair: &(AddressKey, String), outcome: Outcome) {
        let now = self.clock.now_ms();
        self.pairs.peek(pair, |state| {
            if let Some(state) = state {
                state.pending = state.pending.saturating_sub(1);
                if outcome == Outcome::Failed {
                    state.failures.push_back(now);
                    while state.failures.len() > MAX_FAILURES {
                        state.failures.pop_front();
                    }
                }
            }
        });
        match outcome {
            Outcome::Failed => {
                let forget = BACKOFF_MEMORY.as_millis() as i64;
                self.users
                    .update(pair.1.clone(), UserState::default, |state| {
                        if now - state.last_failure >= forget {
                            state.in_a_row = 0;
                        }
                        state.in_a_row = state.in_a_row.saturating_add(1);
                        state.last_failure = now;
                    });
            }
            Outcome::Succeeded => {
                self.pairs.remove(pair);
                self.users.remove(&pair.1);
            }
            Outcome::NotTried => {}
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Failed,
    Succeeded,
    NotTried,
}

impl LoginAttempt<'_> {
    /// How long this attempt must wait (the username's backoff) before its password is checked.
    pub fn delay(&self) -> Duration {
        self.delay
    }

    pub fn succeeded(mut self) {
        self.settle(Outcome::Succeeded);
    }

    pub fn failed(mut self) {
        self.settle(Outcome::Failed);
    }

    /// The password was never checked (the server was busy): nothing is recorded.
    pub fn not_tried(mut self) {
        self.settle(Outcome::NotTried);
    }

    fn settle(&mut self, outcome: Outcome) {
        if !self.settled {
            self.settled = true;
            self.throttle.finish(&self.pair, outcome);
        }
    }
}

impl Drop for LoginAttempt<'_> {
    /// A client that hangs up mid-attempt still pays for the attempt: otherwise hanging up just
    /// before the answer would be a way around the lock-out.
    fn drop(&mut self) {
        self.settle(Outcome::Failed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn five_failures_lock_the_pair_only() {
        let clock = ManualClock::new();
        let t = LoginThrottle::new(clock.clone());
        for _ in 0..MAX_FAILURES {
            t.begin(ip("10.0.0.1"), "admin").unwrap().failed();
        }
        let wait = t.begin(ip("10.0.0.1"), "ADMIN").err().unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        // Another username from the same address, the same username from elsewhere: not locked.
        assert!(t.begin(ip("10.0.0.1"), "other").is_ok());
        assert!(t.begin(ip("10.0.0.2"), "admin").is_ok());
        clock.advance(WINDOW);
        assert!(t.begin(ip("10.0.0.1"), "admin").is_ok());
    }

    #[test]
    fn attempts_in_flight_count_so_a_burst_cannot_pass_together() {
        let t = LoginThrottle::new(ManualClock::new());
        let held: Vec<_> = (0..MAX_FAILURES)
            .map(|_| t.begin(ip("10.0.0.1"), "admin").unwrap())
            .collect();
        assert!(t.begin(ip("10.0.0.1"), "admin").is_err());
        // Attempts refused as busy are given back.
        for a in held {
            a.not_tried();
        }
        assert!(t.begin(ip("10.0.0.1"), "admin").is_ok());
    }

    #[test]
    fn backoff_grows_caps_and_is_forgotten() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(BACKOFF_AFTER - 1), Duration::ZERO);
        assert_eq!(backoff(BACKOFF_AFTER), BACKOFF_BASE);
        assert_eq!(backoff(BACKOFF_AFTER + 1), BACKOFF_BASE * 2);
        assert_eq!(backoff(u32::MAX), BACKOFF_CAP);

        let clock = ManualClock::new();
        let t = LoginThrottle::new(clock.clone());
        // Failures from many addresses slow the username down everywhere...
        for i in 0..40u32 {
            t.begin(IpAddr::V4((0x0a00_0000 + i).into()), "admin")
                .unwrap()
                .failed();
        }
        let fresh = t.begin(ip("192.0.2.1"), "admin").unwrap();
        assert_eq!(fresh.delay(), BACKOFF_CAP);
        // ...but a success clears it.
        fresh.succeeded();
        assert_eq!(
            t.begin(ip("192.0.2.1"), "admin").unwrap().delay(),
            Duration::ZERO
        );
        for i in 0..10u32 {
            t.begin(IpAddr::V4((0x0b00_0000 + i).into()), "root")
                .unwrap()
                .failed();
        }
        clock.advance(BACKOFF_MEMORY);
        let later = t.begin(ip("192.0.2.1"), "root").unwrap();
        assert_eq!(later.delay(), Duration::ZERO);
        later.not_tried();
    }

    #[test]
    fn dropping_an_attempt_counts_as_a_failure() {
        let t = LoginThrottle::new(ManualClock::new());
        for _ in 0..MAX_FAILURES {
            drop(t.begin(ip("10.0.0.1"), "admin").unwrap());
        }
        assert!(t.begin(ip("10.0.0.1"), "admin").is_err());
    }
}
