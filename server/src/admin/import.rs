//! Settings → Import and `POST /admin/import/crs`: the CRS importer (`crate::import::crs`) run
//! by an administrator, then this instance's caches brought up to date (accounts, changed
//! keys, their live spend, the imported key salts). Other instances see the changes through
//! their polling, as with any edit.

use app::error::AdminError;
use app::port::{Actor, ImportPort};
use app::types::{CrsImportRequest, ImportReport};
use async_trait::async_trait;

use super::error::internal;
use super::AdminService;
use crate::import::crs::{self, CrsImportOptions, ImportError};
use crate::secret::Secret;
use crate::storage::import::ImportWrites;

fn admin_error(e: ImportError) -> AdminError {
    match e {
        ImportError::Invalid { field, message } => AdminError::validation(field, message),
        ImportError::Source(message) => AdminError::validation("redisUrl", message),
        ImportError::WrongKey(message) => AdminError::validation("crsEncryptionKey", message),
        ImportError::Conflict(message) => AdminError::conflict(message),
        ImportError::Store(e) => internal(e),
    }
}

impl AdminService {
    /// Tells the relay what an import wrote.
    async fn imported(&self, w: &ImportWrites) -> Result<(), AdminError> {
        if !w.accounts.is_empty() || !w.groups.is_empty() || !w.memberships.is_empty() {
            self.relay.pool_changed().await.map_err(|e| {
                tracing::error!(error = %e, "reloading the account pool after an import failed");
                AdminError::Internal
            })?;
        }
        let changed = w.new_keys.iter().chain(&w.updated_keys).map(|k| &k.key.id);
        for id in changed.chain(w.spend.iter().map(|s| &s.key_id)) {
            self.key_changed(id);
        }
        let spend: Vec<(&str, i64)> = w
            .spend
            .iter()
            .map(|s| (s.key_id.as_str(), s.spent_delta))
            .collect();
        self.relay.keys_imported(&spend);
        Ok(())
    }
}

#[async_trait]
impl ImportPort for AdminService {
    async fn import_crs(
        &self,
        actor: &Actor,
        request: CrsImportRequest,
    ) -> Result<ImportReport, AdminError> {
        actor.require_admin()?;
        let secret = |v: Option<String>| v.filter(|s| !s.trim().is_empty()).map(Secret::new);
        let opts = CrsImportOptions {
            redis_url: request.redis_url,
            encryption_key: secret(request.crs_encryption_key),
            sample_key: secret(request.crs_sample_key),
            dry_run: request.dry_run,
            only: request.only,
            started_by: format!("admin:{}", actor.id),
            actor: Some(actor.clone()),
        };
        // One import at a time on this instance (a second click, a second admin); held by the
        // service, so two apps in one process (the tests' SQLite and PostgreSQL) do not collide.
        let Ok(_running) = self.importing.try_lock() else {
            return Err(AdminError::conflict("an import is running already"));
        };
        let outcome = crs::run(&self.store, &self.cipher, &opts)
            .await
            .map_err(admin_error)?;
        self.imported(&outcome.writes).await?;
        Ok(outcome.report)
    }
}
