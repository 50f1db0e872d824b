//! The accounts table: live status with cooldown and last error, in flight, groups, the
//! schedulable switch with the priority, the monthly cost and under it the budget (left of the
//! limit, its state and projected run-out), and each row's actions with a test's result shown
//! under the row.

use std::collections::HashMap;

use leptos::prelude::*;

use super::budget::BudgetCell;
use crate::components::feedback::ConfirmButton;
use crate::components::table::{Column, DataTable};
use crate::components::ui::{platform_name, AccountStatusPill};
use crate::i18n::{fmt_datetime, fmt_int, fmt_usd};
use crate::types::{Account, AccountGroup, AccountStatus, AccountTestResult, AccountType};
use crate::{tr, use_locale, use_utc_offset};

#[derive(Clone, Debug, PartialEq)]
pub enum AccountAction {
    Edit(Box<Account>),
    /// Set, change, remove or top up the budget.
    Budget(Box<Account>),
    Test(String),
    Reset(String),
    SetSchedulable(String, bool),
    Delete(String),
}

/// The outcome of a test, per account id: the answer, or why it could not run.
pub type TestResults = RwSignal<HashMap<String, Result<AccountTestResult, String>>>;

#[component]
pub fn AccountTable(
    accounts: Vec<Account>,
    groups: Vec<AccountGroup>,
    tests: TestResults,
    #[prop(into)] on_action: Callback<AccountAction>,
    #[prop(into)] busy: Signal<bool>,
    /// Admins change accounts; viewers only read them (no switch, no buttons).
    can_change: bool,
) -> impl IntoView {
    let locale = use_locale();
    let offset = use_utc_offset();
    let (t_until, t_ok, t_failed, t_delete_q) = (
        tr("accounts.cooldown_until"),
        tr("accounts.test_ok"),
        tr("accounts.test_failed"),
        tr("accounts.delete_question"),
    );
    let cols = [
        Column::text(tr("accounts.name")),
        Column::text(tr("accounts.status")),
        Column::figure(tr("accounts.in_flight")),
        Column::text(tr("accounts.groups")),
        Column::text(tr("accounts.scheduling")),
        // The budget under the monthly cost: a column of its own does not fit a laptop.
        Column::figure(tr("budget.column")),
        Column::actions(tr("common.actions")),
    ];
    let (t_priority, t_last_error) = (tr("accounts.priority_n"), tr("accounts.last_error"));
    let t_monthly = tr("accounts.monthly_cost");
    let rows = accounts
        .into_iter()
        .map(|a| {
            let type_label = match a.account_type {
                AccountType::Shared => tr("accounts.type_shared"),
                AccountType::Dedicated => tr("accounts.type_dedicated"),
                AccountType::Group => tr("accounts.type_group"),
            };
            let group_names = a
                .group_ids
                .iter()
                .map(|g| groups.iter().find(|x| &x.id == g).map(|x| x.name.clone()).unwrap_or_else(|| g.clone()))
                .collect::<Vec<_>>()
                .join(", ");
            // Nothing at all rather than an empty text, so a phone's card leaves the line out.
            let group_names = (!group_names.is_empty()).then_some(group_names);
            let in_flight = match a.max_concurrency {
                Some(max) => format!("{} / {}", a.in_flight, max),
                None => fmt_int(i64::from(a.in_flight)),
            };
            let cooldown = a.cooldown_until.map(|c| t_until.replace("{time}", &fmt_datetime(locale, c, offset)));
            // The last error sits under the status, its message only when the status doesn't
            // already say it.
            let last_error = a.last_error.clone().map(|e| {
                let mut head = format!("{t_last_error} · {}", fmt_datetime(locale, e.at, offset));
                if let Some(s) = e.http_status {
                    head.push_str(&format!(" · HTTP {s}"));
                }
                let repeated = a.status_message.as_deref() == Some(e.message.as_str());
                (head, (!repeated).then_some(e.message))
            });
            let id = a.id.clone();
            let (edit, test_id, reset_id, switch_id, delete_id) = (a.clone(), id.clone(), id.clone(), id.clone(), id.clone());
            let budget_of = a.clone();
            let result_id = id.clone();
            let schedulable = a.schedulable;
            let needs_reset = a.status != AccountStatus::Active && a.status != AccountStatus::Disabled;
            let switch_label = tr("accounts.schedulable");
            view! {
                <tr data-account-id=id.clone() data-testid="account-row">
                    <td>
                        <div class="strong">{a.name.clone()}</div>
                        <div class="muted">{platform_name(a.platform)} " · " {type_label}</div>
                        {(!a.notes.is_empty()).then(|| view! { <div class="muted small">{a.notes.clone()}</div> })}
                    </td>
                    <td data-label=cols[1].label>
                        <AccountStatusPill status=a.status />
                        {a.status_message.clone().map(|m| view! { <div class="muted small">{m}</div> })}
                        {cooldown.map(|c| view! { <div class="muted small">{c}</div> })}
                        {last_error.map(|(head, msg)| view! {
                            <div class="small" data-testid="account-last-error">{head}</div>
                            {msg.map(|m| view! { <div class="muted small">{m}</div> })}
                        })}
                    </td>
                    <td class="num" data-label=cols[2].label>{in_flight}</td>
                    <td class="wrap" data-label=cols[3].label>{group_names}</td>
                    <td data-label=cols[4].label>
                        <label class="switch">
                            <input
                                type="checkbox"
                                role="switch"
                                aria-label=switch_label
                                prop:checked=schedulable
                                disabled=move || busy.get() || !can_change
                                on:change=move |ev| {
                                    on_action.run(AccountAction::SetSchedulable(switch_id.clone(), event_target_checked(&ev)))
                                }
                            />
                            <span class="sr-only">{switch_label}</span>
                        </label>
                        <div class="muted small nowrap">{t_priority.replace("{n}", &a.priority.to_string())}</div>
                    </td>
                    <td class="num" data-label=cols[5].label>
                        <div title=t_monthly>{fmt_usd(a.monthly_cost)}</div>
                        <BudgetCell budget=a.budget.clone() />
                    </td>
                    <td class="actions">
                        {can_change.then(|| view! {
                        <div class="row-actions">
                            <button type="button" class="btn btn-small" data-testid="account-edit" on:click=move |_| on_action.run(AccountAction::Edit(Box::new(edit.clone())))>
                                {tr("common.edit")}
                            </button>
                            <button type="button" class="btn btn-small" data-testid="account-budget-edit" on:click=move |_| on_action.run(AccountAction::Budget(Box::new(budget_of.clone())))>
                                {tr("budget.edit")}
                            </button>
                            <button
                                type="button"
                                class="btn btn-small"
                                data-testid="account-test"
                                disabled=move || busy.get()
                                on:click=move |_| on_action.run(AccountAction::Test(test_id.clone()))
                            >
                                {tr("accounts.test")}
                            </button>
                            {needs_reset.then(|| view! {
                                <button type="button" class="btn btn-small" disabled=move || busy.get() on:click=move |_| on_action.run(AccountAction::Reset(reset_id.clone()))>
                                    {tr("accounts.reset")}
                                </button>
                            })}
                            <ConfirmButton
                                label=tr("common.delete")
                                question=t_delete_q
                                pending=busy
                                test_id="account-delete"
                                on_confirm=move |_| on_action.run(AccountAction::Delete(delete_id.clone()))
                            />
                        </div>
                        })}
                    </td>
                </tr>
                {move || {
                    tests.with(|t| t.get(&result_id).cloned()).map(|r| {
                        let (class, text) = match r {
                            Ok(t) if t.ok => ("banner banner-ok", t_ok.replace("{ms}", &t.latency_ms.to_string()).replace("{model}", &t.model)),
                            Ok(t) => (
                                "banner banner-error",
                                format!(
                                    "{} {}",
                                    t_failed.replace("{status}", &t.http_status.map(|s| s.to_string()).unwrap_or_else(|| "–".into())),
                                    t.error.unwrap_or_default()
                                ),
                            ),
                            Err(e) => ("banner banner-error", e),
                        };
                        view! {
                            <tr class="subrow">
                                <td colspan="7">
                                    <div class=class role="status" data-testid="account-test-result">{text}</div>
                                </td>
                            </tr>
                        }
                    })
                }}
            }
        })
        .collect_view();
    view! { <DataTable columns=cols.to_vec()>{rows}</DataTable> }
}
