//! The one error type that crosses the wire between the dashboard and the admin service.
//!
//! The same enum is returned by the REST API (as `{"error": {...}}` JSON) and by server
//! functions, so both front doors report the same codes for the same failure.

use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum AdminError {
    /// No valid session or token.
    #[error("authentication required")]
    Unauthorized,
    /// Wrong username or password (deliberately not saying which).
    #[error("invalid username or password")]
    BadCredentials,
    /// The password was right; the user's second factor (a TOTP or recovery code) is needed.
    #[error("a code from the authenticator app is required")]
    TotpRequired,
    /// The "require TOTP" policy applies to this user, who has no second factor yet: only
    /// setting one up works until they do.
    #[error("set up two-step sign-in (an authenticator app) on your account page first")]
    TotpSetupRequired,
    /// Too many failed logins; retry after the given number of seconds.
    #[error("too many failed attempts, retry in {retry_after}s")]
    Throttled { retry_after: u64 },
    /// A field of the input is invalid.
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    /// Signed in, but this user's role may not do this.
    #[error("{message}")]
    Forbidden { message: String },
    #[error("{what} not found")]
    NotFound { what: String },
    /// The request conflicts with existing state (duplicate name, still referenced, ...).
    #[error("{message}")]
    Conflict { message: String },
    /// Something failed on the server; details are in the server log, never in the answer.
    #[error("internal error")]
    Internal,
    /// Transport-level failure of a server function call (network, decoding).
    #[error("request failed: {message}")]
    Transport { message: String },
}

impl AdminError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        AdminError::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        AdminError::NotFound { what: what.into() }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        AdminError::Forbidden {
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        AdminError::Conflict {
            message: message.into(),
        }
    }

    /// HTTP status for this error on the REST API and on server functions.
    pub fn status(&self) -> u16 {
        match self {
            AdminError::Unauthorized | AdminError::BadCredentials | AdminError::TotpRequired => 401,
            AdminError::Throttled { .. } => 429,
            AdminError::Validation { .. } => 400,
            AdminError::Forbidden { .. } | AdminError::TotpSetupRequired => 403,
            AdminError::NotFound { .. } => 404,
            AdminError::Conflict { .. } => 409,
            AdminError::Internal => 500,
            AdminError::Transport { .. } => 502,
        }
    }

    /// Stable machine-readable code, as serialized in `code`.
    pub fn code(&self) -> &'static str {
        match self {
            AdminError::Unauthorized => "unauthorized",
            AdminError::BadCredentials => "bad_credentials",
            AdminError::TotpRequired => "totp_required",
            AdminError::Throttled { .. } => "throttled",
            AdminError::Validation { .. } => "validation",
            AdminError::Forbidden { .. } => "forbidden",
            AdminError::TotpSetupRequired => "totp_setup_required",
            AdminError::NotFound { .. } => "not_found",
            AdminError::Conflict { .. } => "conflict",
            AdminError::Internal => "internal",
            AdminError::Transport { .. } => "transport",
        }
    }
}

impl FromServerFnError for AdminError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AdminError::Transport {
            message: value.to_string(),
        }
    }
}
