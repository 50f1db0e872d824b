//! Admin authentication: password hashing (bounded), login throttling, failed-authentication
//! limits per address, the bearer-token reader, the client address behind proxies, and the layer
//! that refuses every unauthenticated request to the dashboard and the admin API unless its route
//! is on the public allow-list.

pub mod bearer;
pub mod client_addr;
pub mod failures;
pub mod headers;
pub mod layer;
pub mod lru;
pub mod negative_cache;
pub mod password;
pub mod path;
pub mod session_renewal;
pub mod throttle;

use std::time::Duration;

pub use layer::{require_admin, Admin, PUBLIC_EXACT, PUBLIC_PREFIXES};

use crate::clock::SharedClock;
use client_addr::ProxyTrust;
use failures::{FailureLimiter, FailurePolicy};
use negative_cache::NegativeCache;
use password::PasswordChecks;
use throttle::LoginThrottle;

/// Unknown admin tokens remembered, and for how long.
const UNKNOWN_TOKENS: usize = 16_384;
const UNKNOWN_TOKEN_TTL: Duration = Duration::from_secs(600);

/// The guards in front of every admin credential check, shared by the auth layer and the
/// admin service's login.
pub struct AuthGuards {
    pub clock: SharedClock,
    pub proxies: ProxyTrust,
    pub logins: LoginThrottle,
    /// Failed logins and unknown bearer tokens per client address.
    pub failures: FailureLimiter,
    pub unknown_tokens: NegativeCache,
    pub passwords: PasswordChecks,
}

impl AuthGuards {
    pub fn new(clock: SharedClock, proxies: ProxyTrust) -> Self {
        AuthGuards {
            logins: LoginThrottle::new(clock.clone()),
            failures: FailureLimiter::new(FailurePolicy::default(), clock.clone()),
            unknown_tokens: NegativeCache::new(UNKNOWN_TOKENS, UNKNOWN_TOKEN_TTL, clock.clone()),
            passwords: PasswordChecks::default(),
            proxies,
            clock,
        }
    }
}
