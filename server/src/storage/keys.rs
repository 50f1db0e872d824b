//! API keys: inserts, edits, the list query and soft deletion (the rows and settings are in
//! `row`). Only the SHA-256 of a
//! key is stored; `api_key_tags` mirrors the `tags` JSON column (written in the same
//! transaction) so the tag filter can use an index.

use super::audit::{insert_audit, AuditRow};
use super::text::fold;
use super::{now_ms, with_pool, Store, StoreResult};
use crate::keys::lifecycle::EXPIRY_SQL;
use app::types::KeyCreator;

mod filter;
mod row;

pub use filter::KeyFilter;
pub(super) use row::ConfigJson;
pub use row::{ExpiredKey, KeyConfig, KeyRow, NewKey};

/// The stored columns a key is read back with (never the hash).
const KEY_COLUMNS: &str = "id, key_prefix, name, description, tags, is_active, quota_limit_micros,
    expires_at, activation_days, activated_at, concurrency_limit, queue_enabled, queue_max_size,
    queue_timeout_ms, rate_limit_window_min, rate_limit_requests, rate_limit_cost_micros,
    daily_cost_limit_micros, allowed_models, permissions, claude_account_id, openai_account_id,
    gemini_account_id, allow_pool_fallback, sale_price_micros, currency, preset_id,
    strict_max_tokens, allow_server_tools, restrictions, spent_micros, requests, last_used_at,
    created_at, updated_at, created_by_id, created_by_name, expires_on";

/// Binds the 26 config columns in the order of `INSERT_KEY`/`UPDATE_KEY`.
macro_rules! bind_config {
    ($query:expr, $c:expr, $json:expr) => {
        $query
            .bind($c.description.as_str())
            .bind($json.tags.as_str())
            .bind($c.is_active)
            .bind($c.quota_limit_micros)
            .bind($c.expires_at)
            .bind($c.activation_days)
            .bind($c.concurrency_limit)
            .bind($c.queue_enabled)
            .bind($c.queue_max_size)
            .bind($c.queue_timeout_ms)
            .bind($c.rate_limit_window_min)
            .bind($c.rate_limit_requests)
            .bind($c.rate_limit_cost_micros)
            .bind($c.daily_cost_limit_micros)
            .bind($json.allowed_models.as_str())
            .bind($json.permissions.as_str())
            .bind($c.claude_account_id.as_str())
            .bind($c.openai_account_id.as_str())
            .bind($c.gemini_account_id.as_str())
            .bind($c.allow_pool_fallback)
            .bind($c.sale_price_micros)
            .bind($c.currency.as_str())
            .bind($c.preset_id.as_deref())
            .bind($c.strict_max_tokens)
            .bind($c.allow_server_tools)
            .bind($json.restrictions.as_str())
    };
}
pub(super) use bind_config;

pub(super) const INSERT_KEY: &str = "INSERT INTO api_keys (id, key_hash, key_prefix, name,
    description, tags, is_active, quota_limit_micros, expires_at, activation_days,
    concurrency_limit, queue_enabled, queue_max_size, queue_timeout_ms, rate_limit_window_min,
    rate_limit_requests, rate_limit_cost_micros, daily_cost_limit_micros, allowed_models,
    permissions, claude_account_id, openai_account_id, gemini_account_id, allow_pool_fallback,
    sale_price_micros, currency, preset_id, strict_max_tokens, allow_server_tools, restrictions,
    created_at, updated_at, name_key, description_key, expires_on)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
    $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $31, $32, $33, $34)";

pub(super) const UPDATE_KEY: &str = "UPDATE api_keys SET name = $1,
    description = $2, tags = $3, is_active = $4, quota_limit_micros = $5, expires_at = $6,
    activation_days = $7, concurrency_limit = $8, queue_enabled = $9, queue_max_size = $10,
    queue_timeout_ms = $11, rate_limit_window_min = $12, rate_limit_requests = $13,
    rate_limit_cost_micros = $14, daily_cost_limit_micros = $15, allowed_models = $16,
    permissions = $17, claude_account_id = $18, openai_account_id = $19, gemini_account_id = $20,
    allow_pool_fallback = $21, sale_price_micros = $22, currency = $23, preset_id = $24,
    strict_max_tokens = $25, allow_server_tools = $26, restrictions = $27,
    updated_at = $28, name_key = $30, description_key = $31, expires_on = $32
    WHERE id = $29 AND deleted_at IS NULL";

/// Records who created a key (kept when the user is deleted: no foreign key).
pub(super) const SET_CREATOR: &str =
    "UPDATE api_keys SET created_by_id = $1, created_by_name = $2 WHERE id = $3";

/// Inserts a [`NewKey`] created at `$now` by `$creator`, with its tags, using the transaction
/// `$tx` (`&mut Transaction` of either backend): the one way a key row is written.
macro_rules! insert_key {
    ($tx:expr, $key:expr, $creator:expr, $now:expr) => {{
        let (tx, key, creator): (_, &$crate::storage::keys::NewKey, &app::types::KeyCreator) =
            ($tx, $key, $creator);
        let c = &key.config;
        let json = $crate::storage::keys::ConfigJson::of(c);
        let query = sqlx::query($crate::storage::keys::INSERT_KEY)
            .bind(key.id.as_str())
            .bind(key.key_hash.as_str())
            .bind(key.key_prefix.as_str())
            .bind(key.name.as_str());
        $crate::storage::keys::bind_config!(query, c, json)
            .bind($now)
            .bind($crate::storage::text::fold(&key.name))
            .bind($crate::storage::text::fold(&c.description))
            .bind(c.expires_on.as_deref())
            .execute(&mut **tx)
            .await?;
        sqlx::query($crate::storage::keys::SET_CREATOR)
            .bind(creator.id.as_str())
            .bind(creator.name.as_str())
            .bind(key.id.as_str())
            .execute(&mut **tx)
            .await?;
        for tag in &c.tags {
            sqlx::query("INSERT INTO api_key_tags (key_id, tag) VALUES ($1, $2)")
                .bind(key.id.as_str())
                .bind(tag.as_str())
                .execute(&mut **tx)
                .await?;
        }
    }};
}
pub(super) use insert_key;

