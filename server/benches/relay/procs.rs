//! The processes the benchmark runs: the mock upstream and Tollgate (this tree's build, and an
//! optional baseline binary), each pinned to a CPU, with an account on the mock and a key.

use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use crate::load::Target;
use crate::CRED;

pub struct Proc {
    pub child: Child,
    pub url: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

pub fn bin(name: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    root.join("target/release").join(name).display().to_string()
}

/// Starts a process (optionally pinned to a CPU) and waits for its "listening on http://..." line.
pub fn spawn(cpu: Option<&str>, program: &str, args: &[&str], env: &[(&str, String)]) -> Proc {
    use std::io::{BufRead, BufReader};
    let mut cmd = match cpu {
        Some(cpu) if Command::new("taskset").arg("--version").output().is_ok() => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpu).arg(program);
            c
        }
        _ => Command::new(program),
    };
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {program}: {e}"));
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut url = String::new();
    let mut password = None;
    for line in lines.by_ref() {
        let line = line.expect("read stdout");
        if let Some(p) = line.split("with password: ").nth(1) {
            password = Some(p.trim().to_owned());
        }
        if let Some(u) = line.split("listening on ").nth(1) {
            url = u.split_whitespace().next().unwrap_or_default().to_owned();
            break;
        }
    }
    let _ = password;
    std::thread::spawn(move || for _ in lines {});
    Proc { child, url }
}

pub fn rss_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A running Tollgate with an account on the mock and a key without limits.
pub struct Relay {
    pub label: String,
    pub proc: Proc,
    pub target: Target,
    pub idle_rss_kb: u64,
    _data: tempfile::TempDir,
}

/// Starts `program` as `tollgate serve` on CPU 0 (one worker thread) on a fresh data directory.
pub async fn start_relay(
    label: &str,
    program: &str,
    client: &reqwest::Client,
    mock: &str,
) -> Relay {
    let data = tempfile::tempdir().unwrap();
    let password = "bench-admin-password-1".to_string();
    let proc = spawn(
        Some("0"),
        program,
        &["serve"],
        &[
            ("LISTEN_ADDR", "127.0.0.1:0".into()),
            ("TOLLGATE_DATA_DIR", data.path().display().to_string()),
            ("ADMIN_PASSWORD", password.clone()),
            ("LOG_LEVEL", "warn".into()),
            ("TOKIO_WORKER_THREADS", "1".into()),
        ],
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let idle_rss_kb = rss_kb(proc.child.id(), "VmRSS");
    let login: Value = client
        .post(format!("{}/admin/auth/login", proc.url))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().expect("admin token").to_owned();
    let res = client
        .post(format!("{}/admin/accounts", proc.url))
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
    let key: Value = client
        .post(format!("{}/admin/api-keys", proc.url))
        .bearer_auth(&token)
        .json(&json!({"name": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = key["key"].as_str().expect("key").to_owned();
    Relay {
        label: label.to_owned(),
        target: Target {
            url: proc.url.clone(),
            key_header: ("x-api-key", key),
        },
        proc,
        idle_rss_kb,
        _data: data,
    }
}

impl Relay {
    pub fn rss_mb(&self, field: &str) -> f64 {
        rss_kb(self.proc.child.id(), field) as f64 / 1024.0
    }
}
