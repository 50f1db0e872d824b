//! Redemption codes (卡密): only their SHA-256 is stored. A code is claimed by one conditional
//! `UPDATE` (`status = 'unused'` and still redeemable) inside the transaction that adds its
//! value, so of any number of simultaneous redemptions exactly one changes a row.

use super::audit::AuditRow;
use super::rows::audited;
use sqlx::FromRow;

use app::types::KeyCreator;

use super::keys::{bind_config, insert_key, ConfigJson, KeyConfig, KeyRow, NewKey, UPDATE_KEY};
use super::ledger::{bind_ledger, ChangeError, LedgerRow, INSERT_LEDGER, LOCKED_KEY, TOUCH_KEY};
use super::text::fold;
use super::{with_pool, Store, StoreResult};

#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct CodeRow {
    pub id: String,
    pub code_hint: String,
    pub batch_id: String,
    pub preset_id: String,
    pub quota_micros: i64,
    pub days: i64,
    pub sale_price_micros: i64,
    pub currency: String,
    pub order_number: String,
    pub redeem_by: Option<i64>,
    /// `redeem_by` as the operator wrote it, when they wrote a date (`YYYY-MM-DD`).
    pub redeem_by_on: Option<String>,
    pub status: String,
    pub redeemed_key_id: Option<String>,
    pub redeemed_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
}

/// A code to insert: its hash, never the code.
#[derive(Clone, Debug)]
pub struct NewCode {
    pub row: CodeRow,
    pub code_hash: String,
}

const CODE_COLUMNS: &str = "id, code_hint, batch_id, preset_id, quota_micros, days,
    sale_price_micros, currency, order_number, redeem_by, redeem_by_on, status, redeemed_key_id,
    redeemed_at, revoked_at, created_by, created_at";

/// Claims an unused, still redeemable code by its hash for a key.
const CLAIM: &str = "UPDATE redemption_codes SET status = 'redeemed', redeemed_key_id = $1,
    redeemed_at = $2 WHERE code_hash = $3 AND status = 'unused'
    AND (redeem_by IS NULL OR redeem_by > $2)";

/// Filters of the code list.
#[derive(Clone, Debug, Default)]
pub struct CodeFilter {
    /// `unused`, `redeemed`, `expired` or `revoked`.
    pub status: Option<&'static str>,
    pub preset_id: Option<String>,
    pub batch_id: Option<String>,
    /// Only codes this actor created.
    pub created_by: Option<String>,
}

impl CodeFilter {
    /// The WHERE clause with `$1` = now and the text arguments after it.
    fn where_clause(&self) -> (String, Vec<String>) {
        let mut clauses = vec!["1 = 1".to_owned()];
        let mut args = Vec::new();
        match self.status {
            Some("unused") => {
                clauses.push("status = 'unused' AND (redeem_by IS NULL OR redeem_by > $1)".into())
            }
            Some("expired") => clauses.push("status = 'unused' AND redeem_by <= $1".into()),
            Some("redeemed") => clauses.push("status = 'redeemed'".into()),
            Some("revoked") => clauses.push("status = 'revoked'".into()),
            _ => clauses.push("$1 = $1".into()),
        }
        for (column, value) in [
            ("preset_id", &self.preset_id),
            ("batch_id", &self.batch_id),
            ("created_by", &self.created_by),
        ] {
            if let Some(v) = value {
                args.push(v.clone());
                clauses.push(format!("{column} = ${}", args.len() + 1));
            }
        }
        (clauses.join(" AND "), args)
    }
}

