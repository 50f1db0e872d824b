//! Serde types that cross the wire: server functions, the REST API and the browser share them.
//! JSON field names are camelCase, as the operators' scripts and docs expect.

pub mod auth;

pub use auth::*;
