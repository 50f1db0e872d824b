use super::*;

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

/// The first instant whose local date is `day` (days from the common era), found by bisecting
/// instants, without asking the zone for a local time.
fn first_instant_of(day: i32, tz: chrono_tz::Tz) -> i64 {
    let date_at = |t: i64| {
        chrono::DateTime::from_timestamp_millis(t)
            .unwrap()
            .with_timezone(&tz)
            .date_naive()
            .num_days_from_ce()
    };
    let guess = chrono::NaiveDate::from_num_days_from_ce_opt(day)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis();
    let (mut lo, mut hi) = (guess - 2 * 86_400_000, guess + 2 * 86_400_000);
    assert!(date_at(lo) < day && date_at(hi) >= day);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if date_at(mid) >= day {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

#[test]
fn a_day_runs_from_its_first_instant_to_the_next_days_through_clock_changes() {
    // Every 7 minutes over each zone's year, in order as requests ask. Santiago changes its
    // clocks at midnight (in September midnight is skipped: that day starts at 01:00 and lasts
    // 23 hours); New York at 2 am; Shanghai never.
    for tz in [
        chrono_tz::America::Santiago,
        chrono_tz::America::New_York,
        chrono_tz::Asia::Shanghai,
    ] {
        let start = chrono::Utc
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .unwrap()
            .timestamp_millis();
        let mut bounds: Option<(i32, i64, i64)> = None;
        let mut short_days = 0;
        let mut t = start;
        while t < start + 366 * 86_400_000 {
            let (day, next) = day_and_next_midnight(t, tz);
            let local = chrono::DateTime::from_timestamp_millis(t)
                .unwrap()
                .with_timezone(&tz);
            assert_eq!(
                day,
                local.date_naive().num_days_from_ce(),
                "{tz} at {local}"
            );
            if bounds.is_none_or(|(d, _, _)| d != day) {
                let first = first_instant_of(day, tz);
                let then = first_instant_of(day + 1, tz);
                short_days += usize::from(then - first < 86_400_000);
                bounds = Some((day, first, then));
            }
            let (_, first, then) = bounds.unwrap();
            assert_eq!(next, then, "{tz} at {local}: next day's start");
            assert_eq!(day_start(t, tz), first, "{tz} at {local}: day's start");
            t += 7 * 60_000;
        }
        // The zones with clock changes had their short day in the year.
        assert_eq!(
            short_days,
            usize::from(tz != chrono_tz::Asia::Shanghai),
            "{tz}"
        );
    }
}
