//! Where a key's requests for one platform go: the shared pool, one account, or a group —
//! picked from lists, never typed.

use leptos::prelude::*;

use crate::components::ui::platform_name;
use crate::tr;
use crate::types::{Account, AccountGroup, Platform};

#[component]
pub fn BindingPicker(
    platform: Platform,
    accounts: Vec<Account>,
    groups: Vec<AccountGroup>,
    value: RwSignal<String>,
    #[prop(into)] id: String,
) -> impl IntoView {
    let accounts: Vec<Account> = accounts
        .into_iter()
        .filter(|a| a.platform == platform)
        .collect();
    let groups: Vec<AccountGroup> = groups
        .into_iter()
        .filter(|g| g.platform == platform)
        .collect();
    let current = value.get_untracked();
    // A binding to something deleted since stays visible (and selectable) until changed.
    let dangling = !current.is_empty()
        && !accounts.iter().any(|a| a.id == current)
        && !groups.iter().any(|g| format!("group:{}", g.id) == current);
    let t_account_type = |a: &Account| match a.account_type {
        crate::types::AccountType::Shared => tr("accounts.type_shared"),
        crate::types::AccountType::Dedicated => tr("accounts.type_dedicated"),
        crate::types::AccountType::Group => tr("accounts.type_group"),
    };
    let account_options = accounts
        .iter()
        .map(|a| {
            let text = format!("{} ({})", a.name, t_account_type(a));
            view! { <option value=a.id.clone() selected=a.id == current>{text}</option> }
        })
        .collect_view();
    let group_options = groups
        .iter()
        .map(|g| {
            let v = format!("group:{}", g.id);
            let selected = v == current;
            view! { <option value=v selected=selected>{g.name.clone()}</option> }
        })
        .collect_view();
    view! {
        <label for=id.clone()>{platform_name(platform)}</label>
        <select
            id=id
            data-platform=platform.as_str()
            on:change=move |ev| value.set(event_target_value(&ev))
            prop:value=move || value.get()
        >
            <option value="" selected=current.is_empty()>{tr("keys.binding_pool")}</option>
            {dangling.then(|| view! { <option value=current.clone() selected=true>{tr("keys.binding_missing")}</option> })}
            <optgroup label=tr("keys.binding_groups")>{group_options}</optgroup>
            <optgroup label=tr("keys.binding_accounts")>{account_options}</optgroup>
        </select>
    }
}
