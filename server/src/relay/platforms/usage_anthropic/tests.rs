use super::reference::fields_reading;
use super::*;
use crate::relay::platforms::claude::ClaudeAdapter;
use crate::relay::platforms::usage_gemini::read_gemini_json;
use crate::relay::platforms::usage_json::JsonBody;
use crate::relay::platforms::usage_openai::read_openai_json;
use crate::relay::platforms::usage_parse::UsageParser;
use crate::relay::platforms::Adapter;

/// What an answer bills: input, output, 5-minute and 1-hour cache writes, cache reads, web
/// searches, complete, model, error.
type Bill<'a> = (u64, u64, u64, u64, u64, u64, bool, Option<&'a str>, bool);

const NOTHING: Bill<'static> = (0, 0, 0, 0, 0, 0, false, None, false);

/// Only `complete`: a `usage` was there, with nothing that counts.
const EMPTY: Bill<'static> = (0, 0, 0, 0, 0, 0, true, None, false);

fn bill(p: &ParsedUsage) -> Bill<'_> {
    let u = &p.usage;
    (
        u.input,
        u.output,
        u.cache_write_5m,
        u.cache_write_1h,
        u.cache_read,
        p.tools.web_searches,
        p.complete,
        p.model.as_deref(),
        p.error.is_some(),
    )
}

/// Feeds `doc` in chunks of `size` and finishes.
fn run(mut p: Box<dyn UsageParser>, doc: &[u8], size: usize) -> ParsedUsage {
    for c in doc.chunks(size.max(1)) {
        p.feed(c);
    }
    p.finish()
}

