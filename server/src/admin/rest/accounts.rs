//! `/admin/accounts` and `/admin/account-groups`: thin calls into [`AccountsPort`].

use app::port::AccountsPort;
use app::types::{
    Account, AccountEvent, AccountGroup, AccountInput, AccountPatch, AccountTestResult, GroupInput,
    GroupMembers, GroupPatch,
};
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::{get, post, put};
use axum::Json;

use super::extract::{unknown, whole_number, NoParams, QueryParams, StrictQuery};
use super::{ApiResult, RouteTable, Service};
use crate::admin::error::AppJson;
use crate::auth::Admin;

pub(super) fn register(table: RouteTable) -> RouteTable {
    table
        .route(
            "/admin/accounts",
            &[Method::GET, Method::POST],
            get(list_accounts).post(create_account),
        )
        .route(
            "/admin/accounts/{id}",
            &[Method::GET, Method::PATCH, Method::DELETE],
            get(get_account)
                .patch(update_account)
                .delete(delete_account),
        )
        .route(
            "/admin/accounts/{id}/test",
            &[Method::POST],
            post(test_account),
        )
        .route(
            "/admin/accounts/{id}/reset-status",
            &[Method::POST],
            post(reset_account),
        )
        .route(
            "/admin/accounts/{id}/events",
            &[Method::GET],
            get(account_events),
        )
        .route(
            "/admin/accounts/{id}/budget/top-ups",
            &[Method::POST],
            post(top_up_budget),
        )
        .route(
            "/admin/account-groups",
            &[Method::GET, Method::POST],
            get(list_groups).post(create_group),
        )
        .route(
            "/admin/account-groups/{id}",
            &[Method::GET, Method::PATCH, Method::DELETE],
            get(get_group).patch(update_group).delete(delete_group),
        )
        .route(
            "/admin/account-groups/{id}/members",
            &[Method::PUT],
            put(set_members),
        )
}

async fn list_accounts(
    State(s): Service,
    Admin(actor): Admin,
    _query: StrictQuery<NoParams>,
) -> ApiResult<Json<Vec<Account>>> {
    Ok(Json(s.list_accounts(&actor).await?))
}

async fn create_account(
    State(s): Service,
    Admin(actor): Admin,
    AppJson(input): AppJson<AccountInput>,
) -> ApiResult<(StatusCode, Json<Account>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.create_account(&actor, input).await?),
    ))
}

async fn get_account(
    State(s): Service,
    Admin(actor): Admin,
    _query: StrictQuery<NoParams>,
    Path(id): Path<String>,
) -> ApiResult<Json<Account>> {
    Ok(Json(s.get_account(&actor, &id).await?))
}

async fn update_account(
    State(s): Service,
    Admin(actor): Admin,
    Path(id): Path<String>,
    AppJson(patch): AppJson<AccountPatch>,
) -> ApiResult<Json<Account>> {
    Ok(Json(s.update_account(&actor, &id, patch).await?))
}

async fn delete_account(
    State(s): Service,
    Admin(actor): Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.delete_account(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn test_account(
    State(s): Service,
    Admin(actor): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<AccountTestResult>> {
    Ok(Json(s.test_account(&actor, &id).await?))
}

async fn top_up_budget(
    State(s): Service,
    Admin(actor): Admin,
    Path(id): Path<String>,
    AppJson(input): AppJson<app::types::BudgetTopUp>,
) -> ApiResult<(StatusCode, Json<Account>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.top_up_budget(&actor, &id, input).await?),
    ))
}

async fn reset_account(
    State(s): Service,
    Admin(actor): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<Account>> {
    Ok(Json(s.reset_account_status(&actor, &id).await?))
}

#[derive(Default)]
struct EventsQuery {
    limit: Option<u32>,
}

impl QueryParams for EventsQuery {
    fn set(&mut self, name: &str, value: &str) -> Result<(), app::error::AdminError> {
        match name {
            "limit" => self.limit = Some(whole_number(name, value)?),
            other => return Err(unknown(other)),
        }
        Ok(())
    }
}

async fn account_events(
    State(s): Service,
    Admin(actor): Admin,
    Path(id): Path<String>,
    StrictQuery(q): StrictQuery<EventsQuery>,
) -> ApiResult<Json<Vec<AccountEvent>>> {
    Ok(Json(
        s.account_events(&actor, &id, q.limit.unwrap_or(50)).await?,
    ))
}

async fn list_groups(
    State(s): Service,
    Admin(actor): Admin,
    _query: StrictQuery<NoParams>,
) -> ApiResult<Json<Vec<AccountGroup>>> {
    Ok(Json(s.list_groups(&actor).await?))
}

async fn create_group(
    State(s): Service,
    Admin(actor): Admin,
    AppJson(input): AppJson<GroupInput>,
) -> ApiResult<(StatusCode, Json<AccountGroup>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.create_group(&actor, input).await?),
    ))
}

async fn get_group(
    State(s): Service,
    Admin(actor): Admin,
    _query: StrictQuery<NoParams>,
    Path(id): Path<String>,
) -> ApiResult<Json<AccountGroup>> {
    Ok(Json(s.get_group(&actor, &id).await?))
}

async fn update_group(
    State(s): Service,
    Admin(actor): Admin,
    Path(id): Path<String>,
    AppJson(patch): AppJson<GroupPatch>,
) -> ApiResult<Json<AccountGroup>> {
    Ok(Json(s.update_group(&actor, &id, patch).await?))
}

async fn delete_group(
    State(s): Service,
    Admin(actor): Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.delete_group(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_members(
    State(s): Service,
    Admin(actor): Admin,
    Path(id): Path<String>,
    AppJson(members): AppJson<GroupMembers>,
) -> ApiResult<Json<AccountGroup>> {
    Ok(Json(s.set_group_members(&actor, &id, members).await?))
}
