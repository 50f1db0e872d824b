//! Choosing an upstream account for a request.
//!
//! Among the eligible accounts — by the key's binding (shared pool, one dedicated account, or
//! a group), platform, model support, status and cooldown, and the account's concurrency cap —
//! a live sticky mapping wins; otherwise the lowest `priority` tier, then the fewest requests
//! in flight, then the least recently used. One pass over the candidates, no database access.
//! Live state sits behind [`live::LiveState`]; state changes go out on a channel to be
//! recorded and announced off the hot path.

pub mod cluster;
pub mod health;
pub mod live;
pub mod pool;
pub mod recorder;
pub mod saturation;
mod select;
pub mod sticky;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use app::types::{AccountStatus, AccountType, Platform};
use arc_swap::ArcSwap;
use tokio::sync::mpsc;

use crate::clock::SharedClock;
use crate::crypto::Cipher;
use crate::storage::Store;
use crate::upstream_http::HttpClients;
use health::{Outcome, Transition};
use live::LiveState;
use pool::{build_account, platform_index, GroupInfo, PoolSnapshot, UpstreamAccount};

/// In flight and capacity of a set of accounts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolLoad {
    pub accounts: u32,
    pub in_flight: u32,
    pub capacity: u32,
}

impl PoolLoad {
    /// In flight ÷ capacity (0 without capacity).
    pub fn utilization(&self) -> f64 {
        if self.capacity == 0 {
            0.0
        } else {
            self.in_flight as f64 / self.capacity as f64
        }
    }
}

/// A state change of an account, for the recorder (database + webhooks).
#[derive(Clone, Debug)]
pub struct AccountTransition {
    pub account_id: Arc<str>,
    pub account_name: String,
    pub platform: Platform,
    pub transition: Transition,
}

/// Why no account could take a request.
#[derive(Clone, Debug, PartialEq)]
pub enum NoAccount {
    /// The key's dedicated account cannot serve (and pool fallback is off); `retry_after`
    /// when its cooldown ends.
    Dedicated {
        account: String,
        reason: String,
        retry_after: Option<Duration>,
    },
    /// The key's group does not exist (any more) or belongs to another platform.
    GroupMissing { group: String },
    /// Nobody eligible right now; `retry_after` when a cooldown ends soon.
    NoneEligible {
        reason: String,
        retry_after: Option<Duration>,
    },
}

pub struct Scheduler {
    store: Store,
    cipher: Cipher,
    clients: Arc<HttpClients>,
    pool: ArcSwap<PoolSnapshot>,
    live: Arc<dyn LiveState>,
    transitions: mpsc::UnboundedSender<AccountTransition>,
    sticky_grace_ms: i64,
    /// One rebuild at a time, so a slower older rebuild never replaces a newer snapshot.
    reloading: tokio::sync::Mutex<()>,
    /// Accounts whose budget is used up and set to stop taking requests
    /// (`accounts::budget_check`).
    budget_stopped: ArcSwap<std::collections::HashSet<String>>,
    /// The time of cooldowns, probes and sticky mappings: callers read `now` from here.
    clock: SharedClock,
    /// Set when several instances share the live state (`CLUSTER=1`).
    cluster: Option<Arc<cluster::ClusterLive>>,
    /// The shared state's queues, until its tasks start.
    outbox: parking_lot::Mutex<Option<cluster::Outbox>>,
}

/// An account taken for one attempt. Dropping it frees the in-flight count (and an unused
/// probe claim).
pub struct Lease {
    pub account: Arc<UpstreamAccount>,
    live: Arc<dyn LiveState>,
    probe: bool,
    reported: bool,
    /// Holds one of the account's concurrency slots shared by instances.
    slot: bool,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.live.release(&self.account.id);
        if self.slot {
            self.live.release_slot(&self.account.id);
        }
        if self.probe && !self.reported {
            self.live.abandon_probe(&self.account.id);
        }
    }
}

impl Scheduler {
    pub fn new(
        store: Store,
        cipher: Cipher,
        clients: Arc<HttpClients>,
        live: Arc<dyn LiveState>,
        sticky_grace: Duration,
        transitions: mpsc::UnboundedSender<AccountTransition>,
        clock: SharedClock,
    ) -> Self {
        Scheduler {
            store,
            cipher,
            clients,
            pool: ArcSwap::from_pointee(PoolSnapshot::default()),
            live,
            transitions,
            sticky_grace_ms: sticky_grace.as_millis() as i64,
            reloading: tokio::sync::Mutex::new(()),
            budget_stopped: ArcSwap::from_pointee(Default::default()),
            clock,
            cluster: None,
            outbox: parking_lot::Mutex::new(None),
        }
    }

    /// A scheduler whose live state several instances share: `live` must be `cluster`.
    pub fn shared(mut self, cluster: Arc<cluster::ClusterLive>, outbox: cluster::Outbox) -> Self {
        self.cluster = Some(cluster);
        *self.outbox.get_mut() = Some(outbox);
        self
    }

    /// The shared live state, when several instances share it.
    pub fn cluster(&self) -> Option<&Arc<cluster::ClusterLive>> {
        self.cluster.as_ref()
    }

    /// The shared state's queues, once (for its background tasks).
    pub fn take_outbox(&self) -> Option<cluster::Outbox> {
        self.outbox.lock().take()
    }

