//! The role sweep: every registered REST route and every server function, called as anonymous,
//! seller, viewer and admin, answers what the role table says: 401 without credentials, 403
//! for a role the admin service refuses, and neither for a role it lets through (the call may
//! still be a 400/404/409 about the input, which proves it got past the role check). Bodies
//! are well-formed, so a refusal cannot hide behind a parse error. Prints the counts.

mod common;
mod staff;

use common::spawn_app;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use staff::{preset, staff};

const NIL: &str = "00000000-0000-0000-0000-000000000000";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Seller,
    Viewer,
    Admin,
}

/// Who gets past the admin service's role check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    /// Every signed-in user (their own account, the currency and time zone).
    Any,
    /// Admins and sellers (sellers: their own keys, their allowed presets).
    Keys,
    /// Admins and viewers (read-only views of the business).
    Reader,
    Admin,
}

impl Gate {
    fn lets(self, role: Role) -> bool {
        match self {
            Gate::Any => true,
            Gate::Keys => role != Role::Viewer,
            Gate::Reader => role != Role::Seller,
            Gate::Admin => role == Role::Admin,
        }
    }
}

fn rest_gate(method: &Method, path: &str) -> Gate {
    let get = *method == Method::GET;
    match path {
        p if p.starts_with("/admin/auth/") => Gate::Any,
        "/admin/settings/security" => Gate::Admin,
        // Sellers get their own sales; admins and viewers anyone's.
        "/admin/reports/sales" => Gate::Any,
        "/admin/settings" if get => Gate::Any,
        // Everyone reads keys (sellers only their own); viewers change none.
        "/admin/api-keys" | "/admin/api-keys/{id}" if get => Gate::Any,
        "/admin/api-keys" | "/admin/api-keys/batch" | "/admin/api-keys/{id}" => Gate::Keys,
        "/admin/key-presets" if get => Gate::Any,
        // Ledgers and the code list: everyone reads (sellers only their own keys and codes);
        // renewals, code creation and revocation: admins and sellers.
        "/admin/api-keys/{id}/ledger" | "/admin/redemption-codes" if get => Gate::Any,
        "/admin/api-keys/renew"
        | "/admin/api-keys/{id}/renew"
        | "/admin/redemption-codes"
        | "/admin/redemption-codes/{id}" => Gate::Keys,
        "/admin/reports/key-usage/{id}" => Gate::Any,
        p if p.starts_with("/admin/users")
            || p.starts_with("/admin/audit-events")
            || p.starts_with("/admin/webhooks")
            || p.starts_with("/admin/import") =>
        {
            Gate::Admin
        }
        _ if get => Gate::Reader,
        _ => Gate::Admin,
    }
}

fn fn_gate(name: &str) -> Gate {
    match name {
        "current_admin" | "change_password" | "logout" | "begin_totp" | "confirm_totp"
        | "disable_totp" | "operator_settings" | "list_presets" | "key_usage" | "list_keys"
        | "get_key" => Gate::Any,
        "key_ledger" | "list_codes" | "sales_summary" => Gate::Any,
        "create_key" | "batch_create_keys" | "update_key" | "delete_key" | "renew_key"
        | "renew_keys" | "create_codes" | "revoke_code" => Gate::Keys,
        "list_accounts" | "account_events" | "list_groups" | "load_overview" | "overview_live"
        | "usage_report" | "margin_report" | "pricing_list" => Gate::Reader,
        _ => Gate::Admin,
    }
}

