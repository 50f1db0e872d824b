//! Who is calling the admin service, and the one permission rule every admin operation asks.
//!
//! The server's auth layer resolves the session or bearer token to an [`Actor`] (the user's
//! current role and allowed presets, read from the database on every request) and both front
//! doors, the REST API and the server functions, pass it into every admin service call. The
//! service asks the actor before it does anything; hiding buttons in the dashboard is only a
//! convenience on top.

use crate::error::AdminError;
use crate::types::Role;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub id: String,
    /// The username, as recorded in the audit trail and on keys the actor creates.
    pub name: String,
    pub role: Role,
    /// For sellers: the presets they may sell from.
    pub allowed_preset_ids: Vec<String>,
    /// The client address (after trusted proxy headers), for the audit trail.
    pub client_addr: String,
    /// The "require TOTP" policy applies and the user has no second factor yet: the auth layer
    /// lets them set one up and nothing else.
    pub totp_setup_due: bool,
}

/// The audit trail's user id for command-line actions.
pub const CLI_ACTOR_ID: &str = "cli";

impl Actor {
    /// The command line: an administrator named `cli`.
    pub fn cli() -> Actor {
        Actor {
            id: CLI_ACTOR_ID.into(),
            name: CLI_ACTOR_ID.into(),
            role: Role::Admin,
            allowed_preset_ids: Vec::new(),
            client_addr: "local".into(),
            totp_setup_due: false,
        }
    }

    /// Background work of the server itself (scheduled cleanups), recorded as `system`.
    pub fn system() -> Actor {
        Actor {
            id: "system".into(),
            name: "system".into(),
            role: Role::Admin,
            allowed_preset_ids: Vec::new(),
            client_addr: "local".into(),
            totp_setup_due: false,
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn is_seller(&self) -> bool {
        self.role == Role::Seller
    }

    /// Everything that changes the product's configuration, staff, secrets or upstreams.
    pub fn require_admin(&self) -> Result<(), AdminError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(AdminError::forbidden("this needs the admin role"))
        }
    }

    /// Read-only views of the whole business (accounts, groups, pricing, reports): admins and
    /// viewers.
    pub fn require_reader(&self) -> Result<(), AdminError> {
        match self.role {
            Role::Admin | Role::Viewer => Ok(()),
            Role::Seller => Err(AdminError::forbidden("sellers cannot see this")),
        }
    }

    /// Creating and changing keys: admins, and sellers (within their presets and own keys).
    pub fn require_key_writer(&self) -> Result<(), AdminError> {
        match self.role {
            Role::Admin | Role::Seller => Ok(()),
            Role::Viewer => Err(AdminError::forbidden("viewers cannot change keys")),
        }
    }

    /// Selling from `preset_id`: any preset for admins, an allowed one for sellers.
    pub fn require_preset(&self, preset_id: &str) -> Result<(), AdminError> {
        self.require_key_writer()?;
        if self.is_admin() || self.allowed_preset_ids.iter().any(|p| p == preset_id) {
            Ok(())
        } else {
            Err(AdminError::forbidden(format!(
                "preset '{preset_id}' is not allowed for this seller"
            )))
        }
    }

    /// Whether the actor may see a preset at all (sellers: only their allowed ones).
    pub fn can_see_preset(&self, preset_id: &str) -> bool {
        !self.is_seller() || self.allowed_preset_ids.iter().any(|p| p == preset_id)
    }

    /// Whether a key created by `created_by` (a user id) is visible to the actor: every key for
    /// admins and viewers, their own keys for sellers. A key that is not visible is reported
    /// as not found, never as forbidden, so a seller cannot probe other sellers' key ids.
    pub fn can_see_key(&self, created_by: Option<&str>) -> bool {
        !self.is_seller() || created_by == Some(self.id.as_str())
    }

    /// The creator every key list of this actor is limited to (sellers: themselves).
    pub fn key_owner_scope(&self) -> Option<&str> {
        self.is_seller().then_some(self.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role, presets: &[&str]) -> Actor {
        Actor {
            id: "u1".into(),
            name: "u".into(),
            role,
            allowed_preset_ids: presets.iter().map(|p| p.to_string()).collect(),
            client_addr: String::new(),
            totp_setup_due: false,
        }
    }

    #[test]
    fn roles_and_presets() {
        let admin = actor(Role::Admin, &[]);
        let seller = actor(Role::Seller, &["p1"]);
        let viewer = actor(Role::Viewer, &[]);
        assert!(admin.require_admin().is_ok());
        assert_eq!(seller.require_admin().unwrap_err().status(), 403);
        assert_eq!(viewer.require_admin().unwrap_err().status(), 403);
        assert!(viewer.require_reader().is_ok());
        assert_eq!(seller.require_reader().unwrap_err().status(), 403);
        assert!(admin.require_preset("any").is_ok());
        assert!(seller.require_preset("p1").is_ok());
        assert_eq!(seller.require_preset("p2").unwrap_err().status(), 403);
        assert_eq!(viewer.require_preset("p1").unwrap_err().status(), 403);
        assert!(seller.can_see_key(Some("u1")));
        assert!(!seller.can_see_key(Some("u2")));
        assert!(!seller.can_see_key(None));
        assert!(admin.can_see_key(None));
        assert_eq!(seller.key_owner_scope(), Some("u1"));
        assert_eq!(admin.key_owner_scope(), None);
    }
}
