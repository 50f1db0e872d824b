//! Deny-by-default authentication for the dashboard and the admin API.
//!
//! Every request that reaches the dashboard router passes through [`require_admin`]. It
//! establishes who is calling (a `Bearer` admin token, else the session cookie) and refuses the
//! request unless the route is on the public allow-list below: `/admin/...` and server
//! functions answer 401 JSON; dashboard pages redirect to `/login`. Cookie-authenticated writes
//! must come from our own origin (CSRF). The relay's routes are not behind this layer: they
//! authenticate with API keys of their own.

use std::net::{IpAddr, SocketAddr};

use app::error::AdminError;
use app::port::{AdminIdentity, ClientIp};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{header, request::Parts, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use crate::admin::error::ApiError;
use crate::crypto::token_hash;
use crate::startup::AppState;

/// Routes anyone may call: health, the login page and its endpoints, the key holder's page and
/// its lookup (authenticated by the API key itself), the language switch.
pub const PUBLIC_EXACT: &[&str] = &[
    "/health",
    "/login",
    "/usage",
    "/lang",
    "/favicon.svg",
    "/admin/auth/login",
    "/admin/fn/login",
    "/admin/fn/key_holder_usage",
];

/// Public prefixes: static assets of the dashboard.
pub const PUBLIC_PREFIXES: &[&str] = &["/pkg/"];

pub fn is_public(path: &str) -> bool {
    PUBLIC_EXACT.contains(&path) || PUBLIC_PREFIXES.iter().any(|p| path.starts_with(p))
}

/// The client address: the socket peer, or the first forwarded address when proxies are trusted.
pub fn client_ip(headers: &HeaderMap, peer: Option<IpAddr>, trust_proxy: bool) -> IpAddr {
    if trust_proxy {
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .or_else(|| headers.get("x-real-ip").and_then(|v| v.to_str().ok()))
            .and_then(|v| v.trim().parse().ok());
        if let Some(ip) = forwarded {
            return ip;
        }
    }
    peer.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
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

fn unauthorized(path: &str, method: &Method) -> Response {
    if !path.starts_with("/admin/") && (method == Method::GET || method == Method::HEAD) {
        return Redirect::to("/login").into_response();
    }
    let mut res = ApiError(AdminError::Unauthorized).into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    res
}

pub async fn require_admin(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = client_ip(req.headers(), peer, state.config.serve.trust_proxy_headers);
    req.extensions_mut().insert(ClientIp(ip));

    let path = req.uri().path().to_owned();
    let method = req.method().clone();

    let mut identity = None;
    if let Some(token) = bearer(req.headers()) {
        match state.store.admin_for_token(&token_hash(token)).await {
            Ok(Some(admin_id)) => identity = Some(AdminIdentity { admin_id }),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "token lookup failed");
                return ApiError(AdminError::Internal).into_response();
            }
        }
    } else if let Some(session) = req.extensions().get::<Session>().cloned() {
        match session.get::<String>(app::api::SESSION_ADMIN_KEY).await {
            Ok(Some(admin_id)) => {
                if method != Method::GET && method != Method::HEAD && cross_site(req.headers()) {
                    return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
                }
                identity = Some(AdminIdentity { admin_id });
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "session lookup failed");
                return ApiError(AdminError::Internal).into_response();
            }
        }
    }

    match identity {
        Some(id) => {
            req.extensions_mut().insert(id);
        }
        None if is_public(&path) => {}
        None => return unauthorized(&path, &method),
    }

    let mut res = next.run(req).await;
    // Admin pages and answers are private: never cache them.
    if !path.starts_with("/pkg/") {
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    res
}

/// Extractor for REST handlers: the authenticated admin, or 401.
pub struct Admin(pub AdminIdentity);

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AdminIdentity>()
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
        assert!(is_public("/pkg/tollgate.js"));
        assert!(!is_public("/admin/overview"));
        assert!(!is_public("/admin/fn/overview_counts"));
        assert!(!is_public("/"));
        assert!(!is_public("/healthz"));
    }

    #[test]
    fn forwarded_addresses_only_when_trusted() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.7, 10.0.0.1".parse().unwrap());
        let peer = Some("127.0.0.1".parse().unwrap());
        assert_eq!(client_ip(&h, peer, false).to_string(), "127.0.0.1");
        assert_eq!(client_ip(&h, peer, true).to_string(), "203.0.113.7");
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
