//! A key holder's own view of their key: quota, spend, expiry, limits, and usage by day and
//! model over the last 30 days (from the daily rollups). Served twice, by the relay's
//! `GET /v1/usage` (authenticated by the key like any relay request) and by the dashboard's
//! public `/usage` page through the admin service; both answer from here.

use app::types::{micros_to_usd, KeyDayUsage, KeyHolderUsage, KeyModelUsage, KeyUsage};
use chrono::{DateTime, Duration, Utc};

use crate::limits::LiveUsage;
use crate::storage::reports::UsageSumRow;
use crate::storage::{now_ms, Store, StoreError};

/// Days of usage a key's report covers, today included.
pub const USAGE_DAYS: i64 = 30;

/// Longer than any key Tollgate issues: anything longer is not worth hashing.
const MAX_PRESENTED_LEN: usize = 512;

/// Why a key holder's lookup failed. Unknown and deleted keys are indistinguishable.
#[derive(Debug, thiserror::Error)]
pub enum HolderError {
    #[error("missing API key")]
    Missing,
    #[error("invalid API key")]
    Unknown,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The imported key salts could not be read (logged where it happened).
    #[error("key lookup unavailable")]
    Unavailable,
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn count(v: i64) -> u64 {
    v.max(0) as u64
}

/// Usage of `key_id` over the last [`USAGE_DAYS`] days in `tz`: every day (zeros included)
/// and every model, dearest first.
pub async fn recent_usage(
    store: &Store,
    tz: chrono_tz::Tz,
    key_id: &str,
    now: i64,
) -> Result<KeyUsage, StoreError> {
    let today = DateTime::from_timestamp_millis(now)
        .unwrap_or_default()
        .with_timezone(&tz)
        .date_naive();
    let first = today - Duration::days(USAGE_DAYS - 1);
    let (from, to) = (
        first.format("%Y-%m-%d").to_string(),
        today.format("%Y-%m-%d").to_string(),
    );
    let by_day = store.key_usage_by_day(key_id, &from, &to).await?;
    let by_model = store.key_usage_by_model(key_id, &from, &to).await?;
    let tokens = |r: &UsageSumRow| count(r.input_tokens + r.output_tokens + r.cache_tokens);
    let days = first
        .iter_days()
        .take_while(|d| *d <= today)
        .map(|d| {
            let label = d.format("%Y-%m-%d").to_string();
            match by_day.iter().find(|r| r.label == label) {
                Some(r) => KeyDayUsage {
                    requests: count(r.requests),
                    tokens: tokens(r),
                    cost: micros_to_usd(r.cost_micros),
                    day: label,
                },
                None => KeyDayUsage {
                    day: label,
                    ..Default::default()
                },
            }
        })
        .collect();
    let models = by_model
        .into_iter()
        .map(|r| KeyModelUsage {
            requests: count(r.requests),
            input_tokens: count(r.input_tokens),
            output_tokens: count(r.output_tokens),
            cache_tokens: count(r.cache_tokens),
            cost: micros_to_usd(r.cost_micros),
            model: r.label,
        })
        .collect();
    let start = first
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(tz).earliest())
        .map_or(0, |t| t.timestamp_millis());
    let estimated_requests = count(store.key_estimated_requests(key_id, start).await?);
    Ok(KeyUsage {
        days,
        models,
        estimated_requests,
    })
}

/// The key holder's view of the key they present.
/// `live_usage` gives this instance's live figures of a key, which are ahead of the database by
/// the requests not yet written.
/// `hashes` are what the key may be stored under (`KeyDirectory::stored_hashes`: Tollgate's
/// hash, or a `cr_` key's CRS hash under each imported salt).
pub async fn key_holder_usage(
    store: &Store,
    tz: chrono_tz::Tz,
    presented: &str,
    hashes: &[String],
    live_usage: impl FnOnce(&str) -> LiveUsage,
) -> Result<KeyHolderUsage, HolderError> {
    let presented = presented.trim();
    if presented.is_empty() {
        return Err(HolderError::Missing);
    }
    if presented.len() > MAX_PRESENTED_LEN {
        return Err(HolderError::Unknown);
    }
    let mut found = None;
    for hash in hashes {
        found = store.api_key_by_hash(hash).await?;
        if found.is_some() {
            break;
        }
    }
    let row = found.ok_or(HolderError::Unknown)?;
    let now = now_ms();
    let live = live_usage(&row.id);
    let spent = row.spent_micros.max(live.spent);
    let c = row.config()?;
    let to_u32 = |v: i64| v.clamp(0, i64::from(u32::MAX)) as u32;
    Ok(KeyHolderUsage {
        name: row.name.clone(),
        key_prefix: super::display_prefix(&row.key_prefix),
        status: row.status(now),
        quota_limit: micros_to_usd(row.quota_limit_micros),
        spent: micros_to_usd(spent),
        remaining: (row.quota_limit_micros > 0)
            .then(|| micros_to_usd((row.quota_limit_micros - spent - live.reserved).max(0))),
        expires_at: row.expiry().map(time),
        activation_days: row
            .activated_at
            .is_none()
            .then_some(row.activation_days)
            .flatten()
            .map(to_u32),
        concurrency_limit: to_u32(c.concurrency_limit),
        rate_limit_window: to_u32(c.rate_limit_window_min),
        rate_limit_requests: to_u32(c.rate_limit_requests),
        rate_limit_cost: micros_to_usd(c.rate_limit_cost_micros),
        daily_cost_limit: micros_to_usd(c.daily_cost_limit_micros),
        allowed_models: c.allowed_models,
        timezone: tz.name().to_owned(),
        usage: recent_usage(store, tz, &row.id, now).await?,
    })
}
