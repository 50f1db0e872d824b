//! Deny-by-default authentication for the dashboard and the admin API.
//!
//! Every request that reaches the dashboard router passes through [`require_admin`]. It refuses
//! paths with dot segments (see `auth::path`), establishes who is calling (a `Bearer` admin
//! token, else the session cookie), resolves that user to an [`Actor`] with their current role
//! (a disabled or deleted user is nobody), and refuses the request unless the route is on the
//! public allow-list below: `/admin/...` and server functions answer 401 JSON (a browser's plain
//! form post is sent to `/login` instead); dashboard pages redirect to `/login`, and a page the
//! role may not open redirects to the role's home. A user the "require TOTP" policy asks for a
//! second factor they have not set up reaches only its set-up (`admin::TOTP_SETUP_PATHS`;
//! anything else is 403 `totp_setup_required`, pages redirect to `/account`). What a role may *do* is decided by the admin
//! service with the actor, not here. Cookie-authenticated writes must come from our own origin (CSRF). Unknown bearer
//! tokens are refused by their shape or a negative cache before any database lookup, and count
//! as failures against the client's address. The relay's routes are not behind this layer: they
//! authenticate with API keys of their own.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use app::error::AdminError;
use std::sync::Arc;

use app::port::{Actor, AuthPort, ClientIp};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{header, request::Parts, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::bearer::bearer_token;
use super::AuthGuards;
use crate::admin::error::ApiError;
use crate::admin::AdminService;
use crate::crypto::{looks_like_token, token_hash, ADMIN_TOKEN_PREFIX};

/// What the auth layer needs: the admin service (its store, guards and clock) and the session
/// lifetime. Its own small state, so the layer does not depend on the application's.
#[derive(Clone)]
pub struct AuthState {
    pub admin: Arc<AdminService>,
    pub session_ttl: Duration,
}

/// Routes anyone may call: health and readiness, the login page and its endpoints, the key holder's page and
/// its lookup (authenticated by the API key itself), the language switch.
pub const PUBLIC_EXACT: &[&str] = &[
    "/health",
    "/ready",
    "/login",
    "/usage",
    "/redeem",
    "/lang",
    "/favicon.svg",
    "/admin/auth/login",
    "/admin/fn/login",
    "/admin/fn/key_holder_usage",
    "/admin/fn/redeem_code",
    "/admin/fn/redeem_on_key",
];

/// Public prefixes: static assets of the dashboard.
pub const PUBLIC_PREFIXES: &[&str] = &["/pkg/"];

pub fn is_public(path: &str) -> bool {
    PUBLIC_EXACT.contains(&path) || PUBLIC_PREFIXES.iter().any(|p| path.starts_with(p))
}

/// What a user whose second factor is due may still reach: public routes, assets, and the
/// set-up itself.
fn totp_setup_allows(path: &str) -> bool {
    is_public(path) || crate::admin::TOTP_SETUP_PATHS.contains(&path)
}

/// True when a cookie-authenticated write comes from another site.
fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return true;
        }
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        host,
    ) {
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
            origin_host != host
        }
        (Some(_), None) => true,
        _ => false,
    }
}

/// A browser's form post without JavaScript (`Accept: text/html`, a form body): it should land on
/// a page, never on JSON.
fn plain_form_post(headers: &HeaderMap) -> bool {
    let accepts_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.starts_with("application/x-www-form-urlencoded")
                || v.starts_with("multipart/form-data")
        });
    accepts_html && form
}

fn unauthorized(path: &str, method: &Method, headers: &HeaderMap) -> Response {
    if !path.starts_with("/admin/") && (method == Method::GET || method == Method::HEAD) {
        return Redirect::to("/login").into_response();
    }
    // An expired session under a no-JS form: back to the login page (303), not a JSON body.
    if path.starts_with("/admin/fn/") && method == Method::POST && plain_form_post(headers) {
        return Redirect::to("/login").into_response();
    }
    let mut res = ApiError(AdminError::Unauthorized).into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    res
}

/// Who a bearer token belongs to: `Ok(None)` for an unknown token (counted against `ip`),
/// `Err` when the address is refused or the lookup failed.
async fn token_identity(
    state: &AuthState,
    guards: &AuthGuards,
    ip: IpAddr,
    token: &str,
) -> Result<Option<String>, Response> {
    if let Err(retry_after) = guards.failures.check(ip) {
        tracing::warn!(%ip, "too many failed authentications; bearer token refused unread");
        return Err(ApiError(AdminError::Throttled { retry_after }).into_response());
    }
    if !looks_like_token(ADMIN_TOKEN_PREFIX, token) || guards.unknown_tokens.contains(token) {
        guards.failures.record_failure(ip);
        return Ok(None);
    }
    match state.admin.store.admin_for_token(&token_hash(token)).await {
        Ok(Some(admin_id)) => Ok(Some(admin_id)),
        Ok(None) => {
            guards.unknown_tokens.insert(token);
            guards.failures.record_failure(ip);
            Ok(None)
        }
        Err(e) => {
            tracing::error!(error = %e, "token lookup failed");
            Err(ApiError(AdminError::Internal).into_response())
        }
    }
}

