//! Staff (admins only): the users, their roles and presets; create, edit, disable, reset a
//! password (shown once), turn off a lost second factor, delete.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{delete_user, list_presets, list_users, update_user};
use crate::components::feedback::{use_toasts, ConfirmButton, EmptyState};
use crate::components::modal::Modal;
use crate::components::staff::user_form::UserForm;
use crate::components::table::{Column, DataTable};
use crate::components::ui::ErrorBanner;
use crate::pages::my_account::role_label;
use crate::tr;
use crate::types::{SavedUser, StaffUser, UserPatch};

#[derive(Clone, Debug, PartialEq)]
enum Panel {
    Closed,
    New,
    Edit(StaffUser),
}

#[derive(Clone, Debug, PartialEq)]
enum Act {
    SetActive(String, bool),
    ResetPassword(String),
    ResetTotp(String),
    Delete(String),
}

#[component]
pub fn StaffPage() -> impl IntoView {
    let toasts = use_toasts();
    let refresh = RwSignal::new(0u32);
    let panel = RwSignal::new(Panel::Closed);
    // The last generated password, with whose it is: shown once.
    let shown = RwSignal::new(None::<(String, String)>);
    let users = Resource::new(move || refresh.get(), |_| list_users());
    let presets = Resource::new(|| (), |_| list_presets());
    let (t_saved, t_deleted) = (tr("users.saved"), tr("users.deleted"));
    let act = Action::new(move |a: &Act| {
        let a = a.clone();
        async move {
            let result = match a {
                Act::SetActive(id, on) => update_user(
                    id,
                    UserPatch {
                        is_active: Some(on),
                        ..Default::default()
                    },
                )
                .await
                .map(Some),
                Act::ResetPassword(id) => update_user(
                    id,
                    UserPatch {
                        reset_password: Some(true),
                        ..Default::default()
                    },
                )
                .await
                .map(Some),
                Act::ResetTotp(id) => update_user(
                    id,
                    UserPatch {
                        reset_totp: Some(true),
                        ..Default::default()
                    },
                )
                .await
                .map(Some),
                Act::Delete(id) => delete_user(id).await.map(|_| None),
            };
            match result {
                Ok(Some(saved)) => {
                    toasts.ok(t_saved);
                    if let Some(p) = saved.password {
                        shown.set(Some((saved.user.username, p)));
                    }
                }
                Ok(None) => toasts.ok(t_deleted),
                Err(e) => toasts.error(&e),
            }
            refresh.update(|n| *n += 1);
        }
    });
    let on_saved = Callback::new(move |saved: SavedUser| {
        if let Some(p) = saved.password {
            shown.set(Some((saved.user.username.clone(), p)));
        }
        panel.set(Panel::Closed);
        refresh.update(|n| *n += 1);
    });
    let close = Callback::new(move |_| panel.set(Panel::Closed));
    let cols = vec![
        Column::text(tr("users.username")),
        Column::text(tr("users.role")),
        Column::text(tr("users.presets")),
        Column::text(tr("users.totp")),
        Column::actions(tr("common.actions")),
    ];
    view! {
        <Title text=tr("users.title") />
        <div class="page-head">
            <h1>{tr("users.title")}</h1>
            <div class="toolbar">
                <button type="button" class="btn btn-primary-inline" data-testid="new-user" on:click=move |_| panel.set(Panel::New)>
                    {tr("users.new")}
                </button>
            </div>
        </div>
        <p class="hint">{tr("users.hint")}</p>
        {move || shown.get().map(|(user, password)| view! {
            <div class="banner banner-ok" role="status">
                <p>{tr("users.password_once").replace("{user}", &user)}</p>
                <p class="mono wrap-anywhere" data-testid="generated-password">{password}</p>
            </div>
        })}
        <Transition fallback=move || view! { <p>{tr("common.loading")}</p> }>
            {move || {
                let preset_list = presets.get().and_then(|r| r.ok()).unwrap_or_default();
                let preset_name = move |id: &str| {
                    preset_list
                        .iter()
                        .find(|p| p.id == id)
                        .map(|p| p.name.clone())
                        .unwrap_or_else(|| id.to_owned())
                };
                let cols = cols.clone();
                users.get().map(|r| match r {
                    Ok(list) if list.is_empty() => view! { <EmptyState text=tr("users.empty") /> }.into_any(),
                    Ok(list) => {
                        let rows = list
                            .into_iter()
                            .map(|u| {
                                let presets_text = u
                                    .allowed_preset_ids
                                    .iter()
                                    .map(|id| preset_name(id))
                                    .collect::<Vec<_>>()
                                    .join(", ");
                                let (id1, id2, id3, id4) = (u.id.clone(), u.id.clone(), u.id.clone(), u.id.clone());
                                let edit = u.clone();
                                let active = u.is_active;
                                let state = if active { tr("users.active") } else { tr("users.disabled") };
                                view! {
                                    <tr data-testid="user-row" data-username=u.username.clone()>
                                        <td>
                                            <div class="strong">{u.username.clone()}</div>
                                            <div class="muted">{u.display_name.clone()} " · " {state}</div>
                                        </td>
                                        <td data-label=cols[1].label data-testid="user-role-cell">{role_label(u.role)}</td>
                                        <td data-label=cols[2].label>{presets_text}</td>
                                        <td data-label=cols[3].label>
                                            {if u.totp_enabled { tr("users.on") } else { tr("users.off") }}
                                        </td>
                                        <td class="actions">
                                            <div class="row-actions">
                                                <button type="button" class="btn btn-small" data-testid="user-edit" on:click=move |_| panel.set(Panel::Edit(edit.clone()))>
                                                    {tr("common.edit")}
                                                </button>
                                                <button type="button" class="btn btn-small" disabled=move || act.pending().get()
                                                    on:click=move |_| { act.dispatch(Act::SetActive(id1.clone(), !active)); }>
                                                    {if active { tr("users.disable") } else { tr("users.enable") }}
                                                </button>
                                                <button type="button" class="btn btn-small" data-testid="user-reset-password" disabled=move || act.pending().get()
                                                    on:click=move |_| { act.dispatch(Act::ResetPassword(id2.clone())); }>
                                                    {tr("users.reset_password")}
                                                </button>
                                                {u.totp_enabled.then(|| view! {
                                                    <button type="button" class="btn btn-small" disabled=move || act.pending().get()
                                                        on:click=move |_| { act.dispatch(Act::ResetTotp(id3.clone())); }>
                                                        {tr("users.reset_totp")}
                                                    </button>
                                                })}
                                                <ConfirmButton
                                                    label=tr("common.delete")
                                                    question=tr("users.delete_question")
                                                    pending=act.pending()
                                                    test_id="user-delete"
                                                    on_confirm=move |_| { act.dispatch(Act::Delete(id4.clone())); }
                                                />
                                            </div>
                                        </td>
                                    </tr>
                                }
                            })
                            .collect_view();
                        view! { <DataTable columns=cols test_id="users-table">{rows}</DataTable> }.into_any()
                    }
                    Err(e) => view! { <ErrorBanner error=Some(e) /> }.into_any(),
                })
            }}
        </Transition>
        <Suspense fallback=|| ()>
        {move || {
            let presets = presets.get().and_then(|r| r.ok()).unwrap_or_default();
            match panel.get() {
                Panel::Closed => ().into_any(),
                Panel::New => view! {
                    <Modal title=tr("users.new") on_close=close test_id="user-dialog">
                        <UserForm user=None presets=presets on_saved=on_saved />
                    </Modal>
                }
                .into_any(),
                Panel::Edit(u) => view! {
                    <Modal title=tr("users.edit") on_close=close test_id="user-dialog">
                        <UserForm user=Some(u) presets=presets on_saved=on_saved />
                    </Modal>
                }
                .into_any(),
            }
        }}
        </Suspense>
    }
}
