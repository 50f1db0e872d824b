//! Key limits shared by several instances on one PostgreSQL (`CLUSTER=1`).
//!
//! Each instance registers in `cluster_instances` and renews a heartbeat every quarter of the
//! lease timeout (`CLUSTER_LEASE_SECS`, 15 s by default). Of a key with a quota or a daily
//! budget it leases a slice of the headroom left (one statement, `tollgate_lease_budget`) and
//! reserves from it in memory, as a single instance does; it leases more when the slice runs
//! low (ahead of time, off the request's path, while some is left) and gives idle slices back.
//! A slice's spend leaves the lease as the usage writer writes it into `api_keys.spent_micros`
//! (a trigger, in the same transaction), so written spend is never counted twice and unwritten
//! spend is never counted nowhere. A key's concurrency slots are leased one at a time
//! (`tollgate_hold_slots`) once the local slot queue, FIFO and bounded as before, grants one.
//! Leases of an instance silent for a lease timeout no longer count: a crashed instance's
//! slices and slots come back within it. An instance that cannot renew its heartbeat stops
//! using its leases before the others stop counting them (three quarters of the timeout).
//!
//! A key's rate window (`rateLimitRequests`) is counted in the database, one statement per
//! admitted request ([`rate`]); its cost (`rateLimitCost`), keys without any of these limits,
//! and everything else stay in memory ([`MemoryLimits`]): they cost the database nothing.

mod rate;
mod shared_slots;
mod slices;
mod upkeep;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use futures::future::BoxFuture;
use parking_lot::RwLock;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::memory::MemoryLimits;
use super::slots::SlotQueue;
use super::{
    KeyLimits, LimitState, LiveUsage, RateEntry, Refusal, Reservation, Settled, SharedSlot,
};
use crate::storage::{now_ms, Store};
use shared_slots::SharedSlots;
use slices::KeySlice;

/// Several instances on one PostgreSQL (`serve` flags and environment variables).
#[derive(Args, Debug, Clone)]
pub struct ClusterOpts {
    /// Several instances share this PostgreSQL database: keys' quotas, daily budgets and
    /// concurrency limits hold over all of them (leased from the database). Off, they hold
    /// per process (a single instance, or a key's traffic routed to one instance).
    #[arg(long = "cluster", env = "CLUSTER", default_value_t = false,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub enabled: bool,
    /// Seconds after which the leases of an instance that stopped renewing them (crashed, or
    /// cut off from the database) no longer count, so other instances can use them.
    #[arg(long, env = "CLUSTER_LEASE_SECS", default_value_t = 15)]
    pub lease_secs: u64,
}

impl Default for ClusterOpts {
    fn default() -> Self {
        ClusterOpts {
            enabled: false,
            lease_secs: 15,
        }
    }
}

/// The limit state for this process: shared through the database when the store was connected
/// as a cluster instance (`CLUSTER=1`), in memory otherwise.
pub fn choose(opts: &ClusterOpts, store: &Store, tz: chrono_tz::Tz) -> Arc<dyn LimitState> {
    if opts.enabled {
        if let Some(instance) = store.cluster_instance() {
            tracing::info!(instance = %instance, lease_secs = opts.lease_secs, "key limits shared with other instances");
            let lease = Duration::from_secs(opts.lease_secs.max(1));
            return Arc::new(ClusterLimits::new(store.clone(), instance, lease, tz));
        }
        tracing::warn!("CLUSTER is set but this process is not a cluster instance (SQLite, or a CLI command, which serves no requests): key limits are per process");
    }
    Arc::new(MemoryLimits::default())
}

pub struct ClusterLimits {
    shared: Arc<Shared>,
}

/// What the background work and the spawned lease calls share with the hot path.
struct Shared {
    local: MemoryLimits,
    store: Store,
    instance: Arc<str>,
    lease: Duration,
    tz: chrono_tz::Tz,
    slices: RwLock<HashMap<Arc<str>, Arc<KeySlice>>>,
    slots: RwLock<HashMap<Arc<str>, Arc<SharedSlots>>>,
    rates: RwLock<HashMap<Arc<str>, Arc<parking_lot::Mutex<rate::RateView>>>>,
    /// Epoch ms until which this instance may use its leases (the last heartbeat that went
    /// through plus three quarters of the lease timeout).
    valid_until: AtomicI64,
}

impl Shared {
    fn valid(&self, now: i64) -> bool {
        now < self.valid_until.load(Ordering::Acquire)
    }

    /// Leases of instances silent since before this no longer count.
    fn alive_after(&self, now: i64) -> i64 {
        now - self.lease.as_millis() as i64
    }

    fn slice(&self, key_id: &str) -> Arc<KeySlice> {
        if let Some(s) = self.slices.read().get(key_id) {
            return s.clone();
        }
        self.slices
            .write()
            .entry(Arc::from(key_id))
            .or_default()
            .clone()
    }

    fn shared_slots(&self, key_id: &str) -> Arc<SharedSlots> {
        if let Some(s) = self.slots.read().get(key_id) {
            return s.clone();
        }
        self.slots
            .write()
            .entry(Arc::from(key_id))
            .or_default()
            .clone()
    }
}

impl ClusterLimits {
    pub fn new(store: Store, instance: String, lease: Duration, tz: chrono_tz::Tz) -> Self {
        ClusterLimits {
            shared: Arc::new(Shared {
                local: MemoryLimits::default(),
                store,
                instance: instance.into(),
                lease,
                tz,
                slices: Default::default(),
                slots: Default::default(),
                rates: Default::default(),
                // Usable at once; the first heartbeat runs at start.
                valid_until: AtomicI64::new(now_ms() + (lease.as_millis() as i64) * 3 / 4),
            }),
        }
    }
}

