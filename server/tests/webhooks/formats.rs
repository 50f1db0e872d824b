//! Every target kind's native body and signature, delivered through the dispatcher.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::json;
use tollgate::webhooks::EventKind;

use crate::harness::*;

#[tokio::test]
async fn dashboard_targets_get_their_native_formats_even_with_webhooks_disabled() {
    let rx = Receiver::start(Script::ok()).await;
    let o = opts();
    assert!(!o.webhook_enabled);
    let run = Running::start(&o).await;
    let s = &run.db.store;
    add_target(
        s,
        "generic",
        &rx.url("/generic"),
        Some("gen-secret"),
        &[],
        true,
    )
    .await;
    add_target(s, "wecom", &rx.url("/wecom?key=k1"), None, &[], true).await;
    add_target(
        s,
        "dingtalk",
        &rx.url("/dingtalk?access_token=t1"),
        Some("SECding"),
        &["account.error"],
        true,
    )
    .await;
    add_target(
        s,
        "feishu",
        &rx.url("/feishu"),
        Some("fei-secret"),
        &[],
        true,
    )
    .await;
    add_target(s, "slack", &rx.url("/slack"), None, &[], true).await;
    add_target(s, "discord", &rx.url("/discord"), None, &[], true).await;
    add_target(
        s,
        "telegram",
        &rx.url("/bot123:abc/sendMessage"),
        Some("-1001234567"),
        &[],
        true,
    )
    .await;
    // Filtered out by its subscription, and switched off.
    add_target(
        s,
        "slack",
        &rx.url("/filtered"),
        None,
        &["key.expired"],
        true,
    )
    .await;
    add_target(s, "slack", &rx.url("/disabled"), None, &[], false).await;

    run.hooks.emit(
        EventKind::AccountError,
        json!({ "name": "gpt_pool", "status": 401, "message": "invalid key" }),
    );
    let reqs = rx.wait_for(7).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let reqs_after = rx.requests();
    assert_eq!(
        reqs_after.len(),
        7,
        "filtered and disabled targets get nothing"
    );
    let by_path = |p: &str| {
        reqs.iter()
            .find(|r| r.uri.path() == p)
            .unwrap_or_else(|| panic!("no request to {p}"))
            .clone()
    };

    let generic = by_path("/generic");
    assert_eq!(generic.json()["event"], "account.error");
    assert_eq!(
        generic.header("x-tollgate-signature"),
        format!(
            "sha256={}",
            hex::encode(hmac_sha256(b"gen-secret", &generic.body))
        )
    );

    let wecom = by_path("/wecom").json();
    assert_eq!(wecom["msgtype"], "markdown");
    let content = wecom["markdown"]["content"].as_str().unwrap();
    assert!(
        content.starts_with("[Tollgate] 账户异常 account.error: gpt_pool"),
        "{content}"
    );
    assert_eq!(wecom.as_object().unwrap().len(), 2);

    let ding = by_path("/dingtalk");
    let q: Vec<(String, String)> =
        url::form_urlencoded::parse(ding.uri.query().unwrap().as_bytes())
            .into_owned()
            .collect();
    assert_eq!(q[0], ("access_token".into(), "t1".into()));
    let (ts, sign) = (&q[1], &q[2]);
    assert_eq!((ts.0.as_str(), sign.0.as_str()), ("timestamp", "sign"));
    let ts_ms: i64 = ts.1.parse().unwrap();
    assert!((tollgate::storage::now_ms() - ts_ms).abs() < 60_000);
    let expected = B64.encode(hmac_sha256(
        b"SECding",
        format!("{}\nSECding", ts.1).as_bytes(),
    ));
    assert_eq!(sign.1, expected, "DingTalk signature");
    let ding = ding.json();
    assert_eq!(ding["msgtype"], "markdown");
    assert!(ding["markdown"]["title"]
        .as_str()
        .unwrap()
        .contains("账户异常"));
    assert!(ding["markdown"]["text"]
        .as_str()
        .unwrap()
        .contains("gpt_pool"));

    let feishu = by_path("/feishu").json();
    let ts = feishu["timestamp"].as_str().unwrap();
    let expected = B64.encode(hmac_sha256(format!("{ts}\nfei-secret").as_bytes(), b""));
    assert_eq!(feishu["sign"], expected, "Feishu signature");
    assert_eq!(feishu["msg_type"], "text");
    assert!(feishu["content"]["text"]
        .as_str()
        .unwrap()
        .contains("gpt_pool"));

    let slack = by_path("/slack").json();
    assert_eq!(slack.as_object().unwrap().len(), 1);
    assert!(slack["text"].as_str().unwrap().contains("account.error"));

    let discord = by_path("/discord").json();
    assert!(discord["content"].as_str().unwrap().contains("gpt_pool"));
    assert_eq!(discord["allowed_mentions"]["parse"], json!([]));

    let tg = by_path("/bot123:abc/sendMessage").json();
    assert_eq!(tg["chat_id"], -1001234567i64);
    assert_eq!(tg["parse_mode"], "Markdown");
    let text = tg["text"].as_str().unwrap();
    assert!(
        text.contains("gpt\\_pool") && text.contains("account.error"),
        "{text}"
    );

    let log = wait_for_log(&run.db.store, 7).await;
    assert!(log.iter().all(|r| r.ok && r.target_id.is_some()));
    run.shutdown().await;
}

#[tokio::test]
async fn markdown_targets_receive_names_and_error_text_as_plain_text() {
    let rx = Receiver::start(Script::ok()).await;
    let run = Running::start(&opts()).await;
    let s = &run.db.store;
    add_target(s, "wecom", &rx.url("/wecom?key=k1"), None, &[], true).await;
    add_target(
        s,
        "dingtalk",
        &rx.url("/dingtalk?access_token=t1"),
        None,
        &[],
        true,
    )
    .await;
    run.hooks.emit(
        EventKind::AccountError,
        json!({
            "name": "pool [login here](http://phish.example) <@everyone>",
            "message": "upstream said: <font color=\"warning\">**pay**</font> `now` ![x](http://t.example/p.png)",
            "status": 403,
        }),
    );
    let reqs = rx.wait_for(2).await;
    for r in reqs {
        let body = r.json();
        let text = body["markdown"]["content"]
            .as_str()
            .or(body["markdown"]["text"].as_str())
            .unwrap()
            .to_owned();
        let data = text.split_once(": ").unwrap().1;
        for markup in ["[", "](", "<@", "<font", "**", "`", "!["] {
            assert!(!data.contains(markup), "{markup} reached {}: {data}", r.uri);
        }
        assert!(data.contains("login here"), "{data}");
    }
}
