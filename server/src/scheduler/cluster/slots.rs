//! Per-account `maxConcurrency` across instances: each instance holds some of an account's
//! slots in the database (`account_slots`) and serves requests in flight on the slots it
//! holds, so the hot path asks the database only when this instance needs one more slot than
//! it holds. Slots that stayed unused through a whole give-back period go back; all of a dead
//! instance's slots come back when its lease runs out (`CLUSTER_LEASE_SECS`, 15 s by default:
//! renewed every quarter of it).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

/// Slots unused through one whole period of this length are given back.
pub const GIVE_BACK_MS: u64 = 250;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Slots {
    /// Held in the database by this instance.
    held: u32,
    /// Requests in flight on them.
    claimed: u32,
    /// The fewest free (held − claimed) since the last give-back: those went unused.
    min_free: u32,
}

/// This instance's slots per account.
#[derive(Default)]
pub struct SlotBook {
    accounts: Mutex<HashMap<Arc<str>, Slots>>,
}

impl SlotBook {
    /// Takes a held slot that is free; false when this instance needs another from the
    /// database first.
    pub fn claim(&self, account: &str) -> bool {
        let mut map = self.accounts.lock();
        let Some(s) = map.get_mut(account) else {
            return false;
        };
        if s.claimed < s.held {
            s.claimed += 1;
            s.min_free = s.min_free.min(s.held - s.claimed);
            true
        } else {
            false
        }
    }

    /// The database granted one more slot: held, and claimed at once.
    pub fn granted(&self, account: &Arc<str>) {
        let mut map = self.accounts.lock();
        let s = map.entry(account.clone()).or_default();
        s.held += 1;
        s.claimed += 1;
        s.min_free = 0;
    }

    /// A request on a slot ended.
    pub fn release(&self, account: &str) {
        if let Some(s) = self.accounts.lock().get_mut(account) {
            s.claimed = s.claimed.saturating_sub(1);
        }
    }

    /// Slots that stayed free through the whole period since the last call, now given up
    /// here (the caller gives them back in the database): `(account, count)`.
    pub fn surplus(&self) -> Vec<(Arc<str>, u32)> {
        let mut out = Vec::new();
        let mut map = self.accounts.lock();
        for (account, s) in map.iter_mut() {
            let give = s.min_free.min(s.held - s.claimed.min(s.held));
            if give > 0 {
                s.held -= give;
                out.push((account.clone(), give));
            }
            s.min_free = s.held.saturating_sub(s.claimed);
        }
        map.retain(|_, s| s.held > 0 || s.claimed > 0);
        out
    }

    /// Slots held and in use for an account (for tests and metrics).
    pub fn of(&self, account: &str) -> (u32, u32) {
        self.accounts
            .lock()
            .get(account)
            .map_or((0, 0), |s| (s.held, s.claimed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_reused_while_busy_and_given_back_when_unused_for_a_period() {
        let book = SlotBook::default();
        let a: Arc<str> = "a".into();
        assert!(!book.claim(&a), "nothing held yet: ask the database");
        book.granted(&a);
        book.granted(&a);
        assert_eq!(book.of(&a), (2, 2));
        book.release(&a);
        // A request after a release reuses the held slot without the database.
        assert!(book.claim(&a));
        assert!(!book.claim(&a), "both in use");
        // Both were in use during the period: nothing goes back.
        assert!(book.surplus().is_empty());
        book.release(&a);
        // One stayed free through the next whole period: it goes back, the other stays.
        assert!(
            book.surplus().is_empty(),
            "freed during the period, not through it"
        );
        assert_eq!(book.surplus(), vec![(a.clone(), 1)]);
        assert_eq!(book.of(&a), (1, 1));
        book.release(&a);
        assert!(book.surplus().is_empty());
        assert_eq!(book.surplus(), vec![(a.clone(), 1)]);
        assert_eq!(book.of(&a), (0, 0));
        assert!(!book.claim(&a));
    }
}
