//! OpenAI Chat Completions clients on Gemini accounts: Chat ⇄ Gemini `generateContent`.
//!
//! | Chat request | Handling |
//! |---|---|
//! | `model` | → the URL (`models/{model}:generateContent`, or `:streamGenerateContent?alt=sse`) |
//! | `system`, `developer` messages | → `systemInstruction` |
//! | `user` text, `image_url`, `input_audio`, `file` | → `text`, `inlineData` (base64 `data:` URLs only; Gemini reads no web URLs inline, file ids refused) |
//! | `assistant` content, `refusal`, `tool_calls` | → `model` turn: `text`, `functionCall` (with the thought signature carried in the call id) |
//! | `tool` | → `functionResponse` named after the earlier call with that id; a JSON object result is passed as is, other text as `{"result": text}` |
//! | `tools` | → `functionDeclarations`, schemas cleaned to Gemini's OpenAPI subset (see `schema`); other tool types refused |
//! | `tool_choice` | `auto`/`none`/`required` → `AUTO`/`NONE`/`ANY`; a function → `ANY` with `allowedFunctionNames` |
//! | `max_tokens`, `max_completion_tokens` | → `maxOutputTokens` |
//! | `temperature`, `top_p`, `top_k`, `presence_penalty`, `frequency_penalty`, `seed` | → `generationConfig` |
//! | `n` | → `candidateCount` (1–8) |
//! | `stop` | → `stopSequences` (at most 5) |
//! | `response_format` `json_object` / `json_schema` | → `responseMimeType: application/json` (+ cleaned `responseSchema`) |
//! | `reasoning_effort` | → `thinkingConfig.thinkingBudget` (none/minimal 0, low 1024, medium 8192, high 24576) |
//! | `stream_options.include_usage` | a final usage chunk |
//! | `parallel_tool_calls` | ignored: Gemini cannot be told to make one call per turn |
//! | `logprobs`, `logit_bias`, audio output, legacy functions, `web_search_options`, `verbosity`, unknown fields | refused |
//! | `user`, `store`, `metadata`, `service_tier`, `prompt_cache_key`, `prediction` | ignored |
//!
//! Answers: text parts joined (thought parts are not shown), `functionCall` parts → tool calls
//! with ids Tollgate makes up (`call_<responseId>_<candidate>_<n>`, plus `.ts.<signature>` when
//! Gemini sent a thought signature, which the next request hands back). `STOP` → `stop` (or
//! `tool_calls` after a function call), `MAX_TOKENS` → `length`, safety-type reasons and a
//! blocked prompt → `content_filter`, others → `stop`. Usage: `prompt_tokens` includes tool-use
//! prompt tokens, `completion_tokens` includes thinking (`reasoning_tokens`), `cached_tokens`
//! from `cachedContentTokenCount`.

mod contents;
mod request;
mod response;
mod schema;
mod stream;

use serde_json::{json, Value};

use super::error_shapes::UpstreamError;
use super::TranslateError;

pub use request::{chat_to_gemini_request, GeminiTranslation};
pub use response::gemini_to_chat_response;
pub use schema::clean_schema;
pub use stream::GeminiToChatStream;

type Result<T> = std::result::Result<T, TranslateError>;

/// Separates a made-up call id from the thought signature it carries.
const SIGNATURE_MARK: &str = ".ts.";

/// What the answer's translation needs from the request.
#[derive(Clone, Debug)]
pub struct GeminiContext {
    /// The model the client named, echoed.
    pub model: String,
    pub include_usage: bool,
    /// `created` of the answer (epoch seconds).
    pub created: i64,
    /// Candidates asked for (`n`).
    pub candidates: usize,
}

impl GeminiContext {
    pub fn new(model: &str, include_usage: bool, candidates: usize) -> GeminiContext {
        GeminiContext {
            model: model.to_owned(),
            include_usage,
            created: super::now_secs(),
            candidates: candidates.max(1),
        }
    }
}

/// The id Tollgate gives a Gemini function call.
fn call_id(response_id: &str, candidate: u64, n: usize, signature: Option<&str>) -> String {
    match signature {
        Some(sig) if !sig.is_empty() => {
            format!("call_{response_id}_{candidate}_{n}{SIGNATURE_MARK}{sig}")
        }
        _ => format!("call_{response_id}_{candidate}_{n}"),
    }
}

/// The thought signature a call id carries, if Tollgate made it.
fn signature_of_call_id(id: &str) -> Option<&str> {
    id.split_once(SIGNATURE_MARK)
        .map(|(_, sig)| sig)
        .filter(|s| !s.is_empty())
}

/// Gemini `finishReason` → OpenAI `finish_reason`.
fn finish_reason(reason: &str, called_functions: bool) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            "content_filter"
        }
        _ if called_functions => "tool_calls",
        _ => "stop",
    }
}

/// Gemini `usageMetadata` → OpenAI usage.
fn chat_usage(meta: &Value) -> Value {
    let count = |name: &str| meta.get(name).and_then(Value::as_u64).unwrap_or(0);
    let prompt = count("promptTokenCount").saturating_add(count("toolUsePromptTokenCount"));
    let thoughts = count("thoughtsTokenCount");
    let completion = count("candidatesTokenCount").saturating_add(thoughts);
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt.saturating_add(completion),
        "prompt_tokens_details": { "cached_tokens": count("cachedContentTokenCount").min(prompt) },
        "completion_tokens_details": { "reasoning_tokens": thoughts },
    })
}

/// The whole-answer transform of this pair.
pub fn whole_transform(ctx: GeminiContext) -> super::WholeAnswer {
    super::WholeAnswer::new(
        move |answer, passed| {
            if answer.get("error").is_some() {
                let (_, body) = gemini_error_to_openai(500, answer.to_string().as_bytes());
                passed.error = Some(body["error"]["message"].as_str().unwrap_or("").to_owned());
                return body;
            }
            let completion = gemini_to_chat_response(answer, &ctx);
            super::transform::note_chat_message(&completion, passed);
            completion
        },
        |raw| gemini_error_to_openai(502, raw).1,
    )
}

/// A Gemini error answer (status and body) → the OpenAI error a Chat client gets.
pub fn gemini_error_to_openai(status: u16, body: &[u8]) -> (u16, Value) {
    let error = UpstreamError::from_gemini(status, body);
    (error.openai_status(), error.openai_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_ids_carry_signatures() {
        let id = call_id("r1", 0, 2, Some("c2ln/+="));
        assert_eq!(id, "call_r1_0_2.ts.c2ln/+=");
        assert_eq!(signature_of_call_id(&id), Some("c2ln/+="));
        assert_eq!(signature_of_call_id(&call_id("r1", 0, 2, None)), None);
        assert_eq!(signature_of_call_id("call_abc"), None);
    }
}
