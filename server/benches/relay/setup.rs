//! A Tollgate under test: started as `tollgate serve` pinned to CPU 0 with one worker thread on
//! a fresh SQLite data directory, with an account on the mock, a key without limits and a key
//! with every limit on (a quota, a concurrency limit and a rate window, none of them reached).

use serde_json::{json, Value};

use crate::procs::{spawn, Proc};
use crate::CRED;

pub struct Tollgate {
    pub proc: Proc,
    pub key: String,
    pub limited_key: String,
    _data: tempfile::TempDir,
}

/// Starts `program` with `extra` environment on top of the benchmark's.
pub async fn start(program: &str, extra: &[(String, String)], mock: &str) -> Tollgate {
    let data = tempfile::tempdir().unwrap();
    let password = "bench-admin-password-1".to_string();
    let mut env = vec![
        ("LISTEN_ADDR", "127.0.0.1:0".into()),
        ("TOLLGATE_DATA_DIR", data.path().display().to_string()),
        ("ADMIN_PASSWORD", password.clone()),
        ("LOG_LEVEL", "warn".into()),
        ("TOKIO_WORKER_THREADS", "1".into()),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.as_str(), v.clone())));
    let proc = spawn("0", program, &["serve"], &env);
    let client = reqwest::Client::new();
    let url = proc.url();
    let login: Value = client
        .post(format!("{url}/admin/auth/login"))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().expect("admin token").to_owned();
    let res = client
        .post(format!("{url}/admin/accounts"))
        .bearer_auth(&token)
        .json(&json!({"name": "bench", "apiKey": CRED, "baseUrl": mock}))
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_success(),
        "account: {}",
        res.text().await.unwrap()
    );
    let key = |body: Value| {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        async move {
            let res = client
                .post(format!("{url}/admin/api-keys"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let text = res.text().await.unwrap();
            let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("key: {text}"));
            v["key"]
                .as_str()
                .unwrap_or_else(|| panic!("key: {text}"))
                .to_owned()
        }
    };
    let plain = key(json!({"name": "bench"})).await;
    let limited = key(json!({
        "name": "bench-limited",
        "quotaLimit": 1.0e9,
        "concurrencyLimit": 1000,
        "rateLimitWindow": 1,
        "rateLimitRequests": 100_000_000,
        "rateLimitCost": 1.0e9,
        "dailyCostLimit": 1.0e9,
    }))
    .await;
    Tollgate {
        proc,
        key: plain,
        limited_key: limited,
        _data: data,
    }
}
