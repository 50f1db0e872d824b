//! A request body may not use serde_json's private raw-value marker as a string. With its
//! `raw_value` feature on (the relay peeks through `RawValue`), serde_json reads an object whose
//! first key is `$serde_json::private::RawValue` as the JSON text held in its string, parsed
//! afresh with a fresh depth limit of 128. Nested marker in marker, a body of about 100 KB
//! reaches a depth no stack holds and aborts the process wherever it is parsed into a
//! `serde_json::Value` (translations, the sticky hash's canonical form, usage readers). No
//! client has a reason to send that key, so a body with the marker anywhere is refused before
//! anything parses it; upstream answers and error bodies are read through [`upstream_value`],
//! which treats a text with the marker as one that does not parse (usage is then estimated).

use memchr::{memchr, memchr2, memmem};

const MARKER: &[u8] = b"$serde_json::private::RawValue";

/// An upstream's JSON text as a `serde_json::Value`; `None` when it does not parse, and when it
/// uses the marker (an upstream, too, could otherwise abort the process with its answer).
pub fn upstream_value(text: &[u8]) -> Option<serde_json::Value> {
    if has_raw_value_marker(text) {
        return None;
    }
    serde_json::from_slice(text).ok()
}

/// Whether some JSON string in `body` (a key or a value, escaped or not) reads as the marker.
/// Strings are found as a JSON parser tokenizes them, so a marker merely quoted inside another
/// string (escaped quotes) is that string's content and does not count.
pub fn has_raw_value_marker(body: &[u8]) -> bool {
    // The marker cannot be spelt without a `$` or an escape.
    if memchr(b'$', body).is_none() && memmem::find(body, b"\\u").is_none() {
        return false;
    }
    let mut at = 0;
    while let Some(open) = memchr(b'"', &body[at..]) {
        let start = at + open + 1;
        let mut end = start;
        let mut escaped = false;
        loop {
            match memchr2(b'"', b'\\', &body[end..]) {
                None => return false,
                Some(k) if body[end + k] == b'\\' => {
                    escaped = true;
                    end += k + 2;
                    if end >= body.len() {
                        return false;
                    }
                }
                Some(k) => {
                    end += k;
                    break;
                }
            }
        }
        let raw = &body[start..end];
        // Each of the marker's characters takes 1 to 6 bytes (`\u0024`).
        if (MARKER.len()..=MARKER.len() * 6).contains(&raw.len()) {
            let hit = if escaped {
                serde_json::from_slice::<String>(&body[start - 1..=end])
                    .is_ok_and(|s| s.as_bytes() == MARKER)
            } else {
                raw == MARKER
            };
            if hit {
                return true;
            }
        }
        at = end + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The marker nested `levels` times, each holding 120 levels of arrays: serde_json parses
    /// it into a `Value` recursively, marker by marker.
    fn nested_markers(levels: usize) -> String {
        let mut doc = String::from("1");
        for _ in 0..levels {
            let inner = format!("{}{doc}{}", "[".repeat(120), "]".repeat(120));
            let escaped = inner.replace('\\', "\\u005c").replace('"', "\\u0022");
            doc = format!("{{\"$serde_json::private::RawValue\":\"{escaped}\"}}");
        }
        doc
    }

    #[test]
    fn the_marker_is_found_however_it_is_spelt() {
        for body in [
            r#"{"$serde_json::private::RawValue":"1"}"#.to_owned(),
            r#"{"system":[{"\u0024serde_json::private::RawValue":"[1]"}]}"#.to_owned(),
            r#"{"a":"\u0024\u0073erde_json::private::RawValue"}"#.to_owned(),
            format!(r#"{{"messages":[{{"content":{}}}]}}"#, nested_markers(3)),
        ] {
            assert!(has_raw_value_marker(body.as_bytes()), "{body}");
        }
    }

    #[test]
    fn ordinary_bodies_and_quoted_markers_pass() {
        for body in [
            r#"{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"Say hello"}]}"#,
            r#"{"content":"costs $5 \u00e9 \"quoted\" \\ done"}"#,
            // Inside another string the marker is text, never parsed as a key.
            r#"{"content":"{\"$serde_json::private::RawValue\":\"1\"}"}"#,
            r#"{"k":"$serde_json::private::RawValue!"}"#,
            r#"{"unterminated":"$serde_json::private::RawValue"#,
            "",
        ] {
            assert!(!has_raw_value_marker(body.as_bytes()), "{body}");
        }
    }

    #[test]
    fn upstream_text_with_the_marker_reads_as_unparsable() {
        let deep = nested_markers(200);
        assert_eq!(upstream_value(deep.as_bytes()), None);
        let answer = format!(r#"{{"usage":{deep},"type":"message"}}"#);
        assert_eq!(upstream_value(answer.as_bytes()), None);
        let ok = upstream_value(br#"{"usage":{"input_tokens":5}}"#).unwrap();
        assert_eq!(ok["usage"]["input_tokens"], 5);
    }

    #[test]
    fn the_nested_marker_really_recurses_in_serde_json() {
        // Why the guard exists: the marker is honoured, so depth adds up across markers.
        let v: serde_json::Value = serde_json::from_str(&nested_markers(2)).unwrap();
        assert!(v.is_array(), "{v}");
    }
}
