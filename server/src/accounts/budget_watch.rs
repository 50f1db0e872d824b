//! Account budgets' stop within a second, on every instance. One task per serving process
//! runs every look at the budgets ([`super::budget_check::check`]) the relay makes on its own,
//! one after the other (so an older look never undoes a newer one):
//!
//! - every `housekeeping_interval_ms` (5 s), as before;
//! - soon after the usage writer settled spend of an account whose budget can still stop it
//!   (at most one look per [`MIN_GAP`]): the writer's transaction is what crosses a budget;
//! - when another instance says the budgets changed (`budgets` on the change channel, sent
//!   by the triggers of migration 0023 when a budget is set, removed or topped up, and by an
//!   instance whose look changed which accounts are stopped).
//!
//! With several instances (`CLUSTER=1`) a look that changes the set of stopped accounts is
//! announced (`budgets:<instance>`), and the others look at once: the settling instance finds
//! the crossing, the rest follow within the round trip of a notification.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::budget_check;
use crate::scheduler::Scheduler;
use crate::storage::{now_ms, Store};
use crate::webhooks::Webhooks;

/// The least time between two looks caused by settled spend.
pub const MIN_GAP: Duration = Duration::from_millis(250);
/// The payload prefix of "the budgets changed" on the change channel.
pub const TOPIC: &str = "budgets";

/// What makes the task look.
enum Cue {
    /// The usage writer settled spend of these accounts.
    Settled(Vec<Arc<str>>),
    /// Another instance (or a budget's edit) changed the budgets.
    Heard,
}

/// The handle the change listener uses to tell the task what it heard.
#[derive(Clone)]
pub struct BudgetWatch {
    tx: mpsc::UnboundedSender<Cue>,
}

impl BudgetWatch {
    /// The budgets changed elsewhere: look now.
    pub fn heard(&self) {
        let _ = self.tx.send(Cue::Heard);
    }

    /// Whether a change-channel payload is about budgets, and not this instance's own.
    pub fn is_budget_news(payload: &str, instance: &str) -> bool {
        match payload.strip_prefix(TOPIC) {
            Some("") => true,
            Some(rest) => rest
                .strip_prefix(':')
                .is_some_and(|origin| origin != instance),
            None => false,
        }
    }
}

/// What the task works with.
pub struct Parts {
    pub store: Store,
    pub webhooks: Webhooks,
    pub scheduler: Arc<Scheduler>,
    pub tz: chrono_tz::Tz,
    pub every: Duration,
}

/// Starts the task; `settled` receives the accounts of each batch the usage writer wrote.
pub fn spawn(
    parts: Parts,
    settled: mpsc::UnboundedReceiver<Vec<Arc<str>>>,
    tasks: &tokio_util::task::TaskTracker,
    stop: CancellationToken,
) -> BudgetWatch {
    let (tx, rx) = mpsc::unbounded_channel();
    let forward = tx.clone();
    tasks.spawn(forward_settled(settled, forward, stop.clone()));
    tasks.spawn(run(parts, rx, stop));
    BudgetWatch { tx }
}

async fn forward_settled(
    mut settled: mpsc::UnboundedReceiver<Vec<Arc<str>>>,
    tx: mpsc::UnboundedSender<Cue>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            s = settled.recv() => match s {
                Some(accounts) => { let _ = tx.send(Cue::Settled(accounts)); }
                None => break,
            },
        }
    }
}

/// The task's memory between looks.
#[derive(Default)]
struct Watch {
    /// Accounts whose budget may still stop them (stop when exhausted, not stopped yet).
    stoppable: HashSet<String>,
    /// The accounts stopped after the last look.
    stopped: HashSet<String>,
    last: Option<Instant>,
}

async fn run(parts: Parts, mut rx: mpsc::UnboundedReceiver<Cue>, stop: CancellationToken) {
    let mut every = tokio::time::interval(parts.every.max(Duration::from_millis(1)));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut watch = Watch::default();
    // A look due because of settled spend (kept to MIN_GAP after the last look).
    let mut due: Option<Instant> = None;
    loop {
        let heard = tokio::select! {
            _ = stop.cancelled() => break,
            _ = every.tick() => false,
            _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => false,
            cue = rx.recv() => match cue {
                None => break,
                Some(Cue::Heard) => true,
                Some(Cue::Settled(accounts)) => {
                    if due.is_none() && accounts.iter().any(|a| watch.stoppable.contains(&**a)) {
                        let earliest = watch.last.map_or_else(Instant::now, |l| l + MIN_GAP);
                        due = Some(earliest.max(Instant::now()));
                    }
                    continue;
                }
            },
        };
        due = None;
        look(&parts, &mut watch, !heard).await;
    }
}

/// One look at every budget; announces a changed set of stopped accounts when `announce`.
async fn look(parts: &Parts, watch: &mut Watch, announce: bool) {
    watch.last = Some(Instant::now());
    let alerts = match budget_check::check(
        (&parts.store, &parts.webhooks, &parts.scheduler),
        parts.tz,
        now_ms(),
        true,
    )
    .await
    {
        Ok(alerts) => alerts,
        Err(e) => {
            tracing::warn!(error = %e, "checking account budgets failed");
            return;
        }
    };
    let stopped: HashSet<String> = alerts
        .iter()
        .filter(|a| a.budget.stopped)
        .map(|a| a.account_id.clone())
        .collect();
    watch.stoppable = alerts
        .iter()
        .filter(|a| a.budget.stop_when_exhausted && !a.budget.stopped)
        .map(|a| a.account_id.clone())
        .collect();
    let changed = stopped != watch.stopped;
    watch.stopped = stopped;
    if !(changed && announce) {
        return;
    }
    if let Some(cluster) = parts.scheduler.cluster() {
        let payload = format!("{TOPIC}:{}", cluster.instance());
        if let Err(e) = parts.store.notify(&payload).await {
            tracing::warn!(error = %e, "announcing the accounts stopped by their budget failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_news_is_told_apart_from_other_payloads_and_from_our_own() {
        assert!(BudgetWatch::is_budget_news("budgets", "me"));
        assert!(BudgetWatch::is_budget_news("budgets:other", "me"));
        assert!(!BudgetWatch::is_budget_news("budgets:me", "me"));
        assert!(!BudgetWatch::is_budget_news("budgetsx", "me"));
        assert!(!BudgetWatch::is_budget_news("pool", "me"));
    }
}
