//! Reading the keys API's JSON bodies strictly: unknown fields are refused by name (a typo
//! such as `quotaLimt` must not silently create an unlimited key) and wrong types name their
//! field. serde's `deny_unknown_fields` does not combine with `flatten`, so the body is checked
//! as JSON first, against field lists read from the wire types themselves: adding a field to a
//! type needs no second list here. Flattened fields also lose their path in serde's errors, so
//! the settings part is read on its own first.

use app::error::AdminError;
use app::types::{
    BatchCreateKeys, BatchRenewKeys, CreateCodes, CreateKey, KeyPresetInput, KeyPresetPatch,
    KeySettings, RedeemRequest, RenewKey, UpdateKey,
};
use serde::de::{self, Deserialize, DeserializeOwned, Deserializer, Visitor};
use serde_json::Value;

/// The JSON field names of a struct without `flatten`, as its derived `Deserialize` declares
/// them (renames applied). Empty for types that do not deserialize as a plain struct.
fn struct_fields<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);

    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("field probe"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("field probe"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    // The probe always fails; only the captured field list matters.
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// Refuses the first key of `body` (an object) not in `known`, naming it with `prefix`.
fn refuse_unknown(body: &Value, known: &[&str], prefix: &str) -> Result<(), AdminError> {
    let Some(object) = body.as_object() else {
        return Err(AdminError::validation(
            if prefix.is_empty() {
                "body"
            } else {
                prefix.trim_end_matches('.')
            },
            "must be a JSON object",
        ));
    };
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(AdminError::validation(
            format!("{prefix}{unknown}"),
            "unknown field",
        )),
        None => Ok(()),
    }
}

/// Deserializes `body`, naming the field of the first error (`quotaLimit`, `tags[0]`,
/// `settings.rateLimitWindow`).
fn tracked<T: DeserializeOwned>(body: Value) -> Result<T, AdminError> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let missing = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split_once('`'))
            .map(|(field, _)| field.to_owned());
        let field = match missing {
            Some(field) if path == "." => field,
            _ if path == "." => "body".to_owned(),
            _ => path,
        };
        AdminError::validation(field, message)
    })
}

/// A request body of the keys API, read strictly from JSON.
pub trait StrictBody: Sized {
    fn from_json(body: Value) -> Result<Self, AdminError>;
}

