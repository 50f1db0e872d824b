//! Anthropic Messages API: `POST /v1/messages` (plain and SSE), `POST
//! /v1/messages/count_tokens`, `GET /v1/models`, and Anthropic-shaped errors.

use std::borrow::Cow;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::behavior::MockUsage;
use super::exchange::{Exchange, Platform, StreamScript};
use super::wire::{delta_text, estimate_tokens, full_text, sse_event, to_json, SSE};
use super::MockState;

#[derive(Deserialize)]
struct MessagesRequest<'a> {
    #[serde(borrow)]
    model: Cow<'a, str>,
    #[allow(dead_code)]
    messages: Vec<IgnoredAny>,
    #[allow(dead_code)]
    max_tokens: u64,
    #[serde(default)]
    stream: bool,
}

#[derive(Deserialize)]
struct CountTokensRequest {
    #[allow(dead_code)]
    model: IgnoredAny,
    #[allow(dead_code)]
    messages: Vec<IgnoredAny>,
}

#[derive(Serialize)]
struct CacheCreation {
    ephemeral_5m_input_tokens: u64,
    ephemeral_1h_input_tokens: u64,
}

#[derive(Serialize)]
struct Usage {
    input_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
    cache_creation: CacheCreation,
    output_tokens: u64,
    service_tier: &'static str,
}

impl Usage {
    fn new(usage: &MockUsage, output_tokens: u64) -> Usage {
        Usage {
            input_tokens: usage.input,
            cache_creation_input_tokens: usage.cache_write_5m + usage.cache_write_1h,
            cache_read_input_tokens: usage.cache_read,
            cache_creation: CacheCreation {
                ephemeral_5m_input_tokens: usage.cache_write_5m,
                ephemeral_1h_input_tokens: usage.cache_write_1h,
            },
            output_tokens,
            service_tier: "standard",
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block<'a> {
    Text { text: &'a str },
}

#[derive(Serialize)]
struct Message<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<Block<'a>>,
    stop_reason: Option<&'static str>,
    stop_sequence: Option<&'static str>,
    usage: Usage,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Delta<'a> {
    TextDelta { text: &'a str },
}

#[derive(Serialize)]
struct StopDelta {
    stop_reason: &'static str,
    stop_sequence: Option<&'static str>,
}

#[derive(Serialize)]
struct OutputUsage {
    output_tokens: u64,
}

/// The stream events, serialized with `type` first as Anthropic sends them.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event<'a> {
    MessageStart {
        message: Message<'a>,
    },
    ContentBlockStart {
        index: u32,
        content_block: Block<'a>,
    },
    Ping,
    ContentBlockDelta {
        index: u32,
        delta: Delta<'a>,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: StopDelta,
        usage: OutputUsage,
    },
    MessageStop,
}

impl Event<'_> {
    fn name(&self) -> &'static str {
        match self {
            Event::MessageStart { .. } => "message_start",
            Event::ContentBlockStart { .. } => "content_block_start",
            Event::Ping => "ping",
            Event::ContentBlockDelta { .. } => "content_block_delta",
            Event::ContentBlockStop { .. } => "content_block_stop",
            Event::MessageDelta { .. } => "message_delta",
            Event::MessageStop => "message_stop",
        }
    }

    fn encode(&self) -> bytes::Bytes {
        sse_event(self.name(), self)
    }
}

pub(crate) async fn messages(State(state): State<Arc<MockState>>, request: Request) -> Response {
    let exchange = match Exchange::admit(&state, Platform::Anthropic, request).await {
        Ok(exchange) => exchange,
        Err(response) => return response,
    };
    let (model, stream) = match serde_json::from_slice::<MessagesRequest>(exchange.body()) {
        Ok(parsed) => (parsed.model.into_owned(), parsed.stream),
        Err(e) => {
            let message = format!("invalid request body: {e}");
            return exchange.reject(StatusCode::BAD_REQUEST, &message);
        }
    };
    let id = format!("msg_mock_{:016x}", exchange.serial);
    let behavior = Arc::clone(&exchange.plan.behavior);
    if !stream {
        let text = full_text(behavior.chunks);
        let message = Message {
            id: &id,
            kind: "message",
            role: "assistant",
            model: &model,
            content: vec![Block::Text { text: &text }],
            stop_reason: Some("end_turn"),
            stop_sequence: None,
            usage: Usage::new(&behavior.usage, behavior.usage.output),
        };
        return exchange.json(to_json(&message));
    }
    let start = Event::MessageStart {
        message: Message {
            id: &id,
            kind: "message",
            role: "assistant",
            model: &model,
            content: Vec::new(),
            stop_reason: None,
            stop_sequence: None,
            usage: Usage::new(&behavior.usage, 1),
        },
    };
    let script = StreamScript {
        head: vec![
            start.encode(),
            Event::ContentBlockStart {
                index: 0,
                content_block: Block::Text { text: "" },
            }
            .encode(),
            Event::Ping.encode(),
        ],
        deltas: (0..behavior.chunks)
            .map(|i| {
                Event::ContentBlockDelta {
                    index: 0,
                    delta: Delta::TextDelta {
                        text: delta_text(i),
                    },
                }
                .encode()
            })
            .collect(),
        tail: vec![
            Event::ContentBlockStop { index: 0 }.encode(),
            Event::MessageDelta {
                delta: StopDelta {
                    stop_reason: "end_turn",
                    stop_sequence: None,
                },
                usage: OutputUsage {
                    output_tokens: behavior.usage.output,
                },
            }
            .encode(),
            Event::MessageStop.encode(),
        ],
    };
    exchange.stream(SSE, script)
}

pub(crate) async fn count_tokens(
    State(state): State<Arc<MockState>>,
    request: Request,
) -> Response {
    let exchange = match Exchange::admit(&state, Platform::Anthropic, request).await {
        Ok(exchange) => exchange,
        Err(response) => return response,
    };
    if let Err(e) = serde_json::from_slice::<CountTokensRequest>(exchange.body()) {
        let message = format!("invalid request body: {e}");
        return exchange.reject(StatusCode::BAD_REQUEST, &message);
    }
    let tokens = estimate_tokens(exchange.body());
    exchange.json(to_json(&serde_json::json!({ "input_tokens": tokens })))
}

const MODELS: &str = concat!(
    r#"{"data":["#,
    r#"{"type":"model","id":"claude-opus-4-8","display_name":"Claude Opus 4.8","created_at":"2026-02-17T00:00:00Z"},"#,
    r#"{"type":"model","id":"claude-sonnet-4-5","display_name":"Claude Sonnet 4.5","created_at":"2025-09-29T00:00:00Z"},"#,
    r#"{"type":"model","id":"claude-haiku-4-5","display_name":"Claude Haiku 4.5","created_at":"2025-10-15T00:00:00Z"}"#,
    r#"],"has_more":false,"first_id":"claude-opus-4-8","last_id":"claude-haiku-4-5"}"#
);

pub(crate) async fn models(state: &MockState, request: Request) -> Response {
    match Exchange::admit(state, Platform::Anthropic, request).await {
        Ok(exchange) => exchange.json(MODELS.as_bytes().to_vec()),
        Err(response) => response,
    }
}
