//! Prices end to end over real HTTP on loopback: an unknown model billed at its family's price
//! through the relay and the in-repo mock, listed for the admin with the rule that priced it
//! and priced in one step; the table refreshed from `PRICING_URL` served on 127.0.0.1, with
//! `/metrics` telling how refreshes go.

mod common;

use std::time::Duration;
use tollgate::relay::control::RelayControl;

use axum::routing::get;
use common::{spawn_app, spawn_app_with, Backend, TestApp};
use mock_upstream::{Behavior, MockUpstream, MockUsage};
use reqwest::Method;
use serde_json::{json, Value};
use tollgate::pricing::{PriceRule, PriceSource, TableOrigin, TokenUsage};
use tollgate::secret::Secret;

const METRICS_TOKEN: &str = "scrape-token-for-pricing";

async fn admin_get(app: &TestApp, token: &str, path: &str) -> Value {
    let res = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

async fn scrape(app: &TestApp) -> String {
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

#[tokio::test]
async fn an_unknown_gemini_model_is_billed_like_its_family_and_priced_in_one_step() {
    let app = spawn_app().await;
    let usage = MockUsage {
        input: 1_000,
        output: 200,
        ..Default::default()
    };
    let mock = MockUpstream::start(Behavior {
        usage,
        ..Default::default()
    })
    .await;
    let token = app.admin_token().await;
    let account = app
        .create_account(&token, json!({"name": "g", "platform": "gemini", "apiKey": "AIza-up-1", "baseUrl": mock.url()}))
        .await;
    let (_, key) = app.create_key(&token, json!({"name": "k"})).await;
    let res = app
        .client
        .post(app.url("/gemini/v1beta/models/gemini-3.9-flash:generateContent"))
        .header("x-goog-api-key", &key)
        .json(&json!({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.wait_idle(&account).await;
    app.wait_for_usage_events(1).await;

    // Billed as gemini-3.8-flash ($0.75 / $3.75), flagged as a guessed price.
    let (cost, fallback): (i64, bool) = app
        .fetch_one(
            "SELECT cost_micros, priced_by_fallback FROM usage_events ORDER BY id DESC LIMIT 1",
        )
        .await;
    let tokens = TokenUsage {
        input: 1_000,
        output: 200,
        ..Default::default()
    };
    assert_eq!(cost, app.expected_cost("gemini-3.8-flash", &tokens));
    assert_eq!(cost, 750 + 750);
    assert!(fallback);

    let list = admin_get(&app, &token, "/admin/pricing").await;
    let row = list["fallbackModels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "gemini-3.9-flash")
        .expect("listed")
        .clone();
    assert_eq!(
        (row["rule"].as_str(), row["family"].as_str()),
        (Some("family"), Some("gemini-*-flash*"))
    );
    assert_eq!(row["pricedAs"], "gemini-3.8-flash");
    assert_eq!(
        (
            row["price"]["input"].as_f64(),
            row["price"]["output"].as_f64()
        ),
        (Some(0.75), Some(3.75))
    );
    assert_eq!(row["pricedNow"], false);
    assert_eq!(list["table"]["origin"], "builtin");

    // One step: the suggested price, as listed, becomes the model's own.
    let (status, _) = app
        .admin_send(
            &token,
            Method::PUT,
            "/admin/pricing/gemini-3.9-flash",
            Some(row["price"].clone()),
        )
        .await;
    assert_eq!(status, 204);
    let found = app.relay().pricing().lookup("gemini-3.9-flash");
    assert_eq!(
        (found.source, found.rule, found.price.output),
        (PriceSource::Override, PriceRule::Exact, 3_750_000)
    );
    let list = admin_get(&app, &token, "/admin/pricing").await;
    let row = list["fallbackModels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "gemini-3.9-flash")
        .unwrap()
        .clone();
    assert_eq!(
        (row["pricedNow"].as_bool(), row["rule"].as_str()),
        (Some(true), Some("exact"))
    );
    app.stop().await;
}

/// Serves `/prices.json` (the shipped table with one price changed) and `/down.json` (500).
async fn table_server() -> String {
    let mut table: Value = serde_json::from_str(include_str!("../data/model_prices.json")).unwrap();
    table["claude-opus-4-8"]["output_cost_per_token"] = json!(3e-05);
    let body = table.to_string();
    let app = axum::Router::new()
        .route("/prices.json", get(move || async move { body }))
        .route(
            "/down.json",
            get(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

async fn app_with_pricing_url(url: String) -> TestApp {
    spawn_app_with(Backend::Sqlite, |s| {
        s.serve.relay.pricing_url = Some(url);
        s.serve.ops.metrics_token = Some(Secret::new(METRICS_TOKEN.into()));
    })
    .await
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn pricing_url_refreshes_the_relays_table_at_start() {
    let base = table_server().await;
    let app = app_with_pricing_url(format!("{base}/prices.json")).await;
    let relay = app.relay().clone();
    wait_until("the table from PRICING_URL", || {
        relay.pricing().table_origin().0 == TableOrigin::Url
    })
    .await;
    assert_eq!(
        relay.pricing().lookup("claude-opus-4-8").price.output,
        30_000_000
    );
    let token = app.admin_token().await;
    let list = admin_get(&app, &token, "/admin/pricing").await;
    assert_eq!(list["table"]["origin"], "url");
    assert_eq!(list["table"]["refreshFailures"], 0);
    let metrics = scrape(&app).await;
    assert!(
        metrics.contains("tollgate_pricing_table_models{origin=\"url\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tollgate_pricing_refresh_attempts_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tollgate_pricing_refresh_failures_total 0\n"),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_failing_pricing_url_keeps_the_built_in_table_and_shows_on_metrics() {
    let base = table_server().await;
    let app = app_with_pricing_url(format!("{base}/down.json")).await;
    let relay = app.relay().clone();
    wait_until("a failed refresh", || {
        relay
            .pricing()
            .refresh_status()
            .failures
            .load(std::sync::atomic::Ordering::Relaxed)
            == 1
    })
    .await;
    assert_eq!(relay.pricing().table_origin().0, TableOrigin::Builtin);
    assert_eq!(
        relay.pricing().lookup("claude-opus-4-8").price.output,
        25_000_000
    );
    let metrics = scrape(&app).await;
    assert!(
        metrics.contains("tollgate_pricing_refresh_failures_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tollgate_pricing_table_models{origin=\"builtin\"}"),
        "{metrics}"
    );
    let token = app.admin_token().await;
    let list = admin_get(&app, &token, "/admin/pricing").await;
    assert_eq!(list["table"]["refreshFailures"], 1);
    assert!(list["table"]["lastRefreshFailure"].is_string());
    app.stop().await;
}
