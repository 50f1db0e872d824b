//! Choosing an upstream account for a request.
//!
//! Among the eligible accounts — by the key's binding (shared pool, one dedicated account, or
//! a group), platform, model support, status and cooldown, and the account's concurrency cap —
//! a live sticky mapping wins; otherwise the lowest `priority` tier, then the fewest requests
//! in flight, then the least recently used. One pass over the candidates, no database access.
//! Live state sits behind [`live::LiveState`]; state changes go out on a channel to be
//! recorded and announced off the hot path.

pub mod health;
pub mod live;
pub mod pool;
pub mod sticky;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use app::types::{AccountStatus, AccountType, Platform};
use arc_swap::ArcSwap;
use tokio::sync::mpsc;

use crate::crypto::Cipher;
use crate::limits::{Binding, KeyLimits};
use crate::storage::Store;
use crate::upstream_http::HttpClients;
use health::{Availability, Outcome, Transition};
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
}

/// An account taken for one attempt. Dropping it frees the in-flight count (and an unused
/// probe claim).
pub struct Lease {
    pub account: Arc<UpstreamAccount>,
    live: Arc<dyn LiveState>,
    probe: bool,
    reported: bool,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.live.release(&self.account.id);
        if self.probe && !self.reported {
            self.live.abandon_probe(&self.account.id);
        }
    }
}

/// The wait until `until`, at least a second (what `Retry-After` can say).
fn until_duration(until: i64, now: i64) -> Duration {
    Duration::from_millis((until - now).max(1000) as u64)
}

/// Lower is better: priority tier, then requests in flight, then least recently used.
type Rank = (i32, u32, i64);

/// Why an account cannot take a request now.
enum Unfit {
    /// Not right now, but soon (cooling down until, or at its concurrency cap).
    Brief(Option<i64>),
    /// Not until something changes (inactive, broken, wrong model).
    Lasting(String),
}

impl Scheduler {
    pub fn new(
        store: Store,
        cipher: Cipher,
        clients: Arc<HttpClients>,
        live: Arc<dyn LiveState>,
        sticky_grace: Duration,
        transitions: mpsc::UnboundedSender<AccountTransition>,
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
        }
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

    fn fitness(&self, a: &UpstreamAccount, model: &str, now: i64) -> Result<bool, Unfit> {
        if let Some(why) = &a.unusable {
            return Err(Unfit::Lasting(why.clone()));
        }
        if !a.is_active {
            return Err(Unfit::Lasting("the account is disabled".into()));
        }
        if !a.schedulable {
            return Err(Unfit::Lasting("the account is not schedulable".into()));
        }
        if self.budget_stopped(&a.id) {
            return Err(Unfit::Lasting("the account's budget is used up".into()));
        }
        if !a.supports(model) {
            return Err(Unfit::Lasting(format!(
                "the account does not serve model {model}"
            )));
        }
        let probe = match self.live.availability(&a.id, now) {
            Availability::Available => false,
            Availability::HalfOpen => true,
            Availability::CoolingDown { until } => return Err(Unfit::Brief(Some(until))),
            // The upstream's own message stays on the dashboard: it describes the operator's
            // account, not the client's request.
            Availability::Broken => {
                return Err(Unfit::Lasting(
                    "the account is in error and needs an administrator".into(),
                ))
            }
        };
        if let Some(max) = a.max_concurrency {
            if self.live.in_flight(&a.id) >= max {
                return Err(Unfit::Brief(None));
            }
        }
        Ok(probe)
    }

    fn lease(&self, a: &Arc<UpstreamAccount>, probe: bool, now: i64) -> Option<Lease> {
        if probe && !self.live.claim_probe(&a.id) {
            return None;
        }
        if !self.live.try_acquire(&a.id, a.max_concurrency, now) {
            if probe {
                self.live.abandon_probe(&a.id);
            }
            return None;
        }
        Some(Lease {
            account: a.clone(),
            live: self.live.clone(),
            probe,
            reported: false,
        })
    }

