//! The relay benchmark: Tollgate against the client talking to the mock upstream directly, on
//! the same box, in one run. Prints numbers; asserts nothing.
//!
//! Run it with `.ci/bench` (release build; the relay pinned to CPU 0, mock and client to CPU 1).

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

const CRED: &str = "bench-upstream";

struct Proc {
    child: Child,
    url: String,
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

fn bin(name: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    root.join("target/release").join(name).display().to_string()
}

/// Starts a process (optionally pinned to a CPU) and waits for its "listening on http://..." line.
fn spawn(cpu: Option<&str>, program: &str, args: &[&str], env: &[(&str, String)]) -> Proc {
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

fn rss_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

struct Target {
    url: String,
    key_header: (&'static str, String),
}

impl Target {
    fn post(&self, client: &reqwest::Client, body: &Value) -> reqwest::RequestBuilder {
        client
            .post(format!("{}/v1/messages", self.url))
            .header(self.key_header.0, &self.key_header.1)
            .header("anthropic-version", "2023-06-01")
            .json(body)
    }
}

fn body(stream: bool) -> Value {
    json!({"model": "claude-sonnet-4-5", "max_tokens": 256, "stream": stream,
           "messages": [{"role": "user", "content": "Say hello"}]})
}

async fn sequential_latency(client: &reqwest::Client, t: &Target, n: usize) -> Vec<Duration> {
    let b = body(false);
    for _ in 0..n / 5 {
        t.post(client, &b)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let res = t.post(client, &b).send().await.unwrap();
        assert!(res.status().is_success(), "status {}", res.status());
        res.bytes().await.unwrap();
        out.push(start.elapsed());
    }
    out.sort();
    out
}

async fn throughput(
    client: &reqwest::Client,
    t: Arc<Target>,
    concurrency: usize,
    secs: u64,
) -> (f64, Vec<Duration>, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, t, stop, errors) = (client.clone(), t.clone(), stop.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let b = body(false);
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let start = Instant::now();
                match t.post(&client, &b).send().await {
                    Ok(res) if res.status().is_success() => {
                        let _ = res.bytes().await;
                        lat.push(start.elapsed());
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            lat
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    (
        all.len() as f64 / secs as f64,
        all,
        errors.load(Ordering::Relaxed),
    )
}

struct StreamStats {
    ttft: Vec<Duration>,
    gaps: Vec<Duration>,
    max_gap: Duration,
    failed: usize,
}

async fn streams(
    client: &reqwest::Client,
    t: Arc<Target>,
    concurrency: usize,
    rounds: usize,
) -> StreamStats {
    let mut ttft = Vec::new();
    let mut gaps = Vec::new();
    let mut max_gap = Duration::ZERO;
    let mut failed = 0;
    for _ in 0..rounds {
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (client, t) = (client.clone(), t.clone());
            tasks.push(tokio::spawn(async move {
                let start = Instant::now();
                let res = t.post(&client, &body(true)).send().await.ok()?;
                if !res.status().is_success() {
                    return None;
                }
                let mut s = res.bytes_stream();
                let mut arrivals = Vec::new();
                let mut text = Vec::new();
                while let Some(chunk) = s.next().await {
                    let chunk = chunk.ok()?;
                    arrivals.push(start.elapsed());
                    text.extend_from_slice(&chunk);
                }
                let text = String::from_utf8_lossy(&text);
                if !text.contains("message_stop") {
                    return None;
                }
                // First token = the first content delta's arrival.
                Some(arrivals)
            }));
        }
        for task in tasks {
            match task.await.unwrap() {
                Some(arrivals) if !arrivals.is_empty() => {
                    ttft.push(arrivals[0]);
                    for w in arrivals.windows(2) {
                        let g = w[1] - w[0];
                        max_gap = max_gap.max(g);
                        gaps.push(g);
                    }
                }
                _ => failed += 1,
            }
        }
    }
    ttft.sort();
    gaps.sort();
    StreamStats {
        ttft,
        gaps,
        max_gap,
        failed,
    }
}

fn mean(v: &[Duration]) -> Duration {
    if v.is_empty() {
        Duration::ZERO
    } else {
        v.iter().sum::<Duration>() / v.len() as u32
    }
}

async fn set_behavior(client: &reqwest::Client, mock: &str, b: Value) {
    let res = client
        .put(format!("{mock}/_mock/behavior/{CRED}"))
        .json(&b)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let data = tempfile::tempdir().unwrap();
    let mock = spawn(
        Some("1"),
        &bin("mock-upstream"),
        &["--listen", "127.0.0.1:0"],
        &[],
    );
    let password = "bench-admin-password-1".to_string();
    let tollgate = spawn(
        Some("0"),
        &bin("tollgate"),
        &["serve"],
        &[
            ("LISTEN_ADDR", "127.0.0.1:0".into()),
            ("TOLLGATE_DATA_DIR", data.path().display().to_string()),
            ("ADMIN_PASSWORD", password.clone()),
            ("LOG_LEVEL", "warn".into()),
            ("TOKIO_WORKER_THREADS", "1".into()),
        ],
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .tcp_nodelay(true)
        .build()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss = rss_kb(tollgate.child.id(), "VmRSS");

    // An account on the mock and an unlimited key.
    let login: Value = client
        .post(format!("{}/admin/auth/login", tollgate.url))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().expect("admin token").to_owned();
    let res = client
        .post(format!("{}/admin/accounts", tollgate.url))
        .bearer_auth(&token)
        .json(&json!({"name": "bench", "apiKey": CRED, "baseUrl": mock.url}))
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_success(),
        "account: {}",
        res.text().await.unwrap()
    );
    let key: Value = client
        .post(format!("{}/admin/api-keys", tollgate.url))
        .bearer_auth(&token)
        .json(&json!({"name": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = key["key"].as_str().expect("key").to_owned();
    let direct = Arc::new(Target {
        url: mock.url.clone(),
        key_header: ("x-api-key", CRED.into()),
    });
    let relay = Arc::new(Target {
        url: tollgate.url.clone(),
        key_header: ("x-api-key", key),
    });

    println!("# Tollgate relay benchmark (relay on CPU 0; mock and client on CPU 1)\n");

    // 1. Added latency at concurrency 1, instant mock.
    set_behavior(&client, &mock.url, json!({})).await;
    let d = sequential_latency(&client, &direct, 5_000).await;
    let r = sequential_latency(&client, &relay, 5_000).await;
    println!("## Latency, concurrency 1, instant mock, 5000 requests");
    println!("| | p50 | p99 |\n|---|---|---|");
    println!(
        "| direct | {:.0} µs | {:.0} µs |",
        us(pct(&d, 0.5)),
        us(pct(&d, 0.99))
    );
    println!(
        "| through Tollgate | {:.0} µs | {:.0} µs |",
        us(pct(&r, 0.5)),
        us(pct(&r, 0.99))
    );
    println!(
        "| **added** | **{:.0} µs** | **{:.0} µs** |\n",
        us(pct(&r, 0.5)) - us(pct(&d, 0.5)),
        us(pct(&r, 0.99)) - us(pct(&d, 0.99))
    );

    // 2. Throughput at concurrency 256, 20 ms mock.
    set_behavior(&client, &mock.url, json!({"latencyMs": 20})).await;
    let (dt, dl, de) = throughput(&client, direct.clone(), 256, 10).await;
    let (rt_, rl, re) = throughput(&client, relay.clone(), 256, 10).await;
    let load_rss = rss_kb(tollgate.child.id(), "VmHWM");
    println!("## Throughput, concurrency 256, 20 ms mock, 10 s");
    println!("| | requests/s | p50 | p99 | errors |\n|---|---|---|---|---|");
    println!(
        "| direct | {dt:.0} | {:.1} ms | {:.1} ms | {de} |",
        us(pct(&dl, 0.5)) / 1e3,
        us(pct(&dl, 0.99)) / 1e3
    );
    println!(
        "| through Tollgate | {rt_:.0} | {:.1} ms | {:.1} ms | {re} |\n",
        us(pct(&rl, 0.5)) / 1e3,
        us(pct(&rl, 0.99)) / 1e3
    );

    // 3. Streaming: 20 chunks 5 ms apart, at 1 and 500 concurrent streams.
    set_behavior(&client, &mock.url, json!({"chunks": 20, "chunkGapMs": 5})).await;
    println!("## Streaming, 20 deltas 5 ms apart");
    println!("| concurrent streams | TTFT direct p50 | TTFT relay p50 | added TTFT p50 | added TTFT p99 | mean gap direct | mean gap relay | added gap per chunk | failed |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (c, rounds) in [(1usize, 200usize), (500, 2)] {
        let ds = streams(&client, direct.clone(), c, rounds).await;
        let rs = streams(&client, relay.clone(), c, rounds).await;
        println!(
            "| {c} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.1} µs | {} |",
            us(pct(&ds.ttft, 0.5)),
            us(pct(&rs.ttft, 0.5)),
            us(pct(&rs.ttft, 0.5)) - us(pct(&ds.ttft, 0.5)),
            us(pct(&rs.ttft, 0.99)) - us(pct(&ds.ttft, 0.99)),
            us(mean(&ds.gaps)),
            us(mean(&rs.gaps)),
            us(mean(&rs.gaps)) - us(mean(&ds.gaps)),
            rs.failed
        );
    }

    // 4. 2,000 concurrent streams.
    let big = streams(&client, relay.clone(), 2_000, 1).await;
    let peak_rss = rss_kb(tollgate.child.id(), "VmHWM");
    println!(
        "\n## 2000 concurrent streams through Tollgate\ncompleted {} of 2000, failed {}, longest gap between two chunks {:.1} ms, TTFT p99 {:.1} ms\n",
        big.ttft.len(),
        big.failed,
        us(big.max_gap) / 1e3,
        us(pct(&big.ttft, 0.99)) / 1e3
    );

    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("## Memory (RSS of the tollgate process)");
    println!("| idle | peak during the 256-connection run | peak overall (2000 streams) | after the runs |\n|---|---|---|---|");
    println!(
        "| {:.1} MB | {:.1} MB | {:.1} MB | {:.1} MB |",
        idle_rss as f64 / 1024.0,
        load_rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0,
        rss_kb(tollgate.child.id(), "VmRSS") as f64 / 1024.0
    );
}