    /// The current time of this scheduler's clock (epoch ms): the `now` of every call into it.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Replaces the accounts that stop taking requests because their budget is used up.
    pub fn set_budget_stopped(&self, accounts: std::collections::HashSet<String>) {
        if **self.budget_stopped.load() != accounts {
            self.budget_stopped.store(Arc::new(accounts));
        }
    }

    /// Whether the account is stopped by its budget.
    pub fn budget_stopped(&self, account_id: &str) -> bool {
        self.budget_stopped.load().contains(account_id)
    }

    pub fn live(&self) -> &Arc<dyn LiveState> {
        &self.live
    }

    pub fn snapshot(&self) -> Arc<PoolSnapshot> {
        self.pool.load_full()
    }

    /// Rebuilds the account snapshot from the database. `restore_health` (at startup) also
    /// restores persisted statuses and cooldowns into the live state.
    pub async fn reload(&self, restore_health: bool) -> anyhow::Result<()> {
        let _one_at_a_time = self.reloading.lock().await;
        let rows = self.store.list_accounts().await?;
        let groups = self.store.list_groups().await?;
        let memberships = self.store.group_memberships().await?;
        let mut groups_of: HashMap<&str, Vec<Arc<str>>> = HashMap::new();
        for (g, a) in &memberships {
            groups_of
                .entry(a.as_str())
                .or_default()
                .push(g.as_str().into());
        }
        let mut snap = PoolSnapshot::default();
        let mut proxies = Vec::new();
        for row in &rows {
            let account = Arc::new(build_account(
                row,
                groups_of.remove(row.id.as_str()).unwrap_or_default(),
                &self.cipher,
                &self.clients,
            ));
            if restore_health {
                self.live.restore(
                    &account.id,
                    account.stored_status,
                    account.stored_cooldown_until,
                    account.stored_message.clone(),
                );
            }
            if account.account_type == AccountType::Shared {
                snap.shared[platform_index(account.platform)].push(account.clone());
            }
            proxies.push(
                row.proxy_enc
                    .as_deref()
                    .and_then(|p| {
                        self.cipher
                            .decrypt(crate::crypto::Binding::account_proxy(&row.id), p)
                            .ok()
                    })
                    .map(|p| p.expose().clone()),
            );
            snap.by_id.insert(account.id.clone(), account);
        }
        for g in &groups {
            let Some(platform) = Platform::parse(&g.platform) else {
                continue;
            };
            let members = memberships
                .iter()
                .filter(|(gid, _)| gid == &g.id)
                .filter_map(|(_, aid)| snap.by_id.get(aid.as_str()).cloned())
                .collect();
            snap.groups.insert(
                g.id.as_str().into(),
                GroupInfo {
                    platform,
                    members,
                    sticky_mode: pool::StickyMode::parse(&g.sticky_mode),
                },
            );
        }
        proxies.push(None);
        self.clients.retain(&proxies);
        self.pool.store(Arc::new(snap));
        Ok(())
    }

    /// Feeds an attempt's outcome into the account's health.
    pub fn report(&self, lease: &mut Lease, outcome: Outcome, now: i64) {
        lease.reported = true;
        if let Some(t) = self.live.report(&lease.account.id, outcome, now) {
            self.announce(&lease.account, t);
        }
    }

    /// An admin reset (or a successful test): back to active.
    pub fn reset_account(&self, id: &str, now: i64) {
        let snap = self.pool.load();
        if let Some(a) = snap.by_id.get(id) {
            if let Some(t) = self.live.reset(id, now) {
                self.announce(a, t);
            }
        }
    }

    /// An account test was refused for the account's credential (401/403): `error`.
    pub fn credential_refused(&self, id: &str, status: u16, message: String, now: i64) {
        let snap = self.pool.load();
        if let Some(a) = snap.by_id.get(id) {
            if let Some(t) = self.live.credential_refused(id, status, message, now) {
                self.announce(a, t);
            }
        }
    }

    fn announce(&self, a: &UpstreamAccount, transition: Transition) {
        tracing::warn!(
            account = %a.id,
            from = transition.from.as_str(),
            to = transition.to.as_str(),
            status = ?transition.http_status,
            "account state changed: {}",
            transition.message
        );
        let _ = self.transitions.send(AccountTransition {
            account_id: a.id.clone(),
            account_name: a.name.clone(),
            platform: a.platform,
            transition,
        });
    }

    /// Requests in flight and capacity of a set of accounts (pool utilization). Only accounts
    /// that can take requests add capacity; one without `maxConcurrency` counts as
    /// `default_capacity`.
    pub fn load_of<'a>(
        &self,
        accounts: impl Iterator<Item = &'a UpstreamAccount>,
        default_capacity: u32,
    ) -> PoolLoad {
        let mut load = PoolLoad::default();
        for a in accounts {
            load.in_flight += self.live.in_flight(&a.id);
            if a.is_active && a.schedulable && a.unusable.is_none() {
                load.accounts += 1;
                load.capacity += a
                    .max_concurrency
                    .filter(|m| *m > 0)
                    .unwrap_or(default_capacity);
            }
        }
        load
    }

    /// The status to show for an account: disabled by the admin, else its health.
    pub fn display_status(
        &self,
        id: &str,
        is_active: bool,
    ) -> (AccountStatus, Option<i64>, String) {
        if !is_active {
            return (AccountStatus::Disabled, None, String::new());
        }
        let h = self.live.health(id);
        (h.status, h.cooldown_until, h.message)
    }
}
