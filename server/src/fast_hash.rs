//! The hasher of the in-memory maps a request looks up (limits, live account state, sticky
//! sessions, metrics series): foldhash, seeded at random per process. SipHash, the standard
//! library's, costs several times more per lookup. foldhash does not claim resistance to an
//! attacker who can observe and adapt (HashDoS); these maps' keys are ids the relay issues,
//! session hashes (SHA-256 of the request) and bounded label sets, they are size-bounded, and
//! nothing a client sees reveals their order.

/// A `BuildHasher` with a per-process random seed.
pub type FastState = foldhash::fast::RandomState;

/// A `HashMap` hashed with [`FastState`].
pub type FastMap<K, V> = std::collections::HashMap<K, V, FastState>;
