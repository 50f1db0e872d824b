use super::*;
use chrono::Timelike;

#[test]
fn days_in_a_time_zone() {
    // 2026-11-28 23:30 UTC is already the 29th in Shanghai.
    let t = chrono::Utc
        .with_ymd_and_hms(2026, 11, 28, 23, 30, 0)
        .unwrap()
        .timestamp_millis();
    let (d_utc, next_utc) = day_and_next_midnight(t, chrono_tz::UTC);
    let (d_sh, next_sh) = day_and_next_midnight(t, chrono_tz::Asia::Shanghai);
    assert_eq!(d_sh, d_utc + 1);
    assert_eq!(next_utc - t, 30 * 60_000);
    let sh_midnight = chrono::Utc
        .with_ymd_and_hms(2026, 11, 29, 16, 0, 0)
        .unwrap()
        .timestamp_millis();
    assert_eq!(next_sh, sh_midnight);
    // Asked again (remembered), and for the other zone and the next day in between.
    assert_eq!(
        day_and_next_midnight(t, chrono_tz::Asia::Shanghai),
        (d_sh, next_sh)
    );
    assert_eq!(day_and_next_midnight(t, chrono_tz::UTC), (d_utc, next_utc));
    let tomorrow = day_and_next_midnight(t + 3_600_000, chrono_tz::UTC);
    assert_eq!(tomorrow, (d_utc + 1, next_utc + 86_400_000));
    assert_eq!(day_and_next_midnight(t, chrono_tz::UTC), (d_utc, next_utc));
}

/// The day as a calendar reads it: the local date of `now_ms`, and the earliest next local
/// midnight (none when the clocks skip it).
fn calendar_day(now_ms: i64, tz: chrono_tz::Tz) -> (i32, Option<i64>) {
    let local = chrono::DateTime::from_timestamp_millis(now_ms)
        .unwrap()
        .with_timezone(&tz);
    let next = local
        .date_naive()
        .succ_opt()
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let next = tz.from_local_datetime(&next).earliest();
    assert!(next.is_none_or(|n| n.time().hour() == 0));
    (
        local.date_naive().num_days_from_ce(),
        next.map(|n| n.timestamp_millis()),
    )
}

#[test]
fn the_remembered_day_is_the_calendar_day_through_clock_changes() {
    // Every 7 minutes over each zone's year, in order as requests ask: the remembered day is
    // the calendar's, and its next midnight is always ahead. Santiago changes its clocks at
    // midnight (an hour of the day after repeats or goes missing); New York at 2 am.
    for tz in [
        chrono_tz::America::Santiago,
        chrono_tz::America::New_York,
        chrono_tz::Asia::Shanghai,
    ] {
        let start = chrono::Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .unwrap()
            .timestamp_millis();
        let mut t = start;
        let mut checked = 0;
        while t < start + 366 * 86_400_000 {
            let (day, next) = day_and_next_midnight(t, tz);
            assert!(next > t, "{tz} at {t}: next midnight {next} is not ahead");
            let (cal_day, cal_next) = calendar_day(t, tz);
            // An hour set back across midnight reads as the day before on a calendar, whose
            // midnight has passed: the relay keeps counting the new day.
            match cal_next {
                Some(cal_next) if cal_next > t => {
                    assert_eq!((day, next), (cal_day, cal_next), "{tz} at {t}");
                    checked += 1;
                }
                Some(_) => assert_eq!(day, cal_day + 1, "{tz} at {t}"),
                None => assert_eq!(day, cal_day, "{tz} at {t}"),
            }
            t += 7 * 60_000;
        }
        assert!(checked > 70_000, "{tz}: only {checked} instants compared");
    }
}
