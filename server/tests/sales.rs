//! Renewals and redemption codes over real HTTP: a renewed expired (or exhausted) key works on
//! its next request through the relay and the mock upstream; the ledger and the margin report
//! count renewal revenue; a code is redeemed exactly once by 50 simultaneous callers; guessing
//! is limited per address and per key; the story runs on SQLite and PostgreSQL.

mod common;

use common::{messages_body, spawn_app, spawn_app_with, Backend, TestApp};
use mock_upstream::{Behavior, MockUpstream};
use reqwest::Method;
use serde_json::{json, Value};

async fn with_account(app: &TestApp) -> (MockUpstream, String) {
    let mock = MockUpstream::start(Behavior::default()).await;
    let token = app.admin_token().await;
    app.create_account(
        &token,
        json!({"name": "a", "apiKey": "sk-upstream-sales", "baseUrl": mock.url()}),
    )
    .await;
    (mock, token)
}

async fn sql(app: &TestApp, q: &str) {
    match &app.db.store {
        tollgate::storage::Store::Sqlite(p) => {
            sqlx::query(q).execute(p).await.unwrap();
        }
        tollgate::storage::Store::Postgres(p) => {
            sqlx::query(q).execute(p).await.unwrap();
        }
    }
}

async fn ask(app: &TestApp, key: &str) -> (u16, Value) {
    let res = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", key)
        .json(&messages_body("claude-sonnet-4-5", false))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let (s, v) = app.admin_send(token, Method::GET, path, None).await;
    (s.as_u16(), v)
}

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
    app.relay().keys.forget(&id);
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
    app.relay().keys.forget(&id);
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

async fn create_codes(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, v) = app.admin_post(token, "/admin/redemption-codes", body).await;
    assert_eq!(status, 201, "{v}");
    v
}

#[tokio::test]
async fn fifty_simultaneous_redemptions_of_one_code_one_wins() {
    let app = spawn_app().await;
    let (_mock, token) = with_account(&app).await;
    let created = create_codes(
        &app,
        &token,
        json!({"presetId": "preset-trial", "count": 1, "salePrice": 9.9}),
    )
    .await;
    let code = created["codes"][0]["code"].as_str().unwrap().to_owned();
    // Half try for a new key, half onto keys they hold.
    let mut keys = Vec::new();
    for i in 0..25 {
        keys.push(
            app.create_key(&token, json!({"name": format!("k{i}"), "quotaLimit": 1.0}))
                .await
                .1,
        );
    }
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let client = app.client.clone();
        let (url, key) = if i % 2 == 0 {
            (app.url("/redeem"), None)
        } else {
            (app.url("/v1/redeem"), Some(keys[i / 2].clone()))
        };
        let code = code.clone();
        tasks.push(tokio::spawn(async move {
            let mut req = client.post(url).json(&json!({ "code": code }));
            if let Some(k) = key {
                req = req.header("x-api-key", k);
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.text().await.unwrap())
        }));
    }
    let mut won = 0;
    let mut lost = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            200 | 201 => won += 1,
            409 => {
                assert!(body.contains("already been redeemed"), "{body}");
                lost += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    eprintln!(
        "50 simultaneous redemptions of one code: {won} won, {lost} refused in {:?}",
        started.elapsed()
    );
    assert_eq!((won, lost), (1, 49));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM api_key_ledger WHERE kind = 'redemption'")
            .await,
        1
    );
    let (_, page) = get(&app, &token, "/admin/redemption-codes?status=redeemed").await;
    assert_eq!(page["total"], 1);
    assert!(page["items"][0]["redeemedKeyId"].as_str().is_some());
    app.stop().await;
}

