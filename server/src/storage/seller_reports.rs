//! Usage of one seller's keys (the keys a staff user created, `api_keys.created_by_id`), for the
//! margin report filtered by seller and the seller's own sales page. Reads the per-key rollups
//! joined to the seller's keys (index `api_keys_created_by`), never raw events.

use app::types::SplitBy;

use super::reports::{usage_sums, DailyUsageRow};
use super::{with_pool, Store, StoreResult};

impl Store {
    /// Usage of `seller`'s keys per day over `from..=to`, split by the key's current preset
    /// (`SplitBy::Preset`) or by group (any other split), by day.
    #[tracing::instrument(skip_all)]
    pub async fn seller_daily_usage(
        &self,
        from: &str,
        to: &str,
        seller: &str,
        split: SplitBy,
    ) -> StoreResult<Vec<DailyUsageRow>> {
        let sql = if split == SplitBy::Preset {
            format!(
                "SELECT d.day AS day, COALESCE(k.preset_id, '') AS split, {}
                 FROM usage_daily_keys d JOIN api_keys k ON k.id = d.key_id
                 WHERE k.created_by_id = $3 AND d.day >= $1 AND d.day <= $2
                 GROUP BY d.day, COALESCE(k.preset_id, '') ORDER BY 1, 2",
                usage_sums("d.")
            )
        } else {
            format!(
                "SELECT d.day AS day, d.group_id AS split, {}
                 FROM usage_daily d JOIN api_keys k ON k.id = d.key_id
                 WHERE k.created_by_id = $3 AND d.day >= $1 AND d.day <= $2
                 GROUP BY d.day, d.group_id ORDER BY 1, 2",
                usage_sums("d.")
            )
        };
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, DailyUsageRow>(&sql)
                .bind(from)
                .bind(to)
                .bind(seller)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Usage per day over `from..=to` of `seller`'s keys, or of every key (`None`), by day.
    #[tracing::instrument(skip_all)]
    pub async fn sales_daily_usage(
        &self,
        from: &str,
        to: &str,
        seller: Option<&str>,
    ) -> StoreResult<Vec<DailyUsageRow>> {
        let sql = match seller {
            Some(_) => format!(
                "SELECT d.day AS day, '' AS split, {}
                 FROM usage_daily_keys d JOIN api_keys k ON k.id = d.key_id
                 WHERE k.created_by_id = $3 AND d.day >= $1 AND d.day <= $2
                 GROUP BY d.day ORDER BY 1",
                usage_sums("d.")
            ),
            None => format!(
                "SELECT day, '' AS split, {} FROM usage_daily_totals
                 WHERE day >= $1 AND day <= $2 AND $3 = '' GROUP BY day ORDER BY 1",
                usage_sums("")
            ),
        };
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, DailyUsageRow>(&sql)
                .bind(from)
                .bind(to)
                .bind(seller.unwrap_or(""))
                .fetch_all(pool)
                .await?
        }))
    }

    /// Keys of `seller` (or all keys) that are not deleted.
    #[tracing::instrument(skip_all)]
    pub async fn live_keys_of(&self, seller: Option<&str>) -> StoreResult<i64> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM api_keys
                 WHERE deleted_at IS NULL AND ($1 = '' OR created_by_id = $1)",
            )
            .bind(seller.unwrap_or(""))
            .fetch_one(pool)
            .await?
        }))
    }
}
