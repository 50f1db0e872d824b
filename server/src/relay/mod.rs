//! The data plane. A client request goes: key authentication → limits → scheduling →
//! forwarding with failover → the answer streamed back untouched → accounting, exactly once.
//! No database round-trip on the steady-state path: keys, limits and accounts live in memory,
//! usage is written by a batching writer.

pub mod accounting;
pub mod admission;
pub mod body;
pub mod control;
pub mod error;
pub mod extract;
pub mod failover;
pub mod gate;
pub mod guards;
pub mod held;
mod jobs;
pub mod json_guard;
pub mod key_gate;
mod key_headers;
mod listen;
pub mod platforms;
pub mod probe;
pub mod request_cost;
mod routes;
pub mod self_service;
pub mod writer;

pub use routes::{routes, serve_hot, Hot};

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::http::HeaderMap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::client_addr::ProxyTrust;
use crate::auth::failures::FailureLimiter;
use crate::config::Settings;
use crate::crypto::Cipher;
use crate::limits::budget::Budget;
use crate::limits::counting::{CountingLimiter, COUNT_TOKENS_PER_MINUTE};
use crate::limits::{Admission, KeyDirectory, KeyLimits, Settled};
use crate::pricing::Pricing;
use crate::scheduler::cluster::ClusterLive;
use crate::scheduler::health::HealthConfig;
use crate::scheduler::live::{LiveState, MemoryLive};
use crate::scheduler::sticky::StickyMap;
use crate::scheduler::{AccountTransition, Scheduler};
use crate::storage::{now_ms, Store};
use crate::webhooks::Webhooks;
use error::Protocol;
use writer::{UsageEvent, UsageWriter, WriterOptions};

/// The data plane's parts. They are private: the control plane reaches them through
/// [`control::RelayControl`], the process's wiring and `/health` through the narrow methods of
/// [`held`], and the request path through the modules below this one.
pub struct Relay {
    store: Store,
    settings: Arc<Settings>,
    keys: KeyDirectory,
    admission: Admission,
    scheduler: Arc<Scheduler>,
    pricing: ArcSwap<Pricing>,
    writer: UsageWriter,
    metrics: crate::metrics::LiveMetrics,
    prometheus: crate::metrics::prometheus::Prometheus,
    webhooks: Webhooks,
    tasks: TaskTracker,
    /// Fired when the shutdown grace period is over: open streams end and bill what they saw.
    cut: CancellationToken,
    /// Limits on guessing redemption codes (`POST /v1/redeem`, `/redeem`, `/usage`).
    redeem: crate::sales::guard::RedeemGuard,
    /// Token-counting calls per key (they are free, so they get a limit of their own).
    counting: CountingLimiter,
    /// Who a request comes from (for the failed-key limit and keys' `allowedCidrs`).
    proxies: ProxyTrust,
    /// Unknown keys presented per client address.
    key_failures: FailureLimiter,
    /// Requests in flight and request bytes held, process-wide.
    budget: Arc<Budget>,
    /// Today's cost per key and model, for keys' `modelDailyCostLimits`.
    family_spend: key_gate::FamilySpend,
    /// Rounds of the housekeeping loop so far (see [`held`]).
    housekeeping_rounds: std::sync::atomic::AtomicU64,
}

/// The key a client presented: `x-api-key` or `Authorization: Bearer` (Anthropic), Bearer
/// (OpenAI), `x-goog-api-key` (Gemini; `?key=` is read by the Gemini routes).
pub fn presented_key(headers: &HeaderMap, protocol: Protocol) -> &str {
    let bearer = || crate::auth::bearer::bearer_token(headers);
    let named = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    match protocol {
        Protocol::Anthropic => named("x-api-key").or_else(bearer),
        Protocol::OpenAi => bearer().or_else(|| named("api-key")),
        Protocol::Gemini => named("x-goog-api-key").or_else(bearer),
    }
    .unwrap_or("")
}

