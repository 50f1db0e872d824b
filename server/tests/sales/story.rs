//! The storage story of renewals and codes on SQLite and PostgreSQL: every ledger kind, codes
//! with their filters, a date to redeem by shown back as written, expiry, and the creator of a
//! key bought with a code.

use serde_json::json;

use crate::common::{spawn_app_with, Backend};
use crate::support::{create_codes, get, sql};

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

    // An expiry written as a date moves by the days added and stays a date.
    let (dated, _) = app
        .create_key(&token, json!({"name": "dated", "expiresAt": "2099-01-10"}))
        .await;
    let (status, v) = app
        .admin_post(
            &token,
            &format!("/admin/api-keys/{dated}/renew"),
            json!({"daysAdd": 30}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["key"]["expiresAt"], "2099-02-09", "{backend:?}: {v}");
    let (_, key) = get(&app, &token, &format!("/admin/api-keys/{dated}")).await;
    assert_eq!(key["expiresAt"], "2099-02-09");

    let created = create_codes(
        &app,
        &token,
        json!({"presetId": "preset-monthly", "count": 2, "quotaUsd": 3.0, "days": 2, "redeemBy": "2099-12-31"}),
    )
    .await;
    assert_eq!(created["codes"][0]["quota"], 3.0);
    // A date to redeem by is shown back as written, on creation and in the list.
    assert_eq!(created["codes"][0]["redeemBy"], "2099-12-31", "{backend:?}");
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
    assert_eq!(page["items"][0]["redeemBy"], "2099-12-31");
    let instant = create_codes(
        &app,
        &token,
        json!({"presetId": "preset-monthly", "count": 1, "redeemBy": "2099-12-31T08:00:00Z"}),
    )
    .await;
    assert_eq!(instant["codes"][0]["redeemBy"], "2099-12-31T08:00:00Z");
    // An expired code is listed as expired and refused.
    let first = created["codes"][0]["id"].as_str().unwrap();
    sql(
        &app,
        &format!(
            "UPDATE redemption_codes SET redeem_by = 1, redeem_by_on = '1970-01-01' WHERE id = '{first}'"
        ),
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
    let refused = res.text().await.unwrap();
    assert!(
        refused.contains("until 1970-01-01;"),
        "as written: {refused}"
    );
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
    // The key bought with the code is created by the code's creator.
    let bought = redeemed["items"][0]["redeemedKeyId"].as_str().unwrap();
    let (status, key) = get(&app, &token, &format!("/admin/api-keys/{bought}")).await;
    assert_eq!(status, 200, "{key}");
    assert_eq!(key["createdBy"]["name"], "admin", "{backend:?}: {key}");
    let (_, me) = get(&app, &token, "/admin/auth/me").await;
    assert_eq!(key["createdBy"]["id"], me["id"], "{me}");
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
