//! OpenAI Chat Completions clients on Claude accounts: `/v1/chat/completions` with a
//! `claude-*` model, and every model under `/openai/claude/v1/chat/completions`.
//!
//! The request is translated by [`crate::translate`] before admission (a field that cannot
//! be translated is a 400 naming it), scheduled on the Claude platform with the key's Claude
//! binding, and the answer translated back as it streams. Metering reads the Anthropic bytes
//! before translation, so billing is the same as on `/v1/messages`. Error answers, from the
//! upstream or from the relay itself, reach the client in OpenAI's error shape.

use std::sync::Arc;
use std::time::Instant;

use app::types::Platform;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;

use super::claude::{ClaudeAdapter, DEFAULT_ANTHROPIC_VERSION};
use super::openai::with_model;
use super::translated::session_of;
use super::usage_parse::{LineSplitter, UsageParser};
use super::{Adapter, BodyTransform, Call};
use crate::limits::KeyLimits;
use crate::relay::admission::relay_call;
use crate::relay::error::{Protocol, RelayError};
use crate::relay::extract::{answer, Incoming};
use crate::relay::request_cost::{OutputField, RequestShape};
use crate::relay::Relay;
use crate::scheduler::health::Outcome;
use crate::scheduler::pool::UpstreamAccount;
use crate::translate::{
    chat_to_messages_request, messages_error_to_openai, messages_to_chat_response,
    stream_include_usage, ChatStreamTranslator, DEFAULT_MAX_TOKENS,
};

pub struct ChatToClaude {
    /// The model the client named, echoed in every answer.
    pub requested_model: String,
    pub include_usage: bool,
}

impl Adapter for ChatToClaude {
    fn protocol(&self) -> Protocol {
        Protocol::OpenAi
    }

    fn platform(&self) -> Platform {
        Platform::Claude
    }

    fn build(
        &self,
        account: &UpstreamAccount,
        call: &Call,
    ) -> Result<crate::upstream_http::UpstreamRequest, RelayError> {
        let body = with_model(&call.body, &call.model, account.upstream_model(&call.model))?;
        Ok(account
            .post("/v1/messages")
            .header("x-api-key", account.api_key.expose())
            .header("anthropic-version", DEFAULT_ANTHROPIC_VERSION)
            .header("content-type", "application/json")
            // The answer is rewritten, so it must arrive uncompressed.
            .header("accept-encoding", "identity")
            .body(body))
    }

    fn classify(
        &self,
        status: StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Outcome {
        ClaudeAdapter.classify(status, headers, body, now)
    }

    fn parser(&self, stream: bool) -> Box<dyn UsageParser> {
        ClaudeAdapter.parser(stream)
    }

    fn transform(&self, call: &Call, status: StatusCode) -> Option<Box<dyn BodyTransform>> {
        if !status.is_success() {
            // Error bodies are translated once the relay has answered (see `to_openai_error`).
            return None;
        }
        Some(if call.stream {
            Box::new(StreamToChat {
                lines: LineSplitter::default(),
                event: String::new(),
                translator: ChatStreamTranslator::new(&self.requested_model, self.include_usage),
            })
        } else {
            Box::new(WholeToChat {
                buf: Vec::new(),
                overflow: false,
                requested_model: self.requested_model.clone(),
            })
        })
    }
}

/// Anthropic SSE → OpenAI chunks, event by event as they arrive.
struct StreamToChat {
    lines: LineSplitter,
    event: String,
    translator: ChatStreamTranslator,
}

fn frame(payloads: Vec<String>, out: &mut Vec<u8>) {
    for p in payloads {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(p.as_bytes());
        out.extend_from_slice(b"\n\n");
    }
}

impl StreamToChat {
    fn on_line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        if let Some(name) = line.strip_prefix(b"event:") {
            self.event = String::from_utf8_lossy(name.trim_ascii()).into_owned();
        } else if let Some(data) = line.strip_prefix(b"data:") {
            let data = String::from_utf8_lossy(data.trim_ascii());
            let event = std::mem::take(&mut self.event);
            frame(self.translator.on_event(&event, &data), out);
        }
    }
}

