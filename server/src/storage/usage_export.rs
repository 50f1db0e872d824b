//! Raw usage events for `tollgate usage export`, one page at a time so an export of millions of
//! rows never sits in memory. Pages follow the primary key (`id > after`), which needs no
//! offset and stays fast however deep the export goes.

use sqlx::FromRow;

use super::{with_pool, Store, StoreResult};

/// One usage event with the names of its key and account (empty when deleted or none).
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct ExportedEvent {
    pub id: i64,
    pub request_id: String,
    pub created_at: i64,
    pub key_id: String,
    pub key_name: String,
    pub account_id: String,
    pub account_name: String,
    pub group_id: String,
    pub platform: String,
    pub model: String,
    pub status: i64,
    pub error_type: String,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_write_5m_tokens: i64,
    pub cache_write_1h_tokens: i64,
    pub cache_read_tokens: i64,
    pub cost_micros: i64,
    pub priced_by_fallback: bool,
    pub latency_ms: i64,
    pub ttft_ms: Option<i64>,
    pub stream: bool,
    pub client_disconnected: bool,
    pub usage_estimated: bool,
}

/// Which events an export covers: `[from_ms, to_ms)`, optionally one key's.
#[derive(Clone, Debug)]
pub struct ExportRange {
    pub from_ms: i64,
    pub to_ms: i64,
    pub key_id: Option<String>,
}

const COLUMNS: &str =
    "SELECT e.id, e.request_id, e.created_at, e.key_id, COALESCE(k.name, '') AS key_name,
        COALESCE(e.account_id, '') AS account_id, COALESCE(a.name, '') AS account_name,
        COALESCE(e.group_id, '') AS group_id, e.platform, e.model, e.status,
        COALESCE(e.error_type, '') AS error_type, e.input_tokens, e.output_tokens,
        e.cache_write_5m_tokens, e.cache_write_1h_tokens, e.cache_read_tokens, e.cost_micros,
        e.priced_by_fallback, e.latency_ms, e.ttft_ms, e.stream, e.client_disconnected,
        e.usage_estimated
    FROM usage_events e
    LEFT JOIN api_keys k ON k.id = e.key_id
    LEFT JOIN accounts a ON a.id = e.account_id";

impl Store {
    /// Up to `limit` events of `range` with an id above `after`, in id order.
    pub async fn usage_export_page(
        &self,
        range: &ExportRange,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<ExportedEvent>> {
        Ok(with_pool!(self, |pool| {
            match &range.key_id {
                Some(key_id) => {
                    sqlx::query_as(&format!(
                        "{COLUMNS} WHERE e.key_id = $1 AND e.id > $2 AND e.created_at >= $3 AND e.created_at < $4
                         ORDER BY e.id LIMIT $5"
                    ))
                    .bind(key_id)
                    .bind(after)
                    .bind(range.from_ms)
                    .bind(range.to_ms)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
                }
                None => {
                    sqlx::query_as(&format!(
                        "{COLUMNS} WHERE e.id > $1 AND e.created_at >= $2 AND e.created_at < $3
                         ORDER BY e.id LIMIT $4"
                    ))
                    .bind(after)
                    .bind(range.from_ms)
                    .bind(range.to_ms)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?
                }
            }
        }))
    }

    /// Whether a key with this id was ever created (deleted keys keep their row).
    pub async fn api_key_exists(&self, key_id: &str) -> StoreResult<bool> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM api_keys WHERE id = $1")
                .bind(key_id)
                .fetch_one(pool)
                .await?
                > 0
        }))
    }
}
