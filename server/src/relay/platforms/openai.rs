//! The OpenAI platform: Chat Completions, the Responses API (Codex CLI) and the model list,
//! under `/openai/v1/...` and, for clients that only take a base URL, `/v1/chat/completions`
//! and `/v1/responses` at the root (where `claude-*` models go to Claude accounts instead).
//!
//! Accounts are OpenAI or any OpenAI-compatible API (`Authorization: Bearer`), or an Azure
//! OpenAI deployment (`api-key`, deployment in the path, `api-version` in the query).
//!
//! Streamed Chat Completions report usage only in a final chunk the client must ask for
//! (`stream_options.include_usage`). So the relay can always bill, it asks for that chunk
//! itself when the client did not, and removes it from what the client receives: clients
//! that did not ask for it may not expect a chunk with `choices: []`. Usage an upstream puts
//! on a chunk that has choices is left in place (an extra field breaks no client).

pub(crate) mod handlers;
mod health;
mod usage_chunk;

use app::types::Platform;
use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::value::RawValue;
use serde_json::Value;

use super::usage_json::JsonBody;
use super::usage_openai::{read_openai_json, ChatSse, ResponsesSse};
use super::usage_parse::UsageParser;
use super::{Adapter, BodyTransform, Call};
pub(crate) use crate::relay::body::rewrite_body;
use crate::relay::error::{Protocol, RelayError};
use crate::scheduler::health::Outcome;
use crate::scheduler::pool::UpstreamAccount;

pub use handlers::{chat_completions, models, relay_chat, responses, root_chat_completions};
pub(crate) use handlers::{model_list, model_of_platform};
pub use health::{classify_openai, duration_ms, openai_rate_limit_reset};
pub use usage_chunk::HideUsageChunk;

/// The `api-version` of Azure OpenAI chat completions when the account sets none.
pub const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";

/// Request headers forwarded to OpenAI; the client's credentials and organisation headers
/// describe the client's own OpenAI account and stay behind.
const FORWARDED: &[&str] = &["accept", "openai-beta"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Responses,
}

pub struct OpenAiAdapter {
    pub endpoint: Endpoint,
    /// The relay added `stream_options.include_usage` the client did not ask for.
    pub hide_usage_chunk: bool,
}

/// The API root of an OpenAI-compatible base URL: a URL with a path is the root itself (as
/// the OpenAI SDKs take it, e.g. `https://openrouter.ai/api/v1`); a bare host gets `/v1`.
#[cfg(test)]
pub fn api_root(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    if has_own_path(base) {
        base.to_owned()
    } else {
        format!("{base}/v1")
    }
}

/// Whether a base URL is an API root of its own (has a path), decided once per account: the
/// OpenAI paths are appended to it as they are, or after `/v1`.
pub use crate::scheduler::pool::has_own_path;

/// `{base}/openai/deployments/{deployment}/chat/completions?api-version=…`, the deployment
/// percent-encoded as a path segment.
fn azure_chat_url(account: &UpstreamAccount, deployment: &str) -> Result<url::Url, RelayError> {
    let mut url = url::Url::parse(&account.base_url).map_err(|e| {
        RelayError::new(
            StatusCode::BAD_GATEWAY,
            crate::relay::error::ErrorKind::Api,
            format!("the account's base URL is invalid: {e}"),
        )
    })?;
    url.path_segments_mut()
        .map_err(|_| {
            RelayError::new(
                StatusCode::BAD_GATEWAY,
                crate::relay::error::ErrorKind::Api,
                "the account's base URL cannot take a path",
            )
        })?
        .pop_if_empty()
        .extend(["openai", "deployments", deployment, "chat", "completions"]);
    let version = account
        .azure_api_version
        .as_deref()
        .unwrap_or(DEFAULT_AZURE_API_VERSION);
    url.query_pairs_mut()
        .clear()
        .append_pair("api-version", version);
    Ok(url)
}

impl Adapter for OpenAiAdapter {
    fn protocol(&self) -> Protocol {
        Protocol::OpenAi
    }

    fn platform(&self) -> Platform {
        Platform::Openai
    }

