//! The signed-in frame: navigation, language switch, logout; pages render into its outlet.
//! Also the language switch and the top bar of the pages open without signing in.

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
                <LangSwitch />
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

/// The link to the other language (`/lang?set=…`, which comes back to this page).
#[component]
pub fn LangSwitch() -> impl IntoView {
    let other = use_locale().other();
    view! {
        <a
            class="lang-switch"
            rel="external"
            data-testid="lang-switch"
            href=format!("/lang?set={}", other.tag())
        >
            {other.native_name()}
        </a>
    }
}

/// The top bar of a page open without signing in: the name and the language switch.
#[component]
pub fn PublicTopbar() -> impl IntoView {
    view! {
        <header class="topbar public-bar">
            <span class="brand">{tr("app.name")}</span>
            <span class="topbar-spacer"></span>
            <LangSwitch />
        </header>
    }
}
