//! Credentials at rest, over real HTTP against the mock upstream: ciphertexts bound to their row,
//! values of the earlier format upgraded at start-up (on SQLite and PostgreSQL, with a raw key
//! and with a passphrase), and the data directory and database files private to their owner.

mod common;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::{messages_body, spawn_app, spawn_app_on_with, Backend, TestApp, TestDb};
use mock_upstream::{Behavior, MockUpstream};
use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};
use tollgate::crypto::Binding;
use tollgate::relay::control::RelayControl;

/// The key `test_settings` configures (64 hex characters).
fn test_key() -> [u8; 32] {
    [0xab; 32]
}

/// A value as Tollgate wrote it before row binding: `v1:` + base64(nonce ‖ ciphertext), no
/// associated data.
fn legacy_ciphertext(key: &[u8; 32], plaintext: &str) -> String {
    let aead = Aes256Gcm::new(key.into());
    let nonce = [3u8; 12];
    let ct = aead
        .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
        .unwrap();
    format!("v1:{}", B64.encode([&nonce[..], &ct].concat()))
}

async fn exec(db: &TestDb, sql: &str) {
    match &db.store {
        tollgate::storage::Store::Sqlite(p) => {
            sqlx::query(sql).execute(p).await.unwrap();
        }
        tollgate::storage::Store::Postgres(p) => {
            sqlx::query(sql).execute(p).await.unwrap();
        }
    }
}

async fn relay(app: &TestApp, key: &str) -> StatusCode {
    app.client
        .post(app.url("/v1/messages"))
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(&messages_body("claude-sonnet-4-5", false))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_credential_copied_to_another_account_does_not_decrypt() {
    let app = spawn_app().await;
    let mock = MockUpstream::start(Behavior::default()).await;
    let token = app.admin_token().await;
    let a = app
        .create_account(
            &token,
            json!({ "name": "a", "apiKey": "sk-ant-account-a", "baseUrl": mock.url() }),
        )
        .await;
    let b = app
        .create_account(
            &token,
            json!({ "name": "b", "apiKey": "sk-ant-account-b", "baseUrl": mock.url(), "accountType": "dedicated" }),
        )
        .await;
    let (_, key) = app
        .create_key(&token, json!({ "name": "on b", "claudeAccountId": b }))
        .await;
    assert_eq!(relay(&app, &key).await, StatusCode::OK);
    assert_eq!(mock.requests("sk-ant-account-b"), 1);

    // Someone with write access to the database points B at A's credential.
    exec(
        &app.db,
        &format!(
            "UPDATE accounts SET api_key_enc = (SELECT api_key_enc FROM accounts WHERE id = '{a}') WHERE id = '{b}'"
        ),
    )
    .await;
    let (status, _) = app
        .admin_send(
            &token,
            reqwest::Method::PATCH,
            &format!("/admin/accounts/{b}"),
            Some(json!({ "name": "b-renamed" })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(relay(&app, &key).await, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        mock.requests("sk-ant-account-a"),
        0,
        "A's credential was never sent on B's behalf"
    );
    let snapshot = app.relay.pool().snapshot();
    let unusable = snapshot.by_id[b.as_str()].unusable.clone().unwrap();
    assert!(unusable.contains("cannot be decrypted"), "{unusable}");
    app.stop().await;
}

/// Seeds an account and a webhook target in the earlier format, starts the app with
/// `encryption_key`, and checks both were rewritten and still work.
async fn legacy_values_are_upgraded(backend: Backend, encryption_key: &str, legacy_key: [u8; 32]) {
    let db = TestDb::new(backend).await;
    let mock = MockUpstream::start(Behavior::default()).await;
    let api_key = legacy_ciphertext(&legacy_key, "sk-ant-legacy");
    let url = legacy_ciphertext(&legacy_key, "http://127.0.0.1:9/hook");
    exec(
        &db,
        &format!(
            "INSERT INTO accounts (id, name, platform, api_key_enc, api_key_hint, base_url, created_at, updated_at)
             VALUES ('acct-old', 'old', 'claude', '{api_key}', 'sk…', '{}', 1, 1)",
            mock.url()
        ),
    )
    .await;
    exec(
        &db,
        &format!(
            "INSERT INTO webhook_targets (id, name, kind, url_enc, url_hint, events, enabled, created_at, updated_at)
             VALUES ('hook-old', 'old', 'generic', '{url}', 'hint', '[]', false, 1, 1)"
        ),
    )
    .await;
    let key = encryption_key.to_owned();
    let app = spawn_app_on_with(db, move |s| {
        s.common.encryption_key = Some(tollgate::secret::Secret::new(key));
    })
    .await;
    let (stored_key, stored_url): (String, String) = app
        .fetch_one(
            "SELECT a.api_key_enc, w.url_enc FROM accounts a, webhook_targets w
             WHERE a.id = 'acct-old' AND w.id = 'hook-old'",
        )
        .await;
    assert!(stored_key.starts_with("v2:") && stored_url.starts_with("v2:"));
    let cipher = app.admin.cipher();
    assert_eq!(
        cipher
            .decrypt(Binding::webhook_url("hook-old"), &stored_url)
            .unwrap()
            .expose(),
        "http://127.0.0.1:9/hook"
    );
    assert!(cipher
        .decrypt(Binding::webhook_url("another"), &stored_url)
        .is_err());

    let token = app.admin_token().await;
    let (_, key) = app.create_key(&token, json!({ "name": "k" })).await;
    assert_eq!(relay(&app, &key).await, StatusCode::OK);
    assert_eq!(mock.requests("sk-ant-legacy"), 1);
    app.stop().await;
}

#[tokio::test]
async fn legacy_values_are_upgraded_at_start_on_sqlite() {
    legacy_values_are_upgraded(Backend::Sqlite, &"ab".repeat(32), test_key()).await;
}

#[tokio::test]
async fn legacy_values_are_upgraded_at_start_on_postgres() {
    legacy_values_are_upgraded(Backend::Postgres, &"ab".repeat(32), test_key()).await;
}

#[tokio::test]
async fn legacy_values_under_a_passphrase_move_to_the_stretched_key() {
    let passphrase = "a long passphrase that an operator typed into the environment";
    let sha: [u8; 32] = Sha256::digest(passphrase.as_bytes()).into();
    legacy_values_are_upgraded(Backend::Sqlite, passphrase, sha).await;
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let data_dir = parent.path().join("data");
    let mut settings = common::test_settings(&data_dir);
    settings.common.database_url = None;
    let app = tollgate::startup::Application::build(settings)
        .await
        .unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let addr = app.local_addr();
    let server = tokio::spawn(app.run(shutdown.clone()));
    // A write, so that the WAL and its index exist.
    let res = reqwest::Client::new()
        .post(format!("http://{addr}/admin/auth/login"))
        .json(&json!({ "username": "admin", "password": common::ADMIN_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mode = |name: &str| {
        std::fs::metadata(data_dir.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(""), 0o700, "data directory");
    for file in ["tollgate.db", "tollgate.db-wal", "tollgate.db-shm"] {
        assert_eq!(mode(file), 0o600, "{file}");
    }
    shutdown.cancel();
    let _ = server.await;
}
