//! The relay's routes: the three protocols' front doors, the key holder's self-service and
//! `/metrics`, behind the gate (budget, unknown-key limit, the shutdown cut).

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, head, post};
use axum::Router;

use super::platforms::{chat_to_claude, claude, gemini, openai};
use super::{gate, self_service, Relay};

/// `GET /metrics`: the counters plus the gauges read now (see `metrics::prometheus::endpoint`).
async fn metrics(
    axum::extract::State(relay): axum::extract::State<Arc<Relay>>,
    headers: HeaderMap,
) -> axum::response::Response {
    crate::metrics::prometheus::endpoint::scrape(
        relay.settings.serve.ops.metrics_token(),
        &headers,
        || crate::metrics::prometheus::endpoint::render(&relay.figures(), crate::storage::now_ms()),
    )
}

/// `HEAD /`: Claude Code probes the base URL before its first request.
async fn probe() -> StatusCode {
    StatusCode::OK
}

pub fn routes(relay: Arc<Relay>) -> Router {
    let mut router = Router::new()
        .route("/", head(probe))
        .route("/metrics", get(metrics));
    for prefix in ["", "/api", "/claude"] {
        router = router
            .route(&format!("{prefix}/v1/messages"), post(claude::messages))
            .route(
                &format!("{prefix}/v1/messages/count_tokens"),
                post(claude::messages),
            )
            .route(&format!("{prefix}/v1/models"), get(claude::models));
    }
    for path in ["/v1/usage", "/api/v1/usage"] {
        router = router.route(path, get(self_service::usage));
    }
    for path in ["/v1/redeem", "/api/v1/redeem"] {
        router = router.route(path, post(self_service::redeem));
    }
    router = router
        .route("/v1/chat/completions", post(openai::root_chat_completions))
        .route("/v1/responses", post(openai::responses))
        .route(
            "/openai/v1/chat/completions",
            post(openai::chat_completions),
        )
        .route("/openai/v1/responses", post(openai::responses))
        .route("/openai/responses", post(openai::responses))
        .route("/openai/v1/models", get(openai::models))
        .route(
            "/openai/claude/v1/chat/completions",
            post(chat_to_claude::chat_completions),
        )
        .route("/openai/claude/v1/models", get(chat_to_claude::models));
    for version in ["v1beta", "v1"] {
        router = router
            .route(&format!("/gemini/{version}/models"), get(gemini::models))
            .route(
                &format!("/gemini/{version}/models/{{model_action}}"),
                get(gemini::model).post(gemini::model_action),
            );
    }
    router
        .layer(axum::middleware::from_fn_with_state(
            relay.clone(),
            gate::gate,
        ))
        .with_state(relay)
}
