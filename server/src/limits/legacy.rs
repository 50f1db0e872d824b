//! Keys imported from claude-relay-service keep their `cr_...` strings. CRS hashed a key with
//! its `ENCRYPTION_KEY` as salt, so the directory needs those salts (stored encrypted by the
//! import) to find an imported key: they are loaded once, kept in memory, and reloaded at most
//! every [`RELOAD_AFTER`] when a `cr_` key is not found (an import by another instance adds
//! one). Only `cr_`-shaped keys come here; Tollgate's own keys never do.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;

use super::Refusal;
use crate::crypto::{Binding, Cipher};
use crate::keys::legacy::{crs_key_hash, stored_hash, SALT_SCHEME};
use crate::secret::Secret;
use crate::storage::Store;

const RELOAD_AFTER: Duration = Duration::from_secs(30);

type Salts = Arc<Vec<Secret<String>>>;

pub struct LegacySalts {
    cipher: Cipher,
    loaded: RwLock<Option<(Instant, Salts)>>,
}

impl LegacySalts {
    pub fn new(cipher: Cipher) -> Self {
        LegacySalts {
            cipher,
            loaded: RwLock::new(None),
        }
    }

    /// Forgets the salts, so the next `cr_` key reads them afresh (after an import here).
    pub fn forget(&self) {
        *self.loaded.write() = None;
    }

    /// The stored hashes `presented` may have, one per known salt. With `retry`, the salts are
    /// reloaded first if they are old enough, and `None` means nothing new could be learnt.
    pub async fn hashes(
        &self,
        store: &Store,
        presented: &str,
        retry: bool,
    ) -> Result<Option<Vec<String>>, Refusal> {
        let current = self.loaded.read().clone();
        let salts = match current {
            Some((at, salts)) if !retry || at.elapsed() < RELOAD_AFTER => {
                if retry {
                    return Ok(None);
                }
                salts
            }
            _ => self.load(store).await?,
        };
        Ok(Some(
            salts
                .iter()
                .map(|salt| stored_hash(&crs_key_hash(presented, salt.expose())))
                .collect(),
        ))
    }

    async fn load(&self, store: &Store) -> Result<Salts, Refusal> {
        let rows = store.legacy_key_salts(SALT_SCHEME).await.map_err(|e| {
            tracing::error!(error = %e, "loading imported key salts failed");
            Refusal::Unavailable
        })?;
        let salts: Vec<Secret<String>> = rows
            .iter()
            .filter_map(|row| match self.cipher.decrypt(Binding::legacy_key_salt(&row.id), &row.salt_enc) {
                Ok(salt) => Some(salt),
                Err(e) => {
                    tracing::error!(error = %e, salt = %row.id, "an imported key salt does not decrypt");
                    None
                }
            })
            .collect();
        let salts = Arc::new(salts);
        *self.loaded.write() = Some((Instant::now(), salts.clone()));
        Ok(salts)
    }
}
