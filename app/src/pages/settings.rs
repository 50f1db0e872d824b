//! Settings: currency and exchange rate, the "require TOTP" policy, price overrides, webhooks, importing from CRS, and
//! the password.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::settings::import::ImportSection;
use crate::components::settings::operator::OperatorSection;
use crate::components::settings::password::PasswordSection;
use crate::components::settings::pricing::PricingSection;
use crate::components::settings::security::SecuritySection;
use crate::components::settings::webhooks::WebhooksSection;
use crate::tr;

#[component]
pub fn SettingsPage() -> impl IntoView {
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
        <PasswordSection />
    }
}
