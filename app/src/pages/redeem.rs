//! The public redeem page: someone without a key types a code and gets a new key, shown once.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::redeem_code;
use crate::components::browser::copy_text;
use crate::components::layout::PublicTopbar;
use crate::i18n::{error_text, fmt_date, fmt_usd};
use crate::{tr, use_locale, use_utc_offset};

#[component]
pub fn RedeemPage() -> impl IntoView {
    let locale = use_locale();
    let offset = use_utc_offset();
    let code = RwSignal::new(String::new());
    let redeem = Action::new(|code: &String| redeem_code(code.clone()));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let c = code.get().trim().to_owned();
        if !c.is_empty() {
            redeem.dispatch(c);
        }
    };
    view! {
        <Title text=tr("redeem.title") />
        <PublicTopbar />
        <main class="content narrow">
            <h1>{tr("redeem.title")}</h1>
            <section class="card">
                <form on:submit=submit data-testid="redeem-form" autocomplete="off">
                    <label for="redeem-code">{tr("redeem.code")}</label>
                    <input id="redeem-code" type="text" required autocomplete="off" spellcheck="false" class="mono" placeholder="XXXX-XXXX-…" bind:value=code />
                    <p class="hint">{tr("redeem.hint")}</p>
                    <button type="submit" class="btn btn-primary" disabled=move || redeem.pending().get()>
                        {move || if redeem.pending().get() { tr("common.working") } else { tr("redeem.submit") }}
                    </button>
                </form>
            </section>
            {move || redeem.value().get().map(|r| match r {
                Ok(done) => {
                    let key = done.key.clone();
                    let expiry = done
                        .expires_at
                        .map(|at| tr("redeem.expires").replace("{date}", &fmt_date(locale, at, offset)));
                    view! {
                        <section class="card" data-testid="redeemed">
                            <div class="banner banner-ok" role="status">{tr("redeem.new_key")}</div>
                            <p><code class="mono break-all" data-testid="redeemed-key">{done.key.clone()}</code></p>
                            <p>{tr("redeem.quota").replace("{quota}", &fmt_usd(done.quota_limit))}</p>
                            {expiry.map(|e| view! { <p>{e}</p> })}
                            <div class="row-actions">
                                <button type="button" class="btn" on:click=move |_| { copy_text(&key); }>{tr("redeem.copy")}</button>
                                <a class="btn" href="/usage">{tr("redeem.usage_link")}</a>
                            </div>
                        </section>
                    }.into_any()
                }
                Err(e) => view! {
                    <div class="banner banner-error" role="alert" data-testid="redeem-error">{error_text(locale, &e)}</div>
                }.into_any(),
            })}
        </main>
    }
}
