//! The shapes every entity's storage repeats, written once: reading rows of a `FromRow` type
//! on whichever backend is live, and an audited change (a write and its audit row committed
//! in one transaction, the row only when the write changed something).

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::FromRow;

use super::audit::AuditRow;
use super::{with_pool, Arg, Store, StoreResult};

/// A row type both backends can read.
pub(crate) trait Row:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

impl<T> Row for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{}

/// What a write inside [`audited!`] returns: whether it changed anything, so that a write that
/// matched no row leaves no audit row.
pub(crate) trait Changed {
    fn changed(&self) -> bool;
}

/// A write that always changes something (an insert, an upsert).
impl Changed for () {
    fn changed(&self) -> bool {
        true
    }
}

/// A write that may match no row (an update or delete by id).
impl Changed for bool {
    fn changed(&self) -> bool {
        *self
    }
}

/// Runs `$write` with `$tx` bound to a transaction on the live backend, records `$audit` (an
/// `Option<&AuditRow>`) in the same transaction when the write changed something (see
/// [`Changed`]), commits, and evaluates to what the write returned.
macro_rules! audited {
    ($store:expr, $audit:expr, |$tx:ident| $write:expr) => {
        $crate::storage::with_pool!($store, |pool| {
            let mut $tx = pool.begin().await?;
            let outcome = $write;
            if $crate::storage::rows::Changed::changed(&outcome) {
                if let Some(audit) = $audit {
                    $crate::storage::audit::insert_audit!(&mut *$tx, audit);
                }
            }
            $tx.commit().await?;
            outcome
        })
    };
}
pub(crate) use audited;

impl Store {
    /// One page of `table`'s rows (as `columns`) matching `where_`, whose `args` are numbered
    /// from `$1`, newest first (`created_at`, then `id`), and how many match in all.
    pub(super) async fn newest_page<T: Row>(
        &self,
        (table, columns): (&str, &str),
        (where_, args): (&str, &[Arg]),
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<T>, i64)> {
        let count_sql = format!("SELECT COUNT(*) FROM {table} WHERE {where_}");
        let page_sql = format!(
            "SELECT {columns} FROM {table} WHERE {where_}
             ORDER BY created_at DESC, id DESC LIMIT ${} OFFSET ${}",
            args.len() + 1,
            args.len() + 2
        );
        Ok(with_pool!(self, |pool| {
            let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
            let mut page = sqlx::query_as::<_, T>(&page_sql);
            for arg in args {
                (count, page) = match arg {
                    Arg::Text(s) => (count.bind(s.as_str()), page.bind(s.as_str())),
                    Arg::Int(i) => (count.bind(*i), page.bind(*i)),
                };
            }
            let total = count.fetch_one(pool).await?;
            let rows = page.bind(limit).bind(offset).fetch_all(pool).await?;
            (rows, total)
        }))
    }

    /// The row `sql` selects with `$1` = `value`, if any.
    pub(super) async fn optional_row<T: Row>(
        &self,
        sql: &str,
        value: &str,
    ) -> StoreResult<Option<T>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, T>(sql)
                .bind(value)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Every row `sql` selects (it takes no parameter).
    pub(super) async fn all_rows<T: Row>(&self, sql: &str) -> StoreResult<Vec<T>> {
        Ok(with_pool!(self, |pool| sqlx::query_as::<_, T>(sql)
            .fetch_all(pool)
            .await?))
    }

    /// Runs `sql` (one statement, `$1` = `id`) with `audit` recorded when it changed a row;
    /// false when it matched none. For deleting or switching one row by its key.
    pub(super) async fn change_one(
        &self,
        sql: &str,
        id: &str,
        audit: Option<&AuditRow>,
    ) -> StoreResult<bool> {
        Ok(audited!(self, audit, |tx| {
            sqlx::query(sql)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0
        }))
    }
}
