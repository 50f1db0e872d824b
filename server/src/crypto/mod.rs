//! Credentials at rest: AES-256-GCM with a random nonce per value, bound to where it is stored.
//!
//! Every ciphertext is encrypted with associated data naming its table, column and row
//! (`tollgate:accounts:api_key:<id>`, see [`Binding`]): copied into another row or column it
//! fails to decrypt, so someone who can write the database cannot make one account use another's
//! credential or send it to a webhook. New values are written as `v2:` + base64(nonce ‖ ciphertext).
//! Values of the earlier format (`v1:`, no associated data) still decrypt; at start-up they are
//! re-encrypted as `v2:` in one transaction (`Store::upgrade_ciphertexts`).
//!
//! The key comes from `ENCRYPTION_KEY` (64 hex characters or base64 of 32 bytes, used as they
//! are; or a passphrase of at least 32 characters, stretched with argon2id, see [`derive_key`])
//! or from `<data dir>/encryption.key`, generated on first start with mode 0600 in a 0700
//! directory. Losing the key makes stored upstream credentials unreadable.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{bail, Context};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;

use crate::private_files::{create_private_dir, write_private};
use crate::secret::Secret;

mod key;
mod tokens;

pub use key::{derive_key, KDF_MEMORY_KIB, KDF_PASSES, KDF_SALT};
use key::{parse_key, KeyMaterial};
pub use tokens::{looks_like_token, mask_secret, random_token, token_hash, ADMIN_TOKEN_PREFIX};

/// Unbound values written before row binding (and, for passphrases, before argon2id).
const LEGACY_PREFIX: &str = "v1:";
const PREFIX: &str = "v2:";
const KEY_FILE: &str = "encryption.key";

/// Where a ciphertext is stored. Its text is the associated data of the encryption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding<'a> {
    pub table: &'static str,
    pub column: &'static str,
    pub row: &'a str,
}

impl Binding<'_> {
    pub fn account_api_key(id: &str) -> Binding<'_> {
        Binding {
            table: "accounts",
            column: "api_key",
            row: id,
        }
    }

    pub fn account_proxy(id: &str) -> Binding<'_> {
        Binding {
            table: "accounts",
            column: "proxy",
            row: id,
        }
    }

    pub fn webhook_url(id: &str) -> Binding<'_> {
        Binding {
            table: "webhook_targets",
            column: "url",
            row: id,
        }
    }

    /// A webhook target's signing secret, or a Telegram target's chat id.
    pub fn webhook_secret(id: &str) -> Binding<'_> {
        Binding {
            table: "webhook_targets",
            column: "secret",
            row: id,
        }
    }

    /// The ENCRYPTION_KEY of a relay whose keys were imported (`legacy_key_salts.salt_enc`).
    /// A staff user's TOTP secret (`admins.totp_secret`).
    pub fn user_totp(id: &str) -> Binding<'_> {
        Binding {
            table: "admins",
            column: "totp_secret",
            row: id,
        }
    }

    pub fn legacy_key_salt(id: &str) -> Binding<'_> {
        Binding {
            table: "legacy_key_salts",
            column: "salt",
            row: id,
        }
    }

    fn associated_data(&self) -> String {
        format!("tollgate:{}:{}:{}", self.table, self.column, self.row)
    }
}

