//! `GET /metrics`: the counters plus gauges read at scrape time, behind `METRICS_TOKEN`.
//! Without a configured token the endpoint does not exist (404); a missing or wrong bearer
//! token is 401. The comparison runs over SHA-256 digests so its time says nothing about the
//! token.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::text::{Exposition, CONTENT_TYPE};
use super::{HistogramSnapshot, Prometheus};
use crate::limits::LimitState;
use crate::pricing::Pricing;
use crate::scheduler::pool::UpstreamAccount;
use crate::scheduler::Scheduler;
use crate::webhooks::Webhooks;

/// What `/metrics` reads at scrape time, handed in by the relay (which owns these parts).
pub struct Figures<'a> {
    pub scheduler: &'a Scheduler,
    pub prometheus: &'a Prometheus,
    pub limits: &'a dyn LimitState,
    pub writer: WriterFigures,
    pub webhooks: &'a Webhooks,
    pub pricing: Arc<Pricing>,
}

/// The usage writer's gauges.
pub struct WriterFigures {
    pub pending: usize,
    pub spooled: usize,
    pub database_up: bool,
    pub dead_letters: u64,
}

/// The answer to a scrape: 404 without a token, 401 without the right bearer, else the
/// figures `render` produces.
pub fn scrape(
    token: Option<&str>,
    headers: &HeaderMap,
    render: impl FnOnce() -> String,
) -> Response {
    let Some(token) = token else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !authorized(headers, token) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a valid metrics token is required\n",
        )
            .into_response();
    }
    let body = render();
    (
        [
            (header::CONTENT_TYPE, CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(presented) = crate::auth::bearer::bearer_token(headers) else {
        return false;
    };
    let (a, b) = (
        Sha256::digest(presented.as_bytes()),
        Sha256::digest(token.as_bytes()),
    );
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Everything `/metrics` shows, as Prometheus text.
pub fn render(figures: &Figures<'_>, now: i64) -> String {
    let snapshot = figures.scheduler.snapshot();
    let mut accounts: Vec<&Arc<UpstreamAccount>> = snapshot.by_id.values().collect();
    accounts.sort_by(|a, b| (a.platform, &a.name, &a.id).cmp(&(b.platform, &b.name, &b.id)));
    let name_of = |id: Option<&Arc<str>>| -> String {
        id.and_then(|id| snapshot.by_id.get(id))
            .map(|a| a.name.clone())
            .unwrap_or_default()
    };
    let p = &figures.prometheus;
    let mut out = Exposition::with_capacity(16 * 1024);

    let mut requests = p.requests();
    requests.sort_by(|a, b| {
        (a.platform, &a.model, &a.account_id, a.status).cmp(&(
            b.platform,
            &b.model,
            &b.account_id,
            b.status,
        ))
    });
    out.family(
        "tollgate_requests_total",
        "counter",
        "Finished client requests by platform, model, upstream account and HTTP status.",
    );
    for r in &requests {
        let (id, name, status) = (
            r.account_id.as_deref().unwrap_or(""),
            name_of(r.account_id.as_ref()),
            r.status.to_string(),
        );
        out.sample(
            "tollgate_requests_total",
            &[
                ("platform", r.platform),
                ("model", &r.model),
                ("account_id", id),
                ("account", &name),
                ("status", &status),
            ],
            r.requests,
        );
    }

    // Tokens and cost by platform and model only: summed over accounts and statuses.
    let mut by_model: HashMap<(&str, &str), [u64; 5]> = HashMap::new();
    for r in &requests {
        let sums = by_model.entry((r.platform, &r.model)).or_default();
        for (sum, n) in sums.iter_mut().zip([
            r.input,
            r.output,
            r.cache_write,
            r.cache_read,
            r.cost_micros,
        ]) {
            *sum += n;
        }
    }
    let mut by_model: Vec<_> = by_model.into_iter().collect();
    by_model.sort();
    out.family(
        "tollgate_tokens_total",
        "counter",
        "Billed tokens by platform, model and kind (input, output, cache_write, cache_read).",
    );
    for ((platform, model), sums) in &by_model {
        for (kind, n) in ["input", "output", "cache_write", "cache_read"]
            .iter()
            .zip(sums)
        {
            out.sample(
                "tollgate_tokens_total",
                &[("platform", platform), ("model", model), ("kind", kind)],
                n,
            );
        }
    }
    out.family(
        "tollgate_cost_micro_usd_total",
        "counter",
        "Billed cost in micro-USD by platform and model.",
    );
    for ((platform, model), sums) in &by_model {
        out.sample(
            "tollgate_cost_micro_usd_total",
            &[("platform", platform), ("model", model)],
            sums[4],
        );
    }

    histogram(
        &mut out,
        "tollgate_request_duration_seconds",
        "Time from request to the end of the answer, by platform and status class.",
        p.latency(),
    );
    histogram(&mut out, "tollgate_request_ttft_seconds", "Time to the first byte of the answer body (the first token of a stream), by platform and status class.", p.ttft());

    let mut attempts = p.attempts();
    attempts.sort_by(|a, b| {
        (a.platform, &a.account_id, a.status).cmp(&(b.platform, &b.account_id, b.status))
    });
    out.family("tollgate_upstream_attempts_total", "counter", "Upstream attempts by account and HTTP status (0: no answer), including those failover hid from the client.");
    for a in &attempts {
        let (name, status) = (name_of(Some(&a.account_id)), a.status.to_string());
        out.sample(
            "tollgate_upstream_attempts_total",
            &[
                ("platform", a.platform),
                ("account_id", &a.account_id),
                ("account", &name),
                ("status", &status),
            ],
            a.attempts,
        );
    }

    let live = figures.scheduler.live();
    out.family(
        "tollgate_account_in_flight",
        "gauge",
        "Upstream requests in flight per account.",
    );
    for a in &accounts {
        out.sample(
            "tollgate_account_in_flight",
            &account_labels(a),
            live.in_flight(&a.id),
        );
    }
    out.family(
        "tollgate_account_status",
        "gauge",
        "1 for each account's current status (active, rate_limited, overloaded, error, disabled).",
    );
    let statuses: Vec<_> = accounts
        .iter()
        .map(|a| figures.scheduler.display_status(&a.id, a.is_active))
        .collect();
    for (a, (status, _, _)) in accounts.iter().zip(&statuses) {
        let mut labels = account_labels(a).to_vec();
        labels.push(("status", status.as_str()));
        out.sample("tollgate_account_status", &labels, 1);
    }
    out.family(
        "tollgate_account_cooldown_seconds",
        "gauge",
        "Seconds until an account's cooldown ends (0 when none).",
    );
    for (a, (_, until, _)) in accounts.iter().zip(&statuses) {
        let left = until.map_or(0, |u| (u - now).max(0)) as f64 / 1000.0;
        out.sample(
            "tollgate_account_cooldown_seconds",
            &account_labels(a),
            left,
        );
    }

    if let Some(cluster) = figures.scheduler.cluster() {
        let (by_kind, scheduled) = cluster.statements().figures();
        out.family(
            "tollgate_cluster_scheduler_statements_total",
            "counter",
            "Database statements made to share the scheduler's state with other instances.",
        );
        for (kind, n) in by_kind {
            out.sample(
                "tollgate_cluster_scheduler_statements_total",
                &[("kind", kind)],
                n,
            );
        }
        out.family(
            "tollgate_cluster_scheduled_total",
            "counter",
            "Attempts scheduled while sharing the scheduler's state.",
        );
        out.sample("tollgate_cluster_scheduled_total", &[], scheduled);
    }

    let limits = figures.limits;
    let (reserved, slots) = limits.totals();
    gauge(
        &mut out,
        "tollgate_key_slots_in_use",
        "Concurrency slots held by API keys, over all keys.",
        slots,
    );
    gauge(
        &mut out,
        "tollgate_key_queue_waiting",
        "Requests waiting in API keys' concurrency queues, over all keys.",
        limits.waiting(),
    );
    gauge(
        &mut out,
        "tollgate_key_reserved_micro_usd",
        "Quota reserved by requests in flight, in micro-USD, over all keys.",
        reserved,
    );
    gauge(
        &mut out,
        "tollgate_usage_writer_pending",
        "Usage events not yet in the database: queued, being written or spooled.",
        figures.writer.pending,
    );
    gauge(
        &mut out,
        "tollgate_usage_writer_spooled",
        "Usage events waiting in the spool file for the database.",
        figures.writer.spooled,
    );
    gauge(
        &mut out,
        "tollgate_usage_writer_database_up",
        "1 while the usage writer can write to the database, 0 during an outage.",
        u8::from(figures.writer.database_up),
    );
    out.family(
        "tollgate_usage_dead_letters_total",
        "counter",
        "Usage events the database refused, set aside in usage_dead_letters.",
    );
    out.sample(
        "tollgate_usage_dead_letters_total",
        &[],
        figures.writer.dead_letters,
    );
    gauge(
        &mut out,
        "tollgate_webhook_queue_depth",
        "Webhook events waiting for delivery.",
        figures.webhooks.queued(),
    );
    out.family(
        "tollgate_webhook_dropped_total",
        "counter",
        "Webhook events dropped because the queue was full.",
    );
    out.sample(
        "tollgate_webhook_dropped_total",
        &[],
        figures.webhooks.dropped(),
    );
    pricing_metrics(&mut out, &figures.pricing);
    out.finish()
}

/// The price table in use and its refreshes from `PRICING_URL`.
fn pricing_metrics(out: &mut Exposition, pricing: &crate::pricing::Pricing) {
    use std::sync::atomic::Ordering::Relaxed;
    let (origin, loaded_at_ms, models) = pricing.table_origin();
    out.family(
        "tollgate_pricing_table_models",
        "gauge",
        "Models the price table prices, by where the table came from (builtin, file, url).",
    );
    out.sample(
        "tollgate_pricing_table_models",
        &[("origin", origin.as_str())],
        models,
    );
    gauge(
        out,
        "tollgate_pricing_table_loaded_timestamp_seconds",
        "When the price table in use was read or fetched.",
        loaded_at_ms / 1000,
    );
    let status = pricing.refresh_status();
    for (name, help, value) in [
        (
            "tollgate_pricing_refresh_attempts_total",
            "Fetches of PRICING_URL.",
            status.attempts.load(Relaxed),
        ),
        (
            "tollgate_pricing_refresh_failures_total",
            "Fetches of PRICING_URL that failed or were refused (the table in use was kept).",
            status.failures.load(Relaxed),
        ),
    ] {
        out.family(name, "counter", help);
        out.sample(name, &[], value);
    }
}

fn account_labels(a: &UpstreamAccount) -> [(&'static str, &str); 3] {
    [
        ("platform", a.platform.as_str()),
        ("account_id", &a.id),
        ("account", &a.name),
    ]
}

fn gauge(out: &mut Exposition, name: &str, help: &str, value: impl std::fmt::Display) {
    out.family(name, "gauge", help);
    out.sample(name, &[], value);
}

fn histogram(out: &mut Exposition, name: &str, help: &str, mut cells: Vec<HistogramSnapshot>) {
    cells.sort_by_key(|c| (c.platform, c.class));
    out.family(name, "histogram", help);
    let bucket = format!("{name}_bucket");
    for c in &cells {
        for (i, n) in c.cumulative.iter().enumerate() {
            let le = c
                .bounds_ms
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |ms| (*ms as f64 / 1000.0).to_string());
            out.sample(
                &bucket,
                &[
                    ("platform", c.platform),
                    ("status_class", c.class),
                    ("le", &le),
                ],
                n,
            );
        }
        let labels = [("platform", c.platform), ("status_class", c.class)];
        out.sample(&format!("{name}_sum"), &labels, c.sum_ms as f64 / 1000.0);
        out.sample(&format!("{name}_count"), &labels, c.count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_token_must_match_exactly() {
        let mut h = HeaderMap::new();
        assert!(!authorized(&h, "s3cret"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret"),
        );
        assert!(authorized(&h, "s3cret"));
        assert!(!authorized(&h, "s3cret2"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic s3cret"),
        );
        assert!(!authorized(&h, "s3cret"));
    }
}
