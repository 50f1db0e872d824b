//! REST handlers for accounts and account groups: thin calls into [`AccountsPort`].

use app::port::AccountsPort;
use app::types::{
    Account, AccountEvent, AccountGroup, AccountInput, AccountPatch, AccountTestResult, GroupInput,
    GroupMembers, GroupPatch,
};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::error::AppJson;
use super::rest::ApiResult;
use crate::auth::Admin;
use crate::startup::AppState;

pub async fn list_accounts(State(s): State<AppState>, _a: Admin) -> ApiResult<Json<Vec<Account>>> {
    Ok(Json(s.admin.list_accounts().await?))
}

pub async fn create_account(
    State(s): State<AppState>,
    _a: Admin,
    AppJson(input): AppJson<AccountInput>,
) -> ApiResult<(StatusCode, Json<Account>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.admin.create_account(input).await?),
    ))
}

pub async fn get_account(
    State(s): State<AppState>,
    _a: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<Account>> {
    Ok(Json(s.admin.get_account(&id).await?))
}

pub async fn update_account(
    State(s): State<AppState>,
    _a: Admin,
    Path(id): Path<String>,
    AppJson(patch): AppJson<AccountPatch>,
) -> ApiResult<Json<Account>> {
    Ok(Json(s.admin.update_account(&id, patch).await?))
}

pub async fn delete_account(
    State(s): State<AppState>,
    _a: Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.admin.delete_account(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn test_account(
    State(s): State<AppState>,
    _a: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<AccountTestResult>> {
    Ok(Json(s.admin.test_account(&id).await?))
}

pub async fn reset_account(
    State(s): State<AppState>,
    _a: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<Account>> {
    Ok(Json(s.admin.reset_account_status(&id).await?))
}

#[derive(Deserialize)]
pub struct EventsQuery {
    limit: Option<u32>,
}

pub async fn account_events(
    State(s): State<AppState>,
    _a: Admin,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Json<Vec<AccountEvent>>> {
    Ok(Json(
        s.admin.account_events(&id, q.limit.unwrap_or(50)).await?,
    ))
}

pub async fn list_groups(
    State(s): State<AppState>,
    _a: Admin,
) -> ApiResult<Json<Vec<AccountGroup>>> {
    Ok(Json(s.admin.list_groups().await?))
}

pub async fn create_group(
    State(s): State<AppState>,
    _a: Admin,
    AppJson(input): AppJson<GroupInput>,
) -> ApiResult<(StatusCode, Json<AccountGroup>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.admin.create_group(input).await?),
    ))
}

pub async fn get_group(
    State(s): State<AppState>,
    _a: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<AccountGroup>> {
    Ok(Json(s.admin.get_group(&id).await?))
}

pub async fn update_group(
    State(s): State<AppState>,
    _a: Admin,
    Path(id): Path<String>,
    AppJson(patch): AppJson<GroupPatch>,
) -> ApiResult<Json<AccountGroup>> {
    Ok(Json(s.admin.update_group(&id, patch).await?))
}

pub async fn delete_group(
    State(s): State<AppState>,
    _a: Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.admin.delete_group(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn set_members(
    State(s): State<AppState>,
    _a: Admin,
    Path(id): Path<String>,
    AppJson(members): AppJson<GroupMembers>,
) -> ApiResult<Json<AccountGroup>> {
    Ok(Json(s.admin.set_group_members(&id, members).await?))
}
