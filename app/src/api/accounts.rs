//! Server functions of the accounts and groups pages.

use leptos::prelude::*;
use server_fn::codec::Json;

use crate::error::AdminError;
use crate::types::{
    Account, AccountEvent, AccountGroup, AccountInput, AccountTestResult, GroupInput, GroupPatch,
};

#[server(prefix = "/admin/fn", endpoint = "list_accounts")]
pub async fn list_accounts() -> Result<Vec<Account>, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .list_accounts(&actor)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "create_account", input = Json)]
pub async fn create_account(input: AccountInput) -> Result<Account, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .create_account(&actor, input)
        .await
        .map_err(fail)
}

/// `patch` is a JSON object of the fields to change (an `AccountPatch`): an absent field stays
/// as it is and `null` clears it, which a typed argument could not tell apart on the wire.
#[server(prefix = "/admin/fn", endpoint = "update_account", input = Json)]
pub async fn update_account(id: String, patch: serde_json::Value) -> Result<Account, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    let patch: crate::types::AccountPatch = serde_json::from_value(patch)
        .map_err(|e| fail(AdminError::validation("patch", e.to_string())))?;
    crate::port::admin_service()?
        .update_account(&actor, &id, patch)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "delete_account", input = Json)]
pub async fn delete_account(id: String) -> Result<(), AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .delete_account(&actor, &id)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "test_account", input = Json)]
pub async fn test_account(id: String) -> Result<AccountTestResult, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .test_account(&actor, &id)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "reset_account_status", input = Json)]
pub async fn reset_account_status(id: String) -> Result<Account, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .reset_account_status(&actor, &id)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "account_events", input = Json)]
pub async fn account_events(id: String, limit: u32) -> Result<Vec<AccountEvent>, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .account_events(&actor, &id, limit)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "list_groups")]
pub async fn list_groups() -> Result<Vec<AccountGroup>, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .list_groups(&actor)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "create_group", input = Json)]
pub async fn create_group(input: GroupInput) -> Result<AccountGroup, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .create_group(&actor, input)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "update_group", input = Json)]
pub async fn update_group(id: String, patch: GroupPatch) -> Result<AccountGroup, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .update_group(&actor, &id, patch)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "delete_group", input = Json)]
pub async fn delete_group(id: String) -> Result<(), AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .delete_group(&actor, &id)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "set_group_members", input = Json)]
pub async fn set_group_members(
    id: String,
    account_ids: Vec<String>,
) -> Result<AccountGroup, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .set_group_members(&actor, &id, crate::types::GroupMembers { account_ids })
        .await
        .map_err(fail)
}
