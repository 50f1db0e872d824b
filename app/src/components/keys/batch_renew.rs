//! Renewing the keys selected in the table: one renewal for all of them, all or nothing (the
//! service renews every key in one transaction or none). The outcome stays in the dialog: each
//! key with where it now stands, or the error that kept them all as they were.

use leptos::prelude::*;

use super::renew::{standing_text, Invalid, RenewFields, RenewFieldset};
use crate::api::renew_keys;
use crate::components::feedback::{busy_label, use_toasts};
use crate::components::ui::ErrorBanner;
use crate::error::AdminError;
use crate::types::{ApiKey, BatchRenewKeys, KeyPreset, Renewed};
use crate::{tr, use_locale, use_utc_offset};

#[component]
pub fn BatchRenewForm(
    keys: Vec<ApiKey>,
    presets: Vec<KeyPreset>,
    currency: String,
    #[prop(into)] on_renewed: Callback<Vec<Renewed>>,
) -> impl IntoView {
    let toasts = use_toasts();
    let locale = use_locale();
    let offset = use_utc_offset();
    let fields = RenewFields::new(&currency);
    let error: RwSignal<Option<AdminError>> = RwSignal::new(None);
    let done: RwSignal<Option<Vec<Renewed>>> = RwSignal::new(None);
    let ids: Vec<String> = keys.iter().map(|k| k.id.clone()).collect();
    let t_done = tr("renew.batch_done");
    let run = Action::new(move |input: &BatchRenewKeys| {
        let input = input.clone();
        async move {
            match renew_keys(input).await {
                Ok(renewed) => {
                    toasts.ok(t_done.replace("{n}", &renewed.len().to_string()));
                    error.set(None);
                    done.set(Some(renewed.clone()));
                    on_renewed.run(renewed);
                }
                Err(e) => {
                    toasts.error(&e);
                    error.set(Some(e));
                }
            }
        }
    });
    let (t_number, t_nothing) = (tr("common.bad_number"), tr("renew.nothing"));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match fields.input() {
            Ok(renew) => {
                run.dispatch(BatchRenewKeys {
                    ids: ids.clone(),
                    renew,
                });
            }
            Err(Invalid::Number) => toasts.error_text(t_number),
            Err(Invalid::Nothing) => toasts.error_text(t_nothing),
        }
    };
    let names = keys
        .iter()
        .map(|k| k.name.clone())
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <p class="hint">{tr("renew.batch_hint")}</p>
        <p class="muted" data-testid="batch-renew-keys">{names}</p>
        <form on:submit=submit data-testid="batch-renew-form">
            <RenewFieldset fields=fields presets=presets id="br" />
            <button type="submit" class="btn btn-primary" data-testid="batch-renew-submit" disabled=move || run.pending().get()>
                {move || busy_label(run.pending().get(), "renew.submit")}
            </button>
        </form>
        <div data-testid="batch-renew-error">
            <ErrorBanner error=error />
        </div>
        {move || {
            done.get().map(|renewed| {
                view! {
                    <ul data-testid="batch-renew-result">
                        {renewed
                            .into_iter()
                            .map(|r| view! {
                                <li data-key-id=r.key.id.clone()>
                                    <span class="strong">{r.key.name.clone()}</span>
                                    " · "
                                    {standing_text(&r.key, locale, offset)}
                                </li>
                            })
                            .collect_view()}
                    </ul>
                }
            })
        }}
    }
}

/// Above the table while keys are selected: how many, renew them, or clear the selection.
#[component]
pub fn SelectionBar(
    selected: super::table::Selection,
    #[prop(into)] on_renew: Callback<Vec<ApiKey>>,
) -> impl IntoView {
    let t_selected = tr("renew.selected");
    view! {
        <Show when=move || selected.with(|s| !s.is_empty())>
            <div class="toolbar" role="group" aria-label=tr("renew.batch") data-testid="selection-bar">
                <span class="muted" data-testid="selection-count">
                    {move || t_selected.replace("{n}", &selected.with(|s| s.len()).to_string())}
                </span>
                <button
                    type="button"
                    class="btn btn-primary-inline"
                    data-testid="batch-renew"
                    on:click=move |_| on_renew.run(selected.with(|s| s.values().cloned().collect()))
                >
                    {tr("renew.batch")}
                </button>
                <button type="button" class="btn" on:click=move |_| selected.set(Default::default())>
                    {tr("renew.clear")}
                </button>
            </div>
        </Show>
    }
}
