//! `tollgate import crs` against the CRS 1.1.314 fixture (`shared/fixtures/crs-1.1.314`),
//! loaded with its own `load_redis.py` into a database of the machine's Redis that only this
//! test uses, on SQLite and on PostgreSQL: counts as the fixture's README gives them, every
//! fixture key's old `cr_...` string served over real HTTP through the in-repo mock upstream
//! with its remaining quota, binding and limits, the disabled key refused, OAuth accounts
//! skipped, a second run changing nothing, and a wrong key failing before anything is written.
//! The fixture's times are absolute: expiry is judged against the clock.

mod common;
#[path = "import_crs/fixture.rs"]
mod fixture;

use common::{spawn_app_with, Backend, TestApp, TestDb};
use fixture::{Fixture, CRS_KEY, KEYS};
use mock_upstream::proxy::ConnectProxy;
use mock_upstream::{Behavior, MockUpstream};
use reqwest::StatusCode;
use serde_json::{json, Value};

const CONSOLE_A: &str = "sk-ant-fixture-console-a-0001";
const CONSOLE_B: &str = "sk-ant-fixture-console-b-0002";
const MODEL: &str = "claude-sonnet-4-5-20250929";

async fn import(app: &TestApp, token: &str, redis_url: &str, dry_run: bool) -> Value {
    let (status, report) = app
        .admin_post(
            token,
            "/admin/import/crs",
            json!({"redisUrl": redis_url, "crsEncryptionKey": CRS_KEY, "dryRun": dry_run}),
        )
        .await;
    assert_eq!(status, 200, "import: {report}");
    report
}

fn counts(report: &Value, kind: &str) -> (u64, u64, u64, u64) {
    let c = &report[kind];
    let n = |f: &str| c[f].as_u64().unwrap();
    (n("imported"), n("updated"), n("unchanged"), n("skipped"))
}

fn item<'a>(report: &'a Value, source_id: &str) -> &'a Value {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["sourceId"] == source_id)
        .unwrap_or_else(|| panic!("no item {source_id} in {report}"))
}

