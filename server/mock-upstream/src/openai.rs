//! OpenAI Chat Completions (`POST /v1/chat/completions`, and Azure's
//! `POST /openai/deployments/{deployment}/chat/completions`), `GET /v1/models`, and
//! OpenAI-shaped errors. The Responses API lives in `responses.rs`.

use std::borrow::Cow;
use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::response::Response;
use http::StatusCode;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::behavior::MockUsage;
use super::exchange::{Exchange, Platform, StreamScript};
use super::wire::{delta_text, full_text, sse_data, to_json, unix_now, SSE};
use super::MockState;

/// Arguments of the tool call the mock makes when the request offers tools.
const TOOL_ARGUMENTS: &str = r#"{"query":"mock"}"#;

#[derive(Deserialize)]
struct ChatRequest<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[allow(dead_code)]
    messages: Vec<IgnoredAny>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(borrow, default)]
    tools: Option<Vec<Tool<'a>>>,
}

#[derive(Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Deserialize)]
struct Tool<'a> {
    #[serde(borrow, default)]
    function: Option<FunctionName<'a>>,
}

#[derive(Deserialize)]
struct FunctionName<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
}

#[derive(Serialize)]
struct PromptDetails {
    cached_tokens: u64,
    audio_tokens: u64,
}

#[derive(Serialize)]
struct CompletionDetails {
    reasoning_tokens: u64,
    audio_tokens: u64,
    accepted_prediction_tokens: u64,
    rejected_prediction_tokens: u64,
}

#[derive(Serialize)]
struct Usage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: PromptDetails,
    completion_tokens_details: CompletionDetails,
}

impl Usage {
    fn new(usage: &MockUsage) -> Usage {
        Usage {
            prompt_tokens: usage.prompt_total(),
            completion_tokens: usage.output,
            total_tokens: usage.prompt_total() + usage.output,
            prompt_tokens_details: PromptDetails {
                cached_tokens: usage.cache_read,
                audio_tokens: 0,
            },
            completion_tokens_details: CompletionDetails {
                reasoning_tokens: 0,
                audio_tokens: 0,
                accepted_prediction_tokens: 0,
                rejected_prediction_tokens: 0,
            },
        }
    }
}

#[derive(Serialize)]
struct FunctionCall<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

#[derive(Serialize)]
struct ToolCall<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionCall<'a>,
}

#[derive(Serialize)]
struct AssistantMessage<'a> {
    role: &'static str,
    content: Option<&'a str>,
    refusal: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCall<'a>; 1]>,
    annotations: &'static [u8],
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: AssistantMessage<'a>,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct Completion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
    service_tier: &'static str,
    system_fingerprint: &'static str,
}

#[derive(Serialize, Default)]
struct ChunkDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    /// `Some(None)` is an explicit `null` (the first chunk of a tool call answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCall<'a>; 1]>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: ChunkDelta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    service_tier: &'static str,
    system_fingerprint: &'static str,
    choices: Vec<ChunkChoice<'a>>,
    /// Absent unless the client asked for usage; then `null` on every chunk but the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<Usage>>,
}

pub(crate) async fn chat_completions(
    State(state): State<Arc<MockState>>,
    request: Request,
) -> Response {
    answer_chat(&state, None, request).await
}

pub(crate) async fn azure_chat_completions(
    State(state): State<Arc<MockState>>,
    Path(deployment): Path<String>,
    request: Request,
) -> Response {
    answer_chat(&state, Some(deployment), request).await
}

/// What the parsed request asks for, owned so the exchange can be consumed.
struct ChatAsk {
    model: String,
    stream: bool,
    include_usage: bool,
    tool_name: Option<String>,
}

fn parse_chat(body: &[u8], deployment: Option<String>) -> Result<ChatAsk, String> {
    let parsed: ChatRequest =
        serde_json::from_slice(body).map_err(|e| format!("invalid request body: {e}"))?;
    let model = match (deployment, parsed.model) {
        (Some(deployment), _) => deployment,
        (None, Some(model)) => model.into_owned(),
        (None, None) => return Err("you must provide a model parameter".into()),
    };
    let tool_name = parsed.tools.filter(|tools| !tools.is_empty()).map(|tools| {
        tools
            .into_iter()
            .find_map(|t| t.function)
            .map_or_else(|| "tool".to_owned(), |f| f.name.into_owned())
    });
    Ok(ChatAsk {
        model,
        stream: parsed.stream,
        include_usage: parsed.stream_options.is_some_and(|o| o.include_usage),
        tool_name,
    })
}

