//! Account budgets' arithmetic, pure: the current period, where the budget stands (in integer
//! micro-dollars), which thresholds were crossed since the last look, and when the money runs
//! out at the recent rate. `budget_check` puts these together with storage, webhooks and the
//! scheduler.

use app::types::BudgetKind;
use chrono::{Datelike, NaiveDate, TimeZone};

pub const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// Days of spend the projection averages.
pub const PROJECTION_DAYS: i64 = 7;
/// The fraction that means "used up", kept in the fired list like a threshold.
pub const EXHAUSTED: f64 = 1.0;

/// The start (epoch ms) of the hour `ms` falls in: spend is counted by hourly rollups.
pub fn hour_floor(ms: i64) -> i64 {
    ms - ms.rem_euclid(HOUR_MS)
}

fn midnight(day: NaiveDate, tz: chrono_tz::Tz) -> i64 {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.timestamp_millis())
        .unwrap_or_else(|| naive.and_utc().timestamp_millis())
}

/// The day `reset_day` (clamped to the month's length) of the month of `day`.
fn reset_in(day: NaiveDate, reset_day: u32) -> NaiveDate {
    let first = day.with_day(1).unwrap_or(day);
    (0..)
        .map(|back| reset_day.saturating_sub(back).max(1))
        .find_map(|d| first.with_day(d))
        .unwrap_or(first)
}

/// The current period of a monthly budget: from the last reset (midnight of `reset_day` in
/// `tz`) at or before `now`, to the next one.
pub fn monthly_period(reset_day: u32, now: i64, tz: chrono_tz::Tz) -> (i64, i64) {
    let today = tz
        .timestamp_millis_opt(now)
        .single()
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let this_month = reset_in(today, reset_day);
    let (start, next) = if midnight(this_month, tz) <= now {
        let next_month = this_month
            .with_day(1)
            .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
            .unwrap_or(this_month);
        (this_month, reset_in(next_month, reset_day))
    } else {
        let last_month = this_month
            .with_day(1)
            .and_then(|d| d.checked_sub_months(chrono::Months::new(1)))
            .unwrap_or(this_month);
        (reset_in(last_month, reset_day), this_month)
    };
    (midnight(start, tz), midnight(next, tz))
}

/// Where a budget stands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Standing {
    /// Amount plus top-ups.
    pub limit_micros: i64,
    pub spent_micros: i64,
    pub remaining_micros: i64,
    /// `spent / limit` (1 when the limit is 0).
    pub used: f64,
    pub exhausted: bool,
    /// When the remaining money runs out at the average of the last [`PROJECTION_DAYS`].
    pub projected_run_out: Option<i64>,
}

/// `period_end` is the next reset of a monthly budget (a projection past it is none: the
/// limit renews first).
pub fn standing(
    limit_micros: i64,
    spent_micros: i64,
    recent_spend_micros: i64,
    now: i64,
    period_end: Option<i64>,
) -> Standing {
    let remaining_micros = limit_micros.saturating_sub(spent_micros);
    let used = if limit_micros > 0 {
        spent_micros as f64 / limit_micros as f64
    } else {
        1.0
    };
    let exhausted = remaining_micros <= 0;
    let projected_run_out = if exhausted {
        Some(now)
    } else if recent_spend_micros > 0 {
        // remaining / (recent / days) days from now, in ms, exactly in integers.
        let ms = i128::from(remaining_micros) * i128::from(PROJECTION_DAYS * DAY_MS)
            / i128::from(recent_spend_micros);
        let at = now.saturating_add(i64::try_from(ms).unwrap_or(i64::MAX));
        (period_end.is_none_or(|end| at < end)).then_some(at)
    } else {
        None
    };
    Standing {
        limit_micros,
        spent_micros,
        remaining_micros,
        used,
        exhausted,
        projected_run_out,
    }
}

/// What a look at a budget announces.
#[derive(Clone, Debug, PartialEq)]
pub enum Crossing {
    /// The highest threshold newly crossed.
    Warning(f64),
    Exhausted,
}

