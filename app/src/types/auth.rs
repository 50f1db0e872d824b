use serde::{Deserialize, Serialize};

use super::staff::Role;

/// The shortest new password (in characters) the service takes; the forms ask for it too.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// The signed-in staff user, as the dashboard sees them (`GET /admin/auth/me`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminInfo {
    pub id: String,
    pub username: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub role: Role,
    #[serde(default)]
    pub allowed_preset_ids: Vec<String>,
    #[serde(default)]
    pub totp_enabled: bool,
    /// The "require TOTP" policy applies to this user and they have no second factor yet:
    /// nothing but setting one up works until they do.
    #[serde(default)]
    pub totp_setup_required: bool,
}

/// `POST /admin/auth/login` body.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// The current TOTP code (or a recovery code) when the user has a second factor.
    #[serde(default)]
    pub totp: Option<String>,
}

/// `POST /admin/auth/login` answer: a bearer token for the JSON REST API.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    pub token: String,
    pub expires_at: i64,
    /// The token works only for `/admin/auth/me`, `/admin/auth/logout` and
    /// `/admin/auth/totp/setup|confirm` until the user sets up a second factor.
    #[serde(default)]
    pub totp_setup_required: bool,
}

/// Live counts from the database for the overview page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OverviewCounts {
    pub accounts: i64,
    pub active_accounts: i64,
    pub groups: i64,
    pub keys: i64,
    pub active_keys: i64,
}
