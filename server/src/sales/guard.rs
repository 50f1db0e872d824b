//! Limits on guessing redemption codes: failed redemptions (unknown codes) are counted per
//! client address and, for redemptions onto a key, per key, with the same limiter the admin
//! login uses (`auth::failures::FailureLimiter`: a burst, then one more per refill period).
//! A refused caller gets 429 before any lookup. Codes carry 140 random bits, so the limits are
//! there to keep the log and the database quiet, not to make guessing hard.

use std::net::{IpAddr, Ipv6Addr};

use sha2::{Digest, Sha256};

use crate::auth::client_addr::ProxyTrust;
use crate::auth::failures::{FailureLimiter, FailurePolicy};
use crate::clock::SharedClock;

pub struct RedeemGuard {
    pub proxies: ProxyTrust,
    by_address: FailureLimiter,
    by_key: FailureLimiter,
}

/// A key's own failure budget, in the limiter's address space: a key id hashed into an IPv6
/// /64 of the documentation range (counted apart from every real client address).
fn key_slot(key_id: &str) -> IpAddr {
    let digest = Sha256::digest(key_id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    bytes[4..8].copy_from_slice(&digest[..4]);
    IpAddr::V6(Ipv6Addr::from(bytes))
}

impl RedeemGuard {
    pub fn new(clock: SharedClock, proxies: ProxyTrust) -> Self {
        let policy = FailurePolicy {
            burst: 10,
            refill: std::time::Duration::from_secs(60),
            capacity: 65_536,
        };
        RedeemGuard {
            proxies,
            by_address: FailureLimiter::new(policy, clock.clone()),
            by_key: FailureLimiter::new(policy, clock),
        }
    }

    /// `Err(seconds to wait)` when the address (or the key) has used up its failures.
    pub fn check(&self, client: IpAddr, key_id: Option<&str>) -> Result<(), u64> {
        self.by_address.check(client)?;
        if let Some(id) = key_id {
            self.by_key.check(key_slot(id))?;
        }
        Ok(())
    }

    /// Counts a failed redemption (a code that does not exist).
    pub fn failed(&self, client: IpAddr, key_id: Option<&str>) {
        self.by_address.record_failure(client);
        if let Some(id) = key_id {
            self.by_key.record_failure(key_slot(id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_are_limited_per_address_and_per_key() {
        let clock = crate::clock::ManualClock::new();
        let guard = RedeemGuard::new(clock.clone(), ProxyTrust::default());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..10 {
            assert!(guard.check(a, None).is_ok());
            guard.failed(a, None);
        }
        assert!(guard.check(a, None).is_err(), "address used up");
        assert!(guard.check(b, None).is_ok(), "another address is not");
        for _ in 0..10 {
            guard.failed(b, Some("key-1"));
        }
        let c: IpAddr = "198.51.100.7".parse().unwrap();
        assert!(
            guard.check(c, Some("key-1")).is_err(),
            "the key, from anywhere"
        );
        assert!(guard.check(c, Some("key-2")).is_ok());
        clock.advance(std::time::Duration::from_secs(61));
        assert!(guard.check(a, None).is_ok(), "one more after the refill");
    }
}
