//! The key holder's page, public: paste a key, see its quota left, expiry, limits and usage.
//! The key is the credential: it goes in the request body, never in the URL, and a key id
//! gets nowhere.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{key_holder_usage, redeem_on_key};
use crate::components::keys::usage::UsageView;
use crate::components::layout::PublicTopbar;
use crate::components::ui::{KeyStatusPill, Meter};
use crate::error::AdminError;
use crate::i18n::{error_text, fmt_date, fmt_int, fmt_pct, fmt_usd};
use crate::types::KeyHolderUsage;
use crate::{tr, use_locale, use_utc_offset};

#[component]
pub fn KeyHolderPage() -> impl IntoView {
    let locale = use_locale();
    let key = RwSignal::new(String::new());
    let lookup = Action::new(|key: &String| key_holder_usage(key.clone()));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let k = key.get().trim().to_owned();
        if !k.is_empty() {
            lookup.dispatch(k);
        }
    };
    view! {
        <Title text=tr("holder.title") />
        <PublicTopbar />
        <main class="content narrow">
            <h1>{tr("holder.title")}</h1>
            <section class="card">
                <form on:submit=submit data-testid="holder-form" autocomplete="off">
                    <label for="holder-key">{tr("holder.key")}</label>
                    <input id="holder-key" type="password" required autocomplete="off" spellcheck="false" placeholder="tg_…" bind:value=key />
                    <p class="hint">{tr("holder.hint")}</p>
                    <button type="submit" class="btn btn-primary" disabled=move || lookup.pending().get()>
                        {move || if lookup.pending().get() { tr("common.working") } else { tr("holder.show") }}
                    </button>
                </form>
            </section>
            {move || lookup.value().get().map(|r| match r {
                Ok(usage) => view! { <HolderView usage=usage /> }.into_any(),
                Err(AdminError::NotFound { .. }) => view! {
                    <div class="banner banner-error" role="alert" data-testid="holder-error">{tr("holder.unknown")}</div>
                }.into_any(),
                Err(e) => view! {
                    <div class="banner banner-error" role="alert" data-testid="holder-error">{error_text(locale, &e)}</div>
                }.into_any(),
            })}
            // Stays mounted while the figures are read again after a redemption.
            <Show when=move || matches!(lookup.value().get(), Some(Ok(_)))>
                <RedeemOnKey key=key on_done=Callback::new(move |()| { lookup.dispatch(key.get_untracked().trim().to_owned()); }) />
            </Show>
        </main>
    }
}

#[component]
fn HolderView(usage: KeyHolderUsage) -> impl IntoView {
    let locale = use_locale();
    let offset = use_utc_offset();
    let remaining = match usage.remaining {
        Some(r) => fmt_usd(r),
        None => tr("common.unlimited").to_string(),
    };
    let share = (usage.quota_limit > 0.0).then(|| usage.spent / usage.quota_limit);
    let expiry = match (usage.expires_at, usage.activation_days) {
        (Some(at), _) => fmt_date(locale, at, offset),
        (None, Some(days)) => tr("keys.days_after_first_use").replace("{n}", &days.to_string()),
        (None, None) => tr("keys.never").to_string(),
    };
    let unlimited = tr("common.unlimited");
    let limit = move |v: f64| {
        if v > 0.0 {
            fmt_usd(v)
        } else {
            unlimited.to_string()
        }
    };
    let count = move |v: u32| {
        if v > 0 {
            fmt_int(i64::from(v))
        } else {
            unlimited.to_string()
        }
    };
    let rate = if usage.rate_limit_window > 0 && usage.rate_limit_requests > 0 {
        tr("holder.rate")
            .replace("{n}", &usage.rate_limit_requests.to_string())
            .replace("{m}", &usage.rate_limit_window.to_string())
    } else {
        unlimited.to_string()
    };
    let models = if usage.allowed_models.is_empty() {
        tr("holder.all_models").to_string()
    } else {
        usage.allowed_models.join(", ")
    };
    view! {
        <section class="card" data-testid="holder-result">
            <div class="card-head">
                <div>
                    <h2>{usage.name.clone()}</h2>
                    <span class="mono muted">{usage.key_prefix.clone()}</span>
                </div>
                <KeyStatusPill status=usage.status />
            </div>
            <div class="grid stats">
                <div class="card stat" data-testid="holder-remaining">
                    <div class="stat-label">{tr("holder.remaining")}</div>
                    <div class="stat-value">{remaining}</div>
                    <div class="stat-detail">{tr("holder.spent").replace("{spent}", &fmt_usd(usage.spent)).replace("{quota}", &limit(usage.quota_limit))}</div>
                </div>
                <div class="card stat" data-testid="holder-expiry">
                    <div class="stat-label">{tr("holder.expires")}</div>
                    <div class="stat-value stat-value-small">{expiry}</div>
                </div>
            </div>
            {share.map(|s| view! { <Meter share=s label=fmt_pct(s) /> })}
            <dl class="facts">
                <dt>{tr("holder.concurrency")}</dt><dd>{count(usage.concurrency_limit)}</dd>
                <dt>{tr("holder.rate_limit")}</dt><dd>{rate}</dd>
                <dt>{tr("holder.daily_limit")}</dt><dd>{limit(usage.daily_cost_limit)}</dd>
                <dt>{tr("holder.models")}</dt><dd>{models}</dd>
            </dl>
            <p class="hint">{tr("holder.days_in").replace("{tz}", &usage.timezone)}</p>
        </section>
        <section class="card">
            <h2>{tr("holder.usage")}</h2>
            <UsageView usage=usage.usage />
        </section>
    }
}

/// Redeeming a code onto the key shown: its value is added, then the figures are read again.
#[component]
fn RedeemOnKey(key: RwSignal<String>, on_done: Callback<()>) -> impl IntoView {
    let locale = use_locale();
    let code = RwSignal::new(String::new());
    let redeem = Action::new(move |code: &String| {
        let code = code.clone();
        let key = key.get_untracked().trim().to_owned();
        async move { redeem_on_key(key, code).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = redeem.value().get() {
            code.set(String::new());
            on_done.run(());
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let c = code.get().trim().to_owned();
        if !c.is_empty() {
            redeem.dispatch(c);
        }
    };
    view! {
        <section class="card">
            <h2>{tr("redeem.on_key")}</h2>
            <form on:submit=submit data-testid="holder-redeem-form" autocomplete="off">
                <label for="holder-code">{tr("redeem.code")}</label>
                <input id="holder-code" type="text" required autocomplete="off" spellcheck="false" class="mono" placeholder="XXXX-XXXX-…" bind:value=code />
                <button type="submit" class="btn btn-primary" disabled=move || redeem.pending().get()>
                    {move || if redeem.pending().get() { tr("common.working") } else { tr("redeem.submit") }}
                </button>
            </form>
            {move || redeem.value().get().map(|r| match r {
                Ok(done) => view! {
                    <div class="banner banner-ok" role="status" data-testid="holder-redeemed">
                        {tr("redeem.added").replace("{quota}", &fmt_usd(done.quota_added)).replace("{n}", &done.days_added.to_string())}
                    </div>
                }.into_any(),
                Err(e) => view! {
                    <div class="banner banner-error" role="alert" data-testid="holder-redeem-error">{error_text(locale, &e)}</div>
                }.into_any(),
            })}
        </section>
    }
}