#[tokio::test]
async fn redeeming_on_a_key_and_for_a_new_key() {
    let app = spawn_app().await;
    let (_mock, token) = with_account(&app).await;
    let created = create_codes(
        &app,
        &token,
        json!({"presetId": "preset-trial", "orderNumbers": ["XY-1", "XY-2", "XY-3"], "salePrice": 9.9}),
    )
    .await;
    let codes: Vec<String> = created["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 3);
    assert!(
        codes[0].len() == 34 && codes[0].split('-').count() == 7,
        "{}",
        codes[0]
    );
    assert_eq!(
        created["codes"][0]["quota"], 20.0,
        "the trial preset's quota"
    );
    assert_eq!(created["codes"][0]["days"], 7);
    assert_eq!(created["codes"][1]["orderNumber"], "XY-2");
    // Only hashes are stored.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM redemption_codes WHERE code_hash LIKE '%{}%'",
            &codes[0][..4]
        ))
        .await,
        0
    );

    // A new key from a code, typed sloppily (lower case, spaces): works through the relay.
    let sloppy = codes[0].to_lowercase().replace('-', " ");
    let res = app
        .client
        .post(app.url("/redeem"))
        .json(&json!({ "code": sloppy }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let new: Value = res.json().await.unwrap();
    let new_key = new["key"].as_str().unwrap();
    assert_eq!(new["quotaLimit"], 20.0);
    assert_eq!(ask(&app, new_key).await.0, 200);

    // Onto an exhausted key: it works again.
    let (id, key) = app
        .create_key(&token, json!({"name": "holder", "quotaLimit": 5.0}))
        .await;
    sql(
        &app,
        &format!("UPDATE api_keys SET spent_micros = 5000000 WHERE id = '{id}'"),
    )
    .await;
    app.relay().keys.forget(&id);
    assert_eq!(ask(&app, &key).await.0, 402);
    let res = app
        .client
        .post(app.url("/v1/redeem"))
        .bearer_auth(&key)
        .json(&json!({ "code": codes[1] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let on: Value = res.json().await.unwrap();
    assert_eq!(
        (on["quotaAdded"].as_f64(), on["quotaLimit"].as_f64()),
        (Some(20.0), Some(25.0))
    );
    assert_eq!(ask(&app, &key).await.0, 200, "redeemed key works at once");
    let (_, ledger) = get(&app, &token, &format!("/admin/api-keys/{id}/ledger")).await;
    assert_eq!(ledger[0]["kind"], "redemption");
    assert_eq!(ledger[0]["actor"], "key-holder");

    // The same code again, a revoked code, an unknown code, a bad key.
    let again = app
        .client
        .post(app.url("/redeem"))
        .json(&json!({ "code": codes[1] }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    let third = &created["codes"][2]["id"].as_str().unwrap();
    let (status, _) = app
        .admin_send(
            &token,
            Method::DELETE,
            &format!("/admin/redemption-codes/{third}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, v) = app
        .admin_send(
            &token,
            Method::DELETE,
            &format!("/admin/redemption-codes/{third}"),
            None,
        )
        .await;
    assert_eq!(status, 409, "already revoked: {v}");
    let revoked = app
        .client
        .post(app.url("/redeem"))
        .json(&json!({ "code": codes[2] }))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 409);
    assert!(revoked.text().await.unwrap().contains("revoked"));
    let bad_key = app
        .client
        .post(app.url("/v1/redeem"))
        .header("x-api-key", "tg_nope")
        .json(&json!({ "code": codes[0] }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_key.status(), 401);

    let (_, all) = get(&app, &token, "/admin/redemption-codes").await;
    assert_eq!(all["total"], 3);
    let (_, unused) = get(&app, &token, "/admin/redemption-codes?status=unused").await;
    assert_eq!(unused["total"], 0);
    let (status, v) = get(&app, &token, "/admin/redemption-codes?state=unused").await;
    assert_eq!((status, v["error"]["field"].as_str()), (400, Some("state")));
    app.stop().await;
}

#[tokio::test]
async fn guessing_is_refused_per_address_and_per_key() {
    let app = spawn_app().await;
    let (_mock, token) = with_account(&app).await;
    let guess = "0000-0000-0000-0000-0000-0000-0000";
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let res = app
            .client
            .post(app.url("/redeem"))
            .json(&json!({ "code": guess }))
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(&statuses[..10], &[404; 10]);
    assert_eq!(
        &statuses[10..],
        &[429, 429],
        "the address has used its failures"
    );
    // Redeeming onto a key from that address is refused too (the per-key budget, counted
    // wherever the key's failures come from, is shown by `sales::guard`'s unit test).
    let (_, key) = app.create_key(&token, json!({"name": "guesser"})).await;
    let res = app
        .client
        .post(app.url("/v1/redeem"))
        .header("x-api-key", &key)
        .json(&json!({ "code": guess }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    app.stop().await;
}

async fn story(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let token = app.admin_token().await;
    let (id, _) = app
        .create_key(
            &token,
            json!({"name": "s", "quotaLimit": 10.0, "presetId": "preset-trial"}),
        )
        .await;
    for body in [
        json!({"daysAdd": 3}),
        json!({"quotaAddUsd": 1.5, "salePrice": 2.0, "currency": "CNY"}),
        json!({"presetId": "preset-monthly"}),
        json!({"note": "goodwill"}),
    ] {
        let (status, v) = app
            .admin_post(&token, &format!("/admin/api-keys/{id}/renew"), body)
            .await;
        assert_eq!(status, 200, "{v}");
    }
    let (_, ledger) = get(&app, &token, &format!("/admin/api-keys/{id}/ledger")).await;
    let kinds: Vec<&str> = ledger
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["renewal", "top_up", "upgrade", "adjustment"],
        "{backend:?}"
    );
    assert_eq!(ledger[1]["currency"], "CNY");
    assert_eq!(ledger[1]["quotaAdd"], 1.5);
    let (_, key) = get(&app, &token, &format!("/admin/api-keys/{id}")).await;
    assert_eq!(key["quotaLimit"], 11.5);
    assert_eq!(key["presetId"], "preset-monthly");

    let created = create_codes(
        &app,
        &token,
        json!({"presetId": "preset-monthly", "count": 2, "quotaUsd": 3.0, "days": 2, "redeemBy": "2099-12-31"}),
    )
    .await;
    assert_eq!(created["codes"][0]["quota"], 3.0);
    let batch = created["batchId"].as_str().unwrap();
    let (_, page) = get(
        &app,
        &token,
        &format!("/admin/redemption-codes?batchId={batch}&presetId=preset-monthly&pageSize=1"),
    )
    .await;
    assert_eq!(
        (
            page["total"].as_u64(),
            page["items"].as_array().unwrap().len()
        ),
        (Some(2), 1)
    );
    // An expired code is listed as expired and refused.
    let first = created["codes"][0]["id"].as_str().unwrap();
    sql(
        &app,
        &format!("UPDATE redemption_codes SET redeem_by = 1 WHERE id = '{first}'"),
    )
    .await;
    let (_, expired) = get(&app, &token, "/admin/redemption-codes?status=expired").await;
    assert_eq!(expired["total"], 1, "{backend:?}");
    let res = app
        .client
        .post(app.url("/redeem"))
        .json(&json!({ "code": created["codes"][0]["code"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    let res = app
        .client
        .post(app.url("/redeem"))
        .json(&json!({ "code": created["codes"][1]["code"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{backend:?}");
    let (_, redeemed) = get(&app, &token, "/admin/redemption-codes?status=redeemed").await;
    assert_eq!(redeemed["total"], 1);
    app.stop().await;
}

#[tokio::test]
async fn storage_story_on_sqlite() {
    story(Backend::Sqlite).await;
}

#[tokio::test]
async fn storage_story_on_postgres() {
    story(Backend::Postgres).await;
}