#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
    /// The key `v1:` values were written with: the same key, except for a passphrase, which
    /// was hashed with plain SHA-256 then.
    legacy: Aes256Gcm,
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
            legacy: Aes256Gcm::new(key.into()),
        }
    }

    fn from_material(m: &KeyMaterial) -> Self {
        Cipher {
            aead: Aes256Gcm::new((&m.key).into()),
            legacy: Aes256Gcm::new((&m.legacy).into()),
        }
    }

    /// Loads the key from the configured value, else from (or into) the data directory.
    pub fn load(configured: Option<&Secret<String>>, data_dir: &Path) -> anyhow::Result<Self> {
        if let Some(value) = configured {
            return Ok(Self::from_material(&parse_key(value.expose())?));
        }
        let path = data_dir.join(KEY_FILE);
        if path.exists() {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            return Ok(Self::from_material(
                &parse_key(text.trim()).with_context(|| format!("parsing {}", path.display()))?,
            ));
        }
        create_private_dir(data_dir)?;
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        write_private(&path, hex::encode(key).as_bytes())?;
        tracing::info!(path = %path.display(), "generated a new encryption key; back it up with the database");
        Ok(Self::from_key_bytes(&key))
    }

    /// Encrypts `plaintext` for the place `binding` names.
    pub fn encrypt(&self, binding: Binding<'_>, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = binding.associated_data();
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: aad.as_bytes(),
        };
        // Encryption with a valid key and a 12-byte nonce cannot fail.
        let ct = self
            .aead
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(12 + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        format!("{PREFIX}{}", B64.encode(out))
    }

    /// Decrypts a value stored at `binding`; a value encrypted for another place fails.
    pub fn decrypt(&self, binding: Binding<'_>, stored: &str) -> anyhow::Result<Secret<String>> {
        let (aead, body, aad) = if let Some(body) = stored.strip_prefix(PREFIX) {
            (&self.aead, body, binding.associated_data())
        } else if let Some(body) = stored.strip_prefix(LEGACY_PREFIX) {
            (&self.legacy, body, String::new())
        } else {
            bail!("unknown ciphertext format");
        };
        let raw = B64.decode(body).context("ciphertext is not base64")?;
        if raw.len() < 12 + 16 {
            bail!("ciphertext too short");
        }
        let (nonce, ct) = raw.split_at(12);
        let payload = Payload {
            msg: ct,
            aad: aad.as_bytes(),
        };
        let pt = aead.decrypt(Nonce::from_slice(nonce), payload).map_err(|_| {
            anyhow::anyhow!(
                "decryption failed: wrong ENCRYPTION_KEY, a corrupted value, or a value copied from another row"
            )
        })?;
        Ok(Secret::new(
            String::from_utf8(pt).context("plaintext is not UTF-8")?,
        ))
    }

    /// True for values in the earlier, unbound format.
    pub fn is_legacy(stored: &str) -> bool {
        stored.starts_with(LEGACY_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    const HERE: Binding<'static> = Binding {
        table: "accounts",
        column: "api_key",
        row: "acct-1",
    };

    /// A `v1:` value as the earlier code wrote it: no associated data.
    fn legacy_encrypt(key: &[u8; 32], plaintext: &str) -> String {
        let aead = Aes256Gcm::new(key.into());
        let nonce = [9u8; 12];
        let ct = aead
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .unwrap();
        format!("{LEGACY_PREFIX}{}", B64.encode([&nonce[..], &ct].concat()))
    }

    #[test]
    fn round_trip_and_tamper() {
        let c = Cipher::from_key_bytes(&[7u8; 32]);
        let a = c.encrypt(HERE, "sk-ant-secret");
        let b = c.encrypt(HERE, "sk-ant-secret");
        assert_ne!(a, b, "nonces must differ");
        assert!(a.starts_with("v2:") && !a.contains("secret"));
        assert_eq!(c.decrypt(HERE, &a).unwrap().expose(), "sk-ant-secret");
        let mut tampered = a.clone();
        tampered.replace_range(10..11, if &a[10..11] == "A" { "B" } else { "A" });
        assert!(c.decrypt(HERE, &tampered).is_err());
        let other = Cipher::from_key_bytes(&[8u8; 32]);
        assert!(other.decrypt(HERE, &a).is_err());
    }

    #[test]
    fn a_value_moved_to_another_row_or_column_does_not_decrypt() {
        let c = Cipher::from_key_bytes(&[7u8; 32]);
        let stored = c.encrypt(Binding::account_api_key("acct-1"), "sk-ant-secret");
        for elsewhere in [
            Binding::account_api_key("acct-2"),
            Binding::account_proxy("acct-1"),
            Binding::webhook_url("acct-1"),
            Binding::webhook_secret("acct-1"),
        ] {
            let err = c.decrypt(elsewhere, &stored).unwrap_err().to_string();
            assert!(err.contains("another row"), "{err}");
        }
    }

    #[test]
    fn legacy_values_still_decrypt_with_the_key_they_were_written_with() {
        let key = [5u8; 32];
        let c = Cipher::from_key_bytes(&key);
        let old = legacy_encrypt(&key, "sk-old");
        assert!(Cipher::is_legacy(&old));
        assert_eq!(c.decrypt(HERE, &old).unwrap().expose(), "sk-old");
        // A passphrase: v1 used SHA-256 of it, v2 uses argon2id.
        let passphrase = "correct horse battery staple, long enough";
        let material = parse_key(passphrase).unwrap();
        let c = Cipher::from_material(&material);
        let old = legacy_encrypt(&Sha256::digest(passphrase.as_bytes()).into(), "sk-pass");
        assert_eq!(c.decrypt(HERE, &old).unwrap().expose(), "sk-pass");
        let new = c.encrypt(HERE, "sk-pass");
        assert_eq!(c.decrypt(HERE, &new).unwrap().expose(), "sk-pass");
        assert!(Cipher::from_key_bytes(&material.legacy)
            .decrypt(HERE, &new)
            .is_err());
        assert!(c.decrypt(HERE, "v9:xyz").is_err());
    }

    #[test]
    fn key_file_is_generated_private_and_reused() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        let c1 = Cipher::load(None, &dir).unwrap();
        let ct = c1.encrypt(HERE, "hello");
        let c2 = Cipher::load(None, &dir).unwrap();
        assert_eq!(c2.decrypt(HERE, &ct).unwrap().expose(), "hello");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir.join(KEY_FILE)), 0o600);
            assert_eq!(mode(&dir), 0o700);
        }
    }
}
