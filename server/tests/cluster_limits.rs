//! Key limits with three real `tollgate serve` processes on one PostgreSQL (`CLUSTER=1`) and a
//! client rotating over them: the quota, the concurrency limit and its queue hold over all of
//! them, and a `kill -9` gives the dead instance's slots and slices back within the lease
//! timeout without losing or doubling the usage it wrote.

mod cluster;
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cluster::{wait_until, Cluster};
use futures::StreamExt;
use mock_upstream::{Behavior, MockUsage};
use serde_json::{json, Value};

/// 100 in × $3 + 600 out × $15 per MTok = $0.0093 a request.
const ONE_REQUEST: i64 = 9_300;
/// What a request reserves at most: its input plus `max_tokens` (1024) of output.
const MAX_COST: i64 = 16_000;

fn usage_behavior(chunks: usize, gap_ms: u64) -> Behavior {
    Behavior {
        usage: MockUsage {
            input: 100,
            output: 600,
            ..Default::default()
        },
        chunks,
        chunk_gap_ms: gap_ms,
        ..Default::default()
    }
}

fn body(stream: bool) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": stream,
           "messages": [{"role": "user", "content": "hi"}]})
}

async fn key_id(c: &Cluster, name: &str) -> String {
    let pool = c.pool().await;
    let id: String = sqlx::query_scalar("SELECT id FROM api_keys WHERE name = $1")
        .bind(name)
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    id
}

/// Spend and usage events of a key as the database has them, in one snapshot (the usage
/// writer adds both in one transaction).
async fn written(c: &Cluster, id: &str) -> (i64, i64, i64) {
    let pool = c.pool().await;
    let row: (i64, i64, i64) = sqlx::query_as(
        "SELECT k.spent_micros, COUNT(e.request_id), CAST(COALESCE(SUM(e.cost_micros), 0) AS BIGINT)
           FROM api_keys k LEFT JOIN usage_events e ON e.key_id = k.id
          WHERE k.id = $1 GROUP BY k.spent_micros",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    row
}

/// Waits until no more usage of the key comes in (every request answered is written).
async fn settled_usage(c: &Cluster, id: &str) -> (i64, i64, i64) {
    let mut last = written(c, id).await;
    let mut quiet = 0;
    let start = Instant::now();
    while quiet < 5 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = written(c, id).await;
        quiet = if now == last { quiet + 1 } else { 0 };
        last = now;
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "usage kept coming"
        );
    }
    last
}

