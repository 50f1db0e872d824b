//! Tollgate's server: configuration, storage, the admin service and its REST API, the relay's
//! data plane, and the CLI. `main.rs` only wires these together.

pub mod admin;
pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod secret;
pub mod startup;
pub mod storage;
pub mod telemetry;
