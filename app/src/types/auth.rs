use serde::{Deserialize, Serialize};

/// The signed-in administrator, as the dashboard sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminInfo {
    pub id: String,
    pub username: String,
}

/// `POST /admin/auth/login` body.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// `POST /admin/auth/login` answer: a bearer token for the JSON REST API.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    pub token: String,
    pub expires_at: i64,
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
