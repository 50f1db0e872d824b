//! `tollgate keys cleanup`: soft-deleting keys whose validity ended long ago, with one audit
//! row (who: the command line's `cli` actor) committed with the deletion.

use app::error::AdminError;
use app::port::Actor;

use super::super::audit;
use super::super::error::internal;
use super::super::AdminService;
use crate::storage::keys::ExpiredKey;
use crate::storage::now_ms;

/// How many deleted key ids the audit row names (the count is always exact).
const CLEANUP_IDS_AUDITED: usize = 100;

impl AdminService {
    /// Soft-deletes keys whose validity ended more than `older_than_ms` ago (or, with
    /// `dry_run`, only lists them). Usage history stays.
    pub async fn cleanup_expired_keys(
        &self,
        actor: &Actor,
        older_than_ms: i64,
        dry_run: bool,
    ) -> Result<Vec<ExpiredKey>, AdminError> {
        actor.require_admin()?;
        let cutoff = now_ms().saturating_sub(older_than_ms.max(0));
        if dry_run {
            return self
                .store
                .api_keys_expired_before(cutoff)
                .await
                .map_err(internal);
        }
        let deleted = self
            .store
            .delete_api_keys_expired_before(cutoff, |keys| {
                audit::row(
                    actor,
                    "key.cleanup",
                    "api_key",
                    "",
                    "expired keys",
                    serde_json::json!({
                        "deleted": keys.len(),
                        "olderThanMs": older_than_ms,
                        "ids": keys.iter().take(CLEANUP_IDS_AUDITED).map(|k| &k.id).collect::<Vec<_>>(),
                    }),
                )
            })
            .await
            .map_err(internal)?;
        for key in &deleted {
            self.key_changed(&key.id);
        }
        tracing::debug!(count = deleted.len(), "expired api keys deleted");
        Ok(deleted)
    }
}
