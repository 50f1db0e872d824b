//! The relay benchmark: Tollgate against the client talking to the mock upstream directly, on
//! the same box, in one run. Prints numbers; asserts nothing.
//!
//! Run it with `.ci/bench` (release build; the relay pinned to CPU 0, mock and client to CPU 1).
//! With `BASELINE_TOLLGATE=<path to another tollgate binary>` (`.ci/bench --baseline <commit>`
//! builds one), that binary is measured too, in the same run, as its own row in every table.

mod load;
mod procs;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use load::{mean, pct, sequential_latency, set_behavior, streams, throughput, us, Target};
use procs::{bin, spawn, start_relay};

pub const CRED: &str = "bench-upstream";

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let mock = spawn(
        Some("1"),
        &bin("mock-upstream"),
        &["--listen", "127.0.0.1:0"],
        &[],
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .tcp_nodelay(true)
        .build()
        .unwrap();
    let mut relays =
        vec![start_relay("through Tollgate", &bin("tollgate"), &client, &mock.url).await];
    if let Ok(path) = std::env::var("BASELINE_TOLLGATE") {
        let label = std::env::var("BASELINE_LABEL").unwrap_or_else(|_| "baseline".into());
        relays.push(start_relay(&format!("through {label}"), &path, &client, &mock.url).await);
    }
    let direct = Arc::new(Target {
        url: mock.url.clone(),
        key_header: ("x-api-key", CRED.into()),
    });

    println!("# Tollgate relay benchmark (relay on CPU 0; mock and client on CPU 1)\n");
    for r in &relays {
        println!("- {}: {}", r.label, r.proc.url);
    }
    println!();

    // 1. Added latency at concurrency 1, instant mock.
    set_behavior(&client, &mock.url, json!({})).await;
    let d = sequential_latency(&client, &direct, 5_000).await;
    println!("## Latency, concurrency 1, instant mock, 5000 requests");
    println!("| | p50 | p99 | added p50 | added p99 |\n|---|---|---|---|---|");
    println!(
        "| direct | {:.0} µs | {:.0} µs | | |",
        us(pct(&d, 0.5)),
        us(pct(&d, 0.99))
    );
    for relay in &relays {
        let r = sequential_latency(&client, &relay.target, 5_000).await;
        println!(
            "| {} | {:.0} µs | {:.0} µs | **{:.0} µs** | **{:.0} µs** |",
            relay.label,
            us(pct(&r, 0.5)),
            us(pct(&r, 0.99)),
            us(pct(&r, 0.5)) - us(pct(&d, 0.5)),
            us(pct(&r, 0.99)) - us(pct(&d, 0.99))
        );
    }
    println!();

    // 2. Throughput at concurrency 256, 20 ms mock.
    set_behavior(&client, &mock.url, json!({"latencyMs": 20})).await;
    println!("## Throughput, concurrency 256, 20 ms mock, 10 s");
    println!("| | requests/s | p50 | p99 | errors |\n|---|---|---|---|---|");
    let (dt, dl, de) = throughput(&client, direct.clone(), 256, 10).await;
    println!(
        "| direct | {dt:.0} | {:.1} ms | {:.1} ms | {de} |",
        us(pct(&dl, 0.5)) / 1e3,
        us(pct(&dl, 0.99)) / 1e3
    );
    let mut load_rss = Vec::new();
    for relay in &relays {
        let target = Arc::new(relay.target.clone());
        let (rt_, rl, re) = throughput(&client, target, 256, 10).await;
        load_rss.push(relay.rss_mb("VmHWM"));
        println!(
            "| {} | {rt_:.0} | {:.1} ms | {:.1} ms | {re} |",
            relay.label,
            us(pct(&rl, 0.5)) / 1e3,
            us(pct(&rl, 0.99)) / 1e3
        );
    }
    println!();

    // 3. Streaming: 20 chunks 5 ms apart, at 1 and 500 concurrent streams.
    set_behavior(&client, &mock.url, json!({"chunks": 20, "chunkGapMs": 5})).await;
    println!("## Streaming, 20 deltas 5 ms apart");
    println!("| | concurrent streams | TTFT direct p50 | TTFT relay p50 | added TTFT p50 | added TTFT p99 | mean gap direct | mean gap relay | added gap per chunk | failed |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (c, rounds) in [(1usize, 200usize), (500, 2)] {
        let ds = streams(&client, direct.clone(), c, rounds).await;
        for relay in &relays {
            let rs = streams(&client, Arc::new(relay.target.clone()), c, rounds).await;
            println!(
                "| {} | {c} | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {:.1} µs | {} |",
                relay.label,
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
    }

    // 4. 2,000 concurrent streams.
    println!("\n## 2000 concurrent streams");
    let mut peak_rss = Vec::new();
    for relay in &relays {
        let big = streams(&client, Arc::new(relay.target.clone()), 2_000, 1).await;
        peak_rss.push(relay.rss_mb("VmHWM"));
        println!(
            "- {}: completed {} of 2000, failed {}, longest gap between two chunks {:.1} ms, TTFT p99 {:.1} ms",
            relay.label,
            big.ttft.len(),
            big.failed,
            us(big.max_gap) / 1e3,
            us(pct(&big.ttft, 0.99)) / 1e3
        );
    }

    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("\n## Memory (RSS of the tollgate process)");
    println!("| | idle | peak during the 256-connection run | peak overall (2000 streams) | after the runs |\n|---|---|---|---|---|");
    for (i, relay) in relays.iter().enumerate() {
        println!(
            "| {} | {:.1} MB | {:.1} MB | {:.1} MB | {:.1} MB |",
            relay.label,
            relay.idle_rss_kb as f64 / 1024.0,
            load_rss[i],
            peak_rss[i],
            relay.rss_mb("VmRSS")
        );
    }
}
