//! Accounts customers cannot poison: errors a request causes pass to the client without
//! failover or any mark on the account; a credential goes to `error` only on repeated evidence;
//! token counting is limited per key and its 429s never cool an account down.

mod common;

use std::collections::HashMap;

use common::{messages_body, spawn_app, TestApp};
use mock_upstream::{Behavior, Fault, MockUpstream};
use reqwest::Method;
use serde_json::{json, Value};

struct Pool {
    app: TestApp,
    mock: MockUpstream,
    token: String,
    ids: HashMap<&'static str, String>,
}

async fn pool(platform: &str, names: &[&'static str]) -> Pool {
    let app = spawn_app().await;
    let mock = MockUpstream::start(Behavior::default()).await;
    let token = app.admin_token().await;
    let mut ids = HashMap::new();
    for name in names {
        let id = app
            .create_account(
                &token,
                json!({"name": name, "apiKey": name, "baseUrl": mock.url(), "platform": platform}),
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
    async fn status(&self, name: &str) -> String {
        let (_, v) = self
            .app
            .admin_send(
                &self.token,
                Method::GET,
                &format!("/admin/accounts/{}", self.ids[name]),
                None,
            )
            .await;
        v["status"].as_str().unwrap_or_default().to_owned()
    }

    async fn post(&self, key: &str, path: &str, header: &str, body: &Value) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url(path))
            .header(header, key)
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

fn refused(status: u16) -> Behavior {
    Behavior {
        fault: Some(Fault::Refused { status }),
        ..Default::default()
    }
}

#[tokio::test]
async fn request_caused_errors_pass_through_without_failover_or_health() {
    for (platform, path, header, body) in [
        (
            "claude",
            "/v1/messages".to_string(),
            "x-api-key",
            messages_body("claude-sonnet-4-5", false),
        ),
        (
            "openai",
            "/openai/v1/chat/completions".to_string(),
            "authorization",
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
        ),
        (
            "gemini",
            "/gemini/v1beta/models/gemini-2.5-pro:generateContent".to_string(),
            "x-goog-api-key",
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        ),
    ] {
        let p = pool(platform, &["one", "two"]).await;
        let (_, key) = p.app.create_key(&p.token, json!({"name": "k"})).await;
        let presented = if header == "authorization" {
            format!("Bearer {key}")
        } else {
            key.clone()
        };
        for status in [403, 404, 400, 422] {
            p.mock.set_defaults(refused(status));
            p.mock.reset_stats();
            for _ in 0..5 {
                let res = p.post(&presented, &path, header, &body).await;
                assert_eq!(res.status(), status, "{platform}: passed through as it is");
                let v: Value = res.json().await.unwrap();
                assert!(
                    v.to_string().contains("mock refusal"),
                    "{platform}: the upstream's own answer: {v}"
                );
            }
            assert_eq!(
                p.mock.total_requests(),
                5,
                "{platform} {status}: one upstream attempt per request, no failover"
            );
        }
        for name in ["one", "two"] {
            assert_eq!(p.status(name).await, "active", "{platform}: {name}");
        }
        p.mock.set_defaults(Behavior::default());
        assert_eq!(p.post(&presented, &path, header, &body).await.status(), 200);
    }
}

#[tokio::test]
async fn a_credential_goes_to_error_only_after_three_refusals_in_a_row() {
    let p = pool("claude", &["good", "revoked"]).await;
    let (_, key) = p.app.create_key(&p.token, json!({"name": "k"})).await;
    // Interleaved with successes, auth refusals never add up.
    for round in 0..4 {
        p.mock.set_behavior(
            "revoked",
            Behavior {
                fault: Some(Fault::Status {
                    status: 401,
                    retry_after_secs: None,
                }),
                fault_times: Some(2),
                ..Default::default()
            },
        );
        while p.mock.requests("revoked") < (round + 1) * 3 {
            let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 10,
                "messages": [{"role": "user", "content": format!("r{round}-{}", p.mock.total_requests())}]});
            let res = p.post(&key, "/v1/messages", "x-api-key", &body).await;
            assert_eq!(res.status(), 200, "failed over to the good account");
        }
        assert_eq!(p.status("revoked").await, "active", "round {round}");
    }
    // Three in a row (and the failover keeps every client served).
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
    let before = p.mock.requests("revoked");
    for i in 0..20 {
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 10,
            "messages": [{"role": "user", "content": format!("x{i}")}]});
        assert_eq!(
            p.post(&key, "/v1/messages", "x-api-key", &body)
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        p.mock.requests("revoked") - before,
        3,
        "no traffic after the third 401 in a row"
    );
    assert_eq!(p.status("revoked").await, "error");
}

#[tokio::test]
async fn token_counting_is_limited_per_key_and_its_429s_never_cool_an_account() {
    let p = pool("claude", &["only"]).await;
    let (_, key) = p.app.create_key(&p.token, json!({"name": "k"})).await;
    let (_, other) = p.app.create_key(&p.token, json!({"name": "other"})).await;
    let count =
        json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]});
    p.mock.set_defaults(Behavior {
        fault: Some(Fault::Status {
            status: 429,
            retry_after_secs: Some(600),
        }),
        ..Default::default()
    });
    let res = p
        .post(&key, "/v1/messages/count_tokens", "x-api-key", &count)
        .await;
    assert_eq!(res.status(), 429, "the upstream's 429 reaches the client");
    assert_eq!(p.status("only").await, "active", "and cools nothing down");
    p.mock.set_defaults(Behavior::default());
    // A message right after is served by the same account.
    assert_eq!(
        p.post(
            &key,
            "/v1/messages",
            "x-api-key",
            &messages_body("claude-sonnet-4-5", false)
        )
        .await
        .status(),
        200
    );
    // 60 a minute per key: the first call above counted, 59 more pass, the next is refused
    // without reaching the upstream.
    for _ in 0..59 {
        let res = p
            .post(&key, "/v1/messages/count_tokens", "x-api-key", &count)
            .await;
        assert_eq!(res.status(), 200);
    }
    let upstream_before = p.mock.total_requests();
    let res = p
        .post(&key, "/v1/messages/count_tokens", "x-api-key", &count)
        .await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error");
    assert_eq!(p.mock.total_requests(), upstream_before);
    // Another key has its own budget; messages are not limited by it.
    assert_eq!(
        p.post(&other, "/v1/messages/count_tokens", "x-api-key", &count)
            .await
            .status(),
        200
    );
    assert_eq!(
        p.post(
            &key,
            "/v1/messages",
            "x-api-key",
            &messages_body("claude-sonnet-4-5", false)
        )
        .await
        .status(),
        200
    );
}

#[tokio::test]
async fn a_failed_account_test_is_evidence_enough() {
    let p = pool("claude", &["revoked"]).await;
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
    let (s, v) = p
        .app
        .admin_post(
            &p.token,
            &format!("/admin/accounts/{}/test", p.ids["revoked"]),
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["ok"], false);
    assert_eq!(p.status("revoked").await, "error");
}
