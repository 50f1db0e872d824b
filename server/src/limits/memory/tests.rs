use super::super::{Admission, Binding};
use super::*;

pub(crate) fn limits(id: &str) -> KeyLimits {
    KeyLimits {
        id: id.into(),
        name: id.into(),
        is_active: true,
        quota_limit: 0,
        expires_at: None,
        activation_days: None,
        activated_at: None,
        concurrency_limit: 0,
        queue: None,
        rate_window: None,
        rate_requests: 0,
        rate_cost: 0,
        daily_cost_limit: 0,
        allowed_models: vec![],
        permissions: vec![],
        claude: Binding::Pool,
        openai: Binding::Pool,
        gemini: Binding::Pool,
        allow_pool_fallback: false,
        strict_max_tokens: false,
        allow_server_tools: true,
        preset_id: None,
        gate: Default::default(),
    }
}

#[tokio::test]
async fn reserve_min_of_estimate_and_remaining_then_settle() {
    let state = Arc::new(MemoryLimits::default());
    state.seed("k", 18_500_000, 1, 0);
    let mut k = limits("k");
    k.quota_limit = 20_000_000;
    let k = Arc::new(k);
    let adm = Admission {
        state: state.clone(),
    };
    // $1.50 left; a $1.60 worst case is still served, reserving what remains.
    let a = adm.admit(&k, 1_600_000, 1, 0).await.unwrap();
    assert_eq!(a.reserved(), 1_500_000);
    // Nothing remains for a concurrent request.
    assert!(matches!(
        adm.admit(&k, 10, 1, 0).await.err(),
        Some(Refusal::QuotaExhausted { .. })
    ));
    let s = a.settle(200_000);
    assert_eq!((s.spent_before, s.spent_after), (18_500_000, 18_700_000));
    assert_eq!(state.usage("k").reserved, 0);
    assert_eq!(state.totals(), (0, 0));
}

#[tokio::test]
async fn drop_releases_everything() {
    let state = Arc::new(MemoryLimits::default());
    let mut k = limits("k");
    k.concurrency_limit = 1;
    k.quota_limit = 5_000_000;
    let k = Arc::new(k);
    let adm = Admission {
        state: state.clone(),
    };
    let a = adm.admit(&k, 1_000_000, 1, 0).await.unwrap();
    assert!(matches!(
        adm.admit(&k, 1, 1, 0).await.err(),
        Some(Refusal::Concurrency { .. })
    ));
    drop(a);
    assert_eq!(state.totals(), (0, 0));
    assert_eq!(state.usage("k").spent, 0);
}

#[tokio::test]
async fn daily_limit_rolls_over() {
    let state = Arc::new(MemoryLimits::default());
    let mut k = limits("k");
    k.daily_cost_limit = 1_000;
    let k = Arc::new(k);
    let adm = Admission {
        state: state.clone(),
    };
    adm.admit(&k, 500, 7, 99).await.unwrap().settle(1_000);
    match adm.admit(&k, 1, 7, 99).await.err() {
        Some(Refusal::DailyLimit {
            resets_at, spent, ..
        }) => assert_eq!((resets_at, spent), (99, 1_000)),
        other => panic!("{other:?}"),
    }
    assert!(
        adm.admit(&k, 1, 8, 199).await.is_ok(),
        "a new day starts fresh"
    );
}

#[tokio::test]
async fn rate_window_refusal_is_not_counted_by_concurrency_refusal() {
    let state = Arc::new(MemoryLimits::default());
    let mut k = limits("k");
    k.rate_window = Some(Duration::from_secs(60));
    k.rate_requests = 2;
    k.concurrency_limit = 1;
    let k = Arc::new(k);
    let adm = Admission {
        state: state.clone(),
    };
    let held = adm.admit(&k, 0, 1, 0).await.unwrap();
    // Refused by concurrency: must not use up the window.
    assert!(matches!(
        adm.admit(&k, 0, 1, 0).await.err(),
        Some(Refusal::Concurrency { .. })
    ));
    drop(held);
    adm.admit(&k, 0, 1, 0).await.unwrap().settle(0);
    match adm.admit(&k, 0, 1, 0).await.err() {
        Some(Refusal::RateLimited { retry_after, .. }) => {
            assert!(retry_after <= Duration::from_secs(60))
        }
        other => panic!("{other:?}"),
    }
}

/// The quota's overshoot stays within one request: while a request holds the remainder with
/// less than its estimate, a second such request waits for it (429) instead of reserving the
/// slivers that other settlements free, each of which could end over the quota.
#[tokio::test]
async fn one_short_reservation_at_a_time() {
    let state = Arc::new(MemoryLimits::default());
    state.seed("k", 0, 1, 0);
    let mut k = limits("k");
    k.quota_limit = 1_000;
    let k = Arc::new(k);
    let adm = Admission {
        state: state.clone(),
    };
    let full = adm.admit(&k, 900, 1, 0).await.unwrap();
    let short = adm.admit(&k, 500, 1, 0).await.unwrap();
    assert_eq!((full.reserved(), short.reserved()), (900, 100));
    // The full one frees 800; a request that fits whole is served, one that does not waits.
    full.settle(100);
    assert_eq!(
        adm.admit(&k, 900, 1, 0).await.err(),
        Some(Refusal::RemainderHeld { daily: false })
    );
    let fits = adm.admit(&k, 300, 1, 0).await.unwrap();
    assert_eq!(fits.reserved(), 300);
    // The short one costs more than it reserved: over by at most that one request.
    short.settle(500);
    fits.settle(300);
    assert_eq!(state.usage("k").spent, 900);
    // Its remainder is free again for the next short request.
    let next = adm.admit(&k, 900, 1, 0).await.unwrap();
    assert_eq!(next.reserved(), 100);
    next.settle(600);
    assert_eq!(state.usage("k").spent, 1_500);
    assert_eq!(
        adm.admit(&k, 1, 1, 0)
            .await
            .err()
            .map(|r| matches!(r, Refusal::QuotaExhausted { .. })),
        Some(true)
    );
    assert_eq!(state.totals(), (0, 0));
}

#[tokio::test]
async fn one_short_reservation_under_the_daily_limit() {
    let state = Arc::new(MemoryLimits::default());
    state.seed("k", 0, 1, 0);
    let mut k = limits("k");
    k.daily_cost_limit = 1_000;
    let k = Arc::new(k);
    let adm = Admission {
        state: state.clone(),
    };
    let full = adm.admit(&k, 600, 1, 0).await.unwrap();
    let short = adm.admit(&k, 1_200, 1, 0).await.unwrap();
    assert_eq!(short.reserved(), 400);
    full.settle(100);
    assert_eq!(
        adm.admit(&k, 900, 1, 0).await.err(),
        Some(Refusal::RemainderHeld { daily: true })
    );
    // Dropped unsettled (the client left): the remainder is free for the next one.
    drop(short);
    let next = adm.admit(&k, 1_200, 1, 0).await.unwrap();
    assert_eq!(next.reserved(), 900);
}