impl BodyTransform for StreamToChat {
    fn chunk(&mut self, upstream: &[u8]) -> Bytes {
        let mut out = Vec::new();
        let mut lines = std::mem::take(&mut self.lines);
        lines.feed(upstream, |l| self.on_line(l, &mut out));
        self.lines = lines;
        Bytes::from(out)
    }

    fn end(&mut self) -> Bytes {
        let mut out = Vec::new();
        let mut lines = std::mem::take(&mut self.lines);
        lines.flush(|l| self.on_line(l, &mut out));
        frame(self.translator.finish(), &mut out);
        out.extend_from_slice(b"data: [DONE]\n\n");
        Bytes::from(out)
    }

    fn content_type(&self) -> &'static str {
        "text/event-stream"
    }
}

/// Bound of a whole Messages answer held for translation.
const MAX_WHOLE: usize = 16 << 20;

/// A whole Messages answer → a Chat Completions answer, when it has arrived.
struct WholeToChat {
    buf: Vec<u8>,
    overflow: bool,
    requested_model: String,
}

impl BodyTransform for WholeToChat {
    fn chunk(&mut self, upstream: &[u8]) -> Bytes {
        if self.buf.len() + upstream.len() > MAX_WHOLE {
            self.overflow = true;
            self.buf.clear();
        } else if !self.overflow {
            self.buf.extend_from_slice(upstream);
        }
        Bytes::new()
    }

    fn end(&mut self) -> Bytes {
        let answer = match crate::relay::json_guard::upstream_value(&self.buf) {
            Some(msg) if !self.overflow => messages_to_chat_response(&msg, &self.requested_model),
            _ if self.overflow => {
                messages_error_to_openai(502, b"the upstream answer is too large to translate")
            }
            _ => messages_error_to_openai(502, &self.buf),
        };
        Bytes::from(answer.to_string())
    }

    fn content_type(&self) -> &'static str {
        "application/json"
    }
}

/// Translates, relays on the Claude platform, and puts error answers in OpenAI's shape.
pub async fn relay_translated(
    relay: &Arc<Relay>,
    key: Arc<KeyLimits>,
    body: Bytes,
    started: Instant,
) -> Response {
    let chat: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return RelayError::invalid(format!("malformed JSON body: {e}"))
                .into_response(Protocol::OpenAi)
        }
    };
    let messages_request = match chat_to_messages_request(&chat) {
        Ok(m) => m,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, axum::Json(e.to_openai_error())).into_response()
        }
    };
    let model = messages_request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let stream = messages_request
        .get("stream")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let max_tokens = messages_request
        .get("max_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    let upstream_body = match serde_json::to_vec(&messages_request) {
        Ok(b) => Bytes::from(b),
        Err(e) => {
            return RelayError::invalid(format!("cannot encode the translated request: {e}"))
                .into_response(Protocol::OpenAi)
        }
    };
    let tools = messages_request
        .get("tools")
        .and_then(|t| serde_json::value::to_raw_value(t).ok());
    let call = Call {
        path_and_query: "/v1/messages".into(),
        model: model.clone(),
        stream,
        max_output_tokens: max_tokens,
        session: session_of(&messages_request),
        billable: true,
        headers: HeaderMap::new(),
        body: upstream_body,
        shape: RequestShape {
            answers: 1,
            tools: super::server_tools::anthropic_declared(tools.as_deref()),
            output_field: OutputField::Claude,
        },
    };
    let adapter = ChatToClaude {
        requested_model: model,
        include_usage: stream_include_usage(&chat),
    };
    let price = relay.pricing.load().lookup(&call.model);
    let res = relay_call(relay, &adapter, key, call, price, started).await;
    to_openai_error(res).await
}

/// The largest error body read back for translation.
const MAX_ERROR_BODY: usize = 256 * 1024;

