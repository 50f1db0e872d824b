//! The reading of Anthropic whole answers that [`read_anthropic_answer`] replaced, kept as the
//! reference it must match: the top-level `usage`, `model` and `type` parsed into `Value`s
//! (the other fields checked and skipped), then [`read_anthropic_json`].
//!
//! [`read_anthropic_answer`]: super::read_anthropic_answer

use serde_json::Value;

use crate::relay::platforms::usage_parse::{read_anthropic_json, ParsedUsage};

/// The former `JsonBody::with_fields(read_anthropic_json, &["usage", "model", "type"])`.
pub fn fields_reading(doc: &[u8], out: &mut ParsedUsage) {
    if let Some(v) = parse(doc, &["usage", "model", "type"]) {
        read_anthropic_json(&v, out);
    }
}

fn parse(doc: &[u8], fields: &'static [&'static str]) -> Option<Value> {
    if doc.trim_ascii_start().first() == Some(&b'{') {
        let mut de = serde_json::Deserializer::from_slice(doc);
        let v = serde::de::DeserializeSeed::deserialize(Fields(fields), &mut de).ok()?;
        de.end().ok()?;
        return Some(v);
    }
    serde_json::from_slice::<Value>(doc).ok()
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
