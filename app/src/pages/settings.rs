//! Settings: currency and exchange rate, the "require TOTP" policy, price overrides, webhooks, importing from CRS, and
//! the password.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::ChangePassword;
use crate::components::settings::import::ImportSection;
use crate::components::settings::operator::OperatorSection;
use crate::components::settings::pricing::PricingSection;
use crate::components::settings::security::SecuritySection;
use crate::components::settings::webhooks::WebhooksSection;
use crate::components::ui::ErrorBanner;
use crate::tr;

#[component]
pub fn SettingsPage() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let error = Signal::derive(move || change.value().get().and_then(|r| r.err()));
    view! {
        <Title text=tr("settings.title") />
        <h1>{tr("settings.title")}</h1>
        <nav class="toolbar section-links" aria-label=tr("settings.sections")>
            <a href="#operator-heading">{tr("settings.business")}</a>
            <a href="#security-heading">{tr("security.heading")}</a>
            <a href="#pricing-heading">{tr("pricing.heading")}</a>
            <a href="#webhooks-heading">{tr("webhooks.heading")}</a>
            <a href="#import-heading">{tr("import.heading")}</a>
            <a href="#password-heading">{tr("settings.password")}</a>
        </nav>
        <OperatorSection />
        <SecuritySection />
        <PricingSection />
        <WebhooksSection />
        <ImportSection />
        <section class="card" aria-labelledby="password-heading">
            <h2 id="password-heading">{tr("settings.password")}</h2>
            <ErrorBanner error />
            <ActionForm action=change>
                <label for="current">{tr("settings.current_password")}</label>
                <input id="current" name="current" type="password" autocomplete="current-password" required />
                <label for="new_password">{tr("settings.new_password")}</label>
                <input
                    id="new_password"
                    name="new_password"
                    type="password"
                    autocomplete="new-password"
                    minlength="12"
                    required
                />
                <button type="submit" class="btn btn-primary" disabled=move || change.pending().get()>
                    {move || if change.pending().get() { tr("common.saving") } else { tr("settings.save_password") }}
                </button>
            </ActionForm>
        </section>
    }
}
