//! A key's leased slice of headroom: reserved from in memory, refilled from the database.
//!
//! A reservation takes the request's whole estimate from the slice; only when the database has
//! no more to give (or cannot be reached) does a request get what the slice has left, one
//! request at a time, so an instance overshoots a limit by at most what one request reserved
//! less than it cost, as a single instance does. Leasing lives in `lease`.

use parking_lot::Mutex;

use super::Shared;
use crate::limits::{KeyLimits, LiveUsage, Refusal, Reservation, Settled, ShortHeld};

#[derive(Default)]
pub(super) struct KeySlice {
    q: Mutex<SliceQ>,
    /// One lease call per key at a time; the others wait for its outcome.
    refill: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct SliceQ {
    /// Spend as this instance knows it: the database's at the last lease, plus what was
    /// settled here since.
    spent: i64,
    day: i32,
    day_spent: i64,
    /// Leased and not reserved (negative after a request cost more than it reserved).
    slice: i64,
    /// The day the slice was leased for.
    slice_day: i32,
    reserved: i64,
    day_reserved: i64,
    /// The last lease's size (the low-water mark is a part of it).
    last_grant: i64,
    leased: bool,
    /// Until then, a slice too small is not refilled: the database has no more (`exhausted`)
    /// or could not be reached.
    retry_at: i64,
    exhausted: Option<Exhausted>,
    /// When a request last reserved (epoch ms): an idle key's slice goes back.
    last_reserve: i64,
    /// Counts the voided leases: a reservation of a voided lease is no longer in the slice.
    lease: u32,
    /// Reservations in flight that got only what was left of the slice.
    short: ShortHeld,
}

#[derive(Clone, Copy)]
struct Exhausted {
    daily: bool,
    /// Spend over all instances as the last lease saw it (written, plus leased).
    committed: i64,
}

impl SliceQ {
    /// Takes what is left of a slice leased for another day (to be given back).
    fn take_stale(&mut self, day: i32) -> i64 {
        if self.leased && self.slice_day != day && self.slice > 0 {
            let stale = self.slice;
            self.slice = 0;
            return stale;
        }
        0
    }

    fn roll_day(&mut self, day: i32) {
        if day != self.day {
            self.day = day;
            self.day_spent = 0;
            self.day_reserved = 0;
        }
    }

    fn refusal(&self, key: &KeyLimits, next_midnight: i64) -> Refusal {
        match self.exhausted {
            Some(Exhausted {
                daily: true,
                committed,
            }) => Refusal::DailyLimit {
                limit: key.daily_cost_limit,
                spent: committed.max(self.day_spent),
                resets_at: next_midnight,
            },
            Some(Exhausted { committed, .. }) => Refusal::QuotaExhausted {
                limit: key.quota_limit,
                spent: committed.max(self.spent),
            },
            None => Refusal::Unavailable,
        }
    }
}

impl KeySlice {
    pub(super) fn seed(&self, spent: i64, day: i32, day_spent: i64) {
        let mut q = self.q.lock();
        if q.leased {
            return;
        }
        q.spent = q.spent.max(spent);
        q.roll_day(day);
        q.day_spent = q.day_spent.max(day_spent);
    }

    pub(super) fn add_spent(&self, delta: i64) {
        let mut q = self.q.lock();
        q.spent += delta;
        // The trigger takes the same amount out of this instance's lease when it is written.
        if q.leased {
            q.slice -= delta;
        }
    }

    pub(super) fn is_leased(&self) -> bool {
        self.q.lock().leased
    }