fn note_codes(item: &Value) -> Vec<&str> {
    item["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["code"].as_str().unwrap())
        .collect()
}

/// Everything the import writes, summed: equal snapshots mean nothing changed.
async fn snapshot(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for sql in [
        "SELECT COUNT(*) FROM accounts",
        "SELECT CAST(COALESCE(MAX(updated_at), 0) AS BIGINT) FROM accounts",
        "SELECT COUNT(*) FROM account_groups",
        "SELECT CAST(COALESCE(MAX(updated_at), 0) AS BIGINT) FROM account_groups",
        "SELECT COUNT(*) FROM account_group_members",
        "SELECT COUNT(*) FROM api_keys",
        "SELECT CAST(COALESCE(MAX(updated_at), 0) AS BIGINT) FROM api_keys",
        "SELECT CAST(COALESCE(SUM(spent_micros), 0) AS BIGINT) FROM api_keys",
        "SELECT CAST(COALESCE(SUM(requests), 0) AS BIGINT) FROM api_keys",
        "SELECT COUNT(*) FROM usage_events",
        "SELECT CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) FROM usage_daily",
        "SELECT CAST(COALESCE(SUM(requests), 0) AS BIGINT) FROM usage_daily_keys",
        "SELECT COUNT(*) FROM import_map",
        "SELECT COUNT(*) FROM import_runs",
        "SELECT COUNT(*) FROM legacy_key_salts",
    ] {
        out.push(app.count(sql).await);
    }
    out
}

async fn messages(app: &TestApp, path: &str, key: &str, model: &str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
}

async fn self_usage(app: &TestApp, key: &str) -> (StatusCode, Value) {
    let res = app
        .client
        .get(app.url("/v1/usage"))
        .header("authorization", format!("Bearer {key}"))
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

async fn full_import(backend: Backend, redis_db: u32) {
    let mock = MockUpstream::start(Behavior::default()).await;
    let proxy = ConnectProxy::start(Some(("fxproxy".into(), "fxproxy-pass".into()))).await;
    let fx = Fixture::load(redis_db).await;
    fx.point_accounts_at(&mock.url(), proxy.addr().port()).await;
    let oauth = fx.add_oauth_accounts().await;
    let app = spawn_app_with(backend, |_| {}).await;
    let token = app.admin_token().await;

    // Dry run: the same report, nothing written.
    let before = snapshot(&app).await;
    let dry = import(&app, &token, &fx.url, true).await;
    assert_eq!(dry["dryRun"], true);
    assert_eq!(dry["changed"], true);
    assert_eq!(counts(&dry, "accounts"), (4, 0, 0, 3), "{dry}");
    assert_eq!(snapshot(&app).await, before, "a dry run wrote something");

    let report = import(&app, &token, &fx.url, false).await;
    assert_eq!(report["changed"], true);
    // README: 2 Console, 1 OpenAI-Responses, 1 Gemini-API accounts; 1 group with 1 member; 5 keys.
    assert_eq!(counts(&report, "accounts"), (4, 0, 0, 3), "{report}");
    assert_eq!(counts(&report, "groups"), (1, 0, 0, 0), "{report}");
    assert_eq!(counts(&report, "keys"), (5, 0, 0, 0), "{report}");
    assert_eq!(app.count("SELECT COUNT(*) FROM accounts").await, 4);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM account_group_members")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM api_keys WHERE key_prefix = 'cr_'")
            .await,
        5
    );
    for id in &oauth {
        let it = item(&report, id);
        assert_eq!(it["outcome"], "skipped");
        assert_eq!(note_codes(it), vec!["oauth_account"], "{it}");
    }
    let restricted = item(&report, KEYS[4].id);
    for code in ["binding_to_pool", "model_blacklist", "weekly_opus_limit"] {
        assert!(note_codes(restricted).contains(&code), "{restricted}");
    }
    // CRS's client restriction is carried over as allowedClients.
    assert!(
        !note_codes(restricted).contains(&"client_restriction"),
        "{restricted}"
    );
    let (clients,): (String,) = app
        .fetch_one("SELECT restrictions FROM api_keys WHERE name = '受限_M4001'")
        .await;
    assert_eq!(clients, r#"{"allowedClients":["claude_code"]}"#);
    assert!(report["notes"].to_string().contains("queue"), "{report}");
    // No plaintext anywhere: the database holds CRS hashes under their own namespace.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM api_keys WHERE key_hash LIKE 'crs:%'")
            .await,
        5
    );

    // Every imported credential decrypted right and reaches its upstream: the dashboard's
    // account test sends one real request through each (Console B through its proxy).
    let (_, accounts) = app
        .admin_send(&token, reqwest::Method::GET, "/admin/accounts", None)
        .await;
    let accounts = accounts.as_array().unwrap().clone();
    assert_eq!(accounts.len(), 4);
    for a in &accounts {
        let path = format!("/admin/accounts/{}/test", a["id"].as_str().unwrap());
        let (status, result) = app.admin_post(&token, &path, json!({})).await;
        assert_eq!(status, 200);
        assert_eq!(result["ok"], true, "{}: {result}", a["name"]);
    }
    for credential in [
        CONSOLE_A,
        CONSOLE_B,
        "sk-fixture-openai-responses-0003",
        "AIza-fixture-gemini-api-0004",
    ] {
        assert_eq!(mock.requests(credential), 1, "{credential}");
    }
    assert_eq!(proxy.tunnels(), 1);
    mock.reset_stats();

    // Usage history: CRS's daily rows and request records, before any new traffic.
    assert_eq!(
        app.count("SELECT CAST(SUM(cost_micros) AS BIGINT) FROM usage_daily_keys")
            .await,
        1209 + 810 + 810
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM usage_events WHERE request_id LIKE 'crs:%'")
            .await,
        7
    );

    let now = chrono::Utc::now();
    for k in KEYS {
        let (status, view) = self_usage(&app, k.plaintext).await;
        let expired = k.expires_at().is_some_and(|at| at <= now);
        if k.disabled {
            assert_eq!(
                status, 200,
                "the holder page shows disabled keys too: {view}"
            );
            assert_eq!(view["status"], "disabled");
        } else {
            assert_eq!(status, 200, "{}: {view}", k.name);
            assert_eq!(
                view["status"],
                if expired { "expired" } else { "active" },
                "{view}"
            );
        }
        assert_eq!(view["name"], k.name);
        assert!(
            (view["spent"].as_f64().unwrap() - k.spent).abs() < 1e-9,
            "{view}"
        );
        assert_eq!(view["quotaLimit"].as_f64().unwrap(), k.quota);
        assert_eq!(view["dailyCostLimit"].as_f64().unwrap(), k.daily_limit);
        assert_eq!(view["concurrencyLimit"].as_u64().unwrap(), k.concurrency);
        if k.quota > 0.0 {
            assert!((view["remaining"].as_f64().unwrap() - (k.quota - k.spent)).abs() < 1e-9);
        }
        if let Some(at) = k.expires_at() {
            let shown =
                chrono::DateTime::parse_from_rfc3339(view["expiresAt"].as_str().unwrap()).unwrap();
            assert_eq!(shown.timestamp_millis(), at.timestamp_millis(), "{view}");
        }
        // The dashboard's key holder page goes through the server function.
        let page = app
            .client
            .post(app.url("/admin/fn/key_holder_usage"))
            .form(&[("presented_key", k.plaintext)])
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(page.json::<Value>().await.unwrap()["name"], k.name);

        // CRS's own path works unchanged.
        let res = messages(&app, "/api/v1/messages", k.plaintext, MODEL).await;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if k.disabled || expired {
            assert_eq!(status, 401, "{}: {body}", k.name);
            assert_eq!(body["error"]["type"], "authentication_error", "{body}");
        } else if k.id == KEYS[4].id {
            // Its client restriction came along: only Claude Code may use it, as in CRS.
            assert_eq!(status, 403, "{}: {body}", k.name);
            assert!(body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("allowedClients"));
            let res = app
                .client
                .post(app.url("/api/v1/messages"))
                .header("x-api-key", k.plaintext)
                .header("user-agent", "claude-cli/2.0.14 (external, cli)")
                .json(&json!({"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{}", k.name);
        } else {
            assert_eq!(status, 200, "{}: {body}", k.name);
            assert_eq!(body["type"], "message", "{body}");
        }
    }
    let usable = |i: usize| !KEYS[i].disabled && KEYS[i].expires_at().is_none_or(|at| at > now);
    // Bindings: the pool key and the dedicated key and the restricted key (its OAuth binding
    // became the pool) went to Console A; the group key through the proxy to Console B.
    let via_a = [0, 1, 4].iter().filter(|i| usable(**i)).count() as u64;
    assert_eq!(mock.requests(CONSOLE_A), via_a);
    if usable(2) {
        assert_eq!(mock.requests(CONSOLE_B), 1);
        assert!(
            proxy.tunnels() >= 1,
            "the group account's proxy was not used"
        );
        // Console B maps opus-4-1 to sonnet-4-5, as in CRS.
        let res = messages(
            &app,
            "/v1/messages",
            KEYS[2].plaintext,
            "claude-opus-4-1-20250805",
        )
        .await;
        assert_eq!(res.status(), 200);
        let sent: Value =
            serde_json::from_slice(&mock.last_request(CONSOLE_B).unwrap().body).unwrap();
        assert_eq!(sent["model"], MODEL);
    }
    // Unknown cr_ keys are refused like any unknown key.
    let fake = format!("cr_{}", "0".repeat(64));
    assert_eq!(
        messages(&app, "/v1/messages", &fake, MODEL).await.status(),
        401
    );

    // A second run after real traffic changes nothing.
    let served = via_a + u64::from(usable(2)) * 2;
    app.wait_for_usage_events(7 + served as i64).await;
    let before = snapshot(&app).await;
    let again = import(&app, &token, &fx.url, false).await;
    assert_eq!(again["changed"], false, "{again}");
    assert_eq!(counts(&again, "accounts"), (0, 0, 4, 3));
    assert_eq!(counts(&again, "groups"), (0, 0, 1, 0));
    assert_eq!(counts(&again, "keys"), (0, 0, 5, 0));
    assert_eq!(
        snapshot(&app).await,
        before,
        "the second run changed the database"
    );
    fx.drop_db().await;
    app.stop().await;
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    match &db.store {
        tollgate::storage::Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        tollgate::storage::Store::Postgres(p) => {
            sqlx::query_scalar(sql).fetch_one(p).await.unwrap()
        }
    }
}

#[tokio::test]
async fn imports_the_fixture_on_sqlite() {
    full_import(Backend::Sqlite, 11).await;
}

#[tokio::test]
async fn imports_the_fixture_on_postgres() {
    full_import(Backend::Postgres, 12).await;
}

/// The CLI as an operator runs it: a wrong key fails before anything is written; the right
/// one imports; spend that CRS counted after the first run arrives as a difference.
#[tokio::test]
async fn cli_refuses_a_wrong_key_and_imports_with_the_right_one() {
    let fx = Fixture::load(13).await;
    let db = TestDb::new(Backend::Sqlite).await;
    let run = |key: &str, extra: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"));
        cmd.args([
            "import",
            "crs",
            "--redis-url",
            &fx.url,
            "--crs-encryption-key",
            key,
        ])
        .args(extra)
        .env("DATABASE_URL", db.url())
        .env("TOLLGATE_DATA_DIR", db.dir.path())
        .env("ENCRYPTION_KEY", "ab".repeat(32))
        .env_remove("CRS_REDIS_URL")
        .env_remove("CRS_ENCRYPTION_KEY");
        cmd.output().unwrap()
    };
    let wrong = run("CRSfixtureEncKey-1.1.314-test-02", &[]);
    assert_eq!(wrong.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(stderr.contains("encryption key is wrong"), "{stderr}");
    assert!(stderr.contains("Nothing was written"), "{stderr}");
    for table in [
        "accounts",
        "account_groups",
        "api_keys",
        "import_map",
        "legacy_key_salts",
        "usage_daily",
    ] {
        let n = count(&db, &format!("SELECT COUNT(*) FROM {table}")).await;
        assert_eq!(n, 0, "{table} written by a failed import");
    }

    let bad_only = run(CRS_KEY, &["--only", "keys,sessions"]);
    assert_eq!(bad_only.status.code(), Some(2));

    let dry = run(CRS_KEY, &["--dry-run"]);
    assert_eq!(
        dry.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let out = String::from_utf8_lossy(&dry.stdout);
    assert!(
        out.contains("keys: 5 imported, 0 updated, 0 unchanged, 0 skipped"),
        "{out}"
    );
    assert!(out.contains("would change the database"), "{out}");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM api_keys").await, 0);

    // In two parts: the keys' bindings find what the first part imported.
    let pool = run(CRS_KEY, &["--only", "accounts,groups", "--json"]);
    assert_eq!(
        pool.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&pool.stderr)
    );
    let report: Value = serde_json::from_slice(&pool.stdout).unwrap();
    assert_eq!(counts(&report, "accounts"), (4, 0, 0, 0));
    assert_eq!(counts(&report, "groups"), (1, 0, 0, 0));
    assert_eq!(counts(&report, "keys"), (0, 0, 0, 0));
    let keys = run(CRS_KEY, &["--only", "keys", "--json"]);
    let report: Value = serde_json::from_slice(&keys.stdout).unwrap();
    assert_eq!(counts(&report, "keys"), (5, 0, 0, 0), "{report}");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM import_runs").await, 2);
    let local = |kind: &str, crs_id: &str| {
        format!(
            "(SELECT local_id FROM import_map WHERE kind = '{kind}' AND foreign_id = '{crs_id}')"
        )
    };
    let bound = |key: usize, target: String| {
        format!(
            "SELECT COUNT(*) FROM api_keys WHERE id = {} AND claude_account_id = {target}",
            local("key", KEYS[key].id)
        )
    };
    let group = format!(
        "'group:' || {}",
        local("group", "28c1ee34-2da1-4b6b-8901-a37f016ab2ed")
    );
    assert_eq!(
        count(&db, &bound(2, group)).await,
        1,
        "the group key lost its group"
    );
    assert_eq!(
        count(&db, &bound(1, local("account", fixture::CONSOLE_A_ID))).await,
        1
    );
    let all = run(CRS_KEY, &["--json"]);
    let report: Value = serde_json::from_slice(&all.stdout).unwrap();
    assert_eq!(report["changed"], false, "{report}");

    // CRS served key A1001 once more ($0.5) before the switch: the second run adds just that.
    let a = KEYS[0].id;
    fx.set(&format!("usage:cost:total:{a}"), "0.501209").await;
    let second = run(CRS_KEY, &["--json"]);
    let report: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(counts(&report, "keys"), (0, 1, 4, 0), "{report}");
    let sql = format!(
        "SELECT spent_micros FROM api_keys WHERE id = (SELECT local_id FROM import_map WHERE foreign_id = '{a}')"
    );
    let spent = count(&db, &sql).await;
    assert_eq!(spent, 501_209);
    let third = run(CRS_KEY, &[]);
    assert!(String::from_utf8_lossy(&third.stdout).contains("nothing changed"));

    // A setting changed in CRS comes over; what only Tollgate has (a sale price) stays.
    let a_local = format!("(SELECT local_id FROM import_map WHERE foreign_id = '{a}')");
    execute(
        &db,
        &format!("UPDATE api_keys SET sale_price_micros = 35000000 WHERE id = {a_local}"),
    )
    .await;
    fx.hset(&format!("apikey:{a}"), &[("totalCostLimit", "25")])
        .await;
    // A key deleted in Tollgate is not brought back.
    let d = KEYS[3].id;
    execute(
        &db,
        &format!("UPDATE api_keys SET deleted_at = 1 WHERE id = (SELECT local_id FROM import_map WHERE foreign_id = '{d}')"),
    )
    .await;
    let fourth = run(CRS_KEY, &["--json"]);
    let report: Value = serde_json::from_slice(&fourth.stdout).unwrap();
    assert_eq!(counts(&report, "keys"), (0, 1, 3, 1), "{report}");
    assert_eq!(note_codes(item(&report, d)), vec!["deleted_in_tollgate"]);
    let sql =
        format!("SELECT quota_limit_micros + sale_price_micros FROM api_keys WHERE id = {a_local}");
    assert_eq!(count(&db, &sql).await, 25_000_000 + 35_000_000);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM api_keys WHERE deleted_at IS NULL"
        )
        .await,
        4
    );
    fx.drop_db().await;
}

async fn execute(db: &TestDb, sql: &str) {
    match &db.store {
        tollgate::storage::Store::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        tollgate::storage::Store::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
    }
    .unwrap();
}
