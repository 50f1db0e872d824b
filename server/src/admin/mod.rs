//! The admin service: every business rule of the control plane, in one place, behind the
//! [`app::port::AdminPort`] traits. The dashboard's server functions and the JSON REST API
//! (`rest`) both call it; neither holds rules of its own.

mod accounts;
pub mod audit;
pub mod auth;
pub mod error;
mod import;
pub(crate) mod keys;
mod reports;
pub mod rest;
mod sales;
mod totp;
mod totp_policy;
mod users;
mod webhooks;

use crate::relay::control::RelayControl;
use std::sync::Arc;

pub use totp_policy::{TOTP_POLICY_SETTING, TOTP_SETUP_PATHS};

use crate::auth::client_addr::ProxyTrust;
use crate::auth::AuthGuards;
use crate::config::Settings;
use crate::crypto::Cipher;
use crate::storage::Store;

pub struct AdminService {
    pub(crate) store: Store,
    pub(crate) auth: Arc<AuthGuards>,
    pub(crate) config: Arc<Settings>,
    pub(crate) cipher: Cipher,
    pub(crate) webhooks: crate::webhooks::Webhooks,
    pub(crate) relay: Arc<dyn RelayControl>,
    /// One CRS import at a time through this service (a second click, a second admin).
    pub(crate) importing: Arc<tokio::sync::Mutex<()>>,
}

impl AdminService {
    pub fn new(
        store: Store,
        config: Arc<Settings>,
        cipher: Cipher,
        webhooks: crate::webhooks::Webhooks,
        relay: Arc<dyn RelayControl>,
    ) -> Self {
        AdminService {
            store,
            cipher,
            webhooks,
            relay,
            auth: Arc::new(AuthGuards::new(
                crate::clock::system(),
                ProxyTrust::default(),
            )),
            config,
            importing: Default::default(),
        }
    }
}

impl AdminService {
    /// Uses `guards` (with their clock and proxy settings) for every credential check.
    pub fn with_auth_guards(mut self, guards: Arc<AuthGuards>) -> Self {
        self.auth = guards;
        self
    }

    pub fn auth(&self) -> &Arc<AuthGuards> {
        &self.auth
    }

    /// The cipher for credentials at rest.
    pub fn cipher(&self) -> &Cipher {
        &self.cipher
    }
}

impl AdminService {
    /// Tells the relay that a key's stored settings changed (created, edited, disabled, deleted),
    /// so the next request sees them. Call after the storage write has committed.
    pub fn key_changed(&self, key_id: &str) {
        self.relay.key_changed(key_id);
    }

    /// The key's live spend and reservations in this instance (zeros for a key it has not
    /// served since it started).
    pub fn live_usage(&self, key_id: &str) -> crate::limits::LiveUsage {
        self.relay.key_usage(key_id)
    }
}
