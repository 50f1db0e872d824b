//! Account scheduling over real HTTP: the shared pool, dedicated accounts, groups, sticky
//! sessions, failover with cooldown, probes and recovery.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tollgate::relay::control::RelayControl;

use common::{messages_body, spawn_app, spawn_app_clocked, Backend, TestApp, TestDb};
use mock_upstream::{Behavior, Fault, MockUpstream};
use reqwest::Method;
use serde_json::{json, Value};
use tollgate::clock::ManualClock;

struct Pool {
    app: TestApp,
    mock: MockUpstream,
    token: String,
    ids: HashMap<&'static str, String>,
}

/// Accounts on one mock; each account's credential is its name.
async fn pool(app: TestApp, accounts: &[(&'static str, &str)]) -> Pool {
    let mock = MockUpstream::start(Behavior::default()).await;
    let token = app.admin_token().await;
    let mut ids = HashMap::new();
    for (name, kind) in accounts {
        let id = app
            .create_account(
                &token,
                json!({"name": name, "apiKey": name, "baseUrl": mock.url(), "accountType": kind}),
            )
            .await;
        ids.insert(*name, id);
    }
    Pool {
        app,
        mock,
        token,
        ids,
    }
}

impl Pool {
    async fn key(&self, body: Value) -> String {
        self.app.create_key(&self.token, body).await.1
    }

    async fn send(&self, key: &str, body: &Value) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url("/v1/messages"))
            .header("x-api-key", key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    fn hits(&self) -> HashMap<&'static str, u64> {
        self.ids
            .keys()
            .map(|n| (*n, self.mock.requests(n)))
            .collect()
    }

    async fn account(&self, name: &str) -> Value {
        let (_, v) = self
            .app
            .admin_send(
                &self.token,
                Method::GET,
                &format!("/admin/accounts/{}", self.ids[name]),
                None,
            )
            .await;
        v
    }

    async fn group(&self, name: &str, members: &[&str]) -> String {
        let (s, g) = self
            .app
            .admin_post(
                &self.token,
                "/admin/account-groups",
                json!({"name": name, "platform": "claude"}),
            )
            .await;
        assert_eq!(s, 201, "{g}");
        let id = g["id"].as_str().unwrap().to_owned();
        let ids: Vec<&str> = members.iter().map(|m| self.ids[m].as_str()).collect();
        let (s, v) = self
            .app
            .admin_send(
                &self.token,
                Method::PUT,
                &format!("/admin/account-groups/{id}/members"),
                Some(json!({"accountIds": ids})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        id
    }
}

#[tokio::test]
async fn pool_spreads_load_across_three_accounts() {
    let p = pool(
        spawn_app().await,
        &[("a", "shared"), ("b", "shared"), ("c", "shared")],
    )
    .await;
    p.mock.set_defaults(Behavior {
        latency_ms: 5,
        ..Default::default()
    });
    let key = Arc::new(p.key(json!({"name": "k"})).await);
    let sem = Arc::new(tokio::sync::Semaphore::new(6));
    let mut tasks = Vec::new();
    for i in 0..300 {
        let permit = sem.clone().acquire_owned().await.unwrap();
        // A fresh conversation per request so stickiness does not pin them.
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": format!("q{i}")}]});
        let req = p
            .app
            .client
            .post(p.app.url("/v1/messages"))
            .header("x-api-key", key.as_str())
            .json(&body);
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            req.send().await.unwrap().status().as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let hits = p.hits();
    println!("300 requests at concurrency 6: {hits:?}");
    assert_eq!(hits.values().sum::<u64>(), 300);
    assert!(
        hits.values().all(|h| *h <= 150),
        "an account got more than half: {hits:?}"
    );
}

#[tokio::test]
async fn binding_modes_are_kept_apart() {
    let p = pool(
        spawn_app().await,
        &[
            ("shared1", "shared"),
            ("shared2", "shared"),
            ("dedicated", "dedicated"),
            ("grouped1", "group"),
            ("grouped2", "group"),
        ],
    )
    .await;
    let group = p.group("VIP", &["grouped1", "grouped2"]).await;

    // A pool key never reaches a dedicated or group account.
    let pool_key = p.key(json!({"name": "pool"})).await;
    for i in 0..40 {
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": format!("p{i}")}]});
        assert_eq!(p.send(&pool_key, &body).await.status(), 200);
    }
    let h = p.hits();
    assert_eq!(h["shared1"] + h["shared2"], 40);
    assert_eq!(h["dedicated"] + h["grouped1"] + h["grouped2"], 0, "{h:?}");

    // A group key only touches the group's members.
    p.mock.reset_stats();
    let group_key = p
        .key(json!({"name": "vip", "claudeAccountId": format!("group:{group}")}))
        .await;
    for i in 0..20 {
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": format!("g{i}")}]});
        assert_eq!(p.send(&group_key, &body).await.status(), 200);
    }
    let h = p.hits();
    assert_eq!(h["grouped1"] + h["grouped2"], 20, "{h:?}");
    assert!(
        h["grouped1"] > 0 && h["grouped2"] > 0,
        "both members serve: {h:?}"
    );

    // A dedicated key only touches its account; 503 naming why when it is disabled; the pool
    // when fallback is on.
    p.mock.reset_stats();
    let dedicated_id = p.ids["dedicated"].clone();
    let dedicated_key = p
        .key(json!({"name": "ent", "claudeAccountId": dedicated_id}))
        .await;
    let fallback_key = p
        .key(json!({"name": "ent2", "claudeAccountId": dedicated_id, "allowPoolFallback": true}))
        .await;
    for _ in 0..10 {
        assert_eq!(
            p.send(&dedicated_key, &messages_body("claude-sonnet-4-5", false))
                .await
                .status(),
            200
        );
    }
    assert_eq!(p.hits()["dedicated"], 10);
    assert_eq!(p.hits().values().sum::<u64>(), 10);
    p.app
        .admin_send(
            &p.token,
            Method::PATCH,
            &format!("/admin/accounts/{dedicated_id}"),
            Some(json!({"isActive": false})),
        )
        .await;
    let res = p
        .send(&dedicated_key, &messages_body("claude-sonnet-4-5", false))
        .await;
    assert_eq!(res.status(), 503);
    let v: Value = res.json().await.unwrap();
    assert!(
        v["error"]["message"].as_str().unwrap().contains("disabled"),
        "{v}"
    );
    let res = p
        .send(&fallback_key, &messages_body("claude-sonnet-4-5", false))
        .await;
    assert_eq!(res.status(), 200, "fallback to the pool");
    let h = p.hits();
    assert_eq!(h["dedicated"], 10);
    assert_eq!(h["shared1"] + h["shared2"], 1);

    // Binding to something missing is refused when the key is created.
    let (s, v) = p
        .app
        .admin_post(
            &p.token,
            "/admin/api-keys",
            json!({"name": "bad", "claudeAccountId": "group:nope"}),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"]["field"], "claudeAccountId");
    // A group with bound keys cannot be deleted; the answer names the keys.
    let (s, v) = p
        .app
        .admin_send(
            &p.token,
            Method::DELETE,
            &format!("/admin/account-groups/{group}"),
            None,
        )
        .await;
    assert_eq!(s, 409, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("vip"),
        "{v}"
    );
    // Only group-type accounts may join groups.
    let (s, v) = p
        .app
        .admin_send(
            &p.token,
            Method::PUT,
            &format!("/admin/account-groups/{group}/members"),
            Some(json!({"accountIds": [p.ids["shared1"]]})),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    // Accounts show their groups and bound keys.
    let a = p.account("grouped1").await;
    assert_eq!(a["groupIds"], json!([group]));
    let d = p.account("dedicated").await;
    assert_eq!(d["boundKeys"], 2);
    assert_eq!(d["status"], "disabled");
}

fn turn(session: &str, n: usize) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 10,
        "metadata": {"user_id": format!("{{\"device_id\":\"d\",\"session_id\":\"{session}\"}}")},
        "messages": [{"role": "user", "content": format!("turn {n}")}],
    })
}

#[tokio::test]
async fn sticky_sessions_hold_and_expire() {
    // The scheduler's clock is moved by hand past the one-hour TTL.
    let clock = ManualClock::new();
    let app = spawn_app_clocked(TestDb::new(Backend::Sqlite).await, clock.clone(), |s| {
        s.serve.scheduler.sticky_ttl_hours = 1.0
    })
    .await;
    let p = pool(app, &[("a", "shared"), ("b", "shared"), ("c", "shared")]).await;
    let (key_id, key) = p.app.create_key(&p.token, json!({"name": "k"})).await;
    for n in 0..20 {
        assert_eq!(p.send(&key, &turn("conv-1", n)).await.status(), 200);
    }
    let h = p.hits();
    let home = h
        .iter()
        .find(|(_, n)| **n == 20)
        .map(|(a, _)| *a)
        .expect("one account served all 20 turns");
    // Another conversation goes to the least recently used account.
    assert_eq!(p.send(&key, &turn("conv-2", 0)).await.status(), 200);
    let h2 = p.hits();
    let other = h2
        .iter()
        .find(|(a, n)| **n == 1 && **a != home)
        .map(|(a, _)| *a);
    assert!(
        other.is_some(),
        "the second conversation went elsewhere: {h2:?}"
    );
    // Claude Code's header alone also pins a conversation.
    p.mock.reset_stats();
    for n in 0..5 {
        let res = p
            .app
            .client
            .post(p.app.url("/v1/messages"))
            .header("x-api-key", &key)
            .header("x-claude-code-session-id", "hdr-1")
            .json(&json!({"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": [{"role": "user", "content": format!("h{n}")}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    assert!(p.hits().values().any(|n| *n == 5), "{:?}", p.hits());
    // After the TTL the mapping is gone; the next turn creates a fresh one.
    let sticky = p.app.relay().pool().live().sticky();
    let session = tollgate::scheduler::sticky::session_hash(Some("conv-1"), None, None).unwrap();
    let key_id: Arc<str> = key_id.into();
    let now = || tollgate::clock::Clock::now_ms(&*clock);
    assert_eq!(
        sticky.get(&key_id, session, now()).as_deref(),
        Some(p.ids[home].as_str())
    );
    clock.advance(Duration::from_secs(3_600));
    assert_eq!(sticky.get(&key_id, session, now()), None, "expired");
    assert_eq!(p.send(&key, &turn("conv-1", 21)).await.status(), 200);
    assert!(
        sticky.get(&key_id, session, now()).is_some(),
        "re-mapped on the next turn"
    );
}

#[tokio::test]
async fn overloaded_account_is_failed_over_then_recovers_through_a_probe() {
    let clock = ManualClock::new();
    let app = spawn_app_clocked(TestDb::new(Backend::Sqlite).await, clock.clone(), |s| {
        s.serve.scheduler.overload_cooldown_secs = 1;
        s.serve.scheduler.max_cooldown_secs = 2;
    })
    .await;
    let p = pool(app, &[("a", "shared"), ("b", "shared"), ("bad", "shared")]).await;
    p.mock.set_behavior(
        "bad",
        Behavior {
            fault: Some(Fault::Status {
                status: 529,
                retry_after_secs: None,
            }),
            ..Default::default()
        },
    );
    let key = Arc::new(p.key(json!({"name": "k"})).await);
    let mut failures = 0;
    for stream in [false, true] {
        let mut tasks = Vec::new();
        for i in 0..200 {
            let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "stream": stream,
                              "messages": [{"role": "user", "content": format!("{stream}{i}")}]});
            let req = p
                .app
                .client
                .post(p.app.url("/v1/messages"))
                .header("x-api-key", key.as_str())
                .json(&body);
            tasks.push(tokio::spawn(async move {
                let res = req.send().await.unwrap();
                let ok = res.status() == 200;
                let text = res.text().await.unwrap();
                ok && (!stream || text.contains("message_stop"))
            }));
        }
        for t in tasks {
            failures += usize::from(!t.await.unwrap());
        }
    }
    assert_eq!(failures, 0, "no client saw an error");
    let bad = p.account("bad").await;
    assert_eq!(bad["status"], "overloaded", "{bad}");
    assert!(bad["lastError"]["httpStatus"] == 529, "{bad}");
    assert!(bad["stats24h"]["overloaded"].as_u64().unwrap() >= 1);
    // Fix the account; after the cooldown one probe brings it back.
    p.mock.clear_behavior("bad");
    clock.advance(Duration::from_millis(2_200));
    p.mock.reset_stats();
    for i in 0..30 {
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": format!("r{i}")}]});
        assert_eq!(p.send(&key, &body).await.status(), 200);
    }
    assert!(
        p.mock.requests("bad") > 0,
        "the recovered account serves again"
    );
    assert_eq!(p.account("bad").await["status"], "active");
    // Every state change was recorded. Recording happens off the hot path, so the
    // newest event may land a moment after the live status changed.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_, events) = p
            .app
            .admin_send(
                &p.token,
                Method::GET,
                &format!("/admin/accounts/{}/events", p.ids["bad"]),
                None,
            )
            .await;
        let statuses: Vec<String> = events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["status"].as_str().unwrap().to_owned())
            .collect();
        let complete =
            statuses.iter().any(|s| s == "overloaded") && statuses.iter().any(|s| s == "active");
        if complete {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{statuses:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn auth_failure_marks_error_and_stops_traffic_until_reset() {
    let p = pool(
        spawn_app().await,
        &[("good", "shared"), ("revoked", "shared")],
    )
    .await;
    p.mock.set_behavior(
        "revoked",
        Behavior {
            fault: Some(Fault::Status {
                status: 401,
                retry_after_secs: None,
            }),
            ..Default::default()
        },
    );
    let key = p.key(json!({"name": "k"})).await;
    for i in 0..10 {
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": format!("x{i}")}]});
        assert_eq!(p.send(&key, &body).await.status(), 200);
    }
    assert!(
        p.mock.requests("revoked") <= 3,
        "no traffic after the third 401 in a row"
    );
    let v = p.account("revoked").await;
    assert_eq!(v["status"], "error", "{v}");
    // Stays in error however long we wait; an admin reset clears it.
    p.mock.clear_behavior("revoked");
    let (s, v) = p
        .app
        .admin_post(
            &p.token,
            &format!("/admin/accounts/{}/reset-status", p.ids["revoked"]),
            json!({}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["status"], "active");
}

#[tokio::test]
async fn a_single_500_does_not_cool_an_account_down() {
    let p = pool(spawn_app().await, &[("only", "shared")]).await;
    p.mock.set_behavior(
        "only",
        Behavior {
            fault: Some(Fault::Status {
                status: 500,
                retry_after_secs: None,
            }),
            fault_times: Some(1),
            ..Default::default()
        },
    );
    let key = p.key(json!({"name": "k"})).await;
    let first = p
        .send(&key, &messages_body("claude-sonnet-4-5", false))
        .await;
    assert_eq!(first.status(), 500, "the only account's 500 passes through");
    assert_eq!(p.account("only").await["status"], "active");
    assert_eq!(
        p.send(&key, &messages_body("claude-sonnet-4-5", false))
            .await
            .status(),
        200
    );
    // Three within the window do.
    p.mock.set_behavior(
        "only",
        Behavior {
            fault: Some(Fault::Status {
                status: 500,
                retry_after_secs: None,
            }),
            fault_times: Some(3),
            ..Default::default()
        },
    );
    for _ in 0..3 {
        p.send(&key, &messages_body("claude-sonnet-4-5", false))
            .await;
    }
    assert_eq!(p.account("only").await["status"], "overloaded");
}

#[tokio::test]
async fn rate_limited_account_waits_for_the_announced_reset() {
    let p = pool(spawn_app().await, &[("a", "shared"), ("limited", "shared")]).await;
    p.mock.set_behavior(
        "limited",
        Behavior {
            fault: Some(Fault::Status {
                status: 429,
                retry_after_secs: Some(120),
            }),
            ..Default::default()
        },
    );
    let key = p.key(json!({"name": "k"})).await;
    for i in 0..10 {
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [{"role": "user", "content": format!("l{i}")}]});
        assert_eq!(p.send(&key, &body).await.status(), 200);
    }
    let v = p.account("limited").await;
    assert_eq!(v["status"], "rate_limited");
    let until = chrono::DateTime::parse_from_rfc3339(v["cooldownUntil"].as_str().unwrap()).unwrap();
    let secs = (until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds();
    assert!(
        (100..=121).contains(&secs),
        "cooldown follows retry-after: {secs}s"
    );
    assert_eq!(p.mock.requests("limited"), 1);
}
