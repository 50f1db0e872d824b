//! A JSON text as the session hash sees it, without building a `serde_json::Value`: the same
//! value a `Value` would hold (object keys in byte order, the last of a repeated key, numbers
//! as `Value` keeps them, strings unescaped) with its `cache_control` markers removed, its
//! strings borrowed from the text when they have no escapes. It serialises to exactly the
//! bytes [`WithoutCacheControl`](super::WithoutCacheControl) writes for that `Value`, and
//! parses exactly the texts a `Value` parses.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

pub struct Canon<'a>(Node<'a>);

enum Node<'a> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(Cow<'a, str>),
    Array(Vec<Node<'a>>),
    /// Sorted by key, keys unique, no `cache_control`.
    Object(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl<'a> Canon<'a> {
    /// `null`, what an absent part hashes as.
    pub const NULL: Canon<'static> = Canon(Node::Null);

    /// The value of a JSON text, when `serde_json` parses it as a `Value`.
    pub fn parse(json: &'a str) -> Option<Canon<'a>> {
        serde_json::from_str::<Node>(json).ok().map(Canon)
    }

    /// A string field of an object (`value.get(key).and_then(Value::as_str)`).
    pub fn str_field(&self, key: &str) -> Option<&str> {
        let Node::Object(entries) = &self.0 else {
            return None;
        };
        let at = entries
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()?;
        match &entries[at].1 {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl Node<'_> {
    fn into_owned(self) -> Node<'static> {
        match self {
            Node::Null => Node::Null,
            Node::Bool(b) => Node::Bool(b),
            Node::U64(n) => Node::U64(n),
            Node::I64(n) => Node::I64(n),
            Node::F64(n) => Node::F64(n),
            Node::Str(s) => Node::Str(Cow::Owned(s.into_owned())),
            Node::Array(items) => Node::Array(items.into_iter().map(Node::into_owned).collect()),
            Node::Object(entries) => Node::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                    .collect(),
            ),
        }
    }
}

/// The first key by which serde_json (with `raw_value`) marks a raw value: a `Value` reads an
/// object starting with it as the JSON text its value holds.
pub const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

impl Serialize for Canon<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl Serialize for Node<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => s.serialize_unit(),
            Node::Bool(b) => s.serialize_bool(*b),
            Node::U64(n) => s.serialize_u64(*n),
            Node::I64(n) => s.serialize_i64(*n),
            Node::F64(n) => s.serialize_f64(*n),
            Node::Str(v) => s.serialize_str(v),
            Node::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Node::Object(entries) => {
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    m.serialize_entry(k.as_ref(), v)?;
                }
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Canon<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Node::deserialize(d).map(Canon)
    }
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Node<'de>, E> {
        Ok(Node::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Node<'de>, E> {
        Ok(Node::I64(n))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Node<'de>, E> {
        Ok(Node::U64(n))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Node<'de>, E> {
        Ok(Node::F64(n))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Node<'de>, E> {
        Ok(Node::Str(Cow::Owned(s)))
    }

    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element()? {
            items.push(v);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let mut entries: Vec<(Cow<'de, str>, Node<'de>)> = Vec::new();
        let mut first = true;
        while let Some(Key(k)) = map.next_key()? {
            if std::mem::take(&mut first) && k == RAW_VALUE_TOKEN {
                // What a `Value` makes of serde_json's raw-value marker as the first key: the
                // value (a string) parsed as JSON, in place of the object.
                let Key(text) = map.next_value()?;
                return serde_json::from_str::<Node>(&text)
                    .map(Node::into_owned)
                    .map_err(serde::de::Error::custom);
            }
            let v = map.next_value()?;
            if k != "cache_control" {
                entries.push((k, v));
            }
        }
        // A `Value`'s map: ordered by key, a repeated key holding its last value.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(later, kept);
            }
            same
        });
        Ok(Node::Object(entries))
    }
}

/// An object key, read as a `Value` reads it.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match d.deserialize_str(NodeVisitor)? {
            Node::Str(s) => Ok(Key(s)),
            _ => Err(serde::de::Error::custom(
                "an object key that is not a string",
            )),
        }
    }
}
