//! An account's status set by staff (Accounts → Reset status): the same two writes as the
//! scheduler's recorder (`Store::record_account_state`: the account's status and an
//! `account_events` row), plus the audit row, in one transaction.

use super::audit::{insert_audit, AuditRow};
use super::{now_ms, with_pool, Store, StoreResult};

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn reset_account_state(
        &self,
        id: &str,
        status: &str,
        message: &str,
        audit: &AuditRow,
    ) -> StoreResult<()> {
        let now = now_ms();
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE accounts SET status = $1, status_message = $2, status_changed_at = $3,
                    cooldown_until = NULL WHERE id = $4",
            )
            .bind(status)
            .bind(message)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO account_events (account_id, at, status, http_status, message)
                 VALUES ($1, $2, $3, NULL, $4)",
            )
            .bind(id)
            .bind(now)
            .bind(status)
            .bind(message)
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }
}
