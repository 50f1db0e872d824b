//! Renewals by staff: a renewed expired (or exhausted) key works on its next request through
//! the relay and the mock upstream; batch renewals are all or nothing; an upgrade takes the new
//! preset's limits; the ledger and the margin report count renewal revenue by preset.

use reqwest::Method;
use serde_json::json;
use tollgate::relay::control::RelayControl;

use crate::common::spawn_app;
use crate::support::{ask, get, sql, with_account};

#[tokio::test]
async fn renewed_expired_or_exhausted_key_works_on_its_next_request() {
    let app = spawn_app().await;
    let (_mock, token) = with_account(&app).await;
    let (id, key) = app
        .create_key(
            &token,
            json!({"name": "trial", "quotaLimit": 5.0, "presetId": "preset-trial", "salePrice": 9.9}),
        )
        .await;
    assert_eq!(ask(&app, &key).await.0, 200, "works at first");

    // Expired (as if a week had passed): refused...
    sql(
        &app,
        &format!("UPDATE api_keys SET expires_at = 1700000000000 WHERE id = '{id}'"),
    )
    .await;
    app.relay().key_changed(&id);
    let (status, body) = ask(&app, &key).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.to_string().contains("expired"), "{body}");
    // ... renewed by 7 days from now, it works on the very next request.
    let (status, renewed) = app
        .admin_post(
            &token,
            &format!("/admin/api-keys/{id}/renew"),
            json!({"daysAdd": 7, "salePrice": 9.9, "note": "second week"}),
        )
        .await;
    assert_eq!(status, 200, "{renewed}");
    assert_eq!(renewed["entry"]["kind"], "renewal");
    assert_eq!(renewed["key"]["status"], "active");
    let expires =
        chrono::DateTime::parse_from_rfc3339(renewed["key"]["expiresAt"].as_str().unwrap())
            .unwrap()
            .timestamp_millis();
    let week = 7 * 86_400_000;
    let now = chrono::Utc::now().timestamp_millis();
    assert!((expires - (now + week)).abs() < 60_000, "7 days from now");
    assert_eq!(ask(&app, &key).await.0, 200, "renewed key works at once");

    // Exhausted: refused with 402; topped up, works at once.
    sql(
        &app,
        &format!("UPDATE api_keys SET quota_limit_micros = 1 WHERE id = '{id}'"),
    )
    .await;
    app.relay().key_changed(&id);
    let (status, body) = ask(&app, &key).await;
    assert_eq!(status, 402, "{body}");
    let (status, topped) = app
        .admin_post(
            &token,
            &format!("/admin/api-keys/{id}/renew"),
            json!({"quotaAddUsd": 20.0}),
        )
        .await;
    assert_eq!(status, 200, "{topped}");
    assert_eq!(topped["entry"]["kind"], "top_up");
    assert_eq!(ask(&app, &key).await.0, 200, "topped-up key works at once");

    let (status, ledger) = get(&app, &token, &format!("/admin/api-keys/{id}/ledger")).await;
    assert_eq!(status, 200, "{ledger}");
    let kinds: Vec<&str> = ledger
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["renewal", "top_up"]);
    assert_eq!(ledger[0]["salePrice"], 9.9);
    assert_eq!(ledger[0]["note"], "second week");
    assert!(ledger[0]["actor"].as_str().is_some_and(|a| !a.is_empty()));
    assert_eq!(ledger[0]["actorName"], "admin", "who, by name");

    // The margin report counts the renewal's price on its day, for its preset.
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let (status, margin) = get(
        &app,
        &token,
        &format!("/admin/reports/margin?from={today}&to={today}"),
    )
    .await;
    assert_eq!(status, 200, "{margin}");
    let revenue = margin["total"]["totals"]["revenue"].as_f64().unwrap();
    assert!(
        (revenue - 19.8).abs() < 1e-9,
        "sale 9.9 + renewal 9.9: {margin}"
    );
    assert_eq!(
        margin["total"]["totals"]["keysSold"], 1,
        "a renewal is no new key"
    );
    let trial = margin["byPreset"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["key"] == "preset-trial")
        .unwrap();
    assert!((trial["totals"]["revenue"].as_f64().unwrap() - 19.8).abs() < 1e-9);
    app.stop().await;
}

#[tokio::test]
async fn batch_renewal_and_upgrade_move_revenue_with_the_ledger() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let (a, _) = app
        .create_key(
            &token,
            json!({"name": "a", "presetId": "preset-trial", "salePrice": 10.0}),
        )
        .await;
    let (b, _) = app
        .create_key(
            &token,
            json!({"name": "b", "presetId": "preset-trial", "salePrice": 10.0}),
        )
        .await;
    // Refused as a whole when one id is unknown; nothing written.
    let (status, v) = app
        .admin_post(
            &token,
            "/admin/api-keys/renew",
            json!({"ids": [a, "nope"], "daysAdd": 30}),
        )
        .await;
    assert_eq!(status, 404, "{v}");
    assert_eq!(app.count("SELECT COUNT(*) FROM api_key_ledger").await, 0);
    // The monthly preset gets strict mode and a client restriction: an upgrade takes them.
    let (_, presets) = app
        .admin_send(&token, Method::GET, "/admin/key-presets", None)
        .await;
    let mut settings = presets
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "preset-monthly")
        .unwrap()["settings"]
        .clone();
    settings["strictMaxTokens"] = json!(true);
    settings["allowedClients"] = json!(["claude_code"]);
    let (status, v) = app
        .admin_send(
            &token,
            Method::PATCH,
            "/admin/key-presets/preset-monthly",
            Some(json!({ "settings": settings })),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = app
        .admin_post(
            &token,
            "/admin/api-keys/renew",
            json!({"ids": [a, b], "presetId": "preset-monthly", "daysAdd": 30, "salePrice": 50.0, "quotaAddUsd": 100.0}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    for r in v.as_array().unwrap() {
        assert_eq!(r["entry"]["kind"], "upgrade");
        assert_eq!(r["entry"]["presetFrom"], "preset-trial");
        assert_eq!(r["entry"]["presetTo"], "preset-monthly");
        assert_eq!(r["key"]["presetId"], "preset-monthly");
        assert_eq!(r["key"]["quotaLimit"], 120.0, "20 + 100");
        assert_eq!(r["key"]["strictMaxTokens"], true, "{r}");
        assert_eq!(r["key"]["allowedClients"], json!(["claude_code"]), "{r}");
        assert_eq!(
            r["key"]["concurrencyLimit"], 5,
            "the monthly preset's limits"
        );
    }
    // Strict bodies: a typo is named.
    let (status, v) = app
        .admin_post(
            &token,
            "/admin/api-keys/renew",
            json!({"ids": [a], "dayAdd": 1}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), v["error"]["field"].as_str()),
        (400, Some("dayAdd"))
    );
    let (status, v) = app
        .admin_post(&token, &format!("/admin/api-keys/{a}/renew"), json!({}))
        .await;
    assert_eq!(status, 400, "nothing to change: {v}");

    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let (_, margin) = get(
        &app,
        &token,
        &format!("/admin/reports/margin?from={today}&to={today}"),
    )
    .await;
    let line = |id: &str| {
        margin["byPreset"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["key"] == id)
            .map(|l| l["totals"]["revenue"].as_f64().unwrap())
    };
    assert_eq!(
        line("preset-trial"),
        Some(20.0),
        "sold as trial cards: {margin}"
    );
    assert_eq!(line("preset-monthly"), Some(100.0), "upgraded to monthly");
    app.stop().await;
}
