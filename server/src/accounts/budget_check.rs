//! Looking at every account budget: where it stands (from the usage the writer has settled),
//! announcing each threshold crossing once (`account.budget_warning`,
//! `account.budget_exhausted`; the announcement is claimed in the database, so of several
//! instances one sends it), and telling the scheduler which accounts stop taking requests
//! because their budget is used up. Run by the relay's housekeeping every few seconds, after
//! budget changes, and by `tollgate accounts check`.

use std::collections::HashSet;

use app::types::{
    micros_to_usd, AccountBudget, BudgetAlert, BudgetKind, DEFAULT_BUDGET_THRESHOLDS,
};
use chrono::DateTime;

use super::budget::{self, Crossing, Standing, HOUR_MS, PROJECTION_DAYS};
use crate::scheduler::Scheduler;
use crate::storage::budgets::BudgetRow;
use crate::storage::{Store, StoreResult};
use crate::webhooks::{EventKind, Webhooks};

const DAY_MS: i64 = 86_400_000;

fn parse_list(text: &str) -> Vec<f64> {
    serde_json::from_str(text).unwrap_or_default()
}

fn list_json(list: &[f64]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

/// A budget's thresholds as stored (the defaults when none were set).
pub fn thresholds_of(row: &BudgetRow) -> Vec<f64> {
    let list = parse_list(&row.thresholds);
    if list.is_empty() {
        DEFAULT_BUDGET_THRESHOLDS.to_vec()
    } else {
        list
    }
}

/// The account's usage from `start` on: the hourly rollup from `start`'s hour, less that
/// hour's raw events before `start`, so a budget set (or a month reset) mid-hour does not count
/// the usage before it. Both are written in one transaction by the usage writer, so they agree;
/// once the raw events are pruned (`USAGE_RETENTION_DAYS`) the whole first hour counts.
pub async fn spend_since(store: &Store, account_id: &str, start: i64) -> StoreResult<i64> {
    let hour = budget::hour_floor(start);
    let mut spent = store.account_spend_since(account_id, hour).await?;
    if hour < start {
        spent -= store.account_event_spend(account_id, hour, start).await?;
    }
    Ok(spent.max(0))
}

/// Where one budget stands at `now`, and its current period.
pub async fn stand(
    store: &Store,
    row: &BudgetRow,
    now: i64,
    tz: chrono_tz::Tz,
) -> StoreResult<(Standing, i64, Option<i64>, i64)> {
    let kind = BudgetKind::parse(&row.kind).unwrap_or(BudgetKind::Prepaid);
    let (start, end) = match kind {
        BudgetKind::Prepaid => (row.created_at, None),
        BudgetKind::Monthly => {
            let (s, e) =
                budget::monthly_period(row.reset_day.unwrap_or(1).clamp(1, 28) as u32, now, tz);
            (s, Some(e))
        }
    };
    let top_ups = match kind {
        BudgetKind::Prepaid => store.budget_top_ups_since(&row.account_id, start).await?,
        BudgetKind::Monthly => 0,
    };
    let spent = spend_since(store, &row.account_id, start).await?;
    let recent = store
        .account_spend_since(
            &row.account_id,
            budget::hour_floor(now - PROJECTION_DAYS * DAY_MS) + HOUR_MS,
        )
        .await?;
    let limit = row.amount_micros.saturating_add(top_ups);
    Ok((
        budget::standing(limit, spent, recent, now, end),
        start,
        end,
        top_ups,
    ))
}

/// The budget as the API shows it.
pub fn view(
    row: &BudgetRow,
    s: &Standing,
    start: i64,
    top_ups: i64,
    stopped: bool,
) -> AccountBudget {
    let t = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap_or_default();
    AccountBudget {
        kind: BudgetKind::parse(&row.kind).unwrap_or(BudgetKind::Prepaid),
        amount_usd: micros_to_usd(row.amount_micros),
        reset_day: row.reset_day.map(|d| d.clamp(0, 31) as u32),
        thresholds: thresholds_of(row),
        stop_when_exhausted: row.stop_when_exhausted,
        top_ups_usd: micros_to_usd(top_ups),
        spent_usd: micros_to_usd(s.spent_micros),
        remaining_usd: micros_to_usd(s.remaining_micros),
        used: s.used,
        exhausted: s.exhausted,
        period_start: t(start),
        projected_run_out: s.projected_run_out.map(t),
        stopped,
    }
}

/// Looks at every budget: announces crossings (when `announce`; a report such as the CLI's
/// or the overview's leaves them to the serving instances), updates the scheduler's stopped
/// accounts, and returns every budget with its account.
pub async fn check(
    parts: (&Store, &Webhooks, &Scheduler),
    tz: chrono_tz::Tz,
    now: i64,
    announce: bool,
) -> StoreResult<Vec<BudgetAlert>> {
    let (store, webhooks, scheduler) = parts;
    let mut stopped = HashSet::new();
    let mut all = Vec::new();
    for (row, name) in store.account_budgets().await? {
        let (standing, start, _end, top_ups) = stand(store, &row, now, tz).await?;
        // A new monthly period starts with nothing announced.
        let fired = if start == row.period_start {
            parse_list(&row.fired)
        } else {
            Vec::new()
        };
        let (crossed, crossing) = budget::crossings(&thresholds_of(&row), standing.used, &fired);
        if announce && (crossed != parse_list(&row.fired) || start != row.period_start) {
            let claimed = store
                .mark_budget_fired(
                    &row.account_id,
                    (&row.fired, row.period_start),
                    &list_json(&crossed),
                    start,
                )
                .await?;
            if let (true, Some(crossing)) = (claimed, crossing) {
                let (kind, threshold) = match crossing {
                    Crossing::Warning(t) => (EventKind::AccountBudgetWarning, t),
                    Crossing::Exhausted => (EventKind::AccountBudgetExhausted, 1.0),
                };
                webhooks.emit(
                    kind,
                    serde_json::json!({
                        "accountId": row.account_id,
                        "accountName": name,
                        "budgetKind": row.kind,
                        "threshold": threshold,
                        "used": standing.used,
                        "limitUsd": micros_to_usd(standing.limit_micros),
                        "spentUsd": micros_to_usd(standing.spent_micros),
                        "remainingUsd": micros_to_usd(standing.remaining_micros),
                        "stopped": standing.exhausted && row.stop_when_exhausted,
                    }),
                );
                tracing::warn!(account = %row.account_id, event = %kind, "account budget crossing");
            }
        }
        let stop = standing.exhausted && row.stop_when_exhausted;
        if stop {
            stopped.insert(row.account_id.clone());
        }
        all.push(BudgetAlert {
            account_id: row.account_id.clone(),
            account_name: name,
            budget: view(&row, &standing, start, top_ups, stop),
        });
    }
    scheduler.set_budget_stopped(stopped);
    Ok(all)
}
