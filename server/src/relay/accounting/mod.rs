//! The accounting hook of an answered request: whatever ended the answer, it settles the
//! reservation, reports the account's health, and records the usage event, exactly once.
//!
//! What is billed: the usage the upstream reported, priced at the dearest of the model the
//! client named, the model the account mapped it to, and the model the upstream says
//! answered (when the table knows it), plus the server-side tools it reports. When the
//! reported usage is missing — a 2xx answer without usage (too large to parse, a compatible
//! upstream that ignores `stream_options`, a stream cut before its usage) — the gaps are
//! estimated: input from the request's size, output from the content that went out, and the
//! event is flagged `usage_estimated`. The upstream bills the operator for that work, so it is
//! never free for the key.

pub mod answer;
pub mod meter;
pub mod unanswered;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::limits::Admitted;
use crate::pricing::{cost_with_tools_micros, PriceLookup, PriceSource, TokenUsage};
use crate::relay::platforms::server_tools::chat_search_model;
use crate::relay::platforms::usage_parse::{estimate_tokens, ParsedUsage};
use crate::relay::request_cost::RequestShape;
use crate::relay::writer::UsageEvent;
use crate::relay::Relay;
use crate::scheduler::health::Outcome;
use crate::scheduler::Lease;
use meter::{BodyEnd, Finish};

pub(crate) struct Accounting {
    pub relay: Arc<Relay>,
    pub admitted: Option<Admitted>,
    pub lease: Option<Lease>,
    /// The price of the model the client named.
    pub price: PriceLookup,
    pub event: UsageEvent,
    pub status: u16,
    /// Size of the client's request, for estimating input an answer never reported.
    pub request_bytes: usize,
    pub shape: RequestShape,
    /// False for free endpoints (token counting): nothing is estimated, the cost is zero.
    pub billable: bool,
    pub started: Instant,
}

impl Accounting {
    /// The tokens to bill, and whether any part of them is an estimate.
    fn billed_usage(&self, end: &BodyEnd, parsed: &ParsedUsage) -> (TokenUsage, bool) {
        let mut usage = parsed.usage.capped();
        if self.status >= 400 || !self.billable {
            return (usage, false);
        }
        let ended_cleanly = parsed.complete || *end == BodyEnd::Completed;
        if ended_cleanly && parsed.has_usage() {
            return (usage, false);
        }
        let mut estimated = false;
        if usage.prompt_tokens() == 0 {
            usage.input = estimate_tokens(self.request_bytes as u64);
            estimated = true;
        }
        if parsed.output_estimate > usage.output {
            usage.output = parsed.output_estimate;
            estimated = true;
        }
        (usage, estimated)
    }

    /// The price to bill at: the dearest for this usage of the named model's, the mapped
    /// model's and the reported model's (only when the table knows the reported name).
    fn price_for(
        &self,
        parsed: &ParsedUsage,
        usage: &TokenUsage,
        tools: &crate::pricing::ServerToolUse,
    ) -> PriceLookup {
        let pricing = self.relay.pricing.load();
        let mapped = self.lease.as_ref().and_then(|l| {
            let m = l.account.upstream_model(&self.event.model);
            (m != self.event.model).then(|| pricing.lookup(m))
        });
        let reported = parsed
            .model
            .as_deref()
            .filter(|m| *m != self.event.model)
            .map(|m| pricing.lookup(m))
            .filter(|p| p.source != PriceSource::Fallback);
        [mapped, reported]
            .into_iter()
            .flatten()
            .fold(self.price, |best, p| {
                let cost = |l: &PriceLookup| cost_with_tools_micros(&l.price, usage, tools);
                if cost(&p) > cost(&best) {
                    p
                } else {
                    best
                }
            })
    }
}

impl Finish for Accounting {
    fn finish(
        mut self: Box<Self>,
        end: BodyEnd,
        parsed: ParsedUsage,
        first_byte: Option<Duration>,
    ) {
        let (usage, estimated) = self.billed_usage(&end, &parsed);
        let mut tools = parsed.tools;
        if self.status < 400 && tools.web_searches == 0 && chat_search_model(&self.event.model) {
            // Chat search models search once per answer and do not say so.
            tools.web_searches = self.shape.answers.max(1);
        }
        let price = self.price_for(&parsed, &usage, &tools);
        let cost = if !self.billable {
            0
        } else if self.event.stream || self.status < 400 {
            cost_with_tools_micros(&price.price, &usage, &tools)
        } else {
            0
        };
        let mut lease = self.lease.take();
        if let Some(lease) = lease.as_mut() {
            let outcome = match &end {
                BodyEnd::UpstreamError(m) => Some(Outcome::Failed {
                    status: None,
                    message: m.clone(),
                }),
                BodyEnd::IdleTimeout => Some(Outcome::Failed {
                    status: None,
                    message: "stream went silent".into(),
                }),
                _ => None,
            };
            if let Some(outcome) = outcome {
                let now = self.relay.scheduler.now_ms();
                self.relay.scheduler.report(lease, outcome, now);
            }
        }
        let account = lease.as_ref().map(|l| l.account.id.clone());
        drop(lease);
        let key = self.admitted.as_ref().map(|a| a.key().clone());
        if let (Some(admitted), Some(key)) = (self.admitted.take(), key) {
            let settled = admitted.settle(cost);
            self.relay.after_settle(&key, settled);
            let mut e = std::mem::take(&mut self.event);
            e.key_id = key.id.clone();
            e.account_id = account;
            e.usage = usage;
            e.cost_micros = cost;
            e.price = price.price.to_json();
            e.priced_by_fallback = price.source == PriceSource::Fallback;
            e.status = self.status;
            e.error_type = match &end {
                // A stream that closed cleanly but never said it was done was cut upstream.
                BodyEnd::Completed
                    if !parsed.complete
                        && parsed.error.is_none()
                        && self.status < 400
                        && e.stream =>
                {
                    Some("incomplete".into())
                }
                BodyEnd::Completed => parsed.error.clone(),
                BodyEnd::UpstreamError(_) => Some("upstream_stream_error".into()),
                BodyEnd::IdleTimeout => Some("upstream_idle_timeout".into()),
                BodyEnd::ClientGone => Some("client_disconnected".into()),
                BodyEnd::Cut => Some("shutdown".into()),
            };
            e.client_disconnected = end == BodyEnd::ClientGone;
            e.usage_estimated = estimated;
            e.latency_ms = self.started.elapsed().as_millis() as i64;
            e.ttft_ms = first_byte.map(|d| d.as_millis() as i64);
            self.relay.record_event(e);
        }
    }
}
