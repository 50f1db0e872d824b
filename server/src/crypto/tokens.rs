//! Random tokens (API keys, admin tokens, sessions), their stored hash, and the masked form a
//! secret is shown in.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A display form of a secret that shows only its start and end: `sk-ant-…a1b2`.
pub fn mask_secret(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() <= 8 {
        return "…".to_string();
    }
    let head: String = chars.iter().take(6.min(chars.len() / 4)).collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// SHA-256 of a token, hex encoded: how API keys and admin tokens are stored and looked up.
/// Every relay request hashes its key, so the digits are written straight into one string
/// (`hex::encode` collects them one `char` at a time).
pub fn token_hash(token: &str) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(token.as_bytes());
    let mut hex = String::with_capacity(2 * digest.len());
    for b in digest {
        hex.push(char::from(DIGITS[usize::from(b >> 4)]));
        hex.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    hex
}

/// The prefix of admin REST API tokens.
pub const ADMIN_TOKEN_PREFIX: &str = "tga_";

/// Length of the random part of a [`random_token`].
const TOKEN_BODY_LEN: usize = 43;

/// True when `token` has the shape [`random_token`] gives tokens with `prefix`: anything else
/// can be refused without a lookup.
pub fn looks_like_token(prefix: &str, token: &str) -> bool {
    token.strip_prefix(prefix).is_some_and(|body| {
        body.len() == TOKEN_BODY_LEN
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// A random token: `prefix` followed by 32 random bytes in URL-safe base64 (43 characters).
pub fn random_token(prefix: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_and_tokens() {
        assert_eq!(mask_secret("sk-ant-api03-abcdefghijklmnop"), "sk-ant…mnop");
        assert_eq!(mask_secret("short"), "…");
        let t = random_token("tg_");
        assert!(t.starts_with("tg_") && t.len() == 46);
        assert!(looks_like_token("tg_", &t));
        let admin = random_token(ADMIN_TOKEN_PREFIX);
        assert!(looks_like_token(ADMIN_TOKEN_PREFIX, &admin));
        assert!(!looks_like_token(ADMIN_TOKEN_PREFIX, &t));
        assert!(!looks_like_token(
            ADMIN_TOKEN_PREFIX,
            &admin[..admin.len() - 1]
        ));
        assert!(!looks_like_token(ADMIN_TOKEN_PREFIX, &format!("{admin}x")));
        assert!(!looks_like_token(
            "tga_",
            &format!("tga_{}", "é".repeat(21))
        ));
        assert_eq!(token_hash("x").len(), 64);
    }

    /// The stored hash of every key issued so far: SHA-256 in lowercase hex (FIPS 180-2's
    /// "abc" vector), so keys keep matching their rows.
    #[test]
    fn token_hash_is_lowercase_hex_sha256() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(token_hash("abc"), hex::encode(Sha256::digest(b"abc")));
    }
}
