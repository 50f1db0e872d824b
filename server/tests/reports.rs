//! Reports over real HTTP: usage split four ways, margin with an exchange rate and both cost
//! bases, operator settings, price overrides, the live overview, and a key holder's own usage
//! by the key itself (relay route and public server function). Rollups are seeded with SQL, as
//! the relay's usage writer would have written them.

mod common;

use common::{spawn_app, spawn_app_with, Backend, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tollgate::relay::control::RelayControl;
use tollgate::storage::Store;

async fn sql(app: &TestApp, text: &str) {
    match &app.db.store {
        Store::Sqlite(p) => {
            sqlx::raw_sql(text).execute(p).await.unwrap();
        }
        Store::Postgres(p) => {
            sqlx::raw_sql(text).execute(p).await.unwrap();
        }
    }
}

async fn get(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    app.admin_send(token, Method::GET, path, None).await
}

/// Epoch ms of `day` (`YYYY-MM-DD`) at `hour`:00 UTC.
fn at(day: &str, hour: u32) -> i64 {
    let d = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
    d.and_hms_opt(hour, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis()
}

fn close(a: &Value, b: f64) -> bool {
    (a.as_f64().unwrap_or(f64::NAN) - b).abs() < 1e-9
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn line<'a>(lines: &'a Value, key: &str) -> &'a Value {
    by(lines, "key", key)
}

fn by<'a>(lines: &'a Value, field: &str, value: &str) -> &'a Value {
    lines
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l[field] == value)
        .unwrap_or_else(|| panic!("no {field} {value} in {lines}"))
}

/// The preset split of 2026-03-01..03 and the split values it lists.
async fn preset_split(app: &TestApp, token: &str) -> (Value, Vec<String>) {
    let (_, r) = get(
        app,
        token,
        "/admin/reports/usage?from=2026-03-01&to=2026-03-03&splitBy=preset",
    )
    .await;
    let keys = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["key"].as_str().unwrap().to_owned())
        .collect();
    (r, keys)
}

