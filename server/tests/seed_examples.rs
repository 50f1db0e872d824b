//! Every configuration example of the use-case document (账户使用场景说明), copied verbatim
//! (JavaScript object literals, comments and all), read as JSON the way an operator pasting it
//! into a script would (keys quoted, comments and trailing commas dropped) and sent through the
//! REST API. Only what the document itself marks as a placeholder is filled in: account and
//! group ids (`account-uuid-xxx`, `group-uuid-xxx`, `experience-users`) and the dates written
//! as words (`一周后日期`, `一周后`: "the date a week from now").
//!
//! The document's literal dates are accepted as written (`"2026-01-18"`: the end of that day in
//! the configured time zone) and shown back as written. A literal date that is already past
//! when the test runs is refused for what it is (a new key must not start expired), not for
//! its form; the same example moved on by whole years is then created and shown back as its
//! new date.

mod common;

use chrono::{Datelike, NaiveDate, Utc};
use common::{spawn_app_with, Backend, TestApp};
use serde_json::{json, Value};

const SHARED: &str = r#"{
  name: "体验卡_001",
  quotaLimit: 20.0,          // 限制20美元用量
  expiresAt: "2026-01-18",   // 一周后过期
  concurrencyLimit: 3,       // 最大3个并发请求
  // 不设置 claudeAccountId, geminiAccountId 等字段
}"#;

const DEDICATED: &str = r#"{
  name: "企业客户_001",
  quotaLimit: 0,                          // 0表示不限额度
  claudeAccountId: "account-uuid-xxx",    // 绑定专属Claude账户
  concurrencyLimit: 10,                   // 较高的并发限制
  expiresAt: "2027-01-11",                // 长期有效
}"#;

const GROUP: &str = r#"{
  name: "体验用户组",
  platform: "claude",
  description: "闲鱼体验卡用户专用分组"
}"#;

const GROUPED: &str = r#"{
  name: "体验卡_001",
  quotaLimit: 20.0,
  claudeAccountId: "group:group-uuid-xxx",  // 绑定分组（注意group:前缀）
  concurrencyLimit: 3,
  expiresAt: "2026-01-18",
}"#;

const PLAN_ONE: &str = r#"{
  name: "20刀体验_[订单号]",
  quotaLimit: 20.0,              // 严格限制20美元
  expiresAt: "一周后日期",
  concurrencyLimit: 3,           // 最多3个并发（防止单用户占用）
  concurrentRequestQueueEnabled: true,     // 启用并发排队
  concurrentRequestQueueMaxSize: 5,        // 排队最多5个
  concurrentRequestQueueTimeoutMs: 10000,  // 10秒超时
  rateLimitWindow: 60,           // 可选：每分钟限流
  rateLimitRequests: 30,         // 可选：每分钟最多30请求
}"#;

const PLAN_TWO: &str = r#"{
  name: "20刀体验_[订单号]",
  claudeAccountId: "group:experience-users",  // 绑定体验用户组
  quotaLimit: 20.0,
  expiresAt: "一周后",
  concurrencyLimit: 3,
}"#;

/// A JavaScript object literal of the document as JSON: `//` comments dropped (outside
/// strings), bare keys quoted, trailing commas dropped.
fn js_to_json(js: &str) -> Value {
    let mut out = String::new();
    for line in js.lines() {
        let mut in_string = false;
        let mut cut = line.len();
        let bytes = line.as_bytes();
        for i in 0..bytes.len() {
            match bytes[i] {
                b'"' => in_string = !in_string,
                b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => {
                    cut = i;
                    break;
                }
                _ => {}
            }
        }
        let code = line[..cut].trim();
        if code.is_empty() {
            continue;
        }
        match code.split_once(':') {
            Some((key, value))
                if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                out.push_str(&format!("\"{key}\":{value}"));
            }
            _ => out.push_str(code),
        }
    }
    let out = out.replace(",}", "}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{out}: {e}"))
}

/// Fills the document's placeholders.
fn fill(mut v: Value, ids: &[(&str, &str)], week: &str) -> Value {
    for field in ["claudeAccountId", "expiresAt"] {
        if let Some(text) = v[field].as_str() {
            let mut text = text.to_owned();
            for (placeholder, id) in ids {
                text = text.replace(placeholder, id);
            }
            if text == "一周后日期" || text == "一周后" {
                text = week.to_owned();
            }
            v[field] = json!(text);
        }
    }
    v
}

/// The date moved on by whole years until it lies in the future.
fn future(date: &str, today: NaiveDate) -> String {
    let mut d = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
    while d <= today {
        d = d.with_year(d.year() + 1).unwrap();
    }
    d.format("%Y-%m-%d").to_string()
}

async fn create_as_written(app: &TestApp, token: &str, body: Value, today: NaiveDate) -> Value {
    let (status, created) = app.admin_post(token, "/admin/api-keys", body.clone()).await;
    let written = body["expiresAt"].as_str().unwrap().to_owned();
    if status == 201 {
        assert_eq!(
            created["expiresAt"],
            json!(written),
            "shown back as written"
        );
        return created;
    }
    // Only a date already past may be refused, and for being past.
    assert_eq!(status, 400, "{body} → {created}");
    assert_eq!(created["error"]["field"], "expiresAt", "{created}");
    assert!(
        created["error"]["message"]
            .as_str()
            .unwrap()
            .contains("future"),
        "{created}"
    );
    let moved = future(&written, today);
    let mut body = body;
    body["expiresAt"] = json!(moved);
    let (status, created) = app.admin_post(token, "/admin/api-keys", body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["expiresAt"], json!(moved));
    created
}

