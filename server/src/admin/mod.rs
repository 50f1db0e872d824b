//! The admin service: every business rule of the control plane, in one place, behind the
//! [`app::port::AdminPort`] traits. The dashboard's server functions and the JSON REST API
//! (`rest`) both call it; neither holds rules of its own.

pub mod auth;
pub mod error;
pub mod rest;

use std::sync::Arc;

use crate::auth::throttle::LoginThrottle;
use crate::config::Settings;
use crate::crypto::Cipher;
use crate::storage::Store;

pub struct AdminService {
    pub(crate) store: Store,
    pub(crate) throttle: LoginThrottle,
    pub(crate) config: Arc<Settings>,
    pub(crate) cipher: Cipher,
}

impl AdminService {
    pub fn new(store: Store, config: Arc<Settings>, cipher: Cipher) -> Self {
        AdminService {
            store,
            cipher,
            throttle: LoginThrottle::default(),
            config,
        }
    }
}

impl AdminService {
    /// The cipher for credentials at rest.
    pub fn cipher(&self) -> &Cipher {
        &self.cipher
    }
}
