//! The relay seen from its process: what it holds at this moment (for `/health`, the shutdown
//! log and the tests' leak checks) and the few levers the wiring pulls (load the pool at boot,
//! cut open streams when the grace period is over). Read-only figures and named actions, never
//! the parts themselves.

use super::Relay;
use crate::storage::StoreResult;

/// What the relay holds right now, over all keys and the whole process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Held {
    /// Quota reserved by requests in flight, in micro-USD.
    pub reserved: i64,
    /// Concurrency slots in use.
    pub slots: u32,
    /// Requests waiting in a key's concurrency queue.
    pub waiting: usize,
    /// Requests in flight process-wide (the guard budget), queued and streaming included.
    pub requests: usize,
    /// Request-body bytes held process-wide (the guard budget).
    pub bytes: usize,
}

impl Held {
    /// Nothing reserved, no slot in use, nobody queued, no request counted in flight.
    pub fn is_idle(&self) -> bool {
        *self == Held::default()
    }

    /// `(reserved, slots)`: what requests in flight hold of keys' limits.
    pub fn holding(&self) -> (i64, u32) {
        (self.reserved, self.slots)
    }

    /// `(requests, bytes)`: what the process-wide guard budget counts.
    pub fn budget(&self) -> (usize, usize) {
        (self.requests, self.bytes)
    }
}

/// The usage writer's backlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageBacklog {
    /// Events queued in memory.
    pub queued: usize,
    /// Events spooled to disk while the database was away.
    pub spooled: usize,
    /// Events not yet written, wherever they wait.
    pub pending: usize,
    /// Whether the last write reached the database.
    pub database_up: bool,
}

impl Relay {
    /// What the relay holds right now.
    pub fn held(&self) -> Held {
        let state = self.keys.state();
        let (reserved, slots) = state.totals();
        let (requests, bytes) = self.budget.used();
        Held {
            reserved,
            slots,
            waiting: state.waiting(),
            requests,
            bytes,
        }
    }

    /// Requests waiting in one key's concurrency queue.
    pub fn key_waiting(&self, key_id: &str) -> usize {
        self.keys.state().slots(key_id).waiting()
    }

    /// Unknown keys remembered as unknown (refused without a database lookup for a while).
    pub fn unknown_keys_remembered(&self) -> usize {
        self.keys.unknown_remembered()
    }

    /// The usage writer's backlog.
    pub fn usage_backlog(&self) -> UsageBacklog {
        UsageBacklog {
            queued: self.writer.queued(),
            spooled: self.writer.spooled(),
            pending: self.writer.pending(),
            database_up: self.writer.database_up(),
        }
    }

    /// One round trip to the database.
    pub async fn ping_database(&self) -> StoreResult<()> {
        self.store.ping().await
    }

    /// Loads and decrypts every account, with the statuses `serve` last recorded (a detached
    /// relay starts with an empty pool).
    pub async fn load_accounts(&self) -> anyhow::Result<()> {
        self.scheduler.reload(true).await
    }

    /// Rounds of the housekeeping loop (configuration poll, pool saturation, budgets) so far:
    /// a test waits for rounds instead of for the interval.
    pub fn housekeeping_rounds(&self) -> u64 {
        self.housekeeping_rounds
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// The shutdown grace period is over: open requests and streams end now, each billing what
    /// it saw.
    pub fn cut_open_streams(&self) {
        self.cut.cancel();
    }
}
