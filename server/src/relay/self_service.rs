//! `GET /v1/usage` (and `/api/v1/usage`): the presented key's own view
//! ([`crate::keys::holder`]), in the Anthropic error shape on failure.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::error::{ErrorKind, Protocol, RelayError};
use super::{presented_key, Relay};
use crate::keys::holder::{key_holder_usage, HolderError};

/// `GET /v1/usage`: the presented key's own usage, in the Anthropic error shape on failure.
pub async fn usage(State(relay): State<Arc<Relay>>, headers: HeaderMap) -> Response {
    let key = presented_key(&headers, Protocol::Anthropic);
    let live = |id: &str| relay.keys.state().usage(id);
    let looked_up = match relay.keys.stored_hashes(key.trim()).await {
        Ok(hashes) => {
            let tz = relay.settings.common.timezone;
            key_holder_usage(&relay.store, tz, key, &hashes, live).await
        }
        Err(_) => Err(HolderError::Unavailable),
    };
    match looked_up {
        Ok(view) => Json(view).into_response(),
        Err(HolderError::Missing) => RelayError::new(
            StatusCode::UNAUTHORIZED,
            ErrorKind::Authentication,
            "missing API key: send it as x-api-key or Authorization: Bearer",
        )
        .into_response(Protocol::Anthropic),
        Err(HolderError::Unknown) => RelayError::new(
            StatusCode::UNAUTHORIZED,
            ErrorKind::Authentication,
            "invalid API key",
        )
        .into_response(Protocol::Anthropic),
        Err(HolderError::Store(e)) => {
            tracing::error!(error = %e, "key holder usage failed");
            RelayError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorKind::Api,
                "the usage of this key cannot be read right now",
            )
            .into_response(Protocol::Anthropic)
        }
        Err(HolderError::Unavailable) => RelayError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::Api,
            "the usage of this key cannot be read right now",
        )
        .into_response(Protocol::Anthropic),
    }
}
