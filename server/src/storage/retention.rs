//! Pruning raw usage events. The rollups stay: charts and reports read only those.

use super::{with_pool, Store, StoreResult};

impl Store {
    /// Deletes at most `batch` usage events created before `cutoff_ms`; returns how many went.
    /// The sub-select keeps each statement (and its lock) small on SQLite and PostgreSQL alike;
    /// it walks the `created_at` index, so no order is imposed.
    pub async fn prune_usage_events(&self, cutoff_ms: i64, batch: i64) -> StoreResult<u64> {
        Ok(with_pool!(self, |pool| {
            sqlx::query(
                "DELETE FROM usage_events WHERE id IN (
                    SELECT id FROM usage_events WHERE created_at < $1 LIMIT $2)",
            )
            .bind(cutoff_ms)
            .bind(batch)
            .execute(pool)
            .await?
            .rows_affected()
        }))
    }

    /// Usage events created before `cutoff_ms` (what the next prune would remove).
    pub async fn count_usage_events_before(&self, cutoff_ms: i64) -> StoreResult<i64> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM usage_events WHERE created_at < $1")
                .bind(cutoff_ms)
                .fetch_one(pool)
                .await?
        }))
    }
}
