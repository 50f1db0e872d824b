//! Server functions of the staff pages (users, audit trail) and of the signed-in user's own
//! account page (second factor). Each is one call into the admin service with the caller's
//! actor; the service decides what the role may do.

use leptos::prelude::*;
use server_fn::codec::Json;

use crate::error::AdminError;
use crate::types::{
    AuditPage, AuditQuery, SavedUser, SecuritySettings, StaffUser, TotpEnabled, TotpSetup,
    UserInput, UserPatch,
};

#[server(prefix = "/admin/fn", endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<StaffUser>, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .list_users(&actor)
        .await
        .map_err(fail)
}

#[server(name = CreateUserFn, prefix = "/admin/fn", endpoint = "create_user", input = Json)]
pub async fn create_user(input: UserInput) -> Result<SavedUser, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .create_user(&actor, input)
        .await
        .map_err(fail)
}

#[server(name = UpdateUserFn, prefix = "/admin/fn", endpoint = "update_user", input = Json)]
pub async fn update_user(id: String, patch: UserPatch) -> Result<SavedUser, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .update_user(&actor, &id, patch)
        .await
        .map_err(fail)
}

#[server(name = DeleteUserFn, prefix = "/admin/fn", endpoint = "delete_user", input = Json)]
pub async fn delete_user(id: String) -> Result<(), AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .delete_user(&actor, &id)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "list_audit_events", input = Json)]
pub async fn list_audit_events(query: AuditQuery) -> Result<AuditPage, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .list_audit_events(&actor, query)
        .await
        .map_err(fail)
}

#[server(name = BeginTotpFn, prefix = "/admin/fn", endpoint = "begin_totp")]
pub async fn begin_totp() -> Result<TotpSetup, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .begin_totp(&actor)
        .await
        .map_err(fail)
}

#[server(name = ConfirmTotpFn, prefix = "/admin/fn", endpoint = "confirm_totp")]
pub async fn confirm_totp(code: String) -> Result<TotpEnabled, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .confirm_totp(&actor, &code)
        .await
        .map_err(fail)
}

#[server(name = DisableTotpFn, prefix = "/admin/fn", endpoint = "disable_totp")]
pub async fn disable_totp(password: String) -> Result<(), AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .disable_totp(&actor, &password)
        .await
        .map_err(fail)
}

#[server(name = SecuritySettingsFn, prefix = "/admin/fn", endpoint = "security_settings")]
pub async fn security_settings() -> Result<SecuritySettings, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .security_settings(&actor)
        .await
        .map_err(fail)
}

#[server(
    name = SaveSecuritySettingsFn,
    prefix = "/admin/fn",
    endpoint = "save_security_settings",
    input = Json
)]
pub async fn save_security_settings(
    input: SecuritySettings,
) -> Result<SecuritySettings, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .save_security_settings(&actor, input)
        .await
        .map_err(fail)
}
