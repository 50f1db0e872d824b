//! Changing one's own password: the settings page's last section, and the "my account" page's.

use leptos::prelude::*;

use crate::api::ChangePassword;
use crate::components::ui::ErrorBanner;
use crate::tr;
use crate::types::MIN_PASSWORD_CHARS;

#[component]
pub fn PasswordSection() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let error = Signal::derive(move || change.value().get().and_then(|r| r.err()));
    view! {
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
                    minlength={MIN_PASSWORD_CHARS.to_string()}
                    required
                />
                <button type="submit" class="btn btn-primary" disabled=move || change.pending().get()>
                    {move || if change.pending().get() { tr("common.saving") } else { tr("settings.save_password") }}
                </button>
            </ActionForm>
        </section>
    }
}
