use leptos::prelude::*;

use crate::error::AdminError;
use crate::types::{AdminInfo, OverviewCounts};

/// Session key under which the signed-in staff user's id is stored.
pub const SESSION_ADMIN_KEY: &str = "admin_id";

/// Signs in with the dashboard form; sets the session cookie and redirects to the overview.
#[server(prefix = "/admin/fn", endpoint = "login")]
pub async fn login(
    username: String,
    password: String,
    #[server(default)] totp: Option<String>,
) -> Result<(), AdminError> {
    use crate::api::support::*;
    let admin = crate::port::admin_service()?;
    let totp = totp.filter(|t| !t.trim().is_empty());
    let info = admin
        .verify_login(&username, &password, totp.as_deref(), client_ip())
        .await
        .map_err(fail)?;
    let session = session()?;
    // A fresh session id at privilege change prevents session fixation.
    session
        .cycle_id()
        .await
        .map_err(|_| fail(AdminError::Internal))?;
    session
        .insert(SESSION_ADMIN_KEY, &info.id)
        .await
        .map_err(|_| fail(AdminError::Internal))?;
    // A second factor the policy requires comes first; then sellers land on their keys page,
    // everyone else on the overview.
    let home = if info.totp_setup_required {
        "/account"
    } else {
        crate::pages::home_of(info.role)
    };
    leptos_axum::redirect(home);
    Ok(())
}

/// Ends the session (the cookie becomes worthless server-side) and goes to the login page.
#[server(prefix = "/admin/fn", endpoint = "logout")]
pub async fn logout() -> Result<(), AdminError> {
    use crate::api::support::*;
    let session = session()?;
    session
        .flush()
        .await
        .map_err(|_| fail(AdminError::Internal))?;
    leptos_axum::redirect("/login");
    Ok(())
}

#[server(prefix = "/admin/fn", endpoint = "current_admin")]
pub async fn current_admin() -> Result<AdminInfo, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .admin_info(&actor)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "change_password")]
pub async fn change_password(current: String, new_password: String) -> Result<(), AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .change_password(&actor, &current, &new_password)
        .await
        .map_err(fail)?;
    leptos_axum::redirect("/login?changed=1");
    Ok(())
}

#[server(prefix = "/admin/fn", endpoint = "load_overview")]
pub async fn load_overview() -> Result<OverviewCounts, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .overview_counts(&actor)
        .await
        .map_err(fail)
}
