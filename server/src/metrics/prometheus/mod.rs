//! Prometheus counters and histograms fed by the relay, rendered at `GET /metrics` together
//! with gauges read at scrape time (see [`endpoint`]).
//!
//! The hot path costs one call per finished request ([`Prometheus::record`], from
//! `Relay::record_event`) and one per upstream attempt ([`Prometheus::attempt`]): a lookup in a
//! sharded map under a read lock and a few relaxed atomic adds. Label keys are built from
//! `Arc<str>`s the relay already holds, so a request allocates nothing once its series exists.
//!
//! Label cardinality is bounded: models outside the pricing table (and beyond
//! [`MAX_MODEL_LABELS`]) are counted as `other`, statuses are their numeric code, accounts are
//! labelled by id (stable) and name (readable), and keys are never a label.

pub mod endpoint;
mod histogram;
mod render;
mod sharded;
pub mod text;

use histogram::Histograms;
pub use histogram::{HistogramSnapshot, LATENCY_BOUNDS_MS, TTFT_BOUNDS_MS};
use sharded::Sharded;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use app::types::Platform;
use arc_swap::ArcSwap;
use parking_lot::RwLock;

use crate::pricing::{PriceSource, Pricing};
use crate::storage::usage_write::UsageEvent;

/// Distinct model names that get a label of their own; the rest count as `other`.
pub const MAX_MODEL_LABELS: usize = 512;
pub const OTHER_MODEL: &str = "other";

/// Platform labels by index; events of an unknown platform (none today) count as `other`.
pub const PLATFORMS: [&str; 4] = ["claude", "openai", "gemini", "other"];
pub const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];
fn platform_index(name: &str) -> u8 {
    match Platform::parse(name) {
        Some(Platform::Claude) => 0,
        Some(Platform::Openai) => 1,
        Some(Platform::Gemini) => 2,
        None => 3,
    }
}