/// A well-formed REST body (and query) for the route, as `preset` may be sold by the seller.
fn rest_request(method: &Method, path: &str, preset: &str, n: usize) -> (String, Value) {
    let concrete = path.replace("{id}", NIL).replace("{model}", "sweep-model");
    let body = match (method.as_str(), path) {
        ("POST", "/admin/api-keys") => json!({ "name": format!("sweep-{n}"), "presetId": preset }),
        ("POST", "/admin/api-keys/batch") => {
            json!({ "names": [format!("sweep-b{n}")], "presetId": preset })
        }
        ("POST", "/admin/users") => json!({ "username": format!("sweep-{n}"), "role": "viewer" }),
        ("POST", "/admin/accounts") => json!({ "name": "x", "apiKey": "sk-sweep-0000000000" }),
        ("PATCH", "/admin/accounts/{id}") => json!({ "name": "x" }),
        ("POST", "/admin/account-groups") => json!({ "name": format!("sweep-{n}") }),
        ("PATCH", "/admin/account-groups/{id}") => json!({ "name": "x" }),
        ("PUT", "/admin/account-groups/{id}/members") => json!({ "accountIds": [] }),
        ("POST", "/admin/key-presets") => json!({ "name": format!("sweep-{n}") }),
        ("PATCH", "/admin/key-presets/{id}") => json!({ "name": "x" }),
        ("PUT", "/admin/settings") => json!({ "currency": "USD", "usdExchangeRate": 1.0 }),
        // Off: requiring TOTP would send the sweep's own admin to enrol.
        ("PUT", "/admin/settings/security") => json!({ "totpRequired": "off" }),
        ("PUT", "/admin/pricing/{model}") => json!({
            "input": 1.0, "output": 1.0, "cacheWrite5m": 1.0, "cacheWrite1h": 1.0, "cacheRead": 0.1
        }),
        ("POST", "/admin/webhooks") => json!({
            "name": format!("sweep-{n}"), "kind": "generic", "url": "http://127.0.0.1:9/hook"
        }),
        ("PATCH", "/admin/webhooks/{id}") => json!({ "name": "x" }),
        ("POST", "/admin/import/crs") => {
            json!({ "redisUrl": "redis://127.0.0.1:9", "dryRun": true })
        }
        ("PATCH", "/admin/users/{id}") => json!({ "displayName": "x" }),
        ("POST", "/admin/auth/password") => {
            json!({ "currentPassword": "wrong-password-xx", "newPassword": "another-password-123" })
        }
        ("POST", "/admin/auth/totp/confirm") => json!({ "code": "000000" }),
        ("POST", "/admin/auth/totp/disable") => json!({ "password": "wrong-password-xx" }),
        ("PATCH", "/admin/api-keys/{id}") => json!({ "isActive": false }),
        ("POST", "/admin/api-keys/renew") => json!({ "ids": [NIL], "quotaAddUsd": 1.0 }),
        ("POST", "/admin/api-keys/{id}/renew") => json!({ "daysAdd": 30 }),
        ("POST", "/admin/redemption-codes") => json!({ "presetId": preset, "count": 1 }),
        ("POST", "/admin/accounts/{id}/budget/top-ups") => json!({ "amountUsd": 5.0 }),
        _ => json!({}),
    };
    (concrete, body)
}

/// A well-formed server-function call: its JSON (or form) arguments.
fn fn_args(name: &str, preset: &str, n: usize) -> Option<Value> {
    let id = json!(NIL);
    Some(match name {
        "create_account" => json!({ "input": { "name": "x", "apiKey": "sk-sweep-0000000000" } }),
        "update_account" => json!({ "id": id, "patch": { "name": "x" } }),
        "delete_account"
        | "test_account"
        | "reset_account_status"
        | "delete_group"
        | "get_key"
        | "delete_key"
        | "key_ledger"
        | "revoke_code"
        | "delete_preset"
        | "delete_user"
        | "delete_webhook_target"
        | "test_webhook_target" => json!({ "id": id }),
        "account_events" => json!({ "id": id, "limit": 10 }),
        "create_group" => json!({ "input": { "name": format!("sweep-fn-{n}") } }),
        "update_group" => json!({ "id": id, "patch": { "name": "x" } }),
        "set_group_members" => json!({ "id": id, "account_ids": [] }),
        "import_crs" => json!({ "request": { "redisUrl": "redis://127.0.0.1:9", "dryRun": true } }),
        "list_keys" => json!({ "query": {} }),
        "create_key" => json!({ "input": { "name": format!("sweep-fn-{n}"), "presetId": preset } }),
        "batch_create_keys" => {
            json!({ "input": { "names": [format!("sweep-fnb-{n}")], "presetId": preset } })
        }
        "update_key" => json!({ "id": id, "input": { "isActive": false } }),
        "renew_key" => json!({ "id": id, "input": { "daysAdd": 30 } }),
        "renew_keys" => json!({ "input": { "ids": [id], "quotaAddUsd": 1.0 } }),
        "top_up_account_budget" => json!({ "id": id, "input": { "amountUsd": 5.0 } }),
        "create_codes" => json!({ "input": { "presetId": preset, "count": 1 } }),
        "list_codes" => json!({ "query": {} }),
        "create_preset" => json!({ "input": { "name": format!("sweep-fn-{n}") } }),
        "update_preset" => json!({ "id": id, "patch": { "name": "x" } }),
        "usage_report" => json!({ "range": {}, "split_by": "model" }),
        "margin_report" => {
            json!({ "range": {}, "cost_basis": "usage", "exchange_rate": null, "seller": null })
        }
        "sales_summary" => json!({ "range": {}, "seller": null }),
        "save_security_settings" => json!({ "input": { "totpRequired": "off" } }),
        "save_operator_settings" => {
            json!({ "input": { "currency": "USD", "usdExchangeRate": 1.0 } })
        }
        "set_price_override" => json!({ "model": "sweep-model", "price": {
            "input": 1.0, "output": 1.0, "cacheWrite5m": 1.0, "cacheWrite1h": 1.0, "cacheRead": 0.1
        } }),
        "delete_price_override" => json!({ "model": "sweep-model" }),
        "key_usage" => json!({ "key_id": id }),
        "create_user" => {
            json!({ "input": { "username": format!("sweep-fn-{n}"), "role": "viewer" } })
        }
        "update_user" => json!({ "id": id, "patch": { "displayName": "x" } }),
        "list_audit_events" => json!({ "query": {} }),
        "create_webhook_target" => json!({ "input": {
            "name": format!("sweep-fn-{n}"), "kind": "generic", "url": "http://127.0.0.1:9/hook"
        } }),
        "update_webhook_target" => json!({ "id": id, "patch": { "name": "x" } }),
        "webhook_deliveries" => json!({ "limit": 10, "before_id": null }),
        // Form-encoded functions (no `input = Json`).
        "change_password" => {
            json!({ "current": "wrong-password-xx", "new_password": "another-password-123" })
        }
        "confirm_totp" => json!({ "code": "000000" }),
        "disable_totp" => json!({ "password": "wrong-password-xx" }),
        _ => return None,
    })
}

