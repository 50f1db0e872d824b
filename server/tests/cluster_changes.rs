//! Real `tollgate serve` processes on one PostgreSQL (`CLUSTER=1`) hearing what others change,
//! within a second: a key imported on one instance after another refused it as unknown, the
//! CLI's account test (`tollgate accounts check`, a separate process) putting an account in
//! error and clearing it, and an account budget's stop found by the instance that settled the
//! spend (and a top-up on another lifting it). Every wait is on a condition with a deadline.

mod cluster;
mod cluster_sched;
mod common;
#[allow(dead_code)]
#[path = "import_crs/fixture.rs"]
mod fixture;

use std::time::{Duration, Instant};

use cluster::{wait_until, Cluster, CLUSTER_UPSTREAM_KEY};
use cluster_sched::account_status;
use fixture::{Fixture, CRS_KEY, KEYS};
use mock_upstream::proxy::ConnectProxy;
use mock_upstream::{Behavior, Fault};
use serde_json::{json, Value};

const SECOND: Duration = Duration::from_secs(1);

async fn status_on(c: &Cluster, instance: usize, key: &str) -> u16 {
    let body = common::messages_body("claude-sonnet-4-5", false);
    c.messages_request(c.url(instance), key, &body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn only_account(c: &Cluster) -> String {
    let list: Value = c
        .client
        .get(format!("{}/admin/accounts", c.url(0)))
        .bearer_auth(&c.admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list[0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_key_imported_on_one_instance_after_another_refused_it_is_served_there_within_a_second() {
    let c = Cluster::start(2, &[]).await;
    let proxy = ConnectProxy::start(Some(("fxproxy".into(), "fxproxy-pass".into()))).await;
    let fx = Fixture::load(14).await;
    fx.point_accounts_at(&c.mock.url(), proxy.addr().port())
        .await;
    let key = KEYS[0].plaintext;
    // Instance 1 is asked first: unknown, and remembered as unknown.
    for _ in 0..2 {
        assert_eq!(status_on(&c, 1, key).await, 401);
    }
    let res = c
        .admin_post(
            0,
            "/admin/import/crs",
            json!({"redisUrl": fx.url, "crsEncryptionKey": CRS_KEY, "dryRun": false}),
        )
        .await;
    assert_eq!(res.status().as_u16(), 200, "import on instance 0");
    let imported = Instant::now();
    wait_until(SECOND, "instance 1 serves the imported key", || async {
        status_on(&c, 1, key).await == 200
    })
    .await;
    println!(
        "imported key served elsewhere after {:?}",
        imported.elapsed()
    );
    fx.drop_db().await;
}

#[tokio::test]
async fn the_cli_account_test_reaches_running_instances_within_a_second() {
    let c = Cluster::start(3, &[]).await;
    let a = only_account(&c).await;
    // The credential is refused: the CLI's test puts the account in error everywhere.
    c.set_upstream(Behavior {
        fault: Some(Fault::Status {
            status: 401,
            retry_after_secs: None,
        }),
        ..Default::default()
    });
    let out = c.cli(&["accounts", "check"]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let done = Instant::now();
    for i in 0..3 {
        wait_until(SECOND, "the error reaches every instance", || async {
            account_status(&c, i, &a).await == "error"
        })
        .await;
    }
    println!("CLI test failure everywhere after {:?}", done.elapsed());
    // Replaced upstream credential: the CLI's passing test clears the error everywhere.
    c.set_upstream(Behavior::default());
    let out = c.cli(&["accounts", "check"]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let done = Instant::now();
    for i in 0..3 {
        wait_until(SECOND, "the recovery reaches every instance", || async {
            account_status(&c, i, &a).await == "active"
        })
        .await;
    }
    println!("CLI test success everywhere after {:?}", done.elapsed());
    let key = c.create_key(json!({"name": "k"})).await;
    for i in 0..3 {
        assert_eq!(status_on(&c, i, &key).await, 200);
    }
}

async fn budget_stopped(c: &Cluster, instance: usize, a: &str) -> Option<bool> {
    let acct: Value = c
        .client
        .get(format!("{}/admin/accounts/{a}", c.url(instance)))
        .bearer_auth(&c.admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    acct["budget"]["stopped"].as_bool()
}

#[tokio::test]
async fn a_budget_exhausted_on_one_instance_stops_the_account_on_the_other_within_a_second() {
    let c = Cluster::start(2, &[]).await;
    let a = only_account(&c).await;
    let key = c.create_key(json!({"name": "k"})).await;
    // One request of the mock's costs $0.0006: $0.0005 is used up by the first.
    let res = c
        .client
        .patch(format!("{}/admin/accounts/{a}", c.url(0)))
        .bearer_auth(&c.admin_token)
        .json(&json!({"budget": {"kind": "prepaid", "amountUsd": 0.0005}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(budget_stopped(&c, 1, &a).await, Some(false));
    assert_eq!(status_on(&c, 0, &key).await, 200);
    let answered = Instant::now();
    // Settled by instance 0's writer, found by its look, heard by instance 1 (which sends
    // nothing upstream meanwhile: only its admin view is read).
    wait_until(SECOND, "instance 1 stops the account", || async {
        budget_stopped(&c, 1, &a).await == Some(true)
    })
    .await;
    println!(
        "budget stop on the other instance {:?} after the answer",
        answered.elapsed()
    );
    let sent = c.mock.requests(CLUSTER_UPSTREAM_KEY);
    assert_ne!(status_on(&c, 1, &key).await, 200);
    assert_eq!(
        c.mock.requests(CLUSTER_UPSTREAM_KEY),
        sent,
        "no request to a stopped account"
    );
    // A top-up on instance 1 lifts the stop on instance 0 (the budget tables' trigger).
    let res = c
        .admin_post(
            1,
            &format!("/admin/accounts/{a}/budget/top-ups"),
            json!({"amountUsd": 1.0}),
        )
        .await;
    assert!(res.status().is_success(), "top-up: {}", res.status());
    let topped = Instant::now();
    wait_until(SECOND, "instance 0 lifts the stop", || async {
        budget_stopped(&c, 0, &a).await == Some(false)
    })
    .await;
    println!("top-up on the other instance after {:?}", topped.elapsed());
    assert_eq!(status_on(&c, 0, &key).await, 200);
}
