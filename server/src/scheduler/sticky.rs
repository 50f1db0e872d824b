//! Sticky sessions: a conversation (per key) stays on the account that served it, so the
//! upstream's prompt cache stays warm.

use crate::fast_hash::FastMap as HashMap;
use crate::fast_hash::FastState as RandomState;
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};

use hashlink::LruCache;
use parking_lot::Mutex;
use serde_json::Value;
use sha2::{Digest, Sha256};

mod canon;
pub use canon::{Canon, RAW_VALUE_TOKEN};

const SHARDS: usize = 16;

/// Conversations remembered per key at most. Clients choose their session ids, so one key
/// could otherwise fill memory with mappings; beyond the cap the least recently used mapping
/// of that key is forgotten (that conversation is placed afresh on its next request).
pub const SESSIONS_PER_KEY: usize = 1_000;

#[derive(Clone, Debug)]
struct Entry {
    account: Arc<str>,
    expires_at: i64,
}

/// Per key (sharded by key): its mappings by session hash, least recently used first.
type Shard = Mutex<HashMap<Arc<str>, LruCache<u64, Entry>>>;

/// A renewal made here, for instances sharing the database (new bindings are written by the
/// scheduler before the request goes on): `(key id, session, account, expires at)`.
pub type StickyWrite = (Arc<str>, u64, Arc<str>, i64);

pub struct StickyMap {
    shards: Vec<Shard>,
    pick: RandomState,
    ttl_ms: i64,
    renew_below_ms: i64,
    per_key: usize,
    /// Where bindings and renewals go when instances share them (unset: one instance).
    sink: OnceLock<tokio::sync::mpsc::UnboundedSender<StickyWrite>>,
}

impl StickyMap {
    pub fn new(ttl_ms: i64, renew_below_ms: i64) -> Self {
        Self::with_cap(ttl_ms, renew_below_ms, SESSIONS_PER_KEY)
    }

    pub fn with_cap(ttl_ms: i64, renew_below_ms: i64, per_key: usize) -> Self {
        StickyMap {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::default()))
                .collect(),
            pick: RandomState::default(),
            ttl_ms,
            renew_below_ms,
            per_key: per_key.max(1),
            sink: OnceLock::new(),
        }
    }

    /// Sends every later renewal to `sink` (several instances share them).
    pub fn share_to(&self, sink: tokio::sync::mpsc::UnboundedSender<StickyWrite>) {
        let _ = self.sink.set(sink);
    }

    fn shared(&self, key_id: &Arc<str>, session: u64, e: &Entry) {
        if let Some(sink) = self.sink.get() {
            let _ = sink.send((key_id.clone(), session, e.account.clone(), e.expires_at));
        }
    }

    /// The live mapping of a session and its end, without renewing it.
    pub fn peek(&self, key_id: &str, session: u64, now: i64) -> Option<(Arc<str>, i64)> {
        let shard = self.shard(key_id).lock();
        let e = shard.get(key_id)?.peek(&session)?;
        (e.expires_at > now).then(|| (e.account.clone(), e.expires_at))
    }

    /// Takes a mapping another instance made (read from the database), unless this one holds
    /// a longer-lived mapping to the same account.
    pub fn seed(&self, key_id: &Arc<str>, session: u64, account: Arc<str>, expires_at: i64) {
        let mut shard = self.shard(key_id).lock();
        let per_key = self.per_key;
        let sessions = shard
            .entry(key_id.clone())
            .or_insert_with(|| LruCache::new(per_key));
        if let Some(e) = sessions.get_mut(&session) {
            if e.account == account && e.expires_at >= expires_at {
                return;
            }
        }
        sessions.insert(
            session,
            Entry {
                account,
                expires_at,
            },
        );
    }

    fn shard(&self, key_id: &str) -> &Shard {
        &self.shards[self.pick.hash_one(key_id) as usize % SHARDS]
    }

    /// The live mapping of a session, renewed to the full TTL when its remaining time has
    /// dropped below the renewal threshold.
    pub fn get(&self, key_id: &Arc<str>, session: u64, now: i64) -> Option<Arc<str>> {
        let mut shard = self.shard(key_id).lock();
        let sessions = shard.get_mut(key_id)?;
        match sessions.get_mut(&session) {
            Some(e) if e.expires_at > now => {
                if self.renew_below_ms > 0 && e.expires_at - now < self.renew_below_ms {
                    e.expires_at = now + self.ttl_ms;
                    let e = e.clone();
                    drop(shard);
                    self.shared(key_id, session, &e);
                    return Some(e.account);
                }
                Some(e.account.clone())
            }
            Some(_) => {
                sessions.remove(&session);
                if sessions.is_empty() {
                    shard.remove(key_id);
                }
                None
            }
            None => None,
        }
    }

    pub fn set(&self, key_id: &Arc<str>, session: u64, account: Arc<str>, now: i64) {
        let e = Entry {
            account,
            expires_at: now + self.ttl_ms,
        };
        let mut shard = self.shard(key_id).lock();
        let per_key = self.per_key;
        shard
            .entry(key_id.clone())
            .or_insert_with(|| LruCache::new(per_key))
            .insert(session, e);
    }

    /// Mappings held for one key.
    pub fn sessions_of(&self, key_id: &str) -> usize {
        self.shard(key_id).lock().get(key_id).map_or(0, |s| s.len())
    }

    /// Drops expired mappings; returns how many remain.
    pub fn sweep(&self, now: i64) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let mut s = s.lock();
                s.retain(|_, sessions| {
                    let expired: Vec<u64> = sessions
                        .iter()
                        .filter(|(_, e)| e.expires_at <= now)
                        .map(|(k, _)| *k)
                        .collect();
                    for k in expired {
                        sessions.remove(&k);
                    }
                    !sessions.is_empty()
                });
                s.values().map(|sessions| sessions.len()).sum::<usize>()
            })
            .sum()
    }
}

