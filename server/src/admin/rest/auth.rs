//! `/admin/auth/...` and `/admin/overview`.

use app::port::{AuthPort, ClientIp};
use app::types::{AdminInfo, LoginRequest, LoginResponse, OverviewCounts};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use axum::{Extension, Json};
use serde::Deserialize;

use super::extract::{NoParams, StrictQuery};
use super::{ApiResult, RouteTable, Service};
use crate::admin::error::AppJson;
use crate::auth::Admin;

pub(super) fn register(table: RouteTable) -> RouteTable {
    table
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
    State(s): Service,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    AppJson(body): AppJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let admin = s
        .verify_login(&body.username, &body.password, body.totp.as_deref(), ip)
        .await?;
    Ok(Json(s.issue_token(&admin).await?))
}

async fn logout(State(s): Service, _actor: Admin, headers: HeaderMap) -> ApiResult<StatusCode> {
    if let Some(token) = crate::auth::bearer::bearer_token(&headers) {
        s.revoke_token(token).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn me(
    State(s): Service,
    Admin(actor): Admin,
    _query: StrictQuery<NoParams>,
) -> ApiResult<Json<AdminInfo>> {
    Ok(Json(s.admin_info(&actor).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(s): Service,
    Admin(actor): Admin,
    AppJson(body): AppJson<PasswordChange>,
) -> ApiResult<StatusCode> {
    s.change_password(&actor, &body.current_password, &body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn overview(
    State(s): Service,
    Admin(actor): Admin,
    _query: StrictQuery<NoParams>,
) -> ApiResult<Json<OverviewCounts>> {
    Ok(Json(s.overview_counts(&actor).await?))
}
