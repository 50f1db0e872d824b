//! The data plane. A client request goes: key authentication → limits → scheduling →
//! forwarding with failover → the answer streamed back untouched → accounting, exactly once.
//! No database round-trip on the steady-state path: keys, limits and accounts live in memory,
//! usage is written by a batching writer.

mod accounting;
pub mod blame;
pub mod body;
pub mod chat_to_claude;
pub mod chat_to_gemini;
pub mod claude;
pub mod clients;
pub mod error;
pub mod first_token;
pub mod forward;
pub mod gate;
pub mod gemini;
pub mod guards;
pub mod key_gate;
pub mod messages_to_openai;
pub mod meter;
pub mod openai;
#[cfg(test)]
mod proptests;
pub mod request_cost;
pub mod responses_to_claude;
pub mod self_service;
pub mod server_tools;
pub mod translated;
pub mod usage_gemini;
pub mod usage_json;
pub mod usage_openai;
pub mod usage_parse;
pub mod writer;

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, head, post};
use axum::Router;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::client_addr::ProxyTrust;
use crate::auth::failures::FailureLimiter;
use crate::config::Settings;
use crate::crypto::Cipher;
use crate::limits::budget::Budget;
use crate::limits::counting::{CountingLimiter, COUNT_TOKENS_PER_MINUTE};
use crate::limits::memory::MemoryLimits;
use crate::limits::{Admission, KeyDirectory, KeyLimits, Settled};
use crate::pricing::Pricing;
use crate::scheduler::health::HealthConfig;
use crate::scheduler::live::MemoryLive;
use crate::scheduler::sticky::StickyMap;
use crate::scheduler::{AccountTransition, Scheduler};
use crate::storage::{now_ms, Store};
use crate::webhooks::{EventKind, Webhooks};
use error::Protocol;
use writer::{UsageEvent, UsageWriter, WriterOptions};

