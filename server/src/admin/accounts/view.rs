//! Accounts and groups as the API shows them: stored rows joined with the scheduler's live
//! state (status, cooldown, in flight, 24 h traffic) and the keys bound to them.

use app::error::AdminError;
use app::types::{
    micros_to_usd, Account, AccountEvent, AccountGroup, AccountStats, AccountStatus, AccountType,
    KeyRef, Platform,
};
use chrono::{DateTime, Utc};

use super::internal;
use super::AdminService;
use crate::storage::accounts::{AccountEventRow, AccountRow};
use crate::storage::groups::GroupRow;
use crate::storage::now_ms;

pub(super) fn ts(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

pub(super) fn event_view(e: &AccountEventRow) -> AccountEvent {
    AccountEvent {
        at: ts(e.at),
        status: AccountStatus::parse(&e.status).unwrap_or_default(),
        http_status: e.http_status.and_then(|s| u16::try_from(s).ok()),
        message: e.message.clone(),
    }
}

impl AdminService {
    pub(super) fn account_view(
        &self,
        row: &AccountRow,
        groups: Vec<String>,
        last_error: Option<AccountEvent>,
        bound_keys: u64,
    ) -> Account {
        let scheduler = self.relay.pool();
        let (status, cooldown_until, message) = scheduler.display_status(&row.id, row.is_active);
        let traffic = scheduler.live().traffic(&row.id, now_ms());
        let extra: crate::scheduler::pool::AccountExtra =
            serde_json::from_str(&row.extra).unwrap_or_default();
        Account {
            id: row.id.clone(),
            name: row.name.clone(),
            platform: Platform::parse(&row.platform).unwrap_or(Platform::Claude),
            account_type: AccountType::parse(&row.account_type).unwrap_or_default(),
            api_key_hint: row.api_key_hint.clone(),
            base_url: row.base_url.clone(),
            proxy: row.proxy_hint.clone(),
            priority: row.priority.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
            is_active: row.is_active,
            schedulable: row.schedulable,
            status,
            status_message: Some(message).filter(|m| !m.is_empty()),
            status_changed_at: row.status_changed_at.map(ts),
            cooldown_until: cooldown_until.filter(|c| *c > now_ms()).map(ts),
            supported_models: serde_json::from_str(&row.supported_models).unwrap_or_default(),
            model_mapping: serde_json::from_str(&row.model_mapping).unwrap_or_default(),
            max_concurrency: row
                .max_concurrency
                .map(|m| m.clamp(0, u32::MAX as i64) as u32),
            monthly_cost: micros_to_usd(row.monthly_cost_micros),
            notes: row.notes.clone(),
            azure_deployment: extra.azure_deployment,
            azure_api_version: extra.azure_api_version,
            first_token_timeout_ms: extra.first_token_timeout_ms,
            group_ids: groups,
            created_at: ts(row.created_at),
            updated_at: ts(row.updated_at),
            last_used_at: row.last_used_at.map(ts),
            in_flight: scheduler.live().in_flight(&row.id),
            last_error,
            stats24h: AccountStats {
                requests: traffic.requests,
                errors: traffic.errors,
                overloaded: traffic.overloaded,
            },
            bound_keys,
            budget: None,
        }
    }

    pub(super) async fn group_view(
        &self,
        row: &GroupRow,
        members: &[(String, String)],
    ) -> Result<AccountGroup, AdminError> {
        let (count, keys) = self
            .store
            .keys_bound_to(&format!("group:{}", row.id), 50)
            .await
            .map_err(internal)?;
        Ok(AccountGroup {
            id: row.id.clone(),
            name: row.name.clone(),
            platform: Platform::parse(&row.platform).unwrap_or(Platform::Claude),
            description: row.description.clone(),
            account_ids: members
                .iter()
                .filter(|(g, _)| *g == row.id)
                .map(|(_, a)| a.clone())
                .collect(),
            bound_keys: keys
                .into_iter()
                .map(|(id, name)| KeyRef { id, name })
                .collect(),
            bound_key_count: count as u64,
            sticky_mode: if row.sticky_mode.is_empty() {
                "grace".into()
            } else {
                row.sticky_mode.clone()
            },
            created_at: ts(row.created_at),
            updated_at: ts(row.updated_at),
        })
    }
}
