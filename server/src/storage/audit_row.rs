//! What an audit row says: who (the actor), from where, what (action, target) and a summary
//! of the change: for each changed field `[before, after]`; secrets (credentials, keys,
//! passwords, TOTP secrets) only as `"changed"`. Used by every audited write (the admin
//! service, the CRS import); the row is written by `storage::audit`.

use app::port::Actor;
use serde_json::{Map, Value};

use super::audit::AuditRow;
use super::now_ms;

/// Field names whose values never enter the trail: only that they changed.
const SECRET_FIELDS: &[&str] = &[
    "password",
    "passwordHash",
    "apiKey",
    "proxy",
    "secret",
    "url",
    "totp",
    "key",
    "keyHash",
    "crsEncryptionKey",
];

fn is_secret(field: &str) -> bool {
    SECRET_FIELDS.iter().any(|s| s.eq_ignore_ascii_case(field))
}

/// The row for `action` on `target_type`/`target_id` (named `target_name`) by `actor`.
pub fn row(
    actor: &Actor,
    action: &str,
    target_type: &str,
    target_id: &str,
    target_name: &str,
    summary: Value,
) -> AuditRow {
    AuditRow {
        id: uuid::Uuid::now_v7().to_string(),
        created_at: now_ms(),
        actor_id: actor.id.clone(),
        actor_name: actor.name.clone(),
        client_addr: actor.client_addr.clone(),
        action: action.to_owned(),
        target_type: target_type.to_owned(),
        target_id: target_id.to_owned(),
        target_name: target_name.to_owned(),
        summary: scrub(summary).to_string(),
    }
}

/// `{field: [before, after]}` for every top-level field that differs between two JSON
/// objects (as serialized for the API); secret fields as `"changed"`.
pub fn diff(before: &Value, after: &Value) -> Value {
    let empty = Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    let mut out = Map::new();
    let mut names: Vec<&String> = b.keys().chain(a.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        if matches!(
            name.as_str(),
            "updatedAt" | "spent" | "reserved" | "requests" | "lastUsedAt"
        ) {
            continue;
        }
        let (old, new) = (b.get(name), a.get(name));
        if old == new {
            continue;
        }
        let entry = if is_secret(name) {
            Value::String("changed".into())
        } else {
            Value::Array(vec![
                old.cloned().unwrap_or(Value::Null),
                new.cloned().unwrap_or(Value::Null),
            ])
        };
        out.insert(name.clone(), entry);
    }
    Value::Object(out)
}

/// The summary of a created object: its fields, secrets as `"changed"`.
pub fn created(value: &Value) -> Value {
    scrub(value.clone())
}

/// Replaces the value of every secret field (at any depth) with `"changed"`.
fn scrub(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    if is_secret(&k) && !v.is_null() {
                        (k, Value::String("changed".into()))
                    } else {
                        (k, scrub(v))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(scrub).collect()),
        other => other,
    }
}

/// A serializable value as JSON (an object for API types).
pub fn json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_names_changed_fields_and_hides_secrets() {
        let before = json!({"name": "a", "quota": 1, "apiKey": "sk-old", "updatedAt": 1});
        let after = json!({"name": "b", "quota": 1, "apiKey": "sk-new", "updatedAt": 2});
        let d = diff(&before, &after);
        assert_eq!(d, json!({"name": ["a", "b"], "apiKey": "changed"}));
        assert!(!d.to_string().contains("sk-"));
        let c = created(&json!({"name": "x", "password": "hunter2", "nested": {"secret": "s"}}));
        assert!(!c.to_string().contains("hunter2"));
        assert!(!c.to_string().contains("\"s\""));
    }
}