/// A group-type account in a new group, and a shared account; returns (group, grouped, shared).
async fn accounts_and_group(app: &TestApp, token: &str) -> (String, String, String) {
    let grouped = app
        .create_account(
            token,
            json!({"name": "grouped", "platform": "claude", "accountType": "group", "apiKey": "sk-g",
                   "baseUrl": "http://127.0.0.1:9", "maxConcurrency": 4, "monthlyCost": 31.0}),
        )
        .await;
    let shared = app
        .create_account(
            token,
            json!({"name": "shared", "platform": "claude", "apiKey": "sk-s",
                   "baseUrl": "http://127.0.0.1:9", "monthlyCost": 62.0}),
        )
        .await;
    let (status, group) = app
        .admin_post(
            token,
            "/admin/account-groups",
            json!({"name": "VIP", "platform": "claude"}),
        )
        .await;
    assert_eq!(status, 201, "{group}");
    let group = group["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .admin_send(
            token,
            Method::PUT,
            &format!("/admin/account-groups/{group}/members"),
            Some(json!({"accountIds": [grouped]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    (group, grouped, shared)
}

#[tokio::test]
async fn usage_is_split_by_model_account_group_and_preset() {
    usage_splits(Backend::Sqlite).await;
}

/// The same on PostgreSQL: the rollups behind the splits are kept by triggers of its own.
#[tokio::test]
async fn usage_is_split_by_model_account_group_and_preset_on_postgres() {
    usage_splits(Backend::Postgres).await;
}

async fn usage_splits(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let token = app.admin_token().await;
    let (group, grouped, shared) = accounts_and_group(&app, &token).await;
    sql(
        &app,
        &format!(
            "INSERT INTO api_keys (id, key_hash, key_prefix, name, preset_id, created_at, updated_at)
             VALUES ('kt', 'ht', 'tg_t', 'trial', 'preset-trial', 1, 1),
                    ('kn', 'hn', 'tg_n', 'plain', NULL, 1, 1);
             INSERT INTO usage_daily (day, key_id, account_id, group_id, model, platform, requests, errors,
                 input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_micros)
             VALUES ('2026-03-01', 'kt', '{grouped}', '{group}', 'claude-a', 'claude', 2, 0, 100, 10, 0, 0, 2000000),
                    ('2026-03-03', 'kn', '{shared}', '', 'claude-b', 'claude', 5, 1, 50, 5, 5, 0, 500000),
                    ('2026-02-28', 'kn', '{shared}', '', 'claude-b', 'claude', 7, 0, 1, 1, 0, 0, 1);"
        ),
    )
    .await;

    let (status, r) = get(
        &app,
        &token,
        "/admin/reports/usage?from=2026-03-01&to=2026-03-03&splitBy=model",
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["days"], json!(["2026-03-01", "2026-03-02", "2026-03-03"]));
    assert_eq!(r["splitBy"], "model");
    assert_eq!(r["series"][0]["key"], "claude-a", "dearest first");
    assert_eq!(r["series"][0]["requests"], json!([2, 0, 0]));
    assert_eq!(r["series"][1]["tokens"], json!([0, 0, 60]));
    assert_eq!(floats(&r["series"][1]["cost"]), vec![0.0, 0.0, 0.5]);
    assert_eq!(
        r["totals"]["requests"], 7,
        "the day before the range is left out"
    );
    assert_eq!(r["totals"]["errors"], 1);
    assert!(close(&r["totals"]["cost"], 2.5));

    let (_, r) = get(
        &app,
        &token,
        "/admin/reports/usage?from=2026-03-01&to=2026-03-03&splitBy=account",
    )
    .await;
    assert_eq!(line(&r["rows"], &grouped)["label"], "grouped");
    assert_eq!(line(&r["rows"], &shared)["requests"], 5);
    let (_, r) = get(
        &app,
        &token,
        "/admin/reports/usage?from=2026-03-01&to=2026-03-03&splitBy=group",
    )
    .await;
    assert_eq!(line(&r["rows"], &group)["label"], "VIP");
    assert_eq!(line(&r["rows"], "")["requests"], 5, "no group");
    let (_, r) = get(
        &app,
        &token,
        "/admin/reports/usage?from=2026-03-01&to=2026-03-03&splitBy=preset",
    )
    .await;
    assert_eq!(line(&r["rows"], "preset-trial")["label"], "Trial card");
    assert_eq!(line(&r["rows"], "")["cacheWriteTokens"], 5);
    assert_eq!(line(&r["rows"], "")["requests"], 5);
    // Usage counts under the key's current preset: moving the key moves its past usage, and
    // a preset nothing counts under any more leaves the split.
    sql(&app, "UPDATE api_keys SET preset_id = NULL WHERE id = 'kt'").await;
    let (r, keys) = preset_split(&app, &token).await;
    assert_eq!(keys, vec![""], "{r}");
    assert_eq!(line(&r["rows"], "")["requests"], 7);
    sql(
        &app,
        "UPDATE api_keys SET preset_id = 'preset-trial' WHERE id = 'kn'",
    )
    .await;
    sql(&app, "DELETE FROM usage_daily WHERE key_id = 'kt'").await;
    let (r, keys) = preset_split(&app, &token).await;
    assert_eq!(keys, vec!["preset-trial"], "{r}");
    assert_eq!(line(&r["rows"], "preset-trial")["requests"], 5);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM usage_daily_presets WHERE preset_id = '' OR requests <= 0")
            .await,
        0,
        "emptied rollup rows are removed"
    );

    let (status, e) = get(
        &app,
        &token,
        "/admin/reports/usage?from=2026-03-05&to=2026-03-01",
    )
    .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("from"))
    );
    let (status, e) = get(&app, &token, "/admin/reports/usage?split=model").await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("split"))
    );
    // Without a range: the last 30 days.
    let (_, r) = get(&app, &token, "/admin/reports/usage").await;
    assert_eq!(r["days"].as_array().unwrap().len(), 30);
    app.stop().await;
}