/// Whether the key's spend is limited (and so leased).
fn budgeted(key: &KeyLimits) -> bool {
    key.quota_limit > 0 || key.daily_cost_limit > 0
}

impl LimitState for ClusterLimits {
    fn seed(&self, key_id: &str, spent: i64, day: i32, day_spent: i64) {
        self.shared.local.seed(key_id, spent, day, day_spent);
        self.shared.slice(key_id).seed(spent, day, day_spent);
    }

    fn is_seeded(&self, key_id: &str) -> bool {
        self.shared.local.is_seeded(key_id)
    }

    fn add_spent(&self, key_id: &str, delta: i64) {
        self.shared.local.add_spent(key_id, delta);
        if let Some(s) = self.shared.slices.read().get(key_id) {
            s.add_spent(delta);
        }
    }

    fn reserve(
        &self,
        key: &KeyLimits,
        estimate: i64,
        floor: i64,
        day: i32,
        next_midnight: i64,
    ) -> Result<Reservation, Refusal> {
        if !budgeted(key) {
            return self
                .shared
                .local
                .reserve(key, estimate, floor, day, next_midnight);
        }
        let now = now_ms();
        if !self.shared.valid(now) {
            return Err(Refusal::Unavailable);
        }
        let slice = self.shared.slice(&key.id);
        let (reservation, give_back) = slice.reserve(key, estimate, floor, day, next_midnight, now);
        if give_back > 0 {
            slices::spawn_return(&self.shared, &key.id, give_back);
        }
        reservation
    }

    fn settle(&self, key_id: &str, r: Reservation, actual: i64) -> Settled {
        if !r.shared {
            return self.shared.local.settle(key_id, r, actual);
        }
        self.shared.slice(key_id).settle(r, actual)
    }

    fn rate_admit(&self, key: &KeyLimits, now: Instant) -> Result<Option<Instant>, Refusal> {
        // Requests counted in the database are not counted here too (only the cost).
        let requests = if rate::is_shared(key) {
            0
        } else {
            key.rate_requests
        };
        self.shared.local.rate_admit_counting(key, now, requests)
    }

    fn rate_undo(&self, key_id: &str, at: Instant) {
        self.shared.local.rate_undo(key_id, at)
    }

    fn rate_add_cost(&self, key_id: &str, now: Instant, cost: i64) {
        self.shared.local.rate_add_cost(key_id, now, cost)
    }

    fn rate_remaining(&self, key: &KeyLimits, now: Instant) -> Option<(u32, Duration)> {
        if rate::is_shared(key) {
            return rate::remaining(&self.shared, key);
        }
        self.shared.local.rate_remaining(key, now)
    }

    fn slots(&self, key_id: &str) -> Arc<SlotQueue> {
        self.shared.local.slots(key_id)
    }

    fn precheck(
        &self,
        key: &KeyLimits,
        day: i32,
        next_midnight: i64,
        now: Instant,
    ) -> Result<(), Refusal> {
        if budgeted(key) {
            let at = now_ms();
            if !self.shared.valid(at) {
                return Err(Refusal::Unavailable);
            }
            if let Some(s) = self.shared.slices.read().get(&*key.id) {
                s.precheck(key, day, next_midnight, at)?;
            }
        }
        rate::precheck(&self.shared, key)?;
        self.shared.local.precheck(key, day, next_midnight, now)
    }

    fn usage(&self, key_id: &str) -> LiveUsage {
        match self.shared.slices.read().get(key_id) {
            Some(s) if s.is_leased() => s.usage(),
            _ => self.shared.local.usage(key_id),
        }
    }

    fn totals(&self) -> (i64, u32) {
        let (reserved, slots) = self.shared.local.totals();
        let leased: i64 = self
            .shared
            .slices
            .read()
            .values()
            .map(|s| s.usage().reserved)
            .sum();
        (reserved + leased, slots)
    }

    fn waiting(&self) -> usize {
        self.shared.local.waiting()
    }

    fn prepare<'a>(
        &'a self,
        key: &'a KeyLimits,
        estimate: i64,
        day: i32,
    ) -> Option<BoxFuture<'a, ()>> {
        if !budgeted(key) {
            return None;
        }
        slices::prepare(&self.shared, key, estimate, day)
    }

    fn shared_slot<'a>(
        &'a self,
        key: &'a KeyLimits,
        wait: Option<Duration>,
    ) -> Option<BoxFuture<'a, Result<SharedSlot, Refusal>>> {
        if key.concurrency_limit == 0 {
            return None;
        }
        Some(Box::pin(shared_slots::acquire(
            self.shared.clone(),
            key.id.clone(),
            key.concurrency_limit,
            wait,
        )))
    }

    fn shared_rate<'a>(
        &'a self,
        key: &'a KeyLimits,
    ) -> Option<BoxFuture<'a, Result<Box<dyn RateEntry>, Refusal>>> {
        if !rate::is_shared(key) {
            return None;
        }
        Some(Box::pin(rate::admit(self.shared.clone(), key)))
    }

    fn start(self: Arc<Self>, tasks: &TaskTracker, stop: CancellationToken) {
        tasks.spawn(upkeep::run(self.shared.clone(), stop));
    }
}
