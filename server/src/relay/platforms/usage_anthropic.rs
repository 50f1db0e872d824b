//! An Anthropic whole (non-streamed) answer read for its bill without building a
//! `serde_json::Value`: only `usage`, `model` and `type` are looked at, everything else is
//! checked and skipped. It bills exactly what [`read_anthropic_json`] bills from the parsed
//! document: the last of a repeated key, counts only when they are unsigned integers (a
//! negative, fractional, too large or quoted count is no count), and nothing at all from a
//! document that does not parse — including a number too large for a float anywhere in
//! `usage`, `model` or `type`, which the `Value` reading refuses.
//!
//! [`read_anthropic_json`]: super::usage_parse::read_anthropic_json

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::usage_parse::ParsedUsage;
use crate::pricing::{ServerToolUse, TokenUsage};
use crate::scheduler::sticky::RAW_VALUE_TOKEN;

/// Accepts the scalars a `Value` may hold, as `$other` (strings and counts aside).
macro_rules! scalars {
    ($other:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($other)
        }
    };
}

/// Reads an Anthropic answer document (the whole body) into `out`.
pub fn read_anthropic_answer(doc: &[u8], out: &mut ParsedUsage) {
    if doc.trim_ascii_start().first() != Some(&b'{') {
        // Only an object has fields; the `Value` reading finds none in anything else.
        return;
    }
    let mut de = serde_json::Deserializer::from_slice(doc);
    let Ok(ObjectOr(Some(answer))) = ObjectOr::<Answer>::deserialize(&mut de) else {
        return;
    };
    if de.end().is_err() {
        return;
    }
    if let Some(usage) = answer.usage {
        if let Some(usage) = usage {
            usage.apply(&mut out.usage, &mut out.tools);
        }
        out.complete = true;
    }
    if let Some(model) = answer.model {
        out.model = Some(model.into_owned());
    }
    if answer.error {
        out.error = Some("error".into());
    }
}

/// The top-level fields read (each the last of its repeats).
#[derive(Default)]
struct Answer<'de> {
    /// Present (of any type), and its fields when it is an object.
    usage: Option<Option<Usage>>,
    /// `model`, when it is a string.
    model: Option<Cow<'de, str>>,
    /// `type` is `"error"`.
    error: bool,
}

impl<'de> Fields<'de> for Answer<'de> {
    /// The top level is read field by field, not as a `Value`: the marker is a key like any.
    const IN_VALUE: bool = false;

    fn raw(_: &str) -> serde_json::Result<Option<Self>> {
        Ok(None)
    }

    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "usage" => self.usage = Some(map.next_value::<ObjectOr<Usage>>()?.0),
            "model" => self.model = map.next_value::<Leaf>()?.text(),
            "type" => self.error = map.next_value::<Leaf>()?.text().as_deref() == Some("error"),
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The fields of a `usage` object that bill, as `apply_anthropic_usage` and `anthropic_tools`
/// read them.
#[derive(Default)]
struct Usage {
    input: Option<u64>,
    output: Option<u64>,
    cache_read: Option<u64>,
    cache_total: Option<u64>,
    /// `cache_creation`, when it is an object.
    split: Option<Split>,
    /// `server_tool_use.web_search_requests`.
    searches: Option<u64>,
}

impl Usage {
    fn apply(&self, into: &mut TokenUsage, tools: &mut ServerToolUse) {
        let set = |to: &mut u64, n: Option<u64>| {
            if let Some(n) = n {
                *to = n;
            }
        };
        set(&mut into.input, self.input);
        set(&mut into.output, self.output);
        set(&mut into.cache_read, self.cache_read);
        match &self.split {
            Some(split) => {
                set(&mut into.cache_write_5m, split.five_minutes);
                set(&mut into.cache_write_1h, split.one_hour);
            }
            None => {
                if let Some(n) = self.cache_total {
                    let one_hour = into.cache_write_1h.min(n);
                    into.cache_write_1h = one_hour;
                    into.cache_write_5m = n - one_hour;
                }
            }
        }
        set(&mut tools.web_searches, self.searches);
    }
}

impl<'de> Fields<'de> for Usage {
    fn raw(text: &str) -> serde_json::Result<Option<Self>> {
        raw(text)
    }

    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "input_tokens" => self.input = map.next_value::<Leaf>()?.count(),
            "output_tokens" => self.output = map.next_value::<Leaf>()?.count(),
            "cache_read_input_tokens" => self.cache_read = map.next_value::<Leaf>()?.count(),
            "cache_creation_input_tokens" => self.cache_total = map.next_value::<Leaf>()?.count(),
            "cache_creation" => self.split = map.next_value::<ObjectOr<Split>>()?.0,
            "server_tool_use" => {
                self.searches = map
                    .next_value::<ObjectOr<Tools>>()?
                    .0
                    .and_then(|t| t.searches)
            }
            _ => {
                map.next_value::<Leaf>()?;
            }
        }
        Ok(())
    }
}

#[derive(Default)]
struct Split {
    five_minutes: Option<u64>,
    one_hour: Option<u64>,
}

