//! Reading the audit trail. How a row is built (who, from where, what, the summary without
//! secrets) is `storage::audit_row`, re-exported here for the admin service's writes.

use app::error::AdminError;
use app::port::Actor;
use app::types::{AuditEvent, AuditPage, AuditQuery};
use serde_json::Value;

use super::error::internal;
use super::AdminService;
use crate::storage::audit::{AuditFilter, AuditRow};
pub use crate::storage::audit_row::{created, diff, json, row};

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = app::types::AUDIT_MAX_PAGE_SIZE;

fn event(row: AuditRow) -> AuditEvent {
    AuditEvent {
        id: row.id,
        at: chrono::DateTime::from_timestamp_millis(row.created_at).unwrap_or_default(),
        actor_id: row.actor_id,
        actor_name: row.actor_name,
        client_addr: row.client_addr,
        action: row.action,
        target_type: row.target_type,
        target_id: row.target_id,
        target_name: row.target_name,
        summary: serde_json::from_str(&row.summary).unwrap_or(Value::Null),
    }
}

fn term(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

impl AdminService {
    /// Writes an event that changes nothing else (sign-ins). A failure is logged, never fatal.
    pub(crate) async fn audit_event(&self, row: AuditRow) {
        if let Err(e) = self.store.insert_audit_event(&row).await {
            tracing::error!(error = %e, action = %row.action, "writing an audit event failed");
        }
    }

    pub(crate) async fn audit_page(
        &self,
        actor: &Actor,
        query: AuditQuery,
    ) -> Result<AuditPage, AdminError> {
        actor.require_admin()?;
        let page = query.page.unwrap_or(1);
        if page == 0 {
            return Err(AdminError::validation("page", "must be 1 or more"));
        }
        let page_size = query.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(AdminError::validation(
                "pageSize",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        let filter = AuditFilter {
            actor_id: term(&query.actor_id),
            action: term(&query.action),
            target_type: term(&query.target_type),
            target_id: term(&query.target_id),
            since: query.since,
            until: query.until,
        };
        let offset = i64::from(page - 1) * i64::from(page_size);
        let (rows, total) = self
            .store
            .list_audit_events(&filter, i64::from(page_size), offset)
            .await
            .map_err(internal)?;
        Ok(AuditPage {
            items: rows.into_iter().map(event).collect(),
            total: total.max(0) as u64,
            page,
            page_size,
        })
    }
}
