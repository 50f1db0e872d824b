//! The scheduler's live state — requests in flight, health and cooldowns, sticky mappings —
//! behind one trait, so instances sharing a database can later share it too. The in-memory
//! implementation keeps everything per instance.

use crate::fast_hash::FastMap as HashMap;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::Arc;

use app::types::AccountStatus;
use parking_lot::{Mutex, RwLock};

use super::health::{Availability, Health, HealthConfig, Outcome, Transition};
use super::sticky::StickyMap;

/// Requests (attempts sent to the account), errors and 529s in five-minute buckets over the
/// last 24 hours.
const BUCKET_MS: i64 = 300_000;
const BUCKETS: usize = 288;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    pub requests: u64,
    pub errors: u64,
    pub overloaded: u64,
}

pub trait LiveState: Send + Sync + 'static {
    fn in_flight(&self, account: &str) -> u32;
    /// Counts a request in flight unless the account is at `max`.
    fn try_acquire(&self, account: &str, max: Option<u32>, now: i64) -> bool;
    fn release(&self, account: &str);
    /// A request that held one of the account's shared concurrency slots ended (several
    /// instances; see `scheduler::cluster::slots`).
    fn release_slot(&self, _account: &str) {}
    fn last_used(&self, account: &str) -> i64;
    fn availability(&self, account: &str, now: i64) -> Availability;
    fn claim_probe(&self, account: &str) -> bool;
    fn abandon_probe(&self, account: &str);
    fn report(&self, account: &str, outcome: Outcome, now: i64) -> Option<Transition>;
    fn reset(&self, account: &str, now: i64) -> Option<Transition>;
    /// An account test was refused for the credential (see [`Health::credential_refused`]).
    fn credential_refused(
        &self,
        account: &str,
        status: u16,
        message: String,
        now: i64,
    ) -> Option<Transition>;
    fn restore(
        &self,
        account: &str,
        status: AccountStatus,
        cooldown_until: Option<i64>,
        message: String,
    );
    fn health(&self, account: &str) -> Health;
    fn traffic(&self, account: &str, now: i64) -> Traffic;
    fn sticky(&self) -> &StickyMap;
}

#[derive(Default)]
struct AccountLive {
    in_flight: AtomicU32,
    last_used: AtomicI64,
    health: Mutex<Health>,
    /// `(bucket index, requests, errors, overloaded)` per slot of the ring.
    ring: Mutex<Vec<(i64, Traffic)>>,
}

pub struct MemoryLive {
    accounts: RwLock<HashMap<Arc<str>, Arc<AccountLive>>>,
    health_cfg: HealthConfig,
    sticky: StickyMap,
}

impl MemoryLive {
    pub fn new(health_cfg: HealthConfig, sticky: StickyMap) -> Self {
        MemoryLive {
            accounts: Default::default(),
            health_cfg,
            sticky,
        }
    }

    fn get(&self, account: &str) -> Arc<AccountLive> {
        if let Some(a) = self.accounts.read().get(account) {
            return a.clone();
        }
        self.accounts
            .write()
            .entry(Arc::from(account))
            .or_default()
            .clone()
    }

    /// What other instances must hear about when it moves: status and cooldown end.
    pub fn health_key(&self, account: &str) -> (AccountStatus, Option<i64>) {
        match self.accounts.read().get(account) {
            Some(a) => {
                let h = a.health.lock();
                (h.status, h.cooldown_until)
            }
            None => (AccountStatus::Active, None),
        }
    }

    /// Changes an account's health in place.
    pub fn with_health<R>(&self, account: &str, f: impl FnOnce(&mut Health) -> R) -> R {
        f(&mut self.get(account).health.lock())
    }

    fn count(&self, live: &AccountLive, now: i64, f: impl FnOnce(&mut Traffic)) {
        let bucket = now / BUCKET_MS;
        let mut ring = live.ring.lock();
        if ring.is_empty() {
            ring.resize(BUCKETS, (-1, Traffic::default()));
        }
        let slot = &mut ring[(bucket as usize) % BUCKETS];
        if slot.0 != bucket {
            *slot = (bucket, Traffic::default());
        }
        f(&mut slot.1);
    }
}

impl LiveState for MemoryLive {
    fn in_flight(&self, account: &str) -> u32 {
        self.accounts
            .read()
            .get(account)
            .map(|a| a.in_flight.load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    fn try_acquire(&self, account: &str, max: Option<u32>, now: i64) -> bool {
        let live = self.get(account);
        let acquired = match max {
            None | Some(0) => {
                live.in_flight.fetch_add(1, Ordering::AcqRel);
                true
            }
            Some(max) => live
                .in_flight
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < max).then_some(n + 1)
                })
                .is_ok(),
        };
        if acquired {
            live.last_used.store(now, Ordering::Relaxed);
            self.count(&live, now, |t| t.requests += 1);
        }
        acquired
    }

    fn release(&self, account: &str) {
        let live = self.get(account);
        let _ = live
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    fn last_used(&self, account: &str) -> i64 {
        self.accounts
            .read()
            .get(account)
            .map(|a| a.last_used.load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    fn availability(&self, account: &str, now: i64) -> Availability {
        match self.accounts.read().get(account) {
            Some(a) => a.health.lock().availability(now),
            None => Availability::Available,
        }
    }

    fn claim_probe(&self, account: &str) -> bool {
        self.get(account).health.lock().claim_probe()
    }

    fn abandon_probe(&self, account: &str) {
        self.get(account).health.lock().abandon_probe()
    }

    fn report(&self, account: &str, outcome: Outcome, now: i64) -> Option<Transition> {
        let live = self.get(account);
        let (error, overloaded) = match &outcome {
            Outcome::Success => (false, false),
            Outcome::Overloaded { .. } => (true, true),
            _ => (true, false),
        };
        // Requests were counted when they took the account; outcomes add errors only.
        if error {
            self.count(&live, now, |t| {
                t.errors += 1;
                t.overloaded += overloaded as u64;
            });
        }
        let mut health = live.health.lock();
        health.on_outcome(outcome, now, &self.health_cfg)
    }

    fn reset(&self, account: &str, now: i64) -> Option<Transition> {
        self.get(account).health.lock().reset(now)
    }

    fn credential_refused(
        &self,
        account: &str,
        status: u16,
        message: String,
        now: i64,
    ) -> Option<Transition> {
        self.get(account)
            .health
            .lock()
            .credential_refused(status, message, now)
    }

    fn restore(
        &self,
        account: &str,
        status: AccountStatus,
        cooldown_until: Option<i64>,
        message: String,
    ) {
        *self.get(account).health.lock() = Health::restored(status, cooldown_until, message);
    }

    fn health(&self, account: &str) -> Health {
        self.accounts
            .read()
            .get(account)
            .map(|a| a.health.lock().clone())
            .unwrap_or_default()
    }

    fn traffic(&self, account: &str, now: i64) -> Traffic {
        let Some(live) = self.accounts.read().get(account).cloned() else {
            return Traffic::default();
        };
        let oldest = now / BUCKET_MS - BUCKETS as i64 + 1;
        let ring = live.ring.lock();
        ring.iter()
            .filter(|(b, _)| *b >= oldest)
            .fold(Traffic::default(), |acc, (_, t)| Traffic {
                requests: acc.requests + t.requests,
                errors: acc.errors + t.errors,
                overloaded: acc.overloaded + t.overloaded,
            })
    }

    fn sticky(&self) -> &StickyMap {
        &self.sticky
    }
}
