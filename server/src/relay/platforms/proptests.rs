//! Properties of everything that reads hostile bytes on the relay's path: the request peeks and
//! every usage parser. Arbitrary bytes at arbitrary chunk boundaries never panic, and a valid
//! answer yields the same usage however it is chunked.

use proptest::prelude::*;
use serde_json::value::RawValue;

use super::server_tools;
use super::usage_anthropic::reference::fields_reading;
use super::usage_gemini::{read_gemini_json, GeminiStream};
use super::usage_json::JsonBody;
use super::usage_openai::{read_openai_json, ChatSse, ResponsesSse};
use super::usage_parse::{read_anthropic_json, AnthropicSse, ParsedUsage, UsageParser};
use super::Adapter;
use crate::relay::guards::{allowed_query, check_model_name};

const ANTHROPIC_SSE: &str = "event: message_start\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"claude-sonnet-4-5-20250929\",\"usage\":{\"input_tokens\":120,\"cache_creation_input_tokens\":30,\"cache_read_input_tokens\":400,\"cache_creation\":{\"ephemeral_5m_input_tokens\":10,\"ephemeral_1h_input_tokens\":20},\"output_tokens\":1}}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"h\\u00e9llo \\\"x\\\"\"}}\n\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":57,\"server_tool_use\":{\"web_search_requests\":2}}}\n\n\
event: message_stop\n\
data: {\"type\":\"message_stop\"}\n\n";

const CHAT_SSE: &str = "data: {\"id\":\"c\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}],\"usage\":null}\n\n\
data: {\"id\":\"c\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"the \\\"usage\\\": {\"}}],\"usage\":null}\n\n\
data: {\"id\":\"c\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[],\"usage\":{\"prompt_tokens\":1500,\"completion_tokens\":42,\"prompt_tokens_details\":{\"cached_tokens\":1024}}}\n\n\
data: [DONE]\n\n";

const RESPONSES_SSE: &str = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"usage\":null}}\n\n\
event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"response.completed\"}\n\n\
event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"model\":\"gpt-5\",\"output\":[{\"type\":\"web_search_call\"},{\"type\":\"message\"}],\"usage\":{\"input_tokens\":300,\"input_tokens_details\":{\"cached_tokens\":200},\"output_tokens\":9}}}\n\n";

const GEMINI_SSE: &str = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a {\"}]},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":120,\"candidatesTokenCount\":3},\"modelVersion\":\"gemini-2.5-pro\"}\r\n\r\n\
data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\\\"}\\\"\"}]},\"finishReason\":\"STOP\",\"index\":0,\"groundingMetadata\":{\"webSearchQueries\":[\"q\"]}}],\"usageMetadata\":{\"promptTokenCount\":120,\"candidatesTokenCount\":30,\"thoughtsTokenCount\":5},\"modelVersion\":\"gemini-2.5-pro\"}\r\n\r\n";

const ANTHROPIC_JSON: &str = r#"{"type":"message","model":"claude-opus-4-1","content":[{"type":"text","text":"hi"}],"usage":{"input_tokens":3,"output_tokens":4,"server_tool_use":{"web_search_requests":1}}}"#;
const OPENAI_JSON: &str = r#"{"object":"response","model":"gpt-5","output":[{"type":"code_interpreter_call","container_id":"c"}],"usage":{"input_tokens":7,"output_tokens":2}}"#;
const GEMINI_JSON: &str = r#"{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":1}}"#;

type Make = fn() -> Box<dyn UsageParser>;

/// Every usage parser, with a valid answer of its own.
fn parsers() -> Vec<(&'static str, Make, &'static str)> {
    vec![
        (
            "anthropic sse",
            || Box::new(AnthropicSse::default()),
            ANTHROPIC_SSE,
        ),
        ("chat sse", || Box::new(ChatSse::default()), CHAT_SSE),
        (
            "responses sse",
            || Box::new(ResponsesSse::default()),
            RESPONSES_SSE,
        ),
        (
            "gemini stream",
            || Box::new(GeminiStream::default()),
            GEMINI_SSE,
        ),
        (
            "anthropic json",
            || Box::new(JsonBody::new(read_anthropic_json)),
            ANTHROPIC_JSON,
        ),
        (
            "openai json",
            || Box::new(JsonBody::new(read_openai_json)),
            OPENAI_JSON,
        ),
        (
            "gemini json",
            || Box::new(JsonBody::new(read_gemini_json)),
            GEMINI_JSON,
        ),
    ]
}

/// Feeds `input` cut at `cuts` (positions taken modulo its length); reads `terminal` and a
/// mid-way `finish` after every chunk, as the meter may.
fn run(make: Make, input: &[u8], cuts: &[usize]) -> ParsedUsage {
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|c| if input.is_empty() { 0 } else { c % input.len() })
        .collect();
    points.push(input.len());
    points.sort_unstable();
    let mut p = make();
    let mut at = 0;
    for point in points {
        p.feed(&input[at..point]);
        let _ = p.terminal();
        at = point;
    }
    p.finish()
}

