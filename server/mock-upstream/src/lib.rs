//! A mock upstream that speaks the Anthropic, OpenAI (Chat Completions, Responses, Azure) and
//! Gemini wire formats closely enough for the official SDKs, with scriptable latency, stream
//! pacing, token usage, faults and forced compression per upstream credential. The Rust
//! integration tests start it in-process ([`MockUpstream`]); the Node tests and the benchmark
//! run the `mock-upstream` binary and drive it through the HTTP control API (`control.rs`).
//! `proxy` holds the HTTP CONNECT and SOCKS5 proxies used by the proxy tests.
//! A crate of its own (a dev-dependency of `server`), so the `tollgate` binary never contains it.
//! Modules depend one way: `wire` (bytes) ← `errors` ← `exchange` ← each platform.
//!
//! A credential is the API key a request carries: Anthropic `x-api-key` (or `Authorization:
//! Bearer`), OpenAI `Authorization: Bearer` (Azure `api-key`), Gemini `x-goog-api-key` or
//! `?key=`. Requests without one get a 401 in the platform's shape; credentials without a
//! behaviour of their own get the defaults.

mod anthropic;
mod behavior;
mod body;
mod control;
mod errors;
mod exchange;
mod gemini;
mod openai;
pub mod proxy;
mod registry;
mod responses;
mod server;
mod wire;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use http::StatusCode;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use behavior::{Behavior, Fault, MockUsage};
pub use registry::RecordedRequest;

use registry::Registry;

pub(crate) struct MockState {
    registry: Registry,
    serial: AtomicU64,
}

impl MockState {
    fn next_serial(&self) -> u64 {
        self.serial.fetch_add(1, Ordering::Relaxed) + 1
    }
}

fn router(state: Arc<MockState>) -> Router {
    Router::new()
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .route("/v1/models", get(list_models))
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/responses", post(responses::create))
        .route(
            "/openai/deployments/{deployment}/chat/completions",
            post(openai::azure_chat_completions),
        )
        .route("/v1beta/models", get(gemini::list_models))
        .route("/v1beta/models/{model_action}", post(gemini::model_action))
        .route("/v1/models/{model_action}", post(gemini::model_action))
        .merge(control::routes())
        .fallback(not_found)
        .with_state(state)
}

/// `GET /v1/models` exists on Anthropic and OpenAI alike; Anthropic's SDKs always send
/// `anthropic-version`, and only Anthropic uses `x-api-key`.
async fn list_models(State(state): State<Arc<MockState>>, request: Request) -> Response {
    let headers = request.headers();
    if headers.contains_key("anthropic-version") || headers.contains_key("x-api-key") {
        anthropic::models(&state, request).await
    } else {
        openai::models(&state, request).await
    }
}

async fn not_found(request: Request) -> (StatusCode, String) {
    (
        StatusCode::NOT_FOUND,
        format!(
            "mock upstream has no route for {} {}",
            request.method(),
            request.uri().path()
        ),
    )
}

/// A running mock upstream. Dropping it stops the server and closes every connection.
pub struct MockUpstream {
    state: Arc<MockState>,
    addr: SocketAddr,
    shutdown: CancellationToken,
}

impl MockUpstream {
    /// Starts on an ephemeral port of 127.0.0.1.
    ///
    /// # Panics
    /// If no loopback port can be bound (a test environment failure).
    pub async fn start(defaults: Behavior) -> MockUpstream {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        match MockUpstream::bind(addr, defaults).await {
            Ok(mock) => mock,
            Err(e) => panic!("mock upstream could not bind 127.0.0.1:0: {e}"),
        }
    }

    /// Starts on `addr` (the binary's `--listen`).
    pub async fn bind(addr: SocketAddr, defaults: Behavior) -> io::Result<MockUpstream> {
        defaults
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(MockState {
            registry: Registry::new(defaults),
            serial: AtomicU64::new(0),
        });
        let shutdown = CancellationToken::new();
        tokio::spawn(server::serve(
            listener,
            router(Arc::clone(&state)),
            shutdown.clone(),
        ));
        Ok(MockUpstream {
            state,
            addr,
            shutdown,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Gives `credential` its own behaviour (and a fresh `fault_times` budget).
    ///
    /// # Panics
    /// If the behaviour is invalid (unknown `compress`, non-error fault status): a mistake in
    /// the calling test.
    pub fn set_behavior(&self, credential: &str, behavior: Behavior) {
        if let Err(e) = behavior.validate() {
            panic!("invalid mock behavior for {credential:?}: {e}");
        }
        self.state.registry.set_behavior(credential, behavior);
    }

    /// Puts `credential` back on the defaults.
    pub fn clear_behavior(&self, credential: &str) {
        self.state.registry.clear_behavior(credential);
    }

    /// Replaces the defaults used by credentials without a behaviour of their own.
    ///
    /// # Panics
    /// If the behaviour is invalid, as for [`MockUpstream::set_behavior`].
    pub fn set_defaults(&self, behavior: Behavior) {
        if let Err(e) = behavior.validate() {
            panic!("invalid default mock behavior: {e}");
        }
        self.state.registry.set_defaults(behavior);
    }

    /// Requests received with `credential`, on any API route (control routes excluded).
    pub fn requests(&self, credential: &str) -> u64 {
        self.state.registry.requests(credential)
    }

    /// Requests received on API routes, with or without a credential.
    pub fn total_requests(&self) -> u64 {
        self.state.registry.total()
    }

    pub fn last_request(&self, credential: &str) -> Option<RecordedRequest> {
        self.state.registry.last_request(credential)
    }

    /// Requests being answered right now, open streams and stalled requests included.
    pub fn in_flight(&self) -> usize {
        self.state.registry.in_flight()
    }

    /// The most requests in flight at once since the start or the last [`MockUpstream::reset_stats`].
    pub fn peak_in_flight(&self) -> usize {
        self.state.registry.peak_in_flight()
    }

    /// Zeroes the request counters and forgets recorded requests; behaviours stay.
    pub fn reset_stats(&self) {
        self.state.registry.reset_stats();
    }

    /// Stops accepting and closes every connection, like dropping the mock.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