/// Hostile Anthropic answers and what they bill (what the former reading billed).
const ANTHROPIC: &[(&str, Bill<'static>)] = &[
    (
        r#"{"id":"m","type":"message","model":"claude-sonnet-4-5","content":[{"type":"text","text":"hi"}],"usage":{"input_tokens":120,"cache_creation_input_tokens":30,"cache_read_input_tokens":400,"cache_creation":{"ephemeral_5m_input_tokens":10,"ephemeral_1h_input_tokens":20},"output_tokens":57,"server_tool_use":{"web_search_requests":2}}}"#,
        (
            120,
            57,
            10,
            20,
            400,
            2,
            true,
            Some("claude-sonnet-4-5"),
            false,
        ),
    ),
    // Repeated keys: the last wins, wholly (a later non-count erases an earlier count).
    (
        r#"{"usage":{"input_tokens":1},"usage":{"input_tokens":9,"output_tokens":2,"output_tokens":3}}"#,
        (9, 3, 0, 0, 0, 0, true, None, false),
    ),
    (
        r#"{"usage":{"input_tokens":5,"input_tokens":"5"},"model":"a","model":7}"#,
        EMPTY,
    ),
    (
        r#"{"usage":{"cache_creation":{"ephemeral_1h_input_tokens":4},"cache_creation":null,"cache_creation_input_tokens":6}}"#,
        (0, 0, 6, 0, 0, 0, true, None, false),
    ),
    // Usage inside strings is text.
    (
        r#"{"content":[{"type":"text","text":"\"usage\":{\"input_tokens\":999}"}],"usage":{"input_tokens":1,"output_tokens":1}}"#,
        (1, 1, 0, 0, 0, 0, true, None, false),
    ),
    (
        r#"{"content":[{"type":"text","text":"{\"usage\":{\"input_tokens\":999}}"}]}"#,
        NOTHING,
    ),
    (
        r#"{"content":[{"usage":{"input_tokens":999}}],"message":{"usage":{"input_tokens":9}}}"#,
        NOTHING,
    ),
    // Escaped keys are the keys they spell.
    (
        r#"{"\u0075sage":{"input\u005ftokens":7,"cache_cr\u0065ation":{"ephemeral_1h_input_tokens":3}},"\u006dodel":"m\u00e9","typ\u0065":"\u0065rror"}"#,
        (7, 0, 0, 3, 0, 0, true, Some("mé"), true),
    ),
    // Numbers: only unsigned integers that fit count.
    (
        r#"{"usage":{"input_tokens":18446744073709551615,"output_tokens":18446744073709551616}}"#,
        (u64::MAX, 0, 0, 0, 0, 0, true, None, false),
    ),
    (
        r#"{"usage":{"input_tokens":-5,"output_tokens":5.0,"cache_read_input_tokens":1e2,"cache_creation_input_tokens":true}}"#,
        EMPTY,
    ),
    (
        r#"{"usage":{"input_tokens":-0,"output_tokens":0,"server_tool_use":{"web_search_requests":-1}}}"#,
        EMPTY,
    ),
    // A number no float holds, inside what is read: the document does not parse.
    (r#"{"usage":{"input_tokens":3,"note":[1e400]}}"#, NOTHING),
    (r#"{"model":1e999,"usage":{"input_tokens":3}}"#, NOTHING),
    // ... outside it: skipped.
    (
        r#"{"content":[1e400],"usage":{"input_tokens":3}}"#,
        (3, 0, 0, 0, 0, 0, true, None, false),
    ),
    // Missing and odd usages.
    (r#"{"usage":{}}"#, EMPTY),
    (r#"{"usage":null}"#, EMPTY),
    (r#"{"usage":[{"input_tokens":3}]}"#, EMPTY),
    (r#"{"usage":"input_tokens: 3"}"#, EMPTY),
    (
        r#"{"type":"message","model":"m"}"#,
        (0, 0, 0, 0, 0, 0, false, Some("m"), false),
    ),
    (
        r#"{"usage":{"cache_creation_input_tokens":33}}"#,
        (0, 0, 33, 0, 0, 0, true, None, false),
    ),
    (
        r#"{"usage":{"cache_creation_input_tokens":33,"cache_creation":{"ephemeral_5m_input_tokens":1}}}"#,
        (0, 0, 1, 0, 0, 0, true, None, false),
    ),
    (
        r#"{"usage":{"server_tool_use":[{"web_search_requests":4}],"input_tokens":1}}"#,
        (1, 0, 0, 0, 0, 0, true, None, false),
    ),
    (
        r#"{"usage":{"server_tool_use":{"web_search_requests":4,"web_search_requests":5}}}"#,
        (0, 0, 0, 0, 0, 5, true, None, false),
    ),
    (
        r#"{"type":"error","error":{"type":"overloaded_error","message":"x"}}"#,
        (0, 0, 0, 0, 0, 0, false, None, true),
    ),
    // Damaged documents: nothing (the estimate from the size stands).
    (r#"{"usage":{"input_tokens":3}"#, NOTHING),
    (r#"{"usage":{"input_tokens":3}} trailing"#, NOTHING),
    (r#"{"usage":{"input_tokens":3},}"#, NOTHING),
    (r#"{"usage":{"input_tokens":3},"t":"\x"}"#, NOTHING),
    (r#"{"usage":{"input_tokens":3,"t":"\ud800"}}"#, NOTHING),
    // ... but outside what is read, only the grammar is checked.
    (
        r#"{"usage":{"input_tokens":3},"t":"\ud800"}"#,
        (3, 0, 0, 0, 0, 0, true, None, false),
    ),
    (
        r#"{"usage":{"input_tokens":3}}{"usage":{"input_tokens":4}}"#,
        NOTHING,
    ),
    (r#"  [{"usage":{"input_tokens":1}}]"#, NOTHING),
    (r#""usage""#, NOTHING),
    (
        " \r\n\t{\"usage\":{\"input_tokens\":2}}\n",
        (2, 0, 0, 0, 0, 0, true, None, false),
    ),
    // serde_json's raw-value marker anywhere: the answer is not read at all (nested, the
    // marker recursed without bound; see `relay::json_guard`), so the accounting estimates.
    (
        r#"{"usage":{"$serde_json::private::RawValue":"{\"input_tokens\":5}"}}"#,
        NOTHING,
    ),
    (
        r#"{"usage":{"input_tokens":{"$serde_json::private::RawValue":" 7 "},"cache_creation":{"$serde_json::private::RawValue":"{\"ephemeral_1h_input_tokens\":{\"$serde_json::private::RawValue\":\"2\"}}"}}}"#,
        NOTHING,
    ),
    (
        r#"{"usage":{"input_tokens":1,"$serde_json::private::RawValue":"2"}}"#,
        NOTHING,
    ),
    (
        r#"{"$serde_json::private::RawValue":5,"model":{"$serde_json::private::RawValue":"\"m\""},"usage":{"input_tokens":2}}"#,
        NOTHING,
    ),
    (
        r#"{"usage":{"$serde_json::private::RawValue":"{\"input_tokens\":5}","input_tokens":6}}"#,
        NOTHING,
    ),
    (
        r#"{"usage":{"note":{"$serde_json::private::RawValue":"not json"},"input_tokens":1}}"#,
        NOTHING,
    ),
    (r#"{"usage":{"$serde_json::private::RawValue":5}}"#, NOTHING),
    (
        r#"{"type":{"$serde_json::private::RawValue":"\"error\""},"usage":{"$serde_json::private::RawValue":"[1]"}}"#,
        NOTHING,
    ),
    // Other platforms' shapes are not Anthropic usage.
    (
        r#"{"model":"gpt-4o","usage":{"prompt_tokens":10,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":4}}}"#,
        (0, 0, 0, 0, 0, 0, true, Some("gpt-4o"), false),
    ),
    (
        r#"{"usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":1},"modelVersion":"g"}"#,
        NOTHING,
    ),
];

/// The Claude adapter's reading of whole answers bills what the former reading billed, in
/// any chunking, and both bill the table's numbers.
#[test]
fn hostile_anthropic_answers_bill_as_before() {
    for (doc, want) in ANTHROPIC {
        let old = run(
            Box::new(JsonBody::raw(fields_reading)),
            doc.as_bytes(),
            4096,
        );
        assert_eq!(bill(&old), *want, "former reading: {doc}");
        for size in [1, 7, 4096] {
            let new = run(ClaudeAdapter.parser(false), doc.as_bytes(), size);
            assert_eq!(new, old, "chunks of {size}: {doc}");
        }
    }
}

#[test]
fn deep_and_large_documents_read_as_before() {
    let deep = |n: usize, at_usage: bool| {
        let nest = format!("{}1{}", "[".repeat(n), "]".repeat(n));
        if at_usage {
            format!(r#"{{"usage":{{"input_tokens":3,"x":{nest}}}}}"#)
        } else {
            format!(r#"{{"content":{nest},"usage":{{"input_tokens":3}}}}"#)
        }
    };
    let text = "é\\\"".repeat(100_000);
    let docs = [
        deep(100, true),
        deep(200, true),
        deep(100, false),
        deep(200, false),
        format!(
            r#"{{"content":[{{"type":"text","text":"{text}"}}],"usage":{{"output_tokens":9}}}}"#
        ),
    ];
    for doc in &docs {
        let old = run(
            Box::new(JsonBody::raw(fields_reading)),
            doc.as_bytes(),
            1 << 16,
        );
        let new = run(ClaudeAdapter.parser(false), doc.as_bytes(), 1 << 16);
        assert_eq!(new, old, "{}", &doc[..60]);
    }
    // The nesting limit applies the same way inside and outside `usage`.
    let billed = |doc: &String| run(ClaudeAdapter.parser(false), doc.as_bytes(), 1 << 16);
    assert_eq!(billed(&docs[0]).usage.input, 3);
    assert_eq!(billed(&docs[1]).usage.input, 0);
    assert_eq!(billed(&docs[4]).usage.output, 9);
}

/// The OpenAI and Gemini whole-answer readings (unchanged), pinned: input, output, cache
/// reads, complete.
#[test]
fn openai_and_gemini_answers_bill_as_before() {
    type Read = fn(&serde_json::Value, &mut ParsedUsage);
    type Case = (Read, &'static str, (u64, u64, u64, bool));
    let cases: &[Case] = &[
        (
            read_openai_json,
            r#"{"model":"gpt-4o","usage":{"prompt_tokens":1500,"completion_tokens":42,"prompt_tokens_details":{"cached_tokens":1024}}}"#,
            (476, 42, 1024, true),
        ),
        (
            read_openai_json,
            r#"{"usage":{"prompt_tokens":10,"prompt_tokens_details":{"cached_tokens":99}}}"#,
            (0, 0, 10, true),
        ),
        (
            read_openai_json,
            r#"{"usage":{"prompt_tokens":-1,"completion_tokens":2.5,"prompt_tokens":7}}"#,
            (7, 0, 0, true),
        ),
        (
            read_openai_json,
            r#"{"usage":{"input_tokens":300,"input_tokens_details":{"cached_tokens":200},"output_tokens":9}}"#,
            (100, 9, 200, true),
        ),
        (read_openai_json, r#"{"usage":null}"#, (0, 0, 0, false)),
        (
            read_openai_json,
            r#"{"usage":{"prompt_tokens":3}"#,
            (0, 0, 0, false),
        ),
        (
            read_openai_json,
            r#"{"usage":{"input_tokens":3,"output_tokens":4}}"#,
            (3, 4, 0, true),
        ),
        (
            read_gemini_json,
            r#"{"candidates":[{"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":120,"cachedContentTokenCount":20,"candidatesTokenCount":30,"thoughtsTokenCount":5,"toolUsePromptTokenCount":1}}"#,
            (101, 35, 20, true),
        ),
        (
            read_gemini_json,
            r#"{"usageMetadata":{"promptTokenCount":"9","candidatesTokenCount":-1}}"#,
            (0, 0, 0, true),
        ),
        (
            read_gemini_json,
            r#"{"usage":{"input_tokens":3},"usageMetadata":{"promptTokenCount":2}}"#,
            (2, 0, 0, true),
        ),
        (
            read_gemini_json,
            r#"{"candidates":[{"text":"\"usageMetadata\":{\"promptTokenCount\":9}"}]}"#,
            (0, 0, 0, false),
        ),
    ];
    for (read, doc, want) in cases {
        let got = run(Box::new(JsonBody::new(*read)), doc.as_bytes(), 5);
        let u = &got.usage;
        assert_eq!(
            (u.input, u.output, u.cache_read, got.complete),
            *want,
            "{doc}"
        );
    }
}
