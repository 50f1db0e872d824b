//! Webhook targets (URL and secret encrypted; Telegram targets keep their chat id in
//! `secret_enc`) and the delivery log, one row per attempt.

use sqlx::FromRow;

use super::audit::AuditRow;
use super::rows::audited;
use super::{with_pool, Store, StoreResult};

#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct WebhookTargetRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub url_enc: String,
    pub url_hint: String,
    pub secret_enc: Option<String>,
    /// JSON array of event names; `[]` means every event.
    pub events: String,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct WebhookDeliveryRow {
    pub id: i64,
    pub target_id: Option<String>,
    pub target_hint: String,
    pub event: String,
    pub attempt: i64,
    pub http_status: Option<i64>,
    pub ok: bool,
    pub error: Option<String>,
    pub created_at: i64,
}

/// One attempt to record.
#[derive(Clone, Debug)]
pub struct NewWebhookDelivery<'a> {
    pub target_id: Option<&'a str>,
    pub target_hint: &'a str,
    pub event: &'a str,
    pub attempt: i64,
    pub http_status: Option<i64>,
    pub ok: bool,
    pub error: Option<&'a str>,
    pub created_at: i64,
}

const TARGET_COLUMNS: &str =
    "id, name, kind, url_enc, url_hint, secret_enc, events, enabled, created_at, updated_at";

/// Binds the columns a target's owner sets ([`TARGET_SETTINGS`]), in that order.
macro_rules! bind_target_settings {
    ($query:expr, $row:expr) => {
        $query
            .bind(&$row.name)
            .bind(&$row.kind)
            .bind(&$row.url_enc)
            .bind(&$row.url_hint)
            .bind(&$row.secret_enc)
            .bind(&$row.events)
            .bind($row.enabled)
    };
}

/// The columns a target's owner sets, in the order [`bind_target_settings!`] binds them.
const TARGET_SETTINGS: &str =
    "name = $1, kind = $2, url_enc = $3, url_hint = $4, secret_enc = $5, \
     events = $6, enabled = $7";

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn list_webhook_targets(&self) -> StoreResult<Vec<WebhookTargetRow>> {
        self.all_rows(&format!(
            "SELECT {TARGET_COLUMNS} FROM webhook_targets ORDER BY created_at, id"
        ))
        .await
    }

    #[tracing::instrument(skip_all)]
    pub async fn enabled_webhook_targets(&self) -> StoreResult<Vec<WebhookTargetRow>> {
        self.all_rows(&format!(
            "SELECT {TARGET_COLUMNS} FROM webhook_targets WHERE enabled ORDER BY created_at, id"
        ))
        .await
    }

    #[tracing::instrument(skip_all)]
    pub async fn webhook_target(&self, id: &str) -> StoreResult<Option<WebhookTargetRow>> {
        self.optional_row(
            &format!("SELECT {TARGET_COLUMNS} FROM webhook_targets WHERE id = $1"),
            id,
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    pub async fn insert_webhook_target(
        &self,
        row: &WebhookTargetRow,
        audit: Option<&AuditRow>,
    ) -> StoreResult<()> {
        audited!(self, audit, |tx| {
            bind_target_settings!(
                sqlx::query(
                    "INSERT INTO webhook_targets
                        (name, kind, url_enc, url_hint, secret_enc, events, enabled, id, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                ),
                row
            )
            .bind(&row.id)
            .bind(row.created_at)
            .bind(row.updated_at)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// Writes every column but `id` and `created_at`; false when the target does not exist.
    #[tracing::instrument(skip_all)]
    pub async fn update_webhook_target(
        &self,
        row: &WebhookTargetRow,
        audit: Option<&AuditRow>,
    ) -> StoreResult<bool> {
        let sql =
            format!("UPDATE webhook_targets SET {TARGET_SETTINGS}, updated_at = $8 WHERE id = $9");
        Ok(audited!(self, audit, |tx| {
            bind_target_settings!(sqlx::query(&sql), row)
                .bind(row.updated_at)
                .bind(&row.id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0
        }))
    }

    /// False when the target does not exist. Its deliveries stay in the log.
    #[tracing::instrument(skip_all)]
    pub async fn delete_webhook_target(
        &self,
        id: &str,
        audit: Option<&AuditRow>,
    ) -> StoreResult<bool> {
        self.change_one("DELETE FROM webhook_targets WHERE id = $1", id, audit)
            .await
    }

    #[tracing::instrument(skip_all)]
    pub async fn insert_webhook_delivery(&self, d: &NewWebhookDelivery<'_>) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO webhook_deliveries
                    (target_id, target_hint, event, attempt, http_status, ok, error, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(d.target_id)
            .bind(d.target_hint)
            .bind(d.event)
            .bind(d.attempt)
            .bind(d.http_status)
            .bind(d.ok)
            .bind(d.error)
            .bind(d.created_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The newest `limit` deliveries, older than `before_id` when given (keyset paging).
    #[tracing::instrument(skip_all)]
    pub async fn list_webhook_deliveries(
        &self,
        limit: i64,
        before_id: Option<i64>,
    ) -> StoreResult<Vec<WebhookDeliveryRow>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, WebhookDeliveryRow>(
                "SELECT id, target_id, target_hint, event, attempt, http_status, ok, error, created_at
                 FROM webhook_deliveries
                 WHERE $1 IS NULL OR id < $1
                 ORDER BY id DESC
                 LIMIT $2",
            )
            .bind(before_id)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Deletes up to `batch` deliveries created before `cutoff_ms`; returns how many went, so
    /// callers repeat until fewer than `batch` did without holding a long lock.
    #[tracing::instrument(skip_all)]
    pub async fn prune_webhook_deliveries(&self, cutoff_ms: i64, batch: i64) -> StoreResult<u64> {
        Ok(with_pool!(self, |pool| {
            sqlx::query(
                "DELETE FROM webhook_deliveries WHERE id IN (
                    SELECT id FROM webhook_deliveries WHERE created_at < $1 ORDER BY id LIMIT $2)",
            )
            .bind(cutoff_ms)
            .bind(batch)
            .execute(pool)
            .await?
            .rows_affected()
        }))
    }
}
