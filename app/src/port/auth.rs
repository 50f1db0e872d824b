use async_trait::async_trait;

use super::Actor;
use crate::error::AdminError;
use crate::types::{AdminInfo, OverviewCounts, TotpEnabled, TotpSetup};

#[async_trait]
pub trait AuthPort {
    /// Checks a username and password, with throttling per client address and per username.
    async fn verify_login(
        &self,
        username: &str,
        password: &str,
        totp: Option<&str>,
        ip: std::net::IpAddr,
    ) -> Result<AdminInfo, AdminError>;

    /// The actor behind a session or token: the user's current role and presets. `None` when
    /// the user is gone or disabled (the caller answers 401).
    async fn resolve_actor(
        &self,
        user_id: &str,
        client_addr: String,
    ) -> Result<Option<Actor>, AdminError>;

    /// Starts setting up the actor's own second factor: a new secret, not active until
    /// [`AuthPort::confirm_totp`] sees a code from it.
    async fn begin_totp(&self, actor: &Actor) -> Result<TotpSetup, AdminError>;

    /// Turns the second factor on after checking `code`; returns the recovery codes once.
    async fn confirm_totp(&self, actor: &Actor, code: &str) -> Result<TotpEnabled, AdminError>;

    /// Turns the actor's own second factor off, after checking their password.
    async fn disable_totp(&self, actor: &Actor, password: &str) -> Result<(), AdminError>;

    /// The signed-in user, for `GET /admin/auth/me` and the dashboard's header.
    async fn admin_info(&self, actor: &Actor) -> Result<AdminInfo, AdminError>;

    /// Changes the password after checking the current one; ends every session and token of this
    /// admin (the dashboard signs in again).
    async fn change_password(
        &self,
        actor: &Actor,
        current: &str,
        new_password: &str,
    ) -> Result<(), AdminError>;

    /// Counts for the overview page.
    async fn overview_counts(&self, actor: &Actor) -> Result<OverviewCounts, AdminError>;
}
