//! A key's lifecycle, decided in one place: disabled by an administrator, expired (a fixed
//! `expires_at`, or `activation_days` counted from the first request once there was one),
//! exhausted (spent its quota), else active. A key with validity days that has not been used
//! yet is not activated: it has no expiry until its first request.
//!
//! The same rule twice, kept side by side so they cannot drift: [`expiry`]/[`status`] for a row
//! in memory, and [`EXPIRY_SQL`]/[`status_sql`] for every query that filters or counts keys by
//! status (the key list, the overview's counts, the expired-key cleanup).

use app::types::KeyStatus;

const DAY_MS: i64 = 86_400_000;

/// The columns a key's lifecycle depends on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lifecycle {
    pub is_active: bool,
    pub expires_at: Option<i64>,
    pub activation_days: Option<i64>,
    pub activated_at: Option<i64>,
    pub quota_limit_micros: i64,
    pub spent_micros: i64,
}

/// When a key's validity ends: its fixed expiry, else activation + validity days once it has
/// been activated; `None` when it never expires (or has not been activated yet).
pub fn expiry(
    expires_at: Option<i64>,
    activation_days: Option<i64>,
    activated_at: Option<i64>,
) -> Option<i64> {
    expires_at.or_else(|| Some(activated_at? + activation_days? * DAY_MS))
}

/// The lifecycle state at `now`. Disabled wins over expired, expired over exhausted.
pub fn status(key: &Lifecycle, now: i64) -> KeyStatus {
    if !key.is_active {
        KeyStatus::Disabled
    } else if expiry(key.expires_at, key.activation_days, key.activated_at)
        .is_some_and(|at| at <= now)
    {
        KeyStatus::Expired
    } else if key.quota_limit_micros > 0 && key.spent_micros >= key.quota_limit_micros {
        KeyStatus::Exhausted
    } else {
        KeyStatus::Active
    }
}

/// What a renewal changes: quota added (micro-USD; an unlimited quota stays unlimited) and
/// days added to the validity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Renewal {
    pub quota_add_micros: i64,
    pub days_add: i64,
}

/// The validity columns after a renewal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Renewed {
    pub quota_limit_micros: i64,
    pub expires_at: Option<i64>,
    pub activation_days: Option<i64>,
}

/// A key's quota and validity after `renewal` at `now`. Days extend the current expiry, or
/// start from `now` when the key has already expired; a key not activated yet gets them added
/// to its validity days; a key that never expires stays so. Quota is added to a limited quota
/// (so an exhausted key has headroom again); an unlimited one stays unlimited.
pub fn renew(key: &Lifecycle, renewal: Renewal, now: i64) -> Renewed {
    let quota_limit_micros = if key.quota_limit_micros > 0 {
        key.quota_limit_micros
            .saturating_add(renewal.quota_add_micros.max(0))
    } else {
        0
    };
    let days = renewal.days_add.max(0);
    let current = expiry(key.expires_at, key.activation_days, key.activated_at);
    let (expires_at, activation_days) = match (current, key.activation_days) {
        _ if days == 0 => (key.expires_at, key.activation_days),
        (Some(at), _) => (Some(at.max(now).saturating_add(days * DAY_MS)), None),
        (None, Some(validity)) if key.expires_at.is_none() => (None, Some(validity + days)),
        (None, _) => (None, key.activation_days),
    };
    Renewed {
        quota_limit_micros,
        expires_at,
        activation_days,
    }
}

