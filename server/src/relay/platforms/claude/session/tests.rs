use super::*;
use axum::http::HeaderValue;
use serde_json::Value;

/// The session of a request as it was computed before the text was read without `Value`s
/// (kept as the reference the new reading must match).
fn value_session(peek: &MessagesPeek<'_>, headers: &HeaderMap) -> Option<u64> {
    let explicit = peek
        .metadata
        .as_ref()
        .and_then(|m| m.user_id.as_deref())
        .and_then(session_from_user_id)
        .map(str::to_owned)
        .or_else(|| {
            headers
                .get("x-claude-code-session-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        });
    if explicit.is_some() {
        return session_hash(explicit.as_deref(), None, None);
    }
    let system: Option<Value> = peek.system.and_then(|s| serde_json::from_str(s.get()).ok());
    let first_user: Option<Value> = peek.messages.and_then(|m| {
        let items: Vec<&RawValue> = serde_json::from_str(m.get()).ok()?;
        items.into_iter().find_map(|item| {
            let v: Value = serde_json::from_str(item.get()).ok()?;
            (v.get("role").and_then(Value::as_str) == Some("user")).then_some(v)
        })
    });
    session_hash(None, system.as_ref(), first_user.as_ref())
}

fn sessions(body: &str, header: Option<&str>) -> (Option<u64>, Option<u64>) {
    let peek: MessagesPeek = serde_json::from_str(body).unwrap();
    let mut headers = HeaderMap::new();
    if let Some(h) = header {
        headers.insert(
            "x-claude-code-session-id",
            HeaderValue::from_str(h).unwrap(),
        );
    }
    (session_for(&peek, &headers), value_session(&peek, &headers))
}

const BENCH: &str = r#"{"model":"claude-sonnet-4-5","max_tokens":256,"stream":false,"messages":[{"role":"user","content":"Say hello"}]}"#;

const CODE: &str = r#"{"model":"claude-sonnet-4-5","max_tokens":32000,"system":[{"type":"text","text":"You are Claude Code, Anthropic's official CLI for Claude.","cache_control":{"type":"ephemeral"}},{"type":"text","text":"Be \"brief\".\n"}],"messages":[{"role":"user","content":[{"type":"text","text":"<system-reminder>x</system-reminder>"},{"type":"text","text":"fix the bug","cache_control":{"type":"ephemeral"}}]},{"role":"assistant","content":"ok"},{"role":"user","content":"next"}],"tools":[]}"#;

/// `CODE` with other whitespace, key order, escapes, number spellings, repeated keys and
/// markers: the same conversation to the `Value` reading.
const CODE_AGAIN: &str = r#"{ "messages" : [ { "content" : [ { "text" : "<system-reminder>x<\/system-reminder>", "type" : "text" }, { "cache_control" : { "type" : "ephemeral", "ttl": "1h" }, "type" : "text", "text" : "fix the bug" } ], "role" : "user" },
  { "role": "assistant", "content": "a different answer" } ],
  "system" : [ { "text" : "You are Claude Code, Anthropic\u0027s official CLI for Claude.", "type" : "text" }, { "type" : "t", "type" : "text", "text" : "Be \"brief\".\u000a" } ],
  "model": "claude-opus-4-1", "max_tokens": 1 }"#;

const SYSTEM_ONLY: &str = r#"{"model":"m","system":"You are terse.","messages":[]}"#;

const ASSISTANT_FIRST: &str = r#"{"model":"m","messages":[{"role":"assistant","content":"Hi"},{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}},{"type":"text","text":"ü 🚀 \u0001"}],"n":[1.0,-0,1e2,-7,18446744073709551615,1.5e-7]}]}"#;

/// Session hashes as computed before (rolling upgrades must not move conversations).
const PINNED: &[(&str, Option<&str>, Option<u64>)] = &[
    (BENCH, None, Some(3_420_882_401_096_588_227)),
    (CODE, None, Some(9_031_623_834_208_330_112)),
    (CODE_AGAIN, None, Some(9_031_623_834_208_330_112)),
    (SYSTEM_ONLY, None, Some(8_861_613_065_595_660_770)),
    (ASSISTANT_FIRST, None, Some(8_366_293_169_037_493_845)),
    (r#"{"model":"m","messages":[]}"#, None, None),
    (r#"{"model":"m"}"#, None, None),
    (BENCH, Some("sess-1"), Some(9_735_520_701_178_994_726)),
    (BENCH, Some(""), None),
    (
        r#"{"model":"m","metadata":{"user_id":"{\"device_id\":\"d\",\"session_id\":\"5f0c-11\"}"},"messages":[{"role":"user","content":"x"}]}"#,
        Some("ignored"),
        Some(15_737_428_077_579_189_465),
    ),
    (
        r#"{"model":"m","metadata":{"user_id":"user_abc_account__session_7d1e2f3a"},"messages":[]}"#,
        None,
        Some(7_233_902_322_413_082_886),
    ),
];

#[test]
fn session_hashes_are_pinned() {
    for (body, header, want) in PINNED {
        let (new, old) = sessions(body, *header);
        assert_eq!(old, *want, "value reading: {body} {header:?}");
        assert_eq!(new, *want, "{body} {header:?}");
    }
    assert_eq!(sessions(CODE, None).0, sessions(CODE_AGAIN, None).0);
}

/// Hostile and odd requests: the new reading hashes what the `Value` reading hashed.
#[test]
fn sessions_match_the_value_reading() {
    let bodies = [
        // Repeated roles and keys: the last wins.
        r#"{"messages":[{"role":"user","role":"assistant","content":"a"},{"role":"assistant","role":"user","content":"b","content":"c"}]}"#,
        // Role not a string, or spelled with escapes.
        r#"{"messages":[{"role":["user"],"content":"a"},{"r\u006fle":"\u0075ser","content":"b"}]}"#,
        // Items that are not objects, and one a `Value` cannot hold (skipped).
        r#"{"messages":["user",7,null,{"role":"user","content":[1e400]},{"role":"user","content":"ok"}]}"#,
        r#"{"messages":[{"role":"user","content":"\ud83d\ude80 \u00e9"}],"system":[{"cache_control":1,"text":"a","nested":{"cache_control":{},"k":[{"cache_control":[]},{"a":1}]}}]}"#,
        r#"{"messages":{"role":"user","content":"not an array"},"system":"s"}"#,
        r#"{"messages":"user","system":{"cache_control":{"type":"ephemeral"}}}"#,
        r#"{"messages":[{"role":"assistant","content":"no user"}]}"#,
        r#"{"messages":[{"role":"assistant","content":"no user"}],"system":null}"#,
        r#"{"system":1e400,"messages":[{"role":"user","content":"x"}]}"#,
        r#"{"system":[1e400],"messages":[]}"#,
        r#"{"system":"","messages":[{"role":"user","content":""}]}"#,
        r#"{"system":[0.1,1e-320,123456789012345678901234567890,-9223372036854775808,-9223372036854775809],"messages":[]}"#,
        r#"{"system":{"b":1,"a":2,"B":3,"é":4,"e":5,"":6,"a":7},"messages":[]}"#,
        r#"{"metadata":{"user_id":"plain"},"messages":[{"role":"user","content":"x"}]}"#,
        r#"{"metadata":{"user_id":null},"messages":[{"role":"user","content":"x"}]}"#,
        // serde_json's raw-value marker as a first key: a `Value` reads the text it holds.
        r#"{"system":{"$serde_json::private::RawValue":"[1,{\"b\":1,\"a\":2,\"cache_control\":3}]"},"messages":[{"$serde_json::private::RawValue":"{\"role\":\"user\",\"content\":\"x\"}"}]}"#,
        r#"{"system":{"$serde_json::private::RawValue":"[1]","x":2},"messages":[{"$serde_json::private::RawValue":7},{"role":"user","content":"y"}]}"#,
        r#"{"system":{"x":{"$serde_json::private::RawValue":"not json"}},"messages":[{"role":"user","content":{"a":1,"$serde_json::private::RawValue":"2"}}]}"#,
        BENCH,
        CODE,
        CODE_AGAIN,
        SYSTEM_ONLY,
        ASSISTANT_FIRST,
    ];
    for body in bodies {
        for header in [None, Some("h")] {
            let (new, old) = sessions(body, header);
            assert_eq!(new, old, "{body} {header:?}");
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// Random requests: the new reading hashes what the `Value` reading hashed.
    #[test]
    fn random_sessions_match_the_value_reading(
        system in crate::relay::platforms::proptests::json_text(),
        first in crate::relay::platforms::proptests::json_text(),
        second in crate::relay::platforms::proptests::json_text(),
        wrap in 0..3u8,
    ) {
        let messages = match wrap {
            0 => format!("[{first},{second}]"),
            1 => format!(r#"[{first},{{"role":"user","content":{second}}}]"#),
            _ => first,
        };
        let body = format!(r#"{{"model":"m","system":{system},"messages":{messages}}}"#);
        if let Ok(peek) = serde_json::from_str::<MessagesPeek>(&body) {
            let headers = HeaderMap::new();
            proptest::prop_assert_eq!(
                session_for(&peek, &headers),
                value_session(&peek, &headers),
                "{}",
                body
            );
        }
    }
}
