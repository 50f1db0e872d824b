//! The real binary under SIGTERM and kill -9: graceful shutdown bills everything (finished,
//! cut and refused alike) and exits 0; a crash loses at most the last unflushed batch and
//! leaves nothing stuck.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use mock_upstream::{Behavior, MockUpstream};
use serde_json::{json, Value};

struct Server {
    child: Child,
    url: String,
}

fn start(data: &std::path::Path, grace_secs: u64) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("serve")
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("TOLLGATE_DATA_DIR", data)
        .env("ADMIN_PASSWORD", "shutdown-test-password")
        .env("SHUTDOWN_GRACE_SECS", grace_secs.to_string())
        .env("LOG_LEVEL", "warn")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start tollgate");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(u) = line.split("listening on ").nth(1) {
            url = u.split_whitespace().next().unwrap().to_owned();
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    assert!(!url.is_empty());
    Server { child, url }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}

async fn setup(s: &Server, mock: &MockUpstream, key_body: Value) -> String {
    let c = reqwest::Client::new();
    let login: Value = c
        .post(format!("{}/admin/auth/login", s.url))
        .json(&json!({"username": "admin", "password": "shutdown-test-password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_owned();
    let accounts: Value = c
        .get(format!("{}/admin/accounts", s.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    if accounts.as_array().unwrap().is_empty() {
        let res = c
            .post(format!("{}/admin/accounts", s.url))
            .bearer_auth(&token)
            .json(&json!({"name": "a", "apiKey": "sk-shutdown", "baseUrl": mock.url()}))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
    }
    let key: Value = c
        .post(format!("{}/admin/api-keys", s.url))
        .bearer_auth(&token)
        .json(&key_body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    key["key"].as_str().unwrap().to_owned()
}

async fn db(data: &std::path::Path) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("tollgate.db").display()))
        .await
        .unwrap()
}

/// Waits until `f` holds, checking every 20 ms for at most 20 s.
async fn until(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn body(stream: bool, tag: &str) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": stream, "messages": [{"role": "user", "content": tag}]})
}

#[tokio::test]
async fn sigterm_finishes_or_cuts_streams_bills_them_all_and_exits_zero() {
    let data = tempfile::tempdir().unwrap();
    let mock = MockUpstream::start(Behavior::default()).await;
    // Short streams (~1 s) finish within the 3 s grace; long ones (~20 s) are cut.
    mock.set_behavior(
        "sk-shutdown",
        Behavior {
            chunks: 10,
            chunk_gap_ms: 100,
            ..Default::default()
        },
    );
    let server = start(data.path(), 3);
    let key = setup(&server, &mock, json!({"name": "k"})).await;
    let client = reqwest::Client::new();

    let reached = || mock.requests("sk-shutdown");
    let before = reached();
    let mut tasks = Vec::new();
    for i in 0..10 {
        let req = client
            .post(format!("{}/v1/messages", server.url))
            .header("x-api-key", &key)
            .json(&body(true, &format!("short{i}")));
        tasks.push(tokio::spawn(async move {
            let res = req.send().await.unwrap();
            let mut s = res.bytes_stream();
            let mut text = Vec::new();
            while let Some(Ok(c)) = s.next().await {
                text.extend_from_slice(&c);
            }
            String::from_utf8_lossy(&text).contains("message_stop")
        }));
    }
    // Long streams (~20 s): the mock reads the behaviour per request, so later requests differ.
    until("the short streams reached the upstream", async || {
        reached() >= before + 10
    })
    .await;
    mock.set_behavior(
        "sk-shutdown",
        Behavior {
            chunks: 200,
            chunk_gap_ms: 100,
            ..Default::default()
        },
    );
    let mut long = Vec::new();
    for i in 0..5 {
        let req = client
            .post(format!("{}/v1/messages", server.url))
            .header("x-api-key", &key)
            .json(&body(true, &format!("long{i}")));
        long.push(tokio::spawn(async move {
            let res = req.send().await.unwrap();
            let mut s = res.bytes_stream();
            let mut text = Vec::new();
            while let Some(Ok(c)) = s.next().await {
                text.extend_from_slice(&c);
            }
            String::from_utf8_lossy(&text).contains("message_stop")
        }));
    }
    until("the long streams reached the upstream", async || {
        reached() >= before + 15
    })
    .await;
    let signalled = Instant::now();
    let mut child = server.child;
    signal(&child, "TERM");
    // No new connections after the signal: the listener closes.
    let addr = server.url.trim_start_matches("http://").to_owned();
    until("the listener closed", async || {
        tokio::net::TcpStream::connect(&addr).await.is_err()
    })
    .await;
    let refused = client
        .post(format!("{}/v1/messages", server.url))
        .header("x-api-key", &key)
        .json(&body(false, "late"))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "new requests are not accepted during shutdown"
    );

    for t in tasks {
        assert!(
            t.await.unwrap(),
            "in-flight streams finish within the grace period"
        );
    }
    for t in long {
        assert!(!t.await.unwrap(), "streams beyond the grace period are cut");
    }
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "exit 0: {status:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "shutdown took {:?}",
        signalled.elapsed()
    );

    let pool = db(data.path()).await;
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(events, 15, "one usage event per request, none lost");
    let cut: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage_events WHERE error_type LIKE 'shutdown%' AND input_tokens > 0 AND cost_micros > 0")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(cut, 5, "cut streams are billed for what they used");
    let spent: i64 = sqlx::query_scalar("SELECT spent_micros FROM api_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    let sum: i64 = sqlx::query_scalar("SELECT CAST(SUM(cost_micros) AS BIGINT) FROM usage_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(spent, sum, "the key's spend matches its events");
}

#[tokio::test]
async fn kill_9_then_restart_recovers_without_stuck_state() {
    let data = tempfile::tempdir().unwrap();
    let mock = MockUpstream::start(Behavior {
        chunks: 5,
        chunk_gap_ms: 20,
        ..Default::default()
    })
    .await;
    let server = start(data.path(), 3);
    let key = setup(
        &server,
        &mock,
        json!({"name": "k", "quotaLimit": 100.0, "concurrencyLimit": 1}),
    )
    .await;
    let client = reqwest::Client::new();
    for i in 0..20 {
        let res = client
            .post(format!("{}/v1/messages", server.url))
            .header("x-api-key", &key)
            .json(&body(false, &format!("b{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    // A stream in flight holds the key's only slot and a reservation when the process dies.
    let open = client
        .post(format!("{}/v1/messages", server.url))
        .header("x-api-key", &key)
        .json(&body(true, "open"))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), 200);
    // The stream is under way (it holds the slot and its reservation), and the finished
    // requests had their time to be written.
    let mut open = open.bytes_stream();
    assert!(open.next().await.is_some_and(|c| c.is_ok()));
    let written = db(data.path()).await;
    until("the finished requests' usage written", async || {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage_events")
            .fetch_one(&written)
            .await
            .unwrap();
        n >= 19
    })
    .await;
    written.close().await;
    let mut child = server.child;
    signal(&child, "KILL");
    let _ = child.wait();
    drop(open);

    let pool = db(data.path()).await;
    let before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage_events")
        .fetch_one(&pool)
        .await
        .unwrap();
    let spent: i64 = sqlx::query_scalar("SELECT spent_micros FROM api_keys")
        .fetch_one(&pool)
        .await
        .unwrap();
    let sum: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) FROM usage_events",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(spent, sum, "spend is exact up to the last flushed batch");
    assert!(
        before >= 19,
        "at most the last batch was lost: {before} of 20 flushed"
    );
    pool.close().await;

    let server = start(data.path(), 3);
    // The key's single slot and its reservation did not survive the crash.
    let res = client
        .post(format!("{}/v1/messages", server.url))
        .header("x-api-key", &key)
        .json(&body(false, "after"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "no stuck slot after the restart");
    let remaining: f64 = res.headers()["x-tollgate-quota-remaining"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (100.0 - remaining - spent as f64 / 1e6).abs() < 0.01,
        "remaining {remaining} reflects the persisted spend"
    );
    let mut child = server.child;
    signal(&child, "TERM");
    assert!(child.wait().unwrap().success());
}