#[tokio::test]
async fn margin_converts_revenue_and_amortises_monthly_cost() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let (group, grouped, shared) = accounts_and_group(&app, &token).await;
    // $31/month in March is $1 a day from before the range; $62 is $2 a day from March 2nd.
    sql(
        &app,
        &format!(
            "UPDATE accounts SET created_at = {} WHERE id = '{grouped}';
             UPDATE accounts SET created_at = {} WHERE id = '{shared}';
             INSERT INTO api_keys (id, key_hash, key_prefix, name, preset_id, sale_price_micros, currency,
                 claude_account_id, created_at, updated_at, deleted_at)
             VALUES ('ka', 'ha', 'tg_a', 'a', 'preset-trial', 35000000, 'CNY', 'group:{group}', {}, 1, NULL),
                    ('kb', 'hb', 'tg_b', 'b', 'preset-trial', 5000000, 'USD', '', {}, 1, {}),
                    ('kc', 'hc', 'tg_c', 'c', 'preset-monthly', 100000000, 'EUR', '', {}, 1, NULL),
                    ('kd', 'hd', 'tg_d', 'd', 'preset-trial', 99000000, 'CNY', '', {}, 1, NULL);
             INSERT INTO usage_daily (day, key_id, account_id, group_id, model, platform, requests, errors,
                 input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_micros)
             VALUES ('2026-03-01', 'ka', '{grouped}', '{group}', 'm', 'claude', 1, 0, 1, 1, 0, 0, 1000000),
                    ('2026-03-02', 'kb', '{shared}', '', 'm', 'claude', 1, 0, 1, 1, 0, 0, 2000000),
                    ('2026-03-03', 'ka', '{grouped}', '{group}', 'm', 'claude', 1, 0, 1, 1, 0, 0, 500000);",
            at("2026-02-01", 0),
            at("2026-03-02", 6),
            at("2026-03-01", 12),
            at("2026-03-02", 12),
            at("2026-03-02", 13),
            at("2026-03-02", 13),
            at("2026-02-28", 12),
        ),
    )
    .await;
    let (status, s) = app
        .admin_send(
            &token,
            Method::PUT,
            "/admin/settings",
            Some(json!({"currency": "cny", "usdExchangeRate": 7.0})),
        )
        .await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(
        (s["currency"].as_str(), s["timezone"].as_str()),
        (Some("CNY"), Some("UTC"))
    );

    let range = "from=2026-03-01&to=2026-03-03";
    let (status, r) = get(&app, &token, &format!("/admin/reports/margin?{range}")).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        (r["currency"].as_str(), r["costBasis"].as_str()),
        (Some("CNY"), Some("usage"))
    );
    assert_eq!(r["unconvertedKeys"], 1, "the EUR key");
    let total = &r["total"];
    assert_eq!(
        floats(&total["revenue"]),
        vec![35.0, 35.0, 0.0],
        "a deleted key's sale still counts"
    );
    assert_eq!(floats(&total["cost"]), vec![7.0, 14.0, 3.5]);
    assert_eq!(floats(&total["margin"]), vec![28.0, 21.0, -3.5]);
    assert_eq!(total["totals"]["keysSold"], 3);
    assert!(close(&total["totals"]["costUsd"], 3.5));
    assert!(close(&total["totals"]["margin"], 45.5));
    assert!(close(&total["totals"]["marginPct"], 0.65));
    let trial = line(&r["byPreset"], "preset-trial");
    assert_eq!(trial["label"], "Trial card");
    assert!(close(&trial["totals"]["revenue"], 70.0) && close(&trial["totals"]["cost"], 24.5));
    let monthly = line(&r["byPreset"], "preset-monthly");
    assert_eq!(
        (
            monthly["totals"]["keysSold"].as_u64(),
            monthly["totals"]["marginPct"].is_null()
        ),
        (Some(1), true)
    );
    let vip = line(&r["byGroup"], &group);
    assert_eq!(vip["label"], "VIP");
    assert!(close(&vip["totals"]["revenue"], 35.0) && close(&vip["totals"]["cost"], 10.5));
    let pool = line(&r["byGroup"], "");
    assert!(close(&pool["totals"]["revenue"], 35.0) && close(&pool["totals"]["cost"], 14.0));

    let (_, r) = get(
        &app,
        &token,
        &format!("/admin/reports/margin?{range}&costBasis=amortized"),
    )
    .await;
    assert_eq!(floats(&r["total"]["cost"]), vec![7.0, 21.0, 21.0]);
    assert!(close(&r["total"]["totals"]["margin"], 21.0));
    assert_eq!(
        floats(&line(&r["byGroup"], &group)["cost"]),
        vec![7.0, 7.0, 7.0]
    );
    assert_eq!(
        floats(&line(&r["byGroup"], "")["cost"]),
        vec![0.0, 14.0, 14.0]
    );
    assert!(
        close(
            &line(&r["byPreset"], "preset-trial")["totals"]["cost"],
            49.0
        ),
        "all usage was trial usage"
    );

    let (_, r) = get(
        &app,
        &token,
        &format!("/admin/reports/margin?{range}&exchangeRate=8"),
    )
    .await;
    assert!(close(&r["exchangeRate"], 8.0));
    assert_eq!(floats(&r["total"]["revenue"]), vec![35.0, 40.0, 0.0]);
    assert!(close(&r["total"]["totals"]["cost"], 28.0));
    let (status, e) = get(
        &app,
        &token,
        &format!("/admin/reports/margin?{range}&exchangeRate=-1"),
    )
    .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("exchangeRate"))
    );
    app.stop().await;
}