    /// Picks an account for one attempt. `exclude` lists accounts already tried.
    pub fn select(
        &self,
        key: &KeyLimits,
        platform: Platform,
        model: &str,
        session: Option<u64>,
        exclude: &[Arc<str>],
        now: i64,
    ) -> Result<Lease, NoAccount> {
        let snap = self.pool.load();
        let sticky_mode = match key.binding(platform) {
            Binding::Group(id) => snap.groups.get(id).map(|g| g.sticky_mode),
            _ => None,
        }
        .unwrap_or_default();
        let candidates: &[Arc<UpstreamAccount>] = match key.binding(platform) {
            Binding::Pool => &snap.shared[platform_index(platform)],
            Binding::Group(id) => match snap.groups.get(id) {
                Some(g) if g.platform == platform => &g.members,
                _ => {
                    return Err(NoAccount::GroupMissing {
                        group: id.to_string(),
                    })
                }
            },
            Binding::Account(id) => {
                let mut retry_after = None;
                let reason = match snap.by_id.get(id) {
                    Some(a) if a.platform != platform => {
                        format!("the account is a {} account", a.platform.as_str())
                    }
                    Some(a) if exclude.contains(&a.id) => {
                        "the account failed this request".to_string()
                    }
                    Some(a) => match self.fitness(a, model, now) {
                        Ok(probe) => match self.lease(a, probe, now) {
                            Some(lease) => return Ok(lease),
                            None => "the account is busy".to_string(),
                        },
                        Err(Unfit::Brief(Some(until))) => {
                            // Nothing else to try: one probe before refusing.
                            if exclude.is_empty() && !key.allow_pool_fallback {
                                if let Some(lease) = self.lease(a, true, now) {
                                    return Ok(lease);
                                }
                            }
                            retry_after = Some(until_duration(until, now));
                            format!(
                                "the account is cooling down for {}s",
                                ((until - now) / 1000).max(1)
                            )
                        }
                        Err(Unfit::Brief(None)) => "the account is at its concurrency limit".into(),
                        Err(Unfit::Lasting(why)) => why,
                    },
                    None => "the account no longer exists".into(),
                };
                if !key.allow_pool_fallback {
                    return Err(NoAccount::Dedicated {
                        account: id.to_string(),
                        reason,
                        retry_after,
                    });
                }
                &snap.shared[platform_index(platform)]
            }
        };

        // A live sticky mapping wins; a briefly unavailable sticky account keeps its mapping.
        let mut keep_mapping = false;
        if let Some(session) = session {
            if let Some(sticky_id) = self.live.sticky().get(&key.id, session, now) {
                if let Some(a) = candidates.iter().find(|a| a.id == sticky_id) {
                    if !exclude.contains(&a.id) {
                        match self.fitness(a, model, now) {
                            Ok(probe) => {
                                if let Some(lease) = self.lease(a, probe, now) {
                                    return Ok(lease);
                                }
                                keep_mapping = true;
                            }
                            Err(Unfit::Brief(None)) => keep_mapping = true,
                            Err(Unfit::Brief(Some(until))) => {
                                keep_mapping = match sticky_mode {
                                    pool::StickyMode::Grace => until - now <= self.sticky_grace_ms,
                                    pool::StickyMode::Keep => true,
                                    pool::StickyMode::Move => false,
                                }
                            }
                            Err(Unfit::Lasting(_)) => {}
                        }
                    } else {
                        // Failing over within one request keeps the conversation's home if the
                        // failure was brief; the health rules decide that on the next request.
                        // A group that moves conversations at once moves it now.
                        keep_mapping = sticky_mode != pool::StickyMode::Move;
                    }
                }
            }
        }

        let mut tried: Vec<&Arc<str>> = Vec::new();
        loop {
            // (account, needs a probe, rank: priority, in flight, last used)
            let mut best: Option<(&Arc<UpstreamAccount>, bool, Rank)> = None;
            let mut soonest: Option<i64> = None;
            // The cooling account that recovers first, for the probe before a refusal.
            let mut recovers_first: Option<(&Arc<UpstreamAccount>, i64)> = None;
            let mut lasting: Option<String> = None;
            for a in candidates {
                if exclude.contains(&a.id) || tried.contains(&&a.id) {
                    continue;
                }
                match self.fitness(a, model, now) {
                    Ok(probe) => {
                        let rank = (
                            a.priority,
                            self.live.in_flight(&a.id),
                            self.live.last_used(&a.id),
                        );
                        if best.as_ref().is_none_or(|(_, _, r)| rank < *r) {
                            best = Some((a, probe, rank));
                        }
                    }
                    Err(Unfit::Brief(until)) => {
                        if let Some(u) = until {
                            soonest = Some(soonest.map_or(u, |s| s.min(u)));
                            if recovers_first.is_none_or(|(_, r)| u < r) {
                                recovers_first = Some((a, u));
                            }
                        }
                    }
                    Err(Unfit::Lasting(why)) => lasting = Some(why),
                }
            }
            let Some((a, probe, _)) = best else {
                // Every eligible account is cooling down: the first request to find so tries the
                // one that recovers first, once, as its probe (a concurrent one finds the probe
                // taken). A success ends its cooldown for everyone.
                if let Some((first, _)) = recovers_first.filter(|_| exclude.is_empty()) {
                    if !tried.contains(&&first.id) {
                        if let Some(lease) = self.lease(first, true, now) {
                            return Ok(lease);
                        }
                    }
                }
                let reason = if candidates.is_empty() {
                    format!(
                        "no {} accounts are configured for this key",
                        platform.as_str()
                    )
                } else if let Some(u) = soonest {
                    format!(
                        "every eligible account is cooling down or busy (next in {}s)",
                        ((u - now) / 1000).max(1)
                    )
                } else if let Some(why) = lasting {
                    format!("no account can serve this request ({why})")
                } else {
                    "every eligible account is busy".into()
                };
                return Err(NoAccount::NoneEligible {
                    reason,
                    retry_after: soonest.map(|u| until_duration(u, now)),
                });
            };
            if let Some(lease) = self.lease(a, probe, now) {
                if let Some(session) = session {
                    if !keep_mapping {
                        self.live.sticky().set(&key.id, session, a.id.clone(), now);
                    }
                }
                return Ok(lease);
            }
            // Lost a race for its last slot or its probe: try the next best.
            tried.push(&a.id);
        }
    }

    /// How long until the first of `accounts` that is cooling down recovers, if any is.
    pub fn soonest_recovery(&self, accounts: &[Arc<str>], now: i64) -> Option<Duration> {
        accounts
            .iter()
            .filter_map(|id| match self.live.availability(id, now) {
                Availability::CoolingDown { until } => Some(until),
                _ => None,
            })
            .min()
            .map(|until| until_duration(until, now))
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