impl Relay {
    /// Builds the data plane: limits, scheduler (accounts loaded, health restored), pricing
    /// (table + overrides), the usage writer and the account-state recorder.
    pub async fn start(
        settings: Arc<Settings>,
        store: Store,
        cipher: Cipher,
        webhooks: Webhooks,
        tasks: &TaskTracker,
        stop: CancellationToken,
        clock: crate::clock::SharedClock,
    ) -> anyhow::Result<Arc<Relay>> {
        let writer = UsageWriter::spawn(
            store.clone(),
            settings.common.timezone,
            tasks,
            stop.clone(),
            Some(webhooks.clone()),
            WriterOptions {
                queue_capacity: settings.serve.ops.usage_queue_capacity as usize,
                spool_dir: Some(settings.common.data_dir.join("usage-spool")),
            },
        )?;
        // Usage spooled by earlier runs goes in before keys' spend is first read.
        writer.started().await;
        let (relay, transitions) =
            Self::assemble(settings, store, cipher, webhooks, writer, tasks, clock)?;
        relay.scheduler.reload(true).await?;
        relay.reload_pricing().await?;
        relay.admission.state.clone().start(tasks, stop.clone());
        // The prices follow `PRICING_URL`, when set (the one place this starts).
        crate::pricing::refresh::spawn(
            &relay.settings.serve.relay,
            relay.clone(),
            |r| &r.pricing,
            tasks,
            stop.clone(),
        )?;
        jobs::start(&relay, transitions, stop);
        Ok(relay)
    }

    /// The relay's parts without its background work, for CLI commands that only use the
    /// admin service's key rules (no account is loaded, no usage is written).
    pub fn detached(
        settings: Arc<Settings>,
        store: Store,
        cipher: Cipher,
        webhooks: Webhooks,
    ) -> anyhow::Result<Arc<Relay>> {
        let tasks = TaskTracker::new();
        let writer = UsageWriter::spawn(
            store.clone(),
            settings.common.timezone,
            &tasks,
            CancellationToken::new(),
            None,
            WriterOptions::default(),
        )?;
        let clock = crate::clock::system();
        Ok(Self::assemble(settings, store, cipher, webhooks, writer, &tasks, clock)?.0)
    }

    fn assemble(
        settings: Arc<Settings>,
        store: Store,
        cipher: Cipher,
        webhooks: Webhooks,
        writer: UsageWriter,
        tasks: &TaskTracker,
        clock: crate::clock::SharedClock,
    ) -> anyhow::Result<(
        Arc<Relay>,
        tokio::sync::mpsc::UnboundedReceiver<AccountTransition>,
    )> {
        let opts = &settings.serve;
        let tz = settings.common.timezone;
        let limits = crate::limits::cluster::choose(&opts.cluster, &store, tz);
        let keys = KeyDirectory::new(
            store.clone(),
            limits.clone(),
            tz,
            tasks.clone(),
            cipher.clone(),
        );
        let clients = Arc::new(crate::upstream_http::HttpClients::new(&opts.relay));
        let sticky = StickyMap::new(
            (opts.scheduler.sticky_ttl_hours * 3_600_000.0) as i64,
            opts.scheduler.sticky_renewal_threshold_minutes as i64 * 60_000,
        );
        let memory = MemoryLive::new(HealthConfig::from(&opts.scheduler), sticky);
        let shared = opts.cluster.enabled && matches!(store, Store::Postgres(_));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (live, cluster): (Arc<dyn LiveState>, _) = if shared {
            let lease_ms = opts.cluster.lease_secs.max(1) as i64 * 1000;
            let (cluster, outbox) = ClusterLive::new(memory, store.clone(), lease_ms);
            (cluster.clone(), Some((cluster, outbox)))
        } else {
            (Arc::new(memory), None)
        };
        let scheduler = Scheduler::new(
            store.clone(),
            cipher,
            clients,
            live,
            Duration::from_secs(opts.scheduler.sticky_grace_secs),
            tx,
            clock.clone(),
        );
        let scheduler = Arc::new(match cluster {
            Some((cluster, outbox)) => scheduler.shared(cluster, outbox),
            None => scheduler,
        });
        let proxies =
            ProxyTrust::from_settings(opts.trust_proxy_headers, opts.trusted_proxies.as_deref())
                .map_err(|e| anyhow::anyhow!("TRUSTED_PROXIES: {e}"))?;
        let table = match &opts.relay.pricing_file {
            Some(path) => Pricing::from_file(path)?,
            None => Pricing::builtin(),
        };
        let relay = Arc::new(Relay {
            store,
            settings: settings.clone(),
            keys,
            admission: Admission { state: limits },
            scheduler,
            pricing: ArcSwap::from_pointee(table),
            writer,
            metrics: crate::metrics::LiveMetrics::new(opts.relay.metrics_window_minutes),
            prometheus: Default::default(),
            webhooks,
            tasks: tasks.clone(),
            cut: CancellationToken::new(),
            redeem: crate::sales::guard::RedeemGuard::new(clock.clone(), proxies.clone()),
            counting: CountingLimiter::new(COUNT_TOKENS_PER_MINUTE, clock.clone()),
            proxies,
            key_failures: FailureLimiter::new(gate::key_failure_policy(), clock),
            budget: Budget::from_opts(&opts.guard),
            family_spend: Default::default(),
            housekeeping_rounds: Default::default(),
        });
        Ok((relay, rx))
    }

