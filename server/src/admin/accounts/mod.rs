//! Upstream accounts and account groups: validation (`crate::accounts::validate`), credentials
//! at rest, the scheduler's snapshot kept in step, and the rules that keep the three scheduling
//! modes unambiguous: only `group` accounts join groups, and neither an account nor a group can
//! be deleted or repurposed while keys are bound to it.
//!
//! `write` turns validated settings into stored rows, `groups` holds the group operations,
//! `view` joins rows with live state for display, `probe` is the account test, `budgets` the
//! account budgets.

mod budgets;
mod groups;
mod probe;
mod view;
mod write;

use std::collections::HashMap;

use app::error::AdminError;
use app::port::{AccountsPort, Actor};
use app::types::{
    Account, AccountEvent, AccountGroup, AccountInput, AccountPatch, AccountStatus,
    AccountTestResult, BudgetAlert, BudgetTopUp, GroupInput, GroupMembers, GroupPatch,
};
use async_trait::async_trait;

use super::error::internal;
use super::AdminService;
use crate::storage::accounts::AccountRow;
use view::event_view;

impl AdminService {
    pub(super) async fn load_account(&self, id: &str) -> Result<AccountRow, AdminError> {
        self.store
            .get_account(id)
            .await
            .map_err(internal)?
            .ok_or_else(|| AdminError::not_found("account"))
    }

    /// The ids of the groups the account `id` is a member of.
    pub(super) async fn groups_of(&self, id: &str) -> Result<Vec<String>, AdminError> {
        Ok(self
            .store
            .group_memberships()
            .await
            .map_err(internal)?
            .into_iter()
            .filter(|(_, a)| a == id)
            .map(|(g, _)| g)
            .collect())
    }

    pub(super) async fn account_by_id(&self, id: &str) -> Result<Account, AdminError> {
        let row = self.load_account(id).await?;
        let groups = self.groups_of(id).await?;
        let last_error = self
            .store
            .account_events(id, 20)
            .await
            .map_err(internal)?
            .iter()
            .find(|e| e.status != "active")
            .map(event_view);
        let (bound, _) = self.store.keys_bound_to(id, 0).await.map_err(internal)?;
        let mut account = self.account_view(&row, groups, last_error, bound as u64);
        account.budget = self.budget_view(id).await?;
        Ok(account)
    }

    pub(super) async fn refresh_scheduler(&self) -> Result<(), AdminError> {
        self.relay.pool_changed().await.map_err(|e| {
            tracing::error!(error = %e, "reloading the account pool failed");
            AdminError::Internal
        })
    }

