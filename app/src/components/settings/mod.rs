//! The settings page's sections.

pub mod import;
pub mod operator;
pub mod password;
pub mod pricing;
pub mod security;
pub mod webhook_form;
pub mod webhooks;
