//! An upstream account's budget on the accounts page: the table's cell (what is left of the
//! limit, ok / low / exhausted, the projected run-out date) and the dialog that sets, changes
//! or removes it and tops up a prepaid balance. The service measures spend; this only shows it.

use leptos::prelude::*;
use serde_json::json;

use crate::api::{top_up_account_budget, update_account};
use crate::components::feedback::{busy_label, use_toasts, ConfirmButton};
use crate::i18n::{fmt_date, fmt_pct, fmt_usd};
use crate::types::{
    Account, AccountBudget, BudgetKind, BudgetTopUp, ATTENTION_REMAINING, DEFAULT_BUDGET_THRESHOLDS,
};
use crate::{tr, use_locale, use_utc_offset};

/// `ok`, `warning` (past the first warning threshold, or under 20% left) or `exhausted`.
pub fn budget_state(b: &AccountBudget) -> &'static str {
    let first = b.thresholds.iter().copied().fold(f64::INFINITY, f64::min);
    let limit = b.amount_usd + b.top_ups_usd;
    if b.exhausted {
        "exhausted"
    } else if b.used >= first || b.remaining_usd < ATTENTION_REMAINING * limit {
        "warning"
    } else {
        "ok"
    }
}

/// The budget column's cell.
#[component]
pub fn BudgetCell(budget: Option<AccountBudget>) -> impl IntoView {
    let locale = use_locale();
    let offset = use_utc_offset();
    let Some(b) = budget else {
        return view! { <div class="muted small" data-testid="account-budget" data-state="none">{tr("budget.none")}</div> }
            .into_any();
    };
    let state = budget_state(&b);
    let (class, label) = match state {
        "exhausted" => ("pill pill-bad", tr("budget.exhausted")),
        "warning" => ("pill pill-warn", tr("budget.warning")),
        _ => ("pill pill-ok", tr("budget.ok")),
    };
    let left = tr("budget.left")
        .replace("{remaining}", &fmt_usd(b.remaining_usd.max(0.0)))
        .replace("{limit}", &fmt_usd(b.amount_usd + b.top_ups_usd));
    let run_out = b
        .projected_run_out
        .filter(|_| !b.exhausted)
        .map(|at| tr("budget.runs_out").replace("{date}", &fmt_date(locale, at, offset)));
    view! {
        <div data-testid="account-budget" data-state=state>
            <div>{left}</div>
            <span class=class>{label}</span>
            {b.stopped.then(|| view! { <div class="muted small">{tr("budget.stopped")}</div> })}
            {run_out.map(|r| view! { <div class="muted small" data-testid="account-budget-run-out">{r}</div> })}
        </div>
    }
    .into_any()
}

/// Percentages as typed (`80, 95`) to fractions; `None` when one is not a number in (0, 100).
fn thresholds(text: &str) -> Option<Vec<f64>> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.trim_end_matches('%')
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|p| *p > 0.0 && *p < 100.0)
                .map(|p| p / 100.0)
        })
        .collect()
}

/// What the budget dialog asks the service.
#[derive(Clone)]
enum Change {
    Set(serde_json::Value),
    Remove,
    TopUp(BudgetTopUp),
}

