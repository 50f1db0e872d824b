//! OpenAI Responses API (`POST /v1/responses`, what Codex CLI speaks): one assistant message
//! with one `output_text` part, plain or as the typed SSE event sequence.

use std::borrow::Cow;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::behavior::MockUsage;
use super::exchange::{Exchange, Platform, StreamScript};
use super::wire::{delta_text, full_text, sse_event, to_json, unix_now, SSE};
use super::MockState;

#[derive(Deserialize)]
struct CreateRequest<'a> {
    #[serde(borrow)]
    model: Cow<'a, str>,
    #[allow(dead_code)]
    #[serde(default)]
    input: Option<IgnoredAny>,
    #[serde(default)]
    stream: bool,
}

#[derive(Serialize)]
struct InputDetails {
    cached_tokens: u64,
}

#[derive(Serialize)]
struct OutputDetails {
    reasoning_tokens: u64,
}

#[derive(Serialize)]
struct Usage {
    input_tokens: u64,
    input_tokens_details: InputDetails,
    output_tokens: u64,
    output_tokens_details: OutputDetails,
    total_tokens: u64,
}

impl Usage {
    fn new(usage: &MockUsage) -> Usage {
        Usage {
            input_tokens: usage.prompt_total(),
            input_tokens_details: InputDetails {
                cached_tokens: usage.cache_read,
            },
            output_tokens: usage.output,
            output_tokens_details: OutputDetails {
                reasoning_tokens: 0,
            },
            total_tokens: usage.prompt_total() + usage.output,
        }
    }
}

#[derive(Serialize, Clone, Copy)]
struct OutputText<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    annotations: &'static [u8],
    logprobs: &'static [u8],
    text: &'a str,
}

impl<'a> OutputText<'a> {
    fn new(text: &'a str) -> OutputText<'a> {
        OutputText {
            kind: "output_text",
            annotations: &[],
            logprobs: &[],
            text,
        }
    }
}

#[derive(Serialize)]
struct MessageItem<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    status: &'static str,
    role: &'static str,
    content: Vec<OutputText<'a>>,
}

#[derive(Serialize)]
struct Reasoning {
    effort: Option<&'static str>,
    summary: Option<&'static str>,
}

#[derive(Serialize)]
struct TextFormat {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct TextConfig {
    format: TextFormat,
}

#[derive(Serialize)]
struct ResponseObject<'a> {
    id: &'a str,
    object: &'static str,
    created_at: u64,
    status: &'static str,
    error: Option<()>,
    incomplete_details: Option<()>,
    instructions: Option<()>,
    max_output_tokens: Option<()>,
    model: &'a str,
    output: Vec<MessageItem<'a>>,
    parallel_tool_calls: bool,
    previous_response_id: Option<()>,
    reasoning: Reasoning,
    store: bool,
    temperature: f64,
    text: TextConfig,
    tool_choice: &'static str,
    tools: &'static [u8],
    top_p: f64,
    truncation: &'static str,
    usage: Option<Usage>,
    user: Option<()>,
    metadata: serde_json::Map<String, serde_json::Value>,
}

/// Stream events; serde puts `type` first, as the API does.
#[derive(Serialize)]
#[serde(tag = "type")]
enum Event<'a> {
    #[serde(rename = "response.created")]
    Created {
        response: ResponseObject<'a>,
        sequence_number: u64,
    },
    #[serde(rename = "response.in_progress")]
    InProgress {
        response: ResponseObject<'a>,
        sequence_number: u64,
    },
    #[serde(rename = "response.output_item.added")]
    OutputItemAdded {
        output_index: u32,
        item: MessageItem<'a>,
        sequence_number: u64,
    },
    #[serde(rename = "response.content_part.added")]
    ContentPartAdded {
        item_id: &'a str,
        output_index: u32,
        content_index: u32,
        part: OutputText<'a>,
        sequence_number: u64,
    },
    #[serde(rename = "response.output_text.delta")]
    OutputTextDelta {
        item_id: &'a str,
        output_index: u32,
        content_index: u32,
        delta: &'a str,
        logprobs: &'static [u8],
        sequence_number: u64,
    },
    #[serde(rename = "response.output_text.done")]
    OutputTextDone {
        item_id: &'a str,
        output_index: u32,
        content_index: u32,
        text: &'a str,
        logprobs: &'static [u8],
        sequence_number: u64,
    },
    #[serde(rename = "response.content_part.done")]
    ContentPartDone {
        item_id: &'a str,
        output_index: u32,
        content_index: u32,
        part: OutputText<'a>,
        sequence_number: u64,
    },
    #[serde(rename = "response.output_item.done")]
    OutputItemDone {
        output_index: u32,
        item: MessageItem<'a>,
        sequence_number: u64,
    },
    #[serde(rename = "response.completed")]
    Completed {
        response: ResponseObject<'a>,
        sequence_number: u64,
    },
}

