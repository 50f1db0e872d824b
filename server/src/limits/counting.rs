//! Token counting (`/v1/messages/count_tokens`, Gemini `:countTokens`) is free for the key and
//! reserves nothing, so it gets a limit of its own per key: a burst of
//! [`COUNT_TOKENS_PER_MINUTE`], then that many a minute (GCRA: one `i64` per key, in a bounded
//! LRU). Over it the key gets 429 with `Retry-After`; the upstream never sees the call.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::lru::ShardedLru;
use crate::clock::SharedClock;

/// Token-counting calls a key may make per minute (and at once).
pub const COUNT_TOKENS_PER_MINUTE: u32 = 60;

/// Keys remembered at most (the least recently counting are forgotten first: a forgotten key
/// starts with a whole burst, which costs at most one burst per eviction).
const KEYS: usize = 65_536;

pub struct CountingLimiter {
    per_minute: u32,
    clock: SharedClock,
    /// Per key: when its budget is whole again (epoch ms).
    whole_at: ShardedLru<Arc<str>, i64>,
}

impl CountingLimiter {
    pub fn new(per_minute: u32, clock: SharedClock) -> Self {
        CountingLimiter {
            per_minute: per_minute.max(1),
            clock,
            whole_at: ShardedLru::new(KEYS),
        }
    }

    /// Takes one call from the key's budget, or says how long to wait for the next.
    pub fn admit(&self, key_id: &Arc<str>) -> Result<(), Duration> {
        let now = self.clock.now_ms();
        let step = (60_000 / i64::from(self.per_minute)).max(1);
        let allowed = (i64::from(self.per_minute) - 1) * step;
        self.whole_at.update(
            key_id.clone(),
            || now,
            |at| {
                let next = (*at).max(now) + step;
                let owed = next - now - step;
                if owed > allowed {
                    Err(Duration::from_millis((owed - allowed) as u64))
                } else {
                    *at = next;
                    Ok(())
                }
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn a_burst_then_one_per_step_per_key() {
        let clock = ManualClock::new();
        let l = CountingLimiter::new(3, clock.clone());
        let (a, b): (Arc<str>, Arc<str>) = ("a".into(), "b".into());
        for _ in 0..3 {
            assert!(l.admit(&a).is_ok());
        }
        let wait = l.admit(&a).unwrap_err();
        assert_eq!(wait, Duration::from_secs(20));
        assert!(l.admit(&b).is_ok(), "another key has its own budget");
        clock.advance(Duration::from_secs(20));
        assert!(l.admit(&a).is_ok());
        assert!(l.admit(&a).is_err());
        clock.advance(Duration::from_secs(3600));
        for _ in 0..3 {
            assert!(l.admit(&a).is_ok());
        }
    }
}