pub struct Relay {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub keys: KeyDirectory,
    pub admission: Admission,
    pub scheduler: Arc<Scheduler>,
    pub pricing: ArcSwap<Pricing>,
    pub writer: UsageWriter,
    pub metrics: crate::metrics::LiveMetrics,
    pub prometheus: crate::metrics::prometheus::Prometheus,
    pub webhooks: Webhooks,
    pub tasks: TaskTracker,
    /// Fired when the shutdown grace period is over: open streams end and bill what they saw.
    pub cut: CancellationToken,
    /// Limits on guessing redemption codes (`POST /v1/redeem`, `/redeem`, `/usage`).
    pub redeem: crate::sales::guard::RedeemGuard,
    /// Token-counting calls per key (they are free, so they get a limit of their own).
    pub counting: CountingLimiter,
    /// Who a request comes from (for the failed-key limit and keys' `allowedCidrs`).
    pub proxies: ProxyTrust,
    /// Unknown keys presented per client address.
    pub key_failures: FailureLimiter,
    /// Requests in flight and request bytes held, process-wide.
    pub budget: Arc<Budget>,
    /// Today's cost per key and model, for keys' `modelDailyCostLimits`.
    pub family_spend: key_gate::FamilySpend,
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

fn usd_header(micros: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("{:.6}", micros.max(0) as f64 / 1_000_000.0))
        .unwrap_or(HeaderValue::from_static("0"))
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
        let (relay, transitions) = Self::assemble(
            settings,
            store.clone(),
            cipher,
            webhooks.clone(),
            writer,
            tasks,
            clock,
        )?;
        relay.scheduler.reload(true).await?;
        relay.reload_pricing().await?;
        tasks.spawn(record_transitions(
            transitions,
            store,
            webhooks,
            stop.clone(),
        ));
        crate::ops::spawn_usage_retention(
            &relay.settings.serve.ops,
            relay.store.clone(),
            tasks,
            stop.clone(),
        );
        spawn_housekeeping(&relay, stop);
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
        let limits = Arc::new(MemoryLimits::default());
        let keys = KeyDirectory::new(
            store.clone(),
            limits.clone(),
            tz,
            tasks.clone(),
            cipher.clone(),
        );
        let clients = Arc::new(clients::HttpClients::new(&opts.relay));
        let sticky = StickyMap::new(
            (opts.scheduler.sticky_ttl_hours * 3_600_000.0) as i64,
            opts.scheduler.sticky_renewal_threshold_minutes as i64 * 60_000,
        );
        let live = Arc::new(MemoryLive::new(HealthConfig::from(&opts.scheduler), sticky));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let scheduler = Arc::new(Scheduler::new(
            store.clone(),
            cipher,
            clients,
            live,
            Duration::from_secs(opts.scheduler.sticky_grace_secs),
            tx,
            clock,
        ));
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
            redeem: crate::sales::guard::RedeemGuard::new(crate::clock::system(), proxies.clone()),
            counting: CountingLimiter::new(COUNT_TOKENS_PER_MINUTE, crate::clock::system()),
            proxies,
            key_failures: FailureLimiter::new(gate::key_failure_policy(), crate::clock::system()),
            budget: Budget::from_opts(&opts.guard),
            family_spend: Default::default(),
        });
        Ok((relay, rx))
    }

    /// Re-reads price overrides after an admin change.
    pub async fn reload_pricing(&self) -> anyhow::Result<()> {
        let overrides = self.store.list_price_overrides().await?;
        let next = self.pricing.load().with_overrides(&overrides);
        self.pricing.store(Arc::new(next));
        Ok(())
    }

    /// The key's state on every answer: quota left, requests left in the window, its reset.
    pub fn key_headers(&self, key: &KeyLimits, headers: &mut HeaderMap) {
        let usage = self.keys.state().usage(&key.id);
        let remaining = if key.quota_limit > 0 {
            usd_header(key.quota_limit - usage.spent - usage.reserved)
        } else {
            HeaderValue::from_static("unlimited")
        };
        headers.insert("x-tollgate-quota-remaining", remaining);
        if let Some((left, reset)) = self.keys.state().rate_remaining(key, Instant::now()) {
            headers.insert(
                "x-ratelimit-limit-requests",
                HeaderValue::from(key.rate_requests),
            );
            headers.insert("x-ratelimit-remaining-requests", HeaderValue::from(left));
            let at = chrono::Utc::now() + reset;
            if let Ok(v) =
                HeaderValue::from_str(&at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            {
                headers.insert("x-ratelimit-reset", v);
            }
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

    /// After every settlement: announce a key crossing its quota-warning share or its quota.
    /// Spend only grows, so each crossing happens once.
    pub fn after_settle(&self, key: &KeyLimits, settled: Settled) {
        let limit = key.quota_limit;
        if limit <= 0 || settled.spent_after == settled.spent_before {
            return;
        }
        let share = self.webhooks.opts().quota_warning_share.clamp(0.0, 1.0);
        let warn_at = (limit as f64 * share).round() as i64;
        let crossed = |mark: i64| settled.spent_before < mark && settled.spent_after >= mark;
        let data = || {
            serde_json::json!({
                "keyId": &*key.id,
                "keyName": key.name,
                "quotaLimit": limit as f64 / 1e6,
                "spent": settled.spent_after as f64 / 1e6,
            })
        };
        if crossed(limit) {
            self.webhooks.emit(EventKind::KeyQuotaExhausted, data());
        } else if crossed(warn_at) {
            self.webhooks.emit(EventKind::KeyQuotaWarning, data());
        }
    }
}

/// Persists account state changes and announces them, off the hot path.
async fn record_transitions(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<AccountTransition>,
    store: Store,
    webhooks: Webhooks,
    stop: CancellationToken,
) {
    use app::types::AccountStatus;
    loop {
        let t = tokio::select! {
            biased;
            t = rx.recv() => match t {
                Some(t) => t,
                None => break,
            },
            _ = stop.cancelled() => match rx.try_recv() {
                // Record what is queued, then stop.
                Ok(t) => t,
                Err(_) => break,
            },
        };
        let tr = &t.transition;
        if let Err(e) = store
            .record_account_state(
                &t.account_id,
                tr.to.as_str(),
                &tr.message,
                tr.http_status,
                tr.cooldown_until,
            )
            .await
        {
            tracing::error!(error = %e, account = %t.account_id, "recording an account state change failed");
        }
        let kind = match tr.to {
            AccountStatus::RateLimited => Some(EventKind::AccountRateLimited),
            AccountStatus::Overloaded => Some(EventKind::AccountOverloaded),
            AccountStatus::Error => Some(EventKind::AccountError),
            AccountStatus::Active if tr.from != AccountStatus::Active => {
                Some(EventKind::AccountRecovered)
            }
            _ => None,
        };
        if let Some(kind) = kind {
            webhooks.emit(
                kind,
                serde_json::json!({
                    "accountId": &*t.account_id,
                    "accountName": t.account_name,
                    "platform": t.platform.as_str(),
                    "from": tr.from.as_str(),
                    "to": tr.to.as_str(),
                    "httpStatus": tr.http_status,
                    "message": tr.message,
                    "cooldownUntil": tr.cooldown_until,
                }),
            );
        }
    }
}

/// Requests still waiting (queued, or for upstream headers) when the grace period ends are
/// answered with 503 so shutdown can finish.
async fn cut_on_shutdown(
    axum::extract::State(relay): axum::extract::State<Arc<Relay>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let cut = relay.cut.clone();
    tokio::select! {
        res = next.run(req) => res,
        _ = cut.cancelled() => (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "5")], "shutting down").into_response(),
    }
}

