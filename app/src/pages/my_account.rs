//! My account, for every role: who I am, my password, and my second factor (TOTP).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{begin_totp, confirm_totp, current_admin, DisableTotpFn};
use crate::components::feedback::use_toasts;
use crate::components::settings::password::PasswordSection;
use crate::tr;
use crate::types::{Role, TotpSetup};

pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::Admin => tr("role.admin"),
        Role::Seller => tr("role.seller"),
        Role::Viewer => tr("role.viewer"),
    }
}

#[component]
pub fn MyAccountPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| current_admin());
    // Outside the section, which is rebuilt when `me` reloads after the set-up: the recovery
    // codes are shown once and must survive that.
    let recovery = RwSignal::new(Vec::<String>::new());
    view! {
        <Title text=tr("account.title") />
        <h1>{tr("account.title")}</h1>
        <Suspense fallback=|| ()>
            {move || me.get().and_then(|r| r.ok()).map(|m| {
                let line = tr("account.role")
                    .replace("{user}", &m.username)
                    .replace("{role}", role_label(m.role));
                let due = m.totp_setup_required;
                view! {
                    <p class="muted" data-testid="account-role">{line}</p>
                    <Show when=move || due>
                        <p class="banner banner-warn" role="alert" data-testid="totp-setup-required">
                            {tr("account.totp_setup_required")}
                        </p>
                    </Show>
                    <TotpSection enabled=m.totp_enabled recovery on_changed=move |_| me.refetch() />
                }
            })}
        </Suspense>
        <PasswordSection />
    }
}

#[component]
fn TotpSection(
    enabled: bool,
    recovery: RwSignal<Vec<String>>,
    #[prop(into)] on_changed: Callback<()>,
) -> impl IntoView {
    let toasts = use_toasts();
    let setup = RwSignal::new(None::<TotpSetup>);
    let code = RwSignal::new(String::new());
    let begin = Action::new(move |_: &()| async move {
        match begin_totp().await {
            Ok(s) => setup.set(Some(s)),
            Err(e) => toasts.error(&e),
        }
    });
    let confirm = Action::new(move |code: &String| {
        let code = code.clone();
        async move {
            match confirm_totp(code).await {
                Ok(done) => {
                    setup.set(None);
                    recovery.set(done.recovery_codes);
                    on_changed.run(());
                }
                Err(e) => toasts.error(&e),
            }
        }
    });
    let disable = ServerAction::<DisableTotpFn>::new();
    let t_disabled = tr("account.totp_disabled");
    Effect::new(move |_| {
        if let Some(r) = disable.value().get() {
            toasts.outcome(&r, t_disabled);
            if r.is_ok() {
                on_changed.run(());
            }
        }
    });
    view! {
        <section class="card" aria-labelledby="totp-heading" data-testid="totp-section">
            <h2 id="totp-heading">{tr("account.totp")}</h2>
            <Show when=move || !recovery.with(Vec::is_empty)>
                <p>{tr("account.totp_recovery")}</p>
                <pre class="mono" data-testid="recovery-codes">{move || recovery.get().join("\n")}</pre>
            </Show>
            {if enabled {
                view! {
                    <p data-testid="totp-state">{tr("account.totp_on")}</p>
                    <ActionForm action=disable>
                        <label for="totp-off-password">{tr("account.totp_password")}</label>
                        <input id="totp-off-password" name="password" type="password" autocomplete="current-password" required />
                        <button type="submit" class="btn" disabled=move || disable.pending().get()>
                            {tr("account.totp_disable")}
                        </button>
                    </ActionForm>
                }
                .into_any()
            } else {
                view! {
                    <p data-testid="totp-state">{tr("account.totp_off")}</p>
                    {move || match setup.get() {
                        None => view! {
                            <button
                                type="button"
                                class="btn btn-primary"
                                data-testid="totp-begin"
                                disabled=move || begin.pending().get()
                                on:click=move |_| { begin.dispatch(()); }
                            >
                                {tr("account.totp_begin")}
                            </button>
                        }
                        .into_any(),
                        Some(s) => view! {
                            <p>{tr("account.totp_scan")}</p>
                            <div class="qr" inner_html=s.qr_svg></div>
                            <p class="mono wrap-anywhere" data-testid="totp-secret">{s.secret}</p>
                            <form on:submit=move |ev| {
                                ev.prevent_default();
                                confirm.dispatch(code.get());
                            }>
                                <label for="totp-code">{tr("account.totp_code")}</label>
                                <input
                                    id="totp-code"
                                    type="text"
                                    inputmode="numeric"
                                    autocomplete="one-time-code"
                                    maxlength="6"
                                    data-testid="totp-code"
                                    bind:value=code
                                />
                                <button type="submit" class="btn btn-primary" disabled=move || confirm.pending().get()>
                                    {tr("account.totp_confirm")}
                                </button>
                            </form>
                        }
                        .into_any(),
                    }}
                }
                .into_any()
            }}
        </section>
    }
}
