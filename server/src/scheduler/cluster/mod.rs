//! The scheduler's live state shared by several instances on one PostgreSQL
//! (`CLUSTER=1`, see `limits::cluster::ClusterOpts`). Everything stays in memory as with one instance ([`MemoryLive`]);
//! what others must see goes through the database off the hot path:
//!
//! - account health: a change of status or cooldown seen here is stored on the account row
//!   and announced on the change channel in one statement; every instance (this one included,
//!   so all end in the order of the database) takes it over ([`ClusterLive::apply`]);
//! - sticky sessions: a new binding is written before its request goes on (one statement
//!   per conversation), renewals are written behind in batches; an instance that has no live
//!   mapping for a conversation (or whose mapped account cannot serve now) reads the database
//!   once before choosing ([`ClusterLive::fetch_sticky`]);
//! - `maxConcurrency`: slots held per instance ([`slots`]).
//!
//! Per instance by choice: the failure counts that lead to a cooldown or an error, and the
//! half-open probe. Sharing the counts would cost a statement per failed request and one on
//! the first success after a failure (a success anywhere clears them) and buys little: the
//! state they lead to is shared, so the first instance to reach a threshold moves every
//! instance within a second; before that an account answers at most N × the threshold failed
//! requests (each failed over) instead of the threshold. After a cooldown each instance sends
//! its own probe (at most N instead of one); the first verdict reaches all, and a later probe
//! failing during the new cooldown keeps it rather than doubling it again.

pub mod slots;
mod tasks;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use app::types::AccountStatus;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::health::{Availability, Health, Outcome, Transition};
use super::live::{LiveState, MemoryLive, Traffic};
use super::sticky::StickyMap;
use crate::storage::Store;
use slots::SlotBook;

pub use tasks::{publish_queued, start};

/// An account's health as announced on the change channel (payload `health:<json>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthNote {
    /// The announcing instance and its sequence number there.
    pub origin: String,
    pub seq: u64,
    pub account: String,
    pub status: AccountStatus,
    pub cooldown_until: Option<i64>,
    pub message: String,
    pub backoff_ms: i64,
    pub at: i64,
}

impl HealthNote {
    pub const PREFIX: &'static str = "health:";

    pub fn payload(&self) -> String {
        format!(
            "{}{}",
            Self::PREFIX,
            serde_json::to_string(self).unwrap_or_default()
        )
    }

    pub fn parse(payload: &str) -> Option<HealthNote> {
        serde_json::from_str(payload.strip_prefix(Self::PREFIX)?).ok()
    }
}

/// Database statements the shared state made, by kind, and requests scheduled: what sharing
/// costs the database per request (`/metrics`).
#[derive(Default)]
pub struct Statements {
    counts: [AtomicU64; Statements::KINDS.len()],
    scheduled: AtomicU64,
}

impl Statements {
    pub const KINDS: [&'static str; 7] = [
        "sticky_read",
        "sticky_bind",
        "sticky_renew",
        "slot_take",
        "slot_give_back",
        "slot_heartbeat",
        "health_announce",
    ];

