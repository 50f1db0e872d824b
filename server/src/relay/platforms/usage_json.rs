//! Whole (non-streamed) JSON answers: copied up to a bound and parsed at the end, with the
//! end of the document watched so an answer without a declared length settles as soon as it
//! is complete.

use serde_json::Value;

use super::usage_parse::{estimate_tokens, ParsedUsage, UsageParser};

/// A whole JSON answer, copied up to a bound, parsed at the end by `read`.
pub struct JsonBody {
    buf: Vec<u8>,
    overflow: bool,
    /// Every byte fed, kept or not: an answer too large to parse is billed from its size.
    seen: u64,
    /// Tracks where the top-level JSON value ends, for answers without a declared length.
    depth: JsonDepth,
    read: fn(&Value, &mut ParsedUsage),
    /// The top-level fields `read` looks at, when it names them: the rest of an object is
    /// checked but not built (an answer's text is most of it).
    fields: Option<&'static [&'static str]>,
}

/// Nesting of a JSON text outside strings: knows when the first top-level object or array
/// has closed.
#[derive(Default)]
struct JsonDepth {
    depth: u32,
    in_string: bool,
    escaped: bool,
    closed: bool,
}

impl JsonDepth {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.closed {
                return;
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            match b {
                b'"' if self.depth > 0 => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' if self.depth > 0 => {
                    self.depth -= 1;
                    self.closed = self.depth == 0;
                }
                _ => {}
            }
        }
    }
}

const MAX_JSON_BODY: usize = 16 << 20;

impl JsonBody {
    pub fn new(read: fn(&Value, &mut ParsedUsage)) -> Self {
        JsonBody {
            buf: Vec::new(),
            overflow: false,
            seen: 0,
            depth: JsonDepth::default(),
            read,
            fields: None,
        }
    }

    /// A reader that looks only at the top-level `fields` of an object answer.
    pub fn with_fields(
        read: fn(&Value, &mut ParsedUsage),
        fields: &'static [&'static str],
    ) -> Self {
        JsonBody {
            fields: Some(fields),
            ..JsonBody::new(read)
        }
    }

    /// The document, or of an object only the named fields (the others are still read, so a
    /// malformed document fails the same way).
    fn parse(&self) -> Option<Value> {
        match self.fields {
            Some(fields) if self.buf.trim_ascii_start().first() == Some(&b'{') => {
                let mut de = serde_json::Deserializer::from_slice(&self.buf);
                let v = serde::de::DeserializeSeed::deserialize(Fields(fields), &mut de).ok()?;
                de.end().ok()?;
                Some(v)
            }
            _ => serde_json::from_slice::<Value>(&self.buf).ok(),
        }
    }
}

/// Deserialises an object keeping only the named fields (the last of a repeated one, as
/// `Value` does).
struct Fields(&'static [&'static str]);

impl<'de> serde::de::DeserializeSeed<'de> for Fields {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Fields {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = serde_json::Map::new();
        while let Some(Key(key)) = map.next_key()? {
            if self.0.contains(&key.as_ref()) {
                kept.insert(key.into_owned(), map.next_value()?);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(Value::Object(kept))
    }
}

/// An object key, borrowed from the document when it has no escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

impl UsageParser for JsonBody {
    fn feed(&mut self, bytes: &[u8]) {
        self.seen = self.seen.saturating_add(bytes.len() as u64);
        self.depth.feed(bytes);
        if self.overflow || self.buf.len() + bytes.len() > MAX_JSON_BODY {
            // Nothing more is kept: the usage of such an answer is estimated.
            self.overflow = true;
            self.buf = Vec::new();
            return;
        }
        self.buf.extend_from_slice(bytes);
    }

    fn finish(&mut self) -> ParsedUsage {
        let mut out = ParsedUsage {
            output_estimate: estimate_tokens(self.seen),
            ..Default::default()
        };
        if self.overflow {
            tracing::warn!(
                bytes = self.seen,
                "answer too large to read its usage; billing an estimate"
            );
            return out;
        }
        if !self.depth.closed {
            // Cut short: what was received is not a JSON document.
            return out;
        }
        if let Some(v) = self.parse() {
            (self.read)(&v, &mut out);
        }
        out
    }

    fn terminal(&self) -> bool {
        self.depth.closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::platforms::usage_parse::read_anthropic_json;

    #[test]
    fn an_answer_over_the_parse_buffer_is_billed_from_its_size() {
        let mut p = JsonBody::new(read_anthropic_json);
        let chunk = vec![b' '; 1 << 20];
        for _ in 0..17 {
            p.feed(&chunk);
        }
        let got = p.finish();
        assert!(!got.has_usage());
        assert_eq!(got.output_estimate, (17 << 20) / 4);
    }

    #[test]
    fn named_fields_read_the_same_as_the_whole_document() {
        let docs: &[&[u8]] = &[
            br#"{"id":"m","type":"message","content":[{"type":"text","text":"hi \"usage\""}],"model":"claude-x","usage":{"input_tokens":3,"output_tokens":5,"server_tool_use":{"web_search_requests":2}}}"#,
            br#"{"type":"error","error":{"type":"overloaded_error"}}"#,
            br#"{"usage":{"input_tokens":1},"usage":{"input_tokens":9},"mod\u0065l":"m2"}"#,
            br#"{"usage":{"input_tokens":1}} trailing"#,
            br#"{"usage":{"input_tokens":1},}"#,
            br#"  [{"usage":{"input_tokens":1}}]"#,
        ];
        let fields = &["usage", "model", "type"];
        for doc in docs {
            let mut whole = JsonBody::new(read_anthropic_json);
            let mut named = JsonBody::with_fields(read_anthropic_json, fields);
            whole.feed(doc);
            named.feed(doc);
            assert_eq!(
                whole.finish(),
                named.finish(),
                "{}",
                String::from_utf8_lossy(doc)
            );
        }
    }

    #[test]
    fn the_end_of_the_document_is_known_without_a_length() {
        let mut p = JsonBody::new(read_anthropic_json);
        p.feed(br##"{"usage":{"input_tokens":1},"text":"}]\"{""##);
        assert!(!p.terminal());
        p.feed(b"}\n");
        assert!(p.terminal());
    }
}
