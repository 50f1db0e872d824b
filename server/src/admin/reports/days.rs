//! Calendar days in the configured time zone: the days of a report, their bounds in epoch
//! milliseconds, and which day an instant falls on.

use app::error::AdminError;
use app::types::ReportRange;
use chrono::{Datelike, Duration, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// The longest range a report covers.
pub const MAX_DAYS: i64 = 366;
/// The range reports cover when none is given, ending today.
pub const DEFAULT_DAYS: i64 = 30;

pub fn format(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

fn parse(field: &str, text: &str) -> Result<NaiveDate, AdminError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| AdminError::validation(field, "must be a date as YYYY-MM-DD"))
}

/// The calendar day of `ms` in `tz`.
pub fn day_of(ms: i64, tz: Tz) -> NaiveDate {
    let utc = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    utc.with_timezone(&tz).date_naive()
}

/// When `day` starts in `tz`, in epoch ms (the earliest instant, where a DST change skips
/// midnight).
pub fn start_ms(day: NaiveDate, tz: Tz) -> i64 {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    match tz.from_local_datetime(&midnight).earliest() {
        Some(t) => t.timestamp_millis(),
        // Midnight does not exist that day: the day starts at the first instant after it.
        None => tz
            .from_local_datetime(&(midnight + Duration::hours(1)))
            .earliest()
            .map(|t| t.timestamp_millis())
            .unwrap_or_else(|| midnight.and_utc().timestamp_millis()),
    }
}

pub fn days_in_month(day: NaiveDate) -> u32 {
    let (y, m) = (day.year(), day.month());
    let next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    next.and_then(|n| n.pred_opt())
        .map(|last| last.day())
        .unwrap_or(30)
}

/// The current offset of `tz` from UTC, in seconds.
pub fn utc_offset_secs(tz: Tz) -> i32 {
    tz.offset_from_utc_datetime(&Utc::now().naive_utc())
        .fix()
        .local_minus_utc()
}

/// A given (non-blank) end of a range.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The days of a report, `from..=to`, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Days {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Days {
    /// Resolves a requested range against today (in `tz` at `now_ms`).
    pub fn resolve(range: &ReportRange, tz: Tz, now_ms: i64) -> Result<Days, AdminError> {
        let today = day_of(now_ms, tz);
        let to = match given(&range.to) {
            Some(text) => parse("to", text)?,
            None => today,
        };
        let from = match given(&range.from) {
            Some(text) => parse("from", text)?,
            None => to - Duration::days(DEFAULT_DAYS - 1),
        };
        if from > to {
            return Err(AdminError::validation("from", "must not be after `to`"));
        }
        if (to - from).num_days() >= MAX_DAYS {
            return Err(AdminError::validation(
                "from",
                format!("a report covers at most {MAX_DAYS} days"),
            ));
        }
        Ok(Days { from, to })
    }

    pub fn list(&self) -> Vec<NaiveDate> {
        self.from
            .iter_days()
            .take_while(|d| *d <= self.to)
            .collect()
    }

    pub fn labels(&self) -> Vec<String> {
        self.list().into_iter().map(format).collect()
    }

    /// `[start of from, start of the day after to)` in epoch ms.
    pub fn bounds_ms(&self, tz: Tz) -> (i64, i64) {
        let end = self.to.succ_opt().unwrap_or(self.to);
        (start_ms(self.from, tz), start_ms(end, tz))
    }

    /// The position of `day` in [`Days::list`], if inside the range.
    pub fn index(&self, day: NaiveDate) -> Option<usize> {
        (self.from..=self.to)
            .contains(&day)
            .then(|| (day - self.from).num_days() as usize)
    }

    /// The position of a stored `YYYY-MM-DD` day.
    pub fn index_of(&self, day: &str) -> Option<usize> {
        NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .ok()
            .and_then(|d| self.index(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(from: &str, to: &str) -> ReportRange {
        ReportRange {
            from: Some(from.into()),
            to: Some(to.into()),
        }
    }

    #[test]
    fn ranges_resolve_and_validate() {
        let now = Utc
            .with_ymd_and_hms(2026, 3, 10, 20, 0, 0)
            .unwrap()
            .timestamp_millis();
        let d = Days::resolve(&ReportRange::default(), chrono_tz::UTC, now).unwrap();
        assert_eq!(
            (format(d.from), format(d.to)),
            ("2026-02-09".into(), "2026-03-10".into())
        );
        assert_eq!(d.list().len(), 30);
        // 20:00 UTC is already the 11th in Shanghai.
        let d = Days::resolve(&ReportRange::default(), chrono_tz::Asia::Shanghai, now).unwrap();
        assert_eq!(format(d.to), "2026-03-11");
        let d = Days::resolve(&range("2026-03-01", "2026-03-03"), chrono_tz::UTC, now).unwrap();
        assert_eq!(d.labels(), vec!["2026-03-01", "2026-03-02", "2026-03-03"]);
        assert_eq!(d.index_of("2026-03-02"), Some(1));
        assert_eq!(d.index_of("2026-03-04"), None);
        let field = |r: ReportRange| match Days::resolve(&r, chrono_tz::UTC, now) {
            Err(AdminError::Validation { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(range("2026-03-05", "2026-03-01")), "from");
        assert_eq!(field(range("2024-01-01", "2026-03-01")), "from");
        assert_eq!(field(range("yesterday", "2026-03-01")), "from");
        assert_eq!(field(range("2026-03-01", "03/05/2026")), "to");
    }

    #[test]
    fn day_bounds_follow_the_time_zone() {
        let sh = chrono_tz::Asia::Shanghai;
        let d = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let start = start_ms(d, sh);
        assert_eq!(
            start,
            Utc.with_ymd_and_hms(2026, 2, 28, 16, 0, 0)
                .unwrap()
                .timestamp_millis()
        );
        assert_eq!(day_of(start, sh), d);
        assert_eq!(day_of(start - 1, sh), d.pred_opt().unwrap());
        assert_eq!(days_in_month(d), 31);
        assert_eq!(
            days_in_month(NaiveDate::from_ymd_opt(2028, 2, 10).unwrap()),
            29
        );
        assert_eq!(
            days_in_month(NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()),
            31
        );
        assert_eq!(utc_offset_secs(sh), 8 * 3600);
    }
}
