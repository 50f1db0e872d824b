//! A bounded map for per-client state that strangers can make us create (failed logins, unknown
//! tokens): least recently used entries are dropped beyond the capacity, every operation is O(1),
//! and the map is split into shards so one busy key never serialises the whole process.
//! Keys are hashed with SipHash and a random seed: attacker-chosen keys cannot be made to collide.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};

use hashlink::LruCache;
use parking_lot::Mutex;

const SHARDS: usize = 16;

pub struct ShardedLru<K, V> {
    shards: Box<[Mutex<LruCache<K, V, RandomState>>]>,
    pick: RandomState,
}

impl<K: Hash + Eq, V> ShardedLru<K, V> {
    /// At most `capacity` entries in all (rounded up to a multiple of the shard count).
    pub fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        ShardedLru {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(LruCache::with_hasher(per_shard, RandomState::new())))
                .collect(),
            pick: RandomState::new(),
        }
    }

    fn shard(&self, key: &K) -> &Mutex<LruCache<K, V, RandomState>> {
        let index = self.pick.hash_one(key) as usize % SHARDS;
        &self.shards[index]
    }

    /// Runs `f` on the key's entry, creating it with `init` if missing (which may push out the
    /// least recently used entry of its shard). The entry becomes the most recently used.
    pub fn update<R>(&self, key: K, init: impl FnOnce() -> V, f: impl FnOnce(&mut V) -> R) -> R {
        let mut shard = self.shard(&key).lock();
        if let Some(v) = shard.get_mut(&key) {
            return f(v);
        }
        let mut value = init();
        let out = f(&mut value);
        shard.insert(key, value);
        out
    }

    /// Runs `f` on the key's entry if there is one, without creating it or changing its place.
    pub fn peek<R>(&self, key: &K, f: impl FnOnce(Option<&mut V>) -> R) -> R {
        let mut shard = self.shard(key).lock();
        f(shard.peek_mut(key))
    }

    pub fn remove(&self, key: &K) -> Option<V> {
        self.shard(key).lock().remove(key)
    }

    pub fn clear(&self) {
        for shard in self.shards.iter() {
            shard.lock().clear();
        }
    }

    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn capacity(&self) -> usize {
        self.shards.iter().map(|s| s.lock().capacity()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_grows_past_its_capacity() {
        let map: ShardedLru<u32, u32> = ShardedLru::new(64);
        for i in 0..10_000 {
            map.update(i, || 0, |v| *v += 1);
        }
        assert!(
            map.len() <= map.capacity(),
            "{} > {}",
            map.len(),
            map.capacity()
        );
        assert_eq!(map.capacity(), 64);
        // The most recent keys are still there.
        assert!(map.peek(&9_999, |v| v.is_some()));
    }

    #[test]
    fn update_creates_then_mutates() {
        let map: ShardedLru<&str, u32> = ShardedLru::new(8);
        assert_eq!(map.update("a", || 5, |v| *v), 5);
        map.update("a", || 0, |v| *v += 1);
        assert_eq!(map.peek(&"a", |v| v.copied()), Some(6));
        assert_eq!(map.remove(&"a"), Some(6));
        assert!(map.is_empty());
    }
}
