//! The account test: one minimal real request through the account's own client and proxy,
//! built by the platform's adapter exactly as the relay would send it.

use std::time::Instant;

use app::types::{AccountTestResult, Platform};

use super::platforms::claude::ClaudeAdapter;
use super::platforms::gemini::{Action, GeminiAdapter};
use super::platforms::openai::{Endpoint, OpenAiAdapter};
use super::platforms::{Adapter, Call};
use crate::scheduler::pool::UpstreamAccount;

/// Sends a minimal real request through a usable account's client and proxy.
pub async fn probe(account: &UpstreamAccount) -> AccountTestResult {
    let model = account
        .supported_models
        .iter()
        .find(|m| !m.ends_with('*'))
        .cloned()
        .unwrap_or_else(|| match account.platform {
            Platform::Claude => "claude-haiku-4-5".into(),
            Platform::Openai => "gpt-5-nano".into(),
            Platform::Gemini => "gemini-2.5-flash-lite".into(),
        });
    // The very request the relay would send for a one-token answer, built by the
    // platform's own adapter (same URL rules, headers, credentials and proxy).
    let ping = serde_json::json!([{"role": "user", "content": "ping"}]);
    let (adapter, body, path): (Box<dyn Adapter>, serde_json::Value, &str) = match account.platform
    {
        Platform::Claude => (
            Box::new(ClaudeAdapter),
            serde_json::json!({"model": model, "max_tokens": 1, "messages": ping}),
            "/v1/messages",
        ),
        Platform::Openai => (
            Box::new(OpenAiAdapter {
                endpoint: Endpoint::ChatCompletions,
                hide_usage_chunk: false,
            }),
            serde_json::json!({"model": model, "max_completion_tokens": 1, "messages": ping}),
            "",
        ),
        Platform::Gemini => (
            Box::new(GeminiAdapter {
                version: "v1beta",
                action: Action::Generate,
                query: None,
            }),
            serde_json::json!({
                "contents": [{"role": "user", "parts": [{"text": "ping"}]}],
                "generationConfig": {"maxOutputTokens": 1},
            }),
            "",
        ),
    };
    let call = Call {
        path_and_query: path.to_owned(),
        headers: axum::http::HeaderMap::new(),
        body: bytes::Bytes::from(body.to_string()),
        model: model.clone(),
        stream: false,
        max_output_tokens: 1,
        session: None,
        billable: false,
        shape: Default::default(),
    };
    let request = match adapter.build(account, &call) {
        Ok(r) => r,
        Err(e) => {
            return AccountTestResult {
                ok: false,
                latency_ms: 0,
                http_status: None,
                model,
                error: Some(e.message),
            }
        }
    };
    let started = Instant::now();
    let sent = tokio::time::timeout(std::time::Duration::from_secs(30), request.send()).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let (ok, http_status, error) = match sent {
        Err(_) => (false, None, Some("no answer within 30 s".to_string())),
        Ok(Err(e)) => (
            false,
            None,
            Some(format!("request failed: {}", e.describe())),
        ),
        Ok(Ok(res)) => {
            let status = res.status;
            if status.is_success() {
                (true, Some(status.as_u16()), None)
            } else {
                let body = res
                    .read_bounded(64 * 1024, std::time::Duration::from_secs(10))
                    .await;
                let body = String::from_utf8_lossy(&body);
                let message = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| {
                        v.pointer("/error/message")
                            .and_then(|m| m.as_str())
                            .map(str::to_owned)
                    })
                    .unwrap_or_else(|| body.chars().take(300).collect());
                (false, Some(status.as_u16()), Some(message))
            }
        }
    };
    AccountTestResult {
        ok,
        latency_ms,
        http_status,
        model,
        error,
    }
}
