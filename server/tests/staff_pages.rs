//! Pages by role: a seller opening an admin page lands on their keys page, and a browser's
//! plain form post after its session ended goes to the login page.

mod common;
mod staff;

use common::spawn_app;
use reqwest::StatusCode;
use staff::staff;

/// Pages: a seller opening an admin page lands on their keys page; the admin opens it.
#[tokio::test]
async fn pages_follow_the_role() {
    let app = spawn_app().await;
    let admin_token = app.admin_token().await;
    let seller = staff(&app, &admin_token, "page-seller", "seller", &[]).await;
    let mut seller_pages = 0;
    for path in [
        "/",
        "/accounts",
        "/groups",
        "/usage-report",
        "/users",
        "/audit",
        "/settings",
    ] {
        let res = app
            .client
            .get(app.url(path))
            .bearer_auth(&seller.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "seller {path}");
        assert_eq!(res.headers()["location"], "/keys", "seller {path}");
        seller_pages += 1;
    }
    for path in ["/keys", "/account"] {
        let res = app
            .client
            .get(app.url(path))
            .bearer_auth(&seller.token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "seller {path}");
    }
    for path in ["/accounts", "/users", "/audit"] {
        let res = app
            .client
            .get(app.url(path))
            .bearer_auth(&admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "admin {path}");
    }
    println!("pages: {seller_pages} admin pages send a seller to /keys");
    app.stop().await;
}

/// A browser without JavaScript posting a dashboard form after its session ended lands on the
/// login page (303), not on a JSON error.
#[tokio::test]
async fn a_plain_form_post_without_a_session_goes_to_the_login_page() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/admin/fn/change_password"))
        .header("accept", "text/html,application/xhtml+xml")
        .header("referer", app.url("/account"))
        .form(&[("current", "x"), ("new_password", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/login");
    // A script's call keeps its JSON 401.
    let res = app
        .client
        .post(app.url("/admin/fn/change_password"))
        .form(&[("current", "x"), ("new_password", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}
