//! The usage writer at its own level, on both databases: poison events (a model with NUL, or
//! 5 KB of incompressible text, which PostgreSQL refuses) are split off and set aside without
//! holding up the events around them, their cost still billed through a sanitised copy; a batch
//! written twice counts once.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestDb};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tollgate::pricing::TokenUsage;
use tollgate::relay::writer::{write_batch, UsageEvent, UsageWriter, WriterOptions};
use tollgate::storage::Store;

async fn scalar(store: &Store, sql: &str) -> i64 {
    match store {
        Store::Sqlite(p) => sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(p)
            .await
            .unwrap(),
        Store::Postgres(p) => sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(p)
            .await
            .unwrap(),
    }
}

async fn add_key(store: &Store, id: &str) {
    let sql = "INSERT INTO api_keys (id, key_hash, key_prefix, name, created_at, updated_at)
               VALUES ($1, $2, 'tg_', $1, 0, 0)";
    match store {
        Store::Sqlite(p) => sqlx::query(sql)
            .bind(id)
            .bind(format!("h-{id}"))
            .execute(p)
            .await
            .map(|_| ()),
        Store::Postgres(p) => sqlx::query(sql)
            .bind(id)
            .bind(format!("h-{id}"))
            .execute(p)
            .await
            .map(|_| ()),
    }
    .unwrap();
}

fn event(n: usize, key: &str, model: &str) -> UsageEvent {
    UsageEvent {
        request_id: format!("req-{n}"),
        key_id: key.into(),
        account_id: Some("acc".into()),
        platform: "claude",
        model: model.to_owned(),
        usage: TokenUsage {
            input: 10 + n as u64,
            output: 5,
            ..Default::default()
        },
        cost_micros: 100 + n as i64,
        status: 200,
        created_at: 1_700_000_000_000 + n as i64,
        ..Default::default()
    }
}

/// 5 KB of text no compressor can shrink much: random CJK characters.
fn incompressible(bytes: usize) -> String {
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut s = String::new();
    while s.len() < bytes {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        s.push(char::from_u32(0x4E00 + (seed % 20_000) as u32).unwrap());
    }
    s
}

