//! Health shared through notes, in the database's order, converges on every instance.

use super::*;
use crate::scheduler::health::HealthConfig;

fn cfg() -> HealthConfig {
    HealthConfig {
        overload_cooldown_ms: 30_000,
        rate_limit_default_ms: 60_000,
        max_cooldown_ms: 600_000,
        error_threshold: 3,
        error_window_ms: 60_000,
        error_cooldown_ms: 60_000,
        auth_failures_for_error: 3,
        auth_failure_window_ms: 600_000,
    }
}

/// An instance whose database is never reached (these tests only pass notes by hand).
fn instance() -> (Arc<ClusterLive>, Outbox) {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .connect_lazy("postgres://nobody@127.0.0.1:1/none")
        .unwrap();
    let memory = MemoryLive::new(cfg(), StickyMap::new(3_600_000, 0));
    ClusterLive::new(memory, Store::Postgres(pool), 15_000)
}

fn overloaded() -> Outcome {
    Outcome::Overloaded {
        message: "529".into(),
    }
}

#[tokio::test]
async fn a_cooldown_seen_by_one_instance_applies_on_another_and_so_does_the_recovery() {
    let (one, mut out1) = instance();
    let (two, mut out2) = instance();
    one.report("acc", overloaded(), 1_000);
    let note = out1.notes.try_recv().unwrap();
    assert_eq!(note.status, AccountStatus::Overloaded);
    assert_eq!(note.cooldown_until, Some(31_000));
    // Through the channel's text and back.
    let note = HealthNote::parse(&note.payload()).unwrap();
    one.apply(note.clone());
    two.apply(note);
    assert_eq!(
        two.availability("acc", 2_000),
        Availability::CoolingDown { until: 31_000 }
    );
    // A success does not change an active account: nothing to announce.
    two.report("other", Outcome::Success, 2_000);
    assert!(out2.notes.try_recv().is_err());
    // The cooldown ends; instance two's probe succeeds; instance one hears it.
    assert_eq!(two.availability("acc", 31_000), Availability::HalfOpen);
    assert!(two.claim_probe("acc"));
    two.report("acc", Outcome::Success, 31_000);
    let recovered = out2.notes.try_recv().unwrap();
    assert_eq!(recovered.status, AccountStatus::Active);
    one.apply(recovered);
    assert_eq!(one.availability("acc", 31_001), Availability::Available);
    // The backoff step travels too: the next 529 after recovery starts over at the base.
    one.report("acc", overloaded(), 40_000);
    assert_eq!(out1.notes.try_recv().unwrap().cooldown_until, Some(70_000));
}

#[tokio::test]
async fn notes_applied_in_the_database_order_converge_and_old_echoes_are_skipped() {
    let (one, mut out1) = instance();
    let (two, mut out2) = instance();
    // Both see something at once: one a 529, two a reset (an admin).
    one.report("acc", overloaded(), 1_000);
    two.report("acc", overloaded(), 1_000);
    let _ = out2.notes.try_recv();
    two.reset("acc", 1_001);
    let a = out1.notes.try_recv().unwrap();
    let b = out2.notes.try_recv().unwrap();
    // The database ordered a before b: everybody ends where b left it.
    for inst in [&one, &two] {
        inst.apply(a.clone());
        inst.apply(b.clone());
    }
    assert_eq!(one.health("acc").status, AccountStatus::Active);
    assert_eq!(two.health("acc").status, AccountStatus::Active);

    // An instance's own older note coming back after a newer local change is skipped.
    one.report("acc", overloaded(), 2_000);
    let older = out1.notes.try_recv().unwrap();
    one.reset("acc", 2_001);
    let newer = out1.notes.try_recv().unwrap();
    one.apply(older);
    assert_eq!(one.health("acc").status, AccountStatus::Active);
    one.apply(newer);
    assert_eq!(one.health("acc").status, AccountStatus::Active);
}

#[tokio::test]
async fn stored_health_is_adopted_when_it_differs() {
    let (one, _out) = instance();
    one.adopt_stored(vec![
        (
            "a".into(),
            "overloaded".into(),
            Some("529".into()),
            Some(9_000),
        ),
        ("b".into(), "active".into(), None, None),
    ]);
    assert_eq!(
        one.availability("a", 1_000),
        Availability::CoolingDown { until: 9_000 }
    );
    assert_eq!(one.availability("b", 1_000), Availability::Available);
}

#[test]
fn sticky_writes_keep_the_last_of_each_conversation() {
    let k: Arc<str> = "k".into();
    let rows = tasks::batch_rows(vec![
        (k.clone(), 1, "a".into(), 10),
        (k.clone(), 2, "b".into(), 10),
        (k.clone(), 1, "a".into(), 20),
    ]);
    let mut rows = rows;
    rows.sort();
    assert_eq!(
        rows,
        vec![
            ("k".into(), 1, "a".into(), 20),
            ("k".into(), 2, "b".into(), 10)
        ]
    );
}
