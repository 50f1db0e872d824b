//! Three real `tollgate serve` processes on one PostgreSQL (`CLUSTER=1`) share the scheduler's
//! state: sticky sessions, account health, per-account `maxConcurrency`, and changes within a
//! second (LISTEN/NOTIFY), with the 5 s poll standing in while the change channel is down.
//! Every wait is on a condition with a deadline.

mod cluster;
mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cluster::{wait_until, Cluster, CLUSTER_UPSTREAM_KEY};
use mock_upstream::{Behavior, Fault};
use serde_json::{json, Value};

fn turn(session: &str, text: &str) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 50,
        "metadata": {"user_id": format!("user_abc_account__session_{session}")},
        "messages": [{"role": "user", "content": text}],
    })
}

async fn add_account(c: &Cluster, name: &str, api_key: &str, extra: Value) -> String {
    let mut body = json!({"name": name, "apiKey": api_key, "baseUrl": c.mock.url()});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let res = c.admin_post(0, "/admin/accounts", body).await;
    assert!(res.status().is_success(), "creating account {name}");
    let v: Value = res.json().await.unwrap();
    v["id"].as_str().unwrap().to_owned()
}

async fn account_status(c: &Cluster, instance: usize, id: &str) -> String {
    let list: Value = c
        .client
        .get(format!("{}/admin/accounts", c.url(instance)))
        .bearer_auth(&c.admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let list = list.as_array().cloned().unwrap_or_default();
    let a = list.iter().find(|a| a["id"] == id).expect("account listed");
    a["status"].as_str().unwrap_or_default().to_owned()
}

/// Waits until every instance lists `n` accounts (changes reach them through the channel).
async fn wait_accounts(c: &Cluster, n: usize) {
    for i in 0..c.instances.len() {
        if !c.instances[i].is_running() {
            continue;
        }
        let base = c.url(i).to_owned();
        wait_until(
            Duration::from_secs(5),
            "the accounts on every instance",
            || async {
                let list: Value = c
                    .client
                    .get(format!("{base}/admin/accounts"))
                    .bearer_auth(&c.admin_token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                list.as_array().map_or(0, |l| l.len()) == n
            },
        )
        .await;
    }
}

/// The upstream credential whose request count grew during `f`.
async fn served_by<F: std::future::Future<Output = u16>>(
    c: &Cluster,
    creds: &[&str],
    f: F,
) -> (u16, Vec<String>) {
    let before: Vec<u64> = creds.iter().map(|k| c.mock.requests(k)).collect();
    let status = f.await;
    let grew = creds
        .iter()
        .zip(before)
        .filter(|(k, b)| c.mock.requests(k) > *b)
        .map(|(k, _)| k.to_string())
        .collect();
    (status, grew)
}

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
    wait_accounts(&c, 2).await;
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
    let pool = c.pool().await;
    wait_until(Duration::from_secs(3), "slots given back", || async {
        let held: i64 =
            sqlx::query_scalar("SELECT CAST(COALESCE(SUM(held), 0) AS BIGINT) FROM account_slots")
                .fetch_one(&pool)
                .await
                .unwrap();
        held == 0
    })
    .await;
    println!("max concurrency 2: peak {peak}, served {ok} of 36");
}

/// A TCP proxy in front of PostgreSQL that the test can cut (every connection dropped, new
/// ones refused) and restore: the instances' listening connections go through it.
struct CuttableProxy {
    addr: std::net::SocketAddr,
    up: Arc<AtomicBool>,
    conns: Arc<parking_lot::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl CuttableProxy {
    async fn start(target: &'static str) -> CuttableProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<parking_lot::Mutex<Vec<tokio::task::AbortHandle>>> = Default::default();
        let (up2, conns2) = (up.clone(), conns.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !up2.load(Ordering::SeqCst) {
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns2.lock().push(task.abort_handle());
            }
        });
        CuttableProxy { addr, up, conns }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.conns.lock().drain(..) {
            c.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

async fn set_key_active(c: &Cluster, id: &str, active: bool) {
    let res = c
        .client
        .patch(format!("{}/admin/api-keys/{id}", c.url(0)))
        .bearer_auth(&c.admin_token)
        .json(&json!({"isActive": active}))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
}

async fn refused(c: &Cluster, instance: usize, key: &str) -> bool {
    let body = common::messages_body("claude-sonnet-4-5", false);
    let res = c
        .messages_request(c.url(instance), key, &body)
        .send()
        .await
        .unwrap();
    matches!(res.status().as_u16(), 401 | 403)
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

/// Sums a counter over every instance's `/metrics`, by label line.
async fn scrape_sum(c: &Cluster, prefix: &str) -> Vec<(String, f64)> {
    let mut sums: std::collections::BTreeMap<String, f64> = Default::default();
    for i in 0..c.instances.len() {
        let text = c
            .client
            .get(format!("{}/metrics", c.url(i)))
            .bearer_auth("cluster-metrics")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for line in text.lines().filter(|l| l.starts_with(prefix)) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            *sums.entry(name.to_owned()).or_default() += value.parse::<f64>().unwrap();
        }
    }
    sums.into_iter().collect()
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
    let per_request = total / scheduled;
    println!(
        "{} requests in {elapsed:?}: {total} statements, {per_request:.3} per request",
        conversations * turns
    );
    for (kind, n) in &statements {
        println!("  {kind} {n}");
    }
    assert_eq!(scheduled as usize, conversations * turns);
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
    wait_accounts(&c, 2).await;
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