#[tokio::test]
async fn settings_are_validated_and_usd_has_rate_one() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let (_, s) = get(&app, &token, "/admin/settings").await;
    assert_eq!(
        (s["currency"].as_str(), s["usdExchangeRate"].as_f64()),
        (Some("USD"), Some(1.0))
    );
    for (body, field) in [
        (
            json!({"currency": "yuan", "usdExchangeRate": 7.0}),
            "currency",
        ),
        (
            json!({"currency": "CNY", "usdExchangeRate": 0}),
            "usdExchangeRate",
        ),
        (json!({"currency": "CNY"}), "body"),
    ] {
        let (status, e) = app
            .admin_send(&token, Method::PUT, "/admin/settings", Some(body))
            .await;
        assert_eq!(
            (status, e["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{e}"
        );
    }
    let (_, s) = app
        .admin_send(
            &token,
            Method::PUT,
            "/admin/settings",
            Some(json!({"currency": "USD", "usdExchangeRate": 7.0})),
        )
        .await;
    assert_eq!(s["usdExchangeRate"], 1.0);
    app.stop().await;
}

#[tokio::test]
async fn price_overrides_reach_the_relay_and_fallback_models_are_listed() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    sql(
        &app,
        "INSERT INTO usage_events (request_id, key_id, platform, model, status, priced_by_fallback, created_at)
         VALUES ('r1', 'k', 'claude', 'house-model', 200, TRUE, 5)",
    )
    .await;
    let (_, list) = get(&app, &token, "/admin/pricing").await;
    assert!(list["models"].as_array().unwrap().len() > 10);
    assert_eq!(list["fallbackModels"][0]["model"], "house-model");
    assert_eq!(list["fallbackModels"][0]["pricedNow"], false);
    assert_eq!(list["fallbackModels"][0]["rule"], "fallback");
    assert_eq!(list["fallbackModels"][0]["price"]["output"], 75.0);
    assert_eq!(list["fallbackPrice"]["output"], 75.0);

    let price =
        json!({"input": 1.5, "output": 6, "cacheWrite5m": 2, "cacheWrite1h": 3, "cacheRead": 0.15});
    let (status, _) = app
        .admin_send(
            &token,
            Method::PUT,
            "/admin/pricing/house-model",
            Some(price),
        )
        .await;
    assert_eq!(status, 204);
    let found = app.relay().pricing().lookup("house-model");
    assert_eq!(
        (found.price.input, found.price.output),
        (1_500_000, 6_000_000)
    );
    let (_, list) = get(&app, &token, "/admin/pricing").await;
    assert_eq!(list["fallbackModels"][0]["pricedNow"], true);
    let row = list["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "house-model")
        .unwrap();
    assert_eq!(
        (
            row["overridden"].as_bool(),
            row["price"]["cacheRead"].as_f64()
        ),
        (Some(true), Some(0.15))
    );

    let bad =
        json!({"input": -1, "output": 0, "cacheWrite5m": 0, "cacheWrite1h": 0, "cacheRead": 0});
    let (status, e) = app
        .admin_send(&token, Method::PUT, "/admin/pricing/x", Some(bad))
        .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("input"))
    );
    let (status, _) = app
        .admin_send(&token, Method::DELETE, "/admin/pricing/house-model", None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        app.relay().pricing().lookup("house-model").source,
        tollgate::pricing::PriceSource::Fallback
    );
    let (status, _) = app
        .admin_send(&token, Method::DELETE, "/admin/pricing/house-model", None)
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn overview_reports_capacity_attention_today_and_presets() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let (group, _, _) = accounts_and_group(&app, &token).await;
    app.create_account(
        &token,
        json!({"name": "off", "platform": "openai", "apiKey": "sk-o", "baseUrl": "http://127.0.0.1:9", "isActive": false}),
    )
    .await;
    app.create_key(&token, json!({"name": "fresh", "presetId": "preset-trial"}))
        .await;
    let (status, o) = get(&app, &token, "/admin/reports/overview").await;
    assert_eq!(status, 200, "{o}");
    assert_eq!(o["windowMinutes"], 5);
    let claude = by(&o["platforms"], "id", "claude");
    // 4 (maxConcurrency) + 10 (the default capacity of an account without one).
    assert_eq!(
        (claude["accounts"].as_u64(), claude["capacity"].as_u64()),
        (Some(2), Some(14))
    );
    let openai = by(&o["platforms"], "id", "openai");
    assert_eq!(
        (openai["accounts"].as_u64(), openai["capacity"].as_u64()),
        (Some(0), Some(0))
    );
    let vip = by(&o["groups"], "id", &group);
    assert_eq!(
        (vip["name"].as_str(), vip["capacity"].as_u64()),
        (Some("VIP"), Some(4))
    );
    assert_eq!(o["attention"].as_array().unwrap().len(), 1);
    assert_eq!(
        (
            o["attention"][0]["name"].as_str(),
            o["attention"][0]["status"].as_str()
        ),
        (Some("off"), Some("disabled"))
    );
    assert_eq!(o["today"]["newKeys"], 1);
    let trial = &o["presets"][0];
    assert_eq!(
        (trial["presetId"].as_str(), trial["name"].as_str()),
        (Some("preset-trial"), Some("Trial card"))
    );
    assert!(close(&trial["averageQuota"], 20.0) && close(&trial["shareUsed"], 0.0));
    app.stop().await;
}

