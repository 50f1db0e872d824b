//! Per-model price overrides set on the dashboard; they win over the price table.

use sqlx::FromRow;

use super::audit::{insert_audit, AuditRow};
use super::rows::audited;
use super::{now_ms, with_pool, Store, StoreResult};
use crate::pricing::ModelPrice;

#[derive(FromRow)]
struct OverrideRow {
    model: String,
    input_micros: i64,
    output_micros: i64,
    cache_write_5m_micros: i64,
    cache_write_1h_micros: i64,
    cache_read_micros: i64,
}

impl From<OverrideRow> for (String, ModelPrice) {
    fn from(row: OverrideRow) -> Self {
        (
            row.model,
            ModelPrice::flat(
                row.input_micros,
                row.output_micros,
                row.cache_write_5m_micros,
                row.cache_write_1h_micros,
                row.cache_read_micros,
            ),
        )
    }
}

impl Store {
    /// Every override, sorted by model name (its bytes, on both backends: PostgreSQL's ORDER BY
    /// would follow the database's collation).
    #[tracing::instrument(skip_all)]
    pub async fn list_price_overrides(&self) -> StoreResult<Vec<(String, ModelPrice)>> {
        let rows = with_pool!(self, |pool| {
            sqlx::query_as::<_, OverrideRow>(
                "SELECT model, input_micros, output_micros, cache_write_5m_micros,
                        cache_write_1h_micros, cache_read_micros
                 FROM pricing_overrides",
            )
            .fetch_all(pool)
            .await?
        });
        let mut rows: Vec<(String, ModelPrice)> = rows.into_iter().map(Into::into).collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(rows)
    }

    /// Sets the override of `model`, replacing an earlier one.
    #[tracing::instrument(skip_all, fields(model = %model))]
    pub async fn upsert_price_override(
        &self,
        model: &str,
        price: &ModelPrice,
        audit: Option<&AuditRow>,
    ) -> StoreResult<()> {
        let now = now_ms();
        audited!(self, audit, |tx| {
            sqlx::query(
                "INSERT INTO pricing_overrides (model, input_micros, output_micros,
                     cache_write_5m_micros, cache_write_1h_micros, cache_read_micros, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (model) DO UPDATE SET
                     input_micros = excluded.input_micros,
                     output_micros = excluded.output_micros,
                     cache_write_5m_micros = excluded.cache_write_5m_micros,
                     cache_write_1h_micros = excluded.cache_write_1h_micros,
                     cache_read_micros = excluded.cache_read_micros,
                     updated_at = excluded.updated_at",
            )
            .bind(model)
            .bind(price.input)
            .bind(price.output)
            .bind(price.cache_write_5m)
            .bind(price.cache_write_1h)
            .bind(price.cache_read)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// Removes the override of `model`; false when there was none.
    #[tracing::instrument(skip_all, fields(model = %model))]
    pub async fn delete_price_override(
        &self,
        model: &str,
        audit: Option<&AuditRow>,
    ) -> StoreResult<bool> {
        let deleted = with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let n = sqlx::query("DELETE FROM pricing_overrides WHERE model = $1")
                .bind(model)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 0 {
                if let Some(audit) = audit {
                    insert_audit!(&mut *tx, audit);
                }
                tx.commit().await?;
            }
            n
        });
        Ok(deleted > 0)
    }
}
