//! Tollgate's server: configuration, storage, the admin service and its REST API, the relay's
//! data plane, and the CLI. `main.rs` only wires these together.

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod fast_hash;
pub mod health;
pub mod import;
pub mod keys;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod ops;
pub mod pricing;
pub mod private_files;
pub mod relay;
pub mod sales;
pub mod scheduler;
pub mod secret;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod translate;
pub mod upstream_http;
pub mod webhooks;