async fn answer_chat(state: &MockState, deployment: Option<String>, request: Request) -> Response {
    let exchange = match Exchange::admit(state, Platform::OpenAi, request).await {
        Ok(exchange) => exchange,
        Err(response) => return response,
    };
    let ask = match parse_chat(exchange.body(), deployment) {
        Ok(ask) => ask,
        Err(message) => return exchange.reject(StatusCode::BAD_REQUEST, &message),
    };
    let id = format!("chatcmpl-mock{:016x}", exchange.serial);
    let call_id = format!("call_mock{:016x}", exchange.serial);
    let behavior = Arc::clone(&exchange.plan.behavior);
    let created = unix_now();
    if !ask.stream {
        let text = full_text(behavior.chunks);
        let (content, tool_calls, finish_reason) = match &ask.tool_name {
            Some(name) => (
                None,
                Some([tool_call(&call_id, name, TOOL_ARGUMENTS)]),
                "tool_calls",
            ),
            None => (Some(text.as_str()), None, "stop"),
        };
        let completion = Completion {
            id: &id,
            object: "chat.completion",
            created,
            model: &ask.model,
            choices: [Choice {
                index: 0,
                message: AssistantMessage {
                    role: "assistant",
                    content,
                    refusal: None,
                    tool_calls,
                    annotations: &[],
                },
                logprobs: None,
                finish_reason,
            }],
            usage: (!behavior.omit_usage).then(|| Usage::new(&behavior.usage)),
            service_tier: "default",
            system_fingerprint: "fp_mock",
        };
        return exchange.json(to_json(&completion));
    }
    let chunk = |delta: ChunkDelta, finish_reason: Option<&'static str>| {
        let payload = Chunk {
            id: &id,
            object: "chat.completion.chunk",
            created,
            model: &ask.model,
            service_tier: "default",
            system_fingerprint: "fp_mock",
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                logprobs: None,
                finish_reason,
            }],
            usage: ask.include_usage.then_some(None),
        };
        sse_data(&payload, "\n\n")
    };
    let mut script = StreamScript::default();
    match &ask.tool_name {
        Some(name) => {
            script.head.push(chunk(
                ChunkDelta {
                    role: Some("assistant"),
                    content: Some(None),
                    tool_calls: Some([tool_call(&call_id, name, "")]),
                },
                None,
            ));
            script.deltas = split_arguments(behavior.chunks)
                .map(|arguments| {
                    let delta = ToolCall {
                        index: Some(0),
                        id: None,
                        kind: None,
                        function: FunctionCall {
                            name: None,
                            arguments,
                        },
                    };
                    chunk(
                        ChunkDelta {
                            tool_calls: Some([delta]),
                            ..ChunkDelta::default()
                        },
                        None,
                    )
                })
                .collect();
            script
                .tail
                .push(chunk(ChunkDelta::default(), Some("tool_calls")));
        }
        None => {
            script.head.push(chunk(
                ChunkDelta {
                    role: Some("assistant"),
                    content: Some(Some("")),
                    ..ChunkDelta::default()
                },
                None,
            ));
            script.deltas = (0..behavior.chunks)
                .map(|i| {
                    let delta = ChunkDelta {
                        content: Some(Some(delta_text(i))),
                        ..ChunkDelta::default()
                    };
                    chunk(delta, None)
                })
                .collect();
            script.tail.push(chunk(ChunkDelta::default(), Some("stop")));
        }
    }
    if ask.include_usage && !behavior.omit_usage {
        let usage_chunk = Chunk {
            id: &id,
            object: "chat.completion.chunk",
            created,
            model: &ask.model,
            service_tier: "default",
            system_fingerprint: "fp_mock",
            choices: Vec::new(),
            usage: Some(Some(Usage::new(&behavior.usage))),
        };
        script.tail.push(sse_data(&usage_chunk, "\n\n"));
    }
    script
        .tail
        .push(bytes::Bytes::from_static(b"data: [DONE]\n\n"));
    exchange.stream(SSE, script)
}

fn tool_call<'a>(id: &'a str, name: &'a str, arguments: &'a str) -> ToolCall<'a> {
    ToolCall {
        index: None,
        id: Some(id),
        kind: Some("function"),
        function: FunctionCall {
            name: Some(name),
            arguments,
        },
    }
}

/// The tool arguments cut into `chunks` consecutive fragments (at least one), like a model
/// streaming them token by token.
fn split_arguments(chunks: usize) -> impl Iterator<Item = &'static str> {
    let parts = chunks.clamp(1, TOOL_ARGUMENTS.len());
    let len = TOOL_ARGUMENTS.len();
    (0..parts).map(move |i| &TOOL_ARGUMENTS[i * len / parts..(i + 1) * len / parts])
}

const MODELS: &str = concat!(
    r#"{"object":"list","data":["#,
    r#"{"id":"gpt-5","object":"model","created":1754425777,"owned_by":"openai"},"#,
    r#"{"id":"gpt-5-mini","object":"model","created":1754425867,"owned_by":"openai"},"#,
    r#"{"id":"gpt-4.1","object":"model","created":1744316542,"owned_by":"openai"},"#,
    r#"{"id":"o3","object":"model","created":1744225308,"owned_by":"openai"}"#,
    r#"]}"#
);

pub(crate) async fn models(state: &MockState, request: Request) -> Response {
    match Exchange::admit(state, Platform::OpenAi, request).await {
        Ok(exchange) => exchange.json(MODELS.as_bytes().to_vec()),
        Err(response) => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_arguments_split_into_requested_fragments() {
        for chunks in [0, 1, 3, 100] {
            let parts: Vec<&str> = split_arguments(chunks).collect();
            assert_eq!(parts.concat(), TOOL_ARGUMENTS);
            assert_eq!(parts.len(), chunks.clamp(1, TOOL_ARGUMENTS.len()));
        }
    }
}