fn sse_noise() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop_oneof![
        Just(b"event: message_start\n".to_vec()),
        Just(b"event: content_block_delta\n".to_vec()),
        Just(b"data: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":".to_vec()),
        Just(b"data: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":99999999999999999999}}\n".to_vec()),
        Just(b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":-1,\"prompt_tokens_details\":{\"cached_tokens\":5}}}\n".to_vec()),
        Just(b"data: {\"type\":\"response.completed\",\"response\":{\"output\":7}}\n".to_vec()),
        Just(b"data: {\"text\":\"\\".to_vec()),
        Just(b"\"content\":\"\\u".to_vec()),
        Just(b"{\"usageMetadata\":{\"promptTokenCount\":1e400}".to_vec()),
        Just(b"{{{{\"".to_vec()),
        Just(b"}}]".to_vec()),
        Just(b"data: [DONE]\n".to_vec()),
        Just(b"\r\n\r\n".to_vec()),
        prop::collection::vec(any::<u8>(), 0..40),
    ];
    prop::collection::vec(pieces, 0..30).prop_map(|p| p.concat())
}

/// A valid answer with a few bytes overwritten.
fn mutated(input: &'static str) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((any::<usize>(), any::<u8>()), 0..8).prop_map(move |edits| {
        let mut bytes = input.as_bytes().to_vec();
        for (at, b) in edits {
            let len = bytes.len();
            bytes[at % len] = b;
        }
        bytes
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(
        input in prop_oneof![prop::collection::vec(any::<u8>(), 0..600), sse_noise()],
        cuts in prop::collection::vec(any::<usize>(), 0..16),
    ) {
        for (name, make, _) in parsers() {
            let got = run(make, &input, &cuts);
            // Whatever was fed, the cut-short bill is never below what was reported.
            prop_assert!(got.output_estimate < u64::MAX, "{}", name);
        }
    }

    #[test]
    fn parsers_never_panic_on_damaged_answers(
        a in mutated(ANTHROPIC_SSE),
        c in mutated(CHAT_SSE),
        g in mutated(GEMINI_SSE),
        cuts in prop::collection::vec(any::<usize>(), 0..16),
    ) {
        for (name, make, _) in parsers() {
            for input in [&a, &c, &g] {
                let got = run(make, input, &cuts);
                prop_assert!(got.usage.prompt_tokens() < u64::MAX, "{}", name);
            }
        }
    }

    #[test]
    fn valid_answers_give_the_same_usage_in_any_chunking(
        cuts in prop::collection::vec(any::<usize>(), 0..24),
    ) {
        for (name, make, input) in parsers() {
            let whole = run(make, input.as_bytes(), &[]);
            let cut = run(make, input.as_bytes(), &cuts);
            prop_assert_eq!(&whole, &cut, "{}", name);
            prop_assert!(whole.complete, "{}: {:?}", name, whole);
            prop_assert!(whole.has_usage(), "{}", name);
        }
    }

    #[test]
    fn request_peeks_never_panic(body in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..400),
        request_noise(),
    ]) {
        let _ = serde_json::from_slice::<super::claude::MessagesPeek>(&body);
        let _ = serde_json::from_slice::<super::openai::handlers::ChatPeek>(&body);
        let _ = serde_json::from_slice::<super::openai::handlers::ResponsesPeek>(&body);
        let _ = serde_json::from_slice::<super::gemini::GeminiPeek>(&body);
        if let Ok(text) = std::str::from_utf8(&body) {
            let _ = check_model_name(text);
            let _ = allowed_query(Some(text), &["alt", "beta"]);
            if let Ok(raw) = RawValue::from_string(text.to_owned()) {
                let _ = server_tools::anthropic_declared(Some(&raw));
                let _ = server_tools::responses_declared(Some(&raw));
                let _ = server_tools::gemini_declared(Some(&raw), 3);
            }
        }
    }
}

