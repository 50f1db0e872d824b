//! The relay's routes: the three protocols' front doors, the key holder's self-service and
//! `/metrics`, behind the gate (budget, unknown-key limit) and the shutdown cut.

use std::sync::Arc;

use axum::http::{header, HeaderMap, StatusCode};
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

/// Requests still waiting (queued, or for upstream headers) when the grace period ends are
/// answered with 503 so shutdown can finish.
async fn cut_on_shutdown(
    axum::extract::State(relay): axum::extract::State<Arc<Relay>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let cut = relay.cut.clone();
    tokio::select! {
        res = next.run(req) => res,
        _ = cut.cancelled() => (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")], "shutting down").into_response(),
    }
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
        .layer(axum::middleware::from_fn_with_state(
            relay.clone(),
            cut_on_shutdown,
        ))
        .with_state(relay)
}