impl<'de> Fields<'de> for Split {
    fn raw(text: &str) -> serde_json::Result<Option<Self>> {
        raw(text)
    }

    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "ephemeral_5m_input_tokens" => self.five_minutes = map.next_value::<Leaf>()?.count(),
            "ephemeral_1h_input_tokens" => self.one_hour = map.next_value::<Leaf>()?.count(),
            _ => {
                map.next_value::<Leaf>()?;
            }
        }
        Ok(())
    }
}

#[derive(Default)]
struct Tools {
    searches: Option<u64>,
}

impl<'de> Fields<'de> for Tools {
    fn raw(text: &str) -> serde_json::Result<Option<Self>> {
        raw(text)
    }

    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "web_search_requests" => self.searches = map.next_value::<Leaf>()?.count(),
            _ => {
                map.next_value::<Leaf>()?;
            }
        }
        Ok(())
    }
}

/// An object read field by field (each field's value must be consumed).
trait Fields<'de>: Default {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;

    /// Read where a `Value` was built: an object whose first key is serde_json's raw-value
    /// marker is then the JSON text its value holds, parsed ([`Fields::raw`]).
    const IN_VALUE: bool = true;

    fn raw(text: &str) -> serde_json::Result<Option<Self>>;
}

/// [`Fields::raw`] of an object read where a `Value` was built.
fn raw<T: for<'a> Fields<'a>>(text: &str) -> serde_json::Result<Option<T>> {
    serde_json::from_str::<ObjectOr<T>>(text).map(|o| o.0)
}

/// A value of any type: `Some` with its fields when it is an object. Whatever it is, it is
/// parsed as strictly as a `Value` would be.
struct ObjectOr<T>(Option<T>);

impl<'de, T: Fields<'de>> Deserialize<'de> for ObjectOr<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Fields<'de>> Visitor<'de> for V<T> {
            type Value = ObjectOr<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ObjectOr<T>, A::Error> {
                let mut t = T::default();
                let mut first = true;
                while let Some(Key(key)) = map.next_key()? {
                    if std::mem::take(&mut first) && T::IN_VALUE && key == RAW_VALUE_TOKEN {
                        let Key(text) = map.next_value()?;
                        return T::raw(&text)
                            .map(ObjectOr)
                            .map_err(serde::de::Error::custom);
                    }
                    t.field(&key, &mut map)?;
                }
                Ok(ObjectOr(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ObjectOr<T>, A::Error> {
                LeafVisitor.visit_seq(seq).map(|_| ObjectOr(None))
            }
            scalars!(ObjectOr(None));
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A value of any type, kept only when it is a count or a string; arrays and objects are
/// walked through, checked as a `Value` would be.
enum Leaf<'de> {
    Count(u64),
    Text(Cow<'de, str>),
    Other,
}

impl<'de> Leaf<'de> {
    /// `Value::as_u64`.
    fn count(self) -> Option<u64> {
        match self {
            Leaf::Count(n) => Some(n),
            _ => None,
        }
    }

    fn into_owned(self) -> Leaf<'static> {
        match self {
            Leaf::Count(n) => Leaf::Count(n),
            Leaf::Text(s) => Leaf::Text(Cow::Owned(s.into_owned())),
            Leaf::Other => Leaf::Other,
        }
    }

    /// `Value::as_str`.
    fn text(self) -> Option<Cow<'de, str>> {
        match self {
            Leaf::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Leaf<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LeafVisitor)
    }
}

struct LeafVisitor;

impl<'de> Visitor<'de> for LeafVisitor {
    type Value = Leaf<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Leaf<'de>, E> {
        Ok(Leaf::Other)
    }

    fn visit_i64<E>(self, n: i64) -> Result<Leaf<'de>, E> {
        // A `Value` holds a non-negative i64 as an unsigned number.
        Ok(u64::try_from(n).map_or(Leaf::Other, Leaf::Count))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Leaf<'de>, E> {
        Ok(Leaf::Count(n))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Leaf<'de>, E> {
        Ok(Leaf::Other)
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Leaf<'de>, E> {
        Ok(Leaf::Text(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Leaf<'de>, E> {
        Ok(Leaf::Text(Cow::Owned(s.to_owned())))
    }

    fn visit_unit<E>(self) -> Result<Leaf<'de>, E> {
        Ok(Leaf::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Leaf<'de>, A::Error> {
        while seq.next_element::<Leaf>()?.is_some() {}
        Ok(Leaf::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Leaf<'de>, A::Error> {
        let mut first = true;
        while let Some(Key(key)) = map.next_key()? {
            if std::mem::take(&mut first) && key == RAW_VALUE_TOKEN {
                // A `Value` reads the JSON text the marker's value holds.
                let Key(text) = map.next_value()?;
                return serde_json::from_str::<Leaf>(&text)
                    .map(Leaf::into_owned)
                    .map_err(serde::de::Error::custom);
            }
            map.next_value::<Leaf>()?;
        }
        Ok(Leaf::Other)
    }
}

/// An object key, read as a `Value` reads it, borrowed from the document when it has no
/// escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(LeafVisitor).and_then(|leaf| match leaf {
            Leaf::Text(s) => Ok(Key(s)),
            _ => Err(serde::de::Error::custom(
                "an object key that is not a string",
            )),
        })
    }
}

#[cfg(test)]
pub(super) mod reference;
#[cfg(test)]
mod tests;
