//! Picking an account for one attempt: eligibility ([`Unfit`] says why not), a live sticky
//! mapping first, then the best rank; the probe of a cooling account when nothing else can
//! serve.

use std::sync::Arc;
use std::time::Duration;

use app::types::Platform;

use super::health::Availability;
use super::pool::{self, platform_index, UpstreamAccount};
use super::{Lease, NoAccount, Scheduler};
use crate::limits::{Binding, KeyLimits};

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
            slot: false,
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

    /// Picks an account for one attempt, as [`Scheduler::select`] does; with several instances
    /// it first reads a conversation's mapping from the database when this instance has none
    /// it can use, and makes sure a capped account has a slot under its cap across instances
    /// (trying the next best when all are taken elsewhere).
    pub async fn schedule(
        &self,
        key: &KeyLimits,
        platform: Platform,
        model: &str,
        session: Option<u64>,
        exclude: &[Arc<str>],
        now: i64,
    ) -> Result<Lease, NoAccount> {
        let Some(cluster) = &self.cluster else {
            return self.select(key, platform, model, session, exclude, now);
        };
        cluster.statements().scheduled();
        if let Some(session) = session {
            let snap = self.pool.load_full();
            let usable = |id: &str| {
                snap.by_id.get(id).is_some_and(|a| {
                    a.is_active
                        && a.schedulable
                        && a.unusable.is_none()
                        && self.live.availability(id, now) == Availability::Available
                })
            };
            cluster.fetch_sticky(&key.id, session, now, usable).await;
        }
        let peek = |now| session.and_then(|s| self.live.sticky().peek(&key.id, s, now));
        let before = peek(now);
        let mut skip: Vec<Arc<str>> = exclude.to_vec();
        let lease = loop {
            let now = self.now_ms();
            let mut lease = match self.select(key, platform, model, session, &skip, now) {
                Ok(lease) => lease,
                Err(none) if skip.len() == exclude.len() => return Err(none),
                Err(_) => return Err(self.all_busy(key, platform)),
            };
            let Some(max) = lease.account.max_concurrency.filter(|m| *m > 0) else {
                break lease;
            };
            if cluster.confirm_slot(&lease.account.id, max).await {
                lease.slot = true;
                break lease;
            }
            skip.push(lease.account.id.clone());
        };
        if let (Some(s), Some((account, expires))) = (session, peek(now)) {
            if before.as_ref().is_none_or(|(b, _)| *b != account) {
                cluster.bind_sticky(&key.id, s, &account, expires).await;
            }
        }
        Ok(lease)
    }

    /// Every account that could serve is at its concurrency cap across instances.
    fn all_busy(&self, key: &KeyLimits, platform: Platform) -> NoAccount {
        match key.binding(platform) {
            Binding::Account(id) if !key.allow_pool_fallback => NoAccount::Dedicated {
                account: id.to_string(),
                reason: "the account is at its concurrency limit".into(),
                retry_after: None,
            },
            _ => NoAccount::NoneEligible {
                reason: "every eligible account is busy".into(),
                retry_after: None,
            },
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
}
