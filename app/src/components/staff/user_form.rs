//! Creating or editing a staff user: username (new only), display name, role, password, and
//! for sellers the presets they may sell from.

use leptos::prelude::*;

use crate::api::{create_user, update_user};
use crate::components::feedback::{busy_label, use_toasts};
use crate::pages::my_account::role_label;
use crate::tr;
use crate::types::{KeyPreset, Role, SavedUser, StaffUser, UserInput, UserPatch};

#[component]
pub fn UserForm(
    /// The user to edit; `None` creates one.
    user: Option<StaffUser>,
    presets: Vec<KeyPreset>,
    #[prop(into)] on_saved: Callback<SavedUser>,
) -> impl IntoView {
    let toasts = use_toasts();
    let editing = user.clone();
    let username = RwSignal::new(String::new());
    let display = RwSignal::new(
        user.as_ref()
            .map(|u| u.display_name.clone())
            .unwrap_or_default(),
    );
    let role = RwSignal::new(user.as_ref().map(|u| u.role).unwrap_or(Role::Seller));
    let password = RwSignal::new(String::new());
    let allowed = RwSignal::new(
        user.as_ref()
            .map(|u| u.allowed_preset_ids.clone())
            .unwrap_or_default(),
    );
    let (t_created, t_saved) = (tr("users.created"), tr("users.saved"));
    let save = Action::new(move |_: &()| {
        let editing = editing.clone();
        let password = password.get_untracked();
        let password = (!password.is_empty()).then_some(password);
        let display = display.get_untracked();
        let role = role.get_untracked();
        let presets = allowed.get_untracked();
        let username = username.get_untracked();
        async move {
            let result = match editing {
                None => {
                    create_user(UserInput {
                        username,
                        password,
                        role,
                        display_name: Some(display),
                        allowed_preset_ids: Some(presets),
                    })
                    .await
                }
                Some(u) => {
                    update_user(
                        u.id,
                        UserPatch {
                            display_name: Some(display),
                            role: Some(role),
                            allowed_preset_ids: Some(presets),
                            password,
                            ..Default::default()
                        },
                    )
                    .await
                }
            };
            match result {
                Ok(saved) => {
                    toasts.ok(if user_is_new(&saved) {
                        t_created
                    } else {
                        t_saved
                    });
                    on_saved.run(saved);
                }
                Err(e) => toasts.error(&e),
            }
        }
    });
    let is_new = user.is_none();
    let role_options = Role::ALL
        .into_iter()
        .map(|r| view! { <option value=r.as_str() selected=move || role.get() == r>{role_label(r)}</option> })
        .collect_view();
    let presets = StoredValue::new(presets);
    let preset_boxes = move || {
        presets.with_value(|ps| {
            ps.iter()
                .map(|p| {
                    let id = p.id.clone();
                    let id2 = p.id.clone();
                    view! {
                        <label class="check">
                            <input
                                type="checkbox"
                                data-testid="user-preset"
                                value=p.id.clone()
                                prop:checked=move || allowed.with(|a| a.contains(&id))
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    allowed.update(|a| {
                                        a.retain(|x| *x != id2);
                                        if on {
                                            a.push(id2.clone());
                                        }
                                    });
                                }
                            />
                            {p.name.clone()}
                        </label>
                    }
                })
                .collect_view()
        })
    };
    let no_presets = move || presets.with_value(Vec::is_empty);
    view! {
        <form
            data-testid="user-form"
            on:submit=move |ev| {
                ev.prevent_default();
                save.dispatch(());
            }
        >
            {is_new.then(|| view! {
                <label for="u-username">{tr("users.username")}</label>
                <input id="u-username" type="text" maxlength="128" required autocomplete="off" data-testid="user-username" bind:value=username />
            })}
            <label for="u-display">{tr("users.display_name")}</label>
            <input id="u-display" type="text" maxlength="128" bind:value=display />
            <label for="u-role">{tr("users.role")}</label>
            <select
                id="u-role"
                data-testid="user-role"
                on:change=move |ev| {
                    if let Some(r) = Role::parse(&event_target_value(&ev)) {
                        role.set(r);
                    }
                }
            >
                {role_options}
            </select>
            <label for="u-password">{tr("users.password")}</label>
            <input id="u-password" type="password" minlength="12" autocomplete="new-password" bind:value=password />
            <Show when=move || role.get() == Role::Seller>
                <fieldset class="check-list">
                    <legend>{tr("users.presets")}</legend>
                    <Show when=no_presets>
                        <p class="hint">{tr("users.no_presets")}</p>
                    </Show>
                    {preset_boxes}
                </fieldset>
            </Show>
            <button type="submit" class="btn btn-primary" data-testid="user-save" disabled=move || save.pending().get()>
                {move || busy_label(save.pending().get(), if is_new { "users.create" } else { "users.save" })}
            </button>
        </form>
    }
}

/// A freshly created user comes back with the generated password or none was asked for; the
/// toast's wording only.
fn user_is_new(saved: &SavedUser) -> bool {
    saved.user.created_at == saved.user.updated_at
}
