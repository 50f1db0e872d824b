//! The admin service's port: the one interface behind both the dashboard's server functions and
//! the JSON REST API. `server` implements it and puts an `Arc<dyn AdminPort>` into the Leptos
//! context; nothing in `app` touches storage directly.
//!
//! The port is split by domain so each area of the product owns one trait.

mod accounts;
mod actor;
mod auth;
mod import;
mod keys;
mod reports;
mod sales;
mod staff;
mod webhooks;

pub use accounts::*;
pub use actor::*;
pub use auth::*;
pub use import::*;
pub use keys::*;
pub use reports::*;
pub use sales::*;
pub use staff::*;
pub use webhooks::*;

use std::sync::Arc;

use crate::error::AdminError;

/// Every admin capability, as one object.
pub trait AdminPort:
    AccountsPort
    + AuthPort
    + WebhooksPort
    + KeysPort
    + ReportsPort
    + ImportPort
    + SalesPort
    + StaffPort
    + Send
    + Sync
    + 'static
{
}

impl<T> AdminPort for T where
    T: AccountsPort
        + AuthPort
        + WebhooksPort
        + KeysPort
        + ReportsPort
        + ImportPort
        + SalesPort
        + StaffPort
        + Send
        + Sync
        + 'static
{
}

pub type SharedAdmin = Arc<dyn AdminPort>;

/// Client address as the server sees it (after trusted proxy headers), for login throttling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub std::net::IpAddr);

/// Fetches the admin service from the Leptos context; an error (never a panic) if it is missing.
pub fn admin_service() -> Result<SharedAdmin, AdminError> {
    leptos::prelude::use_context::<SharedAdmin>().ok_or(AdminError::Internal)
}