    pub fn count(&self, kind: &str) {
        if let Some(i) = Self::KINDS.iter().position(|k| *k == kind) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn scheduled(&self) {
        self.scheduled.fetch_add(1, Ordering::Relaxed);
    }

    /// `(kind, statements)` and the requests scheduled.
    pub fn figures(&self) -> (Vec<(&'static str, u64)>, u64) {
        let by_kind = Self::KINDS
            .iter()
            .zip(&self.counts)
            .map(|(k, c)| (*k, c.load(Ordering::Relaxed)))
            .collect();
        (by_kind, self.scheduled.load(Ordering::Relaxed))
    }
}

pub struct ClusterLive {
    inner: MemoryLive,
    stats: Statements,
    instance: Arc<str>,
    store: Store,
    slots: SlotBook,
    lease_ms: i64,
    notes: mpsc::UnboundedSender<HealthNote>,
    seq: AtomicU64,
    /// The last sequence number this instance announced per account: its own older notes
    /// coming back are skipped, a newer local change is already in force.
    announced: Mutex<HashMap<Arc<str>, u64>>,
}

/// What the background tasks of [`start`] consume.
pub struct Outbox {
    pub notes: mpsc::UnboundedReceiver<HealthNote>,
    pub sticky: mpsc::UnboundedReceiver<super::sticky::StickyWrite>,
}

impl ClusterLive {
    /// A live state shared through `store`; this instance's slots outlive its last renewal by
    /// `lease_ms` (`CLUSTER_LEASE_SECS`).
    pub fn new(inner: MemoryLive, store: Store, lease_ms: i64) -> (Arc<ClusterLive>, Outbox) {
        let (notes_tx, notes) = mpsc::unbounded_channel();
        let (sticky_tx, sticky) = mpsc::unbounded_channel();
        inner.sticky().share_to(sticky_tx);
        let live = Arc::new(ClusterLive {
            inner,
            stats: Statements::default(),
            instance: store
                .cluster_instance()
                .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
                .into(),
            store,
            slots: SlotBook::default(),
            lease_ms: lease_ms.max(1_000),
            notes: notes_tx,
            seq: AtomicU64::new(0),
            announced: Mutex::new(HashMap::new()),
        });
        (live, Outbox { notes, sticky })
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub fn slots(&self) -> &SlotBook {
        &self.slots
    }

    /// How long this instance's slots outlive its last renewal.
    pub fn lease_ms(&self) -> i64 {
        self.lease_ms
    }

    pub fn statements(&self) -> &Statements {
        &self.stats
    }

    /// Runs `f` (a change of the account's health) and announces the result when the status
    /// or the cooldown moved.
    fn changing<R>(&self, account: &str, now: i64, f: impl FnOnce() -> R) -> R {
        let before = self.inner.health_key(account);
        let out = f();
        let after = self.inner.health_key(account);
        if before != after {
            // Numbered and queued under one lock: the queue's order is the numbers' order,
            // and each note carries the state as it is when queued.
            let mut announced = self.announced.lock();
            let h = self.inner.health(account);
            let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
            announced.insert(account.into(), seq);
            let _ = self.notes.send(HealthNote {
                origin: self.instance.to_string(),
                seq,
                account: account.to_owned(),
                status: h.status,
                cooldown_until: h.cooldown_until,
                message: h.message.chars().take(500).collect(),
                backoff_ms: h.backoff_ms(),
                at: now,
            });
        }
        out
    }

    /// Takes over a health change announced on the change channel (any instance's, in the
    /// database's order).
    pub fn apply(&self, note: HealthNote) {
        if note.origin == *self.instance {
            let latest = self.announced.lock().get(note.account.as_str()).copied();
            if latest.is_some_and(|l| note.seq < l) {
                return;
            }
        }
        self.inner.with_health(&note.account, |h| {
            h.apply_shared(
                note.status,
                note.cooldown_until,
                note.message,
                note.backoff_ms,
            )
        });
    }

    /// Takes over the stored health of every account whose status or cooldown differs from
    /// what this instance holds (catching up after lost notifications).
    pub fn adopt_stored(&self, rows: Vec<crate::storage::shared_live::HealthRow>) {
        for (id, status, message, cooldown_until) in rows {
            let status = AccountStatus::parse(&status).unwrap_or_default();
            let (s, c) = self.inner.health_key(&id);
            let s = if s == AccountStatus::Disabled {
                AccountStatus::Active
            } else {
                s
            };
            let stored = if status == AccountStatus::Disabled {
                AccountStatus::Active
            } else {
                status
            };
            if (s, c) != (stored, cooldown_until) {
                self.inner.with_health(&id, |h| {
                    let backoff = h.backoff_ms();
                    h.apply_shared(status, cooldown_until, message.unwrap_or_default(), backoff)
                });
            }
        }
    }

    /// Seeds this instance's sticky map from the database when it has no mapping for the
    /// conversation that it could use now (`usable` says whether an account can serve).
    pub async fn fetch_sticky(
        &self,
        key_id: &Arc<str>,
        session: u64,
        now: i64,
        usable: impl Fn(&str) -> bool,
    ) {
        let sticky = self.inner.sticky();
        if sticky
            .peek(key_id, session, now)
            .is_some_and(|(a, _)| usable(&a))
        {
            return;
        }
        self.stats.count("sticky_read");
        match self.store.sticky_get(key_id, session as i64, now).await {
            Ok(Some((account, expires_at))) => {
                sticky.seed(key_id, session, account.into(), expires_at)
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "reading a shared sticky session failed"),
        }
    }

    /// Writes a conversation's new binding before its request goes on, so its next turn finds
    /// it on any instance.
    pub async fn bind_sticky(&self, key_id: &str, session: u64, account: &str, expires_at: i64) {
        let row = (
            key_id.to_owned(),
            session as i64,
            account.to_owned(),
            expires_at,
        );
        self.stats.count("sticky_bind");
        if let Err(e) = self.store.sticky_put(&[row]).await {
            tracing::warn!(error = %e, "writing a shared sticky session failed");
        }
    }

    /// Makes sure a request taking `account` (capped at `max`) holds one of its slots:
    /// a free held one, or one more from the database. False when every instance together is
    /// at the cap (or the database cannot say).
    pub async fn confirm_slot(&self, account: &Arc<str>, max: u32) -> bool {
        if self.slots.claim(account) {
            return true;
        }
        let lease = self.lease_ms;
        self.stats.count("slot_take");
        match self
            .store
            .slot_take(account, &self.instance, max, lease)
            .await
        {
            Ok(true) => {
                self.slots.granted(account);
                true
            }
            Ok(false) => false,
            Err(e) => {
                tracing::warn!(error = %e, account = %account, "taking a concurrency slot failed");
                false
            }
        }
    }
}

impl LiveState for ClusterLive {
    fn in_flight(&self, account: &str) -> u32 {
        self.inner.in_flight(account)
    }
    fn try_acquire(&self, account: &str, max: Option<u32>, now: i64) -> bool {
        self.inner.try_acquire(account, max, now)
    }
    fn release(&self, account: &str) {
        self.inner.release(account)
    }
    fn release_slot(&self, account: &str) {
        self.slots.release(account)
    }
    fn last_used(&self, account: &str) -> i64 {
        self.inner.last_used(account)
    }
    fn availability(&self, account: &str, now: i64) -> Availability {
        self.inner.availability(account, now)
    }
    fn claim_probe(&self, account: &str) -> bool {
        self.inner.claim_probe(account)
    }
    fn abandon_probe(&self, account: &str) {
        self.inner.abandon_probe(account)
    }
    fn report(&self, account: &str, outcome: Outcome, now: i64) -> Option<Transition> {
        self.changing(account, now, || self.inner.report(account, outcome, now))
    }
    fn reset(&self, account: &str, now: i64) -> Option<Transition> {
        self.changing(account, now, || self.inner.reset(account, now))
    }
    fn credential_refused(
        &self,
        account: &str,
        status: u16,
        message: String,
        now: i64,
    ) -> Option<Transition> {
        self.changing(account, now, || {
            self.inner.credential_refused(account, status, message, now)
        })
    }
    fn restore(
        &self,
        account: &str,
        status: AccountStatus,
        cooldown_until: Option<i64>,
        message: String,
    ) {
        self.inner.restore(account, status, cooldown_until, message)
    }
    fn health(&self, account: &str) -> Health {
        self.inner.health(account)
    }
    fn traffic(&self, account: &str, now: i64) -> Traffic {
        self.inner.traffic(account, now)
    }
    fn sticky(&self) -> &StickyMap {
        self.inner.sticky()
    }
}

#[cfg(test)]
mod tests;
