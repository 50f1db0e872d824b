//! The margin report: revenue (what keys were sold for on the day each key was created, and each
//! key ledger entry's sale price on its day, in the
//! operator's currency) against upstream cost (the priced usage, or the accounts' monthly cost
//! spread over the days of each month), in total, by preset and by group.
//!
//! Amortised cost is attributed to groups by membership (an account in several groups is split
//! evenly; accounts in none count as the shared pool, key `""`) and to presets by each preset's
//! share of that day's usage cost (a day without usage leaves it [`UNALLOCATED`]). Everything is
//! summed in integer micro-units; floats appear only in the answer.

use std::collections::{BTreeMap, HashMap};

use app::types::{micros_to_usd, CostBasis, MarginLine, MarginReport, MarginTotals, SellerSales};
use chrono_tz::Tz;

use super::days::{day_of, days_in_month, format, Days};
use crate::storage::reports::{AccountCostRow, DailyUsageRow, SalesRow, SALES_SLOT_MS};
use chrono::Datelike;

/// The preset line of amortised cost on days without any usage to attribute it by.
pub const UNALLOCATED: &str = "__unallocated__";

/// Everything the report is computed from.
pub struct MarginInputs<'a> {
    pub days: &'a Days,
    pub tz: Tz,
    pub basis: CostBasis,
    /// The operator's currency.
    pub currency: &'a str,
    /// Units of `currency` per USD, times one million.
    pub rate_ppm: i64,
    pub sales: &'a [SalesRow],
    pub usage_by_preset: &'a [DailyUsageRow],
    pub usage_by_group: &'a [DailyUsageRow],
    pub accounts: &'a [AccountCostRow],
    /// `(group_id, account_id)`.
    pub memberships: &'a [(String, String)],
}

/// Revenue in micro-units of the operator's currency and cost in micro-USD, per day.
#[derive(Clone)]
struct Acc {
    keys: i64,
    revenue: Vec<i64>,
    cost_usd: Vec<i64>,
}

impl Acc {
    fn new(n: usize) -> Acc {
        Acc {
            keys: 0,
            revenue: vec![0; n],
            cost_usd: vec![0; n],
        }
    }
}

