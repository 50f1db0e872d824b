//! A key as the API shows it: the stored row with this instance's live spend.

use app::error::AdminError;
use app::types::{micros_to_usd, ApiKey, When};
use chrono::{DateTime, Utc};

use super::AdminService;
use crate::admin::error::internal;
use crate::keys as key_rules;
use crate::storage::keys::KeyRow;

pub(crate) fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::UNIX_EPOCH)
}

fn to_u32(v: i64) -> u32 {
    v.clamp(0, i64::from(u32::MAX)) as u32
}

impl AdminService {
    pub(crate) fn api_key(&self, row: &KeyRow, now: i64) -> Result<ApiKey, AdminError> {
        let c = row.config().map_err(internal)?;
        let live = self.live_usage(&row.id);
        Ok(ApiKey {
            id: row.id.clone(),
            key_prefix: key_rules::display_prefix(&row.key_prefix),
            name: row.name.clone(),
            description: c.description,
            tags: c.tags,
            is_active: c.is_active,
            status: row.status(now),
            quota_limit: micros_to_usd(c.quota_limit_micros),
            expires_at: c
                .expires_at
                .and_then(|at| When::from_stored(at, c.expires_on.as_deref())),
            activation_days: c.activation_days.map(to_u32),
            activated_at: row.activated_at.map(time),
            concurrency_limit: to_u32(c.concurrency_limit),
            concurrent_request_queue_enabled: c.queue_enabled,
            concurrent_request_queue_max_size: to_u32(c.queue_max_size),
            concurrent_request_queue_timeout_ms: c.queue_timeout_ms.max(0) as u64,
            rate_limit_window: to_u32(c.rate_limit_window_min),
            rate_limit_requests: to_u32(c.rate_limit_requests),
            rate_limit_cost: micros_to_usd(c.rate_limit_cost_micros),
            daily_cost_limit: micros_to_usd(c.daily_cost_limit_micros),
            allowed_models: c.allowed_models,
            permissions: c.permissions,
            claude_account_id: c.claude_account_id,
            openai_account_id: c.openai_account_id,
            gemini_account_id: c.gemini_account_id,
            allow_pool_fallback: c.allow_pool_fallback,
            strict_max_tokens: c.strict_max_tokens,
            allow_server_tools: c.allow_server_tools,
            allowed_clients: c.restrictions.allowed_clients.clone(),
            allowed_cidrs: c.restrictions.allowed_cidrs.clone(),
            model_daily_cost_limits: c
                .restrictions
                .model_daily_cost_limits
                .iter()
                .map(|(f, m)| (f.clone(), micros_to_usd(*m)))
                .collect(),
            sale_price: micros_to_usd(c.sale_price_micros),
            currency: c.currency,
            preset_id: c.preset_id,
            // Settled spend reaches the database with the usage writer's next batch; this
            // instance's live figure is never behind it, so show the larger.
            spent: micros_to_usd(row.spent_micros.max(live.spent)),
            reserved: micros_to_usd(live.reserved),
            requests: row.requests.max(0) as u64,
            last_used_at: row.last_used_at.map(time),
            created_by: row.created_by_id.as_ref().map(|id| app::types::KeyCreator {
                id: id.clone(),
                name: row.created_by_name.clone().unwrap_or_default(),
            }),
            created_at: time(row.created_at),
            updated_at: time(row.updated_at),
        })
    }
}
