//! Presets keys are sold from ("Trial card: $20, 7 days, concurrency 3, queue 5 / 10 s"):
//! list, edit, add and delete. Settings the form does not show are kept as they were.

use leptos::prelude::*;

use super::optional_number;
use super::restrictions::{RestrictionFields, RestrictionSignals};
use crate::api::{create_preset, delete_preset, list_presets, update_preset};
use crate::components::feedback::{busy_label, use_toasts, ConfirmButton};
use crate::components::ui::ErrorBanner;
use crate::i18n::fmt_usd;
use crate::tr;
use crate::types::{KeyPreset, KeyPresetInput, KeyPresetPatch, KeySettings};

#[derive(Clone, Debug, PartialEq)]
enum Change {
    Save(Option<String>, Box<KeyPresetInput>),
    Delete(String),
}

#[component]
pub fn PresetsPanel(#[prop(into)] on_changed: Callback<()>) -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    let presets = Resource::new(move || refresh.get(), |_| list_presets());
    let editing: RwSignal<Option<Option<KeyPreset>>> = RwSignal::new(None);
    let toasts = use_toasts();
    let (t_saved, t_deleted) = (tr("presets.saved"), tr("presets.deleted"));
    let change = Action::new(move |c: &Change| {
        let c = c.clone();
        let success = if matches!(c, Change::Delete(_)) {
            t_deleted
        } else {
            t_saved
        };
        async move {
            let result = match c {
                Change::Save(None, input) => create_preset(*input).await.map(|_| ()),
                Change::Save(Some(id), input) => {
                    let patch = KeyPresetPatch {
                        name: Some(input.name),
                        validity_days: Some(input.validity_days),
                        settings: Some(input.settings),
                    };
                    update_preset(id, patch).await.map(|_| ())
                }
                Change::Delete(id) => delete_preset(id).await,
            };
            if result.is_ok() {
                editing.set(None);
                refresh.update(|n| *n += 1);
                on_changed.run(());
            }
            toasts.outcome(&result, success);
        }
    });
    view! {
        <Transition fallback=move || view! { <p>{tr("common.loading")}</p> }>
            {move || presets.get().map(|r| match r {
                Ok(list) => view! {
                    <ul class="target-list" data-testid="preset-list">
                        {list.into_iter().map(|p| {
                            let (edit, delete) = (p.clone(), p.id.clone());
                            let s = &p.settings;
                            let summary = [
                                s.quota_limit.map(|q| if q > 0.0 { fmt_usd(q) } else { tr("common.unlimited").to_string() }),
                                p.validity_days.map(|d| tr("presets.days").replace("{n}", &d.to_string())),
                                s.concurrency_limit.map(|c| tr("presets.concurrency").replace("{n}", &c.to_string())),
                            ]
                            .into_iter()
                            .flatten()
                            .collect::<Vec<_>>()
                            .join(" · ");
                            view! {
                                <li>
                                    <div class="attention-head">
                                        <span class="strong">{p.name.clone()}</span>
                                        <span class="muted small">{summary}</span>
                                    </div>
                                    <div class="row-actions">
                                        <button type="button" class="btn btn-small" on:click=move |_| editing.set(Some(Some(edit.clone())))>
                                            {tr("common.edit")}
                                        </button>
                                        <ConfirmButton label=tr("common.delete") question=tr("presets.delete_question") pending=change.pending()
                                            on_confirm=move |_| { change.dispatch(Change::Delete(delete.clone())); } />
                                    </div>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
                Err(e) => view! { <ErrorBanner error=Some(e) /> }.into_any(),
            })}
        </Transition>
        {move || match editing.get() {
            None => view! {
                <button type="button" class="btn" on:click=move |_| editing.set(Some(None))>{tr("presets.add")}</button>
            }.into_any(),
            Some(preset) => view! {
                <PresetForm preset=preset pending=change.pending() on_save=move |(id, input)| { change.dispatch(Change::Save(id, Box::new(input))); } />
            }.into_any(),
        }}
    }
}

#[component]
fn PresetForm(
    preset: Option<KeyPreset>,
    #[prop(into)] pending: Signal<bool>,
    #[prop(into)] on_save: Callback<(Option<String>, KeyPresetInput)>,
) -> impl IntoView {
    let toasts = use_toasts();
    let base: KeySettings = preset
        .as_ref()
        .map(|p| p.settings.clone())
        .unwrap_or_default();
    let text = |v: Option<String>| RwSignal::new(v.unwrap_or_default());
    let name = text(preset.as_ref().map(|p| p.name.clone()));
    let days = text(
        preset
            .as_ref()
            .and_then(|p| p.validity_days)
            .map(|d| d.to_string()),
    );
    let quota = text(base.quota_limit.map(|v| v.to_string()));
    let concurrency = text(base.concurrency_limit.map(|v| v.to_string()));
    let queue = RwSignal::new(base.concurrent_request_queue_enabled.unwrap_or(false));
    let strict = RwSignal::new(base.strict_max_tokens.unwrap_or(false));
    let server_tools = RwSignal::new(base.allow_server_tools.unwrap_or(true));
    let queue_size = text(
        base.concurrent_request_queue_max_size
            .map(|v| v.to_string()),
    );
    let queue_timeout = text(
        base.concurrent_request_queue_timeout_ms
            .map(|v| v.to_string()),
    );
    let window = text(base.rate_limit_window.map(|v| v.to_string()));
    let requests = text(base.rate_limit_requests.map(|v| v.to_string()));
    let price = text(base.sale_price.map(|v| v.to_string()));
    let currency = text(base.currency.clone());
    let t_bad_caps = tr("keys.bad_caps");
    let restrictions = RestrictionSignals::from_settings(&base);
    let id = preset.map(|p| p.id);
    let t_bad = tr("common.bad_number");
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let parsed = (|| {
            Ok::<_, ()>((
                optional_number::<u32>(&days.get())?,
                optional_number::<f64>(&quota.get())?,
                optional_number::<u32>(&concurrency.get())?,
                optional_number::<u32>(&queue_size.get())?,
                optional_number::<u64>(&queue_timeout.get())?,
                optional_number::<u32>(&window.get())?,
                optional_number::<u32>(&requests.get())?,
                optional_number::<f64>(&price.get())?,
            ))
        })();
        let Ok((days, quota, concurrency, size, timeout, window, requests, price)) = parsed else {
            toasts.error_text(t_bad);
            return;
        };
        let Some(restricted) = restrictions.settings() else {
            toasts.error_text(t_bad_caps);
            return;
        };
        let currency = Some(currency.get().trim().to_uppercase()).filter(|c| !c.is_empty());
        let settings = KeySettings {
            quota_limit: quota,
            concurrency_limit: concurrency,
            concurrent_request_queue_enabled: Some(queue.get()),
            concurrent_request_queue_max_size: size,
            concurrent_request_queue_timeout_ms: timeout,
            rate_limit_window: window,
            rate_limit_requests: requests,
            strict_max_tokens: Some(strict.get()),
            allow_server_tools: Some(server_tools.get()),
            sale_price: price,
            currency,
            allowed_clients: restricted.allowed_clients,
            allowed_cidrs: restricted.allowed_cidrs,
            model_daily_cost_limits: restricted.model_daily_cost_limits,
            ..base.clone()
        };
        on_save.run((
            id.clone(),
            KeyPresetInput {
                name: name.get().trim().to_owned(),
                validity_days: days,
                settings,
            },
        ));
    };
    let field =
        |id: &'static str, key: &'static str, value: RwSignal<String>, step: &'static str| {
            view! {
                <div>
                    <label for=id>{tr(key)}</label>
                    <input id=id type="number" min="0" step=step bind:value=value />
                </div>
            }
        };
    view! {
        <form on:submit=submit data-testid="preset-form">
            <label for="pr-name">{tr("presets.name")}</label>
            <input id="pr-name" type="text" required maxlength="100" bind:value=name />
            <div class="form-row">
                {field("pr-days", "presets.validity_days", days, "1")}
                {field("pr-quota", "keys.quota_usd_zero", quota, "0.01")}
                {field("pr-concurrency", "keys.concurrency_zero", concurrency, "1")}
                {field("pr-queue-size", "keys.queue_size", queue_size, "1")}
                {field("pr-queue-timeout", "keys.queue_timeout", queue_timeout, "100")}
                {field("pr-window", "keys.rate_window", window, "1")}
                {field("pr-requests", "keys.rate_requests", requests, "1")}
                {field("pr-price", "keys.sale_price", price, "0.01")}
                <div>
                    <label for="pr-currency">{tr("keys.currency")}</label>
                    <input id="pr-currency" type="text" maxlength="3" bind:value=currency />
                </div>
            </div>
            <label class="check">
                <input type="checkbox" bind:checked=queue />
                {tr("keys.queue_enabled")}
            </label>
            <label class="check">
                <input type="checkbox" data-testid="pr-strict" bind:checked=strict />
                {tr("keys.strict_max_tokens")}
            </label>
            <label class="check">
                <input type="checkbox" data-testid="pr-server-tools" bind:checked=server_tools />
                {tr("keys.allow_server_tools")}
            </label>
            <RestrictionFields signals=restrictions id="pr" />
            <button type="submit" class="btn btn-primary" disabled=move || pending.get()>
                {move || busy_label(pending.get(), "common.save")}
            </button>
        </form>
    }
}