async fn send_all(
    c: &Arc<Cluster>,
    key: &Arc<String>,
    n: usize,
    stream: bool,
) -> Vec<(u16, String)> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let req = c.messages_request(&c.next_url(), key, &body(stream));
        tasks.push(tokio::spawn(async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let text = res.text().await.unwrap_or_default();
            (status, text)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test]
async fn quota_holds_over_three_instances_under_500_concurrent_requests() {
    let c = Cluster::start(3, &[]).await;
    c.set_upstream(usage_behavior(2, 5));
    let key = c
        .create_key(json!({"name": "dollar", "quotaLimit": 1.0}))
        .await;
    let id = key_id(&c, "dollar").await;
    let (c, key) = (Arc::new(c), Arc::new(key));

    let results = send_all(&c, &key, 500, true).await;
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    let refused: Vec<_> = results.iter().filter(|(s, _)| *s == 402).collect();
    // 429: what an instance has left is held by its one request that could not reserve its
    // worst case; a retry after it ends may fit.
    let held = results
        .iter()
        .filter(|(s, t)| *s == 429 && t.contains("held by another request"))
        .count();
    assert_eq!(
        ok + refused.len() + held,
        500,
        "only 200s, 402s and 429s for a held remainder: {:?}",
        results
            .iter()
            .find(|(s, t)| *s != 200 && *s != 402 && !t.contains("held by another request"))
    );
    for (_, text) in &refused {
        assert!(text.contains("quota"), "a 402 says why: {text}");
    }
    wait_until(Duration::from_secs(20), "every request written", || async {
        written(&c, &id).await.1 >= 500
    })
    .await;
    let (spent, events, sum) = written(&c, &id).await;
    println!(
        "3 instances, quota $1.00, 500 concurrent: served {ok}, refused {}, held {held}, spent {spent} micro-USD, overshoot {} (bound: 3 x {MAX_COST})",
        refused.len(),
        spent - 1_000_000
    );
    assert_eq!(spent, sum, "spend is the sum of the events");
    assert_eq!(events, 500, "refusals leave events too, each once");
    assert!(spent <= 1_000_000 + 3 * MAX_COST, "overspent: {spent}");
    assert_eq!(
        ok as i64 * ONE_REQUEST,
        spent,
        "every served request billed once"
    );
    assert!(!refused.is_empty() && ok > 50);

    // What the burst's reservations held back is served afterwards, over all instances, until
    // every instance refuses: the quota is used up, never beyond one request per instance.
    let mut served: i64 = 0;
    let mut refusals_in_a_row: i64 = 0;
    while refusals_in_a_row < 6 {
        let res = c.post_messages(&key, &body(true)).await;
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        match status {
            200 => {
                served += 1;
                refusals_in_a_row = 0;
            }
            402 => {
                assert!(text.contains("quota"), "{text}");
                refusals_in_a_row += 1;
            }
            other => panic!("unexpected {other}: {text}"),
        }
        assert!(served < 200, "the quota never ran out");
    }
    wait_until(Duration::from_secs(20), "every request written", || async {
        written(&c, &id).await.1 >= 500 + served + refusals_in_a_row
    })
    .await;
    let (spent, _, sum) = written(&c, &id).await;
    println!(
        "then {served} more one at a time: spent {spent} micro-USD, overshoot {}",
        spent - 1_000_000
    );
    assert_eq!(spent, sum);
    assert!(spent <= 1_000_000 + 3 * MAX_COST, "overspent: {spent}");
    assert!(
        spent >= 1_000_000 - ONE_REQUEST,
        "refused too early: spent {spent}"
    );
}

#[tokio::test]
async fn concurrency_limit_and_queue_hold_over_three_instances() {
    let c = Cluster::start(3, &[]).await;
    // Slow streams: ~0.6 s each.
    c.set_upstream(usage_behavior(6, 100));
    let key = c
        .create_key(json!({"name": "three", "concurrencyLimit": 3,
            "concurrentRequestQueueEnabled": true, "concurrentRequestQueueMaxSize": 10,
            "concurrentRequestQueueTimeoutMs": 60000}))
        .await;
    let (c, key) = (Arc::new(c), Arc::new(key));
    c.mock.reset_stats();
    let started = Instant::now();
    let results = send_all(&c, &key, 30, true).await;
    let peak = c.mock.peak_in_flight();
    println!(
        "limit 3, 30 streams over 3 instances: peak upstream {peak}, took {:?}",
        started.elapsed()
    );
    assert!(
        results
            .iter()
            .all(|(s, t)| *s == 200 && t.contains("message_stop")),
        "all served through the queue"
    );
    assert!(
        peak <= 3,
        "the upstream saw {peak} requests of the key at once"
    );
    assert_eq!(peak, 3, "the limit is used");

    // A small queue (2 per instance): requests beyond limit + queue are refused at once.
    let small = c
        .create_key(json!({"name": "small", "concurrencyLimit": 3,
            "concurrentRequestQueueEnabled": true, "concurrentRequestQueueMaxSize": 2,
            "concurrentRequestQueueTimeoutMs": 60000}))
        .await;
    let small = Arc::new(small);
    c.mock.reset_stats();
    let results = send_all(&c, &small, 30, true).await;
    let peak = c.mock.peak_in_flight();
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    let full = results
        .iter()
        .filter(|(s, t)| *s == 429 && t.contains("queue is full"))
        .count();
    println!(
        "limit 3, queue 2 per instance, 30 streams: served {ok}, queue full {full}, peak {peak}"
    );
    assert_eq!(ok + full, 30, "{results:?}");
    assert!(full > 0 && ok >= 3);
    assert!(peak <= 3, "the upstream saw {peak} at once");
}

/// A request on `base`, sent again while it is refused with 503 (under load an instance's
/// heartbeat can come later than three quarters of the test's 2 s lease).
async fn past_503(c: &Cluster, base: &str, key: &str, stream: bool) -> reqwest::Response {
    let start = Instant::now();
    loop {
        let res = c
            .messages_request(base, key, &body(stream))
            .send()
            .await
            .unwrap();
        if res.status() != 503 || start.elapsed() > Duration::from_secs(10) {
            return res;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn kill_9_gives_slots_and_slices_back_within_the_lease_timeout() {
    let lease = Duration::from_secs(2);
    let mut c = Cluster::start(3, &[("CLUSTER_LEASE_SECS", "2")]).await;
    c.set_upstream(usage_behavior(2, 5));
    let key = c
        .create_key(json!({"name": "k9", "quotaLimit": 1.0, "concurrencyLimit": 2}))
        .await;
    let id = key_id(&c, "k9").await;
    let victim = c.url(1).to_owned();

    // Instance 1 serves some requests (it leases a slice) and writes their usage.
    for _ in 0..20 {
        let res = past_503(&c, &victim, &key, false).await;
        assert_eq!(res.status(), 200);
        let _ = res.bytes().await;
    }
    wait_until(
        Duration::from_secs(20),
        "instance 1's usage written",
        || async { written(&c, &id).await.1 >= 20 },
    )
    .await;
    let before: Vec<String> = {
        let pool = c.pool().await;
        let ids = sqlx::query_scalar("SELECT request_id FROM usage_events WHERE key_id = $1")
            .bind(&id)
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        ids
    };
    // Two long streams on instance 1 hold both of the key's slots (and a slice: an idle one
    // would have gone back).
    c.set_upstream(usage_behavior(600, 100));
    let mut streams = Vec::new();
    for _ in 0..2 {
        let res = past_503(&c, &victim, &key, true).await;
        assert_eq!(res.status(), 200);
        let mut s = res.bytes_stream();
        let _ = s.next().await;
        streams.push(s);
    }
    c.set_upstream(usage_behavior(2, 5));
    let leased = c
        .scalar(&format!(
            "SELECT CAST(COALESCE(SUM(budget), 0) AS BIGINT) FROM cluster_key_leases WHERE key_id = '{id}'"
        ))
        .await;
    assert!(leased > 0, "instance 1 holds a slice");
    println!("instance 1 holds {leased} micro-USD of the key's headroom when it is killed");
    let other = c.url(0).to_owned();
    let res = past_503(&c, &other, &key, false).await;
    assert_eq!(res.status(), 429, "both slots are held on instance 1");

    c.kill(1);
    let killed = Instant::now();
    // The others keep serving keys without a limit at once, and this key once the dead
    // instance's slots stop counting.
    let free = c.create_key(json!({"name": "free"})).await;
    let res = c
        .messages_request(&other, &free, &body(false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let _ = res.bytes().await;
    let mut tries = 0;
    loop {
        let res = c
            .messages_request(&c.next_url(), &key, &body(false))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let _ = res.bytes().await;
        if status == 200 {
            break;
        }
        // 503: the instance's own heartbeat is late (a loaded machine, a 2 s lease).
        assert!(status == 429 || status == 503, "{status}");
        tries += 1;
        assert!(
            killed.elapsed() < lease * 3,
            "slots still held after {:?}",
            killed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let back_after = killed.elapsed();
    println!("kill -9: the dead instance's slots came back after {back_after:?} ({tries} refusals; lease {lease:?})");
    assert!(back_after <= lease + Duration::from_millis(1500));
    drop(streams);

    // Its slice comes back too: the two left can spend the quota up to its end.
    let c = Arc::new(c);
    let key = Arc::new(key);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let results = send_all(&c, &key, 8, false).await;
        if results.iter().all(|(s, _)| *s == 402) {
            let (spent, _, _) = written(&c, &id).await;
            // Without the dead instance's slice, at most `1_000_000 - leased` could be spent.
            if spent >= 1_000_000 - 2 * MAX_COST && spent > 1_000_000 - leased {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the dead instance's slice never came back"
        );
    }
    let (spent, events, sum) = settled_usage(&c, &id).await;
    assert!(events > before.len() as i64);
    println!("after kill -9: spent {spent}, {events} events");
    assert_eq!(spent, sum, "spend is exactly the sum of the written events");
    assert!(spent <= 1_000_000 + 3 * MAX_COST, "overspent: {spent}");
    let pool = c.pool().await;
    for request_id in &before {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM usage_events WHERE key_id = $1 AND request_id = $2",
        )
        .bind(&id)
        .bind(request_id)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(n, 1, "event {request_id} of the dead instance kept once");
    }
    pool.close().await;
}