    /// Refuses when keys are bound to `binding`, naming a few of them.
    pub(super) async fn refuse_if_bound(
        &self,
        binding: &str,
        what: &str,
    ) -> Result<(), AdminError> {
        let (count, keys) = self
            .store
            .keys_bound_to(binding, 5)
            .await
            .map_err(internal)?;
        if count > 0 {
            let names: Vec<String> = keys.into_iter().map(|(_, n)| n).collect();
            let more = if count as usize > names.len() {
                format!(" and {} more", count as usize - names.len())
            } else {
                String::new()
            };
            return Err(AdminError::conflict(format!(
                "{what} is still bound to {count} key(s): {}{more}; rebind or delete them first",
                names.join(", ")
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl AccountsPort for AdminService {
    async fn list_accounts(&self, actor: &Actor) -> Result<Vec<Account>, AdminError> {
        actor.require_reader()?;
        let rows = self.store.list_accounts().await.map_err(internal)?;
        let memberships = self.store.group_memberships().await.map_err(internal)?;
        let mut groups_of: HashMap<&str, Vec<String>> = HashMap::new();
        for (g, a) in &memberships {
            groups_of.entry(a.as_str()).or_default().push(g.clone());
        }
        let last_errors: HashMap<String, AccountEvent> = self
            .store
            .last_account_errors()
            .await
            .map_err(internal)?
            .iter()
            .map(|e| (e.account_id.clone(), event_view(e)))
            .collect();
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let (bound, _) = self
                .store
                .keys_bound_to(&row.id, 0)
                .await
                .map_err(internal)?;
            let mut account = self.account_view(
                row,
                groups_of.remove(row.id.as_str()).unwrap_or_default(),
                last_errors.get(&row.id).cloned(),
                bound as u64,
            );
            account.budget = self.budget_view(&row.id).await?;
            out.push(account);
        }
        Ok(out)
    }

    async fn get_account(&self, actor: &Actor, id: &str) -> Result<Account, AdminError> {
        actor.require_reader()?;
        self.account_by_id(id).await
    }

    async fn create_account(
        &self,
        actor: &Actor,
        input: AccountInput,
    ) -> Result<Account, AdminError> {
        actor.require_admin()?;
        self.insert_account(actor, input).await
    }

    async fn update_account(
        &self,
        actor: &Actor,
        id: &str,
        mut patch: AccountPatch,
    ) -> Result<Account, AdminError> {
        actor.require_admin()?;
        let budget = patch.budget.take();
        if let Some(budget) = budget {
            self.load_account(id).await?;
            self.apply_budget(actor, id, budget).await?;
        }
        self.patch_account(actor, id, patch).await
    }

    async fn top_up_budget(
        &self,
        actor: &Actor,
        id: &str,
        input: BudgetTopUp,
    ) -> Result<Account, AdminError> {
        actor.require_admin()?;
        self.add_top_up(actor, id, input).await?;
        self.account_by_id(id).await
    }

    async fn budget_alerts(&self, actor: &Actor) -> Result<Vec<BudgetAlert>, AdminError> {
        actor.require_reader()?;
        self.budget_report().await
    }

    async fn delete_account(&self, actor: &Actor, id: &str) -> Result<(), AdminError> {
        actor.require_admin()?;
        let row = self.load_account(id).await?;
        self.refuse_if_bound(id, "this account").await?;
        let event = super::audit::row(
            actor,
            "account.delete",
            "account",
            id,
            &row.name,
            serde_json::json!({}),
        );
        self.store
            .delete_account(id, Some(&event))
            .await
            .map_err(internal)?;
        self.refresh_scheduler().await?;
        tracing::info!(account = %id, "account deleted");
        Ok(())
    }

    async fn test_account(&self, actor: &Actor, id: &str) -> Result<AccountTestResult, AdminError> {
        actor.require_admin()?;
        let row = self.load_account(id).await?;
        let result = self.probe_account(id).await?;
        // A test changes no stored setting (only the live health, persisted by the recorder):
        // its audit row stands alone.
        self.audit_event(super::audit::row(
            actor,
            "account.test",
            "account",
            id,
            &row.name,
            serde_json::json!({ "ok": result.ok, "httpStatus": result.http_status }),
        ))
        .await;
        if result.ok {
            // A successful test clears an error state (e.g. after the credential was replaced).
            let health = self.relay.pool().live().health(id);
            if health.status != AccountStatus::Active {
                self.relay
                    .pool()
                    .reset_account(id, self.relay.pool().now_ms());
            }
        } else if result.http_status == Some(401) {
            // A failed probe: our own valid request refused for the credential.
            let message = result.error.clone().unwrap_or_default();
            self.relay
                .pool()
                .credential_refused(id, 401, message, self.relay.pool().now_ms());
        }
        Ok(result)
    }

    async fn reset_account_status(&self, actor: &Actor, id: &str) -> Result<Account, AdminError> {
        actor.require_admin()?;
        let row = self.load_account(id).await?;
        self.relay
            .pool()
            .reset_account(id, self.relay.pool().now_ms());
        // Persist at once so the answer (and a restart) sees it, not only the recorder; the
        // audit row commits with it.
        let event = super::audit::row(
            actor,
            "account.reset_status",
            "account",
            id,
            &row.name,
            serde_json::json!({ "status": [row.status, AccountStatus::Active.as_str()] }),
        );
        self.store
            .reset_account_state(
                id,
                AccountStatus::Active.as_str(),
                "reset by an administrator",
                &event,
            )
            .await
            .map_err(internal)?;
        self.account_by_id(id).await
    }

    async fn account_events(
        &self,
        actor: &Actor,
        id: &str,
        limit: u32,
    ) -> Result<Vec<AccountEvent>, AdminError> {
        actor.require_reader()?;
        self.load_account(id).await?;
        let rows = self
            .store
            .account_events(id, limit.clamp(1, 500) as i64)
            .await
            .map_err(internal)?;
        Ok(rows.iter().map(event_view).collect())
    }

    async fn list_groups(&self, actor: &Actor) -> Result<Vec<AccountGroup>, AdminError> {
        actor.require_reader()?;
        self.all_groups().await
    }

    async fn get_group(&self, actor: &Actor, id: &str) -> Result<AccountGroup, AdminError> {
        actor.require_reader()?;
        self.group_by_id(id).await
    }

    async fn create_group(
        &self,
        actor: &Actor,
        input: GroupInput,
    ) -> Result<AccountGroup, AdminError> {
        actor.require_admin()?;
        self.insert_group(actor, input).await
    }

    async fn update_group(
        &self,
        actor: &Actor,
        id: &str,
        patch: GroupPatch,
    ) -> Result<AccountGroup, AdminError> {
        actor.require_admin()?;
        self.patch_group(actor, id, patch).await
    }

    async fn delete_group(&self, actor: &Actor, id: &str) -> Result<(), AdminError> {
        actor.require_admin()?;
        self.remove_group(actor, id).await
    }

    async fn set_group_members(
        &self,
        actor: &Actor,
        id: &str,
        members: GroupMembers,
    ) -> Result<AccountGroup, AdminError> {
        actor.require_admin()?;
        self.replace_group_members(actor, id, members).await
    }
}
