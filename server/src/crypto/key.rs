//! The encryption key from what the operator configured: 32 bytes as hex or base64, used as
//! they are, or a passphrase stretched with argon2id (with the SHA-256 form `v1:` values used).

use anyhow::bail;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sha2::{Digest, Sha256};

/// The fixed salt and cost of stretching a passphrase `ENCRYPTION_KEY` (argon2id, 64 MiB, 3
/// passes, 1 lane). Fixed so that the same passphrase gives the same key on every instance and
/// after a restore without anything else to back up; a passphrase must be at least 32
/// characters, so a salt per installation would add little.
pub const KDF_SALT: &[u8] = b"tollgate/encryption-key/argon2id/v2";
pub const KDF_MEMORY_KIB: u32 = 64 * 1024;
pub const KDF_PASSES: u32 = 3;

/// The key of a configured value, and the one its `v1:` values used.
pub(super) struct KeyMaterial {
    pub(super) key: [u8; 32],
    pub(super) legacy: [u8; 32],
}

/// Stretches a passphrase into a key with argon2id ([`KDF_SALT`], [`KDF_MEMORY_KIB`],
/// [`KDF_PASSES`]).
pub fn derive_key(passphrase: &str) -> anyhow::Result<[u8; 32]> {
    use argon2::{Algorithm, Argon2, Params, Version};
    let params = Params::new(KDF_MEMORY_KIB, KDF_PASSES, 1, Some(32))
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    let mut key = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), KDF_SALT, &mut key)
        .map_err(|e| anyhow::anyhow!("stretching ENCRYPTION_KEY: {e}"))?;
    Ok(key)
}

pub(super) fn parse_key(value: &str) -> anyhow::Result<KeyMaterial> {
    let value = value.trim();
    let same = |key: [u8; 32]| KeyMaterial { key, legacy: key };
    if value.len() == 64 {
        if let Ok(bytes) = hex::decode(value) {
            if let Ok(key) = bytes.try_into() {
                return Ok(same(key));
            }
        }
    }
    if let Ok(bytes) = B64.decode(value) {
        if let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) {
            return Ok(same(key));
        }
    }
    if value.chars().count() >= 32 {
        return Ok(KeyMaterial {
            key: derive_key(value)?,
            legacy: Sha256::digest(value.as_bytes()).into(),
        });
    }
    bail!("ENCRYPTION_KEY must be 64 hex characters, base64 of 32 bytes, or a passphrase of at least 32 characters")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_formats() {
        assert_eq!(parse_key(&"ab".repeat(32)).unwrap().key, [0xab; 32]);
        assert_eq!(parse_key(&B64.encode([3u8; 32])).unwrap().key, [3u8; 32]);
        assert!(parse_key("short").is_err());
        let stretched = parse_key(&"x".repeat(40)).unwrap();
        assert_eq!(stretched.key, derive_key(&"x".repeat(40)).unwrap());
        assert_ne!(stretched.key, stretched.legacy);
        // Fixed, documented parameters: the same passphrase is the same key everywhere.
        assert_eq!(
            hex::encode(derive_key("a passphrase of at least thirty-two chars").unwrap()),
            hex::encode(derive_key("a passphrase of at least thirty-two chars").unwrap())
        );
    }
}