    /// The parts a code redemption works with (see [`crate::sales::redeem`]).
    pub(crate) fn redemption(&self) -> crate::sales::redeem::Redemption<'_> {
        crate::sales::redeem::Redemption::new(
            &self.store,
            &self.redeem,
            &self.keys,
            self.settings.common.timezone,
        )
    }

    /// Re-reads price overrides after an admin change.
    pub async fn reload_pricing(&self) -> anyhow::Result<()> {
        let overrides = self.store.list_price_overrides().await?;
        let next = self.pricing.load().with_overrides(&overrides);
        self.pricing.store(Arc::new(next));
        Ok(())
    }

    /// The key's state on every answer: quota left, requests left in the window, its reset
    /// (see [`key_headers`]).
    pub fn key_headers(&self, key: &KeyLimits, headers: &mut HeaderMap) {
        key_headers::insert(self.keys.state().as_ref(), key, headers);
    }

    /// Looks at every account budget now (see [`crate::accounts::budget_check::check`]).
    pub async fn check_budgets(
        &self,
        now: i64,
        announce: bool,
    ) -> crate::storage::StoreResult<Vec<app::types::BudgetAlert>> {
        crate::accounts::budget_check::check(
            (&self.store, &self.webhooks, &self.scheduler),
            self.settings.common.timezone,
            now,
            announce,
        )
        .await
    }

    /// What `/metrics` reads at scrape time.
    pub fn figures(&self) -> crate::metrics::prometheus::endpoint::Figures<'_> {
        crate::metrics::prometheus::endpoint::Figures {
            scheduler: &self.scheduler,
            prometheus: &self.prometheus,
            limits: self.keys.state().as_ref(),
            writer: crate::metrics::prometheus::endpoint::WriterFigures {
                pending: self.writer.pending(),
                spooled: self.writer.spooled(),
                database_up: self.writer.database_up(),
                dead_letters: self.writer.dead_letters(),
            },
            webhooks: &self.webhooks,
            pricing: self.pricing.load_full(),
        }
    }

    /// Hands a finished request to the usage writer and the live figures.
    pub fn record_event(&self, event: UsageEvent) {
        let (day, _) = crate::limits::directory::day_and_next_midnight(
            event.created_at,
            self.keys.time_zone(),
        );
        self.family_spend
            .record(&event.key_id, &event.model, event.cost_micros, day);
        self.metrics.record(&event, now_ms());
        self.prometheus.record(&event, &self.pricing);
        self.writer.record(event);
    }

    /// After every settlement: announce a key crossing its quota-warning share or its quota
    /// (once per cluster with several instances, see [`Webhooks::after_key_settle`]).
    pub fn after_settle(&self, key: &KeyLimits, settled: Settled) {
        self.webhooks.after_key_settle(key, settled);
    }
}
