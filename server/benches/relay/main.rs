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

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use load::{ms, pct, sequential_latency, streams, throughput, Target};
use procs::{bin, cpu_secs, mem_mb, reset_peak, spawn, start_nginx};

pub const CRED: &str = "bench-upstream";
const SECS: u64 = 10;

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

/// One column: what is measured, and what was measured.
struct Col {
    label: String,
    pid: Option<u32>,
    target: Arc<Target>,
    /// Tollgate's key with every limit on.
    limited: Option<Arc<Target>>,
    f: Fig,
}

#[derive(Default)]
struct Fig {
    idle_mb: f64,
    c1: (f64, f64),
    c1_mb: f64,
    /// Per concurrency (64, 256): requests/s, p99 ms, errors, CPU ms per request.
    load: Vec<(f64, f64, u64, f64)>,
    limited: Vec<(f64, f64, u64, f64)>,
    c256_mb: f64,
    /// Streams/s, first token p50 ms, failed.
    stream: (f64, f64, usize),
    /// Completed, failed, longest gap ms, first token p99 ms, peak MB.
    big: (usize, usize, f64, f64, f64),
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

fn col(
    label: &str,
    pid: Option<u32>,
    addr: &std::net::SocketAddr,
    key: &str,
    limited: Option<&str>,
) -> Col {
    let target = |key: &str| {
        Arc::new(Target {
            addr: *addr,
            key: key.to_owned(),
        })
    };
    Col {
        label: label.to_owned(),
        pid,
        target: target(key),
        limited: limited.map(target),
        f: Fig::default(),
    }
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

/// Metrics as rows, columns as columns, then each Tollgate's ratio to nginx.
fn print_table(cols: &[Col]) {
    let relays: Vec<&Col> = cols.iter().filter(|c| c.limited.is_some()).collect();
    print!("| load |");
    for c in cols {
        print!(" {} |", c.label);
    }
    for r in &relays {
        print!(" {} / nginx |", r.label);
    }
    println!();
    println!("|---{}|", "|---".repeat(cols.len() + relays.len()));
    let direct = &cols[0].f;
    let nginx = &cols[1].f;
    type Get = dyn Fn(&Fig) -> Option<f64>;
    let row = |name: &str, get: &Get, unit: &str, digits: usize, pct_ratio: bool, from: usize| {
        print!("| {name} |");
        for (i, c) in cols.iter().enumerate() {
            match get(&c.f).filter(|_| i >= from) {
                Some(v) => print!(" {v:.digits$}{unit} |"),
                None => print!(" |"),
            }
        }
        for r in &relays {
            match (get(&r.f), get(nginx)) {
                (Some(a), Some(b)) if b > 0.0 && pct_ratio => print!(" {:.0}% |", a / b * 100.0),
                (Some(a), Some(b)) if b > 0.0 => print!(" {:.1}× |", a / b),
                _ => print!(" |"),
            }
        }
        println!();
    };
    let (d50, d99) = direct.c1;
    row("c=1 latency p50", &|f| Some(f.c1.0), " ms", 3, false, 0);
    row("c=1 latency p99", &|f| Some(f.c1.1), " ms", 3, false, 0);
    row(
        "c=1 added p50 over direct",
        &move |f| Some(f.c1.0 - d50),
        " ms",
        3,
        false,
        1,
    );
    row(
        "c=1 added p99 over direct",
        &move |f| Some(f.c1.1 - d99),
        " ms",
        3,
        false,
        1,
    );
    for (i, c) in [64, 256].into_iter().enumerate() {
        row(
            &format!("c={c} requests/s"),
            &move |f| f.load.get(i).map(|l| l.0),
            "",
            0,
            true,
            0,
        );
        row(
            &format!("c={c} p99"),
            &move |f| f.load.get(i).map(|l| l.1),
            " ms",
            1,
            false,
            0,
        );
        row(
            &format!("c={c} errors"),
            &move |f| f.load.get(i).map(|l| l.2 as f64),
            "",
            0,
            false,
            0,
        );
        row(
            &format!("c={c} CPU per request"),
            &move |f| f.load.get(i).map(|l| l.3),
            " ms",
            4,
            false,
            1,
        );
    }
    for (i, c) in [64, 256].into_iter().enumerate() {
        let lim = move |f: &Fig| f.limited.get(i).copied();
        row(
            &format!("limited key, c={c} requests/s"),
            &move |f| lim(f).map(|l| l.0),
            "",
            0,
            true,
            2,
        );
        row(
            &format!("limited key, c={c} p99"),
            &move |f| lim(f).map(|l| l.1),
            " ms",
            1,
            false,
            2,
        );
        row(
            &format!("limited key, c={c} errors"),
            &move |f| lim(f).map(|l| l.2 as f64),
            "",
            0,
            false,
            2,
        );
        row(
            &format!("limited key, c={c} CPU per request"),
            &move |f| lim(f).map(|l| l.3),
            " ms",
            4,
            false,
            2,
        );
    }
    row("RSS idle", &|f| Some(f.idle_mb), " MB", 1, false, 1);
    row("peak RSS c=1", &|f| Some(f.c1_mb), " MB", 1, false, 1);
    row("peak RSS c=256", &|f| Some(f.c256_mb), " MB", 1, false, 1);
    row(
        "64 streams × 20 deltas 5 ms apart: streams/s",
        &|f| Some(f.stream.0),
        "",
        0,
        true,
        0,
    );
    row(
        "64 streams: first token p50",
        &|f| Some(f.stream.1),
        " ms",
        2,
        false,
        0,
    );
    row(
        "64 streams: failed",
        &|f| Some(f.stream.2 as f64),
        "",
        0,
        false,
        0,
    );
    row(
        "2000 streams: completed",
        &|f| Some(f.big.0 as f64),
        "",
        0,
        true,
        0,
    );
    row(
        "2000 streams: failed",
        &|f| Some(f.big.1 as f64),
        "",
        0,
        false,
        0,
    );
    row(
        "2000 streams: longest gap between chunks",
        &|f| Some(f.big.2),
        " ms",
        1,
        false,
        0,
    );
    row(
        "2000 streams: first token p99",
        &|f| Some(f.big.3),
        " ms",
        1,
        false,
        0,
    );
    row(
        "2000 streams: peak RSS",
        &|f| Some(f.big.4),
        " MB",
        1,
        false,
        1,
    );
}
