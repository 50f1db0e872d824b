//! Rate windows and quota events with three real `tollgate serve` processes on one PostgreSQL
//! (`CLUSTER=1`) and a client rotating over them: a key's `rateLimitRequests` holds over all
//! of them (the database counts the window, on its own clock), a request refused later takes
//! its entry back, the window fails closed (503) when its statement fails, and a key's
//! quota warning is sent once, not once per instance.

mod cluster;
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::Router;
use cluster::{wait_until, Cluster};
use mock_upstream::{Behavior, MockUsage};
use serde_json::{json, Value};

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

fn body() -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": false,
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

async fn hits(c: &Cluster, id: &str) -> i64 {
    c.scalar(&format!(
        "SELECT COUNT(*) FROM cluster_rate_hits WHERE key_id = '{id}'"
    ))
    .await
}

/// Status, body and `Retry-After` of `n` concurrent requests rotated over the instances.
async fn send_all(c: &Arc<Cluster>, key: &str, n: usize) -> Vec<(u16, String, Option<u64>)> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let req = c.messages_request(&c.next_url(), key, &body());
        tasks.push(tokio::spawn(async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let retry = res
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
            (status, res.text().await.unwrap_or_default(), retry)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn served(results: &[(u16, String, Option<u64>)]) -> usize {
    results.iter().filter(|(s, _, _)| *s == 200).count()
}

/// Every refusal is the single-instance 429 of a full window.
fn assert_window_refusals(results: &[(u16, String, Option<u64>)]) {
    for (status, text, retry) in results.iter().filter(|(s, _, _)| *s != 200) {
        assert_eq!(*status, 429, "{text}");
        assert!(
            text.contains("rate_limit_error") && text.contains("5 requests per 1 minutes"),
            "{text}"
        );
        let retry = retry.expect("Retry-After on a full window");
        assert!((1..=60).contains(&retry), "retry-after {retry}");
    }
}

#[tokio::test]
async fn a_rate_window_holds_over_three_instances() {
    let c = Cluster::start(3, &[]).await;
    let key = c
        .create_key(json!({"name": "five", "rateLimitWindow": 1, "rateLimitRequests": 5}))
        .await;
    let id = key_id(&c, "five").await;
    let c = Arc::new(c);

    let results = send_all(&c, &key, 30).await;
    println!(
        "5 requests per minute, 30 at once over 3 instances: served {}",
        served(&results)
    );
    assert_eq!(served(&results), 5, "exactly the window: {results:?}");
    assert_window_refusals(&results);
    assert_eq!(hits(&c, &id).await, 5);
    // One at a time on each instance: still full.
    for i in 0..3 {
        let res = c
            .messages_request(c.url(i), &key, &body())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 429);
        assert_eq!(res.headers()["x-ratelimit-remaining-requests"], "0");
    }

    // The window passes (the database's clock decides: its entries move a window back
    // instead of the test waiting a minute). An instance remembers a refusal for at most a
    // second, then each serves again, until the window is full once more.
    let pool = c.pool().await;
    sqlx::query(
        "UPDATE cluster_rate_hits SET at = at - 60000, expires_at = expires_at - 60000
         WHERE key_id = $1",
    )
    .bind(&id)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    for i in 0..3 {
        let url = c.url(i).to_owned();
        wait_until(Duration::from_secs(3), "served again", || async {
            let res = c
                .messages_request(&url, &key, &body())
                .send()
                .await
                .unwrap();
            res.status() == 200
        })
        .await;
    }
    let results = send_all(&c, &key, 12).await;
    assert_eq!(served(&results), 2, "5 in the new window: {results:?}");
    assert_window_refusals(&results);
    assert_eq!(hits(&c, &id).await, 5, "the old entries are gone");
}

#[tokio::test]
async fn refused_requests_leave_no_entry_and_unlimited_requests_none_at_all() {
    let c = Cluster::start(3, &[]).await;
    // Slow answers (~0.6 s) hold the one concurrency slot.
    c.set_upstream(usage_behavior(6, 100));
    let key = c
        .create_key(
            json!({"name": "one", "rateLimitWindow": 1, "rateLimitRequests": 10,
                           "concurrencyLimit": 1}),
        )
        .await;
    let id = key_id(&c, "one").await;
    let c = Arc::new(c);
    let stream = |c: &Arc<Cluster>, url: String| {
        let mut b = body();
        b["stream"] = json!(true);
        let req = c.messages_request(&url, &key, &b);
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let text = res.text().await.unwrap_or_default();
            (status, text)
        }
    };
    let first = tokio::spawn(stream(&c, c.url(0).to_owned()));
    wait_until(
        Duration::from_secs(5),
        "the first request upstream",
        || async { c.mock.peak_in_flight() >= 1 },
    )
    .await;
    let mut refused = 0;
    for i in 0..6 {
        let (status, text) = stream(&c, c.url(i % 3).to_owned()).await;
        assert_eq!(status, 429, "{text}");
        assert!(text.contains("concurrency limit"), "{text}");
        refused += 1;
    }
    let (status, _) = first.await.unwrap();
    assert_eq!(status, 200);
    // The refused requests took their entries back (in the background).
    wait_until(Duration::from_secs(5), "refusals taken back", || async {
        hits(&c, &id).await == 1
    })
    .await;
    println!("concurrency 1: 1 served, {refused} refused, 1 entry in the window");

    // A window without a request limit (only a cost limit) records no requests.
    c.set_upstream(usage_behavior(2, 0));
    let costly = c
        .create_key(json!({"name": "cost", "rateLimitWindow": 1, "rateLimitCost": 5.0}))
        .await;
    let cost_id = key_id(&c, "cost").await;
    let results = send_all(&c, &costly, 6).await;
    assert_eq!(served(&results), 6);
    assert_eq!(hits(&c, &cost_id).await, 0);
}

