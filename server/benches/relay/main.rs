//! The relay benchmark: nginx as a plain reverse proxy, Tollgate, and the client talking to the
//! mock upstream directly, on the same box, in one run. Prints numbers; asserts nothing.
//!
//! Run it with `.ci/bench` (release build; the proxy under test pinned to CPU 0, the mock and
//! the client to CPU 1). With `BASELINE_TOLLGATE=<path to another tollgate binary>`
//! (`.ci/bench --baseline <commit>` builds one), that binary is measured too, in the same run,
//! as its own column. Each load is applied to every column in turn before the next load.

mod load;
mod procs;
mod setup;
mod table;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use load::{ms, pct, sequential_latency, streams, throughput, Target};
use procs::{bin, cpu_secs, mem_mb, reset_peak, spawn, start_nginx};
use table::{col, print_table};

pub const CRED: &str = "bench-upstream";
const SECS: u64 = 10;

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn set_behavior(mock: &str, b: Value) {
    let res = reqwest::Client::new()
        .put(format!("{mock}/_mock/behavior/{CRED}"))
        .json(&b)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
}

async fn run() {
    let mock = spawn(
        "1",
        &bin("mock-upstream"),
        &["--listen", "127.0.0.1:0"],
        &[],
    );
    let nginx = start_nginx("0", mock.addr);
    let mut relays = vec![("Tollgate".to_owned(), bin("tollgate"), vec![])];
    if let Ok(path) = std::env::var("BASELINE_TOLLGATE") {
        let label = std::env::var("BASELINE_LABEL").unwrap_or_else(|_| "baseline".into());
        relays.push((format!("Tollgate {label}"), path, vec![]));
    }
    // Experiments: `BENCH_VARIANTS="label:NAME=value,NAME=value;label2:..."` adds a column of
    // this tree's binary started with that environment (e.g. `MALLOC_ARENA_MAX=2`).
    for v in std::env::var("BENCH_VARIANTS")
        .unwrap_or_default()
        .split(';')
    {
        if let Some((label, env)) = v.split_once(':') {
            let env = env.split(',').filter_map(|kv| kv.split_once('='));
            let env = env.map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            relays.push((label.to_owned(), bin("tollgate"), env));
        }
    }
    let mut cols = vec![
        col("direct", None, &mock.addr, CRED, None),
        col("nginx", Some(nginx.pid()), &nginx.addr, CRED, None),
    ];
    let mut tollgates = Vec::new();
    for (label, path, env) in &relays {
        let t = setup::start(path, env, &mock.url()).await;
        cols.push(col(
            label,
            Some(t.proc.pid()),
            &t.proc.addr,
            &t.key,
            Some(&t.limited_key),
        ));
        tollgates.push(t);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for c in &mut cols {
        c.f.idle_mb = c.pid.map_or(0.0, |p| mem_mb(p, "VmRSS"));
    }
    println!("# Tollgate relay benchmark (proxies on CPU 0; mock and client on CPU 1; SQLite)\n");

    set_behavior(&mock.url(), json!({})).await;
    for c in &mut cols {
        progress("c=1", &c.label);
        if let Some(p) = c.pid {
            reset_peak(p);
        }
        let l = sequential_latency(&c.target, 5_000).await;
        c.f.c1 = (ms(pct(&l, 0.5)), ms(pct(&l, 0.99)));
        c.f.c1_mb = c.pid.map_or(0.0, |p| mem_mb(p, "VmHWM"));
    }
    for concurrency in [64, 256] {
        for c in &mut cols {
            progress(&format!("c={concurrency}"), &c.label);
            if let Some(p) = c.pid {
                reset_peak(p);
            }
            c.f.load.push(measure(c.pid, &c.target, concurrency).await);
            c.f.c256_mb = c.pid.map_or(0.0, |p| mem_mb(p, "VmHWM"));
        }
    }
    for concurrency in [64, 256] {
        for c in &mut cols {
            if let Some(limited) = &c.limited {
                progress(&format!("limited c={concurrency}"), &c.label);
                c.f.limited.push(measure(c.pid, limited, concurrency).await);
            }
        }
    }

    set_behavior(&mock.url(), json!({"chunks": 20, "chunkGapMs": 5})).await;
    for c in &mut cols {
        progress("64 streams", &c.label);
        let s = streams(&c.target, 64, 5, 0).await;
        c.f.stream = (
            s.completed as f64 / 5.0,
            ms(pct(&s.first_token, 0.5)),
            s.failed,
        );
    }
    for c in &mut cols {
        progress("2000 streams", &c.label);
        if let Some(p) = c.pid {
            reset_peak(p);
        }
        let s = streams(&c.target, 2_000, 0, 1).await;
        let peak = c.pid.map_or(0.0, |p| mem_mb(p, "VmHWM"));
        c.f.big = (
            s.completed,
            s.failed,
            ms(s.max_gap),
            ms(pct(&s.first_token, 0.99)),
            peak,
        );
    }
    print_table(&cols);
    drop(tollgates);
}

/// On stderr, so that a profiler can be started on a phase (`perf record -C 0` when
/// "c=256 Tollgate" appears).
fn progress(phase: &str, label: &str) {
    eprintln!("bench: {phase} {label}");
}

/// A throughput run with the CPU time the process tree spent on it.
async fn measure(pid: Option<u32>, t: &Arc<Target>, concurrency: usize) -> (f64, f64, u64, f64) {
    let before = pid.map_or(0.0, cpu_secs);
    let l = throughput(t, concurrency, SECS).await;
    let cpu = pid.map_or(0.0, cpu_secs) - before;
    let n = l.latencies.len().max(1) as f64;
    (
        l.per_sec,
        ms(pct(&l.latencies, 0.99)),
        l.errors,
        cpu * 1e3 / n,
    )
}
