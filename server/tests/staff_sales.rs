//! Renewals and redemption codes by role, over real HTTP: a seller renews only the keys they
//! created (another seller's key is 404) and only within their presets, creates codes only from
//! their presets, lists and revokes only their own codes; a viewer reads ledgers and codes and
//! changes nothing; each change leaves its audit row.

mod common;
mod staff;

use common::spawn_app;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use staff::{preset, staff};

#[tokio::test]
async fn sellers_renew_and_sell_codes_within_their_presets_viewers_only_read() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let trial = preset(&app, &admin, "Sales trial", 5.0).await;
    let monthly = preset(&app, &admin, "Sales monthly", 30.0).await;
    let alice = staff(&app, &admin, "alice", "seller", &[&trial]).await;
    let bob = staff(&app, &admin, "bob", "seller", &[&trial, &monthly]).await;
    let viewer = staff(&app, &admin, "vera", "viewer", &[]).await;

    let key = |token: String, preset: String| {
        let app = &app;
        async move {
            let (s, v) = app
                .admin_post(
                    &token,
                    "/admin/api-keys",
                    json!({ "name": "k", "presetId": preset }),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            v["id"].as_str().unwrap().to_owned()
        }
    };
    let alice_key = key(alice.token.clone(), trial.clone()).await;
    let bob_key = key(bob.token.clone(), monthly.clone()).await;

    // Alice renews her own key; Bob's is not found for her; an upgrade to a preset she may not
    // sell is forbidden.
    let renew = |token: String, id: String, body: Value| {
        let app = &app;
        async move {
            app.admin_post(&token, &format!("/admin/api-keys/{id}/renew"), body)
                .await
        }
    };
    let (s, v) = renew(
        alice.token.clone(),
        alice_key.clone(),
        json!({ "daysAdd": 30 }),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["entry"]["kind"], "renewal");
    let (s, v) = renew(
        alice.token.clone(),
        bob_key.clone(),
        json!({ "daysAdd": 30 }),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, v) = renew(
        alice.token.clone(),
        alice_key.clone(),
        json!({ "presetId": monthly }),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    // Bob may move his key between his two presets; a batch with Alice's key is refused whole.
    let (s, v) = renew(
        bob.token.clone(),
        bob_key.clone(),
        json!({ "presetId": trial }),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["entry"]["kind"], "upgrade");
    let (s, v) = app
        .admin_post(
            &bob.token,
            "/admin/api-keys/renew",
            json!({ "ids": [bob_key, alice_key], "quotaAddUsd": 1.0 }),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    // The viewer renews nothing but reads any ledger; Alice cannot read Bob's.
    let (s, _) = renew(
        viewer.token.clone(),
        alice_key.clone(),
        json!({ "daysAdd": 1 }),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let ledger = |token: String, id: String| {
        let app = &app;
        async move {
            app.admin_send(
                &token,
                Method::GET,
                &format!("/admin/api-keys/{id}/ledger"),
                None,
            )
            .await
        }
    };
    let (s, v) = ledger(viewer.token.clone(), bob_key.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(
        ledger(alice.token.clone(), bob_key.clone()).await.0,
        StatusCode::NOT_FOUND
    );

    // Codes: only from allowed presets; each seller lists and revokes only their own.
    let codes = |token: String, preset: String| {
        let app = &app;
        async move {
            app.admin_post(
                &token,
                "/admin/redemption-codes",
                json!({ "presetId": preset, "count": 2 }),
            )
            .await
        }
    };
    let (s, _) = codes(alice.token.clone(), monthly.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = codes(viewer.token.clone(), trial.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, mine) = codes(alice.token.clone(), trial.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{mine}");
    let (s, bobs) = codes(bob.token.clone(), monthly.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{bobs}");
    let total = |token: String| {
        let app = &app;
        async move {
            let (s, v) = app
                .admin_send(&token, Method::GET, "/admin/redemption-codes", None)
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
            v["total"].as_u64().unwrap()
        }
    };
    assert_eq!(total(alice.token.clone()).await, 2);
    assert_eq!(total(bob.token.clone()).await, 2);
    assert_eq!(total(viewer.token.clone()).await, 4);
    assert_eq!(total(admin.clone()).await, 4);
    let revoke = |token: String, id: String| {
        let app = &app;
        async move {
            app.admin_send(
                &token,
                Method::DELETE,
                &format!("/admin/redemption-codes/{id}"),
                None,
            )
            .await
            .0
        }
    };
    let bob_code = bobs["codes"][0]["id"].as_str().unwrap().to_owned();
    let alice_code = mine["codes"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        revoke(alice.token.clone(), bob_code.clone()).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        revoke(viewer.token.clone(), alice_code.clone()).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        revoke(alice.token.clone(), alice_code.clone()).await,
        StatusCode::NO_CONTENT
    );

    // The audit trail has a row for each change, by its actor.
    let (s, v) = app
        .admin_send(
            &admin,
            Method::GET,
            "/admin/audit-events?pageSize=200",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let rows: Vec<(String, String)> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["actorName"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for (action, who) in [
        ("key.renew", "alice"),
        ("key.renew", "bob"),
        ("code.create", "alice"),
        ("code.create", "bob"),
        ("code.revoke", "alice"),
    ] {
        assert!(
            rows.iter().any(|(a, w)| a == action && w == who),
            "{action} by {who}: {rows:?}"
        );
    }
    // Refused changes left no rows.
    assert!(
        !rows.iter().any(|(a, _)| a == "key.renew_batch"),
        "{rows:?}"
    );
    app.stop().await;
}
