//! Report queries: usage and sales over ranges of days, today's figures, presets' real spend, a
//! key's own usage, models billed at the fallback price, and the operator's settings. Charts
//! read the rollups and `api_keys`, never `usage_events`; the one exception is the
//! fallback-priced model list, a loose index scan over a partial index. Splits by model, account
//! or group read `usage_daily_totals` (no key dimension), the preset split `usage_daily_presets`
//! (one row per preset and day, under each key's current preset), a key's own usage
//! `usage_daily`: the smallest rollup that has the dimension asked for (migrations 0004 and 0006
//! keep them in step with `usage_daily` by triggers).

use app::types::SplitBy;
use sqlx::FromRow;

use super::audit::{insert_audit, AuditRow};
use super::{now_ms, with_pool, Store, StoreResult};

/// Sales are bucketed by this many milliseconds in SQL and assigned to calendar days by the
/// caller: every time zone in use is offset from UTC by a multiple of 15 minutes, so a bucket
/// never straddles a local midnight.
pub const SALES_SLOT_MS: i64 = 900_000;

/// Sums of `usage_daily` for one day and one value of the split.
#[derive(Clone, Debug, Default, PartialEq, Eq, FromRow)]
pub struct DailyUsageRow {
    pub day: String,
    /// The model, account id, group id or preset id; empty for none.
    pub split: String,
    pub requests: i64,
    pub errors: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_write_tokens: i64,
    pub cache_read_tokens: i64,
    pub cost_micros: i64,
}

impl DailyUsageRow {
    pub fn tokens(&self) -> i64 {
        self.input_tokens + self.output_tokens + self.cache_write_tokens + self.cache_read_tokens
    }
}

/// Sales in one slot of [`SALES_SLOT_MS`] (keys created and key ledger entries), by preset,
/// currency and group binding.
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct SalesRow {
    /// `created_at / SALES_SLOT_MS` (or the ledger entry's `at`).
    pub slot: i64,
    /// Empty when the key has no preset.
    pub preset_id: String,
    pub currency: String,
    /// The first group the key is bound to (`group:<id>`, Claude then OpenAI then Gemini), or
    /// empty.
    pub binding: String,
    /// Keys created (ledger entries count none).
    pub keys: i64,
    /// Sum of the sale prices, in micro-units of `currency`.
    pub sale_micros: i64,
    /// Who created the keys (empty for keys from before staff roles), and their name then.
    pub seller_id: String,
    pub seller_name: String,
}

/// Sums of one key's (or one day's) usage.
#[derive(Clone, Debug, Default, PartialEq, Eq, FromRow)]
pub struct UsageSumRow {
    /// The day or the model, depending on the query.
    pub label: String,
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_tokens: i64,
    pub cost_micros: i64,
}

/// Keys of one preset (deleted keys included: they were sold).
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct PresetSpendRow {
    pub preset_id: String,
    pub keys: i64,
    pub spent_micros: i64,
    pub quota_micros: i64,
}

/// What the margin report needs of an account.
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct AccountCostRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub monthly_cost_micros: i64,
}

/// The summed columns of a `usage_daily` query; `t` is the table's alias prefix (`""` or `"d."`).
pub(super) fn usage_sums(t: &str) -> String {
    [
        "requests",
        "errors",
        "input_tokens",
        "output_tokens",
        "cache_write_tokens",
        "cache_read_tokens",
        "cost_micros",
    ]
    .iter()
    .map(|c| format!("CAST(COALESCE(SUM({t}{c}), 0) AS BIGINT) AS {c}"))
    .collect::<Vec<_>>()
    .join(", ")
}

const KEY_USAGE_SUMS: &str = "CAST(COALESCE(SUM(requests), 0) AS BIGINT) AS requests,
    CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens,
    CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS output_tokens,
    CAST(COALESCE(SUM(cache_write_tokens + cache_read_tokens), 0) AS BIGINT) AS cache_tokens,
    CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) AS cost_micros";

