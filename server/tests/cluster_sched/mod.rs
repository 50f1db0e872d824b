//! Helpers of the cluster scheduling tests (on top of `tests/cluster`): accounts, waits,
//! which account served a turn, a cuttable proxy for the change channel, `/metrics` sums.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::cluster::{wait_until, Cluster};
use crate::common;

pub fn turn(session: &str, text: &str) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 50,
        "metadata": {"user_id": format!("user_abc_account__session_{session}")},
        "messages": [{"role": "user", "content": text}],
    })
}

pub async fn add_account(c: &Cluster, name: &str, api_key: &str, extra: Value) -> String {
    let mut body = json!({"name": name, "apiKey": api_key, "baseUrl": c.mock.url()});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let res = c.admin_post(0, "/admin/accounts", body).await;
    assert!(res.status().is_success(), "creating account {name}");
    let v: Value = res.json().await.unwrap();
    v["id"].as_str().unwrap().to_owned()
}

pub async fn account_status(c: &Cluster, instance: usize, id: &str) -> String {
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
pub async fn wait_accounts(c: &Cluster, n: usize) {
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

/// Waits until every instance serves `key` (its scheduler knows the key's account).
pub async fn wait_serving(c: &Cluster, key: &str) {
    let body = common::messages_body("claude-sonnet-4-5", false);
    for i in 0..c.instances.len() {
        wait_until(
            Duration::from_secs(5),
            "every instance serves the key",
            || async {
                let res = c
                    .messages_request(c.url(i), key, &body)
                    .send()
                    .await
                    .unwrap();
                res.status().as_u16() == 200
            },
        )
        .await;
    }
}

/// Waits until no instance holds a slot of any account (unused slots go back within two
/// give-back periods, half a second).
pub async fn wait_slots_returned(c: &Cluster) {
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
    pool.close().await;
}

/// The upstream credential whose request count grew during `f`.
pub async fn served_by<F: std::future::Future<Output = u16>>(
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

/// A TCP proxy in front of PostgreSQL that the test can cut (every connection dropped, new
/// ones refused) and restore: the instances' listening connections go through it.
pub struct CuttableProxy {
    pub addr: std::net::SocketAddr,
    up: Arc<AtomicBool>,
    conns: Arc<parking_lot::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl CuttableProxy {
    pub async fn start(target: &'static str) -> CuttableProxy {
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

    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.conns.lock().drain(..) {
            c.abort();
        }
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

pub async fn set_key_active(c: &Cluster, id: &str, active: bool) {
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

pub async fn refused(c: &Cluster, instance: usize, key: &str) -> bool {
    let body = common::messages_body("claude-sonnet-4-5", false);
    let res = c
        .messages_request(c.url(instance), key, &body)
        .send()
        .await
        .unwrap();
    matches!(res.status().as_u16(), 401 | 403)
}

/// Sums a counter over every instance's `/metrics`, by label line.
pub async fn scrape_sum(c: &Cluster, prefix: &str) -> Vec<(String, f64)> {
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
