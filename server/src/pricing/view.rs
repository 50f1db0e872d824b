//! The pricing page's figures (`GET /admin/pricing` and the dashboard): the price list, the
//! models billed by a guess with the rule that prices them now, and where the table is from.

use std::sync::atomic::Ordering;

use app::types::{
    micros_to_usd, FallbackModel, PriceInput, PriceRuleView, PriceTableInfo, PricedModelView,
    PricingList,
};
use chrono::{DateTime, Utc};

use super::{ModelPrice, PriceRule, PriceSource, Pricing};

/// USD per million tokens, standard tier.
pub fn price_input(p: &ModelPrice) -> PriceInput {
    PriceInput {
        input: micros_to_usd(p.input),
        output: micros_to_usd(p.output),
        cache_write_5m: micros_to_usd(p.cache_write_5m),
        cache_write_1h: micros_to_usd(p.cache_write_1h),
        cache_read: micros_to_usd(p.cache_read),
    }
}

fn rule_view(rule: PriceRule) -> PriceRuleView {
    match rule {
        PriceRule::Exact => PriceRuleView::Exact,
        PriceRule::Alias => PriceRuleView::Alias,
        PriceRule::Family => PriceRuleView::Family,
        PriceRule::Fallback => PriceRuleView::Fallback,
    }
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The page, from the current pricing and the models recently billed by a guess (name, last
/// seen in epoch ms).
pub fn pricing_list(pricing: &Pricing, guessed: Vec<(String, i64)>) -> PricingList {
    let models = pricing
        .catalog()
        .into_iter()
        .map(|m| PricedModelView {
            price: price_input(&m.price),
            overridden: m.source == PriceSource::Override,
            provider: m.provider,
            model: m.model,
        })
        .collect();
    let fallback_models = guessed
        .into_iter()
        .map(|(model, last_seen)| {
            let now = pricing.explain(&model);
            FallbackModel {
                priced_now: now.lookup.source != PriceSource::Fallback,
                rule: rule_view(now.lookup.rule),
                family: now.family,
                priced_as: now.priced_as,
                price: price_input(&now.lookup.price),
                last_seen: time(last_seen),
                model,
            }
        })
        .collect();
    let (origin, loaded_at, count) = pricing.table_origin();
    let status = pricing.refresh_status();
    let last_failure = status.last_failure_ms.load(Ordering::Relaxed);
    PricingList {
        models,
        fallback_price: price_input(&pricing.fallback_price()),
        fallback_models,
        table: PriceTableInfo {
            origin: origin.as_str().to_string(),
            loaded_at: time(loaded_at),
            models: count as u64,
            refresh_failures: status.failures.load(Ordering::Relaxed),
            last_refresh_failure: (last_failure > 0).then(|| time(last_failure)),
        },
    }
}
