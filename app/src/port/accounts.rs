use async_trait::async_trait;

use crate::error::AdminError;
use crate::types::{
    Account, AccountEvent, AccountGroup, AccountInput, AccountPatch, AccountTestResult,
    BudgetAlert, BudgetTopUp, GroupInput, GroupMembers, GroupPatch,
};

/// Upstream accounts and account groups.
#[async_trait]
pub trait AccountsPort {
    async fn list_accounts(&self) -> Result<Vec<Account>, AdminError>;
    async fn get_account(&self, id: &str) -> Result<Account, AdminError>;
    async fn create_account(&self, input: AccountInput) -> Result<Account, AdminError>;
    async fn update_account(&self, id: &str, patch: AccountPatch) -> Result<Account, AdminError>;
    /// Refused while keys are bound to the account.
    async fn delete_account(&self, id: &str) -> Result<(), AdminError>;
    /// A tiny real request through the account's own proxy.
    async fn test_account(&self, id: &str) -> Result<AccountTestResult, AdminError>;
    /// Back to `active`, clearing cooldowns and errors.
    async fn reset_account_status(&self, id: &str) -> Result<Account, AdminError>;
    async fn account_events(&self, id: &str, limit: u32) -> Result<Vec<AccountEvent>, AdminError>;
    /// Adds a dated top-up to the account's prepaid budget.
    async fn top_up_budget(
        &self,
        actor: &str,
        id: &str,
        input: BudgetTopUp,
    ) -> Result<Account, AdminError>;
    /// Every account budget and where it stands (a report: announces nothing).
    async fn budget_alerts(&self) -> Result<Vec<BudgetAlert>, AdminError>;

    async fn list_groups(&self) -> Result<Vec<AccountGroup>, AdminError>;
    async fn get_group(&self, id: &str) -> Result<AccountGroup, AdminError>;
    async fn create_group(&self, input: GroupInput) -> Result<AccountGroup, AdminError>;
    async fn update_group(&self, id: &str, patch: GroupPatch) -> Result<AccountGroup, AdminError>;
    /// Refused while keys are bound to the group (naming them).
    async fn delete_group(&self, id: &str) -> Result<(), AdminError>;
    async fn set_group_members(
        &self,
        id: &str,
        members: GroupMembers,
    ) -> Result<AccountGroup, AdminError>;
}
