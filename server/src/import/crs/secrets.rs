//! CRS's two uses of its `ENCRYPTION_KEY`: the salt of its API key hashes
//! (`sha256_hex(key + ENCRYPTION_KEY)`), and the password of the AES-256-CBC key that encrypts
//! account credentials (scrypt with a salt per account type, Node's defaults N=16384, r=8, p=1).

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, KeyIvInit};
use sha2::{Digest, Sha256};

use crate::secret::Secret;

pub use crate::keys::legacy::{crs_key_hash, is_crs_key, stored_hash, CRS_KEY_PREFIX, SALT_SCHEME};

/// True for a CRS hash as stored in `apikey:<id>.apiKey`: 64 hex characters.
pub fn is_crs_hash(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A stable id for a salt (so a second import stores it once), revealing nothing about it.
pub fn salt_id(salt: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"tollgate legacy key salt\0");
    h.update(salt.as_bytes());
    format!("crs-{}", &hex::encode(h.finalize())[..16])
}

/// The account types whose `apiKey` CRS encrypts, with the scrypt salt of each.
pub fn credential_salt(source_type: &str) -> Option<&'static str> {
    Some(match source_type {
        "claude-console" => "claude-console-salt",
        "openai-responses" => "openai-responses-salt",
        "gemini-api" => "gemini-api-salt",
        "azure-openai" => "azure-openai-account-default-salt",
        _ => return None,
    })
}

/// The AES key CRS derives for one account type. Deliberately slow (scrypt): derive once per
/// type and run, off the async runtime.
pub fn derive_key(encryption_key: &str, salt: &str) -> anyhow::Result<Secret<[u8; 32]>> {
    let params =
        scrypt::Params::new(14, 8, 1, 32).map_err(|e| anyhow::anyhow!("scrypt parameters: {e}"))?;
    let mut out = [0u8; 32];
    scrypt::scrypt(
        encryption_key.as_bytes(),
        salt.as_bytes(),
        &params,
        &mut out,
    )
    .map_err(|e| anyhow::anyhow!("scrypt: {e}"))?;
    Ok(Secret::new(out))
}

/// Why a stored credential could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    /// Not `<32 hex iv>:<hex ciphertext>`: CRS would have used the value as it is.
    #[error("not in CRS's iv:ciphertext form")]
    NotEncrypted,
    /// Padding or UTF-8 failed: the key is wrong (or the value is damaged).
    #[error("does not decrypt with this key")]
    WrongKey,
}

/// Decrypts `<iv hex>:<ciphertext hex>` with a key from [`derive_key`].
pub fn decrypt(stored: &str, key: &[u8; 32]) -> Result<Secret<String>, DecryptError> {
    let Some((iv_hex, ct_hex)) = stored.split_once(':') else {
        return Err(DecryptError::NotEncrypted);
    };
    let (Ok(iv), Ok(ct)) = (hex::decode(iv_hex), hex::decode(ct_hex)) else {
        return Err(DecryptError::NotEncrypted);
    };
    let Ok(iv) = <[u8; 16]>::try_from(iv.as_slice()) else {
        return Err(DecryptError::NotEncrypted);
    };
    if ct.is_empty() || ct.len() % 16 != 0 {
        return Err(DecryptError::NotEncrypted);
    }
    let plain = cbc::Decryptor::<aes::Aes256>::new(key.into(), &iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(&ct)
        .map_err(|_| DecryptError::WrongKey)?;
    String::from_utf8(plain)
        .map(Secret::new)
        .map_err(|_| DecryptError::WrongKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE_KEY: &str = "CRSfixtureEncKey-1.1.314-test-01";

    #[test]
    fn key_hashes_match_crs() {
        // From the CRS 1.1.314 fixture: key A1001 and its stored hash.
        let key = "cr_5712f6b4d36154e3e37803d8ad7b7ea977fbe88d1410a7fffddc70b4833e170b";
        assert!(is_crs_key(key));
        assert_eq!(
            crs_key_hash(key, FIXTURE_KEY),
            "25e07eed4315d2845ec015a03e74b6075f6afdb8b15668326129a8cf2c493433"
        );
        assert!(!is_crs_key("tg_abc"));
        assert!(!is_crs_key(&key[..66]));
        assert!(!is_crs_key(&format!("{}z", &key[..66])));
        assert_eq!(salt_id(FIXTURE_KEY), salt_id(FIXTURE_KEY));
        assert!(!salt_id(FIXTURE_KEY).contains(FIXTURE_KEY));
    }

    #[test]
    fn credentials_decrypt_like_crs() {
        // Console A of the fixture.
        let stored = "52eacc158cdc42343e8c94f0dd092506:bff0bf6d6ed0245578bbcedfb41d4c1f11ba62e1b72009c399ae0dd794a596f1";
        let key = derive_key(FIXTURE_KEY, "claude-console-salt").unwrap();
        assert_eq!(
            decrypt(stored, key.expose()).unwrap().expose(),
            "sk-ant-fixture-console-a-0001"
        );
        let wrong = derive_key("not-the-key-not-the-key-not-the-k", "claude-console-salt").unwrap();
        assert_eq!(
            decrypt(stored, wrong.expose()).map(|_| ()),
            Err(DecryptError::WrongKey)
        );
        assert_eq!(
            decrypt("sk-plain", key.expose()).map(|_| ()),
            Err(DecryptError::NotEncrypted)
        );
    }
}