/// `HEAD /`: Claude Code probes the base URL before its first request.
async fn probe() -> StatusCode {
    StatusCode::OK
}

pub fn routes(relay: Arc<Relay>) -> Router {
    let mut router = Router::new().route("/", head(probe)).route(
        "/metrics",
        get(crate::metrics::prometheus::endpoint::scrape),
    );
    for prefix in ["", "/api", "/claude"] {
        router = router
            .route(&format!("{prefix}/v1/messages"), post(claude::messages))
            .route(
                &format!("{prefix}/v1/messages/count_tokens"),
                post(claude::messages),
            )
            .route(&format!("{prefix}/v1/models"), get(claude::models));
    }
    for path in ["/v1/usage", "/api/v1/usage"] {
        router = router.route(path, get(self_service::usage));
    }
    for path in ["/v1/redeem", "/api/v1/redeem"] {
        router = router.route(path, post(self_service::redeem));
    }
    router = router
        .route("/v1/chat/completions", post(openai::root_chat_completions))
        .route("/v1/responses", post(openai::responses))
        .route(
            "/openai/v1/chat/completions",
            post(openai::chat_completions),
        )
        .route("/openai/v1/responses", post(openai::responses))
        .route("/openai/responses", post(openai::responses))
        .route("/openai/v1/models", get(openai::models))
        .route(
            "/openai/claude/v1/chat/completions",
            post(chat_to_claude::chat_completions),
        )
        .route("/openai/claude/v1/models", get(chat_to_claude::models));
    for version in ["v1beta", "v1"] {
        router = router
            .route(&format!("/gemini/{version}/models"), get(gemini::models))
            .route(
                &format!("/gemini/{version}/models/{{model_action}}"),
                get(gemini::model).post(gemini::model_action),
            );
    }
    router
        .layer(axum::middleware::from_fn_with_state(
            relay.clone(),
            gate::gate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            relay.clone(),
            cut_on_shutdown,
        ))
        .with_state(relay)
}

