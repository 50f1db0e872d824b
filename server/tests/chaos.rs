//! The hostile-client chaos test: over real HTTP against the in-repo mock, 10,000 requests from
//! several keys over 3 accounts, each request drawing its own misfortune — the client hangs up
//! before the headers, mid-stream or after the last delta; the upstream resets or stalls
//! mid-stream, or answers 429/529/500, or refuses the request (403/404); model names that are
//! oversize or carry control characters; `n` > 1. Then, on SQLite and on PostgreSQL: nothing is
//! left held (slots, reservations, in-flight counts, the memory budget), every upstream 2xx is
//! billed above $0, usage events add up to the keys' spend, no key is over its quota by more
//! than one request's cost, no account is in `error`, and the usage writer has nothing left.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tollgate::relay::control::RelayControl;

use common::{spawn_app_with, Backend, TestApp};
use futures::StreamExt;
use mock_upstream::{Behavior, MockUpstream};
use parking_lot::Mutex;
use serde_json::{json, Value};

const REQUESTS: usize = 10_000;
const CONCURRENCY: usize = 48;

/// What one request does to itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Plan {
    Stream,
    Whole,
    GoneBeforeHeaders,
    GoneMidStream,
    GoneAfterLastDelta,
    UpstreamReset,
    UpstreamStall,
    Status429,
    Status529,
    Status500,
    Refused403,
    Refused404,
    OversizeModel,
    ControlModel,
    ManyChoices,
}

impl Plan {
    /// A plan from a number in 0..1000, weighted: mostly ordinary traffic.
    fn draw(n: u64) -> Plan {
        match n % 1000 {
            0..=399 => Plan::Stream,
            400..=599 => Plan::Whole,
            600..=659 => Plan::GoneBeforeHeaders,
            660..=729 => Plan::GoneMidStream,
            730..=799 => Plan::GoneAfterLastDelta,
            800..=839 => Plan::UpstreamReset,
            840..=869 => Plan::UpstreamStall,
            870..=874 => Plan::Status429,
            875..=879 => Plan::Status529,
            880..=894 => Plan::Status500,
            895..=929 => Plan::Refused403,
            930..=949 => Plan::Refused404,
            950..=964 => Plan::OversizeModel,
            965..=979 => Plan::ControlModel,
            _ => Plan::ManyChoices,
        }
    }
}

/// A small deterministic generator (xorshift), so a failure can be replayed by its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

struct Tally {
    by_status: Mutex<HashMap<String, u64>>,
    by_plan: Mutex<HashMap<Plan, u64>>,
    client_2xx: AtomicU64,
}

impl Tally {
    fn count(&self, plan: Plan, outcome: String) {
        *self.by_status.lock().entry(outcome).or_default() += 1;
        *self.by_plan.lock().entry(plan).or_default() += 1;
    }
}

fn body_for(plan: Plan, i: usize, stream: bool) -> Value {
    let fault = match plan {
        Plan::GoneBeforeHeaders => json!({"type": "stallBeforeHeaders"}),
        Plan::GoneMidStream | Plan::UpstreamStall => json!({"type": "stall", "afterChunks": 1}),
        Plan::UpstreamReset => json!({"type": "resetMidStream", "afterChunks": 1}),
        Plan::Status429 => json!({"type": "status", "status": 429, "retryAfterSecs": 1}),
        Plan::Status529 => json!({"type": "status", "status": 529}),
        Plan::Status500 => json!({"type": "status", "status": 500}),
        Plan::Refused403 => json!({"type": "refused", "status": 403}),
        Plan::Refused404 => json!({"type": "refused", "status": 404}),
        _ => Value::Null,
    };
    let model = match plan {
        Plan::OversizeModel => format!("claude-{}", "x".repeat(4_000 + i % 100)),
        Plan::ControlModel => format!("claude-sonnet-4-5\u{0}\u{7}{i}"),
        _ => "claude-sonnet-4-5".to_owned(),
    };
    let mut body = json!({
        "model": model,
        "max_tokens": 256,
        "stream": stream,
        "messages": [{"role": "user", "content": format!("chaos request {i}")}],
    });
    if i.is_multiple_of(7) {
        // Client-chosen session ids, many of them.
        body["metadata"] = json!({"user_id": format!("user_x_account__session_{i:08}")});
    }
    if !fault.is_null() {
        body["mockFault"] = fault;
    }
    body
}

