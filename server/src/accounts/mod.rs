//! Upstream accounts' own rules, apart from storage and HTTP: what a valid account and account
//! group look like. The admin service (`admin::accounts`) puts them together with storage, the
//! credentials' encryption and the scheduler's snapshot.

pub mod validate;
