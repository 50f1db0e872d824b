//! The map behind every series: sharded by key hash, so recording a known series takes one read
//! lock on one shard. The key is hashed once: the shard and the shard's map both use that hash.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

use parking_lot::RwLock;

use crate::fast_hash::FastState;

const SHARDS: usize = 16;

/// A map split into shards by key hash, each behind its own lock; values are updated in place
/// (atomics), so existing series only ever take a read lock.
pub(super) struct Sharded<K, V> {
    hasher: FastState,
    shards: Vec<RwLock<Shard<K, V>>>,
}

type Shard<K, V> = HashMap<Hashed<K>, V, BuildHasherDefault<Prehashed>>;

/// A key with its hash (from the `Sharded`'s seeded hasher), which is all it hashes as.
struct Hashed<K> {
    hash: u64,
    key: K,
}

impl<K> Hash for Hashed<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl<K: Eq> PartialEq for Hashed<K> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.key == other.key
    }
}

impl<K: Eq> Eq for Hashed<K> {}

/// Passes a [`Hashed`] key's hash through.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; anything else still hashes (FNV-1a style).
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl<K: Hash + Eq, V: Default> Sharded<K, V> {
    pub(super) fn new() -> Self {
        Sharded {
            hasher: FastState::default(),
            shards: (0..SHARDS)
                .map(|_| RwLock::new(HashMap::default()))
                .collect(),
        }
    }

    pub(super) fn update(&self, key: K, f: impl FnOnce(&V)) {
        let hash = self.hasher.hash_one(&key);
        // Bits the shard's table uses for neither its bucket index (low) nor its tags (high).
        let shard = &self.shards[(hash >> 32) as usize % SHARDS];
        let key = Hashed { hash, key };
        if let Some(v) = shard.read().get(&key) {
            f(v);
            return;
        }
        f(shard.write().entry(key).or_default());
    }

    pub(super) fn collect<T>(&self, mut f: impl FnMut(&K, &V) -> T) -> Vec<T> {
        let mut out = Vec::new();
        for shard in &self.shards {
            out.extend(shard.read().iter().map(|(k, v)| f(&k.key, v)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn each_key_is_one_series() {
        let m: Sharded<(String, u16), AtomicU64> = Sharded::new();
        for i in 0..1_000u16 {
            for _ in 0..3 {
                m.update((format!("model-{}", i % 100), i % 7), |n| {
                    n.fetch_add(1, Ordering::Relaxed);
                });
            }
        }
        let mut got = m.collect(|k, n| (k.clone(), n.load(Ordering::Relaxed)));
        got.sort();
        // 100 models x 7 statuses, each pair hit by i with i % 700 fixed: 1,000 / 700 rounds.
        assert_eq!(got.len(), 700);
        let total: u64 = got.iter().map(|(_, n)| n).sum();
        assert_eq!(total, 3_000);
        for ((model, status), n) in &got {
            let hits = (0..1_000u16)
                .filter(|i| format!("model-{}", i % 100) == *model && i % 7 == *status)
                .count() as u64;
            assert_eq!(*n, 3 * hits, "{model} {status}");
        }
    }
}
