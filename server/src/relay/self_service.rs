//! `GET /v1/usage` (and `/api/v1/usage`): the presented key's own view
//! ([`crate::keys::holder`]), and `POST /v1/redeem`: a redemption code added to the presented
//! key ([`crate::sales::redeem`]); both in the Anthropic error shape on failure.

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

/// `POST /v1/redeem {code}`: the code's value added to the presented key.
pub async fn redeem(
    State(relay): State<Arc<Relay>>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    use crate::sales::redeem::RedeemError;
    let peer = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let client = relay.redeem.proxies.client_ip(&headers, peer);
    let key = presented_key(&headers, Protocol::Anthropic);
    let request: app::types::RedeemRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return RelayError::new(
                StatusCode::BAD_REQUEST,
                ErrorKind::InvalidRequest,
                format!("expected {{\"code\": \"...\"}}: {e}"),
            )
            .into_response(Protocol::Anthropic)
        }
    };
    match relay
        .redemption()
        .onto_key(key, &request.code, client)
        .await
    {
        Ok(done) => Json(done).into_response(),
        Err(e) => {
            let (status, kind) = match &e {
                RedeemError::UnknownKey => (StatusCode::UNAUTHORIZED, ErrorKind::Authentication),
                RedeemError::Unknown => (StatusCode::NOT_FOUND, ErrorKind::NotFound),
                RedeemError::AlreadyRedeemed | RedeemError::Revoked | RedeemError::Expired(_) => {
                    (StatusCode::CONFLICT, ErrorKind::InvalidRequest)
                }
                RedeemError::Throttled(_) => (StatusCode::TOO_MANY_REQUESTS, ErrorKind::RateLimit),
                RedeemError::Admin(app::error::AdminError::Validation { .. }) => {
                    (StatusCode::BAD_REQUEST, ErrorKind::InvalidRequest)
                }
                RedeemError::Admin(_) | RedeemError::Store(_) => {
                    tracing::error!(error = %e, "redemption failed");
                    (StatusCode::INTERNAL_SERVER_ERROR, ErrorKind::Api)
                }
            };
            let mut error = RelayError::new(status, kind, e.to_string());
            if let RedeemError::Throttled(secs) = e {
                error.retry_after = Some(std::time::Duration::from_secs(secs));
            }
            error.into_response(Protocol::Anthropic)
        }
    }
}
