//! The admin REST API for webhooks, on the whole app.

use serde_json::{json, Value};

use crate::common::{spawn_app_with, Backend};
use crate::harness::*;

#[tokio::test]
async fn rest_manages_targets_tests_them_and_lists_deliveries_without_leaking_secrets() {
    let ok_rx = Receiver::start(Script::ok()).await;
    let bad_rx = Receiver::start(Script::failing(usize::MAX, 500)).await;
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.serve.webhooks.webhook_timeout_ms = 2_000;
    })
    .await;
    let token = app.admin_token().await;
    let call = |method: reqwest::Method, path: &str| {
        app.client
            .request(method, app.url(path))
            .bearer_auth(&token)
    };
    let secret = "whsec-very-private-value";
    let url_token = "tok-PRIVATE-1234567890";
    let ok_url = ok_rx.url(&format!("/hook/{url_token}"));

    // Validation names the field.
    for (body, field) in [
        (
            json!({"name": "x", "kind": "generic", "url": "ftp://example.com/x"}),
            "url",
        ),
        (json!({"name": "x", "kind": "pager", "url": ok_url}), "kind"),
        (
            json!({"name": "x", "kind": "generic", "url": ok_url, "events": ["account.nope"]}),
            "events",
        ),
        (
            json!({"name": "x", "kind": "telegram", "url": ok_url}),
            "chatId",
        ),
        (
            json!({"name": " ", "kind": "generic", "url": ok_url}),
            "name",
        ),
        (
            json!({"name": "x", "kind": "slack", "url": ok_url, "secret": "s"}),
            "secret",
        ),
    ] {
        let res = call(reqwest::Method::POST, "/admin/webhooks")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["code"], "validation");
        assert_eq!(err["error"]["field"], field, "{body}");
    }

    let res = call(reqwest::Method::POST, "/admin/webhooks")
        .json(&json!({
            "name": "ops", "kind": "generic", "url": ok_url, "secret": secret,
            "events": ["account.error", "test", "account.error"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let text = res.text().await.unwrap();
    assert!(
        !text.contains(secret) && !text.contains(url_token),
        "{text}"
    );
    let created: Value = serde_json::from_str(&text).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["hasSecret"], true);
    assert_eq!(created["enabled"], true);
    assert_eq!(created["events"], json!(["account.error", "test"]));
    assert_eq!(created["urlHint"], format!("http://{}/…7890", ok_rx.addr));

    let res = call(reqwest::Method::POST, "/admin/webhooks")
        .json(&json!({
            "name": "tg", "kind": "telegram", "url": bad_rx.url("/bot9:zz/sendMessage"),
            "chatId": "@private_chat",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let tg: Value = res.json().await.unwrap();
    assert_eq!(tg["hasSecret"], false);
    let tg_id = tg["id"].as_str().unwrap().to_owned();

    let text = call(reqwest::Method::GET, "/admin/webhooks")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for leak in [secret, url_token, "private_chat", "bot9:zz"] {
        assert!(!text.contains(leak), "{leak} in {text}");
    }
    let list: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(list.len(), 2);

    // A test send reaches the receiver, signed, and reports the outcome.
    let res = call(reqwest::Method::POST, &format!("/admin/webhooks/{id}/test"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let result: Value = res.json().await.unwrap();
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["httpStatus"], 200);
    assert!(result["latencyMs"].is_u64());
    let got = ok_rx.wait_for(1).await.remove(0);
    assert_eq!(got.json()["event"], "test");
    assert_eq!(
        got.header("x-tollgate-signature"),
        format!(
            "sha256={}",
            hex::encode(hmac_sha256(secret.as_bytes(), &got.body))
        )
    );

    let res = call(
        reqwest::Method::POST,
        &format!("/admin/webhooks/{tg_id}/test"),
    )
    .send()
    .await
    .unwrap();
    let result: Value = res.json().await.unwrap();
    assert_eq!(
        (result["ok"].clone(), result["httpStatus"].clone()),
        (json!(false), json!(500))
    );
    let error = result["error"].as_str().unwrap();
    assert!(
        !error.contains("bot9") && !error.contains(&bad_rx.addr.to_string()),
        "{error}"
    );
    let sent = bad_rx.wait_for(1).await.remove(0).json();
    assert_eq!(sent["chat_id"], "@private_chat");

    // Patch: rename, switch off, drop the secret.
    let res = call(reqwest::Method::PATCH, &format!("/admin/webhooks/{id}"))
        .json(&json!({ "name": "ops-2", "enabled": false, "secret": "" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let patched: Value = res.json().await.unwrap();
    assert_eq!(
        (
            patched["name"].clone(),
            patched["enabled"].clone(),
            patched["hasSecret"].clone()
        ),
        (json!("ops-2"), json!(false), json!(false))
    );
    assert_eq!(patched["urlHint"], created["urlHint"], "URL kept");
    let res = call(reqwest::Method::PATCH, &format!("/admin/webhooks/{id}"))
        .json(&json!({ "url": "javascript:alert(1)" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // Switching a telegram target to Slack forgets its chat id rather than reusing it.
    let res = call(reqwest::Method::PATCH, &format!("/admin/webhooks/{tg_id}"))
        .json(&json!({ "kind": "slack" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = call(reqwest::Method::PATCH, &format!("/admin/webhooks/{tg_id}"))
        .json(&json!({ "kind": "telegram" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "the chat id is needed again");

    // The delivery log: newest first, keyset paging, bounded page size.
    let page: Vec<Value> = call(reqwest::Method::GET, "/admin/webhooks/deliveries?limit=10")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0]["targetId"], tg_id);
    assert_eq!(page[0]["httpStatus"], 500);
    assert_eq!(page[1]["event"], "test");
    assert_eq!(page[1]["ok"], true);
    let text = serde_json::to_string(&page).unwrap();
    assert!(
        !text.contains(url_token) && !text.contains("bot9"),
        "{text}"
    );
    let older: Vec<Value> = call(
        reqwest::Method::GET,
        &format!(
            "/admin/webhooks/deliveries?limit=10&before={}",
            page[0]["id"]
        ),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(older, page[1..]);
    for query in ["limit=0", "limit=501", "limit=abc"] {
        let res = call(
            reqwest::Method::GET,
            &format!("/admin/webhooks/deliveries?{query}"),
        )
        .send()
        .await
        .unwrap();
        assert_eq!(res.status(), 400, "{query}");
    }

    // Delete, then everything about it is 404.
    let res = call(reqwest::Method::DELETE, &format!("/admin/webhooks/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    for (method, path) in [
        (reqwest::Method::DELETE, format!("/admin/webhooks/{id}")),
        (reqwest::Method::POST, format!("/admin/webhooks/{id}/test")),
    ] {
        let res = call(method, &path).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    let res = call(reqwest::Method::PATCH, &format!("/admin/webhooks/{id}"))
        .json(&json!({ "enabled": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    app.stop().await;
}