/// Functions whose arguments travel form-encoded.
const FORM_FNS: &[&str] = &["change_password", "confirm_totp", "disable_totp"];

#[derive(Default, Debug)]
struct Counts {
    calls: usize,
    unauthorized: usize,
    forbidden: usize,
    passed: usize,
}

async fn call(
    app: &common::TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: &Value,
    form: bool,
) -> (StatusCode, Value) {
    let mut req = app.client.request(method, app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req = if form {
        let pairs: Vec<(String, String)> = body
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        req.form(&pairs)
    } else {
        req.json(body)
    };
    let res = req.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn judge(
    counts: &mut Counts,
    role: Option<Role>,
    gate: Gate,
    what: &str,
    status: StatusCode,
    body: &Value,
) {
    counts.calls += 1;
    match role {
        None => {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "anonymous {what}: {body}");
            counts.unauthorized += 1;
        }
        Some(r) if gate.lets(r) => {
            assert!(
                status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                "{r:?} must pass {what}: {status} {body}"
            );
            assert_ne!(
                body["code"], "transport",
                "{r:?} {what}: arguments did not parse: {body}"
            );
            counts.passed += 1;
        }
        Some(r) => {
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{r:?} must be refused {what}: {body}"
            );
            let code = body["error"]["code"].as_str().or(body["code"].as_str());
            assert_eq!(code, Some("forbidden"), "{r:?} {what}: {body}");
            counts.forbidden += 1;
        }
    }
}

