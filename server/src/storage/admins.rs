//! Staff users (the `admins` table: every role) and their REST API tokens; managing users is in
//! `users`.

use app::types::KeyStatus;
use sqlx::FromRow;

use super::audit::AuditRow;
use super::rows::audited;
use super::{now_ms, with_pool, Store, StoreResult};
use crate::keys::lifecycle::status_sql;

#[derive(Clone, Debug, FromRow)]
pub struct AdminRow {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub display_name: String,
    pub is_active: bool,
    /// JSON array of preset ids.
    pub allowed_preset_ids: String,
    pub totp_secret_enc: Option<String>,
    pub totp_enabled: bool,
    /// JSON array of SHA-256 hex hashes of unused recovery codes.
    pub recovery_codes: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The columns an [`AdminRow`] is read with.
pub const ADMIN_COLUMNS: &str = "id, username, password_hash, role, display_name, is_active,
    allowed_preset_ids, totp_secret_enc, totp_enabled, recovery_codes, created_at, updated_at";

#[derive(Clone, Debug, Default, PartialEq, Eq, FromRow)]
pub struct Counts {
    pub accounts: i64,
    pub active_accounts: i64,
    pub groups: i64,
    pub keys: i64,
    pub active_keys: i64,
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn admin_count(&self) -> StoreResult<i64> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM admins")
                .fetch_one(pool)
                .await?
        }))
    }

    #[tracing::instrument(skip_all)]
    pub async fn admin_by_username(&self, username: &str) -> StoreResult<Option<AdminRow>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, AdminRow>(&format!(
                "SELECT {ADMIN_COLUMNS} FROM admins WHERE username = $1"
            ))
            .bind(username)
            .fetch_optional(pool)
            .await?
        }))
    }

    #[tracing::instrument(skip_all)]
    pub async fn admin_by_id(&self, id: &str) -> StoreResult<Option<AdminRow>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, AdminRow>(&format!(
                "SELECT {ADMIN_COLUMNS} FROM admins WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    #[tracing::instrument(skip_all)]
    pub async fn insert_admin(
        &self,
        id: &str,
        username: &str,
        password_hash: &str,
    ) -> StoreResult<()> {
        let now = now_ms();
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO admins (id, username, password_hash, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $4)",
            )
            .bind(id)
            .bind(username)
            .bind(password_hash)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Sets a new password hash and ends every session and token of the admin, in one transaction.
    #[tracing::instrument(skip_all)]
    pub async fn set_admin_password(
        &self,
        id: &str,
        password_hash: &str,
        audit: Option<&AuditRow>,
    ) -> StoreResult<()> {
        let now = now_ms();
        audited!(self, audit, |tx| {
            sqlx::query("UPDATE admins SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(password_hash)
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM sessions WHERE admin_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM admin_tokens WHERE admin_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn insert_admin_token(
        &self,
        token_hash: &str,
        admin_id: &str,
        expires_at: i64,
    ) -> StoreResult<()> {
        let now = now_ms();
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO admin_tokens (token_hash, admin_id, created_at, expires_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(token_hash)
            .bind(admin_id)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The admin a live token belongs to.
    #[tracing::instrument(skip_all)]
    pub async fn admin_for_token(&self, token_hash: &str) -> StoreResult<Option<String>> {
        let now = now_ms();
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar::<_, String>(
                "SELECT admin_id FROM admin_tokens WHERE token_hash = $1 AND expires_at > $2",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(pool)
            .await?
        }))
    }

    #[tracing::instrument(skip_all)]
    pub async fn delete_admin_token(&self, token_hash: &str) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query("DELETE FROM admin_tokens WHERE token_hash = $1")
                .bind(token_hash)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Removes expired tokens and sessions; returns how many rows went.
    #[tracing::instrument(skip_all)]
    pub async fn purge_expired_auth(&self) -> StoreResult<u64> {
        let now = now_ms();
        Ok(with_pool!(self, |pool| {
            let a = sqlx::query("DELETE FROM admin_tokens WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected();
            let b = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected();
            a + b
        }))
    }

    /// Live counts for the overview page.
    #[tracing::instrument(skip_all)]
    pub async fn overview_counts(&self) -> StoreResult<Counts> {
        let now = now_ms();
        // A key is active by the one lifecycle rule (activation-based expiry included).
        let active = status_sql(KeyStatus::Active, "$1");
        let sql = format!(
            "SELECT
                    (SELECT COUNT(*) FROM accounts) AS accounts,
                    (SELECT COUNT(*) FROM accounts WHERE is_active AND status = 'active') AS active_accounts,
                    (SELECT COUNT(*) FROM account_groups) AS groups,
                    (SELECT COUNT(*) FROM api_keys WHERE deleted_at IS NULL) AS keys,
                    (SELECT COUNT(*) FROM api_keys
                      WHERE deleted_at IS NULL AND {active}) AS active_keys"
        );
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, Counts>(&sql)
                .bind(now)
                .fetch_one(pool)
                .await?
        }))
    }
}
