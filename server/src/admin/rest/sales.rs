//! Renewals, the key ledger and redemption codes: `/admin/api-keys/{id}/renew`,
//! `/admin/api-keys/renew` (a batch), `/admin/api-keys/{id}/ledger`, `/admin/redemption-codes`.
//! The public redemption (`POST /redeem`) is outside the admin API, in `startup`.

use app::error::AdminError;
use app::port::SalesPort;
use app::types::{
    BatchRenewKeys, CodePage, CodeQuery, CodeStatus, CreateCodes, CreatedCodes, LedgerEntry,
    RenewKey, Renewed,
};
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::{get, post};
use axum::Json;

use super::extract::{
    choice, unknown, whole_number, NoParams, QueryParams, StrictJson, StrictQuery,
};
use super::{ApiResult, RouteTable, Service};
use crate::auth::Admin;

pub(super) fn register(table: RouteTable) -> RouteTable {
    table
        .route("/admin/api-keys/renew", &[Method::POST], post(renew_keys))
        .route(
            "/admin/api-keys/{id}/renew",
            &[Method::POST],
            post(renew_key),
        )
        .route(
            "/admin/api-keys/{id}/ledger",
            &[Method::GET],
            get(key_ledger),
        )
        .route(
            "/admin/redemption-codes",
            &[Method::GET, Method::POST],
            get(list_codes).post(create_codes),
        )
        .route(
            "/admin/redemption-codes/{id}",
            &[Method::DELETE],
            axum::routing::delete(revoke_code),
        )
}

impl QueryParams for CodeQuery {
    fn set(&mut self, name: &str, value: &str) -> Result<(), AdminError> {
        let text = Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        match name {
            "page" => self.page = Some(whole_number(name, value)?),
            "pageSize" => self.page_size = Some(whole_number(name, value)?),
            "status" if value.trim().is_empty() => self.status = None,
            "status" => {
                self.status = Some(choice(name, value, &CodeStatus::ALL, CodeStatus::as_str)?)
            }
            "presetId" => self.preset_id = text,
            "batchId" => self.batch_id = text,
            other => return Err(unknown(other)),
        }
        Ok(())
    }
}

async fn renew_key(
    State(s): Service,
    Admin(actor): Admin,
    Path(id): Path<String>,
    StrictJson(body): StrictJson<RenewKey>,
) -> ApiResult<Json<Renewed>> {
    Ok(Json(s.renew_key(&actor, &id, body).await?))
}

async fn renew_keys(
    State(s): Service,
    Admin(actor): Admin,
    StrictJson(body): StrictJson<BatchRenewKeys>,
) -> ApiResult<Json<Vec<Renewed>>> {
    Ok(Json(s.renew_keys(&actor, body).await?))
}

async fn key_ledger(
    State(s): Service,
    Admin(actor): Admin,
    _query: StrictQuery<NoParams>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<LedgerEntry>>> {
    Ok(Json(s.key_ledger(&actor, &id).await?))
}

async fn create_codes(
    State(s): Service,
    Admin(actor): Admin,
    StrictJson(body): StrictJson<CreateCodes>,
) -> ApiResult<(StatusCode, Json<CreatedCodes>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.create_codes(&actor, body).await?),
    ))
}

async fn list_codes(
    State(s): Service,
    Admin(actor): Admin,
    StrictQuery(query): StrictQuery<CodeQuery>,
) -> ApiResult<Json<CodePage>> {
    Ok(Json(s.list_codes(&actor, query).await?))
}

async fn revoke_code(
    State(s): Service,
    Admin(actor): Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.revoke_code(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /redeem {code}` (public, outside the admin API): a code redeemed for a new key, shown
/// once. The caller's address (as the auth layer established it) counts failed guesses.
pub async fn redeem_public(
    State(s): Service,
    axum::Extension(app::port::ClientIp(ip)): axum::Extension<app::port::ClientIp>,
    StrictJson(body): StrictJson<app::types::RedeemRequest>,
) -> ApiResult<(StatusCode, Json<app::types::RedeemedNewKey>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.redeem_for_new_key(&body.code, ip).await?),
    ))
}