/// Bodies shaped like requests, with the fields the peeks read given odd values.
fn request_noise() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop_oneof![
        Just(b"{\"model\":".to_vec()),
        Just(b"\"claude-\\u0000\"".to_vec()),
        Just(b",\"max_tokens\":-1".to_vec()),
        Just(b",\"n\":18446744073709551616".to_vec()),
        Just(b",\"tools\":[{\"type\":\"web_search_20250305\",\"max_uses\":".to_vec()),
        Just(b",\"generationConfig\":{\"candidateCount\":".to_vec()),
        Just(b"[{\"googleSearch\":{}}]".to_vec()),
        Just(b",\"stream\":true".to_vec()),
        Just(b"}".to_vec()),
        Just(b"]".to_vec()),
        prop::collection::vec(any::<u8>(), 0..20),
    ];
    prop::collection::vec(pieces, 0..16).prop_map(|p| p.concat())
}

/// Object keys the readers look at, spelled plainly and with escapes, and serde_json's
/// raw-value marker.
fn json_key() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        r#""role""#,
        r#""r\u006fle""#,
        r#""content""#,
        r#""cache_control""#,
        r#""$serde_json::private::RawValue""#,
        r#""usage""#,
        r#""input_tokens""#,
        r#""output_tokens""#,
        r#""cache_creation_input_tokens""#,
        r#""cache_creation""#,
        r#""ephemeral_1h_input_tokens""#,
        r#""server_tool_use""#,
        r#""web_search_requests""#,
        r#""model""#,
        r#""type""#,
        r#""a""#,
        r#""B""#,
    ])
}

/// JSON texts (and a few near misses) built from what hostile documents are made of:
/// repeated and escaped keys, odd numbers, strings holding JSON, arbitrary whitespace.
pub(super) fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        "null",
        "true",
        "0",
        "-0",
        "7",
        "-7",
        "1.50",
        "1e2",
        "18446744073709551615",
        "18446744073709551616",
        "1e400",
        r#""user""#,
        r#""\u0075ser""#,
        r#""error""#,
        r#""a\"b\\c\n\u00e9""#,
        r#""\ud800""#,
        r#""[1,{\"role\":\"user\",\"b\":2,\"a\":{\"cache_control\":1}}]""#,
        r#""{\"input_tokens\":3,\"cache_creation\":{\"ephemeral_1h_input_tokens\":2}}""#,
        r#""3""#,
        "[",
    ])
    .prop_map(str::to_owned);
    let space = prop::sample::select(vec!["", " ", "\n\t"]);
    leaf.prop_recursive(5, 48, 5, move |inner| {
        prop_oneof![
            (prop::collection::vec(inner.clone(), 0..5), space.clone())
                .prop_map(|(items, s)| format!("[{s}{}]", items.join(","))),
            (
                prop::collection::vec((json_key(), inner), 0..5),
                space.clone()
            )
                .prop_map(|(fields, s)| {
                    let fields: Vec<String> =
                        fields.iter().map(|(k, v)| format!("{k}{s}:{v}")).collect();
                    format!("{{{s}{}}}", fields.join(","))
                }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The Claude adapter's reading of whole answers bills what the former reading billed.
    #[test]
    fn the_raw_anthropic_reading_bills_as_the_former_reading(
        doc in prop_oneof![
            json_text(),
            json_text().prop_map(|u| format!(r#"{{"content":[],"usage":{u}}}"#)),
            (json_text(), json_text(), json_text()).prop_map(|(u, m, t)| {
                format!(r#"{{"usage":{{"input_tokens":1}},"type":{t},"usage":{u},"model":{m}}}"#)
            }),
            (json_text(), json_text()).prop_map(|(a, u)| format!(r#"{{"a":{a},"usage":{u}}}"#)),
        ],
        cuts in prop::collection::vec(any::<usize>(), 0..4),
    ) {
        let old = run(|| Box::new(JsonBody::raw(fields_reading)), doc.as_bytes(), &cuts);
        let new = run(|| super::claude::ClaudeAdapter.parser(false), doc.as_bytes(), &cuts);
        prop_assert_eq!(old, new, "{}", doc);
    }
}
