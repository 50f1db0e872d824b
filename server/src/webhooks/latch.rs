//! "Fires once per transition, not per request": a set of keys that are currently in a state.
//!
//! ```
//! use tollgate::webhooks::{EventKind, TransitionLatch};
//! let latch: TransitionLatch = TransitionLatch::new();
//! let key = (EventKind::AccountRateLimited, "acct-1".to_string());
//! assert!(latch.enter(key.clone()));  // first 429: emit account.rate_limited
//! assert!(!latch.enter(key.clone())); // every further 429: stay quiet
//! assert!(latch.leave(&key));         // first success: emit account.recovered
//! assert!(!latch.leave(&key));        // further successes: stay quiet
//! ```

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::Hash;

use parking_lot::Mutex;

use super::event::EventKind;

/// Keys (by default an event kind and a subject id) that have entered a state and not left it.
#[derive(Debug)]
pub struct TransitionLatch<K = (EventKind, String)> {
    active: Mutex<HashSet<K>>,
}

impl<K: Eq + Hash> Default for TransitionLatch<K> {
    fn default() -> Self {
        TransitionLatch {
            active: Mutex::new(HashSet::new()),
        }
    }
}

impl<K: Eq + Hash> TransitionLatch<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// True only for the first entry of `key` since it last left (or ever).
    pub fn enter(&self, key: K) -> bool {
        self.active.lock().insert(key)
    }

    /// True when `key` was in the state, i.e. this call is the transition out of it.
    pub fn leave<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.active.lock().remove(key)
    }

    pub fn is_active<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.active.lock().contains(key)
    }

    /// How many keys are in their state now.
    pub fn len(&self) -> usize {
        self.active.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.active.lock().is_empty()
    }
}