/// The expiry to store after a renewal moved it from `before` to `after` by `days`, for a key
/// whose expiry was written as a date (`expires_on`: the end of that day in `tz`). When the
/// days extended that expiry (rather than starting from now, the key having expired), the new
/// expiry is the date `days` later, kept as a date: a key sold "until 2026-01-18" renewed by 30
/// days is valid until the end of 2026-02-17 and shows so. Otherwise the written date no longer
/// holds, and the expiry reads as the instant.
pub fn renewed_expiry(
    expires_on: Option<&str>,
    before: Option<i64>,
    after: Option<i64>,
    days: i64,
    tz: chrono_tz::Tz,
) -> (Option<i64>, Option<String>) {
    if after == before {
        return (after, expires_on.map(str::to_owned));
    }
    let day = expires_on.and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let extended = before.map(|b| b.saturating_add(days.saturating_mul(DAY_MS))) == after;
    match day
        .filter(|_| extended && days > 0)
        .and_then(|d| d.checked_add_days(chrono::Days::new(days.unsigned_abs())))
    {
        Some(next) => (
            Some(app::types::When::Day(next).instant(&tz).timestamp_millis()),
            Some(next.format("%Y-%m-%d").to_string()),
        ),
        None => (after, None),
    }
}

/// [`expiry`] in SQL (NULL when the key never expires), over the `api_keys` columns.
pub const EXPIRY_SQL: &str = "COALESCE(expires_at, activated_at + activation_days * 86400000)";

/// [`status`] in SQL: the condition that a key of `api_keys` is in `status` at the time bound to
/// the parameter `now_param` (e.g. `$1`).
pub fn status_sql(status: KeyStatus, now_param: &str) -> String {
    // "Never" as the largest BIGINT, so comparisons are never NULL.
    let expiry_or_never = format!("COALESCE({EXPIRY_SQL}, 9223372036854775807)");
    let not_expired = format!("{expiry_or_never} > {now_param}");
    let exhausted = "quota_limit_micros > 0 AND spent_micros >= quota_limit_micros";
    match status {
        KeyStatus::Disabled => "(NOT is_active)".to_owned(),
        KeyStatus::Expired => format!("(is_active AND {expiry_or_never} <= {now_param})"),
        KeyStatus::Exhausted => format!("(is_active AND {not_expired} AND {exhausted})"),
        KeyStatus::Active => format!("(is_active AND {not_expired} AND NOT ({exhausted}))"),
    }
}

