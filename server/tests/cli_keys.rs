//! `tollgate keys create|cleanup`, run as the built binary against a temporary SQLite file.

mod common;

use std::process::{Command, Output};

use common::{Backend, TestDb};
use sqlx::SqlitePool;
use tollgate::crypto::token_hash;
use tollgate::storage::{now_ms, Store};

const DAY_MS: i64 = 86_400_000;

fn tollgate(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("TOLLGATE_DATA_DIR", db.dir.path())
        .env("LOG_LEVEL", "warn")
        .env_remove("ENCRYPTION_KEY")
        .current_dir(db.dir.path())
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn pool(db: &TestDb) -> &SqlitePool {
    match &db.store {
        Store::Sqlite(pool) => pool,
        Store::Postgres(_) => unreachable!("SQLite only"),
    }
}

async fn live_keys(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE deleted_at IS NULL")
        .fetch_one(pool(db))
        .await
        .unwrap()
}

/// Splits one CSV line of the export (names here contain no commas or quotes).
fn columns(line: &str) -> Vec<&str> {
    line.split(',').collect()
}

#[tokio::test]
async fn create_prints_csv_whose_keys_hash_to_stored_rows() {
    let db = TestDb::new(Backend::Sqlite).await;
    let out = tollgate(
        &db,
        &[
            "keys",
            "create",
            "--count",
            "3",
            "--name-template",
            "shop-{n}",
            "--quota",
            "20",
            "--expires-in-days",
            "7",
            "--concurrency",
            "2",
            "--queue-size",
            "4",
            "--queue-timeout-ms",
            "5000",
            "--rate-window",
            "60",
            "--rate-requests",
            "30",
            "--sale-price",
            "35",
            "--currency",
            "CNY",
            "--tags",
            "shop,june",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "name,key,id,expiresAt,quotaLimit");
    assert_eq!(lines.len(), 4, "{text}");
    for (n, line) in lines[1..].iter().enumerate() {
        let cols = columns(line);
        assert_eq!(cols.len(), 5, "{line}");
        assert_eq!(cols[0], format!("shop-{}", n + 1));
        assert!(cols[1].starts_with("tg_") && cols[1].len() == 46);
        assert_eq!(cols[4], "20");
        let expires = chrono::DateTime::parse_from_rfc3339(cols[3])
            .unwrap()
            .timestamp_millis();
        assert!((expires - (now_ms() + 7 * DAY_MS)).abs() < 60_000, "{line}");
        let row: (String, String, i64, i64, bool, i64, String, String) = sqlx::query_as(
            "SELECT id, name, quota_limit_micros, concurrency_limit, queue_enabled,
                    sale_price_micros, currency, tags
             FROM api_keys WHERE key_hash = $1",
        )
        .bind(token_hash(cols[1]))
        .fetch_one(pool(&db))
        .await
        .unwrap();
        assert_eq!(
            row,
            (
                cols[2].to_owned(),
                cols[0].to_owned(),
                20_000_000,
                2,
                true,
                35_000_000,
                "CNY".to_owned(),
                r#"["shop","june"]"#.to_owned()
            )
        );
    }
    assert!(!stderr(&out).contains("tg_"), "keys only on stdout");
}

#[tokio::test]
async fn create_from_order_numbers_and_presets() {
    let db = TestDb::new(Backend::Sqlite).await;
    let file = db.dir.path().join("orders.txt");
    std::fs::write(&file, "\u{feff}A1001\r\n\r\nA1002\nA1003\n").unwrap();
    let out = tollgate(
        &db,
        &[
            "keys",
            "create",
            "--names-file",
            file.to_str().unwrap(),
            "--name-template",
            "20刀体验_[订单号]",
            "--preset",
            "preset-trial",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let names: Vec<&str> = text.lines().skip(1).map(|l| columns(l)[0]).collect();
    assert_eq!(
        names,
        ["20刀体验_A1001", "20刀体验_A1002", "20刀体验_A1003"]
    );
    assert!(
        text.lines().skip(1).all(|l| columns(l)[4] == "20"),
        "{text}"
    );
    let from_preset: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM api_keys WHERE preset_id = 'preset-trial' AND concurrency_limit = 3",
    )
    .fetch_one(pool(&db))
    .await
    .unwrap();
    assert_eq!(from_preset, 3);
}

#[tokio::test]
async fn bad_create_arguments_exit_2_and_create_nothing() {
    let db = TestDb::new(Backend::Sqlite).await;
    for (args, mentions) in [
        (
            vec![
                "keys",
                "create",
                "--count",
                "2",
                "--name-template",
                "k{n}",
                "--quota=-1",
            ],
            "--quota",
        ),
        (
            vec!["keys", "create", "--count", "0", "--name-template", "k{n}"],
            "--count",
        ),
        (
            vec!["keys", "create", "--count", "2", "--name-template", "same"],
            "--name-template",
        ),
        (
            vec![
                "keys",
                "create",
                "--count",
                "2",
                "--name-template",
                "k{n}",
                "--preset",
                "nope",
            ],
            "--preset",
        ),
        (
            vec![
                "keys",
                "create",
                "--count",
                "2",
                "--name-template",
                "k{n}",
                "--currency",
                "usd",
            ],
            "--currency",
        ),
        (
            vec!["keys", "create", "--names-file", "/nonexistent/orders.txt"],
            "--names-file",
        ),
        (vec!["keys", "create", "--name-template", "k{n}"], "--count"),
        (
            vec![
                "keys",
                "create",
                "--count",
                "1",
                "--name-template",
                "k",
                "--expires-in-days",
                "3",
                "--activation-days",
                "3",
            ],
            "--activation-days",
        ),
    ] {
        let out = tollgate(&db, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(mentions),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty(), "{args:?}");
    }
    assert_eq!(live_keys(&db).await, 0);
}

/// Keys of every kind of expiry, inserted directly, named after what cleanup should do.
async fn seed_expiries(db: &TestDb) {
    let now = now_ms();
    let rows = [
        ("old-fixed", Some(now - 10 * DAY_MS), None, None),
        ("old-activation", None, Some(30), Some(now - 40 * DAY_MS)),
        ("recent", Some(now - DAY_MS), None, None),
        ("unactivated", None, Some(30), None),
        ("future", Some(now + DAY_MS), None, None),
        ("forever", None, None, None),
    ];
    for (i, (name, expires, days, activated)) in rows.into_iter().enumerate() {
        sqlx::query(
            "INSERT INTO api_keys (id, key_hash, key_prefix, name, expires_at, activation_days,
                                   activated_at, created_at, updated_at)
             VALUES ($1, $2, 'tg_x', $1, $3, $4, $5, $6, $6)",
        )
        .bind(name)
        .bind(format!("hash-{i}"))
        .bind(expires)
        .bind(days)
        .bind(activated)
        .bind(now - 50 * DAY_MS)
        .execute(pool(db))
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO usage_events (request_id, key_id, platform, model, status, created_at)
         VALUES ('r1', 'old-fixed', 'claude', 'claude-sonnet-4-5', 200, $1)",
    )
    .bind(now - 12 * DAY_MS)
    .execute(pool(db))
    .await
    .unwrap();
}

async fn deleted(db: &TestDb) -> Vec<String> {
    sqlx::query_scalar("SELECT id FROM api_keys WHERE deleted_at IS NOT NULL ORDER BY id")
        .fetch_all(pool(db))
        .await
        .unwrap()
}

#[tokio::test]
async fn cleanup_dry_run_lists_and_changes_nothing() {
    let db = TestDb::new(Backend::Sqlite).await;
    seed_expiries(&db).await;
    let out = tollgate(&db, &["keys", "cleanup", "--dry-run", "--older-than", "7d"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let listed: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("would delete\t"))
        .map(|l| l.split('\t').nth(1).unwrap())
        .collect();
    assert_eq!(listed, ["old-activation", "old-fixed"], "{text}");
    assert!(text.contains("dry run: 2 keys"), "{text}");
    assert!(deleted(&db).await.is_empty());
    assert_eq!(live_keys(&db).await, 6);
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events")
        .fetch_one(pool(&db))
        .await
        .unwrap();
    assert_eq!(audited, 0, "a dry run changes nothing and records nothing");
}

#[tokio::test]
async fn cleanup_deletes_only_old_expired_keys_and_keeps_usage() {
    let db = TestDb::new(Backend::Sqlite).await;
    seed_expiries(&db).await;
    let out = tollgate(&db, &["keys", "cleanup", "--older-than", "7d"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        text.lines().filter(|l| l.starts_with("deleted\t")).count(),
        2,
        "{text}"
    );
    assert!(
        text.ends_with("2 keys expired more than 7d ago deleted\n"),
        "{text}"
    );
    assert_eq!(deleted(&db).await, ["old-activation", "old-fixed"]);
    let usage: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM usage_events WHERE key_id = 'old-fixed'")
            .fetch_one(pool(&db))
            .await
            .unwrap();
    assert_eq!(usage, 1, "usage history stays");
    // One audit row, by the command line's actor, naming what went.
    let (actor, action, summary): (String, String, String) = sqlx::query_as(
        "SELECT actor_id, action, summary FROM audit_events WHERE action = 'key.cleanup'",
    )
    .fetch_one(pool(&db))
    .await
    .unwrap();
    assert_eq!((actor.as_str(), action.as_str()), ("cli", "key.cleanup"));
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["deleted"], 2, "{summary}");
    assert_eq!(
        summary["ids"],
        serde_json::json!(["old-activation", "old-fixed"])
    );

    // Nothing left at 7 days: still success. The default (0) then takes the recent one too.
    let out = tollgate(&db, &["keys", "cleanup", "--older-than", "7d"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "no keys expired more than 7d ago\n");
    let out = tollgate(&db, &["keys", "cleanup", "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "quiet");
    assert_eq!(
        deleted(&db).await,
        ["old-activation", "old-fixed", "recent"]
    );
}

#[tokio::test]
async fn cleanup_refuses_bad_durations_with_exit_2() {
    let db = TestDb::new(Backend::Sqlite).await;
    seed_expiries(&db).await;
    for bad in ["7", "7w", "-1d", "soon"] {
        let out = tollgate(&db, &["keys", "cleanup", "--older-than", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
    assert!(deleted(&db).await.is_empty());
}

#[tokio::test]
async fn names_a_spreadsheet_would_run_are_written_as_text() {
    let db = TestDb::new(Backend::Sqlite).await;
    let file = db.dir.path().join("orders.txt");
    std::fs::write(&file, "=1+1\n+cmd\n@SUM(A1)\n-2+3\n").unwrap();
    let out = tollgate(
        &db,
        &[
            "keys",
            "create",
            "--names-file",
            file.to_str().unwrap(),
            "--name-template",
            "[订单号]",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let names: Vec<&str> = text.lines().skip(1).map(|l| columns(l)[0]).collect();
    assert_eq!(names, ["'=1+1", "'+cmd", "'@SUM(A1)", "'-2+3"], "{text}");
    // The stored names are the names as given; only the CSV cell is defused.
    let stored: Vec<String> = sqlx::query_scalar("SELECT name FROM api_keys ORDER BY name")
        .fetch_all(pool(&db))
        .await
        .unwrap();
    assert_eq!(stored, ["+cmd", "-2+3", "=1+1", "@SUM(A1)"]);
}