/// Sweeps expired sticky mappings, announces keys whose validity just ended, watches pool
/// utilization for `pool.saturated`, and looks at account budgets (every 5 s).
pub fn spawn_housekeeping(relay: &Arc<Relay>, stop: CancellationToken) {
    let relay = relay.clone();
    let tasks = relay.tasks.clone();
    tasks.spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(30));
        let mut watermark = now_ms();
        let mut saturation = Saturation::default();
        let mut changes = ConfigChanges::default();
        let mut poll = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = poll.tick() => {
                    changes.poll(&relay).await;
                    saturation.check(&relay, now_ms());
                    if let Err(e) = crate::accounts::budget_check::check(&relay, now_ms(), true).await {
                        tracing::warn!(error = %e, "checking account budgets failed");
                    }
                }
                _ = every.tick() => {
                    let now = now_ms();
                    relay.scheduler.live().sticky().sweep(relay.scheduler.now_ms());
                    match relay.store.keys_expired_between(watermark, now).await {
                        Ok(expired) => {
                            watermark = now;
                            for (id, name, at) in expired {
                                relay.webhooks.emit(
                                    EventKind::KeyExpired,
                                    serde_json::json!({ "keyId": id, "keyName": name, "expiredAt": at }),
                                );
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "checking for expired keys failed"),
                    }
                }
            }
        }
    });
}

/// Picks up configuration changed outside this process (another instance sharing the
/// database, or a hand edit): edited keys are re-read on their next request, and the account
/// pool is rebuilt when accounts, groups or memberships changed. Local admin edits apply at
/// once anyway; this bounds the staleness elsewhere to the poll interval.
#[derive(Default)]
struct ConfigChanges {
    keys_seen: Option<i64>,
    pool: Option<crate::storage::key_limits::PoolVersion>,
}

impl ConfigChanges {
    async fn poll(&mut self, relay: &Relay) {
        let since = *self.keys_seen.get_or_insert_with(now_ms);
        match relay.store.keys_changed_since(since).await {
            Ok(changed) => {
                for (id, updated) in changed {
                    relay.keys.forget(&id);
                    self.keys_seen = Some(self.keys_seen.unwrap_or(since).max(updated));
                }
            }
            Err(e) => tracing::warn!(error = %e, "polling for key changes failed"),
        }
        match relay.store.pool_version().await {
            Ok(version) => {
                if self.pool.is_some_and(|seen| seen != version) {
                    if let Err(e) = relay.scheduler.reload(false).await {
                        tracing::warn!(error = %e, "reloading the account pool failed");
                        return;
                    }
                }
                self.pool = Some(version);
            }
            Err(e) => tracing::warn!(error = %e, "polling for account changes failed"),
        }
    }
}

/// Per platform: since when utilization has been above the threshold, and whether that
/// stretch was announced (once per stretch).
#[derive(Default)]
struct Saturation {
    above_since: [Option<i64>; 3],
    announced: [bool; 3],
}

impl Saturation {
    fn check(&mut self, relay: &Relay, now: i64) {
        let opts = &relay.settings.serve.relay;
        let pool = relay.scheduler.snapshot();
        for (i, platform) in app::types::Platform::ALL.into_iter().enumerate() {
            let load = relay.scheduler.load_of(
                pool.by_id
                    .values()
                    .filter(|a| a.platform == platform)
                    .map(|a| a.as_ref()),
                opts.default_account_capacity,
            );
            if load.capacity == 0 || load.utilization() < opts.pool_saturation_threshold {
                self.above_since[i] = None;
                self.announced[i] = false;
                continue;
            }
            let since = *self.above_since[i].get_or_insert(now);
            if !self.announced[i] && now - since >= opts.pool_saturation_minutes as i64 * 60_000 {
                self.announced[i] = true;
                relay.webhooks.emit(
                    EventKind::PoolSaturated,
                    serde_json::json!({
                        "platform": platform.as_str(),
                        "utilization": load.utilization(),
                        "inFlight": load.in_flight,
                        "capacity": load.capacity,
                        "sinceMs": since,
                    }),
                );
            }
        }
    }
}
