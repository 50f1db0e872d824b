//! Sticky sessions: a conversation (per key) stays on the account that served it, so the
//! upstream's prompt cache stays warm.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};

use hashlink::LruCache;
use parking_lot::Mutex;
use serde_json::Value;
use sha2::{Digest, Sha256};

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
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            pick: RandomState::new(),
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
    // Each part length-prefixed, as `hash64` does; one buffer for both.
    let mut h = Sha256::new();
    let content: &[u8] = b"content";
    h.update((content.len() as u64).to_le_bytes());
    h.update(content);
    let mut buf = Vec::with_capacity(256);
    for part in [system, first_user] {
        buf.clear();
        let part = WithoutCacheControl(part.unwrap_or(&Value::Null));
        if serde_json::to_writer(&mut buf, &part).is_err() {
            buf.clear();
        }
        h.update((buf.len() as u64).to_le_bytes());
        h.update(&buf);
    }
    let d = h.finalize();
    Some(u64::from_le_bytes([
        d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7],
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn session_ids_from_claude_code_and_older_clients() {
        let new_style = r#"{"device_id":"abc","account_uuid":"","session_id":"5f0c-11"}"#;
        assert_eq!(session_from_user_id(new_style), Some("5f0c-11"));
        let old = "user_abc123_account__session_7d1e2f3a-0000-1111-2222-333344445555";
        assert_eq!(
            session_from_user_id(old),
            Some("7d1e2f3a-0000-1111-2222-333344445555")
        );
        assert_eq!(session_from_user_id("plain-user"), None);
    }

    #[test]
    fn content_hash_ignores_cache_control() {
        let sys1 =
            json!([{"type":"text","text":"You are helpful","cache_control":{"type":"ephemeral"}}]);
        let sys2 = json!([{"type":"text","text":"You are helpful"}]);
        let u = json!({"role":"user","content":"hi"});
        assert_eq!(
            session_hash(None, Some(&sys1), Some(&u)),
            session_hash(None, Some(&sys2), Some(&u))
        );
        let other = json!({"role":"user","content":"hello"});
        assert_ne!(
            session_hash(None, Some(&sys2), Some(&u)),
            session_hash(None, Some(&sys2), Some(&other))
        );
        assert_ne!(
            session_hash(Some("a"), None, None),
            session_hash(Some("b"), None, None)
        );
        assert_eq!(session_hash(None, None, None), None);
    }

    /// The hash without copies is the hash of a stripped copy (as bindings made before it).
    #[test]
    fn content_hash_is_the_stripped_copys() {
        fn strip(v: &mut Value) {
            match v {
                Value::Object(map) => {
                    map.remove("cache_control");
                    map.values_mut().for_each(strip);
                }
                Value::Array(items) => items.iter_mut().for_each(strip),
                _ => {}
            }
        }
        let sys = json!([{"type":"text","text":"You are \"helpful\"","cache_control":{"type":"ephemeral"}},
            {"type":"text","text":"ü\u{1}","nested":{"cache_control":1,"k":[1.5,null,true,{"cache_control":[]}]}}]);
        let u = json!({"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]});
        for (sys, u) in [(Some(&sys), Some(&u)), (None, Some(&u)), (Some(&sys), None)] {
            let (mut s2, mut u2) = (
                sys.cloned().unwrap_or(Value::Null),
                u.cloned().unwrap_or(Value::Null),
            );
            strip(&mut s2);
            strip(&mut u2);
            let old = hash64(&[
                b"content",
                &serde_json::to_vec(&s2).unwrap(),
                &serde_json::to_vec(&u2).unwrap(),
            ]);
            assert_eq!(session_hash(None, sys, u), Some(old));
        }
    }

    #[test]
    fn ttl_and_renewal() {
        let k: Arc<str> = "key".into();
        let m = StickyMap::new(1_000, 0);
        m.set(&k, 1, "a".into(), 0);
        assert_eq!(m.get(&k, 1, 999).as_deref(), Some("a"));
        assert_eq!(m.get(&k, 1, 1_000), None, "expired");
        let other: Arc<str> = "other".into();
        m.set(&k, 2, "a".into(), 0);
        assert_eq!(m.get(&other, 2, 1), None, "scoped per key");

        let r = StickyMap::new(1_000, 300);
        r.set(&k, 1, "a".into(), 0);
        assert_eq!(r.get(&k, 1, 500).as_deref(), Some("a"));
        assert_eq!(
            r.get(&k, 1, 800).as_deref(),
            Some("a"),
            "renewed: 200 ms left < 300"
        );
        assert_eq!(
            r.get(&k, 1, 1_400).as_deref(),
            Some("a"),
            "lives until 800 + 1000; 400 ms left, no renewal"
        );
        assert_eq!(r.get(&k, 1, 1_801), None);
        assert_eq!(r.sweep(10_000), 0);
    }

    #[test]
    fn bindings_and_renewals_are_shared_and_seeds_taken() {
        let k: Arc<str> = "key".into();
        let m = StickyMap::new(1_000, 300);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        m.share_to(tx);
        m.set(&k, 1, "a".into(), 0);
        assert!(
            rx.try_recv().is_err(),
            "the scheduler writes new bindings itself"
        );
        // A read far from the end neither renews nor writes; peeking never does.
        assert_eq!(m.get(&k, 1, 100).as_deref(), Some("a"));
        assert_eq!(m.peek(&k, 1, 800), Some(("a".into(), 1_000)));
        assert!(rx.try_recv().is_err());
        assert_eq!(m.get(&k, 1, 800).as_deref(), Some("a"));
        assert_eq!(rx.try_recv().unwrap(), (k.clone(), 1, "a".into(), 1_800));
        // Another instance renewed it further: the seed moves the end; a shorter one does not.
        m.seed(&k, 1, "a".into(), 2_500);
        m.seed(&k, 1, "a".into(), 2_000);
        assert_eq!(m.peek(&k, 1, 2_400), Some(("a".into(), 2_500)));
        assert_eq!(m.peek(&k, 1, 2_500), None);
        // A conversation bound elsewhere, or moved there, is taken as it is.
        m.seed(&k, 2, "b".into(), 900);
        m.seed(&k, 1, "c".into(), 1_500);
        assert_eq!(m.peek(&k, 2, 0), Some(("b".into(), 900)));
        assert_eq!(m.peek(&k, 1, 0), Some(("c".into(), 1_500)));
        assert!(rx.try_recv().is_err(), "seeds are not written back");
    }

    #[test]
    fn each_key_keeps_a_bounded_number_of_sessions() {
        let (k, other): (Arc<str>, Arc<str>) = ("key".into(), "other".into());
        let m = StickyMap::with_cap(60_000, 0, 100);
        m.set(&other, 1, "b".into(), 0);
        for session in 0..10_000u64 {
            m.set(&k, session, "a".into(), 0);
        }
        assert_eq!(m.sessions_of(&k), 100);
        // The most recent survive; the oldest were forgotten; other keys are untouched.
        assert_eq!(m.get(&k, 9_999, 1).as_deref(), Some("a"));
        assert_eq!(m.get(&k, 0, 1), None);
        assert_eq!(m.get(&other, 1, 1).as_deref(), Some("b"));
        assert_eq!(m.sweep(1), 101);
        assert_eq!(m.sweep(60_001), 0);
    }
}
