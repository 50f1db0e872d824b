//! The "require TOTP" policy and TOTP replay protection, over real HTTP on SQLite and
//! PostgreSQL: admins set the policy (audited); a user it applies to without a second factor
//! signs in, but their session and tokens reach only the set-up until they enrol; a code works
//! once, also against two instances sharing the database.

mod common;
mod staff;

use std::sync::Arc;
use std::time::Duration;

use common::{spawn_app_clocked, Backend, TestApp, TestDb};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use staff::{staff, STAFF_PASSWORD};
use tollgate::clock::{Clock, ManualClock};

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

fn totp_of(secret: &str) -> totp_rs::TOTP {
    totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        totp_rs::Secret::Encoded(secret.to_owned())
            .to_bytes()
            .unwrap(),
        None,
        "user".into(),
    )
    .unwrap()
}

fn code(totp: &totp_rs::TOTP, clock: &ManualClock) -> String {
    totp.generate((clock.now_ms() / 1000) as u64)
}

async fn login(app: &TestApp, username: &str, totp: Option<String>) -> (StatusCode, Value) {
    let res = app
        .client
        .post(app.url("/admin/auth/login"))
        .json(&json!({ "username": username, "password": STAFF_PASSWORD, "totp": totp }))
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Sets up and confirms a second factor for the holder of `token`; returns its generator.
async fn enrol(app: &TestApp, token: &str, clock: &ManualClock) -> totp_rs::TOTP {
    let (s, setup) = app
        .admin_post(token, "/admin/auth/totp/setup", json!({}))
        .await;
    assert_eq!(s, 200, "{setup}");
    let totp = totp_of(setup["secret"].as_str().unwrap());
    let (s, v) = app
        .admin_post(
            token,
            "/admin/auth/totp/confirm",
            json!({ "code": code(&totp, clock) }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    totp
}

fn error_code(v: &Value) -> Option<&str> {
    v["error"]["code"].as_str()
}

both!(the_policy_sends_staff_to_enrol_first);
async fn the_policy_sends_staff_to_enrol_first(backend: Backend) {
    let clock = ManualClock::new();
    let app = spawn_app_clocked(TestDb::new(backend).await, clock.clone(), |_| {}).await;
    let admin = app.admin_token().await;
    let seller = staff(&app, &admin, "sally", "seller", &[]).await;
    let viewer = staff(&app, &admin, "vic", "viewer", &[]).await;
    let ann = staff(&app, &admin, "ann", "admin", &[]).await;

    // Off by default; only admins read or change it.
    let (s, v) = app
        .admin_send(&admin, Method::GET, "/admin/settings/security", None)
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({ "totpRequired": "off" })));
    for token in [&seller.token, &viewer.token] {
        let (s, _) = app
            .admin_send(
                token,
                Method::PUT,
                "/admin/settings/security",
                Some(json!({ "totpRequired": "off" })),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    let (s, v) = app
        .admin_send(
            &admin,
            Method::PUT,
            "/admin/settings/security",
            Some(json!({ "totpRequired": "sometimes" })),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = app
        .admin_send(
            &admin,
            Method::PUT,
            "/admin/settings/security",
            Some(json!({ "totpRequired": "all" })),
        )
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({ "totpRequired": "all" })));
    let (summary,): (String,) = app
        .fetch_one("SELECT summary FROM audit_events WHERE target_id = 'security'")
        .await;
    assert_eq!(summary, r#"{"totpRequired":["off","all"]}"#);
    // "All staff" includes the admin who set it: nothing else until they enrol.
    let (s, v) = app
        .admin_send(&admin, Method::GET, "/admin/users", None)
        .await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::FORBIDDEN, Some("totp_setup_required"))
    );
    enrol(&app, &admin, &clock).await;

    // The seller's existing token and a fresh sign-in reach only the set-up.
    let (s, v) = login(&app, "sally", None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["totpSetupRequired"], true);
    let fresh = v["token"].as_str().unwrap().to_owned();
    for token in [&seller.token, &fresh] {
        let (s, v) = app
            .admin_send(token, Method::GET, "/admin/api-keys", None)
            .await;
        assert_eq!(
            (s, error_code(&v)),
            (StatusCode::FORBIDDEN, Some("totp_setup_required"))
        );
    }
    let (s, v) = app
        .admin_post(&seller.token, "/admin/fn/list_keys", json!({}))
        .await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::FORBIDDEN, Some("totp_setup_required")),
        "server functions too"
    );
    let page = app
        .client
        .get(app.url("/keys"))
        .bearer_auth(&seller.token)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        page.headers()["location"],
        "/account",
        "pages send to the set-up"
    );
    let (s, me) = app
        .admin_send(&seller.token, Method::GET, "/admin/auth/me", None)
        .await;
    assert_eq!(
        (s, &me["totpSetupRequired"]),
        (StatusCode::OK, &json!(true))
    );

    // Enrolled: everything the role allows works again, and the factor cannot be turned off.
    let totp = enrol(&app, &seller.token, &clock).await;
    let (s, _) = app
        .admin_send(&seller.token, Method::GET, "/admin/api-keys", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app
        .admin_post(
            &seller.token,
            "/admin/auth/totp/disable",
            json!({ "password": STAFF_PASSWORD }),
        )
        .await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    clock.advance(Duration::from_secs(30));
    let (s, v) = login(&app, "sally", Some(code(&totp, &clock))).await;
    assert_eq!(
        (s, &v["totpSetupRequired"]),
        (StatusCode::OK, &json!(false))
    );

    // "Admins only": the viewer is free again, an admin without a factor is sent to enrol.
    let (s, _) = app
        .admin_send(
            &admin,
            Method::PUT,
            "/admin/settings/security",
            Some(json!({ "totpRequired": "admins" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .admin_send(&viewer.token, Method::GET, "/admin/api-keys", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app
        .admin_send(&ann.token, Method::GET, "/admin/users", None)
        .await;
    assert_eq!(
        (s, error_code(&v)),
        (StatusCode::FORBIDDEN, Some("totp_setup_required"))
    );
    let (s, _) = app
        .admin_send(&admin, Method::GET, "/admin/users", None)
        .await;
    assert_eq!(s, StatusCode::OK, "the enrolled admin");
    app.stop().await;
}

both!(a_code_works_once_across_instances);
async fn a_code_works_once_across_instances(backend: Backend) {
    let clock = ManualClock::new();
    let app = spawn_app_clocked(TestDb::new(backend).await, clock.clone(), |_| {}).await;
    let admin = app.admin_token().await;
    let seller = staff(&app, &admin, "rita", "seller", &[]).await;
    let totp = enrol(&app, &seller.token, &clock).await;

    // The confirming code is used up; an older step's code stays refused after a newer one.
    let (s, _) = login(&app, "rita", Some(code(&totp, &clock))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let previous = code(&totp, &clock);
    clock.advance(Duration::from_secs(30));
    let current = code(&totp, &clock);
    assert_eq!(login(&app, "rita", Some(current.clone())).await.0, 200);
    assert_eq!(
        login(&app, "rita", Some(current)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, "rita", Some(previous)).await.0,
        StatusCode::UNAUTHORIZED
    );

    // A second instance on the same database, same clock: of two sign-ins with one code at the
    // same moment, one on each instance, exactly one passes.
    let second = spawn_app_clocked(
        TestDb::attach(app.db.url()).await,
        clock.clone() as Arc<dyn Clock>,
        |_| {},
    )
    .await;
    for _ in 0..3 {
        // A minute apart, so the refused attempts never add up to a login lock-out.
        clock.advance(Duration::from_secs(61));
        let c = code(&totp, &clock);
        let (a, b) = tokio::join!(
            login(&app, "rita", Some(c.clone())),
            login(&second, "rita", Some(c))
        );
        let passed = [a.0, b.0].iter().filter(|s| **s == StatusCode::OK).count();
        assert_eq!(passed, 1, "{a:?} {b:?}");
    }
    second.stop().await;
    app.stop().await;
}