/// The thresholds (and [`EXHAUSTED`]) crossed now, and what to announce given those already
/// announced: each crossing once; a threshold no longer crossed (after a top-up) is re-armed.
pub fn crossings(thresholds: &[f64], used: f64, fired: &[f64]) -> (Vec<f64>, Option<Crossing>) {
    let mut now_crossed: Vec<f64> = thresholds
        .iter()
        .copied()
        .chain([EXHAUSTED])
        .filter(|t| used >= *t)
        .collect();
    now_crossed.sort_by(f64::total_cmp);
    now_crossed.dedup();
    let new: Vec<f64> = now_crossed
        .iter()
        .copied()
        .filter(|t| !fired.iter().any(|f| (f - t).abs() < 1e-9))
        .collect();
    let announce = if new.contains(&EXHAUSTED) {
        Some(Crossing::Exhausted)
    } else {
        new.last().map(|t| Crossing::Warning(*t))
    };
    (now_crossed, announce)
}

/// The kind's default for stopping the account when exhausted: on for prepaid balances.
pub fn default_stop(kind: BudgetKind) -> bool {
    kind == BudgetKind::Prepaid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_crossing_is_announced_once_and_rearmed_after_a_top_up() {
        let t = [0.8, 0.95];
        assert_eq!(crossings(&t, 0.5, &[]), (vec![], None));
        let (fired, a) = crossings(&t, 0.85, &[]);
        assert_eq!(
            (fired.clone(), a),
            (vec![0.8], Some(Crossing::Warning(0.8)))
        );
        assert_eq!(crossings(&t, 0.9, &fired), (vec![0.8], None), "once");
        let (fired, a) = crossings(&t, 1.2, &fired);
        assert_eq!(
            (fired.clone(), a),
            (vec![0.8, 0.95, 1.0], Some(Crossing::Exhausted))
        );
        assert_eq!(crossings(&t, 1.5, &fired).1, None);
        // A top-up brings it down to 50%: everything re-arms.
        let (fired, a) = crossings(&t, 0.5, &fired);
        assert_eq!((fired.clone(), a), (vec![], None));
        assert_eq!(crossings(&t, 0.96, &fired).1, Some(Crossing::Warning(0.95)));
    }

    #[test]
    fn standing_and_projection_in_integers() {
        let now = 1_000 * DAY_MS;
        let s = standing(10_000_000, 8_000_000, 7_000_000, now, None);
        assert_eq!(s.remaining_micros, 2_000_000);
        assert!((s.used - 0.8).abs() < 1e-12);
        assert_eq!(
            s.projected_run_out,
            Some(now + 2 * DAY_MS),
            "$1 a day, $2 left"
        );
        assert_eq!(
            standing(10_000_000, 8_000_000, 0, now, None).projected_run_out,
            None
        );
        let gone = standing(10_000_000, 10_000_001, 0, now, None);
        assert!(gone.exhausted && gone.remaining_micros < 0);
        assert_eq!(
            standing(10_000_000, 1, 7_000_000, now, Some(now + DAY_MS)).projected_run_out,
            None,
            "the monthly limit resets first"
        );
    }

    #[test]
    fn monthly_periods_start_at_the_reset_day_in_the_time_zone() {
        let tz = chrono_tz::Asia::Shanghai;
        let at = |y, m, d, h| {
            tz.with_ymd_and_hms(y, m, d, h, 0, 0)
                .unwrap()
                .timestamp_millis()
        };
        assert_eq!(
            monthly_period(15, at(2026, 3, 20, 12), tz),
            (at(2026, 3, 15, 0), at(2026, 4, 15, 0))
        );
        assert_eq!(
            monthly_period(15, at(2026, 3, 10, 12), tz),
            (at(2026, 2, 15, 0), at(2026, 3, 15, 0))
        );
        assert_eq!(
            monthly_period(1, at(2026, 1, 1, 0), tz),
            (at(2026, 1, 1, 0), at(2026, 2, 1, 0))
        );
        assert_eq!(hour_floor(HOUR_MS + 5), HOUR_MS);
    }
}
