//! The signed-in frame: navigation, language switch, logout; pages render into its outlet.

use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};

use crate::api::{current_admin, Logout};
use crate::components::feedback::{provide_toasts, ToastRegion};
use crate::error::AdminError;
use crate::tr;
use crate::use_locale;

#[component]
pub fn Shell() -> impl IntoView {
    provide_toasts();
    let me = Resource::new(|| (), |_| current_admin());
    provide_context(crate::components::role::Me(me));
    let logout = ServerAction::<Logout>::new();
    let locale = use_locale();
    let other = locale.other();
    // Each role sees only its pages (the server sends it home from the others anyway).
    let nav = move || {
        let role = me.get().and_then(|r| r.ok()).map(|m| m.role);
        crate::pages::PAGES
            .iter()
            .filter(|(_, _, roles)| role.is_some_and(|r| roles.contains(&r)))
            .map(|&(href, key, _)| {
                view! {
                    <A href=href exact=true attr:class="nav-link">
                        {tr(key)}
                    </A>
                }
            })
            .collect_view()
    };

    view! {
        <div class="frame">
            <input type="checkbox" id="nav-toggle" class="nav-toggle" aria-hidden="true" />
            <header class="topbar">
                <label for="nav-toggle" class="nav-toggle-label" aria-label=tr("nav.menu")>
                    "☰"
                </label>
                <span class="brand">{tr("app.name")}</span>
                <span class="topbar-spacer"></span>
                <a
                    class="lang-switch"
                    rel="external"
                    data-testid="lang-switch"
                    href=format!("/lang?set={}", other.tag())
                >
                    {other.native_name()}
                </a>
                <Suspense fallback=|| ()>
                    {move || {
                        me.get()
                            .map(|r| match r {
                                Ok(info) => {
                                    view! { <span class="whoami" data-testid="whoami">{info.username}</span> }
                                        .into_any()
                                }
                                Err(AdminError::Unauthorized) => view! { <Redirect path="/login" /> }.into_any(),
                                Err(_) => ().into_any(),
                            })
                    }}
                </Suspense>
                <ActionForm action=logout attr:class="inline-form">
                    <button type="submit" class="btn btn-ghost" data-testid="logout">
                        {tr("nav.logout")}
                    </button>
                </ActionForm>
            </header>
            <nav class="sidebar" data-testid="nav">
                <Suspense fallback=|| ()>{nav}</Suspense>
            </nav>
            <main class="content">
                <Outlet />
            </main>
            <ToastRegion />
        </div>
    }
}
