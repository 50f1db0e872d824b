//! The key ledger: every renewal, top-up, upgrade, redemption or adjustment of a key, written
//! in the same transaction as the key's new settings. Keys are changed under a lock taken
//! before they are read (a write first: SQLite's write lock, PostgreSQL's row lock), so two
//! renewals of one key at once both count.

use super::audit::AuditRow;
use super::rows::audited;
use sqlx::FromRow;

use super::keys::{bind_config, ConfigJson, KeyConfig, KeyRow, UPDATE_KEY};
use super::text::fold;
use super::{with_pool, Store, StoreError, StoreResult};

#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct LedgerRow {
    pub id: String,
    pub key_id: String,
    pub kind: String,
    pub quota_add_micros: i64,
    pub days_add: i64,
    pub preset_from: Option<String>,
    pub preset_to: Option<String>,
    pub expires_before: Option<i64>,
    pub expires_after: Option<i64>,
    pub sale_price_micros: i64,
    pub currency: String,
    pub actor: String,
    pub note: String,
    pub code_id: Option<String>,
    pub at: i64,
}

const LEDGER_COLUMNS: &str = "id, key_id, kind, quota_add_micros, days_add, preset_from,
    preset_to, expires_before, expires_after, sale_price_micros, currency, actor, note, code_id, at";

pub(super) const INSERT_LEDGER: &str = "INSERT INTO api_key_ledger (id, key_id, kind,
    quota_add_micros, days_add, preset_from, preset_to, expires_before, expires_after,
    sale_price_micros, currency, actor, note, code_id, at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

macro_rules! bind_ledger {
    ($query:expr, $e:expr) => {
        $query
            .bind($e.id.as_str())
            .bind($e.key_id.as_str())
            .bind($e.kind.as_str())
            .bind($e.quota_add_micros)
            .bind($e.days_add)
            .bind($e.preset_from.as_deref())
            .bind($e.preset_to.as_deref())
            .bind($e.expires_before)
            .bind($e.expires_after)
            .bind($e.sale_price_micros)
            .bind($e.currency.as_str())
            .bind($e.actor.as_str())
            .bind($e.note.as_str())
            .bind($e.code_id.as_deref())
            .bind($e.at)
    };
}
pub(super) use bind_ledger;

/// The stored columns of a key, for reading it inside a transaction.
pub(super) const LOCKED_KEY: &str = "SELECT id, key_prefix, name, description, tags, is_active,
    quota_limit_micros, expires_at, activation_days, activated_at, concurrency_limit,
    queue_enabled, queue_max_size, queue_timeout_ms, rate_limit_window_min, rate_limit_requests,
    rate_limit_cost_micros, daily_cost_limit_micros, allowed_models, permissions,
    claude_account_id, openai_account_id, gemini_account_id, allow_pool_fallback,
    sale_price_micros, currency, preset_id, strict_max_tokens, allow_server_tools, restrictions,
    spent_micros, requests, last_used_at, created_at, updated_at, created_by_id, created_by_name,
    expires_on FROM api_keys WHERE id = $1 AND deleted_at IS NULL";

/// Takes the key's write lock (and marks it changed, so other instances re-read it); false when
/// there is no such live key.
pub(super) const TOUCH_KEY: &str =
    "UPDATE api_keys SET updated_at = $1 WHERE id = $2 AND deleted_at IS NULL";

/// Why a change of keys did not happen.
#[derive(Debug)]
pub enum ChangeError<E> {
    /// No live key with this id.
    Missing(String),
    /// The change refused the key as it is.
    Refused(E),
    Store(StoreError),
}

impl<E> From<sqlx::Error> for ChangeError<E> {
    fn from(e: sqlx::Error) -> Self {
        ChangeError::Store(StoreError::Db(e))
    }
}

impl<E> From<StoreError> for ChangeError<E> {
    fn from(e: StoreError) -> Self {
        ChangeError::Store(e)
    }
}

impl Store {
    /// Changes each key of `ids` in one transaction: locks it, reads it, asks `change` for its
    /// new settings and the ledger entry, writes both. All or nothing.
    #[tracing::instrument(skip_all, fields(count = ids.len()))]
    pub async fn change_api_keys<E>(
        &self,
        ids: &[String],
        now: i64,
        audit: Option<&AuditRow>,
        mut change: impl FnMut(&KeyRow) -> Result<(KeyConfig, LedgerRow), E>,
    ) -> Result<Vec<LedgerRow>, ChangeError<E>> {
        let mut entries = Vec::with_capacity(ids.len());
        audited!(self, audit, |tx| {
            for id in ids {
                let touched = sqlx::query(TOUCH_KEY)
                    .bind(now)
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if touched != 1 {
                    return Err(ChangeError::Missing(id.clone()));
                }
                let row = sqlx::query_as::<_, KeyRow>(LOCKED_KEY)
                    .bind(id.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
                let (config, entry) = change(&row).map_err(ChangeError::Refused)?;
                let json = ConfigJson::of(&config);
                let query = sqlx::query(UPDATE_KEY).bind(row.name.as_str());
                bind_config!(query, config, json)
                    .bind(now)
                    .bind(id.as_str())
                    .bind(fold(&row.name))
                    .bind(fold(&config.description))
                    .bind(config.expires_on.as_deref())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM api_key_tags WHERE key_id = $1")
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await?;
                for tag in &config.tags {
                    sqlx::query("INSERT INTO api_key_tags (key_id, tag) VALUES ($1, $2)")
                        .bind(id.as_str())
                        .bind(tag.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                bind_ledger!(sqlx::query(INSERT_LEDGER), entry)
                    .execute(&mut *tx)
                    .await?;
                entries.push(entry);
            }
        });
        Ok(entries)
    }

    /// A key's ledger, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn key_ledger(&self, key_id: &str) -> StoreResult<Vec<LedgerRow>> {
        let sql = format!(
            "SELECT {LEDGER_COLUMNS} FROM api_key_ledger WHERE key_id = $1 ORDER BY at, id"
        );
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, LedgerRow>(&sql)
                .bind(key_id)
                .fetch_all(pool)
                .await?
        }))
    }
}
