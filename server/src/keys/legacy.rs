//! The hash scheme of keys imported from claude-relay-service (CRS), beside Tollgate's own:
//! CRS stored `sha256_hex(key + its ENCRYPTION_KEY)`, and Tollgate keeps that as
//! `crs:<hex>` in `api_keys.key_hash` (its own plain SHA-256 hex can never look like that).
//! Only `cr_`-shaped keys are hashed this way; new keys keep Tollgate's scheme.

use sha2::{Digest, Sha256};

/// What CRS's keys start with (its default `API_KEY_PREFIX`), followed by 64 hex characters.
pub const CRS_KEY_PREFIX: &str = "cr_";
const CRS_KEY_HEX: usize = 64;

/// The namespace of imported CRS hashes in `api_keys.key_hash`.
pub const STORED_HASH_PREFIX: &str = "crs:";

/// The scheme name of CRS salts in `legacy_key_salts`.
pub const SALT_SCHEME: &str = "crs";

/// True for strings shaped like a CRS key: only these take the legacy path on the relay.
pub fn is_crs_key(presented: &str) -> bool {
    presented.len() == CRS_KEY_PREFIX.len() + CRS_KEY_HEX
        && presented.starts_with(CRS_KEY_PREFIX)
        && presented[CRS_KEY_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
}

/// CRS's hash of a key: `sha256_hex(key + ENCRYPTION_KEY)`, no separator.
pub fn crs_key_hash(presented: &str, salt: &str) -> String {
    let mut h = Sha256::new();
    h.update(presented.as_bytes());
    h.update(salt.as_bytes());
    hex::encode(h.finalize())
}

/// How an imported key's hash is stored in `api_keys.key_hash`.
pub fn stored_hash(crs_hash: &str) -> String {
    format!("{STORED_HASH_PREFIX}{}", crs_hash.to_ascii_lowercase())
}