#[tokio::test]
async fn a_failing_window_statement_refuses_rate_limited_keys_with_503() {
    let c = Cluster::start(3, &[]).await;
    let key = c
        .create_key(json!({"name": "r", "rateLimitWindow": 1, "rateLimitRequests": 100}))
        .await;
    let free = c.create_key(json!({"name": "free"})).await;
    let c = Arc::new(c);
    assert_eq!(served(&send_all(&c, &key, 3).await), 3);

    // The window cannot be counted: refused (fail closed), not served N times the limit.
    let pool = c.pool().await;
    sqlx::query("ALTER FUNCTION tollgate_rate_admit(TEXT, BIGINT, INTEGER) RENAME TO gone")
        .execute(&pool)
        .await
        .unwrap();
    let results = send_all(&c, &key, 6).await;
    for (status, text, retry) in &results {
        assert_eq!(*status, 503, "{text}");
        assert_eq!(*retry, Some(1));
    }
    assert_eq!(
        served(&send_all(&c, &free, 3).await),
        3,
        "keys without a window are served"
    );

    sqlx::query("ALTER FUNCTION gone(TEXT, BIGINT, INTEGER) RENAME TO tollgate_rate_admit")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(
        served(&send_all(&c, &key, 6).await),
        6,
        "back with the database"
    );
}

/// A webhook target counting the events it receives, by name.
#[derive(Clone, Default)]
struct Hooks(Arc<Mutex<Vec<String>>>);

impl Hooks {
    async fn start(&self) -> String {
        async fn record(State(hooks): State<Hooks>, body: Bytes) -> &'static str {
            let v: Value = serde_json::from_slice(&body).unwrap_or_default();
            let event = v["event"].as_str().unwrap_or_default().to_owned();
            hooks.0.lock().unwrap().push(event);
            "ok"
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = Router::new().fallback(record).with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn count(&self, event: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| *e == event)
            .count()
    }
}

#[tokio::test]
async fn a_quota_warning_is_sent_once_over_three_instances() {
    let hooks = Hooks::default();
    let url = hooks.start().await;
    // A short lease: slices another instance leased and left idle come back within 0.5 s.
    let c = Cluster::start(
        3,
        &[
            ("WEBHOOK_ENABLED", "true"),
            ("WEBHOOK_URLS", url.as_str()),
            ("CLUSTER_LEASE_SECS", "2"),
        ],
    )
    .await;
    c.set_upstream(usage_behavior(2, 0));
    // $0.0093 a request: the warning (80 %) comes after 18 requests.
    let key = c
        .create_key(json!({"name": "warned", "quotaLimit": 0.2}))
        .await;
    let id = key_id(&c, "warned").await;
    let c = Arc::new(c);
    let spent_sql = format!("SELECT spent_micros FROM api_keys WHERE id = '{id}'");
    let mut rounds = 0;
    while c.scalar(&spent_sql).await < 170_000 {
        let results = send_all(&c, &key, 6).await;
        assert!(
            results.iter().all(|(s, _, _)| *s == 200 || *s == 402),
            "{results:?}"
        );
        rounds += 1;
        assert!(rounds < 100, "the spend never reached the warning");
        if served(&results) == 0 {
            // Refused while the others hold the rest: their idle slices come back soon.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    wait_until(Duration::from_secs(10), "the warning delivered", || async {
        hooks.count("key.quota_warning") >= 1
    })
    .await;
    // Every instance has served past the mark by now; a late duplicate would have been sent
    // by the time a delivery takes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let claimed = c
        .scalar(&format!(
            "SELECT COUNT(*) FROM cluster_key_events WHERE key_id = '{id}' AND kind = 'key.quota_warning'"
        ))
        .await;
    println!(
        "quota $0.20 over 3 instances: {} warning(s), {} exhausted event(s) delivered",
        hooks.count("key.quota_warning"),
        hooks.count("key.quota_exhausted")
    );
    assert_eq!(claimed, 1);
    assert_eq!(
        hooks.count("key.quota_warning"),
        1,
        "once, not once per instance"
    );
    assert!(hooks.count("key.quota_exhausted") <= 1);
}
