//! The load the benchmark applies and what it reads off it: sequential latency, throughput at a
//! concurrency, and streams (first token, gaps between chunks). The client is hyper's bare
//! HTTP/1.1 connection, one per concurrent caller and kept alive, so that the load generator
//! costs as little as it can on the core it shares with the mock.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::json;

pub fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Where requests go and the key they carry (`x-api-key`).
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub key: String,
}

fn body(stream: bool) -> Bytes {
    Bytes::from(
        json!({"model": "claude-sonnet-4-5", "max_tokens": 256, "stream": stream,
               "messages": [{"role": "user", "content": "Say hello"}]})
        .to_string(),
    )
}

/// One kept-alive connection, reopened after an error.
struct Conn {
    target: Arc<Target>,
    host: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    fn new(target: Arc<Target>) -> Self {
        let host = target.addr.to_string();
        Conn {
            target,
            host,
            sender: None,
        }
    }

    async fn send(&mut self, body: &Bytes) -> Option<hyper::Response<hyper::body::Incoming>> {
        if self.sender.is_none() {
            let tcp = tokio::net::TcpStream::connect(self.target.addr)
                .await
                .ok()?;
            tcp.set_nodelay(true).ok()?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .ok()?;
            tokio::spawn(conn);
            self.sender = Some(sender);
        }
        let sender = self.sender.as_mut()?;
        let req = hyper::Request::post("/v1/messages")
            .header("host", &self.host)
            .header("content-type", "application/json")
            .header("x-api-key", &self.target.key)
            .header("anthropic-version", "2023-06-01")
            .body(Full::new(body.clone()))
            .ok()?;
        let res = match sender.ready().await {
            Ok(()) => sender.send_request(req).await.ok(),
            Err(_) => None,
        };
        if res.is_none() {
            self.sender = None;
        }
        res
    }

    /// A whole non-streaming request; true on a 2xx with its body read.
    async fn call(&mut self, body: &Bytes) -> bool {
        match self.send(body).await {
            Some(res) => {
                let ok = res.status().is_success();
                let read = res.into_body().collect().await.is_ok();
                if !read {
                    self.sender = None;
                }
                ok && read
            }
            None => false,
        }
    }

    /// A whole stream: the arrival time of each chunk since the request was sent and of the
    /// first text delta, or None when it failed or never said `message_stop`.
    async fn stream(&mut self, body: &Bytes) -> Option<(Duration, Vec<Duration>)> {
        let start = Instant::now();
        let res = self.send(body).await?;
        if !res.status().is_success() {
            return None;
        }
        let mut body = res.into_body();
        let (mut arrivals, mut text, mut first) = (Vec::new(), Vec::new(), None);
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                self.sender = None;
                return None;
            };
            if let Ok(data) = frame.into_data() {
                arrivals.push(start.elapsed());
                text.extend_from_slice(&data);
                if first.is_none() && memchr::memmem::find(&text, b"text_delta").is_some() {
                    first = Some(start.elapsed());
                }
            }
        }
        memchr::memmem::find(&text, b"message_stop")?;
        Some((first?, arrivals))
    }
}

pub async fn sequential_latency(t: &Arc<Target>, n: usize) -> Vec<Duration> {
    let b = body(false);
    let mut conn = Conn::new(t.clone());
    for _ in 0..n / 5 {
        conn.call(&b).await;
    }
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        assert!(conn.call(&b).await, "request to {} failed", t.addr);
        out.push(start.elapsed());
    }
    out.sort();
    out
}

pub struct Load {
    pub per_sec: f64,
    pub latencies: Vec<Duration>,
    pub errors: u64,
}

/// `concurrency` callers, each on its own connection, for `secs`.
pub async fn throughput(t: &Arc<Target>, concurrency: usize, secs: u64) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (t, stop, errors) = (t.clone(), stop.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let b = body(false);
            let mut conn = Conn::new(t);
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let start = Instant::now();
                if conn.call(&b).await {
                    lat.push(start.elapsed());
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(1)).await;
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
    Load {
        per_sec: all.len() as f64 / secs as f64,
        latencies: all,
        errors: errors.load(Ordering::Relaxed),
    }
}

#[derive(Default)]
pub struct StreamStats {
    pub completed: usize,
    pub failed: usize,
    /// Time to the first text delta, sorted.
    pub first_token: Vec<Duration>,
    pub max_gap: Duration,
}

/// `concurrency` callers opening one stream after another on their connection for `secs`
/// (`rounds == 0`), or each opening `rounds` streams on a fresh connection.
pub async fn streams(t: &Arc<Target>, concurrency: usize, secs: u64, rounds: usize) -> StreamStats {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            let b = body(true);
            let mut conn = Conn::new(t);
            let mut s = StreamStats::default();
            let mut n = 0;
            while (rounds == 0 && Instant::now() < deadline) || n < rounds {
                n += 1;
                match conn.stream(&b).await {
                    // Timed runs count the streams that ended within the time.
                    Some(_) if rounds == 0 && Instant::now() > deadline => {}
                    Some((first, arrivals)) => {
                        s.completed += 1;
                        s.first_token.push(first);
                        for w in arrivals.windows(2) {
                            s.max_gap = s.max_gap.max(w[1] - w[0]);
                        }
                    }
                    None => s.failed += 1,
                }
            }
            s
        }));
    }
    let mut all = StreamStats::default();
    for task in tasks {
        let s = task.await.unwrap();
        all.completed += s.completed;
        all.failed += s.failed;
        all.first_token.extend(s.first_token);
        all.max_gap = all.max_gap.max(s.max_gap);
    }
    all.first_token.sort();
    all
}
