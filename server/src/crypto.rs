//! Credentials at rest: AES-256-GCM with a random nonce per value.
//!
//! The key comes from `ENCRYPTION_KEY` (64 hex characters, base64 of 32 bytes, or a passphrase of
//! at least 32 characters, hashed with SHA-256) or from `<data dir>/encryption.key`, generated on
//! first start with mode 0600. Losing the key makes stored upstream credentials unreadable.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::secret::Secret;

const PREFIX: &str = "v1:";
const KEY_FILE: &str = "encryption.key";

#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher([redacted])")
    }
}

impl Cipher {
    pub fn from_key_bytes(key: &[u8; 32]) -> Self {
        Cipher {
            aead: Aes256Gcm::new(key.into()),
        }
    }

    /// Loads the key from the configured value, else from (or into) the data directory.
    pub fn load(configured: Option<&Secret<String>>, data_dir: &Path) -> anyhow::Result<Self> {
        if let Some(value) = configured {
            return Ok(Self::from_key_bytes(&parse_key(value.expose())?));
        }
        let path = data_dir.join(KEY_FILE);
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            return Ok(Self::from_key_bytes(
                &parse_key(text.trim()).with_context(|| format!("parsing {}", path.display()))?,
            ));
        }
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating data directory {}", data_dir.display()))?;
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        write_private(&path, hex::encode(key).as_bytes())?;
        tracing::info!(path = %path.display(), "generated a new encryption key; back it up with the database");
        Ok(Self::from_key_bytes(&key))
    }

    pub fn encrypt(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // Encryption with a valid key and a 12-byte nonce cannot fail.
        let ct = self
            .aead
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .unwrap_or_default();
        let mut out = Vec::with_capacity(12 + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        format!("{PREFIX}{}", B64.encode(out))
    }

    pub fn decrypt(&self, stored: &str) -> anyhow::Result<Secret<String>> {
        let Some(body) = stored.strip_prefix(PREFIX) else {
            bail!("unknown ciphertext format");
        };
        let raw = B64.decode(body).context("ciphertext is not base64")?;
        if raw.len() < 12 + 16 {
            bail!("ciphertext too short");
        }
        let (nonce, ct) = raw.split_at(12);
        let pt = self
            .aead
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| {
                anyhow::anyhow!("decryption failed: wrong ENCRYPTION_KEY or corrupted value")
            })?;
        Ok(Secret::new(
            String::from_utf8(pt).context("plaintext is not UTF-8")?,
        ))
    }
}

fn parse_key(value: &str) -> anyhow::Result<[u8; 32]> {
    let value = value.trim();
    if value.len() == 64 {
        if let Ok(bytes) = hex::decode(value) {
            if let Ok(key) = bytes.try_into() {
                return Ok(key);
            }
        }
    }
    if let Ok(bytes) = B64.decode(value) {
        if let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) {
            return Ok(key);
        }
    }
    if value.chars().count() >= 32 {
        return Ok(Sha256::digest(value.as_bytes()).into());
    }
    bail!("ENCRYPTION_KEY must be 64 hex characters, base64 of 32 bytes, or a passphrase of at least 32 characters")
}

fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

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
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
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
    fn round_trip_and_tamper() {
        let c = Cipher::from_key_bytes(&[7u8; 32]);
        let a = c.encrypt("sk-ant-secret");
        let b = c.encrypt("sk-ant-secret");
        assert_ne!(a, b, "nonces must differ");
        assert!(!a.contains("secret"));
        assert_eq!(c.decrypt(&a).unwrap().expose(), "sk-ant-secret");
        let mut tampered = a.clone();
        tampered.replace_range(10..11, if &a[10..11] == "A" { "B" } else { "A" });
        assert!(c.decrypt(&tampered).is_err());
        let other = Cipher::from_key_bytes(&[8u8; 32]);
        assert!(other.decrypt(&a).is_err());
    }

    #[test]
    fn key_formats() {
        assert_eq!(parse_key(&"ab".repeat(32)).unwrap(), [0xab; 32]);
        assert_eq!(parse_key(&B64.encode([3u8; 32])).unwrap(), [3u8; 32]);
        assert!(parse_key("short").is_err());
        assert!(parse_key(&"x".repeat(40)).is_ok());
    }

    #[test]
    fn key_file_is_generated_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let c1 = Cipher::load(None, dir.path()).unwrap();
        let ct = c1.encrypt("hello");
        let c2 = Cipher::load(None, dir.path()).unwrap();
        assert_eq!(c2.decrypt(&ct).unwrap().expose(), "hello");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

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
}