impl TestApp {
    async fn holder(&self, path: &str, header: Option<(&str, String)>) -> (StatusCode, Value) {
        let mut req = self.client.get(self.url(path));
        if let Some((name, value)) = header {
            req = req.header(name, value);
        }
        let res = req.send().await.unwrap();
        (res.status(), res.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn a_key_holder_sees_their_own_usage_by_the_key() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let (id, key) = app
        .create_key(&token, json!({"name": "order 1001", "quotaLimit": 20, "concurrencyLimit": 2, "activationDays": 7}))
        .await;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    sql(
        &app,
        &format!(
            "UPDATE api_keys SET spent_micros = 1500000 WHERE id = '{id}';
             INSERT INTO usage_daily (day, key_id, account_id, group_id, model, platform, requests, errors,
                 input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, cost_micros)
             VALUES ('{today}', '{id}', '', '', 'claude-x', 'claude', 3, 0, 30, 9, 1, 0, 1500000);"
        ),
    )
    .await;

    let (status, u) = app
        .holder("/v1/usage", Some(("x-api-key", key.clone())))
        .await;
    assert_eq!(status, 200, "{u}");
    assert_eq!(
        (u["name"].as_str(), u["status"].as_str()),
        (Some("order 1001"), Some("active"))
    );
    assert!(
        close(&u["quotaLimit"], 20.0) && close(&u["spent"], 1.5) && close(&u["remaining"], 18.5)
    );
    assert_eq!(
        (u["activationDays"].as_u64(), u["expiresAt"].is_null()),
        (Some(7), true)
    );
    assert_eq!(u["concurrencyLimit"], 2);
    let days = u["usage"]["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(
        (days[29]["day"].as_str(), days[29]["requests"].as_u64()),
        (Some(today.as_str()), Some(3))
    );
    assert_eq!(days[29]["tokens"], 40);
    assert_eq!(u["usage"]["models"][0]["model"], "claude-x");
    assert!(
        !u.to_string().contains(&key),
        "the answer never repeats the key"
    );

    let (status, same) = app
        .holder(
            "/api/v1/usage",
            Some(("authorization", format!("Bearer {key}"))),
        )
        .await;
    assert_eq!((status, &same["name"]), (StatusCode::OK, &u["name"]));
    let (_, admin_view) = get(&app, &token, &format!("/admin/reports/key-usage/{id}")).await;
    assert_eq!(admin_view, u["usage"]);

    for header in [None, Some(("x-api-key", "tg_wrong".to_string()))] {
        let (status, e) = app.holder("/v1/usage", header).await;
        assert_eq!(status, 401);
        assert_eq!(
            (e["type"].as_str(), e["error"]["type"].as_str()),
            (Some("error"), Some("authentication_error"))
        );
    }
    // The dashboard's public page asks through its server function, with no session at all.
    let res = app
        .client
        .post(app.url("/admin/fn/key_holder_usage"))
        .form(&[("presented_key", key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let fn_view: Value = res.json().await.unwrap();
    assert_eq!(fn_view["name"], "order 1001");
    let res = app
        .client
        .post(app.url("/admin/fn/key_holder_usage"))
        .form(&[("presented_key", "tg_nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    let (status, _) = app
        .admin_send(
            &token,
            Method::DELETE,
            &format!("/admin/api-keys/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = app.holder("/v1/usage", Some(("x-api-key", key))).await;
    assert_eq!(status, 401, "deleted keys are refused");
    let (status, _) = get(&app, &token, &format!("/admin/reports/key-usage/{id}")).await;
    assert_eq!(status, 404);
    app.stop().await;
}
