//! `tollgate usage export` and `tollgate accounts check`, run as the built binary against a
//! seeded temporary SQLite file (and, for the check, the mock upstream on loopback).

mod common;

use std::process::Output;
use std::sync::Arc;

use axum::routing::post;
use common::{Backend, TestDb};
use mock_upstream::{Behavior, Fault, MockUpstream};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::process::Command;
use tollgate::crypto::Cipher;
use tollgate::secret::Secret;
use tollgate::storage::Store;

/// The key the seeded credentials are encrypted with, handed to the CLI as ENCRYPTION_KEY.
fn encryption_key() -> String {
    "cd".repeat(32)
}

async fn tollgate(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.args(args)
        .env("DATABASE_URL", db.url())
        .env("TOLLGATE_DATA_DIR", db.dir.path())
        .env("ENCRYPTION_KEY", encryption_key())
        .env("TOLLGATE_TIMEZONE", "Asia/Shanghai")
        .env("LOG_LEVEL", "warn")
        .env_remove("WEBHOOK_ENABLED")
        .env_remove("WEBHOOK_URLS")
        .current_dir(db.dir.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().await.unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

async fn sql(db: &TestDb, statements: &str) {
    match &db.store {
        Store::Sqlite(p) => {
            sqlx::raw_sql(statements).execute(p).await.unwrap();
        }
        Store::Postgres(_) => unreachable!("SQLite only"),
    }
}

/// 2026-03-01T00:00:00+08:00 in epoch milliseconds.
const MARCH_1_SHANGHAI: i64 = 1_772_294_400_000;
const HOUR: i64 = 3_600_000;

async fn seed_usage(db: &TestDb) {
    let at = |hours: i64| MARCH_1_SHANGHAI + hours * HOUR;
    sql(
        db,
        &format!(
            "INSERT INTO accounts (id, name, platform, api_key_enc, api_key_hint, base_url, created_at, updated_at)
             VALUES ('a1', 'main', 'claude', 'x', 'sk…', 'http://127.0.0.1:1', 1, 1);
             INSERT INTO api_keys (id, key_hash, key_prefix, name, created_at, updated_at)
             VALUES ('k1', 'h1', 'tg_a', 'shop, \"one\"', 1, 1), ('k2', 'h2', 'tg_b', 'two', 1, 1);
             INSERT INTO usage_events (request_id, key_id, account_id, platform, model, status, input_tokens,
                 output_tokens, cost_micros, latency_ms, ttft_ms, stream, created_at)
             VALUES ('before', 'k1', 'a1', 'claude', 'claude-x', 200, 1, 1, 1, 5, NULL, FALSE, {}),
                    ('first', 'k1', 'a1', 'claude', 'claude-x', 200, 120, 30, 1234567, 800, 90, TRUE, {}),
                    ('second', 'k2', NULL, 'claude', '=HYPERLINK(1)', 429, 0, 0, 0, 2, NULL, FALSE, {}),
                    ('last-minute', 'k1', 'a1', 'claude', 'claude-x', 200, 2, 2, 125, 7, NULL, FALSE, {}),
                    ('after', 'k1', 'a1', 'claude', 'claude-x', 200, 1, 1, 1, 5, NULL, FALSE, {});",
            MARCH_1_SHANGHAI - 1,
            at(0) + 500,
            at(20),
            at(48) - 1,
            at(48),
        ),
    )
    .await;
}

/// Splits a CSV line, honouring quotes (enough for these rows).
fn cells(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().unwrap().push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out
}

#[tokio::test]
async fn usage_export_streams_the_days_asked_for_as_csv_and_json() {
    let db = TestDb::new(Backend::Sqlite).await;
    seed_usage(&db).await;

    let out = tollgate(
        &db,
        &[
            "usage",
            "export",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-02",
        ],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    let header = cells(lines[0]);
    assert_eq!(header[..4], ["id", "time", "request_id", "key_id"]);
    let col =
        |row: &[String], name: &str| row[header.iter().position(|h| h == name).unwrap()].clone();
    let rows: Vec<Vec<String>> = lines[1..].iter().map(|l| cells(l)).collect();
    assert_eq!(
        rows.iter()
            .map(|r| col(r, "request_id"))
            .collect::<Vec<_>>(),
        ["first", "second", "last-minute"],
        "local days, --to inclusive:\n{text}"
    );
    let first = &rows[0];
    assert_eq!(col(first, "time"), "2026-03-01T00:00:00.500+08:00");
    assert_eq!(col(first, "key_name"), "shop, \"one\"");
    assert_eq!(col(first, "account_name"), "main");
    assert_eq!(
        (col(first, "input_tokens"), col(first, "output_tokens")),
        ("120".into(), "30".into())
    );
    assert_eq!(
        (col(first, "cost_usd"), col(first, "cost_micros")),
        ("1.234567".into(), "1234567".into())
    );
    assert_eq!(
        (col(first, "ttft_ms"), col(first, "stream")),
        ("90".into(), "true".into())
    );
    let second = &rows[1];
    assert_eq!(
        (col(second, "account_id"), col(second, "status")),
        (String::new(), "429".into())
    );
    assert_eq!(
        col(second, "model"),
        "'=HYPERLINK(1)",
        "formula-like text is defused"
    );

    let out = tollgate(
        &db,
        &[
            "usage",
            "export",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-02",
            "--key",
            "k1",
            "--format",
            "json",
        ],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| r["request_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["first", "last-minute"]
    );
    assert_eq!(rows[0]["key_name"], "shop, \"one\"");
    assert_eq!(rows[0]["cost_micros"], 1_234_567);
    assert_eq!(rows[0]["cost_usd"], 1.234567);
    assert_eq!(rows[1]["ttft_ms"], Value::Null);

    let out = tollgate(
        &db,
        &[
            "usage",
            "export",
            "--from",
            "2030-01-01",
            "--to",
            "2030-01-01",
            "--format",
            "json",
        ],
        &[],
    )
    .await;
    assert!(out.status.success());
    assert_eq!(
        serde_json::from_slice::<Vec<Value>>(&out.stdout)
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test]
async fn usage_export_refuses_bad_arguments_with_status_2() {
    let db = TestDb::new(Backend::Sqlite).await;
    seed_usage(&db).await;
    for args in [
        &[
            "usage",
            "export",
            "--from",
            "2026-03-02",
            "--to",
            "2026-03-01",
        ][..],
        &[
            "usage",
            "export",
            "--from",
            "2026-3-1x",
            "--to",
            "2026-03-01",
        ],
        &[
            "usage",
            "export",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-01",
            "--key",
            "no-such-key",
        ],
        &[
            "usage",
            "export",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-01",
            "--format",
            "xml",
        ],
        &["usage", "export", "--to", "2026-03-01"],
    ] {
        let out = tollgate(&db, args, &[]).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
}

async fn seed_account(db: &TestDb, id: &str, name: &str, api_key: &str, base_url: &str) {
    let cipher = Cipher::load(Some(&Secret::new(encryption_key())), db.dir.path()).unwrap();
    sql(
        db,
        &format!(
            "INSERT INTO accounts (id, name, platform, api_key_enc, api_key_hint, base_url, created_at, updated_at)
             VALUES ('{id}', '{name}', 'claude', '{}', 'sk…', '{base_url}', 1, 1)",
            cipher.encrypt(tollgate::crypto::Binding::account_api_key(id), api_key)
        ),
    )
    .await;
}

/// A webhook receiver on loopback that keeps every JSON body it gets.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |body: axum::Json<Value>| {
            let keep = keep.clone();
            async move {
                keep.lock().push(body.0);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test]
async fn accounts_check_tests_each_account_and_fails_when_one_does() {
    let db = TestDb::new(Backend::Sqlite).await;
    let mock = MockUpstream::start(Behavior::default()).await;
    mock.set_behavior(
        "sk-ant-revoked",
        Behavior {
            fault: Some(Fault::Status {
                status: 401,
                retry_after_secs: None,
            }),
            ..Default::default()
        },
    );
    seed_account(&db, "acc-healthy", "healthy", "sk-ant-healthy", &mock.url()).await;

    let out = tollgate(&db, &["accounts", "check"], &[]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("LATENCY"),
        "{text}"
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row[..4], ["healthy", "claude", "active", "ok"], "{text}");
    assert!(lines
        .last()
        .unwrap()
        .contains("1 accounts checked: 1 ok, 0 failed"));
    assert!(
        mock.last_request("sk-ant-healthy").is_some(),
        "the probe reached the upstream with the account's key"
    );

    seed_account(&db, "acc-revoked", "revoked", "sk-ant-revoked", &mock.url()).await;
    sql(&db, "INSERT INTO accounts (id, name, platform, api_key_enc, api_key_hint, base_url, is_active, created_at, updated_at)
              VALUES ('acc-off', 'switched-off', 'claude', 'x', 'sk…', 'http://127.0.0.1:1', FALSE, 1, 1)")
        .await;
    let (hook, delivered) = receiver().await;
    let out = tollgate(
        &db,
        &["accounts", "check", "--webhook"],
        &[("WEBHOOK_ENABLED", "true"), ("WEBHOOK_URLS", &hook)],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        !text.contains("switched-off"),
        "inactive accounts are not tested:\n{text}"
    );
    let revoked = text.lines().find(|l| l.starts_with("revoked")).unwrap();
    assert!(
        revoked.contains("FAIL") && revoked.contains("HTTP 401"),
        "{revoked}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("healthy") && l.contains(" ok ")),
        "{text}"
    );
    assert!(
        text.contains("2 accounts checked: 1 ok, 1 failed"),
        "{text}"
    );
    // Delivered before the command exited.
    let events = delivered.lock().clone();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event"], "account.error");
    assert_eq!(events[0]["data"]["accountName"], "revoked");
    assert_eq!(events[0]["data"]["httpStatus"], 401);

    let out = tollgate(&db, &["accounts", "check", "--platform", "gemini"], &[]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "no active accounts to check\n");
    let out = tollgate(&db, &["accounts", "check", "--platform", "azure"], &[]).await;
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn accounts_check_without_the_encryption_key_fails_without_creating_one() {
    let db = TestDb::new(Backend::Sqlite).await;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    let out = cmd
        .args(["accounts", "check"])
        .env("DATABASE_URL", db.url())
        .env("TOLLGATE_DATA_DIR", db.dir.path())
        .env("LOG_LEVEL", "warn")
        .env_remove("ENCRYPTION_KEY")
        .current_dir(db.dir.path())
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("ENCRYPTION_KEY"), "{}", stderr(&out));
    assert!(!db.dir.path().join("encryption.key").exists());
}
