//! Upstream accounts and their state-change log (groups of accounts are in `groups`).

use sqlx::FromRow;

use super::audit::AuditRow;
use super::rows::audited;
use super::text::fold;
use super::{now_ms, with_pool, Store, StoreResult};

/// An `accounts` row. Credentials stay encrypted here; decryption is the caller's business.
#[derive(Clone, Debug, FromRow)]
pub struct AccountRow {
    pub id: String,
    pub name: String,
    pub platform: String,
    pub account_type: String,
    pub api_key_enc: String,
    pub api_key_hint: String,
    pub base_url: String,
    pub proxy_enc: Option<String>,
    pub proxy_hint: Option<String>,
    pub priority: i64,
    pub is_active: bool,
    pub schedulable: bool,
    pub status: String,
    pub status_message: Option<String>,
    pub status_changed_at: Option<i64>,
    pub cooldown_until: Option<i64>,
    pub supported_models: String,
    pub model_mapping: String,
    pub max_concurrency: Option<i64>,
    pub monthly_cost_micros: i64,
    pub notes: String,
    pub extra: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_used_at: Option<i64>,
}

const ACCOUNT_COLUMNS: &str = "id, name, platform, account_type, api_key_enc, api_key_hint, base_url, proxy_enc, \
     proxy_hint, priority, is_active, schedulable, status, status_message, status_changed_at, cooldown_until, \
     supported_models, model_mapping, max_concurrency, monthly_cost_micros, notes, extra, created_at, updated_at, \
     last_used_at";

/// Inserts an account or rewrites every column of it; bind with [`bind_account!`] (which
/// needs `text::fold` in scope).
pub(super) const SAVE_ACCOUNT: &str = "INSERT INTO accounts (id, name, platform, account_type, api_key_enc, api_key_hint, base_url,
                    proxy_enc, proxy_hint, priority, is_active, schedulable, status, status_message,
                    status_changed_at, cooldown_until, supported_models, model_mapping, max_concurrency,
                    monthly_cost_micros, notes, extra, created_at, updated_at, last_used_at, name_key)
                 VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, platform = excluded.platform,
                    account_type = excluded.account_type, api_key_enc = excluded.api_key_enc,
                    api_key_hint = excluded.api_key_hint, base_url = excluded.base_url,
                    proxy_enc = excluded.proxy_enc, proxy_hint = excluded.proxy_hint,
                    priority = excluded.priority, is_active = excluded.is_active,
                    schedulable = excluded.schedulable, status = excluded.status,
                    status_message = excluded.status_message, status_changed_at = excluded.status_changed_at,
                    cooldown_until = excluded.cooldown_until, supported_models = excluded.supported_models,
                    model_mapping = excluded.model_mapping, max_concurrency = excluded.max_concurrency,
                    monthly_cost_micros = excluded.monthly_cost_micros, notes = excluded.notes,
                    extra = excluded.extra, updated_at = excluded.updated_at,
                    name_key = excluded.name_key";

/// Binds an [`AccountRow`] to [`SAVE_ACCOUNT`].
macro_rules! bind_account {
    ($query:expr, $a:expr) => {
        $query
            .bind(&$a.id)
            .bind(&$a.name)
            .bind(&$a.platform)
            .bind(&$a.account_type)
            .bind(&$a.api_key_enc)
            .bind(&$a.api_key_hint)
            .bind(&$a.base_url)
            .bind(&$a.proxy_enc)
            .bind(&$a.proxy_hint)
            .bind($a.priority)
            .bind($a.is_active)
            .bind($a.schedulable)
            .bind(&$a.status)
            .bind(&$a.status_message)
            .bind($a.status_changed_at)
            .bind($a.cooldown_until)
            .bind(&$a.supported_models)
            .bind(&$a.model_mapping)
            .bind($a.max_concurrency)
            .bind($a.monthly_cost_micros)
            .bind(&$a.notes)
            .bind(&$a.extra)
            .bind($a.created_at)
            .bind($a.updated_at)
            .bind($a.last_used_at)
            .bind(fold(&$a.name))
    };
}
pub(super) use bind_account;

#[derive(Clone, Debug, FromRow)]
pub struct AccountEventRow {
    pub account_id: String,
    pub at: i64,
    pub status: String,
    pub http_status: Option<i64>,
    pub message: String,
}

