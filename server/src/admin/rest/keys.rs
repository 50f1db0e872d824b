//! `/admin/api-keys` and `/admin/key-presets`: a thin skin over the service. Bodies are read
//! strictly (unknown fields and wrong types name their field) and so is the list's query string.

use app::error::AdminError;
use app::port::KeysPort;
use app::types::{
    ApiKey, BatchCreateKeys, CreateKey, CreatedKey, KeyPage, KeyPreset, KeyPresetInput,
    KeyPresetPatch, KeyQuery, KeyStatus, UpdateKey,
};
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::{get, patch, post};
use axum::Json;

use super::extract::{
    choice, unknown, whole_number, NoParams, QueryParams, StrictJson, StrictQuery,
};
use super::{ApiResult, RouteTable, Service};
use crate::auth::Admin;

pub(super) fn register(table: RouteTable) -> RouteTable {
    table
        .route(
            "/admin/api-keys",
            &[Method::GET, Method::POST],
            get(list_keys).post(create_key),
        )
        .route(
            "/admin/api-keys/batch",
            &[Method::POST],
            post(batch_create_keys),
        )
        .route(
            "/admin/api-keys/{id}",
            &[Method::GET, Method::PATCH, Method::DELETE],
            get(get_key).patch(update_key).delete(delete_key),
        )
        .route(
            "/admin/key-presets",
            &[Method::GET, Method::POST],
            get(list_presets).post(create_preset),
        )
        .route(
            "/admin/key-presets/{id}",
            &[Method::PATCH, Method::DELETE],
            patch(update_preset).delete(delete_preset),
        )
}

/// The list's query string; unknown parameters are refused like unknown body fields.
impl QueryParams for KeyQuery {
    fn set(&mut self, name: &str, value: &str) -> Result<(), AdminError> {
        let text = Some(value.to_owned());
        match name {
            "page" => self.page = Some(whole_number(name, value)?),
            "pageSize" => self.page_size = Some(whole_number(name, value)?),
            "tag" => self.tag = text,
            "status" if value.trim().is_empty() => self.status = None,
            "status" => self.status = Some(choice(name, value, &KEY_STATUSES, KeyStatus::as_str)?),
            "search" => self.search = text,
            "presetId" => self.preset_id = text,
            "createdBy" => self.created_by = text,
            "binding" => self.binding = text,
            other => return Err(unknown(other)),
        }
        Ok(())
    }
}

const KEY_STATUSES: [KeyStatus; 4] = [
    KeyStatus::Active,
    KeyStatus::Expired,
    KeyStatus::Exhausted,
    KeyStatus::Disabled,
];

async fn create_key(
    State(s): Service,
    Admin(actor): Admin,
    StrictJson(body): StrictJson<CreateKey>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    Ok((StatusCode::CREATED, Json(s.create_key(&actor, body).await?)))
}

async fn batch_create_keys(
    State(s): Service,
    Admin(actor): Admin,
    StrictJson(body): StrictJson<BatchCreateKeys>,
) -> ApiResult<(StatusCode, Json<Vec<CreatedKey>>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.batch_create_keys(&actor, body).await?),
    ))
}

async fn list_keys(
    State(s): Service,
    Admin(actor): Admin,
    StrictQuery(query): StrictQuery<KeyQuery>,
) -> ApiResult<Json<KeyPage>> {
    Ok(Json(s.list_keys(&actor, query).await?))
}

async fn get_key(
    State(s): Service,
    Admin(actor): Admin,
    _query: StrictQuery<NoParams>,
    Path(id): Path<String>,
) -> ApiResult<Json<ApiKey>> {
    Ok(Json(s.get_key(&actor, &id).await?))
}

async fn update_key(
    State(s): Service,
    Admin(actor): Admin,
    Path(id): Path<String>,
    StrictJson(body): StrictJson<UpdateKey>,
) -> ApiResult<Json<ApiKey>> {
    Ok(Json(s.update_key(&actor, &id, body).await?))
}

async fn delete_key(
    State(s): Service,
    Admin(actor): Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.delete_key(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_presets(
    State(s): Service,
    Admin(actor): Admin,
    _query: StrictQuery<NoParams>,
) -> ApiResult<Json<Vec<KeyPreset>>> {
    Ok(Json(s.list_presets(&actor).await?))
}

async fn create_preset(
    State(s): Service,
    Admin(actor): Admin,
    StrictJson(body): StrictJson<KeyPresetInput>,
) -> ApiResult<(StatusCode, Json<KeyPreset>)> {
    Ok((
        StatusCode::CREATED,
        Json(s.create_preset(&actor, body).await?),
    ))
}

async fn update_preset(
    State(s): Service,
    Admin(actor): Admin,
    Path(id): Path<String>,
    StrictJson(body): StrictJson<KeyPresetPatch>,
) -> ApiResult<Json<KeyPreset>> {
    Ok(Json(s.update_preset(&actor, &id, body).await?))
}

async fn delete_preset(
    State(s): Service,
    Admin(actor): Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.delete_preset(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::rest::extract::parse_query;

    fn parse_key_query(raw: Option<&str>) -> Result<KeyQuery, AdminError> {
        parse_query(raw)
    }

    #[test]
    fn query_parameters_are_parsed_and_named() {
        let q = parse_key_query(Some(
            "page=2&pageSize=10&status=expired&tag=vip&search=a%20b",
        ))
        .unwrap();
        assert_eq!(q.page, Some(2));
        assert_eq!(q.page_size, Some(10));
        assert_eq!(q.status, Some(KeyStatus::Expired));
        assert_eq!(q.search.as_deref(), Some("a b"));
        let field = |raw: &str| match parse_key_query(Some(raw)) {
            Err(AdminError::Validation { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field("page=x"), "page");
        assert_eq!(field("status=gone"), "status");
        assert_eq!(field("colour=red"), "colour");
        assert_eq!(parse_key_query(None).unwrap(), KeyQuery::default());
    }
}