async fn run(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.common.timezone = chrono_tz::Asia::Shanghai;
    })
    .await;
    let token = app.admin_token().await;
    let today = Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let week = (today + chrono::Duration::days(7))
        .format("%Y-%m-%d")
        .to_string();

    // 1. Shared pool.
    let shared = create_as_written(&app, &token, js_to_json(SHARED), today).await;
    assert_eq!(
        (
            shared["quotaLimit"].as_f64(),
            shared["concurrencyLimit"].as_u64()
        ),
        (Some(20.0), Some(3))
    );
    assert_eq!(shared["claudeAccountId"], "");

    // 2. Dedicated account ("account-uuid-xxx" is the account the operator created, as a
    //    dedicated one).
    let account = app
        .create_account(
            &token,
            json!({"name": "Claude A", "apiKey": "sk-seed", "baseUrl": "http://127.0.0.1:9", "accountType": "dedicated"}),
        )
        .await;
    let dedicated = create_as_written(
        &app,
        &token,
        fill(
            js_to_json(DEDICATED),
            &[("account-uuid-xxx", &account)],
            &week,
        ),
        today,
    )
    .await;
    assert_eq!(dedicated["claudeAccountId"], json!(account));
    assert_eq!(dedicated["quotaLimit"], 0.0);
    // The end of 2027-01-11 in Shanghai, where the operator wrote it.
    let (_, stored) = (
        (),
        app.fetch_one::<(i64,)>(&format!(
            "SELECT expires_at FROM api_keys WHERE id = '{}'",
            dedicated["id"].as_str().unwrap()
        ))
        .await,
    );
    assert_eq!(
        chrono::DateTime::from_timestamp_millis(stored.0)
            .unwrap()
            .to_rfc3339(),
        "2027-01-11T15:59:59.999+00:00"
    );

    // 3. Group, then a key bound to it.
    let (status, group) = app
        .admin_post(&token, "/admin/account-groups", js_to_json(GROUP))
        .await;
    assert_eq!(status, 201, "{group}");
    let group_id = group["id"].as_str().unwrap().to_owned();
    let grouped = create_as_written(
        &app,
        &token,
        fill(js_to_json(GROUPED), &[("group-uuid-xxx", &group_id)], &week),
        today,
    )
    .await;
    assert_eq!(
        grouped["claudeAccountId"],
        json!(format!("group:{group_id}"))
    );

    // 4. Plan one: queueing and a rate window; a week from today written as a date.
    let one = create_as_written(&app, &token, fill(js_to_json(PLAN_ONE), &[], &week), today).await;
    assert_eq!(one["name"], "20刀体验_[订单号]");
    assert_eq!(one["expiresAt"], json!(week));
    assert_eq!(one["concurrentRequestQueueEnabled"], true);
    assert_eq!(one["concurrentRequestQueueMaxSize"], 5);
    assert_eq!(one["concurrentRequestQueueTimeoutMs"], 10000);
    assert_eq!(
        (
            one["rateLimitWindow"].as_u64(),
            one["rateLimitRequests"].as_u64()
        ),
        (Some(60), Some(30))
    );

    // 5. Plan two: bound to the "experience users" group.
    let (status, exp) = app
        .admin_post(
            &token,
            "/admin/account-groups",
            json!({"name": "experience-users", "platform": "claude"}),
        )
        .await;
    assert_eq!(status, 201, "{exp}");
    let exp_id = exp["id"].as_str().unwrap().to_owned();
    let two = create_as_written(
        &app,
        &token,
        fill(
            js_to_json(PLAN_TWO),
            &[("experience-users", &exp_id)],
            &week,
        ),
        today,
    )
    .await;
    assert_eq!(two["claudeAccountId"], json!(format!("group:{exp_id}")));

    // The plans as a batch with order numbers (the shop's automatic delivery), and a date in an
    // edit: both take the date as written.
    let mut batch = fill(js_to_json(PLAN_ONE), &[], &week);
    let object = batch.as_object_mut().unwrap();
    object.remove("name");
    object.insert("nameTemplate".into(), json!("20刀体验_[订单号]"));
    object.insert("names".into(), json!(["A1001", "A1002"]));
    let (status, made) = app.admin_post(&token, "/admin/api-keys/batch", batch).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made[1]["name"], "20刀体验_A1002");
    assert_eq!(made[1]["expiresAt"], json!(week));
    let (status, edited) = app
        .admin_send(
            &token,
            reqwest::Method::PATCH,
            &format!("/admin/api-keys/{}", made[0]["id"].as_str().unwrap()),
            Some(json!({"expiresAt": "2099-01-18"})),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["expiresAt"], "2099-01-18");
    // A time is still a time, and nonsense names its field.
    let (status, timed) = app
        .admin_post(
            &token,
            "/admin/api-keys",
            json!({"name": "t", "expiresAt": "2099-01-18T12:00:00Z"}),
        )
        .await;
    assert_eq!(status, 201, "{timed}");
    assert_eq!(timed["expiresAt"], "2099-01-18T12:00:00Z");
    let (status, bad) = app
        .admin_post(
            &token,
            "/admin/api-keys",
            json!({"name": "t", "expiresAt": "next week"}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), bad["error"]["field"].as_str()),
        (400, Some("expiresAt"))
    );
    app.stop().await;
}

#[tokio::test]
async fn seed_examples_on_sqlite() {
    run(Backend::Sqlite).await;
}

#[tokio::test]
async fn seed_examples_on_postgres() {
    run(Backend::Postgres).await;
}
