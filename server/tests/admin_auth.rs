//! Admin access over real HTTP: login, tokens, throttling, sessions, and a sweep proving every
//! admin route and server function refuses unauthenticated callers.

mod common;

use common::{spawn_app, ADMIN_PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::Value;

#[tokio::test]
async fn health_is_public_and_minimal() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "status": "ok" }));
    app.stop().await;
}

#[tokio::test]
async fn every_admin_route_and_server_fn_refuses_anonymous_calls() {
    let app = spawn_app().await;
    assert!(app.admin_routes.len() >= 5, "route table is populated");
    let public = tollgate::auth::PUBLIC_EXACT;
    for (method, path) in &app.admin_routes {
        if public.contains(path) {
            continue;
        }
        // Path parameters get a plausible value; auth runs before any lookup.
        let concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000");
        let res = app
            .client
            .request(method.clone(), app.url(&concrete))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized", "{method} {path}");
        // Spelled through a public prefix with a dot segment, raw or encoded, it is refused
        // before the allow-list is read.
        for dodge in [
            "/pkg/..",
            "/pkg/%2e%2e",
            "/pkg/.%2E",
            "/health/..",
            "/pkg/%252e%252e",
        ] {
            let sneaky = format!("{dodge}{concrete}");
            let status = app.raw_request(method.as_str(), &sneaky).await;
            assert_eq!(status, 400, "{method} {sneaky}");
        }
    }
    let mut swept_fns = 0;
    for (path, method) in server_fn::axum::server_fn_paths() {
        assert!(
            path.starts_with("/admin/fn/"),
            "server fn outside /admin/fn: {path}"
        );
        if public.contains(&path) {
            continue;
        }
        let m = Method::from_bytes(method.as_str().as_bytes()).unwrap();
        let res = app
            .client
            .request(m, app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "server fn {path}");
        swept_fns += 1;
    }
    assert!(swept_fns >= 3, "server functions were swept");
    // Unknown admin paths are refused before routing too.
    let res = app.client.get(app.url("/admin/nope")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Dashboard pages send anonymous browsers to the login page.
    let res = app.client.get(app.url("/settings")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/login");
    app.stop().await;
}

/// Every GET route reads its query string strictly: an unknown parameter, or a malformed value,
/// is a 400 in the admin API's shape naming the parameter, never an extractor's own text.
#[tokio::test]
async fn every_get_route_refuses_unknown_and_malformed_query_parameters() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let get = |path: String| app.client.get(app.url(&path)).bearer_auth(&token).send();
    let mut swept = 0;
    for (method, path) in &app.admin_routes {
        if method != Method::GET {
            continue;
        }
        let concrete = path
            .replace("{id}", "00000000-0000-0000-0000-000000000000")
            .replace("{model}", "m");
        let res = get(format!("{concrete}?colour=red")).await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "GET {path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "validation", "GET {path}: {body}");
        assert_eq!(body["error"]["field"], "colour", "GET {path}: {body}");
        swept += 1;
    }
    assert!(swept >= 15, "GET routes were swept: {swept}");
    for (path, field) in [
        ("/admin/api-keys?page=x", "page"),
        ("/admin/api-keys?status=gone", "status"),
        ("/admin/accounts/a/events?limit=-1", "limit"),
        ("/admin/webhooks/deliveries?limit=abc", "limit"),
        ("/admin/webhooks/deliveries?before=yesterday", "before"),
        ("/admin/reports/usage?splitBy=colour", "splitBy"),
        ("/admin/reports/margin?exchangeRate=lots", "exchangeRate"),
    ] {
        let res = get(path.to_owned()).await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "validation", "{path}: {body}");
        assert_eq!(body["error"]["field"], field, "{path}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("must be"), "{path}: {message}");
    }
    // Well-formed queries still work.
    let res = get("/admin/api-keys?page=1&pageSize=10&status=active".into())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn token_login_me_logout() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    assert!(token.starts_with("tga_"));
    let me: Value = app
        .client
        .get(app.url("/admin/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "admin");
    let res = app
        .client
        .get(app.url("/admin/overview"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let counts: Value = res.json().await.unwrap();
    assert_eq!(counts["keys"], 0);

    let res = app
        .client
        .post(app.url("/admin/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .client
        .get(app.url("/admin/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}

#[tokio::test]
async fn bad_input_gets_named_errors() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/admin/auth/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "validation");
    assert_eq!(body["error"]["field"], "body");

    let res = app
        .client
        .post(app.url("/admin/auth/login"))
        .json(&serde_json::json!({ "username": 5, "password": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["field"], "username");

    let res = app.login("admin", "wrong-password").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_credentials");
    app.stop().await;
}

#[tokio::test]
async fn five_failures_lock_out_with_retry_after() {
    let app = spawn_app().await;
    for _ in 0..5 {
        assert_eq!(
            app.login("admin", "nope").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Even the right password is refused while locked out.
    let res = app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "throttled");
    app.stop().await;
}

#[tokio::test]
async fn password_change_ends_tokens_and_needs_the_current_password() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let res = app
        .client
        .post(app.url("/admin/auth/password"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "currentPassword": "wrong", "newPassword": "a-brand-new-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app
        .client
        .post(app.url("/admin/auth/password"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "currentPassword": ADMIN_PASSWORD, "newPassword": "short" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["field"], "newPassword");
    let res = app
        .client
        .post(app.url("/admin/auth/password"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "currentPassword": ADMIN_PASSWORD, "newPassword": "a-brand-new-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .client
        .get(app.url("/admin/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "old token ended");
    assert_eq!(
        app.login("admin", ADMIN_PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login("admin", "a-brand-new-password").await.status(),
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test]
async fn dashboard_session_via_server_fn_and_logout_kills_cookie() {
    let app = spawn_app().await;
    let (browser, res) = app.browser_login().await;
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("tollgate_session="))
        .expect("session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    let raw = cookie.split(';').next().unwrap().to_owned();

    let res = browser
        .post(app.url("/admin/fn/load_overview"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page = browser.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("data-testid=\"count-keys\""));

    // A cross-site write with the cookie is refused.
    let res = app
        .client
        .post(app.url("/admin/fn/load_overview"))
        .header("cookie", &raw)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let res = browser
        .post(app.url("/admin/fn/logout"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success() || res.status().is_redirection());
    let res = app
        .client
        .post(app.url("/admin/fn/load_overview"))
        .header("cookie", &raw)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "old cookie refused after logout"
    );
    app.stop().await;
}

#[tokio::test]
async fn language_switch_sets_cookie_and_returns() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/lang?set=zh-CN"))
        .header("referer", format!("{}/settings", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/settings");
    assert!(res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .starts_with("tg_lang=zh-CN"));
    // Never an open redirect.
    let res = app
        .client
        .get(app.url("/lang?set=en"))
        .header("referer", "https://evil.example//x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/");
    let login = app
        .client
        .get(app.url("/login"))
        .header("cookie", "tg_lang=zh-CN")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(login.contains("lang=\"zh-CN\"") && login.contains("登录"));
    let login = app
        .client
        .get(app.url("/login"))
        .header("accept-language", "zh-CN,zh;q=0.9")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(login.contains("lang=\"zh-CN\""));
    app.stop().await;
}