impl Event<'_> {
    fn name(&self) -> &'static str {
        match self {
            Event::Created { .. } => "response.created",
            Event::InProgress { .. } => "response.in_progress",
            Event::OutputItemAdded { .. } => "response.output_item.added",
            Event::ContentPartAdded { .. } => "response.content_part.added",
            Event::OutputTextDelta { .. } => "response.output_text.delta",
            Event::OutputTextDone { .. } => "response.output_text.done",
            Event::ContentPartDone { .. } => "response.content_part.done",
            Event::OutputItemDone { .. } => "response.output_item.done",
            Event::Completed { .. } => "response.completed",
        }
    }

    fn encode(&self) -> Bytes {
        sse_event(self.name(), self)
    }
}

/// The ids and texts one answer is built from.
struct Answer<'a> {
    id: &'a str,
    item_id: &'a str,
    model: &'a str,
    created_at: u64,
    text: &'a str,
    usage: &'a MockUsage,
}

impl<'a> Answer<'a> {
    fn item(&self, done: bool) -> MessageItem<'a> {
        MessageItem {
            id: self.item_id,
            kind: "message",
            status: if done { "completed" } else { "in_progress" },
            role: "assistant",
            content: if done {
                vec![OutputText::new(self.text)]
            } else {
                Vec::new()
            },
        }
    }

    fn response(&self, done: bool) -> ResponseObject<'a> {
        ResponseObject {
            id: self.id,
            object: "response",
            created_at: self.created_at,
            status: if done { "completed" } else { "in_progress" },
            error: None,
            incomplete_details: None,
            instructions: None,
            max_output_tokens: None,
            model: self.model,
            output: if done {
                vec![self.item(true)]
            } else {
                Vec::new()
            },
            parallel_tool_calls: true,
            previous_response_id: None,
            reasoning: Reasoning {
                effort: None,
                summary: None,
            },
            store: false,
            temperature: 1.0,
            text: TextConfig {
                format: TextFormat { kind: "text" },
            },
            tool_choice: "auto",
            tools: &[],
            top_p: 1.0,
            truncation: "disabled",
            usage: done.then(|| Usage::new(self.usage)),
            user: None,
            metadata: serde_json::Map::new(),
        }
    }
}

pub(crate) async fn create(State(state): State<Arc<MockState>>, request: Request) -> Response {
    let exchange = match Exchange::admit(&state, Platform::OpenAi, request).await {
        Ok(exchange) => exchange,
        Err(response) => return response,
    };
    let (model, stream) = match serde_json::from_slice::<CreateRequest>(exchange.body()) {
        Ok(parsed) => (parsed.model.into_owned(), parsed.stream),
        Err(e) => {
            let message = format!("invalid request body: {e}");
            return exchange.reject(StatusCode::BAD_REQUEST, &message);
        }
    };
    let behavior = Arc::clone(&exchange.plan.behavior);
    let id = format!("resp_mock{:016x}", exchange.serial);
    let item_id = format!("msg_mock{:016x}", exchange.serial);
    let text = full_text(behavior.chunks);
    let answer = Answer {
        id: &id,
        item_id: &item_id,
        model: &model,
        created_at: unix_now(),
        text: &text,
        usage: &behavior.usage,
    };
    if !stream {
        return exchange.json(to_json(&answer.response(true)));
    }
    let chunks = behavior.chunks as u64;
    let head = vec![
        Event::Created {
            response: answer.response(false),
            sequence_number: 0,
        }
        .encode(),
        Event::InProgress {
            response: answer.response(false),
            sequence_number: 1,
        }
        .encode(),
        Event::OutputItemAdded {
            output_index: 0,
            item: answer.item(false),
            sequence_number: 2,
        }
        .encode(),
        Event::ContentPartAdded {
            item_id: &item_id,
            output_index: 0,
            content_index: 0,
            part: OutputText::new(""),
            sequence_number: 3,
        }
        .encode(),
    ];
    let deltas = (0..behavior.chunks)
        .map(|i| {
            Event::OutputTextDelta {
                item_id: &item_id,
                output_index: 0,
                content_index: 0,
                delta: delta_text(i),
                logprobs: &[],
                sequence_number: 4 + i as u64,
            }
            .encode()
        })
        .collect();
    let tail = vec![
        Event::OutputTextDone {
            item_id: &item_id,
            output_index: 0,
            content_index: 0,
            text: &text,
            logprobs: &[],
            sequence_number: 4 + chunks,
        }
        .encode(),
        Event::ContentPartDone {
            item_id: &item_id,
            output_index: 0,
            content_index: 0,
            part: OutputText::new(&text),
            sequence_number: 5 + chunks,
        }
        .encode(),
        Event::OutputItemDone {
            output_index: 0,
            item: answer.item(true),
            sequence_number: 6 + chunks,
        }
        .encode(),
        Event::Completed {
            response: answer.response(true),
            sequence_number: 7 + chunks,
        }
        .encode(),
    ];
    exchange.stream(SSE, StreamScript { head, deltas, tail })
}
