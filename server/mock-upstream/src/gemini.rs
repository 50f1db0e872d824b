//! Gemini API: `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent` (SSE
//! with `alt=sse`, otherwise an incrementally written JSON array), `:countTokens`,
//! `GET /v1beta/models`, and Google-style errors.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::behavior::MockUsage;
use super::exchange::{Exchange, Platform, StreamScript};
use super::wire::{delta_text, estimate_tokens, full_text, to_json, JSON, SSE};
use super::MockState;

#[derive(Deserialize)]
struct GenerateRequest {
    #[allow(dead_code)]
    contents: Vec<IgnoredAny>,
}

#[derive(Serialize)]
struct Part<'a> {
    text: &'a str,
}

#[derive(Serialize)]
struct Content<'a> {
    parts: [Part<'a>; 1],
    role: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Candidate<'a> {
    content: Content<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finish_reason: Option<&'static str>,
    index: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ModalityCount {
    modality: &'static str,
    token_count: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    prompt_token_count: u64,
    candidates_token_count: u64,
    total_token_count: u64,
    #[serde(skip_serializing_if = "is_zero")]
    cached_content_token_count: u64,
    prompt_tokens_details: [ModalityCount; 1],
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl UsageMetadata {
    fn new(usage: &MockUsage, candidates: u64) -> UsageMetadata {
        let prompt = usage.prompt_total();
        UsageMetadata {
            prompt_token_count: prompt,
            candidates_token_count: candidates,
            total_token_count: prompt + candidates,
            cached_content_token_count: usage.cache_read,
            prompt_tokens_details: [ModalityCount {
                modality: "TEXT",
                token_count: prompt,
            }],
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerateResponse<'a> {
    candidates: [Candidate<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage_metadata: Option<UsageMetadata>,
    model_version: &'a str,
    response_id: &'a str,
}

/// `POST .../models/{model}:{action}`: axum cannot split a segment on `:`, so this does.
pub(crate) async fn model_action(
    State(state): State<Arc<MockState>>,
    Path(model_action): Path<String>,
    request: Request,
) -> Response {
    let exchange = match Exchange::admit(&state, Platform::Gemini, request).await {
        Ok(exchange) => exchange,
        Err(response) => return response,
    };
    let Some((model, action)) = model_action.rsplit_once(':') else {
        return exchange.reject(StatusCode::NOT_FOUND, "expected models/{model}:{method}");
    };
    match action {
        "generateContent" => generate(exchange, model, Mode::Whole),
        "streamGenerateContent" => {
            let sse = exchange
                .request
                .uri
                .query()
                .is_some_and(|q| q.split('&').any(|pair| pair == "alt=sse"));
            generate(
                exchange,
                model,
                if sse { Mode::Sse } else { Mode::JsonArray },
            )
        }
        "countTokens" => {
            if serde_json::from_slice::<IgnoredAny>(exchange.body()).is_err() {
                return exchange.reject(StatusCode::BAD_REQUEST, "Invalid JSON payload received.");
            }
            let tokens = estimate_tokens(exchange.body());
            exchange.json(to_json(&serde_json::json!({ "totalTokens": tokens })))
        }
        _ => {
            let message = format!("method {action} is not supported by the mock");
            exchange.reject(StatusCode::NOT_FOUND, &message)
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Whole,
    Sse,
    JsonArray,
}

fn generate(exchange: Exchange, model: &str, mode: Mode) -> Response {
    if let Err(e) = serde_json::from_slice::<GenerateRequest>(exchange.body()) {
        let message = format!("Invalid JSON payload received. {e}");
        return exchange.reject(StatusCode::BAD_REQUEST, &message);
    }
    let behavior = Arc::clone(&exchange.plan.behavior);
    let usage = &behavior.usage;
    let response_id = format!("mock{:016x}", exchange.serial);
    // Renders one GenerateContentResponse; a stream is a sequence of them.
    let render = |text: &str, candidates: u64, last: bool| {
        to_json(&GenerateResponse {
            candidates: [Candidate {
                content: Content {
                    parts: [Part { text }],
                    role: "model",
                },
                finish_reason: last.then_some("STOP"),
                index: 0,
            }],
            usage_metadata: (!behavior.omit_usage).then(|| UsageMetadata::new(usage, candidates)),
            model_version: model,
            response_id: &response_id,
        })
    };
    if mode == Mode::Whole {
        let text = full_text(behavior.chunks);
        return exchange.json(render(&text, usage.output, true));
    }
    // A stream always has a final chunk to carry finishReason and the totals.
    let count = behavior.chunks.max(1);
    let deltas = (0..count).map(|i| {
        let text = if behavior.chunks == 0 {
            ""
        } else {
            delta_text(i)
        };
        let running = usage.output * (i as u64 + 1) / count as u64;
        let json = render(text, running, i + 1 == count);
        match mode {
            Mode::Sse => framed(b"data: ", &json, b"\r\n\r\n"),
            _ if i == 0 => framed(b"[", &json, b""),
            _ => framed(b",\r\n", &json, b""),
        }
    });
    let (content_type, tail) = match mode {
        Mode::Sse => (SSE, Vec::new()),
        _ => (JSON, vec![Bytes::from_static(b"]")]),
    };
    let script = StreamScript {
        head: Vec::new(),
        deltas: deltas.collect(),
        tail,
    };
    exchange.stream(content_type, script)
}

fn framed(prefix: &[u8], json: &[u8], suffix: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(prefix.len() + json.len() + suffix.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(json);
    out.extend_from_slice(suffix);
    Bytes::from(out)
}

const MODELS: &str = concat!(
    r#"{"models":["#,
    r#"{"name":"models/gemini-2.5-pro","version":"2.5","displayName":"Gemini 2.5 Pro","inputTokenLimit":1048576,"outputTokenLimit":65536,"supportedGenerationMethods":["generateContent","streamGenerateContent","countTokens"]},"#,
    r#"{"name":"models/gemini-2.5-flash","version":"2.5","displayName":"Gemini 2.5 Flash","inputTokenLimit":1048576,"outputTokenLimit":65536,"supportedGenerationMethods":["generateContent","streamGenerateContent","countTokens"]},"#,
    r#"{"name":"models/gemini-2.5-flash-lite","version":"2.5","displayName":"Gemini 2.5 Flash-Lite","inputTokenLimit":1048576,"outputTokenLimit":65536,"supportedGenerationMethods":["generateContent","streamGenerateContent","countTokens"]}"#,
    r#"]}"#
);

pub(crate) async fn list_models(State(state): State<Arc<MockState>>, request: Request) -> Response {
    match Exchange::admit(&state, Platform::Gemini, request).await {
        Ok(exchange) => exchange.json(MODELS.as_bytes().to_vec()),
        Err(response) => response,
    }
}
