//! `tollgate accounts check` reports account budgets (the seed's hourly balance check) and
//! exits 1 when one is exhausted or projected to run out within `--budget-within`; run as the
//! built binary against a seeded temporary SQLite file.

mod common;

use std::process::Output;

use common::{Backend, TestDb};
use tokio::process::Command;
use tollgate::storage::Store;

async fn tollgate(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("TOLLGATE_DATA_DIR", db.dir.path())
        .env("ENCRYPTION_KEY", "cd".repeat(32))
        .env("TOLLGATE_TIMEZONE", "Asia/Shanghai")
        .env("LOG_LEVEL", "warn")
        .env_remove("WEBHOOK_ENABLED")
        .env_remove("WEBHOOK_URLS")
        .current_dir(db.dir.path())
        .output()
        .await
        .unwrap()
}

async fn sql(db: &TestDb, statements: &str) {
    match &db.store {
        Store::Sqlite(p) => {
            sqlx::raw_sql(statements).execute(p).await.unwrap();
        }
        Store::Postgres(_) => unreachable!("SQLite only"),
    }
}

#[tokio::test]
async fn accounts_check_reports_budgets_and_fails_when_one_runs_out() {
    let db = TestDb::new(Backend::Sqlite).await;
    let now = chrono::Utc::now().timestamp_millis();
    let hour = now - now.rem_euclid(3_600_000);
    let day = 86_400_000;
    // $9 prepaid since 2 days ago; $7 spent ($1 a day over the last 7 days): $2 left, 2 days.
    sql(
        &db,
        &format!(
            "INSERT INTO accounts (id, name, platform, api_key_enc, api_key_hint, base_url, created_at, updated_at)
             VALUES ('acc-1', 'claude-main', 'claude', 'x', 'sk…', 'http://127.0.0.1:9', 1, 1);
             INSERT INTO account_budgets (account_id, kind, amount_micros, thresholds, stop_when_exhausted,
                 fired, period_start, created_at, updated_at)
             VALUES ('acc-1', 'prepaid', 9000000, '[0.8,0.95]', TRUE, '[]', {start}, {start}, {start});
             INSERT INTO usage_hourly (bucket, key_id, account_id, model, platform, requests, cost_micros)
             VALUES ({h1}, 'k', 'acc-1', 'm', 'claude', 1, 4000000),
                    ({h2}, 'k', 'acc-1', 'm', 'claude', 1, 3000000);",
            start = now - 2 * day,
            h1 = hour - 30 * 3_600_000,
            h2 = hour,
        ),
    )
    .await;
    let out = tollgate(&db, &["accounts", "check", "--budgets-only"]).await;
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(out.status.code(), Some(1), "runs out within 3 days: {text}");
    assert!(
        text.contains("claude-main  prepaid  LOW  spent $7.00 of $9.00, $2.00 left (78% used)"),
        "{text}"
    );
    assert!(
        text.contains("1 budgets: 1 exhausted or running out within 72h"),
        "{text}"
    );

    // Within 12 hours it does not run out: exit 0.
    let out = tollgate(
        &db,
        &[
            "accounts",
            "check",
            "--budgets-only",
            "--budget-within",
            "12h",
        ],
    )
    .await;
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("  ok  "), "{text}");

    // Spent beyond the balance: exhausted, whatever the window.
    sql(
        &db,
        &format!(
            "INSERT INTO usage_hourly (bucket, key_id, account_id, model, platform, requests, cost_micros)
             VALUES ({}, 'k2', 'acc-1', 'm', 'claude', 1, 5000000);",
            hour
        ),
    )
    .await;
    let out = tollgate(
        &db,
        &[
            "accounts",
            "check",
            "--budgets-only",
            "--budget-within",
            "0",
        ],
    )
    .await;
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("EXHAUSTED"), "{text}");
}
