//! Sales by seller over real HTTP, on SQLite and PostgreSQL: a seller's own sales summary
//! (keys sold, revenue, their keys' usage by day; another seller's is refused), admins and
//! viewers any seller's or everyone's; the margin report filtered by seller (REST and server
//! function); and the audit rows of an account's test and status reset.

mod common;
mod staff;

use common::{spawn_app_with, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use staff::{preset, staff};

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::Backend::Sqlite).await;
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(super::Backend::Postgres).await;
            }
        }
    };
}

async fn execute(app: &TestApp, sql: &str) {
    match &app.db.store {
        tollgate::storage::Store::Sqlite(p) => {
            sqlx::query(sql).execute(p).await.unwrap();
        }
        tollgate::storage::Store::Postgres(p) => {
            sqlx::query(sql).execute(p).await.unwrap();
        }
    }
}

async fn get(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    app.admin_send(token, Method::GET, path, None).await
}

both!(sellers_see_their_own_sales_admins_filter_by_seller);
async fn sellers_see_their_own_sales_admins_filter_by_seller(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let admin = app.admin_token().await;
    let trial = preset(&app, &admin, "Seller trial", 5.0).await;
    let monthly = preset(&app, &admin, "Seller monthly", 30.0).await;
    let alice = staff(&app, &admin, "alice", "seller", &[&trial]).await;
    let bob = staff(&app, &admin, "bob", "seller", &[&trial, &monthly]).await;
    let viewer = staff(&app, &admin, "vera", "viewer", &[]).await;
    let mut alice_keys = Vec::new();
    for (token, preset) in [
        (&alice.token, &trial),
        (&alice.token, &trial),
        (&bob.token, &monthly),
    ] {
        let (s, v) = app
            .admin_post(
                token,
                "/admin/api-keys",
                json!({ "name": "k", "presetId": preset }),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        if token == &alice.token {
            alice_keys.push(v["id"].as_str().unwrap().to_owned());
        }
    }

    // Alice: her own two keys, never anyone else's, and no list of other sellers.
    let (s, mine) = get(&app, &alice.token, "/admin/reports/sales").await;
    assert_eq!(s, StatusCode::OK, "{mine}");
    assert_eq!(mine["seller"], json!({ "id": alice.id, "name": "alice" }));
    assert_eq!(
        (&mine["totals"]["keysSold"], &mine["totals"]["revenue"]),
        (&json!(2), &json!(10.0))
    );
    assert_eq!(
        (&mine["liveKeys"], &mine["sellers"]),
        (&json!(2), &json!([]))
    );
    let (s, v) = get(
        &app,
        &alice.token,
        &format!("/admin/reports/sales?seller={}", bob.id),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, _) = get(
        &app,
        &alice.token,
        &format!("/admin/reports/sales?createdBy={}", alice.id),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = get(&app, &alice.token, "/admin/reports/sales?page=1").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");

    // Usage of one of Alice's keys today (through the rollup triggers, as the writer does).
    let today = mine["to"].as_str().unwrap().to_owned();
    execute(
        &app,
        &format!(
            "INSERT INTO usage_daily (day, key_id, account_id, group_id, model, platform,
             requests, errors, input_tokens, output_tokens, cache_write_tokens,
             cache_read_tokens, cost_micros)
             VALUES ('{today}', '{}', 'acc', '', 'claude-x', 'claude', 7, 0, 100, 50, 0, 0,
                     1500000)",
            alice_keys[0]
        ),
    )
    .await;
    let (_, mine) = get(&app, &alice.token, "/admin/reports/sales").await;
    let last = mine["days"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["day"], today);
    assert_eq!(
        (
            &last["keysSold"],
            &last["requests"],
            &last["tokens"],
            &last["spent"]
        ),
        (&json!(2), &json!(7), &json!(150), &json!(1.5))
    );
    assert!(mine.get("cost").is_none() && mine.get("margin").is_none());

    // A viewer (or an admin): any seller's, or everyone's with the sellers to choose from.
    let (s, bobs) = get(
        &app,
        &viewer.token,
        &format!("/admin/reports/sales?seller={}", bob.id),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{bobs}");
    assert_eq!(
        (
            &bobs["totals"]["keysSold"],
            &bobs["totals"]["revenue"],
            &bobs["totals"]["requests"]
        ),
        (&json!(1), &json!(30.0), &json!(0))
    );
    let (_, all) = get(&app, &admin, "/admin/reports/sales").await;
    assert_eq!(all["seller"], Value::Null);
    assert_eq!(
        (&all["totals"]["keysSold"], &all["totals"]["revenue"]),
        (&json!(3), &json!(40.0))
    );
    assert_eq!(all["sellers"].as_array().unwrap().len(), 2, "{all}");
    // The server function answers the same, with the caller's scope.
    let (s, v) = app
        .admin_post(
            &alice.token,
            "/admin/fn/sales_summary",
            json!({ "range": {}, "seller": null }),
        )
        .await;
    assert_eq!((s, &v["totals"]["keysSold"]), (StatusCode::OK, &json!(2)));

    // The margin report by seller: their revenue, and the usage cost of their keys only.
    let (s, m) = get(
        &app,
        &admin,
        &format!("/admin/reports/margin?seller={}", alice.id),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{m}");
    let t = &m["total"]["totals"];
    assert_eq!(
        (&t["keysSold"], &t["revenue"], &t["cost"]),
        (&json!(2), &json!(10.0), &json!(1.5))
    );
    assert_eq!(m["bySeller"].as_array().unwrap().len(), 1);
    let (_, m) = get(
        &app,
        &viewer.token,
        &format!("/admin/reports/margin?createdBy={}", bob.id),
    )
    .await;
    let t = &m["total"]["totals"];
    assert_eq!(
        (&t["keysSold"], &t["revenue"], &t["cost"]),
        (&json!(1), &json!(30.0), &json!(0.0))
    );
    let (s, v) = get(
        &app,
        &admin,
        &format!(
            "/admin/reports/margin?seller={}&costBasis=amortized",
            bob.id
        ),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = app
        .admin_post(
            &admin,
            "/admin/fn/margin_report",
            json!({ "range": {}, "cost_basis": "usage", "exchange_rate": null, "seller": alice.id }),
        )
        .await;
    assert_eq!(
        (s, &v["total"]["totals"]["keysSold"]),
        (StatusCode::OK, &json!(2))
    );
    let (s, _) = get(&app, &alice.token, "/admin/reports/margin").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "sellers never see margin");
    app.stop().await;
}

both!(account_test_and_reset_leave_audit_rows);
async fn account_test_and_reset_leave_audit_rows(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let admin = app.admin_token().await;
    // Nothing listens there: the test fails fast, which is still a test to record.
    let id = app
        .create_account(
            &admin,
            json!({ "name": "dead", "apiKey": "sk-ant-dead", "baseUrl": "http://127.0.0.1:9" }),
        )
        .await;
    let (s, v) = app
        .admin_post(&admin, &format!("/admin/accounts/{id}/test"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .admin_post(
            &admin,
            &format!("/admin/accounts/{id}/reset-status"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for action in ["account.test", "account.reset_status"] {
        let (actor, target, name): (String, String, String) = app
            .fetch_one(&format!(
                "SELECT actor_name, target_id, target_name FROM audit_events
                 WHERE action = '{action}'"
            ))
            .await;
        assert_eq!((actor.as_str(), target.as_str()), ("admin", id.as_str()));
        assert_eq!(name, "dead");
    }
    let (summary,): (String,) = app
        .fetch_one("SELECT summary FROM audit_events WHERE action = 'account.test'")
        .await;
    assert!(summary.contains("\"ok\":false"), "{summary}");
    assert!(!summary.contains("sk-ant-dead"));
    app.stop().await;
}
