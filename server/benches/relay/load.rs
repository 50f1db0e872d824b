//! The load the benchmark applies and what it reads off it: sequential latency, throughput at a
//! concurrency, and streams (time to first token, gaps between chunks).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

use crate::CRED;

pub fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[derive(Clone)]
pub struct Target {
    pub url: String,
    pub key_header: (&'static str, String),
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

pub async fn sequential_latency(client: &reqwest::Client, t: &Target, n: usize) -> Vec<Duration> {
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

pub async fn throughput(
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

pub struct StreamStats {
    pub ttft: Vec<Duration>,
    pub gaps: Vec<Duration>,
    pub max_gap: Duration,
    pub failed: usize,
}

pub async fn streams(
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

pub fn mean(v: &[Duration]) -> Duration {
    if v.is_empty() {
        Duration::ZERO
    } else {
        v.iter().sum::<Duration>() / v.len() as u32
    }
}

pub async fn set_behavior(client: &reqwest::Client, mock: &str, b: Value) {
    let res = client
        .put(format!("{mock}/_mock/behavior/{CRED}"))
        .json(&b)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
}