/// micro-USD → micro-units of the operator's currency, rounded half up.
pub fn convert(usd_micros: i64, rate_ppm: i64) -> i64 {
    let scaled = i128::from(usd_micros) * i128::from(rate_ppm);
    let rounded = (scaled + 500_000).div_euclid(1_000_000);
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// The share of a monthly amount that falls on `day`: the differences of cumulative
/// roundings, so a whole month adds up to exactly the monthly amount.
fn daily_share(monthly: i64, day: chrono::NaiveDate) -> i64 {
    let dim = i64::from(days_in_month(day));
    let d = i64::from(day.day());
    let upto = |n: i64| (i128::from(monthly) * i128::from(n) / i128::from(dim)) as i64;
    upto(d) - upto(d - 1)
}

/// Splits `amount` in proportion to `weights` (all ≥ 0, sum > 0); the rounding remainder
/// goes to the heaviest.
fn split_by_weight(amount: i64, weights: &[(String, i64)]) -> Vec<(String, i64)> {
    let total: i128 = weights.iter().map(|(_, w)| i128::from(*w)).sum();
    let mut parts: Vec<(String, i64)> = weights
        .iter()
        .map(|(k, w)| {
            (
                k.clone(),
                (i128::from(amount) * i128::from(*w) / total) as i64,
            )
        })
        .collect();
    let given: i64 = parts.iter().map(|(_, v)| v).sum();
    if let Some(heaviest) = weights
        .iter()
        .enumerate()
        .max_by_key(|(_, (_, w))| *w)
        .map(|(i, _)| i)
    {
        parts[heaviest].1 += amount - given;
    }
    parts
}

pub fn build(
    input: &MarginInputs,
    preset_label: impl Fn(&str) -> String,
    group_label: impl Fn(&str) -> String,
) -> MarginReport {
    let list = input.days.list();
    let n = list.len();
    let mut total = Acc::new(n);
    let mut presets: BTreeMap<String, Acc> = BTreeMap::new();
    let mut groups: BTreeMap<String, Acc> = BTreeMap::new();
    // Seller id → (name, keys and revenue).
    let mut sellers: BTreeMap<String, (String, Acc)> = BTreeMap::new();
    let mut unconverted = 0i64;

    for s in input.sales {
        let Some(i) = input.days.index(day_of(s.slot * SALES_SLOT_MS, input.tz)) else {
            continue;
        };
        let group = s.binding.strip_prefix("group:").unwrap_or("").to_owned();
        let revenue = if s.currency == input.currency {
            Some(s.sale_micros)
        } else if s.currency == "USD" {
            Some(convert(s.sale_micros, input.rate_ppm))
        } else {
            None
        };
        for acc in [
            &mut total,
            presets
                .entry(s.preset_id.clone())
                .or_insert_with(|| Acc::new(n)),
            groups.entry(group.clone()).or_insert_with(|| Acc::new(n)),
        ] {
            acc.keys += s.keys;
            if let Some(r) = revenue {
                acc.revenue[i] += r;
            }
        }
        let (name, seller) = sellers
            .entry(s.seller_id.clone())
            .or_insert_with(|| (s.seller_name.clone(), Acc::new(n)));
        if name.is_empty() {
            name.clone_from(&s.seller_name);
        }
        seller.keys += s.keys;
        if let Some(r) = revenue {
            seller.revenue[i] += r;
        }
        if revenue.is_none() {
            unconverted += s.keys;
        }
    }

    let add_cost = |map: &mut BTreeMap<String, Acc>, key: &str, i: usize, usd: i64| {
        map.entry(key.to_owned())
            .or_insert_with(|| Acc::new(n))
            .cost_usd[i] += usd;
    };
    match input.basis {
        CostBasis::Usage => {
            for r in input.usage_by_preset {
                if let Some(i) = input.days.index_of(&r.day) {
                    add_cost(&mut presets, &r.split, i, r.cost_micros);
                    total.cost_usd[i] += r.cost_micros;
                }
            }
            for r in input.usage_by_group {
                if let Some(i) = input.days.index_of(&r.day) {
                    add_cost(&mut groups, &r.split, i, r.cost_micros);
                }
            }
        }
        CostBasis::Amortized => {
            let mut groups_of: HashMap<&str, Vec<&str>> = HashMap::new();
            for (g, a) in input.memberships {
                groups_of.entry(a.as_str()).or_default().push(g.as_str());
            }
            let mut usage_by_day: Vec<Vec<(String, i64)>> = vec![Vec::new(); n];
            for r in input.usage_by_preset {
                if let (Some(i), true) = (input.days.index_of(&r.day), r.cost_micros > 0) {
                    usage_by_day[i].push((r.split.clone(), r.cost_micros));
                }
            }
            for (i, day) in list.iter().enumerate() {
                let mut day_total = 0;
                for a in input.accounts {
                    if a.monthly_cost_micros <= 0 || day_of(a.created_at, input.tz) > *day {
                        continue;
                    }
                    let share = daily_share(a.monthly_cost_micros, *day);
                    day_total += share;
                    let member_of = groups_of.get(a.id.as_str()).cloned().unwrap_or_default();
                    if member_of.is_empty() {
                        add_cost(&mut groups, "", i, share);
                    } else {
                        let even: Vec<(String, i64)> =
                            member_of.iter().map(|g| (g.to_string(), 1)).collect();
                        for (g, part) in split_by_weight(share, &even) {
                            add_cost(&mut groups, &g, i, part);
                        }
                    }
                }
                total.cost_usd[i] += day_total;
                if usage_by_day[i].is_empty() {
                    if day_total > 0 {
                        add_cost(&mut presets, UNALLOCATED, i, day_total);
                    }
                } else {
                    for (p, part) in split_by_weight(day_total, &usage_by_day[i]) {
                        add_cost(&mut presets, &p, i, part);
                    }
                }
            }
        }
    }

    let rate = input.rate_ppm;
    let line = |key: String, label: String, acc: &Acc| -> MarginLine {
        let cost: Vec<i64> = acc.cost_usd.iter().map(|c| convert(*c, rate)).collect();
        let margin: Vec<i64> = acc.revenue.iter().zip(&cost).map(|(r, c)| r - c).collect();
        let revenue_sum: i64 = acc.revenue.iter().sum();
        let cost_sum: i64 = cost.iter().sum();
        let margin_sum = revenue_sum - cost_sum;
        MarginLine {
            key,
            label,
            revenue: acc.revenue.iter().copied().map(micros_to_usd).collect(),
            cost: cost.iter().copied().map(micros_to_usd).collect(),
            margin: margin.into_iter().map(micros_to_usd).collect(),
            totals: MarginTotals {
                keys_sold: acc.keys.max(0) as u64,
                revenue: micros_to_usd(revenue_sum),
                cost: micros_to_usd(cost_sum),
                cost_usd: micros_to_usd(acc.cost_usd.iter().sum()),
                margin: micros_to_usd(margin_sum),
                margin_pct: (revenue_sum > 0).then(|| margin_sum as f64 / revenue_sum as f64),
            },
        }
    };
    let ranked = |map: &BTreeMap<String, Acc>, label: &dyn Fn(&str) -> String| {
        let mut lines: Vec<MarginLine> = map
            .iter()
            .map(|(k, acc)| line(k.clone(), label(k), acc))
            .collect();
        lines.sort_by(|a, b| {
            b.totals
                .revenue
                .total_cmp(&a.totals.revenue)
                .then_with(|| b.totals.cost.total_cmp(&a.totals.cost))
                .then_with(|| a.key.cmp(&b.key))
        });
        lines
    };

    let mut by_seller: Vec<SellerSales> = sellers
        .into_iter()
        .map(|(key, (label, acc))| SellerSales {
            key,
            label,
            keys_sold: acc.keys.max(0) as u64,
            revenue: micros_to_usd(acc.revenue.iter().sum()),
            daily_revenue: acc.revenue.iter().copied().map(micros_to_usd).collect(),
        })
        .collect();
    by_seller.sort_by(|a, b| {
        b.revenue
            .total_cmp(&a.revenue)
            .then_with(|| b.keys_sold.cmp(&a.keys_sold))
            .then_with(|| a.key.cmp(&b.key))
    });

    MarginReport {
        from: format(input.days.from),
        to: format(input.days.to),
        cost_basis: input.basis,
        currency: input.currency.to_owned(),
        exchange_rate: rate as f64 / 1_000_000.0,
        days: input.days.labels(),
        total: line(String::new(), String::new(), &total),
        by_preset: ranked(&presets, &preset_label),
        by_group: ranked(&groups, &group_label),
        by_seller,
        unconverted_keys: unconverted.max(0) as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn monthly_amounts_add_up_exactly() {
        let monthly = 100_000_000; // $100 over 31 days does not divide evenly.
        let march: i64 = (1..=31)
            .map(|d| daily_share(monthly, NaiveDate::from_ymd_opt(2026, 3, d).unwrap()))
            .sum();
        assert_eq!(march, monthly);
        assert_eq!(convert(1_000_000, 7_200_000), 7_200_000);
        assert_eq!(convert(1, 500_000), 1, "half rounds up");
        let parts = split_by_weight(10, &[("a".into(), 1), ("b".into(), 2)]);
        assert_eq!(parts, vec![("a".to_string(), 3), ("b".to_string(), 7)]);
    }
}
