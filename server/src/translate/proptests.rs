//! Properties every transformer, old and new, must have: arbitrary bytes at arbitrary chunk
//! boundaries never panic, and a valid upstream answer gives the same client bytes and the same
//! account of what was passed on however it is chunked.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::chat_gemini::{self, GeminiContext};
use super::messages_openai::{self, ChatTarget};
use super::responses_claude::{self, ResponsesContext};
use super::{ChatStreamTranslator, ClaudeToChatStream, PassedOn, StreamTransform};

const ANTHROPIC_TOOLS: &str =
    include_str!("../../tests/golden/responses_claude/codex_turn/upstream_stream.sse");
const ANTHROPIC_TEXT: &str =
    include_str!("../../tests/golden/translate/stream_text/anthropic_stream.sse");
const GEMINI: &str =
    include_str!("../../tests/golden/chat_gemini/tools_images_stream/upstream_stream.sse");
const OPENAI_TOOLS: &str =
    include_str!("../../tests/golden/messages_openai/claude_code_turn/upstream_stream.sse");
const OPENAI_REASONING: &str =
    include_str!("../../tests/golden/messages_openai/compatible_reasoning/upstream_stream.sse");
const ANTHROPIC_WHOLE: &str =
    include_str!("../../tests/golden/responses_claude/codex_turn/upstream_response.json");
const GEMINI_WHOLE: &str =
    include_str!("../../tests/golden/chat_gemini/candidates_json/upstream_response.json");
const OPENAI_WHOLE: &str =
    include_str!("../../tests/golden/messages_openai/claude_code_turn/upstream_response.json");

fn responses_context() -> ResponsesContext {
    let request = json!({
        "model": "claude-sonnet-4-5", "input": "hi",
        "tools": [{"type": "custom", "name": "apply_patch"}, {"type": "function", "name": "shell"}],
        "reasoning": {"effort": "low", "summary": "auto"}, "include": ["reasoning.encrypted_content"],
    });
    let mut ctx = responses_claude::responses_to_messages_request(&request)
        .map(|t| t.context)
        .unwrap_or_else(|e| panic!("{e}"));
    ctx.created_at = 1;
    ctx
}

fn gemini_context() -> GeminiContext {
    let mut ctx = GeminiContext::new("gemini-2.5-flash", true, 1);
    ctx.created = 1;
    ctx
}

/// Every transformer, by the name the failures report.
fn transformers() -> Vec<(&'static str, Box<dyn StreamTransform>)> {
    vec![
        (
            "claude→chat",
            Box::new(ClaudeToChatStream::new(ChatStreamTranslator::with_created(
                "m", true, 1,
            ))),
        ),
        (
            "claude→chat whole",
            Box::new(super::transform::claude_to_chat_whole_at("m".into(), 1)),
        ),
        (
            "claude→responses",
            Box::new(responses_claude::ClaudeToResponsesStream::new(
                responses_context(),
            )),
        ),
        (
            "claude→responses whole",
            Box::new(responses_claude::whole_transform(responses_context())),
        ),
        (
            "gemini→chat",
            Box::new(chat_gemini::GeminiToChatStream::new(gemini_context())),
        ),
        (
            "gemini→chat whole",
            Box::new(chat_gemini::whole_transform(gemini_context())),
        ),
        (
            "openai→messages",
            Box::new(messages_openai::ChatToMessagesStream::new("claude-x")),
        ),
        (
            "openai→messages whole",
            Box::new(messages_openai::whole_transform("claude-x".into())),
        ),
    ]
}

/// The transformer of `name`, fresh.
fn transformer(name: &str) -> Box<dyn StreamTransform> {
    transformers()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| t)
        .unwrap_or_else(|| panic!("no transformer {name}"))
}

/// Feeds `input` cut at `cuts` (positions, in any order, possibly repeated or out of range).
fn run(t: &mut dyn StreamTransform, input: &[u8], cuts: &[usize]) -> (Vec<u8>, PassedOn) {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut from = 0;
    for cut in cuts.into_iter().chain([input.len()]) {
        out.extend_from_slice(&t.chunk(&input[from..cut]));
        from = cut;
    }
    out.extend_from_slice(&t.end());
    out.extend_from_slice(&t.end());
    (out, t.passed_on().clone())
}