/// One request, played out as its plan says; returns how it ended for the tally.
async fn one(app: &TestApp, key: &str, plan: Plan, i: usize) -> (String, bool) {
    if plan == Plan::ManyChoices {
        let body = json!({"model": "claude-sonnet-4-5", "n": 2 + i % 3, "max_tokens": 64,
            "messages": [{"role": "user", "content": format!("n {i}")}]});
        let res = app
            .client
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await;
        return match res {
            Ok(r) => {
                let s = r.status();
                let _ = r.bytes().await;
                (s.as_u16().to_string(), s.is_success())
            }
            Err(_) => ("transport".into(), false),
        };
    }
    let stream = !matches!(plan, Plan::Whole) && (plan != Plan::Refused404 || i.is_multiple_of(2));
    let body = body_for(plan, i, stream);
    let mut req = app
        .client
        .post(app.url("/v1/messages"))
        .header("x-api-key", key)
        .json(&body);
    if plan == Plan::GoneBeforeHeaders {
        req = req.timeout(Duration::from_millis(150));
    }
    let res = match req.send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return ("gone before headers".into(), false),
        Err(_) => return ("transport".into(), false),
    };
    let status = res.status();
    let ok = status.is_success();
    let mut body = res.bytes_stream();
    match plan {
        Plan::GoneMidStream => {
            // The first bytes, then away.
            let _ = body.next().await;
            return (format!("{} gone mid-stream", status.as_u16()), ok);
        }
        Plan::GoneAfterLastDelta => {
            let mut seen = Vec::new();
            while let Some(Ok(chunk)) = body.next().await {
                seen.extend_from_slice(&chunk);
                if memchr::memmem::find(&seen, b"message_delta").is_some() {
                    return (format!("{} gone after last delta", status.as_u16()), ok);
                }
            }
        }
        _ => while let Some(Ok(_)) = body.next().await {},
    }
    (status.as_u16().to_string(), ok)
}

