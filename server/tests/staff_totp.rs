//! The TOTP second factor over real HTTP: set up (QR code, secret stored encrypted), confirmed by
//! a code, then asked for at sign-in; recovery codes work once; an admin can turn it off.

mod common;
mod staff;

use common::{spawn_app_clocked, Backend, TestDb};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use staff::{staff, STAFF_PASSWORD};
use tollgate::clock::{Clock, ManualClock};

#[tokio::test]
async fn totp_second_factor_with_recovery_codes() {
    let clock = ManualClock::new();
    let app = spawn_app_clocked(TestDb::new(Backend::Sqlite).await, clock.clone(), |_| {}).await;
    let now = || (clock.now_ms() / 1000) as u64;
    let admin = app.admin_token().await;
    let seller = staff(&app, &admin, "frank", "seller", &[]).await;
    let (s, setup) = app
        .admin_post(&seller.token, "/admin/auth/totp/setup", json!({}))
        .await;
    assert_eq!(s, 200, "{setup}");
    assert!(setup["qrSvg"].as_str().unwrap().contains("<svg"));
    assert!(setup["otpauthUrl"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/Tollgate:frank"));
    let secret = setup["secret"].as_str().unwrap().to_owned();
    let totp = totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        totp_rs::Secret::Encoded(secret.clone()).to_bytes().unwrap(),
        None,
        "frank".into(),
    )
    .unwrap();
    // Not on until confirmed; a wrong code is refused.
    assert_eq!(app.login("frank", STAFF_PASSWORD).await.status(), 200);
    let (s, _) = app
        .admin_post(
            &seller.token,
            "/admin/auth/totp/confirm",
            json!({ "code": "000000" }),
        )
        .await;
    assert_eq!(s, 400);
    let (s, enabled) = app
        .admin_post(
            &seller.token,
            "/admin/auth/totp/confirm",
            json!({ "code": totp.generate(now()) }),
        )
        .await;
    assert_eq!(s, 200, "{enabled}");
    let codes: Vec<String> = serde_json::from_value(enabled["recoveryCodes"].clone()).unwrap();
    assert_eq!(codes.len(), 10);
    // The secret is stored encrypted, never in plain text.
    let (stored,): (String,) = app
        .fetch_one("SELECT totp_secret_enc FROM admins WHERE username = 'frank'")
        .await;
    assert!(stored.starts_with("v2:") && !stored.contains(&secret));

    // Password alone: the code is asked for (401 totp_required); a wrong code: bad credentials.
    let login = |totp: Option<String>| {
        let app = &app;
        async move {
            let res = app
                .client
                .post(app.url("/admin/auth/login"))
                .json(&json!({ "username": "frank", "password": STAFF_PASSWORD, "totp": totp }))
                .send()
                .await
                .unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, v) = login(None).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("totp_required"))
    );
    let (s, v) = login(Some("123456".into())).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_credentials"))
    );
    // The code that confirmed the set-up is used up; the next one signs in, once.
    let (s, _) = login(Some(totp.generate(now()))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    clock.advance(std::time::Duration::from_secs(30));
    let (s, _) = login(Some(totp.generate(now()))).await;
    assert_eq!(s, 200);
    // A recovery code works once, in any case and with blanks.
    let code = codes[0].to_uppercase().replace('-', " - ");
    assert_eq!(login(Some(code.clone())).await.0, 200);
    assert_eq!(login(Some(code)).await.0, StatusCode::UNAUTHORIZED);
    // The admin can turn a lost second factor off.
    let (s, v) = app
        .admin_send(
            &admin,
            Method::PATCH,
            &format!("/admin/users/{}", seller.id),
            Some(json!({ "resetTotp": true })),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["totpEnabled"], false);
    assert_eq!(login(None).await.0, 200);
    app.stop().await;
}