#[tokio::test]
async fn every_route_and_server_fn_answers_each_role_as_the_table_says() {
    let app = spawn_app().await;
    let admin_token = app.admin_token().await;
    let sold = preset(&app, &admin_token, "Sweep card", 9.0).await;
    let seller = staff(&app, &admin_token, "sweep-seller", "seller", &[&sold]).await;
    let viewer = staff(&app, &admin_token, "sweep-viewer", "viewer", &[]).await;
    let roles: [(Option<Role>, Option<&str>); 4] = [
        (None, None),
        (Some(Role::Seller), Some(&seller.token)),
        (Some(Role::Viewer), Some(&viewer.token)),
        (Some(Role::Admin), Some(&admin_token)),
    ];
    let public = tollgate::auth::PUBLIC_EXACT;
    let mut rest = Counts::default();
    let mut fns = Counts::default();
    let mut n = 0;
    for (role, token) in roles {
        for (method, path) in &app.admin_routes {
            // Logging out ends the token the rest of the sweep uses: checked on its own below.
            if public.contains(path) || *path == "/admin/auth/logout" {
                continue;
            }
            n += 1;
            let (concrete, body) = rest_request(method, path, &sold, n);
            let (status, answer) = call(&app, method.clone(), &concrete, token, &body, false).await;
            judge(
                &mut rest,
                role,
                rest_gate(method, path),
                &format!("{method} {path}"),
                status,
                &answer,
            );
        }
        for (path, method) in server_fn::axum::server_fn_paths() {
            let name = path.trim_start_matches("/admin/fn/");
            if public.contains(&path) || name == "logout" {
                continue;
            }
            n += 1;
            let args = fn_args(name, &sold, n).unwrap_or_else(|| json!({}));
            let form = FORM_FNS.contains(&name) || args == json!({});
            let m = Method::from_bytes(method.as_str().as_bytes()).unwrap();
            let (status, answer) = call(&app, m, path, token, &args, form).await;
            judge(
                &mut fns,
                role,
                fn_gate(name),
                &format!("server fn {name}"),
                status,
                &answer,
            );
        }
    }
    // Logging out, last: every role may.
    for (role, token) in roles.iter().skip(1) {
        let (status, _) = call(
            &app,
            Method::POST,
            "/admin/auth/logout",
            *token,
            &json!({}),
            false,
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{role:?} logs out");
    }
    println!(
        "role sweep: REST {} calls ({} × 401 anonymous, {} × 403, {} passed the role check); \
         server functions {} calls ({} × 401, {} × 403, {} passed)",
        rest.calls,
        rest.unauthorized,
        rest.forbidden,
        rest.passed,
        fns.calls,
        fns.unauthorized,
        fns.forbidden,
        fns.passed
    );
    assert!(
        rest.forbidden > 20 && fns.forbidden > 20,
        "{rest:?} {fns:?}"
    );
    app.stop().await;
}

/// With TOTP required of all staff, a user without a second factor reaches nothing but its
/// set-up: every other route and server function answers 403 `totp_setup_required`.
#[tokio::test]
async fn with_totp_required_only_the_set_up_answers_the_unenrolled() {
    let app = spawn_app().await;
    let admin_token = app.admin_token().await;
    let sold = preset(&app, &admin_token, "Sweep card", 9.0).await;
    let viewer = staff(&app, &admin_token, "sweep-viewer", "viewer", &[]).await;
    let (status, _) = call(
        &app,
        Method::PUT,
        "/admin/settings/security",
        Some(&admin_token),
        &json!({ "totpRequired": "all" }),
        false,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let public = tollgate::auth::PUBLIC_EXACT;
    let allowed = tollgate::admin::TOTP_SETUP_PATHS;
    let (mut refused, mut open) = (0, 0);
    let mut n = 0;
    let routes = app
        .admin_routes
        .iter()
        .map(|(m, p)| (m.clone(), p.to_string()))
        .chain(server_fn::axum::server_fn_paths().map(|(p, m)| {
            (
                Method::from_bytes(m.as_str().as_bytes()).unwrap(),
                p.to_string(),
            )
        }));
    for (method, path) in routes.collect::<Vec<_>>() {
        if public.contains(&path.as_str()) || path.ends_with("/logout") {
            continue;
        }
        n += 1;
        let (concrete, body) = match path.strip_prefix("/admin/fn/") {
            Some(name) => (
                path.clone(),
                fn_args(name, &sold, n).unwrap_or_else(|| json!({})),
            ),
            None => rest_request(&method, &path, &sold, n),
        };
        let form = path.starts_with("/admin/fn/")
            && (FORM_FNS.iter().any(|f| path.ends_with(f)) || body == json!({}));
        let (status, answer) = call(
            &app,
            method.clone(),
            &concrete,
            Some(&viewer.token),
            &body,
            form,
        )
        .await;
        let code = answer["error"]["code"].as_str().or(answer["code"].as_str());
        if allowed.contains(&path.as_str()) {
            assert_ne!(code, Some("totp_setup_required"), "{method} {path}");
            open += 1;
        } else {
            assert_eq!(
                (status, code),
                (StatusCode::FORBIDDEN, Some("totp_setup_required")),
                "{method} {path}: {answer}"
            );
            refused += 1;
        }
    }
    println!("TOTP required: {refused} routes refused before enrolment, {open} open for it");
    assert!(refused > 80 && open >= 6, "{refused} {open}");
    app.stop().await;
}