fn with_settings(own: &[&'static str]) -> Vec<&'static str> {
    let mut known = own.to_vec();
    known.extend_from_slice(struct_fields::<KeySettings>());
    known
}

/// Bodies that flatten [`KeySettings`]: check the fields, then read the settings alone (so a
/// type error names its field), then the whole.
fn with_flat_settings<T: DeserializeOwned>(
    body: Value,
    own: &[&'static str],
) -> Result<T, AdminError> {
    refuse_unknown(&body, &with_settings(own), "")?;
    tracked::<KeySettings>(body.clone())?;
    tracked(body)
}

impl StrictBody for CreateKey {
    fn from_json(body: Value) -> Result<Self, AdminError> {
        with_flat_settings(body, &["name"])
    }
}

impl StrictBody for BatchCreateKeys {
    fn from_json(body: Value) -> Result<Self, AdminError> {
        with_flat_settings(body, &["count", "nameTemplate", "names"])
    }
}

impl StrictBody for UpdateKey {
    fn from_json(body: Value) -> Result<Self, AdminError> {
        refuse_unknown(&body, struct_fields::<UpdateKey>(), "")?;
        tracked(body)
    }
}

/// Preset bodies carry settings nested under `settings`; those are checked too.
fn preset_body<T: DeserializeOwned>(body: Value, known: &[&str]) -> Result<T, AdminError> {
    refuse_unknown(&body, known, "")?;
    if let Some(settings) = body.get("settings").filter(|s| !s.is_null()) {
        refuse_unknown(settings, struct_fields::<KeySettings>(), "settings.")?;
    }
    tracked(body)
}

impl StrictBody for KeyPresetInput {
    fn from_json(body: Value) -> Result<Self, AdminError> {
        preset_body(body, struct_fields::<KeyPresetInput>())
    }
}

impl StrictBody for KeyPresetPatch {
    fn from_json(body: Value) -> Result<Self, AdminError> {
        preset_body(body, struct_fields::<KeyPresetPatch>())
    }
}

/// Plain bodies (no flattened part): unknown fields refused by name, then read.
fn plain<T: DeserializeOwned + for<'de> Deserialize<'de>>(body: Value) -> Result<T, AdminError> {
    refuse_unknown(&body, struct_fields::<T>(), "")?;
    tracked(body)
}

impl StrictBody for RenewKey {
    fn from_json(body: Value) -> Result<Self, AdminError> {
        plain(body)
    }
}

impl StrictBody for BatchRenewKeys {
    fn from_json(body: Value) -> Result<Self, AdminError> {
        let mut known = vec!["ids"];
        known.extend_from_slice(struct_fields::<RenewKey>());
        refuse_unknown(&body, &known, "")?;
        tracked(body)
    }
}

impl StrictBody for CreateCodes {
    fn from_json(body: Value) -> Result<Self, AdminError> {
        plain(body)
    }
}

impl StrictBody for RedeemRequest {
    fn from_json(body: Value) -> Result<Self, AdminError> {
        plain(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys_of(v: Value) -> Vec<String> {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    }

    fn sorted(fields: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn field_lists_match_what_the_types_serialize() {
        let settings = struct_fields::<KeySettings>();
        assert_eq!(settings.len(), 28);
        assert_eq!(
            sorted(settings),
            keys_of(serde_json::to_value(KeySettings::default()).unwrap())
        );
        assert_eq!(
            sorted(&with_settings(&["name"])),
            keys_of(serde_json::to_value(CreateKey::default()).unwrap())
        );
        assert_eq!(
            sorted(&with_settings(&["count", "nameTemplate", "names"])),
            keys_of(serde_json::to_value(BatchCreateKeys::default()).unwrap())
        );
        // A patch accepts exactly the fields a new key does.
        assert_eq!(
            sorted(struct_fields::<UpdateKey>()),
            sorted(&with_settings(&["name"]))
        );
        assert_eq!(
            sorted(struct_fields::<KeyPresetInput>()),
            ["name", "settings", "validityDays"]
        );
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_named() {
        let field = |r: Result<CreateKey, AdminError>| match r {
            Err(AdminError::Validation { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(CreateKey::from_json(json!({"name": "a", "quotaLimt": 5}))),
            "quotaLimt"
        );
        assert_eq!(
            field(CreateKey::from_json(
                json!({"name": "a", "quotaLimit": "5"})
            )),
            "quotaLimit"
        );
        assert_eq!(
            field(CreateKey::from_json(json!({"name": "a", "tags": ["x", 1]}))),
            "tags[1]"
        );
        assert_eq!(field(CreateKey::from_json(json!({"name": 7}))), "name");
        assert_eq!(
            field(CreateKey::from_json(json!({"quotaLimit": 5}))),
            "name"
        );
        assert_eq!(field(CreateKey::from_json(json!([1]))), "body");
        let ok = CreateKey::from_json(json!({"name": "a", "quotaLimit": 5})).unwrap();
        assert_eq!(ok.settings.quota_limit, Some(5.0));
        assert!(BatchCreateKeys::from_json(json!({"count": 2, "nameTemplate": "k{n}"})).is_ok());
        let err =
            KeyPresetInput::from_json(json!({"name": "p", "settings": {"bogus": 1}})).unwrap_err();
        assert_eq!(
            err,
            AdminError::validation("settings.bogus", "unknown field")
        );
        let err = UpdateKey::from_json(json!({"expiresAt": 5})).unwrap_err();
        assert!(matches!(err, AdminError::Validation { field, .. } if field == "expiresAt"));
        assert_eq!(
            UpdateKey::from_json(json!({"expiresAt": null}))
                .unwrap()
                .expires_at,
            Some(None)
        );
    }
}
