//! Keeping the price table current: with `PRICING_URL` set, the table is fetched at start and
//! then every `PRICING_REFRESH_HOURS`, read by the same rules as the built-in one (the
//! providers Tollgate serves, per-token prices), and swapped in atomically with the admin's
//! overrides on top. A fetch that fails, times out, is larger than [`MAX_TABLE_BYTES`], does
//! not parse, or prices fewer than half as many models as the current table (a truncated or
//! foreign file) keeps the current table: it is logged, counted in [`RefreshStatus`] (shown on
//! `/metrics`), and retried after [`RETRY_AFTER_FAILURE`] (or the interval, if shorter).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

use super::litellm::{parse_table, TableEntry};
use super::table::{Table, TableOrigin};
use super::Pricing;
use crate::storage::now_ms;

/// LiteLLM's whole upstream table is about 3.5 MB.
pub const MAX_TABLE_BYTES: usize = 16 * 1024 * 1024;
/// How long one fetch may take, body included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(60);
/// The wait before trying again after a failed refresh.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(3600);

/// Refresh attempts and their outcomes, shared by every [`Pricing`] derived from one another
/// so `/metrics` can read them from the relay's current pricing.
#[derive(Debug, Default)]
pub struct RefreshStatus {
    pub attempts: AtomicU64,
    pub failures: AtomicU64,
    /// Epoch ms of the last successful refresh; 0 before the first.
    pub last_success_ms: AtomicI64,
    /// Epoch ms of the last failed refresh; 0 before the first.
    pub last_failure_ms: AtomicI64,
}

pub struct PriceRefresher {
    client: reqwest::Client,
    url: reqwest::Url,
    interval: Duration,
    max_bytes: usize,
}

impl PriceRefresher {
    /// A refresher for `PRICING_URL` (http or https) every `interval_hours`.
    pub fn new(url: &str, interval_hours: f64) -> anyhow::Result<PriceRefresher> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client for PRICING_URL")?;
        PriceRefresher::with_client(client, url, interval_hours)
    }

    /// [`PriceRefresher::new`] with the caller's client (tests set a short timeout).
    pub fn with_client(
        client: reqwest::Client,
        url: &str,
        interval_hours: f64,
    ) -> anyhow::Result<PriceRefresher> {
        let url = reqwest::Url::parse(url).context("PRICING_URL is not a URL")?;
        if !matches!(url.scheme(), "http" | "https") {
            bail!("PRICING_URL must be an http or https URL");
        }
        if !interval_hours.is_finite() || interval_hours <= 0.0 {
            bail!("PRICING_REFRESH_HOURS must be a positive number of hours");
        }
        Ok(PriceRefresher {
            client,
            url,
            interval: Duration::from_secs_f64(interval_hours * 3600.0),
            max_bytes: MAX_TABLE_BYTES,
        })
    }

    /// Lowers the size limit (tests).
    pub fn with_max_bytes(mut self, max_bytes: usize) -> PriceRefresher {
        self.max_bytes = max_bytes;
        self
    }

    /// Fetches the table once and, if it is sound, swaps it into `pricing` under the current
    /// overrides. Returns how many models the new table prices.
    pub async fn refresh_once(&self, pricing: &ArcSwap<Pricing>) -> anyhow::Result<usize> {
        let status = pricing.load().refresh_status().clone();
        status.attempts.fetch_add(1, Ordering::Relaxed);
        match self.fetch_table(pricing).await {
            Ok(entries) => {
                let models = entries.len();
                let table = Arc::new(Table::new(entries, TableOrigin::Url, now_ms()));
                pricing.rcu(|current| current.with_table(table.clone()));
                status.last_success_ms.store(now_ms(), Ordering::Relaxed);
                tracing::info!(models, url = %self.url, "price table refreshed");
                Ok(models)
            }
            Err(e) => {
                status.failures.fetch_add(1, Ordering::Relaxed);
                status.last_failure_ms.store(now_ms(), Ordering::Relaxed);
                tracing::warn!(error = %format!("{e:#}"), url = %self.url, "refreshing the price table failed; keeping the current one");
                Err(e)
            }
        }
    }

    async fn fetch_table(
        &self,
        pricing: &ArcSwap<Pricing>,
    ) -> anyhow::Result<HashMap<String, TableEntry>> {
        let text = self.download().await?;
        let entries = tokio::task::spawn_blocking(move || parse_table(&text))
            .await
            .context("parsing the fetched table")??;
        let (_, _, current) = pricing.load().table_origin();
        if entries.len() * 2 < current {
            bail!(
                "the fetched table prices {} models, fewer than half of the current {current}",
                entries.len()
            );
        }
        Ok(entries)
    }

    async fn download(&self) -> anyhow::Result<String> {
        let mut res = self
            .client
            .get(self.url.clone())
            .send()
            .await
            .context("fetching PRICING_URL")?;
        if !res.status().is_success() {
            bail!("PRICING_URL answered {}", res.status());
        }
        if res
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            bail!("the table is larger than {} bytes", self.max_bytes);
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.context("reading PRICING_URL")? {
            if body.len() + chunk.len() > self.max_bytes {
                bail!("the table is larger than {} bytes", self.max_bytes);
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).context("the table is not UTF-8")
    }

    /// The wait before the next refresh after one that succeeded or failed.
    pub fn next_delay(&self, succeeded: bool) -> Duration {
        if succeeded {
            self.interval
        } else {
            self.interval.min(RETRY_AFTER_FAILURE)
        }
    }

    /// Refreshes at once, then on schedule, until `stop` fires. `holder` owns the shared
    /// pricing and `pricing` reaches it (for the relay: `relay.clone(), |r| &r.pricing`).
    pub async fn run<H: Send + Sync + 'static>(
        self,
        holder: Arc<H>,
        pricing: fn(&H) -> &ArcSwap<Pricing>,
        stop: CancellationToken,
    ) {
        loop {
            let refreshed = tokio::select! {
                _ = stop.cancelled() => return,
                r = self.refresh_once(pricing(&holder)) => r.is_ok(),
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(self.next_delay(refreshed)) => {}
            }
        }
    }
}

/// Starts the `PRICING_URL` refresher on `tasks` when a URL is configured (an invalid URL or
/// interval is an error at start). `holder` owns the shared pricing and `pricing` reaches it.
pub fn spawn<H: Send + Sync + 'static>(
    opts: &crate::config::RelayOpts,
    holder: Arc<H>,
    pricing: fn(&H) -> &ArcSwap<Pricing>,
    tasks: &tokio_util::task::TaskTracker,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let Some(url) = opts.pricing_url.as_deref().filter(|u| !u.trim().is_empty()) else {
        return Ok(());
    };
    let refresher = PriceRefresher::new(url.trim(), opts.pricing_refresh_hours)?;
    tasks.spawn(refresher.run(holder, pricing, stop));
    Ok(())
}
