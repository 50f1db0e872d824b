//! The overview's figures: the live metrics window and the scheduler's state (in memory), plus
//! today's totals and presets' real spend (two small indexed queries).

use std::collections::{BTreeMap, HashMap};

use app::error::AdminError;
use app::types::{
    micros_to_usd, AccountStatus, AttentionAccount, LiveOverview, Platform, PoolUtilization,
    PresetSpend, TodayFigures,
};
use chrono::{DateTime, Utc};

use super::days::{day_of, format, start_ms};
use crate::admin::error::internal;
use crate::admin::AdminService;
use crate::scheduler::pool::UpstreamAccount;
use crate::storage::now_ms;

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole
    } else {
        0.0
    }
}

type Load = crate::scheduler::PoolLoad;

impl AdminService {
    fn load_of<'a>(&self, accounts: impl Iterator<Item = &'a UpstreamAccount>) -> Load {
        let default_capacity = self.config.serve.relay.default_account_capacity;
        self.relay.pool().load_of(accounts, default_capacity)
    }

    pub(super) async fn live_overview(&self) -> Result<LiveOverview, AdminError> {
        let now = now_ms();
        let m = self.relay.live_figures(now);
        let pool = self.relay.pool().snapshot();

        let all = self.load_of(pool.by_id.values().map(|a| a.as_ref()));
        let platforms = Platform::ALL
            .into_iter()
            .filter(|p| pool.by_id.values().any(|a| a.platform == *p))
            .map(|p| {
                let load = self.load_of(
                    pool.by_id
                        .values()
                        .filter(|a| a.platform == p)
                        .map(|a| a.as_ref()),
                );
                utilization(p.as_str().to_owned(), String::new(), p, false, load)
            })
            .collect();

        let names: HashMap<String, String> = self
            .store
            .list_groups()
            .await
            .map_err(internal)?
            .into_iter()
            .map(|g| (g.id, g.name))
            .collect();
        let mut groups: Vec<PoolUtilization> = pool
            .groups
            .iter()
            .map(|(id, g)| {
                let load = self.load_of(g.members.iter().map(|a| a.as_ref()));
                let name = names
                    .get(id.as_ref())
                    .cloned()
                    .unwrap_or_else(|| id.to_string());
                utilization(id.to_string(), name, g.platform, true, load)
            })
            .collect();
        groups.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));

        let mut attention: Vec<AttentionAccount> = pool
            .by_id
            .values()
            .filter_map(|a| {
                let (status, cooldown, message) =
                    self.relay.pool().display_status(&a.id, a.is_active);
                let message = a.unusable.clone().unwrap_or(message);
                let broken = a.unusable.is_some();
                (status != AccountStatus::Active || broken).then(|| AttentionAccount {
                    id: a.id.to_string(),
                    name: a.name.clone(),
                    platform: a.platform,
                    status: if broken { AccountStatus::Error } else { status },
                    schedulable: a.schedulable,
                    message,
                    cooldown_until: cooldown.filter(|c| *c > now).map(time),
                    budget: None,
                })
            })
            .collect();
        for alert in self.budget_report().await? {
            if !alert.budget.needs_attention(time(now)) {
                continue;
            }
            let message = format!(
                "budget: ${:.2} left{}",
                alert.budget.remaining_usd,
                alert
                    .budget
                    .projected_run_out
                    .map(|at| format!(", runs out {}", at.format("%Y-%m-%d %H:%M UTC")))
                    .unwrap_or_default()
            );
            match attention.iter_mut().find(|a| a.id == alert.account_id) {
                Some(a) => a.budget = Some(alert.budget),
                None => {
                    let Some(a) = pool.by_id.get(alert.account_id.as_str()) else {
                        continue;
                    };
                    let (status, _, _) = self.relay.pool().display_status(&a.id, a.is_active);
                    attention.push(AttentionAccount {
                        id: alert.account_id,
                        name: alert.account_name,
                        platform: a.platform,
                        status,
                        schedulable: a.schedulable,
                        message,
                        cooldown_until: None,
                        budget: Some(alert.budget),
                    });
                }
            }
        }
        attention.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));

        Ok(LiveOverview {
            window_minutes: m.window_minutes,
            requests_per_minute: m.per_minute(m.requests),
            tokens_per_minute: m.per_minute(m.tokens),
            cost_per_minute: micros_to_usd(m.cost_micros) / f64::from(m.window_minutes.max(1)),
            error_rate: ratio(m.errors as f64, m.requests as f64),
            refused_429: m.refused_429,
            upstream_attempts: m.attempts,
            upstream_429_rate: m.attempt_rate(m.upstream_429),
            upstream_529_rate: m.attempt_rate(m.upstream_529),
            in_flight: all.in_flight,
            capacity: all.capacity,
            utilization: ratio(f64::from(all.in_flight), f64::from(all.capacity)),
            platforms,
            groups,
            today: self.today(now).await?,
            presets: self.preset_spend().await?,
            attention,
            generated_at: time(now),
        })
    }

    async fn today(&self, now: i64) -> Result<TodayFigures, AdminError> {
        let tz = self.config.common.timezone;
        let today = day_of(now, tz);
        let tomorrow = today.succ_opt().unwrap_or(today);
        let label = format(today);
        let sums = self.store.day_totals(&label).await.map_err(internal)?;
        let new_keys = self
            .store
            .keys_created_between(start_ms(today, tz), start_ms(tomorrow, tz))
            .await
            .map_err(internal)?;
        Ok(TodayFigures {
            day: label,
            new_keys: new_keys.max(0) as u64,
            requests: sums.requests.max(0) as u64,
            tokens: (sums.input_tokens + sums.output_tokens + sums.cache_tokens).max(0) as u64,
            cost: micros_to_usd(sums.cost_micros),
        })
    }

    async fn preset_spend(&self) -> Result<Vec<PresetSpend>, AdminError> {
        let names: BTreeMap<String, String> = self
            .store
            .list_key_presets()
            .await
            .map_err(internal)?
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect();
        let mut rows: Vec<PresetSpend> = self
            .store
            .preset_spend()
            .await
            .map_err(internal)?
            .into_iter()
            .filter(|r| r.keys > 0)
            .map(|r| {
                let keys = r.keys as f64;
                let average_spent = micros_to_usd(r.spent_micros) / keys;
                let average_quota = micros_to_usd(r.quota_micros) / keys;
                PresetSpend {
                    name: names
                        .get(&r.preset_id)
                        .cloned()
                        .unwrap_or_else(|| r.preset_id.clone()),
                    preset_id: r.preset_id,
                    keys: r.keys as u64,
                    average_spent,
                    average_quota,
                    share_used: (average_quota > 0.0).then(|| average_spent / average_quota),
                }
            })
            .collect();
        rows.sort_by(|a, b| b.keys.cmp(&a.keys).then_with(|| a.name.cmp(&b.name)));
        Ok(rows)
    }
}

fn utilization(
    id: String,
    name: String,
    platform: Platform,
    is_group: bool,
    load: Load,
) -> PoolUtilization {
    PoolUtilization {
        id,
        name,
        platform,
        is_group,
        accounts: load.accounts,
        in_flight: load.in_flight,
        capacity: load.capacity,
        utilization: ratio(f64::from(load.in_flight), f64::from(load.capacity)),
    }
}
