use async_trait::async_trait;

use crate::error::AdminError;
use crate::types::{AdminInfo, OverviewCounts};

#[async_trait]
pub trait AuthPort {
    /// Checks a username and password, with throttling per client address and per username.
    async fn verify_login(
        &self,
        username: &str,
        password: &str,
        ip: std::net::IpAddr,
    ) -> Result<AdminInfo, AdminError>;

    /// Looks up the administrator behind a session or token.
    async fn admin_info(&self, admin_id: &str) -> Result<AdminInfo, AdminError>;

    /// Changes the password after checking the current one; ends every session and token of this
    /// admin (the dashboard signs in again).
    async fn change_password(
        &self,
        admin_id: &str,
        current: &str,
        new_password: &str,
    ) -> Result<(), AdminError>;

    /// Counts for the overview page.
    async fn overview_counts(&self) -> Result<OverviewCounts, AdminError>;
}
