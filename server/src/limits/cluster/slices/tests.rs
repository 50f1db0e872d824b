use super::*;
use crate::limits::memory::tests::limits;

fn leased(amount: i64) -> KeySlice {
    let s = KeySlice::default();
    {
        let mut q = s.q.lock();
        q.leased = true;
        q.slice = amount;
        q.slice_day = 1;
        q.day = 1;
    }
    s
}

/// As in memory: one reservation short of its estimate per key at a time, so an instance ends
/// over the limit by at most one request beyond what it could reserve.
#[test]
fn one_short_reservation_at_a_time() {
    let mut k = limits("k");
    k.quota_limit = 1_000;
    let s = leased(1_000);
    let reserve = |need| s.reserve(&k, need, 0, 1, 0, 10).0;
    let full = reserve(900).unwrap();
    let short = reserve(500).unwrap();
    assert_eq!((full.amount, full.short), (900, false));
    assert_eq!((short.amount, short.short), (100, true));
    s.settle(full, 100);
    assert_eq!(
        reserve(900).err(),
        Some(Refusal::RemainderHeld { daily: false })
    );
    // A request whose input alone is more than what is left is refused as such, not told to wait.
    assert!(matches!(
        s.reserve(&k, 900, 850, 1, 0, 10).0.err(),
        Some(Refusal::InputOverBudget { .. })
    ));
    let fits = reserve(300).unwrap();
    assert!(!fits.short);
    s.settle(short, 500);
    s.settle(fits, 300);
    let next = reserve(900).unwrap();
    assert_eq!((next.amount, next.short), (100, true));
    s.settle(next, 100);
    assert_eq!(
        s.usage(),
        LiveUsage {
            spent: 1_000,
            reserved: 0,
            day_spent: 1_000,
            day_reserved: 0
        }
    );
    assert_eq!(s.q.lock().short.count(), 0);
}
