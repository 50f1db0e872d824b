//! Webhooks over real HTTP against a local receiver on 127.0.0.1: payloads and signatures of
//! every target kind, retries and backoff, the queue bound, shutdown draining, the delivery log,
//! and the admin REST API.

mod common;
#[path = "webhooks/formats.rs"]
mod formats;
#[path = "webhooks/harness.rs"]
mod harness;
#[path = "webhooks/rest.rs"]
mod rest;

use std::sync::Arc;
use std::time::Duration;

use common::{Backend, TestDb};
use harness::*;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use tollgate::secret::Secret;
use tollgate::webhooks::{EventKind, TransitionLatch, Webhooks};

#[tokio::test]
async fn generic_payload_is_exactly_the_envelope_and_its_signature_verifies() {
    let rx = Receiver::start(Script::ok()).await;
    let mut o = opts();
    env_target(&mut o, rx.url("/hooks/generic"), Some("whsec-test"));
    let run = Running::start(&o).await;
    run.hooks.emit(
        EventKind::AccountRateLimited,
        json!({ "accountId": "a1", "name": "claude-main", "status": 429 }),
    );
    let req = rx.wait_for(1).await.remove(0);

    let body = req.json();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3, "{body}");
    assert_eq!(body["event"], "account.rate_limited");
    assert_eq!(body["data"]["name"], "claude-main");
    let ts = body["timestamp"].as_str().unwrap();
    assert!(ts.ends_with('Z'), "{ts}");
    chrono::DateTime::parse_from_rfc3339(ts).unwrap();

    let expected = format!(
        "sha256={}",
        hex::encode(hmac_sha256(b"whsec-test", &req.body))
    );
    assert_eq!(req.header("x-tollgate-signature"), expected);
    assert_eq!(req.header("x-tollgate-event"), "account.rate_limited");
    uuid::Uuid::parse_str(req.header("x-tollgate-delivery")).unwrap();
    assert_eq!(req.header("content-type"), "application/json");

    let log = wait_for_log(&run.db.store, 1).await;
    assert_eq!(
        (log[0].ok, log[0].attempt, log[0].http_status),
        (true, 1, Some(200))
    );
    assert_eq!(log[0].target_id, None, "an environment target");
    assert_eq!(log[0].event, "account.rate_limited");
    assert!(!log[0].target_hint.contains("generic"), "hint is masked");
    run.shutdown().await;
}

#[tokio::test]
async fn server_errors_are_retried_with_growing_backoff_until_success() {
    let rx = Receiver::start(Script::failing(2, 500)).await;
    let mut o = opts();
    env_target(&mut o, rx.url("/hook"), None);
    // The backoffs wait on a manual clock: no real waiting, and their lengths are counted.
    let clock = tollgate::clock::ManualClock::new();
    let run = Running::start_clocked(&o, clock.clone()).await;
    run.hooks
        .emit(EventKind::SystemError, json!({ "message": "disk full" }));
    let reqs = rx.wait_for(3).await;
    let log = wait_for_log(&run.db.store, 3).await;

    assert_eq!(clock.slept_ms(), 50 + 100, "backoff 1× then 2× the base");
    let ids: Vec<&str> = reqs
        .iter()
        .map(|r| r.header("x-tollgate-delivery"))
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one delivery id across attempts"
    );
    assert!(reqs[0].headers.get("x-tollgate-signature").is_none());

    let summary: Vec<(i64, Option<i64>, bool)> = log
        .iter()
        .map(|r| (r.attempt, r.http_status, r.ok))
        .collect();
    assert_eq!(
        summary,
        [
            (1, Some(500), false),
            (2, Some(500), false),
            (3, Some(200), true)
        ]
    );
    assert_eq!(log[0].error.as_deref(), Some("HTTP 500: receiver says no"));
    // Shutdown drains the worker: an attempt after the success would have been sent by now.
    run.shutdown().await;
    assert_eq!(rx.requests().len(), 3, "no attempts after success");
}

#[tokio::test]
async fn too_many_requests_is_retried_but_other_client_errors_are_not() {
    let limited = Receiver::start(Script::failing(1, 429)).await;
    let refused = Receiver::start(Script::failing(usize::MAX, 404)).await;
    let mut o = opts();
    o.webhook_enabled = true;
    o.webhook_urls = vec![
        Secret::new(limited.url("/a")),
        Secret::new(refused.url("/b")),
    ];
    let run = Running::start_clocked(&o, tollgate::clock::ManualClock::new()).await;
    run.hooks
        .emit(EventKind::KeyExpired, json!({ "keyName": "trial" }));
    assert_eq!(limited.wait_for(2).await.len(), 2);
    wait_for_log(&run.db.store, 3).await;
    // Shutdown drains the worker (retries wait on the manual clock, so none is pending).
    let db = run.shutdown().await;
    assert_eq!(refused.requests().len(), 1, "404 is final");
    let log = wait_for_log(&db.store, 3).await;
    assert_eq!(log.len(), 3);
    let refusal = log
        .iter()
        .find(|r| r.http_status == Some(404))
        .expect("404 logged");
    assert!(!refusal.ok && refusal.attempt == 1);
}