impl Store {
    /// Inserts keys and their tags in one transaction, created at `now`: all or nothing.
    #[tracing::instrument(skip_all, fields(count = keys.len()))]
    pub async fn insert_api_keys(
        &self,
        keys: &[NewKey],
        creator: &KeyCreator,
        audit: &[AuditRow],
        now: i64,
    ) -> StoreResult<()> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for row in audit {
                insert_audit!(&mut *tx, row);
            }
            for k in keys {
                insert_key!(&mut tx, k, creator, now);
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Writes a key's name and settings (never its usage counters, which the relay owns) and
    /// replaces its tags, in one transaction. False when the key does not exist (or is deleted).
    #[tracing::instrument(skip_all)]
    pub async fn update_api_key(
        &self,
        id: &str,
        name: &str,
        c: &KeyConfig,
        audit: &AuditRow,
    ) -> StoreResult<bool> {
        let now = now_ms();
        let json = ConfigJson::of(c);
        Ok(with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let query = sqlx::query(UPDATE_KEY).bind(name);
            let changed = bind_config!(query, c, json)
                .bind(now)
                .bind(id)
                .bind(fold(name))
                .bind(fold(&c.description))
                .bind(c.expires_on.as_deref())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if changed == 1 {
                sqlx::query("DELETE FROM api_key_tags WHERE key_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                for tag in &c.tags {
                    sqlx::query("INSERT INTO api_key_tags (key_id, tag) VALUES ($1, $2)")
                        .bind(id)
                        .bind(tag.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                insert_audit!(&mut *tx, audit);
                tx.commit().await?;
            }
            changed == 1
        }))
    }

    /// A live (not deleted) key by id.
    #[tracing::instrument(skip_all)]
    pub async fn api_key_by_id(&self, id: &str) -> StoreResult<Option<KeyRow>> {
        self.optional_row(
            &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1 AND deleted_at IS NULL"),
            id,
        )
        .await
    }

    /// A live key by the SHA-256 hex of its plaintext.
    #[tracing::instrument(skip_all)]
    pub async fn api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<KeyRow>> {
        self.optional_row(
            &format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 AND deleted_at IS NULL"
            ),
            key_hash,
        )
        .await
    }

    /// One page of live keys matching `filter`, newest first, and how many match in all.
    #[tracing::instrument(skip_all)]
    pub async fn list_api_keys(
        &self,
        filter: &KeyFilter,
        now: i64,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<KeyRow>, i64)> {
        let (where_, args) = filter.where_clause(now);
        self.newest_page(("api_keys", KEY_COLUMNS), (&where_, &args), limit, offset)
            .await
    }

    /// Soft delete: the key stops authenticating; usage rows and the sale price stay for
    /// accounting. False when there is no such live key.
    #[tracing::instrument(skip_all)]
    pub async fn soft_delete_api_key(&self, id: &str, audit: &AuditRow) -> StoreResult<bool> {
        let now = now_ms();
        Ok(with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let gone = sqlx::query(
                "UPDATE api_keys SET deleted_at = $1, updated_at = $1
                 WHERE id = $2 AND deleted_at IS NULL",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if gone {
                insert_audit!(&mut *tx, audit);
                tx.commit().await?;
            }
            gone
        }))
    }

    /// Live keys whose validity ended at or before `cutoff`, oldest expiry first.
    #[tracing::instrument(skip_all)]
    pub async fn api_keys_expired_before(&self, cutoff: i64) -> StoreResult<Vec<ExpiredKey>> {
        let sql = format!(
            "SELECT id, name, {EXPIRY_SQL} AS expired_at FROM api_keys
             WHERE deleted_at IS NULL AND {EXPIRY_SQL} <= $1 ORDER BY expired_at, id"
        );
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, ExpiredKey>(&sql)
                .bind(cutoff)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Soft-deletes every live key whose validity ended at or before `cutoff`, in one
    /// statement, and returns them.
    #[tracing::instrument(skip_all)]
    pub async fn delete_api_keys_expired_before(
        &self,
        cutoff: i64,
        audit: impl FnOnce(&[ExpiredKey]) -> AuditRow,
    ) -> StoreResult<Vec<ExpiredKey>> {
        let now = now_ms();
        let sql = format!(
            "UPDATE api_keys SET deleted_at = $1, updated_at = $1
             WHERE deleted_at IS NULL AND {EXPIRY_SQL} <= $2
             RETURNING id, name, {EXPIRY_SQL} AS expired_at"
        );
        // The audit row (built from what was deleted) commits with the deletion, when there
        // was any.
        Ok(with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let mut rows = sqlx::query_as::<_, ExpiredKey>(&sql)
                .bind(now)
                .bind(cutoff)
                .fetch_all(&mut *tx)
                .await?;
            rows.sort_by(|a, b| (a.expired_at, &a.id).cmp(&(b.expired_at, &b.id)));
            if !rows.is_empty() {
                insert_audit!(&mut *tx, &audit(&rows));
            }
            tx.commit().await?;
            rows
        }))
    }

    /// The platform of the account group `id`, if it exists.
    #[tracing::instrument(skip_all)]
    pub async fn platform_of_group(&self, id: &str) -> StoreResult<Option<String>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar::<_, String>("SELECT platform FROM account_groups WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }
}
