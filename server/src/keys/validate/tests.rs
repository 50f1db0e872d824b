use super::*;
use serde_json::json;

fn field_of(s: KeySettings, mode: Mode) -> String {
    match key_settings(&s, mode, "") {
        Err(AdminError::Validation { field, .. }) => field,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

const CREATE: Mode = Mode::Create { now: 1_000 };

#[test]
fn defaults_are_unlimited_and_active() {
    let c = key_settings(&KeySettings::default(), CREATE, "").unwrap();
    assert!(c.is_active);
    assert_eq!(c.quota_limit_micros, 0);
    assert_eq!(c.currency, "USD");
    assert_eq!(c.claude_account_id, "");
    assert_eq!(c.queue_timeout_ms, 10_000);
}

#[test]
fn each_rule_names_its_field() {
    let cases = [
        (json!({"quotaLimit": -1.0}), "quotaLimit"),
        (json!({"dailyCostLimit": -0.5}), "dailyCostLimit"),
        (json!({"salePrice": -2}), "salePrice"),
        (json!({"activationDays": 0}), "activationDays"),
        (json!({"activationDays": 3651}), "activationDays"),
        (json!({"rateLimitWindow": 43_201}), "rateLimitWindow"),
        (json!({"rateLimitRequests": 5}), "rateLimitRequests"),
        (json!({"rateLimitCost": 1.0}), "rateLimitCost"),
        (json!({"permissions": ["azure"]}), "permissions"),
        (json!({"currency": "usd"}), "currency"),
        (json!({"currency": "EURO"}), "currency"),
        (json!({"tags": [" "]}), "tags"),
        (json!({"tags": ["x".repeat(51)]}), "tags"),
        (
            json!({"tags": (0..21).map(|i| i.to_string()).collect::<Vec<_>>()}),
            "tags",
        ),
        (json!({"allowedModels": [""]}), "allowedModels"),
        (json!({"claudeAccountId": "group:"}), "claudeAccountId"),
        (json!({"openaiAccountId": "two words"}), "openaiAccountId"),
        (
            json!({"concurrentRequestQueueMaxSize": 1001}),
            "concurrentRequestQueueMaxSize",
        ),
        (
            json!({"concurrentRequestQueueEnabled": true, "concurrentRequestQueueTimeoutMs": 0}),
            "concurrentRequestQueueTimeoutMs",
        ),
        (
            json!({"concurrentRequestQueueTimeoutMs": 600_001}),
            "concurrentRequestQueueTimeoutMs",
        ),
        (json!({"presetId": " "}), "presetId"),
    ];
    for (settings, field) in cases {
        let settings: KeySettings = serde_json::from_value(settings).unwrap();
        assert_eq!(field_of(settings, CREATE), field);
    }
    let not_finite = KeySettings {
        quota_limit: Some(f64::NAN),
        sale_price: Some(f64::INFINITY),
        ..Default::default()
    };
    assert_eq!(field_of(not_finite, CREATE), "quotaLimit");
}

#[test]
fn expiry_rules_depend_on_the_mode() {
    let past = KeySettings {
        expires_at: chrono::DateTime::from_timestamp_millis(500).map(When::At),
        ..Default::default()
    };
    assert_eq!(field_of(past.clone(), CREATE), "expiresAt");
    assert!(key_settings(
        &past,
        Mode::Update {
            expiry_touched: true
        },
        ""
    )
    .is_ok());
    assert_eq!(field_of(past.clone(), Mode::Preset), "expiresAt");
    let both = KeySettings {
        activation_days: Some(30),
        expires_at: chrono::DateTime::from_timestamp_millis(5_000).map(When::At),
        ..Default::default()
    };
    assert_eq!(field_of(both.clone(), CREATE), "activationDays");
    assert_eq!(
        field_of(
            both.clone(),
            Mode::Update {
                expiry_touched: true
            }
        ),
        "activationDays"
    );
    assert!(key_settings(
        &both,
        Mode::Update {
            expiry_touched: false
        },
        ""
    )
    .is_ok());
}

#[test]
fn lists_are_trimmed_and_deduplicated_and_prefix_is_applied() {
    let s = KeySettings {
        tags: Some(vec![" vip ".into(), "vip".into(), "trial".into()]),
        permissions: Some(vec!["claude".into(), "claude".into()]),
        ..Default::default()
    };
    let c = key_settings(&s, CREATE, "").unwrap();
    assert_eq!(c.tags, ["vip", "trial"]);
    assert_eq!(c.permissions, ["claude"]);
    let bad = KeySettings {
        quota_limit: Some(-1.0),
        ..Default::default()
    };
    assert!(matches!(
        key_settings(&bad, Mode::Preset, "settings."),
        Err(AdminError::Validation { field, .. }) if field == "settings.quotaLimit"
    ));
    let preset_ref = KeySettings {
        preset_id: Some("p".into()),
        ..Default::default()
    };
    assert_eq!(field_of(preset_ref, Mode::Preset), "presetId");
}

#[test]
fn names() {
    assert_eq!(key_name("  card 1 ", "name").unwrap(), "card 1");
    assert!(key_name("", "name").is_err());
    assert!(key_name(&"x".repeat(201), "name").is_err());
    assert!(key_name(&"é".repeat(200), "name").is_ok());
    assert!(key_name("a\nb", "name").is_err());
    assert!(validity_days(Some(0)).is_err());
    assert_eq!(validity_days(Some(7)).unwrap(), Some(7));
}