/// Who the session cookie belongs to; renews the session as it is used.
async fn session_identity(
    state: &AuthState,
    session: &Session,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Option<String>, Response> {
    let admin_id = match session.get::<String>(app::api::SESSION_ADMIN_KEY).await {
        Ok(Some(admin_id)) => admin_id,
        Ok(None) => return Ok(None),
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed");
            return Err(ApiError(AdminError::Internal).into_response());
        }
    };
    if method != Method::GET && method != Method::HEAD && cross_site(headers) {
        return Err((StatusCode::FORBIDDEN, "cross-site request refused").into_response());
    }
    let now = state.admin.auth().clock.now_ms();
    if let Err(e) = super::session_renewal::renew_if_due(session, now, state.session_ttl).await {
        tracing::error!(error = %e, "session renewal failed");
        return Err(ApiError(AdminError::Internal).into_response());
    }
    Ok(Some(admin_id))
}

/// The user behind a session or token as an actor with their current role; `None` when the
/// user is disabled or gone (their sessions and tokens are ended then, this is the backstop).
async fn actor_of(
    state: &AuthState,
    user_id: Option<String>,
    ip: IpAddr,
) -> Result<Option<Actor>, Response> {
    let Some(user_id) = user_id else {
        return Ok(None);
    };
    state
        .admin
        .resolve_actor(&user_id, ip.to_string())
        .await
        .map_err(|e| ApiError(e).into_response())
}

pub async fn require_admin(
    State(state): State<AuthState>,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    if let Err(why) = super::path::check(&path) {
        let mut res = ApiError(AdminError::validation("path", why)).into_response();
        super::headers::apply(res.headers_mut());
        return res;
    }
    let guards = state.admin.auth().clone();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = guards.proxies.client_ip(req.headers(), peer);
    req.extensions_mut().insert(ClientIp(ip));
    let method = req.method().clone();

    let identity = if let Some(token) = bearer_token(req.headers()) {
        token_identity(&state, &guards, ip, token).await
    } else if let Some(session) = req.extensions().get::<Session>().cloned() {
        session_identity(&state, &session, &method, req.headers()).await
    } else {
        Ok(None)
    };
    let actor = match identity {
        Ok(identity) => actor_of(&state, identity, ip).await,
        Err(res) => Err(res),
    };
    let actor = match actor {
        Ok(actor) => actor,
        Err(mut res) => {
            super::headers::apply(res.headers_mut());
            return res;
        }
    };

    match actor {
        Some(actor) if actor.totp_setup_due && !totp_setup_allows(&path) => {
            // The "require TOTP" policy: nothing but setting up the second factor until it is.
            let mut res = if !path.starts_with("/admin/") && method == Method::GET {
                Redirect::to("/account").into_response()
            } else {
                ApiError(AdminError::TotpSetupRequired).into_response()
            };
            super::headers::apply(res.headers_mut());
            return res;
        }
        Some(actor) => {
            // A page this role may not open: its home instead (the service refuses the data
            // anyway; this keeps the dashboard from rendering an empty frame of errors).
            if !path.starts_with("/admin/")
                && !path.starts_with("/pkg/")
                && method == Method::GET
                && !app::pages::page_allowed(actor.role, &path)
            {
                let mut res = Redirect::to(app::pages::home_of(actor.role)).into_response();
                super::headers::apply(res.headers_mut());
                return res;
            }
            req.extensions_mut().insert(actor);
        }
        None if is_public(&path) => {}
        None => {
            let mut res = unauthorized(&path, &method, req.headers());
            super::headers::apply(res.headers_mut());
            return res;
        }
    }

    let mut res = next.run(req).await;
    // Admin pages and answers are private: never cache them.
    if !path.starts_with("/pkg/") {
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    super::headers::apply(res.headers_mut());
    res
}

/// Extractor for REST handlers: the authenticated staff user as an [`Actor`], or 401. What the
/// actor may do is the admin service's decision.
pub struct Admin(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Actor>()
            .cloned()
            .map(Admin)
            .ok_or(ApiError(AdminError::Unauthorized))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list() {
        assert!(is_public("/health"));
        assert!(is_public("/ready"));
        assert!(is_public("/pkg/tollgate.js"));
        assert!(!is_public("/admin/overview"));
        assert!(!is_public("/admin/fn/overview_counts"));
        assert!(!is_public("/"));
        assert!(!is_public("/healthz"));
    }

    #[test]
    fn csrf_origin_check() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:3000".parse().unwrap());
        assert!(!cross_site(&h));
        h.insert(header::ORIGIN, "http://127.0.0.1:3000".parse().unwrap());
        assert!(!cross_site(&h));
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(cross_site(&h));
    }
}
