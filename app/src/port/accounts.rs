use async_trait::async_trait;

use super::Actor;
use crate::error::AdminError;
use crate::types::{
    Account, AccountEvent, AccountGroup, AccountInput, AccountPatch, AccountTestResult,
    BudgetAlert, BudgetTopUp, GroupInput, GroupMembers, GroupPatch,
};

/// Upstream accounts and account groups.
#[async_trait]
pub trait AccountsPort {
    async fn list_accounts(&self, actor: &Actor) -> Result<Vec<Account>, AdminError>;
    async fn get_account(&self, actor: &Actor, id: &str) -> Result<Account, AdminError>;
    async fn create_account(
        &self,
        actor: &Actor,
        input: AccountInput,
    ) -> Result<Account, AdminError>;
    async fn update_account(
        &self,
        actor: &Actor,
        id: &str,
        patch: AccountPatch,
    ) -> Result<Account, AdminError>;
    /// Refused while keys are bound to the account.
    async fn delete_account(&self, actor: &Actor, id: &str) -> Result<(), AdminError>;
    /// A tiny real request through the account's own proxy.
    async fn test_account(&self, actor: &Actor, id: &str) -> Result<AccountTestResult, AdminError>;
    /// Back to `active`, clearing cooldowns and errors.
    async fn reset_account_status(&self, actor: &Actor, id: &str) -> Result<Account, AdminError>;
    async fn account_events(
        &self,
        actor: &Actor,
        id: &str,
        limit: u32,
    ) -> Result<Vec<AccountEvent>, AdminError>;
    /// Adds a dated top-up to the account's prepaid budget.
    async fn top_up_budget(
        &self,
        actor: &Actor,
        id: &str,
        input: BudgetTopUp,
    ) -> Result<Account, AdminError>;
    /// Every account budget and where it stands (a report: announces nothing).
    async fn budget_alerts(&self, actor: &Actor) -> Result<Vec<BudgetAlert>, AdminError>;

    async fn list_groups(&self, actor: &Actor) -> Result<Vec<AccountGroup>, AdminError>;
    async fn get_group(&self, actor: &Actor, id: &str) -> Result<AccountGroup, AdminError>;
    async fn create_group(
        &self,
        actor: &Actor,
        input: GroupInput,
    ) -> Result<AccountGroup, AdminError>;
    async fn update_group(
        &self,
        actor: &Actor,
        id: &str,
        patch: GroupPatch,
    ) -> Result<AccountGroup, AdminError>;
    /// Refused while keys are bound to the group (naming them).
    async fn delete_group(&self, actor: &Actor, id: &str) -> Result<(), AdminError>;
    async fn set_group_members(
        &self,
        actor: &Actor,
        id: &str,
        members: GroupMembers,
    ) -> Result<AccountGroup, AdminError>;
}
