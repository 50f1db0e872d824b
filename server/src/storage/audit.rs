//! The audit trail's rows. A change and its row are written in one transaction: storage
//! methods that change something take the [`AuditRow`] and insert it with [`insert_audit!`]
//! inside their own transaction, so there is never a change without its row (or a row without
//! its change).

use sqlx::FromRow;

use super::{with_pool, Arg, Store, StoreResult};

/// One audit event as stored; `summary` is a JSON object without secrets.
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct AuditRow {
    pub id: String,
    pub created_at: i64,
    pub actor_id: String,
    pub actor_name: String,
    pub client_addr: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub target_name: String,
    pub summary: String,
}

/// Inserts `$row` (an `&AuditRow`) with the executor `$tx` (a transaction of either backend).
macro_rules! insert_audit {
    ($tx:expr, $row:expr) => {{
        let row: &$crate::storage::audit::AuditRow = $row;
        sqlx::query(
            "INSERT INTO audit_events (id, created_at, actor_id, actor_name, client_addr, action,
             target_type, target_id, target_name, summary)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(row.id.as_str())
        .bind(row.created_at)
        .bind(row.actor_id.as_str())
        .bind(row.actor_name.as_str())
        .bind(row.client_addr.as_str())
        .bind(row.action.as_str())
        .bind(row.target_type.as_str())
        .bind(row.target_id.as_str())
        .bind(row.target_name.as_str())
        .bind(row.summary.as_str())
        .execute($tx)
        .await?;
    }};
}
pub(crate) use insert_audit;

/// Filters of the audit list (all optional, AND-ed).
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

impl AuditFilter {
    fn where_clause(&self) -> (String, Vec<Arg>) {
        let mut clauses = vec!["1 = 1".to_owned()];
        let mut args = Vec::new();
        let mut push = |clause: &str, arg: Arg| {
            args.push(arg);
            clauses.push(format!("{clause} ${}", args.len()));
        };
        if let Some(v) = &self.actor_id {
            push("actor_id =", Arg::Text(v.clone()));
        }
        if let Some(v) = &self.action {
            push("action =", Arg::Text(v.clone()));
        }
        if let Some(v) = &self.target_type {
            push("target_type =", Arg::Text(v.clone()));
        }
        if let Some(v) = &self.target_id {
            push("target_id =", Arg::Text(v.clone()));
        }
        if let Some(v) = self.since {
            push("created_at >=", Arg::Int(v));
        }
        if let Some(v) = self.until {
            push("created_at <", Arg::Int(v));
        }
        (clauses.join(" AND "), args)
    }
}

const AUDIT_COLUMNS: &str = "id, created_at, actor_id, actor_name, client_addr, action,
    target_type, target_id, target_name, summary";

impl Store {
    /// Records an event that changes nothing else (a login, a failed login).
    #[tracing::instrument(skip_all)]
    pub async fn insert_audit_event(&self, row: &AuditRow) -> StoreResult<()> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            insert_audit!(&mut *tx, row);
            tx.commit().await?;
        });
        Ok(())
    }

    /// One page of events matching `filter`, newest first, and how many match in all.
    #[tracing::instrument(skip_all)]
    pub async fn list_audit_events(
        &self,
        filter: &AuditFilter,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<AuditRow>, i64)> {
        let (where_, args) = filter.where_clause();
        self.newest_page(
            ("audit_events", AUDIT_COLUMNS),
            (&where_, &args),
            limit,
            offset,
        )
        .await
    }

    /// Deletes events older than `cutoff_ms` (`AUDIT_RETENTION_DAYS`); returns how many went.
    #[tracing::instrument(skip_all)]
    pub async fn prune_audit_events(&self, cutoff_ms: i64) -> StoreResult<u64> {
        Ok(with_pool!(self, |pool| {
            sqlx::query("DELETE FROM audit_events WHERE created_at < $1")
                .bind(cutoff_ms)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