impl Store {
    /// Inserts a batch of codes in one transaction.
    #[tracing::instrument(skip_all, fields(count = codes.len()))]
    pub async fn insert_codes(
        &self,
        codes: &[NewCode],
        audit: Option<&AuditRow>,
    ) -> StoreResult<()> {
        audited!(self, audit, |tx| {
            for c in codes {
                let r = &c.row;
                sqlx::query(
                    "INSERT INTO redemption_codes (id, code_hash, code_hint, batch_id, preset_id,
                     quota_micros, days, sale_price_micros, currency, order_number, redeem_by,
                     redeem_by_on, status, created_by, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'unused', $13, $14)",
                )
                .bind(r.id.as_str())
                .bind(c.code_hash.as_str())
                .bind(r.code_hint.as_str())
                .bind(r.batch_id.as_str())
                .bind(r.preset_id.as_str())
                .bind(r.quota_micros)
                .bind(r.days)
                .bind(r.sale_price_micros)
                .bind(r.currency.as_str())
                .bind(r.order_number.as_str())
                .bind(r.redeem_by)
                .bind(r.redeem_by_on.as_deref())
                .bind(r.created_by.as_str())
                .bind(r.created_at)
                .execute(&mut *tx)
                .await?;
            }
        });
        Ok(())
    }

    /// One page of codes, newest first, and how many match.
    #[tracing::instrument(skip_all)]
    pub async fn list_codes(
        &self,
        filter: &CodeFilter,
        now: i64,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<CodeRow>, i64)> {
        let (where_, args) = filter.where_clause();
        let count_sql = format!("SELECT COUNT(*) FROM redemption_codes WHERE {where_}");
        let page_sql = format!(
            "SELECT {CODE_COLUMNS} FROM redemption_codes WHERE {where_}
             ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
            args.len() + 2,
            args.len() + 3
        );
        Ok(with_pool!(self, |pool| {
            let mut count = sqlx::query_scalar::<_, i64>(&count_sql).bind(now);
            let mut page = sqlx::query_as::<_, CodeRow>(&page_sql).bind(now);
            for a in &args {
                count = count.bind(a.as_str());
                page = page.bind(a.as_str());
            }
            let total = count.fetch_one(pool).await?;
            let rows = page.bind(limit).bind(offset).fetch_all(pool).await?;
            (rows, total)
        }))
    }

    #[tracing::instrument(skip_all)]
    pub async fn code_by_id(&self, id: &str) -> StoreResult<Option<CodeRow>> {
        self.optional_row(
            &format!("SELECT {CODE_COLUMNS} FROM redemption_codes WHERE id = $1"),
            id,
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    pub async fn code_by_hash(&self, hash: &str) -> StoreResult<Option<CodeRow>> {
        self.optional_row(
            &format!("SELECT {CODE_COLUMNS} FROM redemption_codes WHERE code_hash = $1"),
            hash,
        )
        .await
    }

    /// Revokes an unused code; false when it is not unused (or does not exist).
    #[tracing::instrument(skip_all)]
    pub async fn revoke_code(
        &self,
        id: &str,
        now: i64,
        audit: Option<&AuditRow>,
    ) -> StoreResult<bool> {
        Ok(audited!(self, audit, |tx| {
            sqlx::query(
                "UPDATE redemption_codes SET status = 'revoked', revoked_at = $1
                 WHERE id = $2 AND status = 'unused'",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1
        }))
    }

    /// Redeems the code onto a live key, in one transaction: claims the code (false when
    /// another redemption got it first, or it is no longer redeemable), locks and reads the key,
    /// writes what `change` makes of it and the ledger entry.
    #[tracing::instrument(skip_all)]
    pub async fn redeem_code_onto_key<E>(
        &self,
        code_hash: &str,
        key_id: &str,
        now: i64,
        change: impl FnOnce(&KeyRow) -> Result<(KeyConfig, LedgerRow), E>,
    ) -> Result<Option<LedgerRow>, ChangeError<E>> {
        Ok(with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let claimed = sqlx::query(CLAIM)
                .bind(key_id)
                .bind(now)
                .bind(code_hash)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if claimed != 1 {
                return Ok(None);
            }
            let touched = sqlx::query(TOUCH_KEY)
                .bind(now)
                .bind(key_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if touched != 1 {
                return Err(ChangeError::Missing(key_id.to_owned()));
            }
            let row = sqlx::query_as::<_, KeyRow>(LOCKED_KEY)
                .bind(key_id)
                .fetch_one(&mut *tx)
                .await?;
            let (config, entry) = change(&row).map_err(ChangeError::Refused)?;
            let json = ConfigJson::of(&config);
            let query = sqlx::query(UPDATE_KEY).bind(row.name.as_str());
            bind_config!(query, config, json)
                .bind(now)
                .bind(key_id)
                .bind(fold(&row.name))
                .bind(fold(&config.description))
                .bind(config.expires_on.as_deref())
                .execute(&mut *tx)
                .await?;
            bind_ledger!(sqlx::query(INSERT_LEDGER), entry)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Some(entry)
        }))
    }

    /// Redeems the code for a new key, in one transaction: claims the code for `key.id`
    /// (false when it is no longer redeemable), inserts the key (created by `creator`, the
    /// code's creator) and its ledger entry.
    #[tracing::instrument(skip_all)]
    pub async fn redeem_code_new_key(
        &self,
        code_hash: &str,
        key: &NewKey,
        creator: &KeyCreator,
        entry: &LedgerRow,
        now: i64,
    ) -> StoreResult<bool> {
        Ok(with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let claimed = sqlx::query(CLAIM)
                .bind(key.id.as_str())
                .bind(now)
                .bind(code_hash)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if claimed != 1 {
                return Ok(false);
            }
            insert_key!(&mut tx, key, creator, now);
            bind_ledger!(sqlx::query(INSERT_LEDGER), entry)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            true
        }))
    }
}
