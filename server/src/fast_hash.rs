//! The hasher of the in-memory maps a request looks up (limits, live account state, sticky
//! sessions, metrics series): foldhash, seeded at random per process. SipHash, the standard
//! library's, costs several times more per lookup; foldhash's per-process seed still keeps a
//! client from choosing keys that collide.

/// A `BuildHasher` with a per-process random seed.
pub type FastState = foldhash::fast::RandomState;

/// A `HashMap` hashed with [`FastState`].
pub type FastMap<K, V> = std::collections::HashMap<K, V, FastState>;
