//! Renewals and redemption codes over real HTTP: a renewed expired (or exhausted) key works on
//! its next request through the relay and the mock upstream; the ledger and the margin report
//! count renewal revenue; a code is redeemed exactly once by 50 simultaneous callers; guessing
//! is limited per address and per key; the story runs on SQLite and PostgreSQL.

mod common;
#[path = "sales/redemption.rs"]
mod redemption;
#[path = "sales/renewals.rs"]
mod renewals;
#[path = "sales/story.rs"]
mod story;
#[path = "sales/support.rs"]
mod support;
