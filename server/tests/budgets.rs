//! Upstream account budgets over real HTTP, on both databases: usage through the relay and the
//! mock upstream pushes a prepaid balance over 80% and then 100%, each announced once by
//! webhook; once exhausted (stop switch on by default for prepaid) the scheduler no longer
//! picks the account and the key fails over to the other one; a top-up brings it back. Monthly
//! budgets, removal, validation, the overview's attention list and the CLI's report; a budget
//! set mid-hour counts none of that hour's earlier usage.

mod common;

use std::sync::Arc;
use std::time::Duration;
use tollgate::relay::control::RelayControl;

use axum::routing::post;
use common::{messages_body, spawn_app_with, Backend, TestApp, TestDb};
use mock_upstream::{Behavior, MockUpstream, MockUsage};
use parking_lot::Mutex;
use reqwest::Method;
use serde_json::{json, Value};
use tollgate::secret::Secret;
use tollgate::storage::Store;

async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let store = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |body: axum::Json<Value>| {
            let store = store.clone();
            async move {
                store.lock().push(body.0);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn count(seen: &Mutex<Vec<Value>>, event: &str) -> usize {
    seen.lock().iter().filter(|e| e["event"] == event).count()
}

async fn wait_for(seen: &Mutex<Vec<Value>>, event: &str, n: usize) {
    for _ in 0..500 {
        if count(seen, event) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{event} never arrived {n} time(s): {:?}", seen.lock());
}

async fn ask(app: &TestApp, key: &str) -> u16 {
    app.client
        .post(app.url("/v1/messages"))
        .header("x-api-key", key)
        .json(&messages_body("claude-sonnet-4-5", false))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Looks at the budgets now, as the relay's housekeeping does every 5 s.
async fn look(app: &TestApp) -> Vec<app::types::BudgetAlert> {
    app.relay()
        .check_budgets(chrono::Utc::now().timestamp_millis(), true)
        .await
        .unwrap()
}

async fn run(backend: Backend) {
    let (url, seen) = receiver().await;
    let app = spawn_app_with(backend, |s| {
        s.serve.webhooks.webhook_enabled = true;
        s.serve.webhooks.webhook_urls = vec![Secret::new(url)];
    })
    .await;
    // Each request costs 1000 output tokens × $15/MTok = $0.015 on Sonnet.
    let mock = MockUpstream::start(Behavior {
        usage: MockUsage {
            input: 0,
            output: 1000,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let token = app.admin_token().await;
    let a = app
        .create_account(
            &token,
            json!({"name": "prepaid", "apiKey": "cred-a", "baseUrl": mock.url(), "priority": 1}),
        )
        .await;
    app.create_account(
        &token,
        json!({"name": "spare", "apiKey": "cred-b", "baseUrl": mock.url(), "priority": 90}),
    )
    .await;

    // Validation names the field.
    for (body, field) in [
        (json!({"amountUsd": 1.0}), "budget.kind"),
        (
            json!({"kind": "prepaid", "amountUsd": -1.0}),
            "budget.amountUsd",
        ),
        (
            json!({"kind": "prepaid", "amountUsd": 1.0, "resetDay": 3}),
            "budget.resetDay",
        ),
        (
            json!({"kind": "monthly", "amountUsd": 1.0, "resetDay": 31}),
            "budget.resetDay",
        ),
        (
            json!({"kind": "monthly", "amountUsd": 1.0, "thresholds": [0.5, 1.5]}),
            "budget.thresholds[1]",
        ),
    ] {
        let (status, v) = app
            .admin_send(
                &token,
                Method::PATCH,
                &format!("/admin/accounts/{a}"),
                Some(json!({ "budget": body })),
            )
            .await;
        assert_eq!(
            (status.as_u16(), v["error"]["field"].as_str()),
            (400, Some(field)),
            "{v}"
        );
    }

    // $0.018 prepaid: one request is 83% of it, two are 167%.
    let (status, acct) = app
        .admin_send(
            &token,
            Method::PATCH,
            &format!("/admin/accounts/{a}"),
            Some(json!({"budget": {"kind": "prepaid", "amountUsd": 0.018}})),
        )
        .await;
    assert_eq!(status, 200, "{acct}");
    let b = &acct["budget"];
    assert_eq!(b["kind"], "prepaid");
    assert_eq!(b["thresholds"], json!([0.8, 0.95]));
    assert_eq!(b["stopWhenExhausted"], true, "on by default for prepaid");
    assert_eq!(
        (b["spentUsd"].as_f64(), b["remainingUsd"].as_f64()),
        (Some(0.0), Some(0.018))
    );
    assert!(b["projectedRunOut"].is_null());

    let (_, key) = app.create_key(&token, json!({"name": "k"})).await;
    assert_eq!(ask(&app, &key).await, 200);
    app.wait_for_usage_events(1).await;
    assert_eq!(
        mock.requests("cred-a"),
        1,
        "the prepaid account has priority"
    );
    look(&app).await;
    wait_for(&seen, "account.budget_warning", 1).await;
    let warning = seen
        .lock()
        .iter()
        .find(|e| e["event"] == "account.budget_warning")
        .cloned()
        .unwrap();
    assert_eq!(warning["data"]["accountId"], json!(a));
    assert_eq!(warning["data"]["threshold"], 0.8);

    assert_eq!(ask(&app, &key).await, 200);
    app.wait_for_usage_events(2).await;
    assert_eq!(mock.requests("cred-a"), 2);
    for _ in 0..3 {
        look(&app).await;
    }
    wait_for(&seen, "account.budget_exhausted", 1).await;

    // Exhausted and stopped: the key fails over to the spare account.
    assert_eq!(ask(&app, &key).await, 200);
    assert_eq!((mock.requests("cred-a"), mock.requests("cred-b")), (2, 1));
    let (_, acct) = app
        .admin_send(&token, Method::GET, &format!("/admin/accounts/{a}"), None)
        .await;
    let b = &acct["budget"];
    assert_eq!(
        (b["exhausted"].as_bool(), b["stopped"].as_bool()),
        (Some(true), Some(true))
    );
    assert!((b["spentUsd"].as_f64().unwrap() - 0.03).abs() < 1e-9, "{b}");
    assert!(b["remainingUsd"].as_f64().unwrap() < 0.0);

    // The overview lists it; the CLI's report fails on it.
    let (_, overview) = app
        .admin_send(&token, Method::GET, "/admin/reports/overview", None)
        .await;
    let attention = overview["attention"].as_array().unwrap();
    assert!(
        attention
            .iter()
            .any(|x| x["id"] == json!(a) && x["budget"]["exhausted"] == true),
        "{overview}"
    );
    let alerts =
        app::port::AccountsPort::budget_alerts(app.admin.as_ref(), &app::port::Actor::cli())
            .await
            .unwrap();
    assert_eq!(alerts.len(), 1);

    // More checks, then a marker event: still exactly one of each.
    look(&app).await;
    app.webhooks
        .emit(tollgate::webhooks::EventKind::Test, json!({}));
    wait_for(&seen, "test", 1).await;
    assert_eq!(count(&seen, "account.budget_warning"), 1);
    assert_eq!(count(&seen, "account.budget_exhausted"), 1);

    // A dated top-up brings it back into the pool.
    let (status, acct) = app
        .admin_post(
            &token,
            &format!("/admin/accounts/{a}/budget/top-ups"),
            json!({"amountUsd": 1.0, "note": "recharged"}),
        )
        .await;
    assert_eq!(status, 201, "{acct}");
    assert_eq!(acct["budget"]["topUpsUsd"], 1.0);
    assert_eq!(acct["budget"]["stopped"], false);
    assert!(
        acct["budget"]["projectedRunOut"].is_string(),
        "spend in the last 7 days"
    );
    assert!(!app.relay().pool().budget_stopped(&a));
    // (This conversation sticks to the spare account now; a new one goes by priority.)
    let mut fresh = messages_body("claude-sonnet-4-5", false);
    fresh["messages"][0]["content"] = json!("a new conversation");
    let res = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", &key)
        .json(&fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(mock.requests("cred-a"), 3, "picked again");

    // A monthly limit: no top-ups, resets on its day; null removes the budget.
    let (status, acct) = app
        .admin_send(
            &token,
            Method::PATCH,
            &format!("/admin/accounts/{a}"),
            Some(json!({"budget": {"kind": "monthly", "amountUsd": 100.0, "resetDay": 1, "thresholds": [0.5]}})),
        )
        .await;
    assert_eq!(status, 200, "{acct}");
    assert_eq!(acct["budget"]["resetDay"], 1);
    assert_eq!(
        acct["budget"]["stopWhenExhausted"], false,
        "off by default for monthly"
    );
    let (status, v) = app
        .admin_post(
            &token,
            &format!("/admin/accounts/{a}/budget/top-ups"),
            json!({"amountUsd": 1.0}),
        )
        .await;
    assert_eq!(status, 409, "{v}");
    let (status, acct) = app
        .admin_send(
            &token,
            Method::PATCH,
            &format!("/admin/accounts/{a}"),
            Some(json!({"budget": null})),
        )
        .await;
    assert_eq!(status, 200);
    assert!(acct["budget"].is_null());
    // Each budget change left its audit row (written in the change's transaction).
    let (status, v) = app
        .admin_send(
            &token,
            Method::GET,
            &format!("/admin/audit-events?targetId={a}&pageSize=100"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let actions: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "account.budget_set",
        "account.budget_top_up",
        "account.budget_remove",
    ] {
        assert!(actions.contains(&action), "{action}: {actions:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn budgets_warn_exhaust_and_stop_on_sqlite() {
    run(Backend::Sqlite).await;
}

#[tokio::test]
async fn budgets_warn_exhaust_and_stop_on_postgres() {
    run(Backend::Postgres).await;
}

/// A budget set mid-hour counts none of that hour's earlier usage, though the hourly rollup
/// holds the whole hour: the part before the start is taken back from the raw events.
async fn mid_hour_start(backend: Backend) {
    use tollgate::accounts::budget_check::{spend_since, stand};
    use tollgate::storage::budgets::BudgetRow;
    use tollgate::storage::usage_write::{write_batch, UsageEvent};
    const MIN: i64 = 60_000;
    let db = TestDb::new(backend).await;
    let insert_key = "INSERT INTO api_keys (id, key_hash, key_prefix, name, created_at, updated_at)
                      VALUES ('k', 'h-k', 'tg_', 'k', 0, 0)";
    match &db.store {
        Store::Sqlite(p) => sqlx::query(insert_key).execute(p).await.map(drop),
        Store::Postgres(p) => sqlx::query(insert_key).execute(p).await.map(drop),
    }
    .unwrap();
    // 2026-01-01T09:00:00Z, an hour's start.
    let hour = 1_767_258_000_000_i64;
    assert_eq!(hour % (60 * MIN), 0);
    let event = |n: u32, at: i64, cost: i64| UsageEvent {
        request_id: format!("r{n}"),
        key_id: "k".into(),
        account_id: Some("acc".into()),
        platform: "claude",
        model: "m".into(),
        cost_micros: cost,
        status: 200,
        created_at: at,
        ..Default::default()
    };
    let events = [
        event(1, hour - 1, 8_000_000),
        event(2, hour + 10 * MIN, 1_000_000),
        event(3, hour + 40 * MIN, 2_000_000),
        event(4, hour + 120 * MIN, 4_000_000),
        event(5, hour + 130 * MIN, 16_000_000),
    ];
    write_batch(&db.store, chrono_tz::UTC, &events)
        .await
        .unwrap();
    let start = hour + 30 * MIN;
    assert_eq!(
        spend_since(&db.store, "acc", start).await.unwrap(),
        22_000_000,
        "only what came after 09:30"
    );
    assert_eq!(
        spend_since(&db.store, "acc", hour).await.unwrap(),
        23_000_000
    );
    assert_eq!(
        spend_since(&db.store, "acc", hour + 125 * MIN)
            .await
            .unwrap(),
        16_000_000
    );
    let row = BudgetRow {
        account_id: "acc".into(),
        kind: "prepaid".into(),
        amount_micros: 30_000_000,
        reset_day: None,
        thresholds: "[0.8,0.95]".into(),
        stop_when_exhausted: true,
        fired: "[]".into(),
        period_start: start,
        created_at: start,
        updated_at: start,
    };
    db.store.set_account_budget(&row, None).await.unwrap();
    let (standing, ..) = stand(&db.store, &row, hour + 180 * MIN, chrono_tz::UTC)
        .await
        .unwrap();
    assert_eq!(standing.spent_micros, 22_000_000);
    assert_eq!(standing.remaining_micros, 8_000_000);
}

#[tokio::test]
async fn a_budget_set_mid_hour_counts_only_later_usage_on_sqlite() {
    mid_hour_start(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_budget_set_mid_hour_counts_only_later_usage_on_postgres() {
    mid_hour_start(Backend::Postgres).await;
}
