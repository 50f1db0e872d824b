//! Tollgate's dashboard: Leptos pages and components, the server functions behind them, and the
//! wire types shared with the server. No SQL lives here: server functions call the admin service
//! port (`port`), which the `server` crate implements.

#![recursion_limit = "256"]

pub mod api;
mod components;
pub mod csv;
pub mod error;
pub mod i18n;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod port;
pub mod types;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;

use crate::components::layout::Shell;
use crate::i18n::Locale;

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let locale = request_locale();
    let offset = request_utc_offset();
    view! {
        <!DOCTYPE html>
        <html lang=locale.tag() data-utc-offset=offset.to_string()>
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The locale of the current request (server) or page (browser).
fn request_locale() -> Locale {
    #[cfg(feature = "ssr")]
    {
        if let Some(parts) = use_context::<http::request::Parts>() {
            let header = |name: http::header::HeaderName| {
                parts
                    .headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            return Locale::from_headers(
                header(http::header::COOKIE).as_deref(),
                header(http::header::ACCEPT_LANGUAGE).as_deref(),
            );
        }
    }
    #[cfg(not(feature = "ssr"))]
    {
        if let Some(lang) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .and_then(|e| e.get_attribute("lang"))
        {
            return Locale::from_tag(&lang).unwrap_or_default();
        }
    }
    Locale::default()
}

/// The configured time zone's offset from UTC in seconds: from the admin service while
/// rendering on the server, from `<html data-utc-offset>` in the browser.
fn request_utc_offset() -> i32 {
    #[cfg(feature = "ssr")]
    {
        if let Some(admin) = use_context::<crate::port::SharedAdmin>() {
            return admin.display_utc_offset_secs();
        }
    }
    #[cfg(not(feature = "ssr"))]
    {
        if let Some(offset) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
            .and_then(|e| e.get_attribute("data-utc-offset"))
            .and_then(|v| v.parse().ok())
        {
            return offset;
        }
    }
    0
}

/// The offset of the time zone times are shown in (see [`request_utc_offset`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UtcOffset(pub i32);

pub fn use_utc_offset() -> i32 {
    use_context::<UtcOffset>().unwrap_or_default().0
}

/// The current locale, provided at the root of the app.
pub fn use_locale() -> Locale {
    use_context::<Locale>().unwrap_or_default()
}

/// Translates a key in the current locale.
pub fn tr(key: &'static str) -> &'static str {
    i18n::t(use_locale(), key)
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_context(request_locale());
    provide_context(UtcOffset(request_utc_offset()));

    view! {
        <Stylesheet id="leptos" href="/pkg/tollgate.css" />
        <Title formatter=|text: String| if text.is_empty() { "Tollgate".to_string() } else { format!("{text} · Tollgate") } />
        <Router>
            <Routes fallback=pages::not_found::NotFound>
                <Route path=path!("/login") view=pages::login::LoginPage />
                <Route path=path!("/usage") view=pages::key_holder::KeyHolderPage />
                <Route path=path!("/redeem") view=pages::redeem::RedeemPage />
                <ParentRoute path=path!("") view=Shell>
                    <Route path=path!("") view=pages::overview::OverviewPage />
                    <Route path=path!("keys") view=pages::keys::KeysPage />
                    <Route path=path!("codes") view=pages::codes::CodesPage />
                    <Route path=path!("accounts") view=pages::accounts::AccountsPage />
                    <Route path=path!("groups") view=pages::groups::GroupsPage />
                    <Route path=path!("usage-report") view=pages::usage_report::UsageReportPage />
                    <Route path=path!("sales") view=pages::sales::SalesPage />
                    <Route path=path!("settings") view=pages::settings::SettingsPage />
                    <Route path=path!("users") view=pages::staff::StaffPage />
                    <Route path=path!("audit") view=pages::audit::AuditPage />
                    <Route path=path!("account") view=pages::my_account::MyAccountPage />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
