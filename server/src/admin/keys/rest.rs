//! REST handlers of `/admin/api-keys` and `/admin/key-presets`: a thin skin over the service.
//! Bodies are read strictly (unknown fields and wrong types name their field) and so is the
//! list's query string.

use app::error::AdminError;
use app::port::KeysPort;
use app::types::{
    ApiKey, BatchCreateKeys, CreateKey, CreatedKey, KeyPage, KeyPreset, KeyPresetInput,
    KeyPresetPatch, KeyQuery, KeyStatus, UpdateKey,
};
use axum::extract::{FromRequest, Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::Json;

use crate::admin::error::{ApiError, AppJson};
use crate::admin::rest::ApiResult;
use crate::auth::Admin;
use crate::keys::fields::StrictBody;
use crate::startup::AppState;

/// A JSON body read with [`StrictBody`].
pub struct StrictJson<T>(pub T);

impl<S, T> FromRequest<S> for StrictJson<T>
where
    T: StrictBody,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let AppJson(body) = AppJson::<serde_json::Value>::from_request(req, state).await?;
        Ok(StrictJson(T::from_json(body)?))
    }
}

fn number<T: std::str::FromStr>(field: &str, value: &str) -> Result<T, AdminError> {
    value
        .trim()
        .parse()
        .map_err(|_| AdminError::validation(field, "must be a whole number"))
}

fn status(value: &str) -> Result<KeyStatus, AdminError> {
    [
        KeyStatus::Active,
        KeyStatus::Expired,
        KeyStatus::Exhausted,
        KeyStatus::Disabled,
    ]
    .into_iter()
    .find(|s| s.as_str() == value.trim())
    .ok_or_else(|| {
        AdminError::validation(
            "status",
            "must be one of active, expired, exhausted, disabled",
        )
    })
}

/// The list's query string; unknown parameters are refused like unknown body fields.
pub fn parse_key_query(raw: Option<&str>) -> Result<KeyQuery, AdminError> {
    let mut q = KeyQuery::default();
    for (name, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let text = Some(value.to_string());
        match name.as_ref() {
            "page" => q.page = Some(number("page", &value)?),
            "pageSize" => q.page_size = Some(number("pageSize", &value)?),
            "tag" => q.tag = text,
            "status" if value.trim().is_empty() => q.status = None,
            "status" => q.status = Some(status(&value)?),
            "search" => q.search = text,
            "presetId" => q.preset_id = text,
            "binding" => q.binding = text,
            other => return Err(AdminError::validation(other, "unknown query parameter")),
        }
    }
    Ok(q)
}

pub async fn create_key(
    State(state): State<AppState>,
    _admin: Admin,
    StrictJson(body): StrictJson<CreateKey>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.admin.create_key(body).await?),
    ))
}

pub async fn batch_create_keys(
    State(state): State<AppState>,
    _admin: Admin,
    StrictJson(body): StrictJson<BatchCreateKeys>,
) -> ApiResult<(StatusCode, Json<Vec<CreatedKey>>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.admin.batch_create_keys(body).await?),
    ))
}

pub async fn list_keys(
    State(state): State<AppState>,
    _admin: Admin,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<KeyPage>> {
    let query = parse_key_query(raw.as_deref())?;
    Ok(Json(state.admin.list_keys(query).await?))
}

pub async fn get_key(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<ApiKey>> {
    Ok(Json(state.admin.get_key(&id).await?))
}

pub async fn update_key(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
    StrictJson(body): StrictJson<UpdateKey>,
) -> ApiResult<Json<ApiKey>> {
    Ok(Json(state.admin.update_key(&id, body).await?))
}

pub async fn delete_key(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.admin.delete_key(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_presets(
    State(state): State<AppState>,
    _admin: Admin,
) -> ApiResult<Json<Vec<KeyPreset>>> {
    Ok(Json(state.admin.list_presets().await?))
}

pub async fn create_preset(
    State(state): State<AppState>,
    _admin: Admin,
    StrictJson(body): StrictJson<KeyPresetInput>,
) -> ApiResult<(StatusCode, Json<KeyPreset>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.admin.create_preset(body).await?),
    ))
}

pub async fn update_preset(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
    StrictJson(body): StrictJson<KeyPresetPatch>,
) -> ApiResult<Json<KeyPreset>> {
    Ok(Json(state.admin.update_preset(&id, body).await?))
}

pub async fn delete_preset(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.admin.delete_preset(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

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