/// Whether `status` needs the time parameter of [`status_sql`].
pub fn status_needs_now(status: KeyStatus) -> bool {
    status != KeyStatus::Disabled
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 100 * DAY_MS;

    fn key() -> Lifecycle {
        Lifecycle {
            is_active: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_written_date_moves_by_the_days_added_or_gives_way_to_the_instant() {
        let tz = chrono_tz::Asia::Shanghai;
        let end = |d: &str| {
            app::types::When::parse(d)
                .unwrap()
                .instant(&tz)
                .timestamp_millis()
        };
        let before = end("2030-01-10");
        assert_eq!(
            renewed_expiry(
                Some("2030-01-10"),
                Some(before),
                Some(before + 30 * DAY_MS),
                30,
                tz
            ),
            (Some(end("2030-02-09")), Some("2030-02-09".into()))
        );
        assert_eq!(
            renewed_expiry(Some("2030-01-10"), Some(before), Some(before), 0, tz),
            (Some(before), Some("2030-01-10".into())),
            "nothing moved"
        );
        assert_eq!(
            renewed_expiry(Some("2030-01-10"), Some(before), Some(NOW + DAY_MS), 1, tz),
            (Some(NOW + DAY_MS), None),
            "renewed from now: an instant"
        );
        assert_eq!(
            renewed_expiry(None, Some(5), Some(5 + DAY_MS), 1, tz),
            (Some(5 + DAY_MS), None)
        );
    }

    #[test]
    fn expiry_is_fixed_or_counted_from_activation() {
        assert_eq!(expiry(None, None, None), None);
        assert_eq!(expiry(Some(5), Some(7), Some(1)), Some(5), "fixed wins");
        assert_eq!(expiry(None, Some(7), None), None, "not activated yet");
        assert_eq!(expiry(None, Some(7), Some(1_000)), Some(1_000 + 7 * DAY_MS));
        assert_eq!(expiry(None, None, Some(1_000)), None);
    }

    #[test]
    fn status_covers_every_state_in_order() {
        assert_eq!(status(&key(), NOW), KeyStatus::Active);
        let disabled = Lifecycle {
            is_active: false,
            expires_at: Some(1),
            ..key()
        };
        assert_eq!(status(&disabled, NOW), KeyStatus::Disabled);
        let fixed = Lifecycle {
            expires_at: Some(NOW),
            ..key()
        };
        assert_eq!(status(&fixed, NOW), KeyStatus::Expired, "at the instant");
        assert_eq!(status(&fixed, NOW - 1), KeyStatus::Active);
        let trial = Lifecycle {
            activation_days: Some(7),
            activated_at: Some(NOW - 8 * DAY_MS),
            ..key()
        };
        assert_eq!(status(&trial, NOW), KeyStatus::Expired, "activation-based");
        let unused_trial = Lifecycle {
            activated_at: None,
            ..trial
        };
        assert_eq!(status(&unused_trial, NOW), KeyStatus::Active);
        let spent = Lifecycle {
            quota_limit_micros: 10,
            spent_micros: 10,
            ..key()
        };
        assert_eq!(status(&spent, NOW), KeyStatus::Exhausted);
        let spent_and_expired = Lifecycle {
            expires_at: Some(1),
            ..spent
        };
        assert_eq!(status(&spent_and_expired, NOW), KeyStatus::Expired);
        let unlimited = Lifecycle {
            spent_micros: 10,
            ..key()
        };
        assert_eq!(status(&unlimited, NOW), KeyStatus::Active);
    }

    #[test]
    fn renewal_extends_from_expiry_or_now_and_adds_quota() {
        let r = |quota, days| Renewal {
            quota_add_micros: quota,
            days_add: days,
        };
        let live = Lifecycle {
            expires_at: Some(NOW + DAY_MS),
            quota_limit_micros: 20,
            spent_micros: 20,
            ..key()
        };
        assert_eq!(status(&live, NOW), KeyStatus::Exhausted);
        let after = renew(&live, r(10, 7), NOW);
        assert_eq!(after.quota_limit_micros, 30);
        assert_eq!(
            after.expires_at,
            Some(NOW + 8 * DAY_MS),
            "from the current expiry"
        );
        let expired = Lifecycle {
            expires_at: Some(NOW - 3 * DAY_MS),
            ..live
        };
        let after = renew(&expired, r(0, 7), NOW);
        assert_eq!(after.expires_at, Some(NOW + 7 * DAY_MS), "from now");
        let renewed = Lifecycle {
            expires_at: after.expires_at,
            quota_limit_micros: 40,
            ..expired
        };
        assert_eq!(status(&renewed, NOW), KeyStatus::Active);
        let activated = Lifecycle {
            activation_days: Some(7),
            activated_at: Some(NOW - DAY_MS),
            ..key()
        };
        let after = renew(&activated, r(0, 7), NOW);
        assert_eq!(
            (after.expires_at, after.activation_days),
            (Some(NOW + 13 * DAY_MS), None)
        );
        let unused = Lifecycle {
            activation_days: Some(7),
            ..key()
        };
        assert_eq!(renew(&unused, r(0, 3), NOW).activation_days, Some(10));
        assert_eq!(
            renew(&key(), r(5, 3), NOW).expires_at,
            None,
            "never expires"
        );
        assert_eq!(
            renew(&key(), r(5, 3), NOW).quota_limit_micros,
            0,
            "unlimited"
        );
    }

    #[test]
    fn status_sql_names_the_time_parameter_only_when_needed() {
        for s in [
            KeyStatus::Active,
            KeyStatus::Expired,
            KeyStatus::Exhausted,
            KeyStatus::Disabled,
        ] {
            assert_eq!(
                status_sql(s, "$9").contains("$9"),
                status_needs_now(s),
                "{s:?}"
            );
        }
    }
}
