//! The "require TOTP" policy: off, admins only, or all staff (admins only; audited).

use leptos::prelude::*;

use crate::api::{save_security_settings, security_settings};
use crate::components::feedback::{busy_label, use_toasts};
use crate::components::ui::ErrorBanner;
use crate::tr;
use crate::types::{SecuritySettings, TotpPolicy};

fn policy_label(p: TotpPolicy) -> &'static str {
    match p {
        TotpPolicy::Off => tr("security.totp_off"),
        TotpPolicy::Admins => tr("security.totp_admins"),
        TotpPolicy::All => tr("security.totp_all"),
    }
}

#[component]
pub fn SecuritySection() -> impl IntoView {
    let settings = Resource::new(|| (), |_| security_settings());
    view! {
        <section class="card" aria-labelledby="security-heading">
            <h2 id="security-heading">{tr("security.heading")}</h2>
            <Suspense fallback=move || view! { <p>{tr("common.loading")}</p> }>
                {move || {
                    settings
                        .get()
                        .map(|r| match r {
                            Ok(s) => view! { <SecurityForm settings=s /> }.into_any(),
                            Err(e) => view! { <ErrorBanner error=Some(e) /> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn SecurityForm(settings: SecuritySettings) -> impl IntoView {
    let toasts = use_toasts();
    let policy = RwSignal::new(settings.totp_required.as_str().to_owned());
    let t_saved = tr("security.saved");
    let save = Action::new(move |input: &SecuritySettings| {
        let input = input.clone();
        async move {
            let r = save_security_settings(input).await;
            if let Ok(s) = &r {
                policy.set(s.totp_required.as_str().to_owned());
            }
            toasts.outcome(&r, t_saved);
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let totp_required = TotpPolicy::parse(&policy.get()).unwrap_or_default();
        save.dispatch(SecuritySettings { totp_required });
    };
    view! {
        <form on:submit=submit data-testid="security-form">
            <label for="totp-policy">{tr("security.totp_required")}</label>
            <select id="totp-policy" data-testid="totp-policy" bind:value=policy>
                {TotpPolicy::ALL
                    .into_iter()
                    .map(|p| view! { <option value=p.as_str()>{policy_label(p)}</option> })
                    .collect_view()}
            </select>
            <p class="hint">{tr("security.hint")}</p>
            <button type="submit" class="btn btn-primary" disabled=move || save.pending().get()>
                {move || busy_label(save.pending().get(), "common.save")}
            </button>
        </form>
    }
}
