//! Usage survives the database: the real binary, a real mock upstream over loopback, and the
//! database's writes stopped under load (SQLite: another connection holds the write lock;
//! PostgreSQL: the connection is cut by a proxy in between), then SIGTERM, then a restart with
//! the database back. Every answered request's usage is in the database once, and each key's
//! spend equals the sum of its events. Also: what a `kill -9` under load loses, measured.

mod common;
mod outage_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Backend, TestDb};
use mock_upstream::{Behavior, MockUpstream};
use outage_support::*;
use serde_json::{json, Value};
use sqlx::Connection;
use tokio_util::sync::CancellationToken;

type Step = Box<dyn Fn() -> futures::future::LocalBoxFuture<'static, ()>>;

/// Sends load in rounds of 150 answered requests until `/health` says the writer is behind with
/// events in the spool (how many fit in the writer's batch depends on how fast the machine
/// answers), and returns how many were answered and the health seen.
async fn load_until_spooling(url: &str, key: &str) -> (usize, Value) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut answered = 0;
    loop {
        answered += load(url, key, 4, 150, CancellationToken::new()).await;
        let (status, body) = get_json(&format!("{url}/health")).await;
        assert_eq!(status, 200, "/health is about the process: 200");
        if body["status"] == "degraded" && body["usageWriter"]["spooled"].as_u64() > Some(0) {
            return (answered, body);
        }
        assert!(Instant::now() < deadline, "health never degraded: {body}");
    }
}

