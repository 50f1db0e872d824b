//! The three upstream platforms. Each adapter (Claude, OpenAI, Gemini) says how to build its
//! upstream request, how its error answers bear on an account's health, how to read usage from
//! its answers and, for clients speaking another protocol, how to rewrite the answer; the
//! translations between protocols wrap one platform's adapter for another protocol's clients.

pub mod blame;
pub mod chat_to_claude;
pub mod chat_to_gemini;
pub mod claude;
pub mod gemini;
pub mod messages_to_openai;
pub mod openai;
#[cfg(test)]
mod proptests;
pub mod responses_to_claude;
pub mod server_tools;
pub mod translated;
pub mod usage_anthropic;
pub mod usage_gemini;
pub mod usage_json;
pub mod usage_openai;
pub mod usage_parse;

use app::types::Platform;
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;

use crate::relay::error::{Protocol, RelayError};
use crate::relay::request_cost::RequestShape;
use crate::scheduler::health::Outcome;
use crate::scheduler::pool::UpstreamAccount;
use usage_parse::UsageParser;

/// What a platform adapter needs to talk to its upstream.
pub trait Adapter: Send + Sync {
    fn protocol(&self) -> Protocol;
    fn platform(&self) -> Platform;
    /// The upstream request for this account (URL, credentials, forwarded headers, body with
    /// the account's model mapping applied).
    fn build(
        &self,
        account: &UpstreamAccount,
        call: &Call,
    ) -> Result<crate::upstream_http::UpstreamRequest, RelayError>;
    /// How a non-success answer bears on the account's health.
    fn classify(
        &self,
        status: StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Outcome;
    fn parser(&self, stream: bool) -> Box<dyn UsageParser>;
    /// For a 4xx answer not already treated as the account's fault (401/403/429): whether the
    /// body says the account is at fault after all (Gemini answers a revoked key with 400
    /// `API_KEY_INVALID`). Only adapters that return `true` from
    /// [`Adapter::inspects_client_errors`] are asked, so other platforms' 4xx bodies stream
    /// through untouched.
    fn account_fault(&self, _status: StatusCode, _body: &[u8]) -> Option<Outcome> {
        None
    }
    fn inspects_client_errors(&self) -> bool {
        false
    }
    /// For a 403: whether the body shows the request itself was refused (an unknown or
    /// forbidden model, a moderation refusal, Gemini's PERMISSION_DENIED on a file the caller
    /// does not own), not the account's credential. Such answers go to the client as they are,
    /// without failover and without touching the account's health (see [`blame`]).
    fn request_fault(&self, status: StatusCode, body: &[u8]) -> bool {
        status == StatusCode::FORBIDDEN && blame::forbidden_by_request(self.platform(), body)
    }
    /// A rewrite of the answer body for clients that speak another protocol than the upstream
    /// (OpenAI clients on Claude accounts). `None` passes the body through untouched.
    fn transform(&self, _call: &Call, _status: StatusCode) -> Option<Box<dyn BodyTransform>> {
        None
    }
}

/// Rewrites an answer body chunk by chunk (after metering, which reads the upstream's bytes).
pub trait BodyTransform: Send + 'static {
    /// The client-facing bytes for one upstream chunk (possibly empty).
    fn chunk(&mut self, upstream: &[u8]) -> Bytes;
    /// Whatever remains when the upstream body ends.
    fn end(&mut self) -> Bytes;
    /// The client-facing content type.
    fn content_type(&self) -> &'static str;
}

/// A client request, parsed just enough to route and bill it.
pub struct Call {
    /// Path and query to send upstream (e.g. `/v1/messages?beta=true`).
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub model: String,
    pub stream: bool,
    /// Upper bound of output tokens the request may produce.
    pub max_output_tokens: u64,
    pub session: Option<u64>,
    /// False for free endpoints (token counting): no reservation, zero cost.
    pub billable: bool,
    /// Answers, declared server tools and where the output ceiling lives.
    pub shape: RequestShape,
}

/// Hop-by-hop and framing headers never forwarded, in either direction.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.contains(&name)
}
