//! A time as an operator writes it: an instant (`2026-01-18T12:00:00Z`) or a date
//! (`2026-01-18`, the end of that day in the configured time zone). Read from and written back to
//! JSON as written, so a key created with `expiresAt: "2026-01-18"` shows `"2026-01-18"`.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    At(DateTime<Utc>),
    Day(NaiveDate),
}

impl When {
    /// Reads `YYYY-MM-DD` as a date, anything else as an RFC 3339 instant.
    pub fn parse(text: &str) -> Result<When, String> {
        let text = text.trim();
        if text.len() == 10 {
            if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                return Ok(When::Day(day));
            }
        }
        DateTime::parse_from_rfc3339(text)
            .map(|t| When::At(t.with_timezone(&Utc)))
            .map_err(|e| {
                format!("{e}: expected a date (2026-01-18) or a time (2026-01-18T12:00:00Z)")
            })
    }

    /// The instant this stands for: a date is the last millisecond of that day in `tz`, so a key
    /// valid "until 2026-01-18" works all that day.
    pub fn instant<Tz: chrono::TimeZone>(self, tz: &Tz) -> DateTime<Utc> {
        match self {
            When::At(at) => at,
            When::Day(day) => {
                let next = day.succ_opt().unwrap_or(day);
                let midnight = next.and_hms_opt(0, 0, 0).unwrap_or_default();
                let start = midnight
                    .and_local_timezone(tz.clone())
                    .earliest()
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_else(|| midnight.and_utc());
                start - chrono::Duration::milliseconds(1)
            }
        }
    }

    /// The date, when one was written.
    pub fn day(self) -> Option<NaiveDate> {
        match self {
            When::Day(d) => Some(d),
            When::At(_) => None,
        }
    }

    /// A stored instant and, when the operator wrote a date, that date (`YYYY-MM-DD`).
    pub fn from_stored(at_ms: i64, day: Option<&str>) -> Option<When> {
        if let Some(day) = day.and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()) {
            return Some(When::Day(day));
        }
        DateTime::from_timestamp_millis(at_ms).map(When::At)
    }
}

impl From<DateTime<Utc>> for When {
    fn from(at: DateTime<Utc>) -> Self {
        When::At(at)
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            When::At(at) => write!(
                f,
                "{}",
                at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            ),
            When::Day(day) => write!(f, "{}", day.format("%Y-%m-%d")),
        }
    }
}

impl Serialize for When {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            When::At(at) => at.serialize(s),
            When::Day(_) => s.serialize_str(&self.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for When {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        When::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_round_trip_as_written() {
        let day: When = serde_json::from_str(r#""2026-01-18""#).unwrap();
        assert_eq!(
            day,
            When::Day(NaiveDate::from_ymd_opt(2026, 1, 18).unwrap())
        );
        assert_eq!(serde_json::to_string(&day).unwrap(), r#""2026-01-18""#);
        let at: When = serde_json::from_str(r#""2026-01-18T12:00:00Z""#).unwrap();
        assert_eq!(
            serde_json::to_string(&at).unwrap(),
            r#""2026-01-18T12:00:00Z""#
        );
        assert!(serde_json::from_str::<When>(r#""next week""#).is_err());
        assert!(serde_json::from_str::<When>(r#""2026-02-30""#).is_err());
    }

    #[test]
    fn a_date_ends_at_the_end_of_that_day_in_the_time_zone() {
        let day = When::Day(NaiveDate::from_ymd_opt(2026, 1, 18).unwrap());
        let east8 = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
        let shanghai = day.instant(&east8);
        assert_eq!(shanghai.to_rfc3339(), "2026-01-18T15:59:59.999+00:00");
        assert_eq!(
            day.instant(&Utc).to_rfc3339(),
            "2026-01-18T23:59:59.999+00:00"
        );
        assert_eq!(
            When::from_stored(shanghai.timestamp_millis(), Some("2026-01-18")),
            Some(day)
        );
        assert_eq!(
            When::from_stored(shanghai.timestamp_millis(), None),
            Some(When::At(shanghai))
        );
    }
}
