//! The "require TOTP" policy: off, admins only, or all staff (a `settings` row, changed by
//! admins only, audited). A user it applies to who has no second factor yet is marked on
//! their actor (`totp_setup_due`): the auth layer then lets them set one up and nothing else,
//! for sessions and REST tokens alike (a token issued before they enrol keeps working once they
//! have). Turning one's own second factor off is refused while the policy applies.

use app::error::AdminError;
use app::port::Actor;
use app::types::{Role, SecuritySettings, TotpPolicy};

use super::audit;
use super::error::internal;
use super::AdminService;
use crate::storage::admins::AdminRow;

/// The `settings` row of the policy; its value is the JSON string of [`TotpPolicy`].
pub const TOTP_POLICY_SETTING: &str = "totp_required";

/// Paths a user whose second factor is due may still use: who am I, sign out, set it up, and
/// the account page where that happens.
pub const TOTP_SETUP_PATHS: &[&str] = &[
    "/account",
    "/admin/auth/me",
    "/admin/auth/logout",
    "/admin/auth/totp/setup",
    "/admin/auth/totp/confirm",
    "/admin/fn/current_admin",
    "/admin/fn/logout",
    "/admin/fn/begin_totp",
    "/admin/fn/confirm_totp",
];

impl AdminService {
    /// The stored policy; unset or unreadable is `off`.
    pub(crate) async fn totp_policy(&self) -> Result<TotpPolicy, AdminError> {
        let stored = self
            .store
            .setting(TOTP_POLICY_SETTING)
            .await
            .map_err(internal)?;
        Ok(stored
            .and_then(|v| serde_json::from_str::<String>(&v).ok())
            .and_then(|v| TotpPolicy::parse(&v))
            .unwrap_or_default())
    }

    /// Whether the policy asks `row` for a second factor it does not have yet. Users who have
    /// one cost no settings read.
    pub(crate) async fn totp_setup_due(&self, row: &AdminRow) -> Result<bool, AdminError> {
        if row.totp_enabled {
            return Ok(false);
        }
        let role = Role::parse(&row.role).unwrap_or(Role::Viewer);
        Ok(self.totp_policy().await?.applies_to(role))
    }

    /// Refuses to turn a second factor off that the policy requires.
    pub(crate) async fn totp_may_be_turned_off(&self, role: Role) -> Result<(), AdminError> {
        if self.totp_policy().await?.applies_to(role) {
            return Err(AdminError::conflict(
                "two-step sign-in is required for your role; it cannot be turned off",
            ));
        }
        Ok(())
    }

    pub(crate) async fn read_security_settings(
        &self,
        actor: &Actor,
    ) -> Result<SecuritySettings, AdminError> {
        actor.require_admin()?;
        Ok(SecuritySettings {
            totp_required: self.totp_policy().await?,
        })
    }

    pub(crate) async fn write_security_settings(
        &self,
        actor: &Actor,
        input: SecuritySettings,
    ) -> Result<SecuritySettings, AdminError> {
        actor.require_admin()?;
        let before = self.totp_policy().await?;
        let after = input.totp_required;
        let event = audit::row(
            actor,
            "settings.update",
            "settings",
            "security",
            "security",
            serde_json::json!({ "totpRequired": [before.as_str(), after.as_str()] }),
        );
        let value = serde_json::Value::from(after.as_str()).to_string();
        self.store
            .put_settings(&[(TOTP_POLICY_SETTING, value)], Some(&event))
            .await
            .map_err(internal)?;
        tracing::info!(policy = after.as_str(), by = %actor.name, "TOTP policy changed");
        Ok(SecuritySettings {
            totp_required: after,
        })
    }
}