/// Sets, changes or removes the account's budget, and tops up a prepaid balance.
#[component]
pub fn BudgetForm(account: Account, #[prop(into)] on_saved: Callback<Account>) -> impl IntoView {
    let toasts = use_toasts();
    let locale = use_locale();
    let offset = use_utc_offset();
    let b = account.budget.clone();
    let kind = RwSignal::new(b.as_ref().map_or(BudgetKind::Prepaid, |b| b.kind));
    let amount = RwSignal::new(
        b.as_ref()
            .map(|b| b.amount_usd.to_string())
            .unwrap_or_default(),
    );
    let reset_day = RwSignal::new(
        b.as_ref()
            .and_then(|b| b.reset_day)
            .unwrap_or(1)
            .to_string(),
    );
    let shown: Vec<f64> = b
        .as_ref()
        .map_or(DEFAULT_BUDGET_THRESHOLDS.to_vec(), |b| b.thresholds.clone());
    let warn_at = RwSignal::new(
        shown
            .iter()
            .map(|t| format!("{}", (t * 1000.0).round() / 10.0))
            .collect::<Vec<_>>()
            .join(", "),
    );
    let stop = RwSignal::new(b.as_ref().is_none_or(|b| b.stop_when_exhausted));
    let top_up = RwSignal::new(String::new());
    let top_up_note = RwSignal::new(String::new());
    let id = account.id.clone();
    let (t_saved, t_removed, t_topped, t_number) = (
        tr("budget.saved"),
        tr("budget.removed"),
        tr("budget.topped_up"),
        tr("common.bad_number"),
    );
    let change = Action::new(move |c: &Change| {
        let (id, c) = (id.clone(), c.clone());
        async move {
            let (result, text) = match c {
                Change::Set(budget) => (
                    update_account(id, json!({ "budget": budget })).await,
                    t_saved,
                ),
                Change::Remove => (
                    update_account(id, json!({ "budget": null })).await,
                    t_removed,
                ),
                Change::TopUp(input) => (top_up_account_budget(id, input).await, t_topped),
            };
            match result {
                Ok(account) => {
                    toasts.ok(text);
                    on_saved.run(account);
                }
                Err(e) => toasts.error(&e),
            }
        }
    });
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let amount = amount
            .get()
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|a| a.is_finite() && *a >= 0.0);
        let day = reset_day.get().trim().parse::<u32>().ok();
        let (Some(amount), Some(warn)) = (amount, thresholds(&warn_at.get())) else {
            toasts.error_text(t_number);
            return;
        };
        let monthly = kind.get() == BudgetKind::Monthly;
        if monthly && day.is_none() {
            toasts.error_text(t_number);
            return;
        }
        let reset = if monthly { day } else { None };
        change.dispatch(Change::Set(json!({
            "kind": kind.get().as_str(),
            "amountUsd": amount,
            "resetDay": reset,
            "thresholds": warn,
            "stopWhenExhausted": stop.get(),
        })));
    };
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match top_up
            .get()
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|a| a.is_finite() && *a > 0.0)
        {
            Some(amount_usd) => {
                let note = Some(top_up_note.get().trim().to_owned()).filter(|n| !n.is_empty());
                change.dispatch(Change::TopUp(BudgetTopUp { amount_usd, note }));
            }
            None => toasts.error_text(t_number),
        }
    };
    let pending = change.pending();
    let standing = b.as_ref().map(|b| {
        tr("budget.standing")
            .replace("{spent}", &fmt_usd(b.spent_usd))
            .replace("{since}", &fmt_date(locale, b.period_start, offset))
            .replace("{top_ups}", &fmt_usd(b.top_ups_usd))
            + &format!(" ({})", fmt_pct(b.used))
    });
    let prepaid = b.as_ref().is_some_and(|b| b.kind == BudgetKind::Prepaid);
    let exists = b.is_some();
    view! {
        {standing.map(|s| view! { <p data-testid="budget-standing">{s}</p> })}
        <form on:submit=save data-testid="budget-form">
            <div class="form-row">
                <div>
                    <label for="bf-kind">{tr("budget.kind")}</label>
                    <select
                        id="bf-kind"
                        on:change=move |ev| kind.set(BudgetKind::parse(&event_target_value(&ev)).unwrap_or(BudgetKind::Prepaid))
                        prop:value=move || kind.get().as_str()
                    >
                        <option value="prepaid">{tr("budget.kind_prepaid")}</option>
                        <option value="monthly">{tr("budget.kind_monthly")}</option>
                    </select>
                </div>
                <div>
                    <label for="bf-amount">{tr("budget.amount")}</label>
                    <input id="bf-amount" type="number" min="0" step="0.01" required data-testid="budget-amount" bind:value=amount />
                </div>
                <Show when=move || kind.get() == BudgetKind::Monthly>
                    <div>
                        <label for="bf-reset">{tr("budget.reset_day")}</label>
                        <input id="bf-reset" type="number" min="1" max="28" step="1" bind:value=reset_day />
                    </div>
                </Show>
                <div>
                    <label for="bf-warn">{tr("budget.thresholds")}</label>
                    <input id="bf-warn" type="text" bind:value=warn_at />
                </div>
            </div>
            <label class="check">
                <input type="checkbox" bind:checked=stop />
                {tr("budget.stop")}
            </label>
            <div class="toolbar">
                <button type="submit" class="btn btn-primary" data-testid="budget-save" disabled=move || pending.get()>
                    {move || busy_label(pending.get(), "budget.save")}
                </button>
                {exists.then(|| view! {
                    <ConfirmButton
                        label=tr("budget.remove")
                        question=tr("budget.remove_question")
                        pending=pending
                        test_id="budget-remove"
                        on_confirm=move |_| { change.dispatch(Change::Remove); }
                    />
                })}
            </div>
        </form>
        {prepaid.then(|| view! {
            <form on:submit=add data-testid="budget-top-up-form">
                <h3>{tr("budget.top_up")}</h3>
                <div class="form-row">
                    <div>
                        <label for="bf-top-up">{tr("budget.top_up_amount")}</label>
                        <input id="bf-top-up" type="number" min="0.01" step="0.01" required data-testid="budget-top-up" bind:value=top_up />
                    </div>
                    <div>
                        <label for="bf-top-up-note">{tr("budget.top_up_note")}</label>
                        <input id="bf-top-up-note" type="text" maxlength="500" bind:value=top_up_note />
                    </div>
                </div>
                <button type="submit" class="btn" data-testid="budget-top-up-submit" disabled=move || pending.get()>
                    {move || busy_label(pending.get(), "budget.top_up")}
                </button>
            </form>
        })}
    }
}
