//! The relay's routes: the three protocols' front doors, the key holder's self-service and
//! `/metrics`, behind the gate (budget, unknown-key limit, the shutdown cut).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, head, post, MethodRouter};
use axum::Router;
use tracing::Instrument;

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

/// The relay's busiest routes. The listener hands a `POST` to one of these paths straight to
/// [`serve_hot`] (the gate, then the handler), without the router, its layers and the boxed
/// future each of them costs a request; [`routes`] registers the same table, so a request
/// reaches the same handler either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hot {
    Messages,
    RootChat,
    OpenAiChat,
    Responses,
}

const HOT: [(&str, Hot); 11] = [
    ("/v1/messages", Hot::Messages),
    ("/v1/messages/count_tokens", Hot::Messages),
    ("/api/v1/messages", Hot::Messages),
    ("/api/v1/messages/count_tokens", Hot::Messages),
    ("/claude/v1/messages", Hot::Messages),
    ("/claude/v1/messages/count_tokens", Hot::Messages),
    ("/v1/chat/completions", Hot::RootChat),
    ("/openai/v1/chat/completions", Hot::OpenAiChat),
    ("/v1/responses", Hot::Responses),
    ("/openai/v1/responses", Hot::Responses),
    ("/openai/responses", Hot::Responses),
];

impl Hot {
    /// The hot route a request goes to, with the path as routed (for its span).
    pub fn of(method: &Method, path: &str) -> Option<(Hot, &'static str)> {
        if method != Method::POST {
            return None;
        }
        HOT.iter().find(|(p, _)| *p == path).map(|&(p, h)| (h, p))
    }

    fn method_router(self) -> MethodRouter<Arc<Relay>> {
        match self {
            Hot::Messages => post(claude::messages),
            Hot::RootChat => post(openai::root_chat_completions),
            Hot::OpenAiChat => post(openai::chat_completions),
            Hot::Responses => post(openai::responses),
        }
    }

    async fn call(self, relay: Arc<Relay>, req: Request) -> Response {
        match self {
            Hot::Messages => claude::messages(State(relay), req).await,
            Hot::RootChat => openai::root_chat_completions(State(relay), req).await,
            Hot::OpenAiChat => openai::chat_completions(State(relay), req).await,
            Hot::Responses => openai::responses(State(relay), req).await,
        }
    }
}

/// A hot route's request as the router would serve it: in the same `request` span, through the
/// gate, a server error logged as the router's trace layer logs it.
pub async fn serve_hot(
    relay: Arc<Relay>,
    (hot, path): (Hot, &'static str),
    req: Request,
) -> Response {
    let span = tracing::info_span!("request", method = %req.method(), path);
    async move {
        let gate = relay.clone();
        // Boxed: the handlers' futures are large, and this one is moved into the connection's
        // slot for it.
        let res = gate::pass(&gate, req, |req| Box::pin(hot.call(relay, req))).await;
        if res.status().is_server_error() {
            tracing::error!(status = res.status().as_u16(), "response failed");
        }
        res
    }
    .instrument(span)
    .await
}

pub fn routes(relay: Arc<Relay>) -> Router {
    let mut router = Router::new()
        .route("/", head(probe))
        .route("/metrics", get(metrics));
    for (path, hot) in HOT {
        router = router.route(path, hot.method_router());
    }
    for prefix in ["", "/api", "/claude"] {
        router = router.route(&format!("{prefix}/v1/models"), get(claude::models));
    }
    for path in ["/v1/usage", "/api/v1/usage"] {
        router = router.route(path, get(self_service::usage));
    }
    for path in ["/v1/redeem", "/api/v1/redeem"] {
        router = router.route(path, post(self_service::redeem));
    }
    router = router
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
