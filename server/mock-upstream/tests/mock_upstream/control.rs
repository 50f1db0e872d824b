//! The HTTP control API, the in-process statistics, and the `mock-upstream` binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use mock_upstream::{Behavior, MockUpstream};
use serde_json::{json, Value};

use crate::support::{anthropic_body, client};

async fn message_status(base: &str, key: &str) -> u16 {
    client()
        .post(format!("{base}/v1/messages"))
        .header("x-api-key", key)
        .json(&anthropic_body(false))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn control_api_sets_behaviors_and_reports_stats() {
    let mock = MockUpstream::start(Behavior::default()).await;
    let base = mock.url();
    let http = client();

    let response = http
        .put(format!("{base}/_mock/behavior/team%20key"))
        .body(r#"{"fault":{"type":"status","status":429,"retryAfterSecs":2},"faultTimes":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(message_status(&base, "team key").await, 429);
    assert_eq!(message_status(&base, "team key").await, 200);

    let response = http
        .put(format!("{base}/_mock/defaults"))
        .json(&json!({"fault": {"type": "status", "status": 500}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(message_status(&base, "anyone").await, 500);
    // The per-credential behaviour still wins over the defaults.
    assert_eq!(message_status(&base, "team key").await, 200);
    let response = http
        .delete(format!("{base}/_mock/behavior/team%20key"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(message_status(&base, "team key").await, 500);

    let stats: Value = http
        .get(format!("{base}/_mock/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats,
        json!({"total": 5, "inFlight": 0, "byCredential": {"team key": 4, "anyone": 1}})
    );
    assert_eq!(mock.total_requests(), 5);
    assert_eq!(mock.requests("team key"), 4);

    let last: Value = http
        .get(format!("{base}/_mock/last/anyone"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(last["method"], "POST");
    assert_eq!(last["path"], "/v1/messages");
    assert_eq!(last["headers"]["x-api-key"], "anyone");
    let body: Value = serde_json::from_str(last["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["model"], "claude-sonnet-4-5");
    let missing = http
        .get(format!("{base}/_mock/last/nobody"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let rejected = http
        .put(format!("{base}/_mock/defaults"))
        .body(r#"{"compress":"lz4"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status(), 400);

    let response = http
        .post(format!("{base}/_mock/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(mock.total_requests(), 0);
    assert_eq!(message_status(&base, "anyone").await, 200);
}

#[tokio::test]
async fn in_process_stats_reset_keeps_behaviors() {
    let mock = MockUpstream::start(Behavior::default()).await;
    mock.set_behavior(
        "k",
        Behavior {
            fault: Some(mock_upstream::Fault::Status {
                status: 418,
                retry_after_secs: None,
            }),
            ..Behavior::default()
        },
    );
    assert_eq!(message_status(&mock.url(), "k").await, 418);
    assert_eq!(mock.requests("k"), 1);
    mock.reset_stats();
    assert_eq!(mock.requests("k"), 0);
    assert_eq!(mock.total_requests(), 0);
    assert!(mock.last_request("k").is_none());
    assert_eq!(message_status(&mock.url(), "k").await, 418);
}

/// Kills the child on drop so a failing assertion does not leak the process.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn binary_prints_its_url_and_serves_with_cli_defaults() {
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_mock-upstream"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--chunks",
                "5",
                "--latency-ms",
                "1",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let url = line
        .trim_end()
        .strip_prefix("mock upstream listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"));
    let answer: Value = client()
        .post(format!("{url}/v1/messages"))
        .header("x-api-key", "k")
        .json(&anthropic_body(false))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["content"][0]["text"], "Hello from the Tollgate mock");
    let stats: Value = client()
        .get(format!("{url}/_mock/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total"], 1);
}
