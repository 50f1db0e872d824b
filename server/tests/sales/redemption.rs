//! Redeeming codes over real HTTP: exactly one of 50 simultaneous redemptions wins; codes
//! redeemed onto a key and for a new key; revoked, repeated and unknown codes; guessing is
//! limited per address and per key.

use reqwest::Method;
use serde_json::{json, Value};
use tollgate::relay::control::RelayControl;

use crate::common::{spawn_app, spawn_app_clocked, Backend, TestDb};
use crate::support::{ask, create_codes, get, sql, with_account};
use tollgate::clock::ManualClock;

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
    app.relay().key_changed(&id);
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
    let clock = ManualClock::new();
    let app = spawn_app_clocked(TestDb::new(Backend::Sqlite).await, clock.clone(), |_| {}).await;
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
    // A minute later the address has one more try (a failure refills per minute).
    clock.advance(std::time::Duration::from_secs(60));
    let guesses = [404, 429].map(|_| {
        app.client
            .post(app.url("/redeem"))
            .json(&json!({ "code": guess }))
            .send()
    });
    let mut after = Vec::new();
    for g in guesses {
        after.push(g.await.unwrap().status().as_u16());
    }
    assert_eq!(after, [404, 429]);
    app.stop().await;
}
