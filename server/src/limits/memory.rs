//! The in-memory [`LimitState`]: per-key counters in one map, each key behind its own lock.

use crate::fast_hash::FastMap as HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use super::slots::SlotQueue;
use super::window::RateWindow;
use super::{KeyLimits, LimitState, LiveUsage, Refusal, Reservation, Settled, ShortHeld};

#[derive(Default)]
struct Quota {
    spent: i64,
    reserved: i64,
    day: i32,
    day_spent: i64,
    day_reserved: i64,
    short: ShortHeld,
}

#[derive(Default)]
struct KeyState {
    seeded: AtomicBool,
    quota: Mutex<Quota>,
    window: Mutex<RateWindow>,
    slots: Arc<SlotQueue>,
}

#[derive(Default)]
pub struct MemoryLimits {
    keys: RwLock<HashMap<Arc<str>, Arc<KeyState>>>,
}

impl MemoryLimits {
    fn state(&self, key_id: &str) -> Arc<KeyState> {
        if let Some(s) = self.keys.read().get(key_id) {
            return s.clone();
        }
        self.keys
            .write()
            .entry(Arc::from(key_id))
            .or_default()
            .clone()
    }

    /// [`LimitState::rate_admit`] counting requests against `max_requests` (0: only the
    /// window's cost is checked here, the requests being counted elsewhere).
    pub fn rate_admit_counting(
        &self,
        key: &KeyLimits,
        now: Instant,
        max_requests: u32,
    ) -> Result<Option<Instant>, Refusal> {
        let Some(window) = key.rate_window else {
            return Ok(None);
        };
        let state = self.state(&key.id);
        let mut w = state.window.lock();
        w.admit(now, window, max_requests, key.rate_cost)
            .map_err(|full| full.refusal(key.rate_requests, window))
    }
}

impl Quota {
    fn roll_day(&mut self, day: i32) {
        if day != self.day {
            self.day = day;
            self.day_spent = 0;
            self.day_reserved = 0;
        }
    }
}

impl LimitState for MemoryLimits {
    fn seed(&self, key_id: &str, spent: i64, day: i32, day_spent: i64) {
        let state = self.state(key_id);
        let mut q = state.quota.lock();
        if state.seeded.swap(true, Ordering::AcqRel) {
            return;
        }
        // Settlements that ran before the seed (none in practice) are kept on top.
        q.spent += spent;
        if q.day != day {
            q.day = day;
            q.day_reserved = 0;
            q.day_spent = 0;
        }
        q.day_spent += day_spent;
    }

    fn add_spent(&self, key_id: &str, delta: i64) {
        if !self.is_seeded(key_id) {
            return;
        }
        self.state(key_id).quota.lock().spent += delta;
    }

    fn is_seeded(&self, key_id: &str) -> bool {
        self.keys
            .read()
            .get(key_id)
            .is_some_and(|s| s.seeded.load(Ordering::Acquire))
    }

    fn reserve(
        &self,
        key: &KeyLimits,
        estimate: i64,
        floor: i64,
        day: i32,
        next_midnight: i64,
    ) -> Result<Reservation, Refusal> {
        let state = self.state(&key.id);
        let mut q = state.quota.lock();
        q.roll_day(day);
        let need = estimate.max(0);
        let mut amount = need;
        let mut daily_short = false;
        if key.quota_limit > 0 {
            let remaining = key.quota_limit - q.spent - q.reserved;
            if remaining <= 0 {
                return Err(Refusal::QuotaExhausted {
                    limit: key.quota_limit,
                    spent: q.spent,
                });
            }
            if floor > remaining {
                return Err(Refusal::InputOverBudget {
                    estimate: floor,
                    remaining,
                    daily: false,
                });
            }
            amount = amount.min(remaining);
        }
        if key.daily_cost_limit > 0 {
            let remaining = key.daily_cost_limit - q.day_spent - q.day_reserved;
            if remaining <= 0 {
                return Err(Refusal::DailyLimit {
                    limit: key.daily_cost_limit,
                    spent: q.day_spent,
                    resets_at: next_midnight,
                });
            }
            if floor > remaining {
                return Err(Refusal::InputOverBudget {
                    estimate: floor,
                    remaining,
                    daily: true,
                });
            }
            daily_short = remaining < amount;
            amount = amount.min(remaining);
        }
        let short = amount < need;
        q.short.take(short, daily_short)?;
        q.reserved += amount;
        q.day_reserved += amount;
        Ok(Reservation {
            amount,
            day,
            shared: false,
            lease: 0,
            short,
        })
    }

