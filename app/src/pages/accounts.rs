//! Upstream accounts: live status, in flight, cooldowns, last errors, groups and budgets; add
//! and edit (secrets write-only), set a budget or top it up, test with the result inline,
//! reset, pause, delete.

use leptos::prelude::*;
use leptos_meta::Title;
use serde_json::json;

use crate::api::{
    delete_account, list_accounts, list_groups, reset_account_status, test_account, update_account,
};
use crate::components::accounts::budget::BudgetForm;
use crate::components::accounts::form::AccountForm;
use crate::components::accounts::table::{AccountAction, AccountTable, TestResults};
use crate::components::feedback::{use_toasts, EmptyState};
use crate::components::modal::Modal;
use crate::components::role::use_is_admin;
use crate::components::ui::ErrorBanner;
use crate::i18n::error_text;
use crate::types::Account;
use crate::{tr, use_locale};

#[derive(Clone, Debug, PartialEq)]
enum Panel {
    Closed,
    Add,
    Edit(Box<Account>),
    Budget(Box<Account>),
}

/// How often the table refreshes its live figures (in flight, status, cooldown).
const REFRESH_MS: u64 = 10_000;

#[component]
pub fn AccountsPage() -> impl IntoView {
    let toasts = use_toasts();
    let locale = use_locale();
    let refresh = RwSignal::new(0u32);
    let panel = RwSignal::new(Panel::Closed);
    let tests: TestResults = RwSignal::new(Default::default());
    let accounts = Resource::new(move || refresh.get(), |_| list_accounts());
    let groups = Resource::new(move || refresh.get(), |_| list_groups());
    Effect::new(move |_| {
        let handle = set_interval_with_handle(
            move || refresh.update(|n| *n += 1),
            std::time::Duration::from_millis(REFRESH_MS),
        );
        on_cleanup(move || {
            if let Ok(h) = handle {
                h.clear();
            }
        });
    });

    let (t_saved, t_reset, t_deleted) = (
        tr("accounts.saved"),
        tr("accounts.reset_done"),
        tr("accounts.deleted"),
    );
    let act = Action::new(move |a: &AccountAction| {
        let a = a.clone();
        async move {
            match a {
                AccountAction::Test(id) => {
                    let result = test_account(id.clone())
                        .await
                        .map_err(|e| error_text(locale, &e));
                    tests.update(|t| {
                        t.insert(id, result);
                    });
                }
                AccountAction::Reset(id) => {
                    toasts.outcome(&reset_account_status(id).await, t_reset)
                }
                AccountAction::SetSchedulable(id, on) => toasts.outcome(
                    &update_account(id, json!({ "schedulable": on })).await,
                    t_saved,
                ),
                AccountAction::Delete(id) => toasts.outcome(&delete_account(id).await, t_deleted),
                AccountAction::Edit(_) | AccountAction::Budget(_) => {}
            }
            refresh.update(|n| *n += 1);
        }
    });
    let on_action = Callback::new(move |a: AccountAction| match a {
        AccountAction::Edit(account) => panel.set(Panel::Edit(account)),
        AccountAction::Budget(account) => panel.set(Panel::Budget(account)),
        other => {
            act.dispatch(other);
        }
    });
    let close = Callback::new(move |_| panel.set(Panel::Closed));
    let saved = Callback::new(move |_: Account| {
        refresh.update(|n| *n += 1);
        panel.set(Panel::Closed);
    });

    // Viewers read accounts; only admins add, edit, test, reset or delete them.
    let is_admin = use_is_admin();
    view! {
        <Title text=tr("accounts.title") />
        <div class="page-head">
            <h1>{tr("accounts.title")}</h1>
            // The role is read when the Suspense resolves, not through `<Show>`'s memo: a memo
            // computed on the server while the role's resource resolves on another thread could
            // keep a stale "no", and the page then failed to hydrate (see `components::role`).
            <Suspense fallback=|| ()>
                {move || is_admin.get().then(|| view! {
                    <button type="button" class="btn btn-primary-inline" data-testid="add-account" on:click=move |_| panel.set(Panel::Add)>
                        {tr("accounts.add")}
                    </button>
                })}
            </Suspense>
        </div>
        <Transition fallback=move || view! { <p>{tr("common.loading")}</p> }>
            {move || {
                let admin = is_admin.get();
                let groups = groups.get().and_then(|r| r.ok()).unwrap_or_default();
                accounts
                    .get()
                    .map(|r| match r {
                        Ok(list) if list.is_empty() => view! {
                            <EmptyState text=tr("accounts.empty")>
                                {admin.then(|| view! {
                                    <button type="button" class="btn" on:click=move |_| panel.set(Panel::Add)>
                                        {tr("accounts.add")}
                                    </button>
                                })}
                            </EmptyState>
                        }
                        .into_any(),
                        Ok(list) => view! {
                            <AccountTable accounts=list groups=groups tests=tests on_action=on_action busy=act.pending() can_change=admin />
                        }
                        .into_any(),
                        Err(e) => view! { <ErrorBanner error=Some(e) /> }.into_any(),
                    })
            }}
        </Transition>
        {move || match panel.get() {
            Panel::Closed => ().into_any(),
            Panel::Add => view! {
                <Modal title=tr("accounts.add") on_close=close test_id="account-dialog" wide=true>
                    <AccountForm existing=None on_saved=saved />
                </Modal>
            }
            .into_any(),
            Panel::Edit(account) => view! {
                <Modal title=tr("accounts.edit") on_close=close test_id="account-dialog" wide=true>
                    <AccountForm existing=Some(*account) on_saved=saved />
                </Modal>
            }
            .into_any(),
            Panel::Budget(account) => view! {
                <Modal title=tr("budget.title").replace("{name}", &account.name) on_close=close test_id="budget-dialog" wide=true>
                    <BudgetForm account=*account on_saved=saved />
                </Modal>
            }
            .into_any(),
        }}
    }
}