fn hash64(parts: &[&[u8]]) -> u64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let d = h.finalize();
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// The session id Claude Code puts in `metadata.user_id`: a JSON string carrying
/// `session_id`, or (older clients) `..._session_<uuid>` in a plain string.
pub fn session_from_user_id(user_id: &str) -> Option<&str> {
    if user_id.trim_start().starts_with('{') {
        // Find "session_id":"..." without allocating a full parse.
        let at = user_id.find("\"session_id\"")?;
        let rest = &user_id[at + 12..];
        let rest = rest
            .trim_start()
            .strip_prefix(':')?
            .trim_start()
            .strip_prefix('"')?;
        let end = rest.find('"')?;
        return Some(&rest[..end]).filter(|s| !s.is_empty());
    }
    let at = user_id.find("session_")?;
    let id = &user_id[at + 8..];
    Some(id).filter(|s| !s.is_empty())
}

/// A value as it serialises with its `cache_control` markers removed (they move between turns,
/// so the hash must not see them): the same bytes as removing them from a copy and serialising
/// that, without the copy.
struct WithoutCacheControl<'a>(&'a Value);

impl serde::Serialize for WithoutCacheControl<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Object(map) => {
                let kept = map.iter().filter(|(k, _)| k.as_str() != "cache_control");
                let mut m = s.serialize_map(Some(kept.clone().count()))?;
                for (k, v) in kept {
                    m.serialize_entry(k, &WithoutCacheControl(v))?;
                }
                m.end()
            }
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(&WithoutCacheControl(v))?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}

/// A conversation's identity: the explicit session id when the client sends one, else the
/// system prompt plus the first user message.
pub fn session_hash(
    explicit: Option<&str>,
    system: Option<&Value>,
    first_user: Option<&Value>,
) -> Option<u64> {
    if let Some(id) = explicit.filter(|s| !s.is_empty()) {
        return Some(hash64(&[b"id", id.as_bytes()]));
    }
    if system.is_none() && first_user.is_none() {
        return None;
    }
    let null = Value::Null;
    Some(content_hash(
        &WithoutCacheControl(system.unwrap_or(&null)),
        &WithoutCacheControl(first_user.unwrap_or(&null)),
    ))
}

/// [`session_hash`] without an explicit id, from the parts as [`Canon`] read them from the
/// request's text: the same hash as of their `Value`s.
pub fn content_session_hash(system: Option<&Canon>, first_user: Option<&Canon>) -> Option<u64> {
    if system.is_none() && first_user.is_none() {
        return None;
    }
    Some(content_hash(
        system.unwrap_or(&Canon::NULL),
        first_user.unwrap_or(&Canon::NULL),
    ))
}

/// The hash of a conversation's content: `"content"` and both parts as compact JSON, each
/// length-prefixed as `hash64` does, in one buffer.
fn content_hash(system: &impl serde::Serialize, first_user: &impl serde::Serialize) -> u64 {
    let mut h = Sha256::new();
    let content: &[u8] = b"content";
    h.update((content.len() as u64).to_le_bytes());
    h.update(content);
    let mut buf = Vec::with_capacity(256);
    content_part(&mut h, &mut buf, system);
    content_part(&mut h, &mut buf, first_user);
    let d = h.finalize();
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

fn content_part(h: &mut Sha256, buf: &mut Vec<u8>, part: &impl serde::Serialize) {
    buf.clear();
    if serde_json::to_writer(&mut *buf, part).is_err() {
        buf.clear();
    }
    h.update((buf.len() as u64).to_le_bytes());
    h.update(&*buf);
}

#[cfg(test)]
mod tests;
