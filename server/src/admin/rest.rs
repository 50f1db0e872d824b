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
        .route(
            "/admin/accounts",
            &[Method::GET, Method::POST],
            get(super::accounts_rest::list_accounts).post(super::accounts_rest::create_account),
        )
        .route(
            "/admin/accounts/{id}",
            &[Method::GET, Method::PATCH, Method::DELETE],
            get(super::accounts_rest::get_account)
                .patch(super::accounts_rest::update_account)
                .delete(super::accounts_rest::delete_account),
        )
        .route(
            "/admin/accounts/{id}/test",
            &[Method::POST],
            post(super::accounts_rest::test_account),
        )
        .route(
            "/admin/accounts/{id}/reset-status",
            &[Method::POST],
            post(super::accounts_rest::reset_account),
        )
        .route(
            "/admin/accounts/{id}/events",
            &[Method::GET],
            get(super::accounts_rest::account_events),
        )
        .route(
            "/admin/account-groups",
            &[Method::GET, Method::POST],
            get(super::accounts_rest::list_groups).post(super::accounts_rest::create_group),
        )
        .route(
            "/admin/account-groups/{id}",
            &[Method::GET, Method::PATCH, Method::DELETE],
            get(super::accounts_rest::get_group)
                .patch(super::accounts_rest::update_group)
                .delete(super::accounts_rest::delete_group),
        )
        .route(
            "/admin/account-groups/{id}/members",
            &[Method::PUT],
            axum::routing::put(super::accounts_rest::set_members),
        )
        .route(
            "/admin/api-keys",
            &[Method::GET, Method::POST],
            get(super::keys::rest::list_keys).post(super::keys::rest::create_key),
        )
        .route(
            "/admin/api-keys/batch",
            &[Method::POST],
            post(super::keys::rest::batch_create_keys),
        )
        .route(
            "/admin/api-keys/{id}",
            &[Method::GET, Method::PATCH, Method::DELETE],
            get(super::keys::rest::get_key)
                .patch(super::keys::rest::update_key)
                .delete(super::keys::rest::delete_key),
        )
        .route(
            "/admin/key-presets",
            &[Method::GET, Method::POST],
            get(super::keys::rest::list_presets).post(super::keys::rest::create_preset),
        )
        .route(
            "/admin/key-presets/{id}",
            &[Method::PATCH, Method::DELETE],
            axum::routing::patch(super::keys::rest::update_preset)
                .delete(super::keys::rest::delete_preset),
        )
        .route(
            "/admin/webhooks",
            &[Method::GET, Method::POST],
            get(super::webhooks::list).post(super::webhooks::create),
        )
        .route(
            "/admin/webhooks/deliveries",
            &[Method::GET],
            get(super::webhooks::deliveries),
        )
        .route(
            "/admin/webhooks/{id}",
            &[Method::PATCH, Method::DELETE],
            axum::routing::patch(super::webhooks::update).delete(super::webhooks::delete),
        )
        .route(
            "/admin/webhooks/{id}/test",
            &[Method::POST],
            post(super::webhooks::test),
        )
        .route(
            "/admin/reports/overview",
            &[Method::GET],
            get(super::reports::rest::overview),
        )
        .route(
            "/admin/reports/usage",
            &[Method::GET],
            get(super::reports::rest::usage),
        )
        .route(
            "/admin/reports/margin",
            &[Method::GET],
            get(super::reports::rest::margin),
        )
        .route(
            "/admin/reports/key-usage/{id}",
            &[Method::GET],
            get(super::reports::rest::key_usage),
        )
        .route(
            "/admin/settings",
            &[Method::GET, Method::PUT],
            get(super::reports::rest::get_settings).put(super::reports::rest::put_settings),
        )
        .route(
            "/admin/pricing",
            &[Method::GET],
            get(super::reports::rest::pricing),
        )
        .route(
            "/admin/pricing/{model}",
            &[Method::PUT, Method::DELETE],
            axum::routing::put(super::reports::rest::put_price)
                .delete(super::reports::rest::delete_price),
        )
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
    if let Some(token) = crate::auth::bearer::bearer_token(&headers) {
        state.admin.revoke_token(token).await?;
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
