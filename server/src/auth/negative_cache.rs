//! Credentials recently found unknown, so that a client repeating one (a script with a revoked
//! token, say) costs a memory lookup instead of a database query. Bounded (LRU) and with a time to
//! live; entries are 16 bytes of the credential's SHA-256, never the credential itself.
//!
//! Only for credentials that cannot become valid later: random tokens are stored hashed before
//! they are handed out, so one unknown now stays unknown (revoked and expired ones included).

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::lru::ShardedLru;
use crate::clock::SharedClock;

pub struct NegativeCache {
    ttl_ms: i64,
    clock: SharedClock,
    /// Digest prefix → when the entry stops counting (epoch ms).
    entries: ShardedLru<[u8; 16], i64>,
}

fn digest(credential: &str) -> [u8; 16] {
    let full = Sha256::digest(credential.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

impl NegativeCache {
    pub fn new(capacity: usize, ttl: Duration, clock: SharedClock) -> Self {
        NegativeCache {
            ttl_ms: ttl.as_millis() as i64,
            clock,
            entries: ShardedLru::new(capacity),
        }
    }

    /// True when `credential` was found unknown within the time to live.
    pub fn contains(&self, credential: &str) -> bool {
        let now = self.clock.now_ms();
        self.entries
            .peek(&digest(credential), |until| until.is_some_and(|u| *u > now))
    }

    pub fn insert(&self, credential: &str) {
        let until = self.clock.now_ms() + self.ttl_ms;
        self.entries
            .update(digest(credential), || until, |u| *u = until);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Forgets everything (credentials that may have become valid, e.g. after an import).
    pub fn clear(&self) {
        self.entries.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn remembers_for_its_ttl_within_its_capacity() {
        let clock = ManualClock::new();
        let cache = NegativeCache::new(256, Duration::from_secs(60), clock.clone());
        cache.insert("tga_unknown");
        assert!(cache.contains("tga_unknown"));
        assert!(!cache.contains("tga_other"));
        clock.advance(Duration::from_secs(61));
        assert!(!cache.contains("tga_unknown"));
        for i in 0..10_000 {
            cache.insert(&format!("tga_{i}"));
        }
        assert!(cache.len() <= 256);
    }
}
