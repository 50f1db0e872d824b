use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::Login;
use crate::components::ui::ErrorBanner;
use crate::tr;

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let error = Signal::derive(move || login.value().get().and_then(|r| r.err()));
    let query = use_query_map();
    let changed = move || query.read().get("changed").is_some();

    view! {
        <Title text=tr("login.title") />
        <div class="login-wrap">
            <div class="card login-card">
                <h1>{tr("login.title")}</h1>
                <Show when=changed>
                    <div class="banner banner-ok">{tr("settings.password_changed")}</div>
                </Show>
                <ErrorBanner error />
                <ActionForm action=login>
                    <label for="username">{tr("login.username")}</label>
                    <input id="username" name="username" type="text" autocomplete="username" required />
                    <label for="password">{tr("login.password")}</label>
                    <input
                        id="password"
                        name="password"
                        type="password"
                        autocomplete="current-password"
                        required
                    />
                    <label for="totp">{tr("login.totp")}</label>
                    <input
                        id="totp"
                        name="totp"
                        type="text"
                        inputmode="numeric"
                        autocomplete="one-time-code"
                        maxlength="32"
                        data-testid="login-totp"
                    />
                    <p class="hint">{tr("login.totp_hint")}</p>
                    <button type="submit" class="btn btn-primary" disabled=move || login.pending().get()>
                        {move || if login.pending().get() { tr("login.pending") } else { tr("login.submit") }}
                    </button>
                </ActionForm>
            </div>
        </div>
    }
}
