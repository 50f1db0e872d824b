//! A key's CRS usage history: daily totals per model (into `usage_daily`, whose triggers keep
//! the narrower rollups) and the request records CRS still holds (into the raw usage log, so
//! today's spend counts against a daily cost limit and the export has them).

use std::collections::BTreeMap;

use super::parse_time;
use super::source::CrsKey;
use super::usd;
use crate::storage::import::{DailyTotals, ImportedRecord};

/// The platform a model name belongs to, for the rollups' `platform` column.
pub fn platform_of_model(model: &str) -> &'static str {
    let m = model.to_ascii_lowercase();
    if m.starts_with("gemini") {
        "gemini"
    } else if m.starts_with("gpt")
        || m.starts_with("o1")
        || m.starts_with("o3")
        || m.starts_with("o4")
        || m.contains("codex")
    {
        "openai"
    } else {
        "claude"
    }
}

fn num(fields: &super::source::Fields, name: &str) -> i64 {
    fields
        .get(name)
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as i64)
        .unwrap_or(0)
        .max(0)
}

/// Daily totals by (day, model). CRS days are its own (its `TIMEZONE_OFFSET`, UTC+8 by
/// default). Costs are the rated cost (after the key's service rate, what its quota counted);
/// a CRS whose model rows carry no cost has its day's cost put on the day's busiest model.
pub fn daily(k: &CrsKey) -> BTreeMap<(String, String), DailyTotals> {
    let mut out: BTreeMap<(String, String), DailyTotals> = BTreeMap::new();
    for d in &k.daily {
        let f = &d.fields;
        let cost = if f.contains_key("ratedCostMicro") {
            num(f, "ratedCostMicro")
        } else {
            num(f, "realCostMicro")
        };
        let t = out.entry((d.day.clone(), d.model.clone())).or_default();
        t.requests += num(f, "requests");
        t.input_tokens += num(f, "inputTokens");
        t.output_tokens += num(f, "outputTokens");
        t.cache_write_tokens += num(f, "cacheCreateTokens");
        t.cache_read_tokens += num(f, "cacheReadTokens");
        t.cost_micros += cost;
    }
    for (day, cost) in &k.daily_cost {
        let day_cost = usd(cost);
        let counted: i64 = out
            .iter()
            .filter(|((d, _), _)| d == day)
            .map(|(_, t)| t.cost_micros)
            .sum();
        if counted > 0 || day_cost == 0 {
            continue;
        }
        let busiest = out
            .iter_mut()
            .filter(|((d, _), _)| d == day)
            .max_by_key(|(_, t)| t.requests);
        match busiest {
            Some((_, t)) => t.cost_micros = day_cost,
            None => {
                out.insert(
                    (day.clone(), "unknown".into()),
                    DailyTotals {
                        cost_micros: day_cost,
                        ..Default::default()
                    },
                );
            }
        }
    }
    out
}

/// The request records CRS still keeps for the key, as raw usage events. Records without a
/// time are left out; the request id is CRS's, prefixed, so a second run recognises them.
pub fn records(
    k: &CrsKey,
    key_id: &str,
    accounts: &dyn Fn(&str) -> Option<String>,
) -> Vec<ImportedRecord> {
    let mut out = Vec::new();
    for (i, text) in k.records.iter().enumerate() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            continue;
        };
        let Some(at) = v["timestamp"].as_str().and_then(parse_time) else {
            continue;
        };
        let n = |name: &str| v[name].as_i64().unwrap_or(0).max(0);
        let model = v["model"].as_str().unwrap_or("unknown").to_owned();
        let id = match v["requestId"].as_str() {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => format!("{}-{at}-{i}", k.id),
        };
        let cost = v["cost"]
            .as_f64()
            .and_then(app::types::usd_to_micros)
            .unwrap_or(0)
            .max(0);
        out.push(ImportedRecord {
            request_id: format!("crs:{id}"),
            key_id: key_id.to_owned(),
            account_id: v["accountId"].as_str().and_then(accounts),
            platform: platform_of_model(&model),
            model,
            input_tokens: n("inputTokens"),
            output_tokens: n("outputTokens"),
            cache_write_5m_tokens: (n("cacheCreateTokens") - n("ephemeral1hTokens")).max(0),
            cache_write_1h_tokens: n("ephemeral1hTokens"),
            cache_read_tokens: n("cacheReadTokens"),
            cost_micros: cost,
            status: v["statusCode"].as_i64().unwrap_or(200),
            latency_ms: n("durationMs"),
            stream: v["stream"].as_bool().unwrap_or(false),
            created_at: at,
        });
    }
    out
}