/// Valid upstream answers and the transformers that read them.
fn valid_cases() -> Vec<(&'static str, &'static str)> {
    vec![
        ("claude→chat", ANTHROPIC_TEXT),
        ("claude→chat", ANTHROPIC_TOOLS),
        ("claude→chat whole", ANTHROPIC_WHOLE),
        ("claude→responses", ANTHROPIC_TOOLS),
        ("claude→responses", ANTHROPIC_TEXT),
        ("claude→responses whole", ANTHROPIC_WHOLE),
        ("gemini→chat", GEMINI),
        ("gemini→chat whole", GEMINI_WHOLE),
        ("openai→messages", OPENAI_TOOLS),
        ("openai→messages", OPENAI_REASONING),
        ("openai→messages whole", OPENAI_WHOLE),
    ]
}

/// Pieces of real streams mixed with noise: closer to what breaks parsers than pure noise.
fn sse_noise() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop_oneof![
        Just(b"event: message_start\n".to_vec()),
        Just(b"data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n".to_vec()),
        Just(b"data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\"}}]},\"finishReason\":\"STOP\",\"index\":7}]}\r\n\r\n".to_vec()),
        Just(b"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":3,\"function\":{\"arguments\":\"{\"}}]}}]}\n\n".to_vec()),
        Just(b"data: [DONE]\n\n".to_vec()),
        Just(b"event: content_block_stop\ndata: {\"index\":9}\n\n".to_vec()),
        Just(b"event: message_stop\ndata: {}\n\n".to_vec()),
        Just(b"\n\n".to_vec()),
        Just(b"data: {\"error\":{}}\n\n".to_vec()),
        prop::collection::vec(any::<u8>(), 0..40),
    ];
    prop::collection::vec(pieces, 0..30).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn arbitrary_bytes_never_panic(
        input in prop_oneof![prop::collection::vec(any::<u8>(), 0..600), sse_noise()],
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        for (name, mut t) in transformers() {
            let (out, passed) = run(t.as_mut(), &input, &cuts);
            // An answer that did not end properly is never passed on as complete.
            if passed.complete {
                prop_assert!(passed.error.is_none(), "{name}");
            }
            prop_assert!(!out.is_empty() || name.ends_with("whole") || passed.complete, "{name}: silent end");
        }
    }

    #[test]
    fn valid_answers_are_independent_of_chunking(
        cuts in prop::collection::vec(any::<usize>(), 0..24),
    ) {
        for (name, input) in valid_cases() {
            let (whole, whole_passed) = run(transformer(name).as_mut(), input.as_bytes(), &[]);
            let (cut, cut_passed) = run(transformer(name).as_mut(), input.as_bytes(), &cuts);
            prop_assert_eq!(&whole, &cut, "{}", name);
            prop_assert_eq!(&whole_passed, &cut_passed, "{}", name);
            prop_assert!(whole_passed.complete, "{}: {:?}", name, whole_passed);
            prop_assert!(whole_passed.output_tokens() > 0, "{}", name);
        }
    }

    #[test]
    fn request_translators_never_panic(value in arbitrary_json()) {
        let _ = super::chat_to_messages_request(&value);
        let _ = responses_claude::responses_to_messages_request(&value);
        let _ = chat_gemini::chat_to_gemini_request(&value);
        let _ = messages_openai::messages_to_chat_request(&value, ChatTarget::openai("gpt-5"));
    }
}

/// JSON shaped roughly like requests: objects with the fields translators look at.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        "[a-z_ ]{0,8}".prop_map(Value::String),
        Just(json!("user")),
        Just(json!("assistant")),
        Just(json!("function")),
    ];
    let keys = prop_oneof![
        Just("model"),
        Just("messages"),
        Just("input"),
        Just("role"),
        Just("content"),
        Just("type"),
        Just("tools"),
        Just("tool_calls"),
        Just("text"),
        Just("max_tokens"),
        Just("stream"),
        Just("tool_choice"),
        Just("name"),
        Just("arguments"),
        Just("call_id"),
        Just("image_url"),
        Just("source"),
        Just("thinking"),
        Just("reasoning"),
        Just("parameters"),
    ];
    leaf.prop_recursive(4, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}
