//! Per-account `maxConcurrency` across real instances on one PostgreSQL (`CLUSTER=1`): the cap
//! holds over all of them, a killed instance's slots come back within the lease timeout, and
//! what sharing the scheduler costs the database per request at steady load.

mod cluster;
mod cluster_sched;
mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cluster::{wait_until, Cluster};
use cluster_sched::*;
use mock_upstream::Behavior;
use serde_json::json;

#[tokio::test]
async fn per_account_max_concurrency_holds_across_instances() {
    let c = Cluster::start(3, &[]).await;
    let capped = add_account(
        &c,
        "capped",
        "sk-capped",
        json!({"maxConcurrency": 2, "accountType": "dedicated"}),
    )
    .await;
    let key = c
        .create_key(json!({"name": "k", "claudeAccountId": capped, "allowPoolFallback": false}))
        .await;
    wait_serving(&c, &key).await;
    c.mock.set_behavior(
        "sk-capped",
        Behavior {
            chunks: 8,
            chunk_gap_ms: 50,
            ..Default::default()
        },
    );
    let body = common::messages_body("claude-sonnet-4-5", true);
    // Watch the mock's requests in flight (only this account is used) while 4 rounds of 9
    // parallel streams rotate over the instances.
    let done = AtomicBool::new(false);
    let peak = AtomicUsize::new(0);
    let watch = async {
        while !done.load(Ordering::Relaxed) {
            peak.fetch_max(c.mock.in_flight(), Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    let load = async {
        let mut ok = 0;
        for _round in 0..4 {
            let mut tasks = Vec::new();
            for _ in 0..9 {
                let req = c.messages_request(&c.next_url(), &key, &body);
                tasks.push(tokio::spawn(async move {
                    let res = req.send().await.unwrap();
                    let status = res.status().as_u16();
                    let _ = res.bytes().await;
                    status
                }));
            }
            for t in tasks {
                if t.await.unwrap() == 200 {
                    ok += 1;
                }
            }
        }
        done.store(true, Ordering::Relaxed);
        ok
    };
    let ((), ok) = tokio::join!(watch, load);
    let peak = peak.load(Ordering::Relaxed);
    assert!(
        peak <= 2,
        "at most 2 in flight across instances, saw {peak}"
    );
    assert!(ok >= 4, "requests are served ({ok} of 36)");
    // Unused slots go back.
    wait_slots_returned(&c).await;
    println!("max concurrency 2: peak {peak}, served {ok} of 36");
}

/// What sharing the scheduler costs the database at steady load: conversations of several
/// turns spread round robin over three instances, one account capped.
#[tokio::test]
async fn statements_per_request_at_steady_load_stay_well_under_one() {
    let c = Cluster::start(3, &[("METRICS_TOKEN", "cluster-metrics")]).await;
    add_account(&c, "capped", "sk-capped", json!({"maxConcurrency": 4})).await;
    let key = c.create_key(json!({"name": "k"})).await;
    wait_accounts(&c, 2).await;
    let (conversations, turns, workers) = (30usize, 8usize, 6usize);
    let next = AtomicUsize::new(0);
    let work = || async {
        loop {
            let s = next.fetch_add(1, Ordering::Relaxed);
            if s >= conversations {
                return;
            }
            let session = format!("00000000-0000-0000-0000-{s:012}");
            for t in 0..turns {
                let res = c
                    .messages_request(&c.next_url(), &key, &turn(&session, &format!("t{t}")))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status().as_u16(), 200);
            }
        }
    };
    let started = Instant::now();
    futures::future::join_all((0..workers).map(|_| work())).await;
    let elapsed = started.elapsed();
    let statements = scrape_sum(&c, "tollgate_cluster_scheduler_statements_total").await;
    let scheduled = scrape_sum(&c, "tollgate_cluster_scheduled_total").await;
    let scheduled = scheduled.iter().map(|(_, v)| v).sum::<f64>();
    let total: f64 = statements.iter().map(|(_, v)| v).sum();
    // Per relayed request (an attempt that failed over is scheduled again).
    let per_request = total / (conversations * turns) as f64;
    println!(
        "{} requests in {elapsed:?}: {total} statements, {per_request:.3} per request",
        conversations * turns
    );
    for (kind, n) in &statements {
        println!("  {kind} {n}");
    }
    assert!(scheduled as usize >= conversations * turns);
    assert!(per_request < 1.0, "{per_request} statements per request");
}

/// `kill -9` of an instance holding an account's slots: they come back within the lease
/// timeout (`CLUSTER_LEASE_SECS`, 3 s here) after its last renewal.
#[tokio::test]
async fn a_crashed_instances_slots_come_back_within_the_lease_timeout() {
    let mut c = Cluster::start(2, &[("CLUSTER_LEASE_SECS", "3")]).await;
    let capped = add_account(
        &c,
        "capped",
        "sk-capped",
        json!({"maxConcurrency": 2, "accountType": "dedicated"}),
    )
    .await;
    let key = c
        .create_key(json!({"name": "k", "claudeAccountId": capped, "allowPoolFallback": false}))
        .await;
    wait_serving(&c, &key).await;
    wait_slots_returned(&c).await;
    // Streams of about a minute.
    c.mock.set_behavior(
        "sk-capped",
        Behavior {
            chunks: 600,
            chunk_gap_ms: 100,
            ..Default::default()
        },
    );
    let body = common::messages_body("claude-sonnet-4-5", true);
    let mut streams = Vec::new();
    for _ in 0..2 {
        let req = c.messages_request(c.url(0), &key, &body);
        streams.push(tokio::spawn(async move {
            if let Ok(res) = req.send().await {
                let _ = res.bytes().await;
            }
        }));
    }
    wait_until(
        Duration::from_secs(5),
        "two streams on instance 0",
        || async { c.mock.in_flight() == 2 },
    )
    .await;
    let status_on_1 = |c: &Cluster| {
        let req = c.messages_request(c.url(1), &key, &body);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        status_on_1(&c).await,
        503,
        "both slots are held by instance 0"
    );
    c.kill(0);
    let killed = Instant::now();
    wait_until(
        Duration::from_secs(10),
        "instance 1 serves the account",
        || async { status_on_1(&c).await == 200 },
    )
    .await;
    let took = killed.elapsed();
    println!("slots of the killed instance back after {took:?}");
    assert!(
        took < Duration::from_millis(4_500),
        "within the lease timeout (and a poll): {took:?}"
    );
    for s in streams {
        s.abort();
    }
}
