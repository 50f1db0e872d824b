//! The admin API's HTTP error: `{"error": {"code", "message", ...}}` with the matching status.
//! Internal details are logged where they happen and never put in the body.

use app::error::AdminError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;

#[derive(Debug)]
pub struct ApiError(pub AdminError);

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut body = serde_json::to_value(&self.0).unwrap_or_default();
        if let Some(obj) = body.as_object_mut() {
            obj.insert("message".into(), self.0.to_string().into());
        }
        let mut res = (status, Json(serde_json::json!({ "error": body }))).into_response();
        if let AdminError::Throttled { retry_after } = self.0 {
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

/// A storage failure as an [`AdminError`] (logged; see [`crate::storage::internal`]).
pub use crate::storage::internal;

/// `Json` whose rejections (bad JSON, wrong content type, missing fields) use our error shape.
pub struct AppJson<T>(pub T);

impl<S, T> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Content type, size and syntax are checked as before, without building a value; a
        // body using serde_json's raw-value marker is refused before it is read into one (see
        // `relay::json_guard`: nested, it recursed past any stack).
        let raw = match Json::<Box<serde_json::value::RawValue>>::from_request(req, state).await {
            Ok(Json(raw)) => raw,
            Err(rejection) => return Err(ApiError(json_rejection(rejection))),
        };
        if crate::relay::json_guard::has_raw_value_marker(raw.get().as_bytes()) {
            return Err(ApiError(AdminError::validation(
                "body",
                "uses the reserved key \"$serde_json::private::RawValue\"",
            )));
        }
        match Json::<T>::from_bytes(raw.get().as_bytes()) {
            Ok(Json(v)) => Ok(AppJson(v)),
            Err(rejection) => Err(ApiError(json_rejection(rejection))),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> AdminError {
    match &rejection {
        JsonRejection::JsonDataError(e) => {
            // serde's message names the field path, e.g. "quotaLimit: invalid type".
            let detail = std::error::Error::source(e)
                .map(|s| s.to_string())
                .unwrap_or_else(|| e.body_text());
            match detail.split_once(": ") {
                Some((field, rest)) if !field.contains(' ') => AdminError::validation(field, rest),
                _ => AdminError::validation("body", detail),
            }
        }
        JsonRejection::JsonSyntaxError(_) => AdminError::validation(
            "body",
            format!(
                "malformed JSON: {}",
                std::error::Error::source(&rejection)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            ),
        ),
        JsonRejection::MissingJsonContentType(_) => {
            AdminError::validation("content-type", "expected application/json")
        }
        _ => AdminError::validation("body", rejection.body_text()),
    }
}
