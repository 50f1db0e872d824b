//! API keys' own rules, apart from storage and HTTP: how keys are generated and shown, how
//! settings are validated, batch names, the JSON fields the API accepts, and the CSV export.
//! The admin service (`admin::keys`) puts these together.

pub mod csv;
pub mod expiry_watch;
pub mod fields;
pub mod holder;
pub mod legacy;
pub mod lifecycle;
pub mod names;
pub mod patch;
pub mod presets;
pub mod restrictions;
pub mod validate;

use crate::crypto::{random_token, token_hash};

/// What every Tollgate API key starts with.
pub const KEY_PREFIX: &str = "tg_";

/// How many characters after [`KEY_PREFIX`] are kept for recognising a key.
const SHOWN_CHARS: usize = 7;

/// A freshly generated key. The plaintext goes to the caller once and is never stored.
pub struct GeneratedKey {
    pub plaintext: String,
    /// SHA-256 hex of the plaintext: what is stored and looked up.
    pub hash: String,
    /// `tg_` and the next few characters, stored for display.
    pub prefix: String,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// `tg_` + 32 random bytes in URL-safe base64.
pub fn generate() -> GeneratedKey {
    let plaintext = random_token(KEY_PREFIX);
    let prefix = plaintext
        .chars()
        .take(KEY_PREFIX.len() + SHOWN_CHARS)
        .collect();
    GeneratedKey {
        hash: token_hash(&plaintext),
        prefix,
        plaintext,
    }
}

/// The stored prefix as shown to people: `tg_AbCdEf1…`.
pub fn display_prefix(stored: &str) -> String {
    format!("{stored}…")
}

/// True when `text` has the shape of a whole key (so a search can match it by hash).
pub fn looks_like_key(text: &str) -> bool {
    text.len() == KEY_PREFIX.len() + 43
        && text.starts_with(KEY_PREFIX)
        && text[KEY_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_hash_to_their_record() {
        let a = generate();
        let b = generate();
        assert_ne!(a.plaintext, b.plaintext);
        assert!(a.plaintext.starts_with("tg_") && a.plaintext.len() == 46);
        assert_eq!(a.prefix.len(), 10);
        assert!(a.plaintext.starts_with(&a.prefix));
        assert_eq!(a.hash, token_hash(&a.plaintext));
        assert!(looks_like_key(&a.plaintext));
        assert!(!looks_like_key(&a.prefix));
        assert!(!format!("{a:?}").contains(&a.plaintext));
        assert_eq!(display_prefix("tg_AbCdEf1"), "tg_AbCdEf1…");
    }
}
