//! Account groups: create one (name, platform, description), assign `group` accounts, see the
//! keys bound to each, delete (refused while keys are bound, naming them).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{create_group, list_accounts, list_groups};
use crate::components::feedback::{busy_label, use_toasts, EmptyState};
use crate::components::group_card::GroupCard;
use crate::components::role::use_is_admin;
use crate::components::ui::{platform_name, ErrorBanner};
use crate::tr;
use crate::types::{GroupInput, Platform};

#[component]
pub fn GroupsPage() -> impl IntoView {
    let toasts = use_toasts();
    let refresh = RwSignal::new(0u32);
    let groups = Resource::new(move || refresh.get(), |_| list_groups());
    let accounts = Resource::new(move || refresh.get(), |_| list_accounts());
    let name = RwSignal::new(String::new());
    let platform = RwSignal::new("claude".to_string());
    let description = RwSignal::new(String::new());
    let t_created = tr("groups.created");
    let create = Action::new(move |input: &GroupInput| {
        let input = input.clone();
        async move {
            let r = create_group(input).await;
            if r.is_ok() {
                name.set(String::new());
                description.set(String::new());
            }
            toasts.outcome(&r, t_created);
            refresh.update(|n| *n += 1);
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch(GroupInput {
            name: name.get().trim().to_owned(),
            platform: Platform::parse(&platform.get()),
            description: Some(description.get()),
            sticky_mode: None,
        });
    };
    let changed = Callback::new(move |_| refresh.update(|n| *n += 1));

    // Viewers read groups; only admins create or change them.
    let is_admin = use_is_admin();
    view! {
        <Title text=tr("groups.title") />
        <h1>{tr("groups.title")}</h1>
        // Read when the Suspense resolves, not through `<Show>`'s memo (see `components::role`).
        <Suspense fallback=|| ()>
        {move || is_admin.get().then(|| view! {
        <section class="card">
            <h2>{tr("groups.create")}</h2>
            <p class="hint">{tr("groups.hint")}</p>
            <form on:submit=submit data-testid="group-form">
                <div class="form-row">
                    <div>
                        <label for="gf-name">{tr("groups.name")}</label>
                        <input id="gf-name" type="text" required maxlength="100" bind:value=name />
                    </div>
                    <div>
                        <label for="gf-platform">{tr("accounts.platform")}</label>
                        <select id="gf-platform" on:change=move |ev| platform.set(event_target_value(&ev)) prop:value=move || platform.get()>
                            {Platform::ALL
                                .into_iter()
                                .map(|p| view! { <option value=p.as_str()>{platform_name(p)}</option> })
                                .collect_view()}
                        </select>
                    </div>
                    <div>
                        <label for="gf-desc">{tr("groups.description")}</label>
                        <input id="gf-desc" type="text" maxlength="500" bind:value=description />
                    </div>
                </div>
                <button type="submit" class="btn btn-primary" disabled=move || create.pending().get()>
                    {move || busy_label(create.pending().get(), "groups.create")}
                </button>
            </form>
        </section>
        })}
        </Suspense>
        <Transition fallback=move || view! { <p>{tr("common.loading")}</p> }>
            {move || {
                let accounts = accounts.get().and_then(|r| r.ok()).unwrap_or_default();
                groups
                    .get()
                    .map(|r| match r {
                        Ok(list) if list.is_empty() => view! { <EmptyState text=tr("groups.empty") /> }.into_any(),
                        Ok(list) => view! {
                            <div class="group-grid">
                                {list
                                    .into_iter()
                                    .map(|g| view! { <GroupCard group=g accounts=accounts.clone() on_changed=changed read_only=!is_admin.get() /> })
                                    .collect_view()}
                            </div>
                        }
                        .into_any(),
                        Err(e) => view! { <ErrorBanner error=Some(e) /> }.into_any(),
                    })
            }}
        </Transition>
    }
}