/// Per-account traffic over a period, from the hourly rollups.
#[derive(Clone, Debug, Default, FromRow)]
pub struct AccountTraffic {
    pub account_id: String,
    pub requests: i64,
    pub errors: i64,
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn list_accounts(&self) -> StoreResult<Vec<AccountRow>> {
        self.all_rows(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY platform, priority, name_key, id"
        ))
        .await
    }

    #[tracing::instrument(skip_all)]
    pub async fn get_account(&self, id: &str) -> StoreResult<Option<AccountRow>> {
        self.optional_row(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"),
            id,
        )
        .await
    }

    /// Inserts or fully rewrites an account row.
    #[tracing::instrument(skip_all)]
    pub async fn save_account(&self, a: &AccountRow, audit: Option<&AuditRow>) -> StoreResult<()> {
        audited!(self, audit, |tx| {
            bind_account!(sqlx::query(SAVE_ACCOUNT), a)
                .execute(&mut *tx)
                .await?;
        });
        Ok(())
    }

    /// Deletes an account (memberships go with it); `false` if it did not exist.
    #[tracing::instrument(skip_all)]
    pub async fn delete_account(&self, id: &str, audit: Option<&AuditRow>) -> StoreResult<bool> {
        self.change_one("DELETE FROM accounts WHERE id = $1", id, audit)
            .await
    }

    /// Records a state change: the account's current status and an event row, atomically.
    #[tracing::instrument(skip_all)]
    pub async fn record_account_state(
        &self,
        id: &str,
        status: &str,
        message: &str,
        http_status: Option<u16>,
        cooldown_until: Option<i64>,
    ) -> StoreResult<()> {
        let now = now_ms();
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE accounts SET status = $1, status_message = $2, status_changed_at = $3,
                    cooldown_until = $4 WHERE id = $5",
            )
            .bind(status)
            .bind(message)
            .bind(now)
            .bind(cooldown_until)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO account_events (account_id, at, status, http_status, message)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(now)
            .bind(status)
            .bind(http_status.map(i64::from))
            .bind(message)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The newest events of an account, newest first.
    #[tracing::instrument(skip_all)]
    pub async fn account_events(&self, id: &str, limit: i64) -> StoreResult<Vec<AccountEventRow>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, AccountEventRow>(
                "SELECT account_id, at, status, http_status, message FROM account_events
                 WHERE account_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
            )
            .bind(id)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The newest failure (non-active event) of every account.
    #[tracing::instrument(skip_all)]
    pub async fn last_account_errors(&self) -> StoreResult<Vec<AccountEventRow>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, AccountEventRow>(
                "SELECT e.account_id, e.at, e.status, e.http_status, e.message FROM account_events e
                 JOIN (SELECT account_id, MAX(id) AS id FROM account_events WHERE status <> 'active'
                       GROUP BY account_id) last ON last.id = e.id",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// Requests and errors per account since `since` (epoch ms), from the hourly rollups.
    #[tracing::instrument(skip_all)]
    pub async fn account_traffic_since(&self, since: i64) -> StoreResult<Vec<AccountTraffic>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, AccountTraffic>(
                "SELECT account_id, CAST(COALESCE(SUM(requests), 0) AS BIGINT) AS requests,
                        CAST(COALESCE(SUM(errors), 0) AS BIGINT) AS errors
                 FROM usage_hourly WHERE bucket >= $1 GROUP BY account_id",
            )
            .bind(since)
            .fetch_all(pool)
            .await?
        }))
    }

    /// 529 answers per account since `since`, from the state-change log.
    #[tracing::instrument(skip_all)]
    pub async fn account_overloads_since(&self, since: i64) -> StoreResult<Vec<(String, i64)>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, (String, i64)>(
                "SELECT account_id, COUNT(*) FROM account_events
                 WHERE at >= $1 AND http_status = 529 GROUP BY account_id",
            )
            .bind(since)
            .fetch_all(pool)
            .await?
        }))
    }

    /// How many live keys are bound to `binding` (an account id or `group:<id>`) on any platform.
    #[tracing::instrument(skip_all)]
    pub async fn keys_bound_to(
        &self,
        binding: &str,
        limit: i64,
    ) -> StoreResult<(i64, Vec<(String, String)>)> {
        Ok(with_pool!(self, |pool| {
            let where_ = "deleted_at IS NULL AND (claude_account_id = $1 OR openai_account_id = $1 OR gemini_account_id = $1)";
            let total: i64 =
                sqlx::query_scalar(&format!("SELECT COUNT(*) FROM api_keys WHERE {where_}"))
                    .bind(binding)
                    .fetch_one(pool)
                    .await?;
            let some = sqlx::query_as::<_, (String, String)>(&format!(
                "SELECT id, name FROM api_keys WHERE {where_} ORDER BY name_key, id LIMIT $2"
            ))
            .bind(binding)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            (total, some)
        }))
    }
}
