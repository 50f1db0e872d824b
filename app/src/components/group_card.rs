//! One account group: its members as a checklist of the platform's `group` accounts, the keys
//! bound to it, renaming, and deletion (refused by the service while keys are bound).

use leptos::prelude::*;

use crate::api::{delete_group, set_group_members, update_group};
use crate::components::feedback::{busy_label, use_toasts, ConfirmButton};
use crate::components::ui::platform_name;
use crate::tr;
use crate::types::{Account, AccountGroup, AccountType, GroupPatch};

#[derive(Clone, Debug, PartialEq)]
enum Change {
    Members(Vec<String>),
    Rename(GroupPatch),
    Delete,
}

#[component]
pub fn GroupCard(
    group: AccountGroup,
    accounts: Vec<Account>,
    #[prop(into)] on_changed: Callback<()>,
    /// Viewers: the members and keys only, nothing to change.
    #[prop(optional)]
    read_only: bool,
) -> impl IntoView {
    let toasts = use_toasts();
    let id = group.id.clone();
    let candidates: Vec<Account> = accounts
        .into_iter()
        .filter(|a| a.platform == group.platform && a.account_type == AccountType::Group)
        .collect();
    let checked: Vec<(Account, RwSignal<bool>)> = candidates
        .into_iter()
        .map(|a| {
            let on = group.account_ids.contains(&a.id);
            (a, RwSignal::new(on))
        })
        .collect();
    let renaming = RwSignal::new(false);
    let name = RwSignal::new(group.name.clone());
    let description = RwSignal::new(group.description.clone());
    let sticky = RwSignal::new(if group.sticky_mode.is_empty() {
        "grace".to_string()
    } else {
        group.sticky_mode.clone()
    });
    let (t_members, t_renamed, t_deleted) = (
        tr("groups.members_saved"),
        tr("groups.saved"),
        tr("groups.deleted"),
    );

    let change = Action::new(move |c: &(String, Change)| {
        let (id, c) = c.clone();
        async move {
            match c {
                Change::Members(ids) => {
                    toasts.outcome(&set_group_members(id, ids).await, t_members)
                }
                Change::Rename(patch) => {
                    let r = update_group(id, patch).await;
                    if r.is_ok() {
                        renaming.set(false);
                    }
                    toasts.outcome(&r, t_renamed);
                }
                Change::Delete => toasts.outcome(&delete_group(id).await, t_deleted),
            }
            on_changed.run(());
        }
    });
    let pending = change.pending();
    let members_id = id.clone();
    let boxes = checked.clone();
    let save_members = move |_| {
        let ids = boxes
            .iter()
            .filter(|(_, on)| on.get())
            .map(|(a, _)| a.id.clone())
            .collect();
        change.dispatch((members_id.clone(), Change::Members(ids)));
    };
    let rename_id = id.clone();
    let rename = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let patch = GroupPatch {
            name: Some(name.get().trim().to_owned()),
            description: Some(description.get()),
            sticky_mode: Some(sticky.get()),
        };
        change.dispatch((rename_id.clone(), Change::Rename(patch)));
    };
    let delete_id = id.clone();
    let keys = group.bound_keys.clone();
    let more_keys = group.bound_key_count.saturating_sub(keys.len() as u64);
    let field = |suffix: &str| format!("g-{}-{suffix}", group.id);
    let (name_id, desc_id) = (field("name"), field("desc"));
    let sticky_id = field("sticky");

    view! {
        <article class="card group-card" data-group-id=group.id.clone() data-testid="group-card">
            <div class="card-head">
                <div>
                    <h2>{group.name.clone()}</h2>
                    <span class="pill">{platform_name(group.platform)}</span>
                </div>
                {(!read_only).then(|| view! {
                <div class="toolbar">
                    <button type="button" class="btn btn-small" on:click=move |_| renaming.update(|r| *r = !*r)>
                        {tr("groups.rename")}
                    </button>
                    <ConfirmButton
                        label=tr("common.delete")
                        question=tr("groups.delete_question")
                        pending=pending
                        test_id="group-delete"
                        on_confirm=move |_| {
                            change.dispatch((delete_id.clone(), Change::Delete));
                        }
                    />
                </div>
                })}
            </div>
            {(!group.description.is_empty()).then(|| view! { <p class="muted">{group.description.clone()}</p> })}
            <Show when=move || renaming.get()>
                <form class="inline-edit" on:submit=rename.clone()>
                    <label for=name_id.clone()>{tr("groups.name")}</label>
                    <input id=name_id.clone() type="text" required maxlength="100" bind:value=name />
                    <label for=desc_id.clone()>{tr("groups.description")}</label>
                    <input id=desc_id.clone() type="text" maxlength="500" bind:value=description />
                    <label for=sticky_id.clone()>{tr("groups.sticky_mode")}</label>
                    <select
                        id=sticky_id.clone()
                        data-testid="group-sticky-mode"
                        on:change=move |ev| sticky.set(event_target_value(&ev))
                        prop:value=move || sticky.get()
                    >
                        <option value="grace">{tr("groups.sticky_grace")}</option>
                        <option value="keep">{tr("groups.sticky_keep")}</option>
                        <option value="move">{tr("groups.sticky_move")}</option>
                    </select>
                    <button type="submit" class="btn btn-small" disabled=move || pending.get()>{tr("common.save")}</button>
                </form>
            </Show>
            <fieldset class="members">
                <legend>{tr("groups.members")}</legend>
                {if checked.is_empty() {
                    view! { <p class="muted">{tr("groups.no_candidates")}</p> }.into_any()
                } else {
                    checked
                        .into_iter()
                        .map(|(a, on)| {
                            view! {
                                <label class="check">
                                    <input type="checkbox" value=a.id.clone() data-testid="member-checkbox" disabled=read_only bind:checked=on />
                                    {a.name}
                                </label>
                            }
                        })
                        .collect_view()
                        .into_any()
                }}
                {(!read_only).then(|| view! {
                    <button type="button" class="btn btn-small" data-testid="save-members" disabled=move || pending.get() on:click=save_members>
                        {move || busy_label(pending.get(), "groups.save_members")}
                    </button>
                })}
            </fieldset>
            <div class="bound-keys">
                <h3>{tr("groups.bound_keys")}</h3>
                {if keys.is_empty() {
                    view! { <p class="muted">{tr("groups.no_bound_keys")}</p> }.into_any()
                } else {
                    view! {
                        <ul class="tags" data-testid="bound-keys">
                            {keys.into_iter().map(|k| view! { <li class="pill">{k.name}</li> }).collect_view()}
                            {(more_keys > 0).then(|| view! { <li class="muted">{tr("groups.more_keys").replace("{n}", &more_keys.to_string())}</li> })}
                        </ul>
                    }
                        .into_any()
                }}
            </div>
        </article>
    }
}
