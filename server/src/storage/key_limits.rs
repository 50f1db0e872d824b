//! The narrow reads the relay makes when it first sees a key: its limits by hash, and its spend
//! today. Everything after that is in memory.

use sqlx::FromRow;

use super::{with_pool, Store, StoreResult};
use crate::keys::lifecycle::EXPIRY_SQL;

#[derive(Clone, Debug, FromRow)]
pub struct KeyLimitsRow {
    pub id: String,
    pub key_hash: String,
    pub name: String,
    pub is_active: bool,
    pub quota_limit_micros: i64,
    pub expires_at: Option<i64>,
    pub activation_days: Option<i64>,
    pub activated_at: Option<i64>,
    pub concurrency_limit: i64,
    pub queue_enabled: bool,
    pub queue_max_size: i64,
    pub queue_timeout_ms: i64,
    pub rate_limit_window_min: i64,
    pub rate_limit_requests: i64,
    pub rate_limit_cost_micros: i64,
    pub daily_cost_limit_micros: i64,
    pub allowed_models: String,
    pub permissions: String,
    pub claude_account_id: String,
    pub openai_account_id: String,
    pub gemini_account_id: String,
    pub allow_pool_fallback: bool,
    pub preset_id: Option<String>,
    pub restrictions: String,
    pub spent_micros: i64,
    pub strict_max_tokens: bool,
    pub allow_server_tools: bool,
}

const COLUMNS: &str = "id, key_hash, name, is_active, quota_limit_micros, expires_at, activation_days, \
    activated_at, concurrency_limit, queue_enabled, queue_max_size, queue_timeout_ms, rate_limit_window_min, \
    rate_limit_requests, rate_limit_cost_micros, daily_cost_limit_micros, allowed_models, permissions, \
    claude_account_id, openai_account_id, gemini_account_id, allow_pool_fallback, preset_id, spent_micros, \
    strict_max_tokens, allow_server_tools, restrictions";

impl Store {
    /// A live (not deleted) key by the SHA-256 of its plaintext.
    #[tracing::instrument(skip_all)]
    pub async fn key_limits_by_hash(&self, key_hash: &str) -> StoreResult<Option<KeyLimitsRow>> {
        let sql =
            format!("SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1 AND deleted_at IS NULL");
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, KeyLimitsRow>(&sql)
                .bind(key_hash)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// A live key by id.
    #[tracing::instrument(skip_all)]
    pub async fn key_limits_by_id(&self, id: &str) -> StoreResult<Option<KeyLimitsRow>> {
        let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1 AND deleted_at IS NULL");
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, KeyLimitsRow>(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Cost settled by a key since `since` (epoch ms) per model, from the raw usage events.
    #[tracing::instrument(skip_all)]
    pub async fn key_cost_by_model_since(
        &self,
        key_id: &str,
        since: i64,
    ) -> StoreResult<Vec<(String, i64)>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, (String, i64)>(
                "SELECT model, CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) FROM usage_events
                 WHERE key_id = $1 AND created_at >= $2 GROUP BY model",
            )
            .bind(key_id)
            .bind(since)
            .fetch_all(pool)
            .await?
        }))
    }

    /// Cost settled by a key since `since` (epoch ms), from the raw usage events.
    #[tracing::instrument(skip_all)]
    pub async fn key_spent_since(&self, key_id: &str, since: i64) -> StoreResult<i64> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar::<_, i64>(
                "SELECT CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) FROM usage_events
                 WHERE key_id = $1 AND created_at >= $2",
            )
            .bind(key_id)
            .bind(since)
            .fetch_one(pool)
            .await?
        }))
    }

    /// Starts an activation-days key's validity, once (a concurrent second start is a no-op).
    #[tracing::instrument(skip_all)]
    pub async fn activate_key(&self, key_id: &str, at: i64) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE api_keys SET activated_at = $1 WHERE id = $2 AND activated_at IS NULL",
            )
            .bind(at)
            .bind(key_id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}

impl Store {
    /// Keys whose validity ended in `(after, until]` (fixed expiry, or activation + days).
    #[tracing::instrument(skip_all)]
    pub async fn keys_expired_between(
        &self,
        after: i64,
        until: i64,
    ) -> StoreResult<Vec<(String, String, i64)>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, (String, String, i64)>(&format!(
                "SELECT id, name, {EXPIRY_SQL} AS ends
                 FROM api_keys
                 WHERE deleted_at IS NULL AND is_active
                   AND {EXPIRY_SQL} > $1 AND {EXPIRY_SQL} <= $2"
            ))
            .bind(after)
            .bind(until)
            .fetch_all(pool)
            .await?
        }))
    }
}

/// A fingerprint of the account pool's configuration: when it changes, another instance (or a
/// hand edit) changed accounts, groups or memberships.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct PoolVersion {
    pub accounts: i64,
    pub accounts_updated: i64,
    pub groups: i64,
    pub groups_updated: i64,
    pub members: i64,
}

impl Store {
    /// Keys edited (or deleted) after `since` (epoch ms), with the newest edit time seen.
    #[tracing::instrument(skip_all)]
    pub async fn keys_changed_since(&self, since: i64) -> StoreResult<Vec<(String, i64)>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, (String, i64)>(
                "SELECT id, updated_at FROM api_keys WHERE updated_at > $1",
            )
            .bind(since)
            .fetch_all(pool)
            .await?
        }))
    }

    #[tracing::instrument(skip_all)]
    pub async fn pool_version(&self) -> StoreResult<PoolVersion> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, PoolVersion>(
                "SELECT
                    (SELECT COUNT(*) FROM accounts) AS accounts,
                    (SELECT CAST(COALESCE(MAX(updated_at), 0) AS BIGINT) FROM accounts) AS accounts_updated,
                    (SELECT COUNT(*) FROM account_groups) AS groups,
                    (SELECT CAST(COALESCE(MAX(updated_at), 0) AS BIGINT) FROM account_groups) AS groups_updated,
                    (SELECT COUNT(*) FROM account_group_members) AS members",
            )
            .fetch_one(pool)
            .await?
        }))
    }
}
