//! The whole HTTP surface: the relay's routes outside the session and auth layers, the
//! dashboard, its server functions and the admin REST API inside them, and the language switch.

use std::time::Duration;

use app::port::SharedAdmin;
use axum::extract::{MatchedPath, RawQuery, Request};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use super::AppState;
use crate::storage::sessions::DbSessionStore;

/// The whole HTTP surface. The dashboard and admin API sit behind the session and
/// deny-by-default auth layers.
pub fn build_router(state: AppState) -> (Router, Vec<(Method, &'static str)>) {
    let session_ttl = Duration::from_secs(state.config.serve.session_ttl_hours * 3600);
    let session_store = DbSessionStore::new(
        state.store.clone(),
        state.admin.auth().clock.clone(),
        session_ttl,
    );
    let session_layer = SessionManagerLayer::new(session_store)
        .with_name("tollgate_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(
            state
                .config
                .serve
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://")),
        )
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(
            state.config.serve.session_ttl_hours as i64,
        )));

    let (admin_api, admin_routes) = crate::admin::rest::routes().into_parts();
    let leptos_routes = generate_route_list(app::App);
    let port: SharedAdmin = state.admin.clone();
    // What every rendered page gets: the admin service, and its CSP carrying the page's nonce.
    let page_context = move || {
        provide_context(port.clone());
        crate::auth::headers::page_policy();
    };
    let relay = crate::relay::routes(state.relay.clone());
    let dashboard = Router::new()
        .route("/health", get(crate::health::health))
        .route("/ready", get(crate::health::ready))
        .route("/lang", get(switch_language))
        .merge(admin_api.with_state(state.admin.clone()))
        .route(
            "/redeem",
            axum::routing::post(crate::admin::rest::sales::redeem_public)
                .with_state(state.admin.clone()),
        )
        .route(
            "/admin/{*rest}",
            axum::routing::any(crate::admin::rest::not_found),
        )
        .leptos_routes_with_context(&state, leptos_routes, page_context.clone(), {
            let options = state.leptos_options.clone();
            move || app::shell(options.clone())
        })
        // Error pages (404) are rendered like the others, with the page's CSP nonce.
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(page_context, app::shell))
        .layer(axum::middleware::from_fn_with_state(
            crate::auth::layer::AuthState {
                admin: state.admin.clone(),
                session_ttl,
            },
            crate::auth::require_admin,
        ))
        .layer(session_layer)
        .with_state(state.clone());

    let router = Router::new().merge(relay).merge(dashboard).layer(
        TraceLayer::new_for_http().make_span_with(|req: &Request| {
            // The matched route, never the raw URI: query strings can carry API keys. Borrowed:
            // when the span is off (LOG_LEVEL above info) a request costs no allocation here.
            let path = req
                .extensions()
                .get::<MatchedPath>()
                .map_or("unmatched", |p| p.as_str());
            tracing::info_span!("request", method = %req.method(), path)
        }),
    );
    (router, admin_routes)
}

/// Sets the language cookie and goes back to the page the switch was clicked on. The query is
/// read by hand, never by an extractor: whatever a browser sends (no `set`, an unknown
/// language, a broken query) ends on that page, not on a bare extractor error; only a known
/// `set` (the first one) changes the cookie.
async fn switch_language(RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let locale = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "set")
        .and_then(|(_, tag)| app::i18n::Locale::from_tag(&tag));
    // Only a same-site path (and its query) from the referer, never an absolute URL (no open
    // redirect).
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| url::Url::parse(r).ok())
        .filter(|u| u.path().starts_with('/') && !u.path().starts_with("//") && u.path() != "/lang")
        .map(|u| match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        })
        .and_then(|back| header::HeaderValue::from_str(&back).ok())
        .unwrap_or(header::HeaderValue::from_static("/"));
    let mut res = (StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response();
    if let Some(locale) = locale {
        let cookie = format!(
            "{}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            app::i18n::LANG_COOKIE,
            locale.tag()
        );
        if let Ok(v) = header::HeaderValue::from_str(&cookie) {
            res.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    res
}
