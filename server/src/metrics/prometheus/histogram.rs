//! Fixed-bucket histograms, one cell per platform and status class: observed with relaxed
//! atomic adds on the hot path, copied out cumulatively for rendering.

use std::sync::atomic::{AtomicU64, Ordering};

use super::{PLATFORMS, STATUS_CLASSES};

/// Upper bounds (ms) of the request duration buckets.
pub const LATENCY_BOUNDS_MS: &[u64] = &[
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 20_000, 30_000, 60_000, 120_000, 300_000, 600_000,
];
/// Upper bounds (ms) of the time-to-first-token buckets.
pub const TTFT_BOUNDS_MS: &[u64] = &[
    50, 100, 250, 500, 1_000, 2_000, 3_000, 5_000, 10_000, 20_000, 30_000, 60_000,
];

/// One histogram cell per platform and status class, buckets stored non-cumulatively.
pub(super) struct Histograms {
    bounds_ms: &'static [u64],
    cells: Vec<Cell>,
}

struct Cell {
    buckets: Vec<AtomicU64>,
    sum_ms: AtomicU64,
    count: AtomicU64,
}

/// A histogram cell copied out for rendering; `cumulative[i]` counts observations ≤ bound i,
/// the last entry is `+Inf`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistogramSnapshot {
    pub platform: &'static str,
    pub class: &'static str,
    pub bounds_ms: &'static [u64],
    pub cumulative: Vec<u64>,
    pub sum_ms: u64,
    pub count: u64,
}

impl Histograms {
    pub(super) fn new(bounds_ms: &'static [u64]) -> Self {
        let cells = (0..PLATFORMS.len() * STATUS_CLASSES.len())
            .map(|_| Cell {
                buckets: (0..=bounds_ms.len()).map(|_| AtomicU64::new(0)).collect(),
                sum_ms: AtomicU64::new(0),
                count: AtomicU64::new(0),
            })
            .collect();
        Histograms { bounds_ms, cells }
    }

    pub(super) fn observe(&self, platform: u8, class: usize, ms: i64) {
        let ms = ms.max(0) as u64;
        let cell = &self.cells[usize::from(platform) * STATUS_CLASSES.len() + class];
        let bucket = self.bounds_ms.partition_point(|b| *b < ms);
        cell.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        cell.sum_ms.fetch_add(ms, Ordering::Relaxed);
        cell.count.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> Vec<HistogramSnapshot> {
        let mut out = Vec::new();
        for (i, cell) in self.cells.iter().enumerate() {
            let count = cell.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let mut running = 0;
            let cumulative = cell
                .buckets
                .iter()
                .map(|b| {
                    running += b.load(Ordering::Relaxed);
                    running
                })
                .collect::<Vec<_>>();
            out.push(HistogramSnapshot {
                platform: PLATFORMS[i / STATUS_CLASSES.len()],
                class: STATUS_CLASSES[i % STATUS_CLASSES.len()],
                bounds_ms: self.bounds_ms,
                // Read separately from the buckets, so keep `+Inf` equal to the count.
                count: running,
                cumulative,
                sum_ms: cell.sum_ms.load(Ordering::Relaxed),
            });
        }
        out
    }
}
