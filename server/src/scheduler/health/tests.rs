//! The health state machine, step by step.

use super::*;

fn cfg() -> HealthConfig {
    HealthConfig {
        overload_cooldown_ms: 600_000,
        rate_limit_default_ms: 60_000,
        max_cooldown_ms: 3_600_000,
        error_threshold: 3,
        error_window_ms: 60_000,
        error_cooldown_ms: 60_000,
        auth_failures_for_error: 3,
        auth_failure_window_ms: 600_000,
    }
}

fn failed() -> Outcome {
    Outcome::Failed {
        status: Some(500),
        message: "boom".into(),
    }
}

#[test]
fn single_5xx_does_not_cool_down_but_three_do() {
    let mut h = Health::default();
    assert!(h.on_outcome(failed(), 0, &cfg()).is_none());
    assert_eq!(h.availability(1), Availability::Available);
    assert!(h.on_outcome(failed(), 1_000, &cfg()).is_none());
    let t = h.on_outcome(failed(), 2_000, &cfg()).unwrap();
    assert_eq!(t.to, AccountStatus::Overloaded);
    assert_eq!(
        h.availability(3_000),
        Availability::CoolingDown { until: 62_000 }
    );
    // Failures spread beyond the window never trip it.
    let mut h = Health::default();
    for i in 0..10 {
        assert!(h.on_outcome(failed(), i * 61_000, &cfg()).is_none());
    }
}

#[test]
fn overload_probe_and_doubling() {
    let mut h = Health::default();
    let t = h
        .on_outcome(
            Outcome::Overloaded {
                message: "529".into(),
            },
            0,
            &cfg(),
        )
        .unwrap();
    assert_eq!(
        (t.from, t.to, t.cooldown_until),
        (
            AccountStatus::Active,
            AccountStatus::Overloaded,
            Some(600_000)
        )
    );
    // Repeats while overloaded are not new transitions.
    assert!(h
        .on_outcome(
            Outcome::Overloaded {
                message: "529".into()
            },
            1,
            &cfg()
        )
        .is_none());
    assert_eq!(h.availability(700_000), Availability::HalfOpen);
    assert!(h.claim_probe());
    assert!(!h.claim_probe(), "one probe at a time");
    // Probe fails: cooldown doubles.
    h.on_outcome(
        Outcome::Overloaded {
            message: "529".into(),
        },
        700_000,
        &cfg(),
    );
    assert_eq!(h.cooldown_until, Some(700_000 + 1_200_000));
    assert_eq!(h.availability(2_000_000), Availability::HalfOpen);
    assert!(h.claim_probe());
    let t = h.on_outcome(Outcome::Success, 2_000_000, &cfg()).unwrap();
    assert_eq!(t.to, AccountStatus::Active);
    assert_eq!(h.availability(2_000_001), Availability::Available);
}

fn overloaded() -> Outcome {
    Outcome::Overloaded {
        message: "529".into(),
    }
}

#[test]
fn overload_cooldowns_start_short_double_with_repeats_and_reset_on_success() {
    let cfg = HealthConfig {
        overload_cooldown_ms: 30_000,
        max_cooldown_ms: 100_000,
        ..cfg()
    };
    let mut h = Health::default();
    h.on_outcome(overloaded(), 0, &cfg);
    assert_eq!(h.cooldown_until, Some(30_000));
    // Answers of requests already in flight do not add a step.
    h.on_outcome(overloaded(), 10, &cfg);
    assert_eq!(h.cooldown_until, Some(30_000));
    // A probe sent during the cooldown (nothing else could serve) keeps it as it is.
    assert!(h.claim_probe());
    h.on_outcome(overloaded(), 20, &cfg);
    assert_eq!(h.cooldown_until, Some(30_000));
    // The next 529 after the cooldown ended (the probe's) doubles it, up to the cap.
    assert!(h.claim_probe());
    h.on_outcome(overloaded(), 30_000, &cfg);
    assert_eq!(h.cooldown_until, Some(90_000));
    assert!(h.claim_probe());
    h.on_outcome(overloaded(), 90_000, &cfg);
    assert_eq!(h.cooldown_until, Some(190_000), "capped at the maximum");
    assert!(h.claim_probe());
    h.on_outcome(Outcome::Success, 190_000, &cfg);
    assert_eq!(h.availability(190_001), Availability::Available);
    h.on_outcome(overloaded(), 200_000, &cfg);
    assert_eq!(h.cooldown_until, Some(230_000), "a success starts over");
}

#[test]
fn rate_limit_uses_announced_reset_capped() {
    let mut h = Health::default();
    h.on_outcome(
        Outcome::RateLimited {
            reset_at: Some(30_000),
            message: "429".into(),
        },
        0,
        &cfg(),
    );
    assert_eq!(h.cooldown_until, Some(30_000));
    let mut h = Health::default();
    h.on_outcome(
        Outcome::RateLimited {
            reset_at: Some(99_999_999),
            message: "429".into(),
        },
        0,
        &cfg(),
    );
    assert_eq!(h.cooldown_until, Some(3_600_000));
    let mut h = Health::default();
    h.on_outcome(
        Outcome::RateLimited {
            reset_at: None,
            message: "429".into(),
        },
        0,
        &cfg(),
    );
    assert_eq!(h.cooldown_until, Some(60_000));
}

fn auth() -> Outcome {
    Outcome::AuthFailed {
        status: 401,
        message: "invalid x-api-key".into(),
    }
}

#[test]
fn auth_failures_need_three_in_a_row_then_a_reset() {
    let mut h = Health::default();
    // Two, a success, two more: never three in a row.
    assert!(h.on_outcome(auth(), 0, &cfg()).is_none());
    assert!(h.on_outcome(auth(), 1, &cfg()).is_none());
    assert!(h.on_outcome(Outcome::Success, 2, &cfg()).is_none());
    assert!(h.on_outcome(auth(), 3, &cfg()).is_none());
    assert!(h.on_outcome(auth(), 4, &cfg()).is_none());
    assert_eq!(h.availability(5), Availability::Available);
    // Failures spread beyond the window never add up.
    let mut spread = Health::default();
    for i in 0..10 {
        assert!(spread.on_outcome(auth(), i * 600_000, &cfg()).is_none());
    }
    // Other failures in between neither count nor clear the run.
    let other = Outcome::Failed {
        status: Some(500),
        message: "x".into(),
    };
    assert!(h.on_outcome(other, 5, &cfg()).is_none());
    let t = h.on_outcome(auth(), 6, &cfg()).unwrap();
    assert_eq!(t.to, AccountStatus::Error);
    assert!(t.message.starts_with("3 authentication failures in a row"));
    assert_eq!(h.availability(i64::MAX), Availability::Broken);
    assert_eq!(h.reset(5).unwrap().to, AccountStatus::Active);
}
