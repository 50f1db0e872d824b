//! The operator's currency and USD exchange rate (for margin), and the time zone days are
//! counted in (configured on the server, shown here).

use leptos::prelude::*;

use crate::api::{operator_settings, save_operator_settings};
use crate::components::feedback::{busy_label, use_toasts};
use crate::components::ui::ErrorBanner;
use crate::tr;
use crate::types::{OperatorSettings, OperatorSettingsInput};

#[component]
pub fn OperatorSection() -> impl IntoView {
    let settings = Resource::new(|| (), |_| operator_settings());
    view! {
        <section class="card" aria-labelledby="operator-heading">
            <h2 id="operator-heading">{tr("settings.business")}</h2>
            <Suspense fallback=move || view! { <p>{tr("common.loading")}</p> }>
                {move || {
                    settings
                        .get()
                        .map(|r| match r {
                            Ok(s) => view! { <OperatorForm settings=s /> }.into_any(),
                            Err(e) => view! { <ErrorBanner error=Some(e) /> }.into_any(),
                        })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn OperatorForm(settings: OperatorSettings) -> impl IntoView {
    let toasts = use_toasts();
    let currency = RwSignal::new(settings.currency.clone());
    let rate = RwSignal::new(settings.usd_exchange_rate.to_string());
    let (t_saved, t_bad) = (tr("settings.business_saved"), tr("common.bad_number"));
    let save = Action::new(move |input: &OperatorSettingsInput| {
        let input = input.clone();
        async move {
            let r = save_operator_settings(input).await;
            if let Ok(s) = &r {
                currency.set(s.currency.clone());
                rate.set(s.usd_exchange_rate.to_string());
            }
            toasts.outcome(&r, t_saved);
        }
    });
    let is_usd = move || currency.get().trim().eq_ignore_ascii_case("USD");
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let parsed = if is_usd() {
            Some(1.0)
        } else {
            rate.get().trim().parse::<f64>().ok()
        };
        let Some(usd_exchange_rate) = parsed else {
            toasts.error_text(t_bad);
            return;
        };
        save.dispatch(OperatorSettingsInput {
            currency: currency.get().trim().to_uppercase(),
            usd_exchange_rate,
        });
    };
    view! {
        <form on:submit=submit data-testid="operator-form">
            <div class="form-row">
                <div>
                    <label for="op-currency">{tr("settings.currency")}</label>
                    <input id="op-currency" type="text" required minlength="3" maxlength="3" bind:value=currency />
                </div>
                <div>
                    <label for="op-rate">{tr("settings.rate")}</label>
                    <input id="op-rate" type="number" min="0" step="any" disabled=is_usd bind:value=rate />
                </div>
                <div>
                    <label for="op-tz">{tr("settings.timezone")}</label>
                    <input id="op-tz" type="text" readonly value=settings.timezone.clone() />
                </div>
            </div>
            <p class="hint">{tr("settings.business_hint")}</p>
            <button type="submit" class="btn btn-primary" disabled=move || save.pending().get()>
                {move || busy_label(save.pending().get(), "common.save")}
            </button>
        </form>
    }
}
