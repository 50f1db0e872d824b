//! Small shared pieces: error banners, stat cards.

use leptos::prelude::*;

use crate::error::AdminError;
use crate::i18n::error_text;
use crate::use_locale;

/// A red banner with the error in the user's language; nothing when there is no error.
#[component]
pub fn ErrorBanner(#[prop(into)] error: Signal<Option<AdminError>>) -> impl IntoView {
    let locale = use_locale();
    move || {
        error.get().map(|e| {
            view! {
                <div class="banner banner-error" role="alert">
                    {error_text(locale, &e)}
                </div>
            }
        })
    }
}

/// A figure with a label, for the overview.
#[component]
pub fn StatCard(
    #[prop(into)] label: String,
    #[prop(into)] value: Signal<String>,
    #[prop(optional, into)] detail: Option<Signal<String>>,
    #[prop(optional, into)] test_id: Option<String>,
) -> impl IntoView {
    view! {
        <div class="card stat" data-testid=test_id>
            <div class="stat-label">{label}</div>
            <div class="stat-value">{move || value.get()}</div>
            {detail.map(|d| view! { <div class="stat-detail">{move || d.get()}</div> })}
        </div>
    }
}
