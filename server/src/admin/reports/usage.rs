//! The usage report from daily rollup rows: totals per split value, and daily series for the
//! biggest values with the rest folded into one `other` series, so a chart stays readable
//! however many models or accounts there are.

use std::collections::HashMap;

use app::types::{micros_to_usd, SplitBy, UsageReport, UsageSeries, UsageTotals};

use super::days::{format, Days};
use crate::storage::reports::DailyUsageRow;

/// Series drawn individually; the rest are summed into [`OTHER`].
pub const MAX_SERIES: usize = 8;
/// The key of the series that sums every split value beyond [`MAX_SERIES`].
pub const OTHER: &str = "__other__";

#[derive(Clone, Copy, Default)]
struct Sums {
    requests: i64,
    errors: i64,
    input: i64,
    output: i64,
    cache_write: i64,
    cache_read: i64,
    cost: i64,
}

impl Sums {
    fn add(&mut self, r: &DailyUsageRow) {
        self.requests += r.requests;
        self.errors += r.errors;
        self.input += r.input_tokens;
        self.output += r.output_tokens;
        self.cache_write += r.cache_write_tokens;
        self.cache_read += r.cache_read_tokens;
        self.cost += r.cost_micros;
    }

    fn totals(&self, key: String, label: String) -> UsageTotals {
        let n = |v: i64| v.max(0) as u64;
        UsageTotals {
            key,
            label,
            requests: n(self.requests),
            errors: n(self.errors),
            input_tokens: n(self.input),
            output_tokens: n(self.output),
            cache_write_tokens: n(self.cache_write),
            cache_read_tokens: n(self.cache_read),
            tokens: n(self.input + self.output + self.cache_write + self.cache_read),
            cost: micros_to_usd(self.cost),
        }
    }
}

/// Builds the report. `label` names a split value (a model is its own name; ids become names;
/// an id nobody knows any more stays as it is).
pub fn build(
    days: &Days,
    split_by: SplitBy,
    rows: &[DailyUsageRow],
    label: impl Fn(&str) -> String,
) -> UsageReport {
    let mut per_key: HashMap<&str, Sums> = HashMap::new();
    let mut all = Sums::default();
    for r in rows {
        per_key.entry(r.split.as_str()).or_default().add(r);
        all.add(r);
    }
    let mut ranked: Vec<(&str, Sums)> = per_key.into_iter().collect();
    ranked.sort_by(|(ka, a), (kb, b)| {
        (b.cost, b.requests)
            .cmp(&(a.cost, a.requests))
            .then_with(|| ka.cmp(kb))
    });

    let n_days = days.list().len();
    let drawn: Vec<&str> = ranked.iter().take(MAX_SERIES).map(|(k, _)| *k).collect();
    let folded = ranked.len() > MAX_SERIES;
    let mut series: Vec<(Vec<i64>, Vec<i64>, Vec<i64>)> =
        vec![
            (vec![0; n_days], vec![0; n_days], vec![0; n_days]);
            drawn.len() + usize::from(folded)
        ];
    for r in rows {
        let Some(day) = days.index_of(&r.day) else {
            continue;
        };
        let slot = match drawn.iter().position(|k| *k == r.split) {
            Some(i) => i,
            None if folded => drawn.len(),
            None => continue,
        };
        let s = &mut series[slot];
        s.0[day] += r.requests;
        s.1[day] += r.tokens();
        s.2[day] += r.cost_micros;
    }

    let names: Vec<(String, String)> = drawn
        .iter()
        .map(|k| (k.to_string(), label(k)))
        .chain(folded.then(|| (OTHER.to_string(), String::new())))
        .collect();
    let series = names
        .into_iter()
        .zip(series)
        .map(|((key, label), (requests, tokens, cost))| UsageSeries {
            key,
            label,
            requests: requests.into_iter().map(|v| v.max(0) as u64).collect(),
            tokens: tokens.into_iter().map(|v| v.max(0) as u64).collect(),
            cost: cost.into_iter().map(micros_to_usd).collect(),
        })
        .collect();

    UsageReport {
        from: format(days.from),
        to: format(days.to),
        split_by,
        days: days.labels(),
        series,
        rows: ranked
            .iter()
            .map(|(k, s)| s.totals(k.to_string(), label(k)))
            .collect(),
        totals: all.totals(String::new(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn row(day: &str, split: &str, requests: i64, cost: i64) -> DailyUsageRow {
        DailyUsageRow {
            day: day.into(),
            split: split.into(),
            requests,
            input_tokens: requests * 10,
            output_tokens: requests,
            cost_micros: cost,
            ..Default::default()
        }
    }

    #[test]
    fn series_are_aligned_and_small_values_fold() {
        let days = Days {
            from: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 3, 3).unwrap(),
        };
        let mut rows = vec![
            row("2026-03-01", "big", 2, 5_000_000),
            row("2026-03-03", "big", 1, 1_000_000),
        ];
        for i in 0..9 {
            rows.push(row("2026-03-02", &format!("m{i}"), 1, 100 + i));
        }
        let r = build(&days, SplitBy::Model, &rows, |k| k.to_uppercase());
        assert_eq!(r.days, vec!["2026-03-01", "2026-03-02", "2026-03-03"]);
        assert_eq!(r.series.len(), MAX_SERIES + 1);
        assert_eq!(r.series[0].key, "big");
        assert_eq!(r.series[0].label, "BIG");
        assert_eq!(r.series[0].requests, vec![2, 0, 1]);
        assert_eq!(r.series[0].cost, vec![5.0, 0.0, 1.0]);
        assert_eq!(r.series[0].tokens, vec![22, 0, 11]);
        let other = r.series.last().unwrap();
        assert_eq!(other.key, OTHER);
        // m0 and m1 are the two cheapest of nine: they fold into "other".
        assert_eq!(other.requests, vec![0, 2, 0]);
        assert_eq!(r.rows.len(), 10);
        assert_eq!(r.rows[1].key, "m8");
        assert_eq!(r.totals.requests, 12);
        assert_eq!(r.totals.tokens, 132);
    }
}
