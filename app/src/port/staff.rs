use async_trait::async_trait;

use super::Actor;
use crate::error::AdminError;
use crate::types::{
    AuditPage, AuditQuery, SavedUser, SecuritySettings, StaffUser, UserInput, UserPatch,
};

/// Staff users (admins only) and the audit trail.
#[async_trait]
pub trait StaffPort {
    async fn list_users(&self, actor: &Actor) -> Result<Vec<StaffUser>, AdminError>;
    async fn get_user(&self, actor: &Actor, id: &str) -> Result<StaffUser, AdminError>;
    /// Without a password, one is generated and returned once in `password`.
    async fn create_user(&self, actor: &Actor, input: UserInput) -> Result<SavedUser, AdminError>;
    /// A change of role, disabling, or a password reset ends the user's sessions and tokens.
    /// The last active admin cannot be disabled or demoted.
    async fn update_user(
        &self,
        actor: &Actor,
        id: &str,
        patch: UserPatch,
    ) -> Result<SavedUser, AdminError>;
    /// The user's keys keep their creator's id and name. The last active admin cannot go.
    async fn delete_user(&self, actor: &Actor, id: &str) -> Result<(), AdminError>;

    /// One page of the audit trail, newest first.
    async fn list_audit_events(
        &self,
        actor: &Actor,
        query: AuditQuery,
    ) -> Result<AuditPage, AdminError>;

    /// The "require TOTP" policy (admins only).
    async fn security_settings(&self, actor: &Actor) -> Result<SecuritySettings, AdminError>;

    /// Changes the "require TOTP" policy (admins only, audited).
    async fn save_security_settings(
        &self,
        actor: &Actor,
        input: SecuritySettings,
    ) -> Result<SecuritySettings, AdminError>;
}
