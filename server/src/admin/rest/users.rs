//! `/admin/users` (staff, admins only), `/admin/audit-events` (JSON, or CSV with
//! `format=csv`), the caller's own second factor under `/admin/auth/totp/...`, and the
//! "require TOTP" policy at `/admin/settings/security`.

use app::error::AdminError;
use app::port::{AuthPort, StaffPort};
use app::types::{
    AuditPage, AuditQuery, SavedUser, SecuritySettings, StaffUser, TotpEnabled, TotpSetup,
    UserInput, UserPatch,
};
use axum::extract::{Path, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use serde::Deserialize;

use super::extract::{text, unknown, whole_number, NoParams, QueryParams, StrictQuery};
use super::{ApiResult, RouteTable, Service};
use crate::admin::error::AppJson;
use crate::auth::Admin;

pub(super) fn register(table: RouteTable) -> RouteTable {
    table
        .route(
            "/admin/users",
            &[Method::GET, Method::POST],
            get(list_users).post(create_user),
        )
        .route(
            "/admin/users/{id}",
            &[Method::GET, Method::PATCH, Method::DELETE],
            get(get_user).patch(update_user).delete(delete_user),
        )
        .route("/admin/audit-events", &[Method::GET], get(audit_events))
        .route("/admin/auth/totp/setup", &[Method::POST], post(totp_setup))
        .route(
            "/admin/auth/totp/confirm",
            &[Method::POST],
            post(totp_confirm),
        )
        .route(
            "/admin/auth/totp/disable",
            &[Method::POST],
            post(totp_disable),
        )
        .route(
            "/admin/settings/security",
            &[Method::GET, Method::PUT],
            get(get_security).put(put_security),
        )
}

async fn list_users(
    State(s): Service,
    Admin(actor): Admin,
    _q: StrictQuery<NoParams>,
) -> ApiResult<Json<Vec<StaffUser>>> {
    Ok(Json(s.list_users(&actor).await?))
}

async fn create_user(
    State(s): Service,
    Admin(actor): Admin,
    AppJson(body): AppJson<UserInput>,
) -> ApiResult<(StatusCode, Json<SavedUser>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.create_user(&actor, body).await?),
    ))
}

async fn get_user(
    State(s): Service,
    Admin(actor): Admin,
    _q: StrictQuery<NoParams>,
    Path(id): Path<String>,
) -> ApiResult<Json<StaffUser>> {
    Ok(Json(s.get_user(&actor, &id).await?))
}

async fn update_user(
    State(s): Service,
    Admin(actor): Admin,
    Path(id): Path<String>,
    AppJson(body): AppJson<UserPatch>,
) -> ApiResult<Json<SavedUser>> {
    Ok(Json(s.update_user(&actor, &id, body).await?))
}

async fn delete_user(
    State(s): Service,
    Admin(actor): Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.delete_user(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The audit list's query: its filters, and `format=csv` for a download.
#[derive(Default)]
struct AuditParams {
    query: AuditQuery,
    csv: bool,
}

impl QueryParams for AuditParams {
    fn set(&mut self, name: &str, value: &str) -> Result<(), AdminError> {
        let q = &mut self.query;
        match name {
            "page" => q.page = Some(whole_number(name, value)?),
            "pageSize" => q.page_size = Some(whole_number(name, value)?),
            "actorId" | "userId" => q.actor_id = text(value),
            "action" => q.action = text(value),
            "targetType" => q.target_type = text(value),
            "targetId" => q.target_id = text(value),
            "since" => q.since = Some(whole_number(name, value)?),
            "until" => q.until = Some(whole_number(name, value)?),
            "format" => match value.trim() {
                "json" | "" => self.csv = false,
                "csv" => self.csv = true,
                _ => return Err(AdminError::validation(name, "must be json or csv")),
            },
            other => return Err(unknown(other)),
        }
        Ok(())
    }
}

async fn audit_events(
    State(s): Service,
    Admin(actor): Admin,
    StrictQuery(params): StrictQuery<AuditParams>,
) -> ApiResult<Response> {
    let page = s.list_audit_events(&actor, params.query).await?;
    if !params.csv {
        return Ok(Json::<AuditPage>(page).into_response());
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit-events.csv\"",
            ),
        ],
        app::csv::audit_csv(&page.items),
    )
        .into_response())
}

async fn totp_setup(State(s): Service, Admin(actor): Admin) -> ApiResult<Json<TotpSetup>> {
    Ok(Json(s.begin_totp(&actor).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TotpCode {
    code: String,
}

async fn totp_confirm(
    State(s): Service,
    Admin(actor): Admin,
    AppJson(body): AppJson<TotpCode>,
) -> ApiResult<Json<TotpEnabled>> {
    Ok(Json(s.confirm_totp(&actor, &body.code).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TotpOff {
    password: String,
}

async fn totp_disable(
    State(s): Service,
    Admin(actor): Admin,
    AppJson(body): AppJson<TotpOff>,
) -> ApiResult<StatusCode> {
    s.disable_totp(&actor, &body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_security(
    State(s): Service,
    Admin(actor): Admin,
    _q: StrictQuery<NoParams>,
) -> ApiResult<Json<SecuritySettings>> {
    Ok(Json(s.security_settings(&actor).await?))
}

async fn put_security(
    State(s): Service,
    Admin(actor): Admin,
    AppJson(body): AppJson<SecuritySettings>,
) -> ApiResult<Json<SecuritySettings>> {
    Ok(Json(s.save_security_settings(&actor, body).await?))
}