    fn settle(&self, key_id: &str, r: Reservation, actual: i64) -> Settled {
        let state = self.state(key_id);
        let mut q = state.quota.lock();
        let before = q.spent;
        q.short.settle(&r);
        q.reserved -= r.amount;
        q.spent += actual;
        if q.day == r.day {
            q.day_reserved -= r.amount;
            q.day_spent += actual;
        }
        Settled {
            spent_before: before,
            spent_after: q.spent,
        }
    }

    fn rate_admit(&self, key: &KeyLimits, now: Instant) -> Result<Option<Instant>, Refusal> {
        self.rate_admit_counting(key, now, key.rate_requests)
    }

    fn rate_undo(&self, key_id: &str, at: Instant) {
        self.state(key_id).window.lock().undo_admit(at);
    }

    fn rate_add_cost(&self, key_id: &str, now: Instant, cost: i64) {
        self.state(key_id).window.lock().add_cost(now, cost);
    }

    fn rate_remaining(&self, key: &KeyLimits, now: Instant) -> Option<(u32, Duration)> {
        let window = key.rate_window?;
        if key.rate_requests == 0 {
            return None;
        }
        let state = self.state(&key.id);
        let mut w = state.window.lock();
        Some(w.remaining(now, window, key.rate_requests))
    }

    fn slots(&self, key_id: &str) -> Arc<SlotQueue> {
        self.state(key_id).slots.clone()
    }

    fn precheck(
        &self,
        key: &KeyLimits,
        day: i32,
        next_midnight: i64,
        now: Instant,
    ) -> Result<(), Refusal> {
        let Some(state) = self.keys.read().get(&*key.id).cloned() else {
            return Ok(());
        };
        {
            let q = state.quota.lock();
            if key.quota_limit > 0 && key.quota_limit - q.spent - q.reserved <= 0 {
                return Err(Refusal::QuotaExhausted {
                    limit: key.quota_limit,
                    spent: q.spent,
                });
            }
            if key.daily_cost_limit > 0
                && q.day == day
                && key.daily_cost_limit - q.day_spent - q.day_reserved <= 0
            {
                return Err(Refusal::DailyLimit {
                    limit: key.daily_cost_limit,
                    spent: q.day_spent,
                    resets_at: next_midnight,
                });
            }
        }
        if let Some(window) = key.rate_window {
            state
                .window
                .lock()
                .check(now, window, key.rate_requests, key.rate_cost)
                .map_err(|full| full.refusal(key.rate_requests, window))?;
        }
        state
            .slots
            .precheck(key.concurrency_limit, key.queue)
            .map_err(|reason| Refusal::Concurrency {
                limit: key.concurrency_limit,
                reason,
            })
    }

    fn usage(&self, key_id: &str) -> LiveUsage {
        match self.keys.read().get(key_id) {
            Some(s) => {
                let q = s.quota.lock();
                LiveUsage {
                    spent: q.spent,
                    reserved: q.reserved,
                    day_spent: q.day_spent,
                    day_reserved: q.day_reserved,
                }
            }
            None => LiveUsage::default(),
        }
    }

    fn totals(&self) -> (i64, u32) {
        let keys = self.keys.read();
        keys.values().fold((0, 0), |(r, s), k| {
            (r + k.quota.lock().reserved, s + k.slots.in_use())
        })
    }

    fn waiting(&self) -> usize {
        self.keys.read().values().map(|k| k.slots.waiting()).sum()
    }
}

#[cfg(test)]
pub(crate) mod tests;
