//! The admin front door under attack, over real HTTP: parallel login bursts, argon2 bounded,
//! lock-outs per (address, username) that never lock the admin out elsewhere, unknown bearer
//! tokens refused before the database, sessions that live as long as they are used, paths that
//! could dodge the allow-list, and the dashboard's security headers.

mod common;

use std::time::Duration;

use common::{
    spawn_app, spawn_app_clocked, spawn_app_with, Backend, TestApp, TestDb, ADMIN_PASSWORD,
};
use reqwest::StatusCode;
use serde_json::Value;
use tollgate::auth::throttle::{backoff, BACKOFF_CAP, MAX_FAILURES};
use tollgate::clock::ManualClock;

/// A login from `address` (the app trusts `X-Forwarded-For` in these tests).
async fn login_from(
    app: &TestApp,
    address: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/admin/auth/login"))
        .header("x-forwarded-for", address)
        .json(&serde_json::json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
}

fn behind_proxy(settings: &mut tollgate::config::Settings) {
    settings.serve.trust_proxy_headers = true;
}

#[tokio::test]
async fn a_parallel_burst_of_wrong_logins_reaches_argon2_only_as_often_as_allowed() {
    let app = spawn_app().await;
    let requests = (0..50).map(|_| app.login("admin", "wrong-password"));
    let answers = futures::future::join_all(requests).await;
    let mut unauthorized = 0;
    let mut throttled = 0;
    for res in answers {
        match res.status() {
            StatusCode::UNAUTHORIZED => unauthorized += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(res.headers().contains_key("retry-after"));
                throttled += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        unauthorized, MAX_FAILURES,
        "exactly the allowed attempts were checked"
    );
    assert_eq!(throttled, 50 - MAX_FAILURES);
    assert_eq!(app.admin.auth().passwords.started(), MAX_FAILURES as u64);
    app.stop().await;
}

#[tokio::test]
async fn argon2_never_runs_more_than_two_at_once() {
    let app = spawn_app_with(Backend::Sqlite, behind_proxy).await;
    // Distinct addresses and usernames: no throttle applies, only the hash slots.
    let requests = (0..24).map(|i| {
        let address = format!("198.51.100.{i}");
        let username = format!("user{i}");
        let app = &app;
        async move {
            login_from(app, &address, &username, "whatever-password")
                .await
                .status()
        }
    });
    let statuses = futures::future::join_all(requests).await;
    for s in &statuses {
        assert!(
            *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS,
            "{s}"
        );
    }
    let checks = &app.admin.auth().passwords;
    assert!(checks.started() >= 2, "{}", checks.started());
    assert!(
        checks.peak_concurrency() <= 2,
        "peak {}",
        checks.peak_concurrency()
    );
    app.stop().await;
}

#[tokio::test]
async fn an_attackers_failures_never_lock_the_admin_out_from_elsewhere() {
    let clock = ManualClock::new();
    let app = spawn_app_clocked(
        TestDb::new(Backend::Sqlite).await,
        clock.clone(),
        behind_proxy,
    )
    .await;
    // The attacker's address is locked after 5 failures, even for the right password...
    for _ in 0..MAX_FAILURES {
        let res = login_from(&app, "198.51.100.7", "admin", "guess").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = login_from(&app, "198.51.100.7", "admin", ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // ...and a client that puts a forged address first in X-Forwarded-For is still the attacker.
    let res = login_from(&app, "203.0.113.10, 198.51.100.7", "admin", "guess").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);

    // A botnet keeps failing from many addresses: the username is slowed down, not locked.
    for i in 0..40 {
        let res = login_from(&app, &format!("192.0.2.{i}"), "admin", "guess").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let before = clock.slept_ms();
    let res = login_from(&app, "203.0.113.10", "admin", ADMIN_PASSWORD).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "the admin gets in from a clean address"
    );
    assert_eq!(
        clock.slept_ms() - before,
        BACKOFF_CAP.as_millis() as i64,
        "after the capped delay"
    );
    // The success clears the backoff.
    let before = clock.slept_ms();
    let res = login_from(&app, "203.0.113.11", "admin", ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(clock.slept_ms(), before);
    // The attacker's lock ends with its window.
    clock.advance(Duration::from_secs(61));
    let res = login_from(&app, "198.51.100.7", "admin", "guess").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(backoff(1), Duration::ZERO);
    app.stop().await;
}

#[tokio::test]
async fn huge_usernames_are_refused_before_the_throttle_or_a_hash() {
    let app = spawn_app().await;
    let username = "a".repeat(1 << 20);
    for _ in 0..10 {
        let res = app.login(&username, "x").await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["field"], "username");
    }
    assert_eq!(app.admin.auth().passwords.started(), 0);
    assert_eq!(
        app.login("admin", ADMIN_PASSWORD).await.status(),
        StatusCode::OK
    );
    app.stop().await;
}

/// `GET /admin/overview` with `token`, from `address`.
async fn overview_with(app: &TestApp, token: &str, address: &str) -> reqwest::Response {
    app.client
        .get(app.url("/admin/overview"))
        .header("authorization", format!("Bearer {token}"))
        .header("x-forwarded-for", address)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn unknown_bearer_tokens_are_refused_before_the_database_and_limited_per_address() {
    let app = spawn_app_with(Backend::Sqlite, behind_proxy).await;
    let token = app.admin_token().await;
    let unknown = format!("tga_{}", "A".repeat(43));
    assert_eq!(
        overview_with(&app, &unknown, "198.51.100.1").await.status(),
        401
    );
    assert_eq!(app.admin.auth().unknown_tokens.len(), 1);

    // With the database gone, what is refused without it still answers 401, and only a
    // well-formed token never seen before would need the lookup.
    app.db.store.close().await;
    assert_eq!(
        overview_with(&app, "not-a-token", "198.51.100.2")
            .await
            .status(),
        401
    );
    assert_eq!(
        overview_with(&app, &format!("{token}x"), "198.51.100.2")
            .await
            .status(),
        401
    );
    assert_eq!(
        overview_with(&app, &unknown, "198.51.100.2").await.status(),
        401
    );
    let fresh = format!("tga_{}", "B".repeat(43));
    assert_eq!(
        overview_with(&app, &fresh, "198.51.100.3").await.status(),
        500
    );
    app.stop().await;

    // One address gets a burst of failures, then waits; others are not affected.
    let app = spawn_app_with(Backend::Sqlite, behind_proxy).await;
    let token = app.admin_token().await;
    for i in 0..20 {
        assert_eq!(
            overview_with(&app, &format!("junk{i}"), "198.51.100.9")
                .await
                .status(),
            401
        );
    }
    let res = overview_with(&app, "junk", "198.51.100.9").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "throttled");
    assert_eq!(
        overview_with(&app, &token, "198.51.100.10").await.status(),
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn logout_reads_the_bearer_scheme_case_insensitively() {
    let app = spawn_app().await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let token = app.admin_token().await;
        let res = app
            .client
            .post(app.url("/admin/auth/logout"))
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "{scheme}");
        let res = app
            .client
            .get(app.url("/admin/auth/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "{scheme}: token revoked"
        );
    }
    app.stop().await;
}

/// The stored expiry of the one session in the database.
async fn session_expiry(app: &TestApp) -> i64 {
    app.fetch_one::<(i64,)>("SELECT expires_at FROM sessions")
        .await
        .0
}

#[tokio::test]
async fn a_session_in_use_outlives_its_ttl_counted_from_login_and_an_idle_one_ends() {
    let clock = ManualClock::new();
    let app = spawn_app_clocked(TestDb::new(Backend::Sqlite).await, clock.clone(), |s| {
        s.serve.session_ttl_hours = 1;
    })
    .await;
    let (browser, _) = app.browser_login().await;

    // Used every 5 minutes for 2.5 hours, with a TTL of 1 hour.
    let mut expiries = std::collections::BTreeSet::new();
    let mut fresh_cookies = 0;
    for _ in 0..30 {
        clock.advance(Duration::from_secs(300));
        let res = browser
            .post(app.url("/admin/fn/load_overview"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        if res
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("tollgate_session="))
        {
            fresh_cookies += 1;
        }
        expiries.insert(session_expiry(&app).await);
    }
    // Renewed once per eighth of the TTL (7.5 min), i.e. every other request here: not a write
    // per request.
    assert!(
        (10..=16).contains(&expiries.len()),
        "{} renewals",
        expiries.len()
    );
    assert_eq!(
        fresh_cookies,
        expiries.len(),
        "each renewal sends a fresh cookie"
    );

    // Idle for longer than the TTL: the session is gone.
    clock.advance(Duration::from_secs(3601));
    let res = browser
        .post(app.url("/admin/fn/load_overview"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn paths_that_could_dodge_the_allow_list_are_refused() {
    let app = spawn_app().await;
    for path in [
        "/pkg/../keys",
        "/pkg/../admin/overview",
        "/pkg/%2e%2e/keys",
        "/pkg/.%2E/admin/overview",
        "/pkg/..%2fadmin/overview",
        "/pkg/%252e%252e/settings",
        "/health/../admin/overview",
        "/usage/..%5c..%5cadmin/overview",
        "/pkg/./tollgate.js",
    ] {
        assert_eq!(app.raw_request("GET", path).await, 400, "{path}");
    }
    // What they point at still needs a login; the public assets stay public.
    assert_eq!(app.raw_request("GET", "/keys").await, 303);
    assert_eq!(app.raw_request("GET", "/admin/overview").await, 401);
    assert_eq!(app.raw_request("GET", "/health").await, 200);
    app.stop().await;
}

/// The nonce of `csp`, after checking that every inline script of `html` carries it.
fn assert_every_script_has_the_nonce(csp: &str, html: &str) -> String {
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce for the hydration script")
        .to_owned();
    let scripts: Vec<&str> = html.split("<script").skip(1).collect();
    assert!(!scripts.is_empty());
    for s in scripts {
        let tag = s.split('>').next().unwrap();
        assert!(
            tag.contains(&format!("nonce=\"{nonce}\"")),
            "script without the nonce: {tag}"
        );
    }
    nonce
}

#[tokio::test]
async fn dashboard_pages_carry_security_headers_and_relay_answers_do_not() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap().to_owned();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
    assert!(!csp.contains("'unsafe-eval'"), "{csp}");
    let html = res.text().await.unwrap();
    let nonce = assert_every_script_has_the_nonce(&csp, &html);
    // A second page gets another nonce.
    let again = app.client.get(app.url("/login")).send().await.unwrap();
    assert!(!again.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains(&nonce));

    // A page that does not exist is rendered the same way, nonce and all.
    let (browser, _) = app.browser_login().await;
    let res = browser.get(app.url("/no-such-page")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = res.text().await.unwrap();
    assert_every_script_has_the_nonce(&csp, &html);

    // The admin API is JSON: the basics, no page policy needed.
    let res = app
        .client
        .get(app.url("/admin/overview"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");

    // Relay routes answer API clients in their own protocol, without HTML headers.
    let res = app.client.get(app.url("/v1/models")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(!res.headers().contains_key("content-security-policy"));
    assert!(!res.headers().contains_key("x-frame-options"));
    app.stop().await;
}