#[tokio::test]
async fn timeouts_are_retried_and_errors_never_quote_the_url() {
    let rx = Receiver::start(Script {
        fail_first: 1,
        fail_status: 200,
        delay: Duration::from_secs(2),
    })
    .await;
    let mut o = opts();
    o.webhook_timeout_ms = 200;
    env_target(&mut o, rx.url("/hook/sEcReT-tOkEn-12345"), None);
    let run = Running::start(&o).await;
    run.hooks
        .emit(EventKind::PoolSaturated, json!({ "inFlight": 12 }));
    let log = wait_for_log(&run.db.store, 2).await;
    let error = log[0].error.clone().unwrap();
    assert_eq!(error, "timed out after 200 ms");
    assert!(log[1].ok);

    // A connection that is refused outright: the error names the cause, not the address.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut o = opts();
    o.webhook_max_attempts = 1;
    env_target(
        &mut o,
        format!("http://{closed}/hook/sEcReT-tOkEn-12345"),
        None,
    );
    let run2 = Running::start(&o).await;
    run2.hooks.emit(EventKind::SystemError, Value::Null);
    let log = wait_for_log(&run2.db.store, 1).await;
    let error = log[0].error.clone().unwrap();
    assert!(error.starts_with("connection failed"), "{error}");
    assert!(
        !error.contains("sEcReT") && !error.contains(&closed.port().to_string()),
        "{error}"
    );
    run.shutdown().await;
    run2.shutdown().await;
}

#[tokio::test]
async fn a_full_queue_drops_new_events_and_counts_them() {
    let rx = Receiver::start(Script::ok()).await;
    let mut o = opts();
    o.webhook_queue_size = 2;
    env_target(&mut o, rx.url("/hook"), None);
    let db = TestDb::new(Backend::Sqlite).await;
    let (hooks, worker) = Webhooks::new(&o, db.store.clone(), cipher()).unwrap();
    for i in 0..5 {
        hooks.emit(
            EventKind::AccountOverloaded,
            json!({ "name": format!("a{i}") }),
        );
    }
    assert_eq!(hooks.queued(), 2);
    assert_eq!(hooks.dropped(), 3);

    let stop = CancellationToken::new();
    let worker = tokio::spawn(worker.run(stop.clone()));
    let reqs = rx.wait_for(2).await;
    let names: Vec<Value> = reqs
        .iter()
        .map(|r| r.json()["data"]["name"].clone())
        .collect();
    assert!(
        names.contains(&json!("a0")) && names.contains(&json!("a1")),
        "the oldest are kept"
    );
    // Room again: new events are accepted.
    hooks.emit(EventKind::AccountRecovered, json!({ "name": "a0" }));
    rx.wait_for(3).await;
    assert_eq!(hooks.dropped(), 3);
    stop.cancel();
    worker.await.unwrap();
}

#[tokio::test]
async fn shutdown_delivers_what_is_queued_then_refuses_new_events() {
    let rx = Receiver::start(Script::ok()).await;
    let mut o = opts();
    env_target(&mut o, rx.url("/hook"), None);
    let db = TestDb::new(Backend::Sqlite).await;
    let (hooks, worker) = Webhooks::new(&o, db.store.clone(), cipher()).unwrap();
    for _ in 0..3 {
        hooks.emit(EventKind::KeyQuotaWarning, json!({ "keyName": "k" }));
    }
    let stop = CancellationToken::new();
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), worker.run(stop))
        .await
        .expect("drain is bounded");
    assert_eq!(
        rx.requests().len(),
        3,
        "queued events delivered on the way out"
    );
    hooks.emit(EventKind::KeyQuotaWarning, json!({ "keyName": "late" }));
    assert_eq!(hooks.queued(), 0);
    assert_eq!(hooks.dropped(), 0, "a closed queue is not a full one");
}

#[test]
fn transition_latch_fires_once_per_transition() {
    let latch: TransitionLatch = TransitionLatch::new();
    let a = (EventKind::AccountRateLimited, "a".to_string());
    let b = (EventKind::AccountRateLimited, "b".to_string());
    assert!(latch.enter(a.clone()));
    assert!(!latch.enter(a.clone()), "second entry is quiet");
    assert!(latch.enter(b.clone()), "other subjects are independent");
    assert!(latch.is_active(&a));
    assert!(latch.leave(&a));
    assert!(!latch.leave(&a), "second leave is quiet");
    assert!(
        latch.enter(a.clone()),
        "re-entering after leaving fires again"
    );
    assert_eq!(latch.len(), 2);

    let shared = Arc::new(TransitionLatch::<u32>::new());
    let fired: usize = (0..8)
        .map(|_| {
            let l = shared.clone();
            std::thread::spawn(move || (0..100).filter(|_| l.enter(7)).count())
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .sum();
    assert_eq!(fired, 1, "exactly one thread sees the transition");
}