    /// Reserves from the slice. Also returns what to give back to the database (a slice of an
    /// earlier day, which today's budget did not grant).
    pub(super) fn reserve(
        &self,
        key: &KeyLimits,
        estimate: i64,
        floor: i64,
        day: i32,
        next_midnight: i64,
        now: i64,
    ) -> (Result<Reservation, Refusal>, i64) {
        let mut q = self.q.lock();
        q.roll_day(day);
        let give_back = q.take_stale(day);
        let need = estimate.max(0);
        let today = q.leased && q.slice_day == day;
        let amount = if need == 0 {
            if q.exhausted.is_some() && q.retry_at > now && q.slice <= 0 {
                return (Err(q.refusal(key, next_midnight)), give_back);
            }
            0
        } else if today && q.slice >= need {
            need
        } else if today && q.slice > 0 {
            // Only what is left: the database has no more, or cannot be asked now.
            q.slice
        } else {
            return (Err(q.refusal(key, next_midnight)), give_back);
        };
        // Which limit the database said is used up; unknown (unreachable): the daily one only
        // when the key has no quota.
        let daily = q.exhausted.map_or(key.quota_limit == 0, |e| e.daily);
        if floor > 0 && floor > q.slice {
            let err = Refusal::InputOverBudget {
                estimate: floor,
                remaining: q.slice.max(0),
                daily,
            };
            return (Err(err), give_back);
        }
        let short = amount < need;
        if let Err(held) = q.short.take(short, daily) {
            return (Err(held), give_back);
        }
        q.slice -= amount;
        q.reserved += amount;
        q.day_reserved += amount;
        q.last_reserve = now;
        (
            Ok(Reservation {
                amount,
                day,
                shared: true,
                lease: q.lease,
                short,
            }),
            give_back,
        )
    }

    pub(super) fn settle(&self, r: Reservation, actual: i64) -> Settled {
        let mut q = self.q.lock();
        let before = q.spent;
        q.short.settle(&r);
        q.reserved -= r.amount;
        q.spent += actual;
        if r.lease != q.lease {
            // Reserved from a voided lease: the database forgot it, and takes the spend out of
            // the lease held now when it is written.
            q.slice -= actual;
        } else if q.slice_day == r.day {
            q.slice += r.amount - actual;
        } else {
            // Leased for another day: what it cost is out of the lease, the rest stays there
            // until the day's slice is given back.
            q.slice -= actual - r.amount;
        }
        if q.day == r.day {
            q.day_reserved -= r.amount;
            q.day_spent += actual;
        }
        Settled {
            spent_before: before,
            spent_after: q.spent,
        }
    }

    pub(super) fn precheck(
        &self,
        key: &KeyLimits,
        day: i32,
        next_midnight: i64,
        now: i64,
    ) -> Result<(), Refusal> {
        let q = self.q.lock();
        if q.exhausted.is_some() && q.retry_at > now && q.slice <= 0 && q.slice_day == day {
            return Err(q.refusal(key, next_midnight));
        }
        Ok(())
    }

    pub(super) fn usage(&self) -> LiveUsage {
        let q = self.q.lock();
        LiveUsage {
            spent: q.spent,
            reserved: q.reserved,
            day_spent: q.day_spent,
            day_reserved: q.day_reserved,
        }
    }

    /// Takes the whole unreserved slice to give it back (an idle key); 0 when there is none.
    pub(super) fn take_idle(&self, idle_since: i64) -> i64 {
        let mut q = self.q.lock();
        if q.slice <= 0 || q.reserved > 0 || q.last_reserve > idle_since {
            return 0;
        }
        let amount = q.slice;
        q.slice = 0;
        amount
    }

    /// Takes the whole unreserved slice (reservations in flight keep theirs), to give it back.
    pub(super) fn take_unreserved(&self) -> i64 {
        let mut q = self.q.lock();
        let amount = q.slice.max(0);
        q.slice -= amount;
        amount
    }

    /// Puts back what could not be given back.
    pub(super) fn untake(&self, amount: i64) {
        self.q.lock().slice += amount;
    }

    /// The leases are void (this instance was cut off from the database for too long): the
    /// slice is dropped, and the database forgets it with the instance's other leases.
    pub(super) fn void(&self) {
        let mut q = self.q.lock();
        if q.leased {
            q.lease = q.lease.wrapping_add(1);
        }
        q.slice = 0;
        q.leased = false;
        q.exhausted = None;
        q.retry_at = 0;
    }
}

mod lease;
pub(super) use lease::{prepare, spawn_return};

#[cfg(test)]
mod tests;
