//! API keys and presets over real HTTP: creation shows the key once, validation names fields,
//! batches are all-or-nothing, list filters and pagination, PATCH/DELETE semantics, presets.

mod common;

use std::time::Instant;

use common::{spawn_app, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::SqlitePool;
use tollgate::crypto::token_hash;
use tollgate::storage::{now_ms, Store};

const DAY_MS: i64 = 86_400_000;

struct Api {
    app: TestApp,
    token: String,
}

impl Api {
    async fn start() -> Api {
        let app = spawn_app().await;
        let token = app.admin_token().await;
        Api { app, token }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self
            .app
            .client
            .request(method, self.app.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, value)
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// A key created with `body`, which must succeed.
    async fn create(&self, body: Value) -> Value {
        let (status, key) = self.post("/admin/api-keys", body).await;
        assert_eq!(status, StatusCode::CREATED, "{key}");
        key
    }

    fn pool(&self) -> &SqlitePool {
        match &self.app.db.store {
            Store::Sqlite(pool) => pool,
            Store::Postgres(_) => unreachable!("these tests run on SQLite"),
        }
    }

    async fn exec(&self, sql: &str) {
        sqlx::query(sql).execute(self.pool()).await.unwrap();
    }

    /// Every stored key row, deleted ones included.
    async fn rows(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM api_keys")
            .fetch_one(self.pool())
            .await
            .unwrap()
    }

    async fn list(&self, query: &str) -> Value {
        let (status, page) = self.get(&format!("/admin/api-keys?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        page
    }

    async fn names(&self, query: &str) -> Vec<String> {
        names_of(&self.list(query).await)
    }
}

fn names_of(page: &Value) -> Vec<String> {
    let mut names: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

fn field(error: &Value) -> &str {
    error["error"]["field"].as_str().unwrap_or("<none>")
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339()
}

#[tokio::test]
async fn create_shows_the_key_once_and_stores_only_its_hash() {
    let api = Api::start().await;
    let created = api
        .create(json!({
            "name": "alice",
            "description": "first customer",
            "tags": ["vip", "trial"],
            "quotaLimit": 20,
            "expiresAt": rfc3339(now_ms() + 7 * DAY_MS),
            "concurrencyLimit": 3,
            "permissions": ["claude"],
            "salePrice": 99.5,
            "currency": "CNY"
        }))
        .await;
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("tg_") && key.len() == 46, "{key}");
    let prefix = created["keyPrefix"].as_str().unwrap();
    assert_eq!(prefix, format!("{}…", &key[..10]));
    assert_eq!(created["status"], "active");
    assert_eq!(created["quotaLimit"], 20.0);
    assert_eq!(created["salePrice"], 99.5);
    assert_eq!(created["tags"], json!(["vip", "trial"]));
    assert_eq!(
        (created["spent"].clone(), created["reserved"].clone()),
        (json!(0.0), json!(0.0))
    );

    let (status, got) = api.get(&format!("/admin/api-keys/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(got.get("key").is_none());
    assert!(!got.to_string().contains(&key));
    assert_eq!(got["name"], "alice");
    assert_eq!(got["currency"], "CNY");
    let listed = api.list("").await;
    assert!(
        !listed.to_string().contains(&key[3..]),
        "no secret in lists"
    );
    assert_eq!(listed["total"], 1);

    let (hash, stored_prefix): (String, String) =
        sqlx::query_as("SELECT key_hash, key_prefix FROM api_keys WHERE id = $1")
            .bind(&id)
            .fetch_one(api.pool())
            .await
            .unwrap();
    assert_eq!(hash, token_hash(&key));
    assert_eq!(stored_prefix, &key[..10]);
    // The whole key, pasted into the search box, finds its record by hash.
    assert_eq!(api.names(&format!("search={key}")).await, ["alice"]);
    api.app.stop().await;
}

#[tokio::test]
async fn every_validation_rule_names_its_field_and_writes_nothing() {
    let api = Api::start().await;
    let past = rfc3339(now_ms() - 1_000);
    let future = rfc3339(now_ms() + DAY_MS);
    let cases = [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(201)}), "name"),
        (json!({"quotaLimit": 5}), "name"),
        (json!({"name": 5}), "name"),
        (json!({"name": "a", "quotaLimit": -1}), "quotaLimit"),
        (json!({"name": "a", "quotaLimit": "ten"}), "quotaLimit"),
        (
            json!({"name": "a", "rateLimitCost": -0.1, "rateLimitWindow": 5}),
            "rateLimitCost",
        ),
        (json!({"name": "a", "dailyCostLimit": -3}), "dailyCostLimit"),
        (json!({"name": "a", "salePrice": -1}), "salePrice"),
        (json!({"name": "a", "expiresAt": past}), "expiresAt"),
        (json!({"name": "a", "expiresAt": "tomorrow"}), "expiresAt"),
        (json!({"name": "a", "activationDays": 0}), "activationDays"),
        (
            json!({"name": "a", "activationDays": 3651}),
            "activationDays",
        ),
        (
            json!({"name": "a", "activationDays": 30, "expiresAt": future}),
            "activationDays",
        ),
        (
            json!({"name": "a", "concurrentRequestQueueMaxSize": 1001}),
            "concurrentRequestQueueMaxSize",
        ),
        (
            json!({"name": "a", "concurrentRequestQueueEnabled": true, "concurrentRequestQueueTimeoutMs": 0}),
            "concurrentRequestQueueTimeoutMs",
        ),
        (
            json!({"name": "a", "concurrentRequestQueueEnabled": true, "concurrentRequestQueueTimeoutMs": 600_001}),
            "concurrentRequestQueueTimeoutMs",
        ),
        (
            json!({"name": "a", "rateLimitWindow": 43_201}),
            "rateLimitWindow",
        ),
        (
            json!({"name": "a", "rateLimitRequests": 10}),
            "rateLimitRequests",
        ),
        (json!({"name": "a", "rateLimitCost": 1.5}), "rateLimitCost"),
        (
            json!({"name": "a", "permissions": ["claude", "bard"]}),
            "permissions",
        ),
        (json!({"name": "a", "currency": "cny"}), "currency"),
        (json!({"name": "a", "currency": "YUAN"}), "currency"),
        (
            json!({"name": "a", "tags": (0..21).map(|i| i.to_string()).collect::<Vec<_>>()}),
            "tags",
        ),
        (json!({"name": "a", "tags": ["x".repeat(51)]}), "tags"),
        (json!({"name": "a", "tags": [""]}), "tags"),
        (json!({"name": "a", "tags": ["ok", 3]}), "tags[1]"),
        (
            json!({"name": "a", "allowedModels": ["claude-sonnet-4-5", " "]}),
            "allowedModels",
        ),
        (json!({"name": "a", "quotaLimt": 5}), "quotaLimt"),
        (
            json!({"name": "a", "presetId": "no-such-preset"}),
            "presetId",
        ),
        (
            json!({"name": "a", "claudeAccountId": "missing-account"}),
            "claudeAccountId",
        ),
        (
            json!({"name": "a", "openaiAccountId": "group:missing"}),
            "openaiAccountId",
        ),
        (
            json!({"name": "a", "geminiAccountId": "group:"}),
            "geminiAccountId",
        ),
    ];
    for (body, expected) in cases {
        let (status, error) = api.post("/admin/api-keys", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert_eq!(error["error"]["code"], "validation", "{body}");
        assert_eq!(field(&error), expected, "{body}: {error}");
    }
    assert_eq!(api.rows().await, 0, "nothing half-written");
    api.app.stop().await;
}

#[tokio::test]
async fn bindings_must_name_an_account_or_group_of_the_platform() {
    let api = Api::start().await;
    let now = now_ms();
    api.exec(&format!(
        "INSERT INTO accounts (id, name, platform, account_type, api_key_enc, api_key_hint, base_url, created_at, updated_at)
         VALUES ('acc-claude', 'c1', 'claude', 'dedicated', 'v1:x', '…', 'http://127.0.0.1:9', {now}, {now}),
                ('acc-openai', 'o1', 'openai', 'dedicated', 'v1:x', '…', 'http://127.0.0.1:9', {now}, {now}),
                ('acc-shared', 's1', 'claude', 'shared', 'v1:x', '…', 'http://127.0.0.1:9', {now}, {now})"
    ))
    .await;
    api.exec(&format!(
        "INSERT INTO account_groups (id, name, platform, created_at, updated_at)
         VALUES ('grp-claude', 'team', 'claude', {now}, {now})"
    ))
    .await;

    let group = api
        .create(json!({"name": "grouped", "claudeAccountId": "group:grp-claude"}))
        .await;
    assert_eq!(group["claudeAccountId"], "group:grp-claude");
    let dedicated = api
        .create(json!({"name": "dedicated", "claudeAccountId": "acc-claude", "allowPoolFallback": true}))
        .await;
    assert_eq!(dedicated["allowPoolFallback"], true);

    for (body, expected) in [
        (
            json!({"name": "x", "claudeAccountId": "acc-openai"}),
            "claudeAccountId",
        ),
        (
            json!({"name": "x", "openaiAccountId": "group:grp-claude"}),
            "openaiAccountId",
        ),
        (
            json!({"name": "x", "geminiAccountId": "acc-claude"}),
            "geminiAccountId",
        ),
        (
            json!({"name": "x", "claudeAccountId": "group:nope"}),
            "claudeAccountId",
        ),
        // A shared account serves the whole pool: it cannot be bound directly.
        (
            json!({"name": "x", "claudeAccountId": "acc-shared"}),
            "claudeAccountId",
        ),
    ] {
        let (status, error) = api.post("/admin/api-keys", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(field(&error), expected, "{body}: {error}");
    }
    assert_eq!(api.names("binding=group:grp-claude").await, ["grouped"]);
    assert_eq!(api.names("binding=acc-claude").await, ["dedicated"]);

    // An edit that does not touch a binding still works after its account is gone.
    api.exec("DELETE FROM accounts WHERE id = 'acc-claude'")
        .await;
    let id = dedicated["id"].as_str().unwrap();
    let (status, edited) = api
        .patch(&format!("/admin/api-keys/{id}"), json!({"quotaLimit": 5}))
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    let (status, error) = api
        .patch(
            &format!("/admin/api-keys/{id}"),
            json!({"openaiAccountId": "nope"}),
        )
        .await;
    assert_eq!(
        (status, field(&error)),
        (StatusCode::BAD_REQUEST, "openaiAccountId")
    );
    api.app.stop().await;
}

#[tokio::test]
async fn list_filters_status_search_and_pagination() {
    let api = Api::start().await;
    for (name, tags) in [
        ("alpha", json!(["vip"])),
        ("bravo", json!(["vip", "trial"])),
        ("charlie", json!(["trial"])),
        ("delta", json!([])),
        ("echo", json!([])),
        ("foxtrot_50%", json!([])),
    ] {
        api.create(json!({"name": name, "tags": tags, "quotaLimit": 10, "description": format!("about {name}")}))
            .await;
    }
    let now = now_ms();
    api.exec(&format!(
        "UPDATE api_keys SET expires_at = {} WHERE name = 'bravo'",
        now - 1_000
    ))
    .await;
    api.exec("UPDATE api_keys SET spent_micros = 10000000 WHERE name = 'charlie'")
        .await;
    api.exec("UPDATE api_keys SET is_active = FALSE WHERE name = 'delta'")
        .await;
    // Activated 31 days ago with 30 days of validity: expired, without a fixed expiry.
    api.exec(&format!(
        "UPDATE api_keys SET activation_days = 30, activated_at = {} WHERE name = 'echo'",
        now - 31 * DAY_MS
    ))
    .await;

    assert_eq!(api.names("status=expired").await, ["bravo", "echo"]);
    assert_eq!(api.names("status=exhausted").await, ["charlie"]);
    assert_eq!(api.names("status=disabled").await, ["delta"]);
    assert_eq!(api.names("status=active").await, ["alpha", "foxtrot_50%"]);
    assert_eq!(api.names("tag=vip").await, ["alpha", "bravo"]);
    assert_eq!(api.names("tag=trial&status=exhausted").await, ["charlie"]);
    assert_eq!(api.names("search=ALP").await, ["alpha"]);
    assert_eq!(api.names("search=about%20del").await, ["delta"]);
    assert_eq!(
        api.names("search=_50%25").await,
        ["foxtrot_50%"],
        "wildcards are literal"
    );
    assert_eq!(api.names("search=x_r").await, Vec::<String>::new());

    let alpha = &api.list("search=alpha").await["items"][0];
    assert_eq!(alpha["status"], "active");
    let prefix = alpha["keyPrefix"].as_str().unwrap();
    assert_eq!(
        api.names(&format!("search={}", urlencode(prefix))).await,
        ["alpha"]
    );

    let first = api.list("pageSize=4").await;
    assert_eq!(
        (
            first["total"].clone(),
            first["page"].clone(),
            first["pageSize"].clone()
        ),
        (json!(6), json!(1), json!(4))
    );
    let second = api.list("pageSize=4&page=2").await;
    let mut seen = names_of(&first);
    seen.extend(names_of(&second));
    seen.sort();
    assert_eq!(seen.len(), 6);
    seen.dedup();
    assert_eq!(seen.len(), 6, "pages do not overlap");
    assert_eq!(api.list("").await["pageSize"], 50);
    assert!(api.list("page=3&pageSize=4").await["items"]
        .as_array()
        .unwrap()
        .is_empty());

    for (query, expected) in [
        ("pageSize=501", "pageSize"),
        ("pageSize=0", "pageSize"),
        ("page=0", "page"),
        ("page=abc", "page"),
        ("status=gone", "status"),
        ("sort=name", "sort"),
    ] {
        let (status, error) = api.get(&format!("/admin/api-keys?{query}")).await;
        assert_eq!(
            (status, field(&error)),
            (StatusCode::BAD_REQUEST, expected),
            "{query}"
        );
    }
    api.app.stop().await;
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn batches_from_a_template_and_from_order_numbers() {
    let api = Api::start().await;
    let (status, keys) = api
        .post(
            "/admin/api-keys/batch",
            json!({"count": 12, "nameTemplate": "card-{n}", "quotaLimit": 5, "tags": ["promo"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{keys}");
    let keys = keys.as_array().unwrap();
    assert_eq!(keys.len(), 12);
    assert_eq!(keys[0]["name"], "card-01");
    assert_eq!(keys[11]["name"], "card-12");
    let mut plaintexts: Vec<&str> = keys.iter().map(|k| k["key"].as_str().unwrap()).collect();
    plaintexts.sort();
    plaintexts.dedup();
    assert_eq!(plaintexts.len(), 12, "every key is different");
    assert!(keys.iter().all(|k| k["quotaLimit"] == 5.0));
    assert_eq!(api.list("tag=promo").await["total"], 12);

    let (status, keys) = api
        .post(
            "/admin/api-keys/batch",
            json!({"names": ["A1001", " A1002 ", "", "A1003"], "nameTemplate": "20刀体验_[订单号]"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{keys}");
    let names: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["20刀体验_A1001", "20刀体验_A1002", "20刀体验_A1003"]
    );

    let (status, keys) = api
        .post("/admin/api-keys/batch", json!({"names": ["order-9"]}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(keys[0]["name"], "order-9");
    assert_eq!(api.rows().await, 16);
    api.app.stop().await;
}

#[tokio::test]
async fn a_batch_is_all_or_nothing() {
    let api = Api::start().await;
    api.create(json!({"name": "existing"})).await;
    let before = api.rows().await;
    for (body, expected) in [
        (json!({"names": ["ok-1", "x".repeat(201), "ok-2"]}), "names"),
        (json!({"names": ["A1", "A2", "A1"]}), "names"),
        (json!({"count": 1001, "nameTemplate": "k{n}"}), "count"),
        (json!({"count": 3, "nameTemplate": "same"}), "nameTemplate"),
        (json!({"count": 3, "names": ["a"]}), "count"),
        (
            json!({"count": 3, "nameTemplate": "k{n}", "quotaLimit": -1}),
            "quotaLimit",
        ),
        (
            json!({"count": 3, "nameTemplate": "k{n}", "color": "red"}),
            "color",
        ),
    ] {
        let (status, error) = api.post("/admin/api-keys/batch", body.clone()).await;
        assert_eq!(
            (status, field(&error)),
            (StatusCode::BAD_REQUEST, expected),
            "{body}: {error}"
        );
    }
    let (_, error) = api
        .post(
            "/admin/api-keys/batch",
            json!({"names": ["A1", "A2", "A1"]}),
        )
        .await;
    assert!(
        error["error"]["message"].as_str().unwrap().contains("A1"),
        "{error}"
    );

    // A storage failure on the third key rolls back the first two.
    api.exec(
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON api_keys WHEN NEW.name = 'boom-3'
         BEGIN SELECT RAISE(ABORT, 'refused by test'); END",
    )
    .await;
    let (status, error) = api
        .post(
            "/admin/api-keys/batch",
            json!({"count": 5, "nameTemplate": "boom-{n}", "tags": ["t"]}),
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{error}");
    assert_eq!(error["error"]["code"], "internal");
    assert!(
        !error.to_string().contains("refused by test"),
        "no internals in answers"
    );
    assert_eq!(api.rows().await, before, "nothing created");
    let tags: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_key_tags")
        .fetch_one(api.pool())
        .await
        .unwrap();
    assert_eq!(tags, 0);
    api.app.stop().await;
}

#[tokio::test]
async fn patch_changes_only_what_it_names_and_null_clears() {
    let api = Api::start().await;
    let key = api
        .create(json!({
            "name": "editable",
            "tags": ["a"],
            "quotaLimit": 10,
            "expiresAt": rfc3339(now_ms() + DAY_MS)
        }))
        .await;
    let path = format!("/admin/api-keys/{}", key["id"].as_str().unwrap());

    let (status, edited) = api
        .patch(&path, json!({"tags": ["b", "c"], "concurrencyLimit": 2}))
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["tags"], json!(["b", "c"]));
    assert_eq!(edited["quotaLimit"], 10.0, "absent = unchanged");
    assert_eq!(edited["expiresAt"], key["expiresAt"]);
    assert_eq!(edited["name"], "editable");
    assert!(edited.get("key").is_none());
    assert_eq!(api.names("tag=b").await, ["editable"]);
    assert!(
        api.names("tag=a").await.is_empty(),
        "tag index follows edits"
    );

    // Switching from a fixed expiry to activation days needs the expiry cleared.
    let (status, error) = api.patch(&path, json!({"activationDays": 30})).await;
    assert_eq!(
        (status, field(&error)),
        (StatusCode::BAD_REQUEST, "activationDays")
    );
    let (status, edited) = api
        .patch(&path, json!({"expiresAt": null, "activationDays": 30}))
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["expiresAt"], Value::Null);
    assert_eq!(edited["activationDays"], 30);

    let (status, edited) = api
        .patch(&path, json!({"isActive": false, "name": "renamed"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (edited["status"].clone(), edited["name"].clone()),
        (json!("disabled"), json!("renamed"))
    );

    for (body, expected) in [
        (json!({"nmae": "typo"}), "nmae"),
        (json!({"name": ""}), "name"),
        (json!({"quotaLimit": -5}), "quotaLimit"),
        (json!({"presetId": "nope"}), "presetId"),
        (json!({"expiresAt": 5}), "expiresAt"),
    ] {
        let (status, error) = api.patch(&path, body.clone()).await;
        assert_eq!(
            (status, field(&error)),
            (StatusCode::BAD_REQUEST, expected),
            "{body}"
        );
    }
    let (status, _) = api
        .patch("/admin/api-keys/missing", json!({"quotaLimit": 1}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    api.app.stop().await;
}

#[tokio::test]
async fn delete_is_soft_and_hides_the_key() {
    let api = Api::start().await;
    let key = api
        .create(json!({"name": "doomed", "salePrice": 30, "currency": "CNY"}))
        .await;
    let id = key["id"].as_str().unwrap();
    let path = format!("/admin/api-keys/{id}");
    api.exec(&format!(
        "INSERT INTO usage_events (request_id, key_id, platform, model, status, cost_micros, created_at)
         VALUES ('r1', '{id}', 'claude', 'claude-sonnet-4-5', 200, 1500, {})",
        now_ms()
    ))
    .await;
    let (status, _) = api.delete(&path).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for method in [Method::GET, Method::DELETE] {
        let (status, error) = api.call(method.clone(), &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}");
        assert_eq!(error["error"]["code"], "not_found");
    }
    let (status, _) = api.patch(&path, json!({"quotaLimit": 1})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(api.list("").await["total"], 0);
    let kept: (i64, i64) = sqlx::query_as(
        "SELECT sale_price_micros, (SELECT COUNT(*) FROM usage_events WHERE key_id = $1)
         FROM api_keys WHERE id = $1 AND deleted_at IS NOT NULL",
    )
    .bind(id)
    .fetch_one(api.pool())
    .await
    .unwrap();
    assert_eq!(
        kept,
        (30_000_000, 1),
        "sale price and usage stay for accounting"
    );
    api.app.stop().await;
}

#[tokio::test]
async fn presets_crud_and_batches_from_a_preset() {
    let api = Api::start().await;
    let (status, presets) = api.get("/admin/key-presets").await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = presets
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["preset-trial", "preset-monthly", "preset-enterprise"]);
    assert_eq!(presets[0]["name"], "Trial card");
    assert_eq!(presets[0]["validityDays"], 7);
    assert_eq!(presets[0]["settings"]["quotaLimit"], 20.0);

    let before = now_ms();
    let (status, keys) = api
        .post(
            "/admin/api-keys/batch",
            json!({"count": 2, "nameTemplate": "trial-{n}", "presetId": "preset-trial", "concurrencyLimit": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{keys}");
    let k = &keys[0];
    assert_eq!(k["presetId"], "preset-trial");
    assert_eq!(k["quotaLimit"], 20.0);
    assert_eq!(k["concurrencyLimit"], 1, "explicit fields win");
    assert_eq!(k["concurrentRequestQueueEnabled"], true);
    assert_eq!(k["concurrentRequestQueueMaxSize"], 5);
    assert_eq!(k["concurrentRequestQueueTimeoutMs"], 10_000);
    assert_eq!(
        (k["rateLimitWindow"].clone(), k["rateLimitRequests"].clone()),
        (json!(60), json!(30))
    );
    let expires = chrono::DateTime::parse_from_rfc3339(k["expiresAt"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    assert!(
        (before + 7 * DAY_MS..=now_ms() + 7 * DAY_MS).contains(&expires),
        "{k}"
    );
    assert_eq!(api.list("presetId=preset-trial").await["total"], 2);

    // An explicit activationDays replaces the preset's validity.
    let key = api
        .create(json!({"name": "monthly", "presetId": "preset-monthly", "activationDays": 10}))
        .await;
    assert_eq!(
        (key["expiresAt"].clone(), key["activationDays"].clone()),
        (Value::Null, json!(10))
    );
    assert_eq!(key["quotaLimit"], 100.0);

    let (status, preset) = api
        .post(
            "/admin/key-presets",
            json!({"name": "Weekend", "validityDays": 2, "settings": {"quotaLimit": 3, "tags": ["weekend"]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{preset}");
    let path = format!("/admin/key-presets/{}", preset["id"].as_str().unwrap());
    let (status, error) = api
        .post(
            "/admin/key-presets",
            json!({"name": "Weekend", "settings": {}}),
        )
        .await;
    assert_eq!(
        (status, error["error"]["code"].clone()),
        (StatusCode::CONFLICT, json!("conflict"))
    );
    for (body, expected) in [
        (
            json!({"name": "P", "settings": {"quotaLimit": -1}}),
            "settings.quotaLimit",
        ),
        (
            json!({"name": "P", "settings": {"bogus": 1}}),
            "settings.bogus",
        ),
        (
            json!({"name": "P", "settings": {"expiresAt": rfc3339(now_ms() + DAY_MS)}}),
            "settings.expiresAt",
        ),
        (json!({"name": "P", "validityDays": 0}), "validityDays"),
        (
            json!({"name": "P", "validityDays": 5, "settings": {"activationDays": 5}}),
            "validityDays",
        ),
        (json!({"name": "", "settings": {}}), "name"),
    ] {
        let (status, error) = api.post("/admin/key-presets", body.clone()).await;
        assert_eq!(
            (status, field(&error)),
            (StatusCode::BAD_REQUEST, expected),
            "{body}: {error}"
        );
    }

    let (status, edited) = api
        .patch(&path, json!({"name": "Long weekend", "validityDays": null}))
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["name"], "Long weekend");
    assert_eq!(edited["validityDays"], Value::Null);
    assert_eq!(edited["settings"]["quotaLimit"], 3.0, "settings kept");
    let (status, edited) = api
        .patch(
            "/admin/key-presets/preset-enterprise",
            json!({"settings": {"quotaLimit": 1000, "concurrencyLimit": 50}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(edited["validityDays"], 365);
    let key = api
        .create(json!({"name": "big", "presetId": "preset-enterprise"}))
        .await;
    assert_eq!(
        (key["quotaLimit"].clone(), key["concurrencyLimit"].clone()),
        (json!(1000.0), json!(50))
    );

    let (status, _) = api.delete(&path).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.delete(&path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.patch(&path, json!({"name": "x"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, presets) = api.get("/admin/key-presets").await;
    assert_eq!(presets.as_array().unwrap().len(), 3);
    api.app.stop().await;
}

/// 100,000 keys on SQLite: the list stays correct (and its timings are printed) on page 1,
/// the last page, a filtered page and a search.
#[tokio::test]
async fn hundred_thousand_keys_list_correctly() {
    const N: i64 = 100_000;
    let api = Api::start().await;
    let now = now_ms();
    let started = Instant::now();
    let mut tx = api.pool().begin().await.unwrap();
    for chunk in (0..N).collect::<Vec<_>>().chunks(1_000) {
        let mut keys = Vec::with_capacity(chunk.len());
        let mut tags = Vec::new();
        for &i in chunk {
            let vip = i % 10 == 0;
            let active = i % 7 != 0;
            let expires = if i % 5 == 1 {
                (now - DAY_MS).to_string()
            } else {
                "NULL".into()
            };
            // name_key: the folded name the service writes with every key (ASCII folds to itself).
            keys.push(format!(
                "('k{i:06}', 'h{i:06}', 'tg_b{i:06}', 'bulk-{i:06}', 'bulk-{i:06}', '{}', {}, {expires}, {}, {})",
                if vip { "[\"vip\"]" } else { "[]" },
                if active { "TRUE" } else { "FALSE" },
                1_000_000 + i,
                1_000_000 + i,
            ));
            if vip {
                tags.push(format!("('k{i:06}', 'vip')"));
            }
        }
        sqlx::query(&format!(
            "INSERT INTO api_keys (id, key_hash, key_prefix, name, name_key, tags, is_active, expires_at, created_at, updated_at) VALUES {}",
            keys.join(",")
        ))
        .execute(&mut *tx)
        .await
        .unwrap();
        if !tags.is_empty() {
            sqlx::query(&format!(
                "INSERT INTO api_key_tags (key_id, tag) VALUES {}",
                tags.join(",")
            ))
            .execute(&mut *tx)
            .await
            .unwrap();
        }
    }
    tx.commit().await.unwrap();
    println!("inserted {N} keys in {:?}", started.elapsed());

    let timed = |label: &'static str| {
        let started = Instant::now();
        move || println!("{label}: {:?}", started.elapsed())
    };

    let done = timed("page 1");
    let page = api.list("pageSize=50").await;
    done();
    assert_eq!(page["total"], N);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 50);
    assert_eq!(items[0]["name"], "bulk-099999", "newest first");
    assert_eq!(items[49]["name"], "bulk-099950");

    let done = timed("last page");
    let last = api.list("pageSize=50&page=2000").await;
    done();
    assert_eq!(last["items"][49]["name"], "bulk-000000");

    let done = timed("tag=vip&status=disabled");
    let filtered = api.list("tag=vip&status=disabled&pageSize=10").await;
    done();
    let expected = (0..N).filter(|i| i % 70 == 0).count();
    assert_eq!(filtered["total"], expected);
    assert_eq!(filtered["items"][0]["name"], "bulk-099960");
    assert!(filtered["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["status"] == "disabled"));

    let done = timed("status=expired");
    let expired = api.list("status=expired&pageSize=500").await;
    done();
    let expected = (0..N).filter(|i| i % 5 == 1 && i % 7 != 0).count();
    assert_eq!(expired["total"], expected);
    assert_eq!(expired["items"].as_array().unwrap().len(), 500);

    let done = timed("search");
    let found = api.list("search=bulk-01234").await;
    done();
    assert_eq!(found["total"], 10);
    assert_eq!(names_of(&found)[0], "bulk-012340");
    api.app.stop().await;
}
