//! The benchmark's table: one column per proxy (direct, nginx, Tollgate, a baseline), what was
//! measured in each, printed as Markdown with each Tollgate's ratio to nginx.

use std::sync::Arc;

use crate::load::Target;

/// One column: what is measured, and what was measured.
pub struct Col {
    pub label: String,
    pub pid: Option<u32>,
    pub target: Arc<Target>,
    /// Tollgate's key with every limit on.
    pub limited: Option<Arc<Target>>,
    pub f: Fig,
}

#[derive(Default)]
pub struct Fig {
    pub idle_mb: f64,
    pub c1: (f64, f64),
    pub c1_mb: f64,
    /// Per concurrency (64, 256): requests/s, p99 ms, errors, CPU ms per request.
    pub load: Vec<(f64, f64, u64, f64)>,
    pub limited: Vec<(f64, f64, u64, f64)>,
    pub c256_mb: f64,
    /// Streams/s, first token p50 ms, failed.
    pub stream: (f64, f64, usize),
    /// Completed, failed, longest gap ms, first token p99 ms, peak MB.
    pub big: (usize, usize, f64, f64, f64),
}

pub fn col(
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

/// Metrics as rows, columns as columns, then each Tollgate's ratio to nginx.
pub fn print_table(cols: &[Col]) {
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