fn class_index(status: u16) -> usize {
    match status {
        100..=599 => usize::from(status / 100) - 1,
        _ => 5,
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct RequestKey {
    platform: u8,
    model: Arc<str>,
    account: Option<Arc<str>>,
    status: u16,
}

#[derive(Default)]
struct RequestSeries {
    requests: AtomicU64,
    input: AtomicU64,
    output: AtomicU64,
    cache_write: AtomicU64,
    cache_read: AtomicU64,
    cost_micros: AtomicU64,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct AttemptKey {
    platform: u8,
    account: Arc<str>,
    status: u16,
}

/// Counts of one series, copied out for rendering.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestCounts {
    pub platform: &'static str,
    pub model: Arc<str>,
    /// `None` for requests refused before an account was chosen.
    pub account_id: Option<Arc<str>>,
    pub status: u16,
    pub requests: u64,
    pub input: u64,
    pub output: u64,
    pub cache_write: u64,
    pub cache_read: u64,
    pub cost_micros: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptCount {
    pub platform: &'static str,
    pub account_id: Arc<str>,
    /// 0 when no HTTP answer came (timeout, connection failure).
    pub status: u16,
    pub attempts: u64,
}

/// Model names that get a label of their own: those the pricing table knows, up to a cap.
struct ModelLabels {
    known: RwLock<HashSet<Arc<str>>>,
    other: Arc<str>,
}

impl ModelLabels {
    fn label(&self, model: &str, pricing: &ArcSwap<Pricing>) -> Arc<str> {
        if let Some(m) = self.known.read().get(model) {
            return m.clone();
        }
        // Not cached when unknown: a later price override makes the model known.
        if model.is_empty() || pricing.load().lookup(model).source == PriceSource::Fallback {
            return self.other.clone();
        }
        let mut known = self.known.write();
        if let Some(m) = known.get(model) {
            return m.clone();
        }
        if known.len() >= MAX_MODEL_LABELS {
            return self.other.clone();
        }
        let m: Arc<str> = Arc::from(model);
        known.insert(m.clone());
        m
    }
}

/// The relay's Prometheus counters.
pub struct Prometheus {
    models: ModelLabels,
    requests: Sharded<RequestKey, RequestSeries>,
    attempts: Sharded<AttemptKey, AtomicU64>,
    latency: Histograms,
    ttft: Histograms,
}

impl Default for Prometheus {
    fn default() -> Self {
        Prometheus {
            models: ModelLabels {
                known: RwLock::new(HashSet::new()),
                other: Arc::from(OTHER_MODEL),
            },
            requests: Sharded::new(),
            attempts: Sharded::new(),
            latency: Histograms::new(LATENCY_BOUNDS_MS),
            ttft: Histograms::new(TTFT_BOUNDS_MS),
        }
    }
}

impl Prometheus {
    /// Counts a finished request (one per usage event).
    pub fn record(&self, e: &UsageEvent, pricing: &ArcSwap<Pricing>) {
        let platform = platform_index(e.platform);
        let key = RequestKey {
            platform,
            model: self.models.label(&e.model, pricing),
            account: e.account_id.clone(),
            status: e.status,
        };
        let u = &e.usage;
        self.requests.update(key, |s| {
            s.requests.fetch_add(1, Ordering::Relaxed);
            s.input.fetch_add(u.input, Ordering::Relaxed);
            s.output.fetch_add(u.output, Ordering::Relaxed);
            s.cache_write
                .fetch_add(u.cache_write_5m + u.cache_write_1h, Ordering::Relaxed);
            s.cache_read.fetch_add(u.cache_read, Ordering::Relaxed);
            s.cost_micros
                .fetch_add(e.cost_micros.max(0) as u64, Ordering::Relaxed);
        });
        let class = class_index(e.status);
        self.latency.observe(platform, class, e.latency_ms);
        if let Some(ttft) = e.ttft_ms {
            self.ttft.observe(platform, class, ttft);
        }
    }

    /// Counts one upstream attempt: its HTTP status, or 0 when none came back.
    pub fn attempt(&self, platform: Platform, account: &Arc<str>, status: u16) {
        let key = AttemptKey {
            platform: platform_index(platform.as_str()),
            account: account.clone(),
            status,
        };
        self.attempts.update(key, |n| {
            n.fetch_add(1, Ordering::Relaxed);
        });
    }

    pub fn requests(&self) -> Vec<RequestCounts> {
        self.requests.collect(|k, s| RequestCounts {
            platform: PLATFORMS[usize::from(k.platform)],
            model: k.model.clone(),
            account_id: k.account.clone(),
            status: k.status,
            requests: s.requests.load(Ordering::Relaxed),
            input: s.input.load(Ordering::Relaxed),
            output: s.output.load(Ordering::Relaxed),
            cache_write: s.cache_write.load(Ordering::Relaxed),
            cache_read: s.cache_read.load(Ordering::Relaxed),
            cost_micros: s.cost_micros.load(Ordering::Relaxed),
        })
    }

    pub fn attempts(&self) -> Vec<AttemptCount> {
        self.attempts.collect(|k, n| AttemptCount {
            platform: PLATFORMS[usize::from(k.platform)],
            account_id: k.account.clone(),
            status: k.status,
            attempts: n.load(Ordering::Relaxed),
        })
    }

    pub fn latency(&self) -> Vec<HistogramSnapshot> {
        self.latency.snapshot()
    }

    pub fn ttft(&self) -> Vec<HistogramSnapshot> {
        self.ttft.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::TokenUsage;

    fn pricing() -> ArcSwap<Pricing> {
        ArcSwap::from_pointee(Pricing::builtin())
    }

    fn event(model: &str, account: Option<&str>, status: u16, latency_ms: i64) -> UsageEvent {
        UsageEvent {
            platform: "claude",
            model: model.into(),
            account_id: account.map(Arc::from),
            status,
            latency_ms,
            ttft_ms: Some(latency_ms / 2),
            cost_micros: 7,
            usage: TokenUsage {
                input: 10,
                output: 5,
                cache_write_5m: 1,
                cache_write_1h: 2,
                cache_read: 3,
            },
            ..Default::default()
        }
    }

    #[test]
    fn requests_are_counted_per_series_and_unknown_models_collapse() {
        let p = Prometheus::default();
        let prices = pricing();
        p.record(&event("claude-sonnet-4-5", Some("a1"), 200, 300), &prices);
        p.record(&event("claude-sonnet-4-5", Some("a1"), 200, 700), &prices);
        p.record(&event("no-such-model-xyz", Some("a1"), 200, 10), &prices);
        p.record(&event("another-made-up-one", None, 429, 1), &prices);
        let mut rows = p.requests();
        rows.sort_by(|a, b| (a.model.as_ref(), a.status).cmp(&(b.model.as_ref(), b.status)));
        assert_eq!(rows.len(), 3, "{rows:?}");
        let sonnet = &rows[0];
        assert_eq!(
            (
                sonnet.model.as_ref(),
                sonnet.requests,
                sonnet.input,
                sonnet.cache_write,
                sonnet.cost_micros
            ),
            ("claude-sonnet-4-5", 2, 20, 6, 14)
        );
        assert_eq!(
            (
                rows[1].model.as_ref(),
                rows[1].status,
                rows[1].account_id.as_deref()
            ),
            ("other", 200, Some("a1"))
        );
        assert_eq!(
            (
                rows[2].model.as_ref(),
                rows[2].status,
                rows[2].account_id.as_deref()
            ),
            ("other", 429, None)
        );
    }

    #[test]
    fn histograms_are_cumulative_by_platform_and_class() {
        let p = Prometheus::default();
        let prices = pricing();
        p.record(&event("m", None, 200, 100), &prices);
        p.record(&event("m", None, 200, 101), &prices);
        p.record(&event("m", None, 200, 9_999_999), &prices);
        p.record(&event("m", None, 529, 5), &prices);
        let mut h = p.latency();
        h.sort_by_key(|s| s.class);
        assert_eq!(h.len(), 2);
        let ok = &h[0];
        assert_eq!(
            (ok.platform, ok.class, ok.count, ok.sum_ms),
            ("claude", "2xx", 3, 100 + 101 + 9_999_999)
        );
        assert_eq!(ok.cumulative[0], 1, "100 ms is within the 100 ms bucket");
        assert_eq!(ok.cumulative[1], 2);
        assert_eq!(ok.cumulative[LATENCY_BOUNDS_MS.len() - 1], 2);
        assert_eq!(*ok.cumulative.last().unwrap(), 3, "+Inf holds everything");
        assert_eq!((h[1].class, h[1].count), ("5xx", 1));
    }

    #[test]
    fn attempts_by_account_and_status() {
        let p = Prometheus::default();
        let a: Arc<str> = Arc::from("a1");
        p.attempt(Platform::Claude, &a, 529);
        p.attempt(Platform::Claude, &a, 529);
        p.attempt(Platform::Claude, &a, 0);
        let mut rows = p.attempts();
        rows.sort_by_key(|r| r.status);
        assert_eq!(
            rows.iter()
                .map(|r| (r.status, r.attempts))
                .collect::<Vec<_>>(),
            vec![(0, 1), (529, 2)]
        );
    }

    #[test]
    fn model_labels_are_capped() {
        let labels = ModelLabels {
            known: RwLock::new(HashSet::new()),
            other: Arc::from(OTHER_MODEL),
        };
        let prices = pricing();
        for i in 0..MAX_MODEL_LABELS {
            labels
                .known
                .write()
                .insert(Arc::from(format!("seeded-{i}")));
        }
        assert_eq!(&*labels.label("claude-sonnet-4-5", &prices), OTHER_MODEL);
        assert_eq!(&*labels.label("seeded-3", &prices), "seeded-3");
    }
}
