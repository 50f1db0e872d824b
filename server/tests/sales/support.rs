//! What the sales tests share: an app with an upstream account, raw SQL, a relayed request,
//! admin reads and code creation.

use mock_upstream::{Behavior, MockUpstream};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{messages_body, TestApp};

pub async fn with_account(app: &TestApp) -> (MockUpstream, String) {
    let mock = MockUpstream::start(Behavior::default()).await;
    let token = app.admin_token().await;
    app.create_account(
        &token,
        json!({"name": "a", "apiKey": "sk-upstream-sales", "baseUrl": mock.url()}),
    )
    .await;
    (mock, token)
}

pub async fn sql(app: &TestApp, q: &str) {
    match &app.db.store {
        tollgate::storage::Store::Sqlite(p) => {
            sqlx::query(q).execute(p).await.unwrap();
        }
        tollgate::storage::Store::Postgres(p) => {
            sqlx::query(q).execute(p).await.unwrap();
        }
    }
}

pub async fn ask(app: &TestApp, key: &str) -> (u16, Value) {
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

pub async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let (s, v) = app.admin_send(token, Method::GET, path, None).await;
    (s.as_u16(), v)
}

pub async fn create_codes(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, v) = app.admin_post(token, "/admin/redemption-codes", body).await;
    assert_eq!(status, 201, "{v}");
    v
}
