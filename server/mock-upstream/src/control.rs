//! The mock's control API, for tests and benchmarks that drive it over HTTP:
//!
//! - `PUT /_mock/behavior/{credential}` (JSON [`Behavior`]), `DELETE /_mock/behavior/{credential}`
//! - `PUT /_mock/defaults` (JSON [`Behavior`]): for credentials without their own behaviour
//! - `GET /_mock/stats` → `{"total":N,"inFlight":N,"byCredential":{credential:N}}`
//! - `GET /_mock/last/{credential}` → the credential's last request
//!   (`{"method","path","query","headers":{name:value},"body"}`), 404 if none
//! - `POST /_mock/reset`: back to the startup state (statistics zeroed, per-credential
//!   behaviours dropped, startup defaults restored)

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use bytes::Bytes;
use http::StatusCode;
use serde_json::{json, Map, Value};

use super::behavior::Behavior;
use super::MockState;

pub(crate) fn routes() -> Router<Arc<MockState>> {
    Router::new()
        .route(
            "/_mock/behavior/{credential}",
            put(set_behavior).delete(clear_behavior),
        )
        .route("/_mock/defaults", put(set_defaults))
        .route("/_mock/stats", get(stats))
        .route("/_mock/last/{credential}", get(last_request))
        .route("/_mock/reset", post(reset))
}

/// Parses without insisting on a content-type, so `curl -d` works too.
fn parse_behavior(body: &[u8]) -> Result<Behavior, String> {
    let behavior: Behavior =
        serde_json::from_slice(body).map_err(|e| format!("invalid behavior: {e}"))?;
    behavior.validate()?;
    Ok(behavior)
}

async fn set_behavior(
    State(state): State<Arc<MockState>>,
    Path(credential): Path<String>,
    body: Bytes,
) -> Response {
    match parse_behavior(&body) {
        Ok(behavior) => {
            state.registry.set_behavior(&credential, behavior);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(message) => (StatusCode::BAD_REQUEST, message).into_response(),
    }
}

async fn clear_behavior(
    State(state): State<Arc<MockState>>,
    Path(credential): Path<String>,
) -> StatusCode {
    state.registry.clear_behavior(&credential);
    StatusCode::NO_CONTENT
}

async fn set_defaults(State(state): State<Arc<MockState>>, body: Bytes) -> Response {
    match parse_behavior(&body) {
        Ok(behavior) => {
            state.registry.set_defaults(behavior);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(message) => (StatusCode::BAD_REQUEST, message).into_response(),
    }
}

async fn stats(State(state): State<Arc<MockState>>) -> Json<Value> {
    let by_credential: Map<String, Value> = state
        .registry
        .by_credential()
        .into_iter()
        .map(|(credential, n)| (credential, Value::from(n)))
        .collect();
    Json(json!({
        "total": state.registry.total(),
        "inFlight": state.registry.in_flight(),
        "byCredential": by_credential,
    }))
}

async fn last_request(
    State(state): State<Arc<MockState>>,
    Path(credential): Path<String>,
) -> Response {
    let Some(request) = state.registry.last_request(&credential) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let headers: Map<String, Value> = request
        .headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), Value::from(value))
        })
        .collect();
    Json(json!({
        "method": request.method.as_str(),
        "path": request.path,
        "query": request.query,
        "headers": headers,
        "body": String::from_utf8_lossy(&request.body),
    }))
    .into_response()
}

async fn reset(State(state): State<Arc<MockState>>) -> StatusCode {
    state.registry.reset_all();
    StatusCode::NO_CONTENT
}
