//! Three real `tollgate serve` processes on one PostgreSQL (`CLUSTER=1`) share the scheduler's
//! state: sticky sessions, account health, and changes within a second (LISTEN/NOTIFY), with
//! the 5 s poll standing in while the change channel is down. Every wait is on a condition
//! with a deadline. (Per-account slots: `cluster_slots.rs`.)

mod cluster;
mod cluster_sched;
mod common;

use std::time::{Duration, Instant};

use cluster::{wait_until, Cluster, CLUSTER_UPSTREAM_KEY};
use cluster_sched::*;
use mock_upstream::{Behavior, Fault};
use serde_json::{json, Value};

#[tokio::test]
async fn a_conversation_alternating_between_instances_stays_on_one_account() {
    let c = Cluster::start(3, &[]).await;
    add_account(&c, "b", "sk-b", json!({})).await;
    add_account(&c, "c", "sk-c", json!({})).await;
    let key = c.create_key(json!({"name": "k"})).await;
    let creds = [CLUSTER_UPSTREAM_KEY, "sk-b", "sk-c"];
    // The accounts reach every instance (created on instance 0).
    wait_accounts(&c, 3).await;
    let mut homes = std::collections::HashSet::new();
    for s in 0..6 {
        let session = format!("7d1e2f3a-0000-1111-2222-00000000000{s}");
        let mut home: Option<String> = None;
        for t in 0..6 {
            // Turn t of the conversation lands on instance (s + t) % 3.
            let base = c.url((s + t) % 3).to_owned();
            let (status, grew) = served_by(&c, &creds, async {
                c.messages_request(&base, &key, &turn(&session, &format!("turn {t}")))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
            .await;
            assert_eq!(status, 200);
            assert_eq!(grew.len(), 1, "one upstream request per turn");
            match &home {
                None => home = Some(grew[0].clone()),
                Some(h) => assert_eq!(
                    h,
                    &grew[0],
                    "session {s} turn {t} on instance {} moved accounts",
                    (s + t) % 3
                ),
            }
        }
        homes.insert(home.unwrap());
    }
    assert!(homes.len() > 1, "conversations are spread over accounts");
}

#[tokio::test]
async fn a_529_seen_by_one_instance_steers_the_others_within_a_second() {
    let c = Cluster::start(3, &[]).await;
    let accounts: Value = c
        .client
        .get(format!("{}/admin/accounts", c.url(0)))
        .bearer_auth(&c.admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let a = accounts[0]["id"].as_str().unwrap().to_owned();
    // `a` is preferred (lower priority value) as long as it is healthy; `b` is the fallback.
    let res = c
        .client
        .patch(format!("{}/admin/accounts/{a}", c.url(0)))
        .bearer_auth(&c.admin_token)
        .json(&json!({"priority": 1}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    add_account(&c, "b", "sk-b", json!({"priority": 90})).await;
    let key = c.create_key(json!({"name": "k"})).await;
    let body = common::messages_body("claude-sonnet-4-5", false);
    // Every instance knows both accounts and serves from `a`.
    wait_accounts(&c, 2).await;
    for i in 0..3 {
        let base = c.url(i).to_owned();
        let (status, grew) = served_by(&c, &[CLUSTER_UPSTREAM_KEY, "sk-b"], async {
            c.messages_request(&base, &key, &body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
        .await;
        assert_eq!((status, grew), (200, vec![CLUSTER_UPSTREAM_KEY.to_owned()]));
    }
    // `a` is overloaded; instance 0 finds out (and fails over to `b`).
    c.set_upstream(Behavior {
        fault: Some(Fault::Status {
            status: 529,
            retry_after_secs: None,
        }),
        ..Default::default()
    });
    let (status, grew) = served_by(&c, &[CLUSTER_UPSTREAM_KEY, "sk-b"], async {
        c.messages_request(c.url(0), &key, &body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
    .await;
    assert_eq!(status, 200);
    assert_eq!(grew.len(), 2, "tried a (529), served by b");
    let seen = Instant::now();
    for i in 1..3 {
        wait_until(
            Duration::from_secs(1),
            "the cooldown reaches the other instances",
            || async { account_status(&c, i, &a).await == "overloaded" },
        )
        .await;
    }
    let took = seen.elapsed();
    // The other instances no longer send to `a` at all.
    let a_before = c.mock.requests(CLUSTER_UPSTREAM_KEY);
    for i in [1, 2, 1, 2] {
        let res = c
            .messages_request(c.url(i), &key, &body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
    }
    assert_eq!(c.mock.requests(CLUSTER_UPSTREAM_KEY), a_before);
    println!("cooldown shared in {took:?}");
}

#[tokio::test]
async fn disabling_a_key_on_one_instance_refuses_it_on_another_within_a_second() {
    let c = Cluster::start(3, &[]).await;
    let res = c
        .admin_post(0, "/admin/api-keys", json!({"name": "k"}))
        .await;
    let created: Value = res.json().await.unwrap();
    let (id, key) = (
        created["id"].as_str().unwrap().to_owned(),
        created["key"].as_str().unwrap().to_owned(),
    );
    let body = common::messages_body("claude-sonnet-4-5", false);
    // Instance 2 has the key cached.
    let res = c
        .messages_request(c.url(2), &key, &body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let res = c
        .client
        .patch(format!("{}/admin/api-keys/{id}", c.url(0)))
        .bearer_auth(&c.admin_token)
        .json(&json!({"isActive": false}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    let disabled = Instant::now();
    wait_until(
        Duration::from_secs(1),
        "instance 2 refuses the key",
        || async {
            let res = c
                .messages_request(c.url(2), &key, &body)
                .send()
                .await
                .unwrap();
            res.status().as_u16() == 401 || res.status().as_u16() == 403
        },
    )
    .await;
    println!("key disabled everywhere in {:?}", disabled.elapsed());
}

#[tokio::test]
async fn a_lost_change_channel_falls_back_to_polling_and_catches_up_when_back() {
    let proxy = CuttableProxy::start("127.0.0.1:5432").await;
    let listen_url = format!("postgres://postgres@{}/test", proxy.addr);
    let c = Cluster::start(3, &[("DATABASE_LISTEN_URL", listen_url.as_str())]).await;
    let pool = c.pool().await;
    let schema: String = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(&pool)
        .await
        .unwrap();
    let listeners = || {
        let (pool, schema) = (pool.clone(), schema.clone());
        async move {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM pg_stat_activity WHERE query = $1")
                .bind(format!("LISTEN \"tollgate:{schema}\""))
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    wait_until(
        Duration::from_secs(5),
        "three instances listening",
        || async { listeners().await == 3 },
    )
    .await;
    let mut keys = Vec::new();
    for name in ["k1", "k2"] {
        let res = c
            .admin_post(0, "/admin/api-keys", json!({"name": name}))
            .await;
        let v: Value = res.json().await.unwrap();
        let (id, key) = (v["id"].as_str().unwrap(), v["key"].as_str().unwrap());
        assert!(
            !refused(&c, 2, key).await,
            "served on instance 2 (cached there)"
        );
        keys.push((id.to_owned(), key.to_owned()));
    }

    // The channel goes down: the poll (every 5 s) still brings the change.
    proxy.cut();
    wait_until(
        Duration::from_secs(5),
        "listening connections gone",
        || async { listeners().await == 0 },
    )
    .await;
    set_key_active(&c, &keys[0].0, false).await;
    let cut_at = Instant::now();
    wait_until(
        Duration::from_secs(8),
        "the poll disables k1 on instance 2",
        || async { refused(&c, 2, &keys[0].1).await },
    )
    .await;
    println!("change seen by polling after {:?}", cut_at.elapsed());

    // The channel comes back: changes within a second again.
    proxy.restore();
    wait_until(
        Duration::from_secs(8),
        "instances listening again",
        || async { listeners().await == 3 },
    )
    .await;
    set_key_active(&c, &keys[1].0, false).await;
    let changed = Instant::now();
    wait_until(
        Duration::from_secs(1),
        "k2 refused on instance 2",
        || async { refused(&c, 2, &keys[1].1).await },
    )
    .await;
    println!("after reconnecting, change seen in {:?}", changed.elapsed());
}
