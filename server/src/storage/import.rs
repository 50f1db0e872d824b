//! Imports from other relays: the map from foreign ids to Tollgate ids (what makes a second run
//! an update), the salts of legacy key hashes, the daily usage an import added, and
//! [`Store::apply_import`], which writes one run in one transaction.

use std::collections::{HashMap, HashSet};

use sqlx::FromRow;

mod apply;

use super::accounts::AccountRow;
use super::groups::GroupRow;
use super::keys::NewKey;
use super::{with_pool, Store, StoreResult};

/// One imported object: where it came from and what was written last.
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct MapEntry {
    pub kind: String,
    pub foreign_id: String,
    pub local_id: String,
    pub digest: String,
    /// Keys: the foreign spend and request count imported last.
    pub spent_micros: i64,
    pub requests: i64,
    /// A first import of the object: inserted, so a concurrent run importing the same object
    /// fails (and rolls back) instead of pointing the map elsewhere.
    #[sqlx(skip)]
    pub is_new: bool,
}

/// Usage sums of one (key, day, model).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromRow)]
pub struct DailyTotals {
    pub requests: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_write_tokens: i64,
    pub cache_read_tokens: i64,
    pub cost_micros: i64,
}

/// A daily usage row to bring to `new`, `old` being what earlier imports added.
#[derive(Clone, Debug)]
pub struct DailyWrite {
    pub key_id: String,
    pub day: String,
    pub model: String,
    pub platform: &'static str,
    pub new: DailyTotals,
    pub old: DailyTotals,
}

/// A foreign request record, as a raw usage event.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportedRecord {
    pub request_id: String,
    pub key_id: String,
    pub account_id: Option<String>,
    pub platform: &'static str,
    pub model: String,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_write_5m_tokens: i64,
    pub cache_write_1h_tokens: i64,
    pub cache_read_tokens: i64,
    pub cost_micros: i64,
    pub status: i64,
    pub latency_ms: i64,
    pub stream: bool,
    pub created_at: i64,
}

/// A key to insert or rewrite, with what the admin API never sets.
#[derive(Clone, Debug)]
pub struct ImportedKey {
    pub key: NewKey,
    pub activated_at: Option<i64>,
    pub created_at: i64,
}

/// Spend the source counted since the last import, added to what Tollgate counted.
#[derive(Clone, Debug, Default)]
pub struct KeySpend {
    pub key_id: String,
    pub spent_delta: i64,
    pub requests_delta: i64,
    pub last_used_at: Option<i64>,
}

/// The salt of a legacy key hash scheme, encrypted with Tollgate's key.
#[derive(Clone, Debug)]
pub struct LegacySalt {
    pub id: String,
    pub scheme: String,
    pub salt_enc: String,
}

/// A record of who ran an import and what it did.
#[derive(Clone, Debug)]
pub struct ImportRun {
    pub id: String,
    pub started_by: String,
    pub report: String,
}

/// Everything one import run writes.
#[derive(Clone, Debug, Default)]
pub struct ImportWrites {
    pub source: &'static str,
    pub salt: Option<LegacySalt>,
    pub groups: Vec<GroupRow>,
    pub accounts: Vec<AccountRow>,
    /// Groups whose members are replaced, with the new member ids.
    pub memberships: Vec<(String, Vec<String>)>,
    pub new_keys: Vec<ImportedKey>,
    pub updated_keys: Vec<ImportedKey>,
    pub spend: Vec<KeySpend>,
    pub map: Vec<MapEntry>,
    pub daily: Vec<DailyWrite>,
    pub records: Vec<ImportedRecord>,
    pub run: Option<ImportRun>,
    /// The audit row of the run, committed with its writes.
    pub audit: Option<super::audit::AuditRow>,
}

impl ImportWrites {
    pub fn is_empty(&self) -> bool {
        self.salt.is_none()
            && self.groups.is_empty()
            && self.accounts.is_empty()
            && self.memberships.is_empty()
            && self.new_keys.is_empty()
            && self.updated_keys.is_empty()
            && self.spend.is_empty()
            && self.map.is_empty()
            && self.daily.is_empty()
            && self.records.is_empty()
    }
}

/// Whether a key id exists and whether it was deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPresence {
    Missing,
    Live,
    Deleted,
}

impl Store {
    /// Every object imported from `source`, by (kind, foreign id).
    #[tracing::instrument(skip_all)]
    pub async fn import_map(
        &self,
        source: &str,
    ) -> StoreResult<HashMap<(String, String), MapEntry>> {
        let rows = with_pool!(self, |pool| {
            sqlx::query_as::<_, MapEntry>(
                "SELECT kind, foreign_id, local_id, digest, spent_micros, requests
                 FROM import_map WHERE source = $1",
            )
            .bind(source)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|e| ((e.kind.clone(), e.foreign_id.clone()), e))
            .collect())
    }

    /// What earlier imports from `source` added to the daily usage, by (key, day, model).
    #[tracing::instrument(skip_all)]
    pub async fn imported_daily_usage(
        &self,
        source: &str,
    ) -> StoreResult<HashMap<(String, String, String), DailyTotals>> {
        #[derive(FromRow)]
        struct Row {
            key_id: String,
            day: String,
            model: String,
            #[sqlx(flatten)]
            totals: DailyTotals,
        }
        let rows = with_pool!(self, |pool| {
            sqlx::query_as::<_, Row>(
                "SELECT key_id, day, model, requests, input_tokens, output_tokens,
                    cache_write_tokens, cache_read_tokens, cost_micros
                 FROM import_usage_daily WHERE source = $1",
            )
            .bind(source)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|r| ((r.key_id, r.day, r.model), r.totals))
            .collect())
    }

    /// Request ids of a key's raw events that start with `prefix` (records imported before).
    #[tracing::instrument(skip_all)]
    pub async fn imported_request_ids(
        &self,
        key_id: &str,
        prefix: &str,
    ) -> StoreResult<HashSet<String>> {
        let rows = with_pool!(self, |pool| {
            sqlx::query_scalar::<_, String>(
                "SELECT request_id FROM usage_events WHERE key_id = $1 AND request_id LIKE $2",
            )
            .bind(key_id)
            .bind(format!("{prefix}%"))
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().collect())
    }

    #[tracing::instrument(skip_all)]
    pub async fn key_presence(&self, id: &str) -> StoreResult<KeyPresence> {
        let deleted = with_pool!(self, |pool| {
            sqlx::query_scalar::<_, Option<i64>>("SELECT deleted_at FROM api_keys WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        Ok(match deleted {
            None => KeyPresence::Missing,
            Some(None) => KeyPresence::Live,
            Some(Some(_)) => KeyPresence::Deleted,
        })
    }

    /// The encrypted salts of a legacy key hash scheme.
    #[tracing::instrument(skip_all)]
    pub async fn legacy_key_salts(&self, scheme: &str) -> StoreResult<Vec<LegacySalt>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, (String, String, String)>(
                "SELECT id, scheme, salt_enc FROM legacy_key_salts WHERE scheme = $1 ORDER BY created_at, id",
            )
            .bind(scheme)
            .fetch_all(pool)
            .await?
        })
        .into_iter()
        .map(|(id, scheme, salt_enc)| LegacySalt {
            id,
            scheme,
            salt_enc,
        })
        .collect())
    }
}