/// Waits until the database holds `n` answered events.
async fn until_written(store: &tollgate::storage::Store, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while (totals(store).await.0 as usize) < n {
        assert!(
            Instant::now() < deadline,
            "only {:?} of {n} written",
            totals(store).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Two outages under load: the first ends while the process runs (the spool is replayed
/// then), the second outlives a SIGTERM (the spool is replayed at the next start).
async fn outage_story(db: &TestDb, db_url: &str, begin_outage: Step, end_outage: Step) {
    let data = tempfile::tempdir().unwrap();
    let mock = MockUpstream::start(Behavior::default()).await;
    let server = start(data.path(), db_url);
    let key = setup(&server, &mock).await;
    let before = load(&server.url, &key, 2, 20, CancellationToken::new()).await;
    until_written(&db.store, before).await;
    assert_eq!(get_json(&format!("{}/ready", server.url)).await.0, 200);

    // Outage 1, under load; answers keep coming, events beyond the queue are spooled.
    begin_outage().await;
    let (first, health) = load_until_spooling(&server.url, &key).await;
    assert!(
        first >= 150,
        "the relay answers while the database is down: {first}"
    );
    assert!(
        health["details"]
            .to_string()
            .contains("usage writer behind by"),
        "{health}"
    );
    let (ready, body) = get_json(&format!("{}/ready", server.url)).await;
    assert_eq!(ready, 503, "not ready during the outage: {body}");
    // The database is back while the process runs: the spool is replayed, once.
    end_outage().await;
    until_written(&db.store, before + first).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while get_json(&format!("{}/ready", server.url)).await.0 != 200 {
        assert!(Instant::now() < deadline, "never ready again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (events, _, spent, sum, _) = totals(&db.store).await;
    assert_eq!(
        events as usize,
        before + first,
        "replayed once while running"
    );
    assert_eq!(spent, sum);

    // Outage 2 outlives a SIGTERM: what is still queued goes to the spool; exit 0.
    begin_outage().await;
    let (second, _) = load_until_spooling(&server.url, &key).await;
    let signalled = Instant::now();
    signal(&server.child, "TERM");
    let status = wait_exit(server.child).await;
    assert!(status.success(), "exit 0: {status:?}");
    assert!(
        signalled.elapsed() < Duration::from_secs(25),
        "{:?}",
        signalled.elapsed()
    );
    let spooled = spool_lines(data.path());
    assert!(
        spooled > 0,
        "the spool holds what the database did not take"
    );
    let answered = before + first + second;
    let (written, ..) = totals(&db.store).await;
    assert!(
        (written as usize) < answered,
        "the outage kept events out: {written}"
    );
    println!(
        "outage: {answered} answered ({before} before, {first} in outage 1, {second} in outage 2), \
         {written} in the database and {spooled} spooled at exit"
    );

    // The database is back: the next start replays the spool before it serves.
    end_outage().await;
    let server = start(data.path(), db_url);
    let (events, distinct, spent, sum, rollup) = totals(&db.store).await;
    assert_eq!(
        events as usize, answered,
        "every answered request's usage is in"
    );
    assert_eq!(distinct, events, "none twice");
    assert_eq!(spent, sum, "the key's spend equals the sum of its events");
    assert_eq!(rollup, events, "rollups counted each event once");
    assert_eq!(spool_lines(data.path()), 0, "the spool is empty");
    assert_eq!(get_json(&format!("{}/ready", server.url)).await.0, 200);
    assert_eq!(
        get_json(&format!("{}/health", server.url)).await.1,
        json!({"status": "ok"})
    );
    signal(&server.child, "TERM");
    assert!(wait_exit(server.child).await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_write_lock_under_load_then_sigterm_then_restart_loses_nothing() {
    let db = TestDb::new(Backend::Sqlite).await;
    let url = db.url();
    let lock: Arc<tokio::sync::Mutex<Option<sqlx::SqliteConnection>>> = Default::default();
    let (l1, l2, u1) = (lock.clone(), lock.clone(), url.clone());
    outage_story(
        &db,
        &url,
        Box::new(move || {
            let (lock, url) = (l1.clone(), u1.clone());
            Box::pin(async move {
                // Another connection holds SQLite's write lock: writes wait, then fail busy.
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::raw_sql("BEGIN EXCLUSIVE")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                *lock.lock().await = Some(conn);
            })
        }),
        Box::new(move || {
            let lock = l2.clone();
            Box::pin(async move {
                let mut conn = lock.lock().await.take().unwrap();
                sqlx::raw_sql("ROLLBACK").execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
            })
        }),
    )
    .await;
}

// The proxy runs on the test's runtime while the test thread blocks reading the child's output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connection_cut_under_load_then_sigterm_then_restart_loses_nothing() {
    let db = TestDb::new(Backend::Postgres).await;
    let direct = url::Url::parse(&db.url()).unwrap();
    let target = format!(
        "{}:{}",
        direct.host_str().unwrap(),
        direct.port().unwrap_or(5432)
    );
    let target: std::net::SocketAddr = tokio::net::lookup_host(target)
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = Arc::new(CuttableProxy::start(target).await);
    let mut via = direct.clone();
    via.set_host(Some("127.0.0.1")).unwrap();
    via.set_port(Some(proxy.addr.port())).unwrap();
    let (p1, p2) = (proxy.clone(), proxy.clone());
    outage_story(
        &db,
        via.as_str(),
        Box::new(move || {
            p1.cut();
            Box::pin(async {})
        }),
        Box::new(move || {
            p2.restore();
            Box::pin(async {})
        }),
    )
    .await;
}

/// `kill -9` under load loses at most what the writer had not committed: the events of its
/// linger window and the batch being written. Measured here and reported in the README.
#[tokio::test]
async fn kill_9_under_load_loses_at_most_the_unflushed_batch() {
    let db = TestDb::new(Backend::Sqlite).await;
    let data = tempfile::tempdir().unwrap();
    let mock = MockUpstream::start(Behavior::default()).await;
    let server = start(data.path(), &db.url());
    let key = setup(&server, &mock).await;
    let stop = CancellationToken::new();
    let started = Instant::now();
    let load = tokio::spawn({
        let (url, key, stop) = (server.url.clone(), key.clone(), stop.clone());
        async move { load(&url, &key, 4, usize::MAX, stop).await }
    });
    // Kill it mid-load, once it has answered a good number.
    let deadline = Instant::now() + Duration::from_secs(30);
    while totals(&db.store).await.0 < 300 {
        assert!(Instant::now() < deadline, "no load reached the database");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    signal(&server.child, "KILL");
    let _ = wait_exit(server.child).await;
    let elapsed = started.elapsed();
    stop.cancel();
    let answered = load.await.unwrap();
    let server = start(data.path(), &db.url());
    let (events, distinct, spent, sum, _) = totals(&db.store).await;
    let missing = answered.saturating_sub(events as usize);
    println!(
        "kill -9: {answered} answered in {:.1} s ({:.0}/s), {events} in the database, {missing} missing",
        elapsed.as_secs_f64(),
        answered as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(distinct, events);
    assert_eq!(spent, sum, "spend is exact for what was written");
    assert!(
        missing <= 1024,
        "at most one unflushed batch is lost: {missing}"
    );
    // Served (so its signal handler is in place), then stopped.
    assert_eq!(get_json(&format!("{}/ready", server.url)).await.0, 200);
    signal(&server.child, "TERM");
    assert!(wait_exit(server.child).await.success());
}
