//! Upstream account budgets (`account_budgets`), their top-ups, and the spend they are measured
//! against: the account's priced usage from the hourly rollup (what the usage writer has
//! settled), and from the raw events for the part of an hour before a budget's start, so no
//! upstream API is needed.

use super::audit::AuditRow;
use super::rows::audited;
use sqlx::FromRow;

use super::{with_pool, Store, StoreResult};

#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct BudgetRow {
    pub account_id: String,
    pub kind: String,
    pub amount_micros: i64,
    pub reset_day: Option<i64>,
    /// JSON array of fractions.
    pub thresholds: String,
    pub stop_when_exhausted: bool,
    /// JSON array of the thresholds (and 1.0 for exhausted) announced in this period.
    pub fired: String,
    pub period_start: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const BUDGET_COLUMNS: &str = "account_id, kind, amount_micros, reset_day, thresholds,
    stop_when_exhausted, fired, period_start, created_at, updated_at";

impl Store {
    /// Every budget, with its account's name.
    #[tracing::instrument(skip_all)]
    pub async fn account_budgets(&self) -> StoreResult<Vec<(BudgetRow, String)>> {
        let sql = format!(
            "SELECT {BUDGET_COLUMNS}, (SELECT name FROM accounts a WHERE a.id = b.account_id)
             AS account_name FROM account_budgets b ORDER BY account_id"
        );
        #[derive(FromRow)]
        struct Named {
            #[sqlx(flatten)]
            row: BudgetRow,
            account_name: Option<String>,
        }
        let rows: Vec<Named> = with_pool!(self, |pool| {
            sqlx::query_as::<_, Named>(&sql).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|n| (n.row, n.account_name.unwrap_or_default()))
            .collect())
    }

    #[tracing::instrument(skip_all)]
    pub async fn account_budget(&self, account_id: &str) -> StoreResult<Option<BudgetRow>> {
        self.optional_row(
            &format!("SELECT {BUDGET_COLUMNS} FROM account_budgets WHERE account_id = $1"),
            account_id,
        )
        .await
    }

    /// Sets (or replaces) an account's budget. A new or changed budget starts announcing its
    /// crossings afresh.
    #[tracing::instrument(skip_all)]
    pub async fn set_account_budget(
        &self,
        b: &BudgetRow,
        audit: Option<&AuditRow>,
    ) -> StoreResult<()> {
        audited!(self, audit, |tx| {
            sqlx::query("DELETE FROM account_budgets WHERE account_id = $1")
                .bind(b.account_id.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO account_budgets (account_id, kind, amount_micros, reset_day,
                 thresholds, stop_when_exhausted, fired, period_start, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(b.account_id.as_str())
            .bind(b.kind.as_str())
            .bind(b.amount_micros)
            .bind(b.reset_day)
            .bind(b.thresholds.as_str())
            .bind(b.stop_when_exhausted)
            .bind(b.fired.as_str())
            .bind(b.period_start)
            .bind(b.created_at)
            .bind(b.updated_at)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// Removes an account's budget (its top-ups stay as history).
    #[tracing::instrument(skip_all)]
    pub async fn delete_account_budget(
        &self,
        account_id: &str,
        audit: Option<&AuditRow>,
    ) -> StoreResult<bool> {
        self.change_one(
            "DELETE FROM account_budgets WHERE account_id = $1",
            account_id,
            audit,
        )
        .await
    }

    /// Records a top-up of a prepaid balance.
    #[tracing::instrument(skip_all)]
    pub async fn add_budget_top_up(
        &self,
        account_id: &str,
        amount_micros: i64,
        note: &str,
        actor: &str,
        at: i64,
        audit: Option<&AuditRow>,
    ) -> StoreResult<()> {
        audited!(self, audit, |tx| {
            sqlx::query(
                "INSERT INTO account_budget_topups (id, account_id, amount_micros, note, actor, at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(account_id)
            .bind(amount_micros)
            .bind(note)
            .bind(actor)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// Top-ups of the account at or after `since`.
    #[tracing::instrument(skip_all)]
    pub async fn budget_top_ups_since(&self, account_id: &str, since: i64) -> StoreResult<i64> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar::<_, i64>(
                "SELECT CAST(COALESCE(SUM(amount_micros), 0) AS BIGINT)
                 FROM account_budget_topups WHERE account_id = $1 AND at >= $2",
            )
            .bind(account_id)
            .bind(since)
            .fetch_one(pool)
            .await?
        }))
    }

    /// The account's priced usage in the hours starting at or after `since_hour` (an hour's
    /// start, epoch ms).
    #[tracing::instrument(skip_all)]
    pub async fn account_spend_since(&self, account_id: &str, since_hour: i64) -> StoreResult<i64> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar::<_, i64>(
                "SELECT CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT)
                 FROM usage_hourly WHERE account_id = $1 AND bucket >= $2",
            )
            .bind(account_id)
            .bind(since_hour)
            .fetch_one(pool)
            .await?
        }))
    }

    /// The account's priced usage in the raw events from `from` (inclusive) to `to`
    /// (exclusive): the part of an hour the hourly rollup can't split.
    #[tracing::instrument(skip_all)]
    pub async fn account_event_spend(
        &self,
        account_id: &str,
        from: i64,
        to: i64,
    ) -> StoreResult<i64> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar::<_, i64>(
                "SELECT CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT)
                 FROM usage_events WHERE account_id = $1 AND created_at >= $2 AND created_at < $3",
            )
            .bind(account_id)
            .bind(from)
            .bind(to)
            .fetch_one(pool)
            .await?
        }))
    }

    /// Records that `fired` (JSON) has been announced in the period starting at
    /// `period_start`, if the stored state is still `seen_fired`/`seen_period`: of several
    /// instances checking at once, one wins and announces.
    #[tracing::instrument(skip_all)]
    pub async fn mark_budget_fired(
        &self,
        account_id: &str,
        seen: (&str, i64),
        fired: &str,
        period_start: i64,
    ) -> StoreResult<bool> {
        Ok(with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE account_budgets SET fired = $1, period_start = $2
                 WHERE account_id = $3 AND fired = $4 AND period_start = $5",
            )
            .bind(fired)
            .bind(period_start)
            .bind(account_id)
            .bind(seen.0)
            .bind(seen.1)
            .execute(pool)
            .await?
            .rows_affected()
                == 1
        }))
    }
}