/// Upstream Anthropic errors (passed through by the relay when no retry applies or every
/// account failed) become OpenAI errors; 529 becomes 503, which OpenAI clients retry.
/// Answers already in OpenAI's shape (the relay's own refusals) stay as they are.
async fn to_openai_error(res: Response) -> Response {
    let status = res.status();
    if status.is_success()
        || res
            .headers()
            .get(header::CONTENT_ENCODING)
            .is_some_and(|e| e != "identity")
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    let parsed: Option<Value> = crate::relay::json_guard::upstream_value(&bytes);
    let openai_shaped = parsed
        .as_ref()
        .is_some_and(|v| v.get("error").is_some_and(Value::is_object) && v.get("type").is_none());
    if openai_shaped {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let translated = messages_error_to_openai(status.as_u16(), &bytes).to_string();
    if status.as_u16() == 529 {
        parts.status = StatusCode::SERVICE_UNAVAILABLE;
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(translated))
}

/// `POST /openai/claude/v1/chat/completions`: Claude accounts whatever the model is called.
pub async fn chat_completions(State(relay): State<Arc<Relay>>, req: Request) -> Response {
    answer(chat_completions_call(&relay, req).await)
}

async fn chat_completions_call(relay: &Arc<Relay>, req: Request) -> Result<Response, Response> {
    let mut incoming = Incoming::admit(relay, req, Protocol::OpenAi).await?;
    let bytes = incoming.body(relay).await?;
    Ok(relay_translated(relay, incoming.key, bytes, incoming.started).await)
}

/// `GET /openai/claude/v1/models`: the Claude models in OpenAI's list shape.
pub async fn models(State(relay): State<Arc<Relay>>, req: Parts) -> Response {
    super::openai::model_list(&relay, &req, Platform::Claude).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::sticky::session_hash;

    const SSE: &str = "event: message_start\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":4}}\n\n\
event: message_stop\n\
data: {\"type\":\"message_stop\"}\n\n";

    fn payloads(out: &[u8]) -> Vec<String> {
        String::from_utf8(out.to_vec())
            .unwrap()
            .split("\n\n")
            .filter(|s| !s.is_empty())
            .map(|s| s.strip_prefix("data: ").unwrap().to_owned())
            .collect()
    }

    #[test]
    fn stream_translation_is_independent_of_chunking() {
        let mut whole = None;
        for size in [1, 7, SSE.len()] {
            let mut t = StreamToChat {
                lines: LineSplitter::default(),
                event: String::new(),
                translator: ChatStreamTranslator::with_created("claude-x", true, 1),
            };
            let mut out = Vec::new();
            for c in SSE.as_bytes().chunks(size) {
                out.extend_from_slice(&t.chunk(c));
            }
            out.extend_from_slice(&t.end());
            let got = payloads(&out);
            assert_eq!(got.last().map(String::as_str), Some("[DONE]"));
            let usage: Value = serde_json::from_str(&got[got.len() - 2]).unwrap();
            assert_eq!(usage["usage"]["prompt_tokens"], 9);
            assert_eq!(usage["usage"]["completion_tokens"], 4);
            let text: Value = serde_json::from_str(&got[1]).unwrap();
            assert_eq!(text["choices"][0]["delta"]["content"], "Hello");
            match &whole {
                None => whole = Some(got),
                Some(w) => assert_eq!(w, &got, "chunk size {size}"),
            }
        }
    }

    #[test]
    fn whole_answers_and_garbage() {
        let mut t = WholeToChat {
            buf: Vec::new(),
            overflow: false,
            requested_model: "claude-x".into(),
        };
        let msg = br#"{"id":"msg_2","type":"message","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}}"#;
        assert!(t.chunk(&msg[..10]).is_empty());
        assert!(t.chunk(&msg[10..]).is_empty());
        let v: Value = serde_json::from_slice(&t.end()).unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "ok");
        assert_eq!(v["model"], "claude-x");
        let mut t = WholeToChat {
            buf: Vec::new(),
            overflow: false,
            requested_model: "m".into(),
        };
        t.chunk(b"<html>");
        let v: Value = serde_json::from_slice(&t.end()).unwrap();
        assert_eq!(v["error"]["type"], "server_error");
    }

    #[test]
    fn sessions_from_claude_code_ids_or_content() {
        let a = serde_json::json!({"metadata": {"user_id": "user_x_session_abc"}, "messages": []});
        assert_eq!(session_of(&a), session_hash(Some("abc"), None, None));
        let b = serde_json::json!({"system": [{"type": "text", "text": "s"}], "messages": [{"role": "user", "content": "hi"}]});
        assert!(session_of(&b).is_some());
        assert_ne!(session_of(&a), session_of(&b));
    }
}