async fn poison_does_not_block(backend: Backend) {
    let db = TestDb::new(backend).await;
    add_key(&db.store, "k1").await;
    let tasks = TaskTracker::new();
    let stop = CancellationToken::new();
    let writer = UsageWriter::spawn(
        db.store.clone(),
        chrono_tz::UTC,
        &tasks,
        stop.clone(),
        None,
        WriterOptions {
            queue_capacity: 4096,
            spool_dir: Some(db.dir.path().join("usage-spool")),
        },
    )
    .unwrap();
    writer.started().await;
    // One batch: good events around a NUL model and a 5 KB one.
    for n in 0..100 {
        let model = match n {
            30 => "claude\u{0}sonnet".to_owned(),
            60 => incompressible(5 * 1024),
            _ => "claude-sonnet-4-5".to_owned(),
        };
        writer.record(event(n, "k1", &model));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while writer.pending() > 0 {
        assert!(
            Instant::now() < deadline,
            "the writer is stuck: {} pending",
            writer.pending()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s = &db.store;
    assert_eq!(
        scalar(s, "SELECT COUNT(*) FROM usage_events").await,
        100,
        "every event is billed"
    );
    let expected_cost: i64 = (0..100).map(|n| 100 + n).sum();
    assert_eq!(
        scalar(
            s,
            "SELECT CAST(SUM(cost_micros) AS BIGINT) FROM usage_events"
        )
        .await,
        expected_cost
    );
    assert_eq!(
        scalar(s, "SELECT spent_micros FROM api_keys WHERE id = 'k1'").await,
        expected_cost
    );
    assert_eq!(
        scalar(s, "SELECT CAST(SUM(requests) AS BIGINT) FROM usage_daily").await,
        100
    );
    let dead = scalar(s, "SELECT COUNT(*) FROM usage_dead_letters").await;
    if backend == Backend::Postgres {
        // PostgreSQL refuses both: set aside, each billed through a sanitised copy.
        assert_eq!(dead, 2, "both poison events are dead letters");
        assert_eq!(writer.dead_letters(), 2);
        assert_eq!(
            scalar(s, "SELECT COUNT(*) FROM usage_dead_letters WHERE billed").await,
            2
        );
        let Store::Postgres(p) = s else {
            unreachable!()
        };
        let (event, error): (String, String) = sqlx::query_as(
            "SELECT event, error FROM usage_dead_letters WHERE request_id = 'req-30'",
        )
        .fetch_one(p)
        .await
        .unwrap();
        assert!(
            event.contains(r"claude\\u{0}sonnet"),
            "the NUL is kept, escaped: {event}"
        );
        assert!(!error.is_empty());
        let longest: i64 = scalar(
            s,
            "SELECT CAST(MAX(LENGTH(model)) AS BIGINT) FROM usage_events",
        )
        .await;
        assert!(
            longest <= 128,
            "the billed copy's model is capped: {longest}"
        );
    } else {
        // SQLite takes both as they are: nothing to set aside.
        assert_eq!(dead, 0);
    }
    // Later events are not held up either.
    writer.record(event(100, "k1", "claude-sonnet-4-5"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while scalar(s, "SELECT COUNT(*) FROM usage_events").await < 101 {
        assert!(Instant::now() < deadline, "a later event was not written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    tasks.close();
    tasks.wait().await;
}

#[tokio::test]
async fn poison_events_are_set_aside_without_blocking_on_postgres() {
    poison_does_not_block(Backend::Postgres).await;
}

#[tokio::test]
async fn poison_events_do_not_block_on_sqlite() {
    poison_does_not_block(Backend::Sqlite).await;
}

/// `n` events (450: seven full 64-row inserts and a 2-row one; 127: one insert of each of the
/// seven sizes), written, then written again
/// with one new event and one listed twice.
async fn a_batch_written_twice_counts_once(backend: Backend, n: usize) {
    let db = TestDb::new(backend).await;
    add_key(&db.store, "k1").await;
    let batch: Vec<UsageEvent> = (0..n)
        .map(|i| {
            let mut e = event(i, "k1", "m");
            // Every column's value differs by event, so a value in the wrong place shows.
            e.usage.cache_read = 3 * i as u64;
            e.latency_ms = 7 * i as i64;
            e.ttft_ms = (i % 2 == 0).then_some(i as i64);
            e.stream = i % 3 == 0;
            e.error_type = (i % 5 == 0).then(|| format!("err-{i}"));
            e
        })
        .collect();
    assert_eq!(
        write_batch(&db.store, chrono_tz::UTC, &batch)
            .await
            .unwrap(),
        n
    );
    let mut again = batch.clone();
    again.push(event(n, "k1", "m"));
    again.push(event(n, "k1", "m"));
    assert_eq!(
        write_batch(&db.store, chrono_tz::UTC, &again)
            .await
            .unwrap(),
        1
    );
    let s = &db.store;
    let sum: i64 = (0..=n as i64).map(|i| 100 + i).sum();
    let total = n as i64 + 1;
    assert_eq!(scalar(s, "SELECT COUNT(*) FROM usage_events").await, total);
    assert_eq!(scalar(s, "SELECT spent_micros FROM api_keys").await, sum);
    assert_eq!(scalar(s, "SELECT requests FROM api_keys").await, total);
    assert_eq!(
        scalar(s, "SELECT CAST(SUM(requests) AS BIGINT) FROM usage_hourly").await,
        total
    );
    assert_eq!(
        scalar(
            s,
            "SELECT CAST(SUM(cost_micros) AS BIGINT) FROM usage_daily_keys"
        )
        .await,
        sum
    );
    // The first and last events of the batch, column by column.
    for at in [0, n - 1] {
        let row = format!(
            "SELECT input_tokens * 1000000 + cache_read_tokens * 1000 + cost_micros - 100
                  + latency_ms * 1000000000 + COALESCE(ttft_ms, -1) * 10000000000000
                  + CASE WHEN stream THEN 100000000000000000 ELSE 0 END
                  + CASE WHEN error_type = 'err-{at}' THEN 1000000000000000000 ELSE 0 END
             FROM usage_events WHERE request_id = 'req-{at}'"
        );
        let i = at as i64;
        let want = (10 + i) * 1_000_000
            + 3 * i * 1000
            + i
            + 7 * i * 1_000_000_000
            + if at % 2 == 0 { i } else { -1 } * 10_000_000_000_000
            + if at % 3 == 0 {
                100_000_000_000_000_000
            } else {
                0
            }
            + if at % 5 == 0 {
                1_000_000_000_000_000_000
            } else {
                0
            };
        assert_eq!(scalar(s, &row).await, want, "event {at}");
    }
}

#[tokio::test]
async fn a_batch_written_twice_counts_once_on_both_databases() {
    for n in [10, 127, 450] {
        a_batch_written_twice_counts_once(Backend::Sqlite, n).await;
        a_batch_written_twice_counts_once(Backend::Postgres, n).await;
    }
}

#[path = "webhooks/harness.rs"]
#[allow(dead_code)]
mod harness;

/// The `usage.dead_letter` webhook reaches a real receiver over HTTP when PostgreSQL refuses an
/// event, naming how many were set aside and which requests; a batch without poison sends none.
#[tokio::test]
async fn dead_letters_are_announced_by_webhook() {
    let rx = harness::Receiver::start(harness::Script::ok()).await;
    let mut o = harness::opts();
    harness::env_target(&mut o, rx.url("/hooks/generic"), None);
    let hooks = harness::Running::start(&o).await;

    let db = TestDb::new(Backend::Postgres).await;
    add_key(&db.store, "k1").await;
    let tasks = TaskTracker::new();
    let stop = CancellationToken::new();
    let writer = UsageWriter::spawn(
        db.store.clone(),
        chrono_tz::UTC,
        &tasks,
        stop.clone(),
        Some(hooks.hooks.clone()),
        WriterOptions {
            queue_capacity: 4096,
            spool_dir: None,
        },
    )
    .unwrap();
    writer.started().await;
    for n in 0..10 {
        writer.record(event(n, "k1", "claude-sonnet-4-5"));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while scalar(&db.store, "SELECT COUNT(*) FROM usage_events").await < 10 {
        assert!(Instant::now() < deadline, "clean events were not written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(rx.requests().is_empty(), "no webhook for a clean batch");

    for n in 10..20 {
        let model = if n == 13 {
            "claude\u{0}sonnet".to_owned()
        } else {
            "claude-sonnet-4-5".to_owned()
        };
        writer.record(event(n, "k1", &model));
    }
    let req = rx.wait_for(1).await.remove(0);
    assert_eq!(req.header("x-tollgate-event"), "usage.dead_letter");
    let body = req.json();
    assert_eq!(body["event"], "usage.dead_letter", "{body}");
    assert_eq!(body["data"]["events"], 1, "{body}");
    assert_eq!(body["data"]["requestIds"][0], "req-13", "{body}");
    assert_eq!(writer.dead_letters(), 1);
    assert_eq!(
        scalar(&db.store, "SELECT COUNT(*) FROM usage_events").await,
        20,
        "the rest of the batch and the sanitised copy are billed"
    );
    let log = harness::wait_for_log(&hooks.db.store, 1).await;
    assert_eq!(
        (log[0].ok, log[0].event.as_str()),
        (true, "usage.dead_letter")
    );

    stop.cancel();
    tasks.close();
    tasks.wait().await;
    hooks.shutdown().await;
}

/// On a SQLite file the writer writes through a connection of its own, opened at its first
/// write: the relay's pool gains no connection from usage (nor the writer's compiled inserts and
/// cached pages), and what the writer wrote is there for the relay's pool to read. An in-memory
/// database, which a second pool could not open, and PostgreSQL share the pool.
#[tokio::test]
async fn the_writer_has_a_sqlite_connection_of_its_own() {
    let db = TestDb::new(Backend::Sqlite).await;
    add_key(&db.store, "k1").await;
    let Store::Sqlite(relays) = &db.store else {
        unreachable!("a SQLite test database")
    };
    let before = relays.size();
    let writers = db.store.for_usage_writer().expect("a pool of its own");
    let Store::Sqlite(own) = &writers else {
        unreachable!("SQLite stays SQLite")
    };
    assert_eq!(own.size(), 0, "opened at the first write, not before");
    for round in 0..3 {
        let batch: Vec<UsageEvent> = (0..100)
            .map(|i| event(round * 100 + i, "k1", "m"))
            .collect();
        write_batch(&writers, chrono_tz::UTC, &batch).await.unwrap();
    }
    assert_eq!(own.size(), 1);
    assert_eq!(relays.size(), before);
    assert_eq!(
        scalar(&db.store, "SELECT COUNT(*) FROM usage_events").await,
        300
    );
    assert_eq!(
        scalar(&db.store, "SELECT requests FROM api_keys").await,
        300
    );

    let memory = Store::connect("sqlite::memory:").await.unwrap();
    assert!(memory.for_usage_writer().is_none());
    let pg = TestDb::new(Backend::Postgres).await;
    assert!(pg.store.for_usage_writer().is_none());
}

/// The writer closes its own connection when it stops, before the relay's pool is closed: the
/// database's last connection then folds the WAL back and removes it, and what the writer
/// drained at the stop is in the database file.
#[tokio::test]
async fn the_writers_connection_is_closed_when_it_stops() {
    let db = TestDb::new(Backend::Sqlite).await;
    add_key(&db.store, "k1").await;
    let tasks = TaskTracker::new();
    let stop = CancellationToken::new();
    let writer = UsageWriter::spawn(
        db.store.clone(),
        chrono_tz::UTC,
        &tasks,
        stop.clone(),
        None,
        WriterOptions {
            queue_capacity: 64,
            spool_dir: None,
        },
    )
    .unwrap();
    writer.started().await;
    for n in 0..10 {
        writer.record(event(n, "k1", "m"));
    }
    stop.cancel();
    tasks.close();
    tasks.wait().await;
    assert_eq!(writer.pending(), 0);
    db.store.close().await;
    let wal = db.dir.path().join("t.db-wal");
    assert!(!wal.exists(), "{} left behind", wal.display());
    let url = format!("sqlite://{}", db.dir.path().join("t.db").display());
    let reopened = Store::connect(&url).await.unwrap();
    assert_eq!(
        scalar(&reopened, "SELECT COUNT(*) FROM usage_events").await,
        10
    );
}
