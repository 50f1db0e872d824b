//! Server functions: thin, one call into the admin service each. They live under
//! `/admin/fn/...`, where the server's auth layer refuses unauthenticated calls unless the
//! function is on its public allow-list.

mod accounts;
mod auth;
mod budgets;
mod import;
mod keys;
mod reports;
mod sales;
mod staff;
mod webhooks;

pub use accounts::*;
pub use auth::*;
pub use budgets::*;
pub use import::*;
pub use keys::*;
pub use reports::*;
pub use sales::*;
pub use staff::*;
pub use webhooks::*;

#[cfg(feature = "ssr")]
pub(crate) mod support {
    use crate::error::AdminError;
    use crate::port::{Actor, ClientIp};

    /// Sets the HTTP status (and `Retry-After`) of a failing server function, then returns the error.
    /// Not for a plain form post (a browser without JavaScript): Leptos answers it with a
    /// redirect back to the form's page carrying the error, which the page shows; an error
    /// status on that redirect would make the browser show the bare error JSON instead.
    pub fn fail(err: AdminError) -> AdminError {
        if is_plain_form_post() {
            return err;
        }
        if let Some(res) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = http::StatusCode::from_u16(err.status()) {
                res.set_status(status);
            }
            if let AdminError::Throttled { retry_after } = &err {
                if let Ok(v) = http::HeaderValue::from_str(&retry_after.to_string()) {
                    res.insert_header(http::header::RETRY_AFTER, v);
                }
            }
        }
        err
    }

    /// The test Leptos makes before redirecting a server function's answer back to the page.
    fn is_plain_form_post() -> bool {
        request_parts().is_ok_and(|parts| {
            let accepts_html = parts
                .headers
                .get(http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("text/html"));
            accepts_html && parts.headers.contains_key(http::header::REFERER)
        })
    }

    pub fn request_parts() -> Result<http::request::Parts, AdminError> {
        leptos::prelude::use_context::<http::request::Parts>().ok_or(AdminError::Internal)
    }

    /// The authenticated caller with their current role, as established by the server's auth
    /// layer; every admin service call takes it.
    pub fn identity() -> Result<Actor, AdminError> {
        request_parts()?
            .extensions
            .get::<Actor>()
            .cloned()
            .ok_or_else(|| fail(AdminError::Unauthorized))
    }

    pub fn client_ip() -> std::net::IpAddr {
        request_parts()
            .ok()
            .and_then(|p| p.extensions.get::<ClientIp>().copied())
            .map(|c| c.0)
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    pub fn session() -> Result<tower_sessions::Session, AdminError> {
        request_parts()?
            .extensions
            .get::<tower_sessions::Session>()
            .cloned()
            .ok_or(AdminError::Internal)
    }
}