impl Store {
    /// Usage per day and per value of `split` for days `from..=to` (`YYYY-MM-DD`), by day.
    #[tracing::instrument(skip_all, fields(split = split.as_str()))]
    pub async fn daily_usage(
        &self,
        from: &str,
        to: &str,
        split: SplitBy,
    ) -> StoreResult<Vec<DailyUsageRow>> {
        // Ordered by split within a day too, so callers that share out a remainder among a
        // day's rows get the same answer on both backends.
        let sql = match split {
            SplitBy::Preset => format!(
                "SELECT day, preset_id AS split, {} FROM usage_daily_presets
                 WHERE day >= $1 AND day <= $2 GROUP BY day, preset_id ORDER BY 1, 2",
                usage_sums("")
            ),
            other => {
                let column = match other {
                    SplitBy::Account => "account_id",
                    SplitBy::Group => "group_id",
                    _ => "model",
                };
                format!(
                    "SELECT day, {column} AS split, {} FROM usage_daily_totals
                     WHERE day >= $1 AND day <= $2 GROUP BY day, {column} ORDER BY 1, 2",
                    usage_sums("")
                )
            }
        };
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, DailyUsageRow>(&sql)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?
        }))
    }

    /// What was sold in `[from_ms, to_ms)`, in slots of [`SALES_SLOT_MS`]: keys created then
    /// (deleted ones included; each counts once, with its sale price, for the preset it was
    /// created with: the `preset_from` of its first upgrade, else its preset), and key ledger
    /// entries made then (renewals, top-ups, upgrades, redemptions: their sale price, for the
    /// preset the entry left the key in; not counted as keys).
    #[tracing::instrument(skip_all)]
    pub async fn key_sales(&self, from_ms: i64, to_ms: i64) -> StoreResult<Vec<SalesRow>> {
        let binding = "CASE WHEN k.claude_account_id LIKE 'group:%' THEN k.claude_account_id
                         WHEN k.openai_account_id LIKE 'group:%' THEN k.openai_account_id
                         WHEN k.gemini_account_id LIKE 'group:%' THEN k.gemini_account_id
                         ELSE '' END";
        let sql = format!(
            "SELECT slot, preset_id, currency, binding,
                    CAST(SUM(keys) AS BIGINT) AS keys,
                    CAST(COALESCE(SUM(sale), 0) AS BIGINT) AS sale_micros,
                    seller_id, COALESCE(MAX(seller_name), '') AS seller_name
             FROM (
                SELECT k.created_at / {SALES_SLOT_MS} AS slot,
                       COALESCE((SELECT COALESCE(u.preset_from, '') FROM api_key_ledger u
                                 WHERE u.key_id = k.id AND u.kind = 'upgrade'
                                 ORDER BY u.at, u.id LIMIT 1), k.preset_id, '') AS preset_id,
                       k.currency AS currency, {binding} AS binding,
                       1 AS keys, k.sale_price_micros AS sale,
                       COALESCE(k.created_by_id, '') AS seller_id,
                       k.created_by_name AS seller_name
                FROM api_keys k WHERE k.created_at >= $1 AND k.created_at < $2
                UNION ALL
                SELECT l.at / {SALES_SLOT_MS}, COALESCE(l.preset_to, ''), l.currency, {binding},
                       0, l.sale_price_micros, COALESCE(k.created_by_id, ''), k.created_by_name
                FROM api_key_ledger l JOIN api_keys k ON k.id = l.key_id
                WHERE l.at >= $1 AND l.at < $2 AND l.sale_price_micros <> 0
             ) sold
             GROUP BY 1, 2, 3, 4, 7 ORDER BY 1, 2, 3, 4, 7"
        );
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, SalesRow>(&sql)
                .bind(from_ms)
                .bind(to_ms)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Every account's monthly cost and creation time.
    #[tracing::instrument(skip_all)]
    pub async fn account_costs(&self) -> StoreResult<Vec<AccountCostRow>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, AccountCostRow>(
                "SELECT id, name, created_at, monthly_cost_micros FROM accounts ORDER BY id",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// Requests, tokens and cost of one day, all keys.
    #[tracing::instrument(skip_all)]
    pub async fn day_totals(&self, day: &str) -> StoreResult<UsageSumRow> {
        let sql =
            format!("SELECT '' AS label, {KEY_USAGE_SUMS} FROM usage_daily_totals WHERE day = $1");
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, UsageSumRow>(&sql)
                .bind(day)
                .fetch_one(pool)
                .await?
        }))
    }

    /// Keys created in `[from_ms, to_ms)`, deleted ones included.
    #[tracing::instrument(skip_all)]
    pub async fn keys_created_between(&self, from_ms: i64, to_ms: i64) -> StoreResult<i64> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM api_keys WHERE created_at >= $1 AND created_at < $2",
            )
            .bind(from_ms)
            .bind(to_ms)
            .fetch_one(pool)
            .await?
        }))
    }

    /// Per preset: how many keys were made from it and what they spent and were allowed.
    #[tracing::instrument(skip_all)]
    pub async fn preset_spend(&self) -> StoreResult<Vec<PresetSpendRow>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, PresetSpendRow>(
                "SELECT preset_id, COUNT(*) AS keys,
                        CAST(COALESCE(SUM(spent_micros), 0) AS BIGINT) AS spent_micros,
                        CAST(COALESCE(SUM(quota_limit_micros), 0) AS BIGINT) AS quota_micros
                 FROM api_keys WHERE preset_id IS NOT NULL
                 GROUP BY preset_id ORDER BY preset_id",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    /// One key's usage per day over `from..=to`, by day.
    #[tracing::instrument(skip_all)]
    pub async fn key_usage_by_day(
        &self,
        key_id: &str,
        from: &str,
        to: &str,
    ) -> StoreResult<Vec<UsageSumRow>> {
        let sql = format!(
            "SELECT day AS label, {KEY_USAGE_SUMS} FROM usage_daily
             WHERE key_id = $1 AND day >= $2 AND day <= $3 GROUP BY day ORDER BY day"
        );
        self.key_usage_query(&sql, key_id, from, to).await
    }

    /// One key's usage per model over `from..=to`, dearest first.
    #[tracing::instrument(skip_all)]
    pub async fn key_usage_by_model(
        &self,
        key_id: &str,
        from: &str,
        to: &str,
    ) -> StoreResult<Vec<UsageSumRow>> {
        let sql = format!(
            "SELECT model AS label, {KEY_USAGE_SUMS} FROM usage_daily
             WHERE key_id = $1 AND day >= $2 AND day <= $3
             GROUP BY model ORDER BY cost_micros DESC, model"
        );
        self.key_usage_query(&sql, key_id, from, to).await
    }

    /// How many of a key's requests since `since` (epoch ms) were billed from an estimate.
    #[tracing::instrument(skip_all)]
    pub async fn key_estimated_requests(&self, key_id: &str, since: i64) -> StoreResult<i64> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM usage_events
                 WHERE key_id = $1 AND created_at >= $2 AND usage_estimated = TRUE",
            )
            .bind(key_id)
            .bind(since)
            .fetch_one(pool)
            .await?
        }))
    }

    async fn key_usage_query(
        &self,
        sql: &str,
        key_id: &str,
        from: &str,
        to: &str,
    ) -> StoreResult<Vec<UsageSumRow>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, UsageSumRow>(sql)
                .bind(key_id)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Up to `limit` models billed at the fallback price, by name, with when each was last
    /// seen. A loose index scan: one index seek per model, however many events there are.
    #[tracing::instrument(skip_all)]
    pub async fn fallback_priced_models(&self, limit: i64) -> StoreResult<Vec<(String, i64)>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, (String, i64)>(
                "WITH RECURSIVE seen(model, n) AS (
                     SELECT MIN(model), 1 FROM usage_events WHERE priced_by_fallback = TRUE
                     UNION ALL
                     SELECT (SELECT MIN(e.model) FROM usage_events e
                             WHERE e.priced_by_fallback = TRUE AND e.model > seen.model),
                            n + 1
                     FROM seen WHERE seen.model IS NOT NULL AND n < $1
                 )
                 SELECT model,
                        (SELECT MAX(e.created_at) FROM usage_events e
                         WHERE e.priced_by_fallback = TRUE AND e.model = seen.model) AS last_seen
                 FROM seen WHERE model IS NOT NULL ORDER BY model",
            )
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The JSON value of setting `name`, if set.
    #[tracing::instrument(skip_all, fields(name = %name))]
    pub async fn setting(&self, name: &str) -> StoreResult<Option<String>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Sets several settings (name → JSON value) in one transaction.
    #[tracing::instrument(skip_all)]
    pub async fn put_settings(
        &self,
        values: &[(&str, String)],
        audit: Option<&AuditRow>,
    ) -> StoreResult<()> {
        let now = now_ms();
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for (name, value) in values {
                sqlx::query(
                    "INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3)
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value,
                         updated_at = excluded.updated_at",
                )
                .bind(name)
                .bind(value)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            if let Some(audit) = audit {
                insert_audit!(&mut *tx, audit);
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
