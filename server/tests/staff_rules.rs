//! What a seller may and may not do, over real HTTP: keys only from allowed presets and with
//! the preset's terms, only their own keys (another seller's is 404), the last admin cannot be
//! demoted, a role change ends sessions and tokens at once, `createdBy` and `bySeller`, and the
//! audit trail of it all (the second factor: `staff_totp`).

mod common;
mod staff;

use common::{spawn_app, ADMIN_PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use staff::{preset, staff, STAFF_PASSWORD};

#[tokio::test]
async fn sellers_sell_from_their_presets_and_see_only_their_keys() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let trial = preset(&app, &admin, "Shop trial", 5.0).await;
    let monthly = preset(&app, &admin, "Shop monthly", 30.0).await;
    let alice = staff(&app, &admin, "alice", "seller", &[&trial]).await;
    let bob = staff(&app, &admin, "bob", "seller", &[&trial, &monthly]).await;

    // From a preset she is not allowed: 403; free-form limits or prices: 403; no preset: 403.
    for body in [
        json!({ "name": "x", "presetId": monthly }),
        json!({ "name": "x", "presetId": trial, "salePrice": 0.0 }),
        json!({ "name": "x", "presetId": trial, "quotaLimit": 1000.0 }),
        json!({ "name": "x", "presetId": trial, "claudeAccountId": "group:vip" }),
        json!({ "name": "x" }),
    ] {
        let (status, v) = app
            .admin_post(&alice.token, "/admin/api-keys", body.clone())
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}: {v}");
        assert_eq!(v["error"]["code"], "forbidden");
    }
    // A batch for three orders from her preset: the preset's price and limits, her name on them.
    let (status, created) = app
        .admin_post(
            &alice.token,
            "/admin/api-keys/batch",
            json!({ "names": ["A1", "A2", "A3"], "presetId": trial, "tags": ["shop"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let created = created.as_array().unwrap().clone();
    assert_eq!(created.len(), 3);
    for k in &created {
        assert_eq!(k["createdBy"]["id"], alice.id.as_str());
        assert_eq!(k["createdBy"]["name"], "alice");
        assert_eq!(k["salePrice"], 5.0);
        assert_eq!(k["quotaLimit"], 5.0);
    }
    let (_, bobs) = app
        .admin_post(
            &bob.token,
            "/admin/api-keys",
            json!({ "name": "B1", "presetId": monthly }),
        )
        .await;
    let bob_key = bobs["id"].as_str().unwrap().to_owned();

    // Each seller lists only their keys, whatever filter they ask for.
    let list = |token: String, query: &'static str| {
        let app = &app;
        async move {
            let (s, v) = app
                .admin_send(
                    &token,
                    Method::GET,
                    &format!("/admin/api-keys{query}"),
                    None,
                )
                .await;
            assert_eq!(s, 200, "{v}");
            v["total"].as_u64().unwrap()
        }
    };
    assert_eq!(list(alice.token.clone(), "").await, 3);
    assert_eq!(list(bob.token.clone(), "").await, 1);
    let (_, v) = app
        .admin_send(
            &alice.token,
            Method::GET,
            &format!("/admin/api-keys?createdBy={}", bob.id),
            None,
        )
        .await;
    assert_eq!(
        v["total"], 3,
        "a seller's createdBy filter is ignored: always her own"
    );
    // Another seller's key: 404 for every verb, exactly like a missing one.
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({ "isActive": false }))),
        (Method::DELETE, None),
    ] {
        let (s, v) = app
            .admin_send(
                &alice.token,
                method.clone(),
                &format!("/admin/api-keys/{bob_key}"),
                body,
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method}: {v}");
    }
    let (s, _) = app
        .admin_send(
            &alice.token,
            Method::GET,
            &format!("/admin/reports/key-usage/{bob_key}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Her own: disable, rename; not its limits; delete.
    let own = created[0]["id"].as_str().unwrap();
    let (s, v) = app
        .admin_send(
            &alice.token,
            Method::PATCH,
            &format!("/admin/api-keys/{own}"),
            Some(json!({ "isActive": false })),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["isActive"], false);
    let (s, _) = app
        .admin_send(
            &alice.token,
            Method::PATCH,
            &format!("/admin/api-keys/{own}"),
            Some(json!({ "quotaLimit": 99.0 })),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .admin_send(
            &alice.token,
            Method::DELETE,
            &format!("/admin/api-keys/{own}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    // She sees only the presets she may sell; never accounts, users, pricing or settings writes.
    let (_, presets) = app
        .admin_send(&alice.token, Method::GET, "/admin/key-presets", None)
        .await;
    let names: Vec<&str> = presets
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Shop trial"]);
    for path in [
        "/admin/accounts",
        "/admin/users",
        "/admin/pricing",
        "/admin/reports/margin",
        "/admin/audit-events",
    ] {
        let (s, _) = app.admin_send(&alice.token, Method::GET, path, None).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }

    // The admin sees every key, filters by creator, and the margin report sums sales by seller.
    let (_, v) = app
        .admin_send(
            &admin,
            Method::GET,
            &format!("/admin/api-keys?createdBy={}", alice.id),
            None,
        )
        .await;
    assert_eq!(v["total"], 2, "alice's remaining keys");
    assert_eq!(list(admin.clone(), "").await, 3);
    let (s, margin) = app
        .admin_send(&admin, Method::GET, "/admin/reports/margin", None)
        .await;
    assert_eq!(s, 200, "{margin}");
    let by_seller = margin["bySeller"].as_array().unwrap();
    let line = |name: &str| {
        by_seller
            .iter()
            .find(|l| l["label"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        line("alice")["keysSold"],
        3,
        "deleted keys were sold too: {margin}"
    );
    assert_eq!(line("alice")["revenue"], 15.0);
    assert_eq!(line("bob")["keysSold"], 1);
    assert_eq!(line("bob")["revenue"], 30.0);

    // The audit trail has each change, by whom, never a key or a password.
    let (_, audit) = app
        .admin_send(
            &admin,
            Method::GET,
            &format!("/admin/audit-events?actorId={}&pageSize=100", alice.id),
            None,
        )
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "key.create").count(),
        3,
        "{actions:?}"
    );
    assert!(
        actions.contains(&"key.update")
            && actions.contains(&"key.delete")
            && actions.contains(&"login"),
        "{actions:?}"
    );
    let update = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "key.update")
        .unwrap();
    assert_eq!(
        update["summary"]["isActive"],
        json!([true, false]),
        "{update}"
    );
    let text = audit.to_string();
    for k in &created {
        let prefix = k["keyPrefix"].as_str().unwrap().trim_end_matches('…');
        assert!(text.contains(prefix), "the display prefix may appear");
    }
    assert!(!text.contains(STAFF_PASSWORD));
    let (s, csv) = {
        let res = app
            .client
            .get(app.url("/admin/audit-events?format=csv"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        (res.status(), res.text().await.unwrap())
    };
    assert_eq!(s, 200);
    assert!(csv.starts_with("time,userId,user,from,action"), "{csv}");
    assert!(csv.contains("key.create"));
    app.stop().await;
}

#[tokio::test]
async fn the_last_admin_stays_and_role_changes_end_sessions() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, me) = app
        .admin_send(&admin, Method::GET, "/admin/auth/me", None)
        .await;
    assert_eq!(me["role"], "admin");
    let admin_id = me["id"].as_str().unwrap().to_owned();
    for patch in [json!({ "role": "seller" }), json!({ "isActive": false })] {
        let (s, v) = app
            .admin_send(
                &admin,
                Method::PATCH,
                &format!("/admin/users/{admin_id}"),
                Some(patch.clone()),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{patch}: {v}");
    }
    let (s, _) = app
        .admin_send(
            &admin,
            Method::DELETE,
            &format!("/admin/users/{admin_id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // A second admin: demoting them ends their token at once.
    let carol = staff(&app, &admin, "carol", "admin", &[]).await;
    let (s, _) = app
        .admin_send(&carol.token, Method::GET, "/admin/users", None)
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .admin_send(
            &admin,
            Method::PATCH,
            &format!("/admin/users/{}", carol.id),
            Some(json!({ "role": "viewer" })),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .admin_send(&carol.token, Method::GET, "/admin/auth/me", None)
        .await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "the token ended with the role change"
    );
    // Now the first admin may step down: carol is no admin, so still refused.
    let (s, _) = app
        .admin_send(
            &admin,
            Method::PATCH,
            &format!("/admin/users/{admin_id}"),
            Some(json!({ "role": "viewer" })),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Disabling a user: their login fails like a wrong password.
    let dave = staff(&app, &admin, "dave", "seller", &[]).await;
    let (s, _) = app
        .admin_send(
            &admin,
            Method::PATCH,
            &format!("/admin/users/{}", dave.id),
            Some(json!({ "isActive": false })),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(app.login("dave", STAFF_PASSWORD).await.status(), 401);
    let (s, _) = app
        .admin_send(&dave.token, Method::GET, "/admin/api-keys", None)
        .await;
    assert_eq!(s, 401);

    // A user created without a password gets one generated, shown once, that works.
    let (s, v) = app
        .admin_post(
            &admin,
            "/admin/users",
            json!({ "username": "erin", "role": "viewer" }),
        )
        .await;
    assert_eq!(s, 201);
    let generated = v["password"].as_str().unwrap().to_owned();
    assert_eq!(app.login("erin", &generated).await.status(), 200);
    let (_, again) = app
        .admin_send(
            &admin,
            Method::GET,
            &format!("/admin/users/{}", v["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert!(again.get("password").is_none());
    // A duplicate username conflicts.
    let (s, _) = app
        .admin_post(
            &admin,
            "/admin/users",
            json!({ "username": "erin", "role": "viewer" }),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let _ = ADMIN_PASSWORD;
    app.stop().await;
}