    fn build(
        &self,
        account: &UpstreamAccount,
        call: &Call,
    ) -> Result<crate::upstream_http::UpstreamRequest, RelayError> {
        let upstream_model = account.upstream_model(&call.model);
        let (rb, body) = match (&account.azure_deployment, self.endpoint) {
            (Some(deployment), Endpoint::ChatCompletions) => (
                account.client.post(azure_chat_url(account, deployment)?),
                with_model(&call.body, &call.model, upstream_model)?,
            ),
            // Azure's v1 Responses API names the deployment in `model`.
            (Some(deployment), Endpoint::Responses) => (
                account.post("/openai/v1/responses?api-version=preview"),
                with_model(&call.body, "", deployment)?,
            ),
            (None, endpoint) => {
                // The API root (`has_own_path`, decided when the account was loaded).
                let path = match (account.base_has_path, endpoint) {
                    (true, Endpoint::ChatCompletions) => "/chat/completions",
                    (true, Endpoint::Responses) => "/responses",
                    (false, Endpoint::ChatCompletions) => "/v1/chat/completions",
                    (false, Endpoint::Responses) => "/v1/responses",
                };
                (
                    account.post(path),
                    with_model(&call.body, &call.model, upstream_model)?,
                )
            }
        };
        let mut rb = rb.header("content-type", "application/json").body(body);
        rb = match account.azure_deployment {
            Some(_) => rb.header("api-key", account.api_key.expose()),
            None => rb.bearer_auth(account.api_key.expose()),
        };
        if self.hide_usage_chunk {
            // The answer is rewritten, so it must arrive uncompressed.
            rb = rb.header("accept-encoding", "identity");
        }
        for name in FORWARDED {
            for v in call.headers.get_all(*name) {
                rb = rb.header(*name, v.as_bytes());
            }
        }
        Ok(rb)
    }

    fn classify(
        &self,
        status: StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Outcome {
        classify_openai(status, headers, body, now)
    }

    fn parser(&self, stream: bool) -> Box<dyn UsageParser> {
        match (self.endpoint, stream) {
            (Endpoint::ChatCompletions, true) => Box::new(ChatSse::default()),
            (Endpoint::Responses, true) => Box::new(ResponsesSse::default()),
            (_, false) => Box::new(JsonBody::new(read_openai_json)),
        }
    }

    fn transform(&self, _call: &Call, status: StatusCode) -> Option<Box<dyn BodyTransform>> {
        (self.hide_usage_chunk && status.is_success())
            .then(|| Box::new(HideUsageChunk::default()) as Box<dyn BodyTransform>)
    }
}

/// The body with `model` set to `upstream` when it differs from `requested` (an account's
/// model mapping, or an Azure deployment).
pub(crate) fn with_model(
    body: &Bytes,
    requested: &str,
    upstream: &str,
) -> Result<Bytes, RelayError> {
    if requested == upstream {
        return Ok(body.clone());
    }
    rewrite_body(body, |obj| {
        obj.insert("model".into(), Value::String(upstream.to_owned()));
    })
}

/// The first message of `role` (any of `roles`) in a `messages`/`input` array, for sessions.
pub(crate) fn first_with_role(items: Option<&RawValue>, roles: &[&str]) -> Option<Value> {
    let items: Vec<&RawValue> = serde_json::from_str(items?.get()).ok()?;
    items.into_iter().find_map(|item| {
        let v: Value = serde_json::from_str(item.get()).ok()?;
        v.get("role")
            .and_then(Value::as_str)
            .is_some_and(|r| roles.contains(&r))
            .then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_roots() {
        assert_eq!(
            api_root("https://api.openai.com"),
            "https://api.openai.com/v1"
        );
        assert_eq!(
            api_root("http://127.0.0.1:9000/"),
            "http://127.0.0.1:9000/v1"
        );
        assert_eq!(
            api_root("https://openrouter.ai/api/v1"),
            "https://openrouter.ai/api/v1"
        );
        assert_eq!(
            api_root("https://generativelanguage.googleapis.com/v1beta/openai/"),
            "https://generativelanguage.googleapis.com/v1beta/openai"
        );
    }

    #[test]
    fn model_mapping_rewrites_only_when_needed() {
        let b = Bytes::from_static(br#"{"model":"a","stream":true}"#);
        assert_eq!(with_model(&b, "a", "a").unwrap(), b);
        let v: Value = serde_json::from_slice(&with_model(&b, "a", "b").unwrap()).unwrap();
        assert_eq!(
            (v["model"].as_str(), v["stream"].as_bool()),
            (Some("b"), Some(true))
        );
    }
}
