//! Admin authentication: password hashing, login throttling, and the layer that refuses every
//! unauthenticated request to the dashboard and the admin API unless its route is on the public
//! allow-list.

pub mod layer;
pub mod password;
pub mod throttle;

pub use layer::{require_admin, Admin, PUBLIC_EXACT, PUBLIC_PREFIXES};
