//! Serde types that cross the wire: server functions, the REST API and the browser share them.
//! JSON field names are camelCase, as the operators' scripts and docs expect.

pub mod accounts;
pub mod auth;
pub mod budgets;
pub mod import;
pub mod key_usage;
pub mod keys;
pub mod money;
pub mod pricing;
pub mod reports;
pub mod sales;
pub mod seller_sales;
pub mod staff;
pub mod webhooks;
pub mod when;

pub use accounts::*;
pub use auth::*;
pub use budgets::*;
pub use import::*;
pub use key_usage::*;
pub use keys::*;
pub use money::*;
pub use pricing::*;
pub use reports::*;
pub use sales::*;
pub use seller_sales::*;
pub use staff::*;
pub use webhooks::*;
pub use when::*;
