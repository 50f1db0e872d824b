//! Staff users, their roles, and the audit trail.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a staff user may do. `admin`: everything. `seller`: keys from the presets an admin
/// allowed them, only the keys they created, their own sales. `viewer`: read-only lists and
/// reports (an accountant), never staff, settings, webhooks or secrets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Admin,
    Seller,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Seller, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Seller => "seller",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// A staff user as admins see them (never the password or the TOTP secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StaffUser {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub is_active: bool,
    pub allowed_preset_ids: Vec<String>,
    pub totp_enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `POST /admin/users`. Without a password one is generated and returned once.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserInput {
    pub username: String,
    #[serde(default)]
    pub password: Option<String>,
    pub role: Role,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub allowed_preset_ids: Option<Vec<String>>,
}

/// `PATCH /admin/users/{id}`: every field optional. `password: null` generates a new one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub is_active: Option<bool>,
    #[serde(default)]
    pub allowed_preset_ids: Option<Vec<String>>,
    /// A new password; `resetPassword: true` without one generates it.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub reset_password: Option<bool>,
    /// Turns the user's second factor off (they set it up again).
    #[serde(default)]
    pub reset_totp: Option<bool>,
}

/// A created user, or one whose password was reset: the generated password, shown once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedUser {
    #[serde(flatten)]
    pub user: StaffUser,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// One row of the audit trail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub id: String,
    pub at: DateTime<Utc>,
    pub actor_id: String,
    pub actor_name: String,
    pub client_addr: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub target_name: String,
    /// Field → `[before, after]`; secrets are `"changed"`.
    pub summary: serde_json::Value,
}

/// Most audit events one page (or one CSV export) may hold: the service refuses more, the
/// page's export asks for exactly this.
pub const AUDIT_MAX_PAGE_SIZE: u32 = 1000;

/// Filters of the audit list, all optional; times in epoch milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditQuery {
    pub page: Option<u32>,
    pub page_size: Option<u32>,
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub items: Vec<AuditEvent>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
}

/// The second factor being set up: the secret (base32) and its `otpauth://` URL as an SVG QR
/// code. Not active until confirmed with a code.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TotpSetup {
    pub secret: String,
    pub otpauth_url: String,
    pub qr_svg: String,
}

/// Confirmed second factor: recovery codes, shown once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TotpEnabled {
    pub recovery_codes: Vec<String>,
}

/// Who must sign in with a second factor (TOTP). A user it applies to who has none yet can
/// only set one up (their account page, `/admin/auth/totp/...`, `me`, logout) until they do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TotpPolicy {
    /// Optional for everyone.
    #[default]
    Off,
    /// Required of admins.
    Admins,
    /// Required of every staff user.
    All,
}

impl TotpPolicy {
    pub const ALL: [TotpPolicy; 3] = [TotpPolicy::Off, TotpPolicy::Admins, TotpPolicy::All];

    pub fn as_str(self) -> &'static str {
        match self {
            TotpPolicy::Off => "off",
            TotpPolicy::Admins => "admins",
            TotpPolicy::All => "all",
        }
    }

    pub fn parse(text: &str) -> Option<TotpPolicy> {
        TotpPolicy::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// Whether a user with `role` must have a second factor.
    pub fn applies_to(self, role: Role) -> bool {
        match self {
            TotpPolicy::Off => false,
            TotpPolicy::Admins => role == Role::Admin,
            TotpPolicy::All => true,
        }
    }
}

/// `GET/PUT /admin/settings/security` (admins only).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecuritySettings {
    pub totp_required: TotpPolicy,
}
