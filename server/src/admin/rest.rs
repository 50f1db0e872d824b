//! The JSON REST API under `/admin/...`: a thin HTTP skin over the admin service.

use app::error::AdminError;
use app::port::{AuthPort, ClientIp};
use app::types::{AdminInfo, LoginRequest, LoginResponse, OverviewCounts};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post, MethodRouter};
use axum::{Extension, Json, Router};
use serde::Deserialize;

use super::error::{ApiError, AppJson};
use crate::auth::Admin;
use crate::startup::AppState;

pub type ApiResult<T> = Result<T, ApiError>;

/// A router that remembers what it registered, so the auth sweep test can call every route.
#[derive(Default)]
pub struct RouteTable {
    router: Router<AppState>,
    routes: Vec<(Method, &'static str)>,
}

impl RouteTable {
    pub fn route(
        mut self,
        path: &'static str,
        methods: &[Method],
        handler: MethodRouter<AppState>,
    ) -> Self {
        self.router = self.router.route(path, handler);
        self.routes
            .extend(methods.iter().map(|m| (m.clone(), path)));
        self
    }

    pub fn into_parts(self) -> (Router<AppState>, Vec<(Method, &'static str)>) {
        (self.router, self.routes)
    }
}

pub fn routes() -> RouteTable {
    RouteTable::default()
        .route("/admin/auth/login", &[Method::POST], post(login))
        .route("/admin/auth/logout", &[Method::POST], post(logout))
        .route("/admin/auth/me", &[Method::GET], get(me))
        .route(
            "/admin/auth/password",
            &[Method::POST],
            post(change_password),
        )
        .route("/admin/overview", &[Method::GET], get(overview))
}

async fn login(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    AppJson(body): AppJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let admin = state
        .admin
        .verify_login(&body.username, &body.password, ip)
        .await?;
    Ok(Json(state.admin.issue_token(&admin).await?))
}

async fn logout(
    State(state): State<AppState>,
    _admin: Admin,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    if let Some(token) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        state.admin.revoke_token(token.trim()).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn me(State(state): State<AppState>, Admin(who): Admin) -> ApiResult<Json<AdminInfo>> {
    Ok(Json(state.admin.admin_info(&who.admin_id).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    Admin(who): Admin,
    AppJson(body): AppJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    state
        .admin
        .change_password(&who.admin_id, &body.current_password, &body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn overview(State(state): State<AppState>, _admin: Admin) -> ApiResult<Json<OverviewCounts>> {
    Ok(Json(state.admin.overview_counts().await?))
}

/// 404 in the admin API's shape, for unknown `/admin/...` paths.
pub async fn not_found() -> ApiError {
    ApiError(AdminError::not_found("route"))
}
