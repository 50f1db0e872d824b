//! Account budgets in the admin service: set or remove one (`PATCH /admin/accounts/{id}`
//! `budget`), top up a prepaid balance, show where it stands on the account, and the list the
//! overview and `tollgate accounts check` read.

use app::error::AdminError;
use app::port::Actor;
use app::types::{usd_to_micros, AccountBudget, BudgetAlert, BudgetInput, BudgetKind, BudgetTopUp};

use super::AdminService;
use crate::accounts::budget::{self, default_stop};
use crate::accounts::budget_check;
use crate::admin::error::internal;
use crate::storage::budgets::BudgetRow;
use crate::storage::now_ms;

const MAX_THRESHOLDS: usize = 10;
const MAX_NOTE_CHARS: usize = 500;

fn amount(field: &str, usd: f64) -> Result<i64, AdminError> {
    usd_to_micros(usd)
        .filter(|m| *m >= 0)
        .ok_or_else(|| AdminError::validation(field, "must be a number of 0 or more"))
}

/// A checked budget, as it will be stored (`created_at` and the period left to the caller).
struct Checked {
    kind: BudgetKind,
    amount_micros: i64,
    reset_day: Option<i64>,
    thresholds: Vec<f64>,
    stop: bool,
}

fn checked(input: &BudgetInput) -> Result<Checked, AdminError> {
    let kind = input
        .kind
        .ok_or_else(|| AdminError::validation("budget.kind", "is required: prepaid or monthly"))?;
    let amount_micros = amount("budget.amountUsd", input.amount_usd)?;
    let reset_day = match (kind, input.reset_day) {
        (BudgetKind::Prepaid, Some(_)) => {
            return Err(AdminError::validation(
                "budget.resetDay",
                "only a monthly budget resets",
            ))
        }
        (BudgetKind::Prepaid, None) => None,
        (BudgetKind::Monthly, Some(d)) if !(1..=28).contains(&d) => {
            return Err(AdminError::validation(
                "budget.resetDay",
                "must be between 1 and 28",
            ))
        }
        (BudgetKind::Monthly, d) => Some(i64::from(d.unwrap_or(1))),
    };
    let mut thresholds = input
        .thresholds
        .clone()
        .unwrap_or_else(|| app::types::DEFAULT_BUDGET_THRESHOLDS.to_vec());
    if thresholds.len() > MAX_THRESHOLDS {
        return Err(AdminError::validation(
            "budget.thresholds",
            format!("at most {MAX_THRESHOLDS}"),
        ));
    }
    if let Some(i) = thresholds
        .iter()
        .position(|t| !t.is_finite() || *t <= 0.0 || *t >= 1.0)
    {
        return Err(AdminError::validation(
            format!("budget.thresholds[{i}]"),
            "must be a fraction between 0 and 1 (0.8 = 80% used)",
        ));
    }
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    let stop = input.stop_when_exhausted.unwrap_or(default_stop(kind));
    Ok(Checked {
        kind,
        amount_micros,
        reset_day,
        thresholds,
        stop,
    })
}

