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

/// A horizontal bar for a share (utilization, quota used), with the figure as text.
#[component]
pub fn Meter(
    #[prop(into)] share: Signal<f64>,
    #[prop(into)] label: Signal<String>,
) -> impl IntoView {
    let width = move || format!("{:.1}%", (share.get() * 100.0).clamp(0.0, 100.0));
    let level = move || {
        let s = share.get();
        if s >= 0.9 {
            "meter-bar meter-bad"
        } else if s >= 0.7 {
            "meter-bar meter-warn"
        } else {
            "meter-bar"
        }
    };
    view! {
        <div class="meter" role="img" aria-label=move || label.get()>
            <div class=level style:width=width></div>
        </div>
        <span class="meter-label">{move || label.get()}</span>
    }
}

/// An account's status as a coloured pill.
#[component]
pub fn AccountStatusPill(status: crate::types::AccountStatus) -> impl IntoView {
    use crate::types::AccountStatus as S;
    let (class, key) = match status {
        S::Active => ("pill pill-ok", "status.active"),
        S::RateLimited => ("pill pill-warn", "status.rate_limited"),
        S::Overloaded => ("pill pill-warn", "status.overloaded"),
        S::Error => ("pill pill-bad", "status.error"),
        S::Disabled => ("pill", "status.disabled"),
    };
    view! { <span class=class data-status=status.as_str()>{crate::tr(key)}</span> }
}

/// A key's status as a coloured pill.
#[component]
pub fn KeyStatusPill(status: crate::types::KeyStatus) -> impl IntoView {
    use crate::types::KeyStatus as S;
    let (class, key) = match status {
        S::Active => ("pill pill-ok", "keystatus.active"),
        S::Expired => ("pill pill-warn", "keystatus.expired"),
        S::Exhausted => ("pill pill-bad", "keystatus.exhausted"),
        S::Disabled => ("pill", "keystatus.disabled"),
    };
    view! { <span class=class data-status=status.as_str()>{crate::tr(key)}</span> }
}

/// The name of a platform.
pub fn platform_name(p: crate::types::Platform) -> &'static str {
    match p {
        crate::types::Platform::Claude => "Claude",
        crate::types::Platform::Openai => "OpenAI",
        crate::types::Platform::Gemini => "Gemini",
    }
}
