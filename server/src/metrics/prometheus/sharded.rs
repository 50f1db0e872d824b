//! The map behind every series: sharded by key hash, so recording a known series takes one read
//! lock on one shard.

use crate::fast_hash::FastMap as HashMap;
use crate::fast_hash::FastState as RandomState;
use std::hash::{BuildHasher, Hash};

use parking_lot::RwLock;

const SHARDS: usize = 16;

/// A map split into shards by key hash, each behind its own lock; values are updated in place
/// (atomics), so existing series only ever take a read lock.
pub(super) struct Sharded<K, V> {
    hasher: RandomState,
    shards: Vec<RwLock<HashMap<K, V>>>,
}

impl<K: Hash + Eq, V: Default> Sharded<K, V> {
    pub(super) fn new() -> Self {
        Sharded {
            hasher: RandomState::default(),
            shards: (0..SHARDS)
                .map(|_| RwLock::new(HashMap::default()))
                .collect(),
        }
    }

    pub(super) fn update(&self, key: K, f: impl FnOnce(&V)) {
        let shard = &self.shards[(self.hasher.hash_one(&key) as usize) % SHARDS];
        if let Some(v) = shard.read().get(&key) {
            f(v);
            return;
        }
        f(shard.write().entry(key).or_default());
    }

    pub(super) fn collect<T>(&self, mut f: impl FnMut(&K, &V) -> T) -> Vec<T> {
        let mut out = Vec::new();
        for shard in &self.shards {
            out.extend(shard.read().iter().map(|(k, v)| f(k, v)));
        }
        out
    }
}