impl AdminService {
    /// Sets (`Some`) or removes (`None`) the account's budget, then looks at every budget so the
    /// scheduler and the alerts follow at once. A prepaid budget keeps its start (and so its
    /// spend and top-ups) while its opening amount stays the same.
    pub(super) async fn apply_budget(
        &self,
        actor: &Actor,
        id: &str,
        input: Option<BudgetInput>,
    ) -> Result<(), AdminError> {
        let name = self.load_account(id).await?.name;
        let Some(input) = input else {
            let audit = crate::admin::audit::row(
                actor,
                "account.budget_remove",
                "account",
                id,
                &name,
                serde_json::json!({}),
            );
            self.store
                .delete_account_budget(id, Some(&audit))
                .await
                .map_err(internal)?;
            self.look_at_budgets().await?;
            return Ok(());
        };
        let Checked {
            kind,
            amount_micros,
            reset_day,
            thresholds,
            stop,
        } = checked(&input)?;
        let now = now_ms();
        let before = self.store.account_budget(id).await.map_err(internal)?;
        let kept = before.as_ref().filter(|b| {
            b.kind == kind.as_str() && b.amount_micros == amount_micros && b.reset_day == reset_day
        });
        let created_at = kept.map_or(now, |b| b.created_at);
        let period_start = match kind {
            BudgetKind::Prepaid => created_at,
            BudgetKind::Monthly => {
                budget::monthly_period(
                    reset_day.unwrap_or(1) as u32,
                    now,
                    self.config.common.timezone,
                )
                .0
            }
        };
        let row = BudgetRow {
            account_id: id.to_owned(),
            kind: kind.as_str().into(),
            amount_micros,
            reset_day,
            thresholds: serde_json::to_string(&thresholds).unwrap_or_else(|_| "[]".into()),
            stop_when_exhausted: stop,
            fired: kept.map_or_else(|| "[]".into(), |b| b.fired.clone()),
            period_start: kept.map_or(period_start, |b| b.period_start),
            created_at,
            updated_at: now,
        };
        let audit = crate::admin::audit::row(
            actor,
            "account.budget_set",
            "account",
            id,
            &name,
            serde_json::json!({
                "kind": row.kind,
                "amountMicros": row.amount_micros,
                "resetDay": row.reset_day,
                "thresholds": thresholds,
                "stopWhenExhausted": row.stop_when_exhausted,
            }),
        );
        self.store
            .set_account_budget(&row, Some(&audit))
            .await
            .map_err(internal)?;
        tracing::info!(account = %id, kind = kind.as_str(), "account budget set");
        self.look_at_budgets().await?;
        Ok(())
    }

    /// Adds a dated top-up to the account's prepaid balance.
    pub(super) async fn add_top_up(
        &self,
        actor: &Actor,
        id: &str,
        input: BudgetTopUp,
    ) -> Result<(), AdminError> {
        let name = self.load_account(id).await?.name;
        let budget = self
            .store
            .account_budget(id)
            .await
            .map_err(internal)?
            .ok_or_else(|| AdminError::conflict("this account has no budget"))?;
        if budget.kind != BudgetKind::Prepaid.as_str() {
            return Err(AdminError::conflict(
                "only a prepaid balance is topped up; a monthly limit renews itself",
            ));
        }
        let micros = amount("amountUsd", input.amount_usd)?;
        if micros == 0 {
            return Err(AdminError::validation("amountUsd", "must be more than 0"));
        }
        let note = input.note.as_deref().unwrap_or("").trim().to_owned();
        if note.chars().count() > MAX_NOTE_CHARS {
            return Err(AdminError::validation(
                "note",
                format!("must be at most {MAX_NOTE_CHARS} characters"),
            ));
        }
        self.store
            .add_budget_top_up(
                id,
                micros,
                &note,
                &actor.id,
                now_ms(),
                Some(&crate::admin::audit::row(
                    actor,
                    "account.budget_top_up",
                    "account",
                    id,
                    &name,
                    serde_json::json!({"amountMicros": micros, "note": note}),
                )),
            )
            .await
            .map_err(internal)?;
        tracing::info!(account = %id, micros, "account budget topped up");
        self.look_at_budgets().await?;
        Ok(())
    }

    /// Looks at every budget now (announcing crossings, updating the scheduler) and returns
    /// them all.
    pub(crate) async fn look_at_budgets(&self) -> Result<Vec<BudgetAlert>, AdminError> {
        self.relay
            .check_budgets(now_ms(), true)
            .await
            .map_err(internal)
    }

    /// Every budget and where it stands, announcing nothing (reports: the overview, the CLI).
    pub(crate) async fn budget_report(&self) -> Result<Vec<BudgetAlert>, AdminError> {
        self.relay
            .check_budgets(now_ms(), false)
            .await
            .map_err(internal)
    }

    /// The account's budget and where it stands, if it has one.
    pub(super) async fn budget_view(&self, id: &str) -> Result<Option<AccountBudget>, AdminError> {
        let Some(row) = self.store.account_budget(id).await.map_err(internal)? else {
            return Ok(None);
        };
        let (standing, start, _, top_ups) =
            budget_check::stand(&self.store, &row, now_ms(), self.config.common.timezone)
                .await
                .map_err(internal)?;
        let stopped = self.relay.pool().budget_stopped(id);
        Ok(Some(budget_check::view(
            &row, &standing, start, top_ups, stopped,
        )))
    }
}
