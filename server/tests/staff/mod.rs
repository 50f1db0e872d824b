//! Staff helpers shared by the role tests: users of each role with tokens, and a preset.
#![allow(dead_code)]

use serde_json::{json, Value};

use crate::common::TestApp;

pub const STAFF_PASSWORD: &str = "staff-password-12345";

pub struct Staff {
    pub id: String,
    pub username: String,
    pub token: String,
}

/// Creates a staff user with `role` (and `presets` for a seller) and signs them in over REST.
pub async fn staff(
    app: &TestApp,
    admin: &str,
    username: &str,
    role: &str,
    presets: &[&str],
) -> Staff {
    let (status, body) = app
        .admin_post(
            admin,
            "/admin/users",
            json!({
                "username": username,
                "password": STAFF_PASSWORD,
                "role": role,
                "allowedPresetIds": presets,
            }),
        )
        .await;
    assert_eq!(status, 201, "create {username}: {body}");
    assert!(
        body.get("password").is_none(),
        "a given password is never echoed"
    );
    let res = app.login(username, STAFF_PASSWORD).await;
    assert_eq!(res.status(), 200, "{username} signs in");
    let token: Value = res.json().await.unwrap();
    Staff {
        id: body["id"].as_str().unwrap().to_owned(),
        username: username.to_owned(),
        token: token["token"].as_str().unwrap().to_owned(),
    }
}

/// A preset named `name` selling at `price` USD; returns its id.
pub async fn preset(app: &TestApp, admin: &str, name: &str, price: f64) -> String {
    let (status, body) = app
        .admin_post(
            admin,
            "/admin/key-presets",
            json!({
                "name": name,
                "validityDays": 30,
                "settings": { "quotaLimit": 5.0, "salePrice": price, "currency": "USD" }
            }),
        )
        .await;
    assert_eq!(status, 201, "preset {name}: {body}");
    body["id"].as_str().unwrap().to_owned()
}