async fn settle(app: &TestApp, accounts: &[String]) {
    let relay = app.relay();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let held = relay.held();
        let in_flight: u32 = accounts
            .iter()
            .map(|a| relay.pool().live().in_flight(a))
            .sum();
        let pending = relay.usage_backlog().pending;
        if held.is_idle() && in_flight == 0 && pending == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still held after the run: {held:?}, in flight {in_flight}, writer pending {pending}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn run_chaos(backend: Backend) {
    let started = Instant::now();
    let app = spawn_app_with(backend, |s| {
        s.serve.relay.idle_timeout_ms = 800;
        s.serve.relay.first_byte_timeout_ms = 1_500;
        s.serve.scheduler.overload_cooldown_secs = 1;
        s.serve.scheduler.rate_limit_default_secs = 1;
        s.serve.scheduler.error_cooldown_secs = 1;
        s.serve.scheduler.max_cooldown_secs = 1;
        s.serve.scheduler.error_threshold = 20;
    })
    .await;
    let mock = MockUpstream::start(Behavior::default()).await;
    let token = app.admin_token().await;
    let mut accounts = Vec::new();
    for name in ["a", "b", "c"] {
        accounts.push(
            app.create_account(
                &token,
                json!({"name": name, "apiKey": name, "baseUrl": mock.url()}),
            )
            .await,
        );
    }
    let quota_usd = 0.5;
    let keys = vec![
        app.create_key(&token, json!({"name": "open"})).await,
        app.create_key(&token, json!({"name": "quota", "quotaLimit": quota_usd}))
            .await,
        app.create_key(
            &token,
            json!({"name": "queued", "concurrencyLimit": 4, "concurrentRequestQueueEnabled": true,
                   "concurrentRequestQueueMaxSize": 8, "concurrentRequestQueueTimeoutMs": 300}),
        )
        .await,
        app.create_key(
            &token,
            json!({"name": "windowed", "rateLimitWindow": 1, "rateLimitRequests": 1500}),
        )
        .await,
    ];
    let app = Arc::new(app);
    let tally = Arc::new(Tally {
        by_status: Mutex::new(HashMap::new()),
        by_plan: Mutex::new(HashMap::new()),
        client_2xx: AtomicU64::new(0),
    });
    let sem = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut rng = Rng(0x5eed_c4a0_5000_0001);
    let mut tasks = Vec::with_capacity(REQUESTS);
    for i in 0..REQUESTS {
        let plan = Plan::draw(rng.next());
        let key = keys[(rng.next() % keys.len() as u64) as usize].1.clone();
        let permit = sem.clone().acquire_owned().await.unwrap();
        let (app, tally) = (app.clone(), tally.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            let (outcome, ok) = one(&app, &key, plan, i).await;
            if ok {
                tally.client_2xx.fetch_add(1, Ordering::Relaxed);
            }
            tally.count(plan, outcome);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let sent_in = started.elapsed();
    settle(&app, &accounts).await;

    // Every request that got past the key check left exactly one event; let the writer finish.
    let events = app.count("SELECT COUNT(*) FROM usage_events").await;
    let mut by_status: Vec<_> = tally.by_status.lock().clone().into_iter().collect();
    by_status.sort();
    let mut by_plan: Vec<_> = tally
        .by_plan
        .lock()
        .iter()
        .map(|(p, n)| (format!("{p:?}"), *n))
        .collect();
    by_plan.sort();
    let upstream = mock.total_requests();
    let client_2xx = tally.client_2xx.load(Ordering::Relaxed);
    println!(
        "chaos on {backend:?}: {REQUESTS} requests in {:.1}s at concurrency {CONCURRENCY}; \
         {upstream} upstream attempts; {client_2xx} client 2xx; {events} usage events",
        sent_in.as_secs_f64()
    );
    println!("  by plan: {by_plan:?}");
    println!("  by outcome: {by_status:?}");

    // Every upstream 2xx is billed above $0.
    let unbilled = app
        .count("SELECT COUNT(*) FROM usage_events WHERE status >= 200 AND status < 300 AND cost_micros <= 0")
        .await;
    let billed_2xx = app
        .count("SELECT COUNT(*) FROM usage_events WHERE status >= 200 AND status < 300 AND cost_micros > 0")
        .await;
    println!("  upstream 2xx billed: {billed_2xx}, unbilled: {unbilled}");
    assert_eq!(unbilled, 0, "an upstream 2xx billed at $0");
    assert!(
        billed_2xx >= client_2xx as i64,
        "every 2xx a client saw has a billed event ({billed_2xx} < {client_2xx})"
    );

    // Usage events add up to each key's spend, in the database and in memory.
    for (id, _) in &keys {
        let events_sum = app
            .count(&format!(
                "SELECT CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) FROM usage_events WHERE key_id = '{id}'"
            ))
            .await;
        let spent = app
            .count(&format!(
                "SELECT spent_micros FROM api_keys WHERE id = '{id}'"
            ))
            .await;
        let live = app.relay().key_usage(id).spent;
        assert_eq!(
            (events_sum, live),
            (spent, spent),
            "key {id}: events, live spend, stored spend"
        );
    }

    // The quota key is over its quota by at most one request's cost.
    let (quota_id, _) = &keys[1];
    let spent = app
        .count(&format!(
            "SELECT spent_micros FROM api_keys WHERE id = '{quota_id}'"
        ))
        .await;
    let max_one = app
        .count(&format!(
            "SELECT CAST(COALESCE(MAX(cost_micros), 0) AS BIGINT) FROM usage_events WHERE key_id = '{quota_id}'"
        ))
        .await;
    let quota = (quota_usd * 1e6) as i64;
    println!("  quota key: spent {spent} µ$ of {quota} µ$, largest request {max_one} µ$");
    assert!(
        spent <= quota + max_one,
        "quota {quota} overshot beyond one request: spent {spent}, largest {max_one}"
    );

    // No account was put in error by anything a client did.
    let errored = app
        .count("SELECT COUNT(*) FROM accounts WHERE status = 'error'")
        .await;
    for id in &accounts {
        let (status, _, message) = app.relay().pool().display_status(id, true);
        assert_ne!(status.as_str(), "error", "account {id} in error: {message}");
    }
    assert_eq!(errored, 0);
    let elapsed = started.elapsed();
    println!("  total {:.1}s", elapsed.as_secs_f64());
    let app = Arc::try_unwrap(app).ok().expect("no task holds the app");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_on_sqlite() {
    run_chaos(Backend::Sqlite).await;
}

/// The same run on PostgreSQL, where a control-character model name would be refused by the
/// database: the door refuses it first, and the writer sets aside any row PostgreSQL still refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_on_postgres() {
    run_chaos(Backend::Postgres).await;
}
