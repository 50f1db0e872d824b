//! Keys for orders in one go: one per pasted order number, or a count, named by a template,
//! with a preset's settings.

use leptos::prelude::*;

use super::restrictions::{RestrictionFields, RestrictionSignals};
use super::{optional_number, word_list, PresetSelect};
use crate::api::batch_create_keys;
use crate::components::feedback::{busy_label, use_toasts};
use crate::tr;
use crate::types::{
    BatchCreateKeys, CreatedKey, KeyPreset, KeySettings, MAX_BATCH, ORDER_TEMPLATE, TRIAL_PRESET_ID,
};

/// The template offered for a count (`{n}` is the number).
pub const COUNT_TEMPLATE: &str = "card-{n}";

#[component]
pub fn BatchForm(
    presets: Vec<KeyPreset>,
    #[prop(into)] currency: String,
    #[prop(into)] on_created: Callback<Vec<CreatedKey>>,
    /// Sellers sell at the preset's price: no price fields.
    #[prop(optional)]
    seller: bool,
) -> impl IntoView {
    let toasts = use_toasts();
    let first = presets
        .iter()
        .find(|p| p.id == TRIAL_PRESET_ID)
        .or(presets.first())
        .map(|p| p.id.clone())
        .unwrap_or_default();
    let preset = RwSignal::new(first);
    let by_orders = RwSignal::new(true);
    let orders = RwSignal::new(String::new());
    let count = RwSignal::new("10".to_string());
    let template = RwSignal::new(ORDER_TEMPLATE.to_string());
    let price = RwSignal::new(String::new());
    let currency = RwSignal::new(currency);
    let tags = RwSignal::new(String::new());
    let t_bad_caps = tr("keys.bad_caps");
    let restrictions = RestrictionSignals::empty();
    let (t_bad_number, t_none, t_too_many, t_created) = (
        tr("common.bad_number"),
        tr("keys.batch_nothing"),
        tr("keys.batch_too_many"),
        tr("keys.created_many"),
    );
    let t_will_create = tr("keys.batch_will_create");

    let switch_mode = move |orders_mode: bool| {
        by_orders.set(orders_mode);
        let current = template.get_untracked();
        if orders_mode && current == COUNT_TEMPLATE {
            template.set(ORDER_TEMPLATE.into());
        } else if !orders_mode && current == ORDER_TEMPLATE {
            template.set(COUNT_TEMPLATE.into());
        }
    };
    let planned = move || {
        if by_orders.get() {
            orders.with(|o| o.lines().filter(|l| !l.trim().is_empty()).count())
        } else {
            count.with(|c| c.trim().parse::<usize>().unwrap_or(0))
        }
    };

    let create = Action::new(move |input: &BatchCreateKeys| {
        let input = input.clone();
        async move {
            match batch_create_keys(input).await {
                Ok(created) => {
                    toasts.ok(t_created.replace("{n}", &created.len().to_string()));
                    on_created.run(created);
                }
                Err(e) => toasts.error(&e),
            }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let n = planned();
        if n == 0 {
            toasts.error_text(t_none);
            return;
        }
        if n > MAX_BATCH {
            toasts.error_text(t_too_many);
            return;
        }
        let Ok(price) = optional_number::<f64>(&price.get()) else {
            toasts.error_text(t_bad_number);
            return;
        };
        // Sellers never see the restriction fields: the preset sets them.
        let restricted = if seller {
            KeySettings::default()
        } else {
            let Some(restricted) = restrictions.settings() else {
                toasts.error_text(t_bad_caps);
                return;
            };
            restricted
        };
        let names: Vec<String> = orders
            .get()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        let tags = word_list(&tags.get());
        let preset = preset.get();
        let template = template.get().trim().to_owned();
        create.dispatch(BatchCreateKeys {
            count: (!by_orders.get()).then_some(n as u32),
            names: by_orders.get().then_some(names),
            name_template: (!template.is_empty()).then_some(template),
            settings: KeySettings {
                preset_id: (!preset.is_empty()).then_some(preset),
                sale_price: price,
                currency: price.map(|_| currency.get().trim().to_uppercase()),
                tags: (!tags.is_empty()).then_some(tags),
                ..restricted
            },
        });
    };

    view! {
        <form on:submit=submit data-testid="batch-form">
            <label for="bk-preset">{tr("keys.preset")}</label>
            <PresetSelect presets=presets value=preset id="bk-preset" required=true />
            <fieldset class="segmented">
                <legend>{tr("keys.batch_mode")}</legend>
                <label class="check">
                    <input
                        type="radio"
                        name="bk-mode"
                        value="orders"
                        data-testid="batch-mode-orders"
                        prop:checked=move || by_orders.get()
                        on:change=move |_| switch_mode(true)
                    />
                    {tr("keys.batch_by_orders")}
                </label>
                <label class="check">
                    <input
                        type="radio"
                        name="bk-mode"
                        value="count"
                        data-testid="batch-mode-count"
                        prop:checked=move || !by_orders.get()
                        on:change=move |_| switch_mode(false)
                    />
                    {tr("keys.batch_by_count")}
                </label>
            </fieldset>
            <Show
                when=move || by_orders.get()
                fallback=move || {
                    view! {
                        <label for="bk-count">{tr("keys.batch_count")}</label>
                        <input id="bk-count" type="number" min="1" max={MAX_BATCH.to_string()} step="1" bind:value=count />
                    }
                }
            >
                <label for="bk-orders">{tr("keys.batch_orders")}</label>
                <textarea
                    id="bk-orders"
                    rows="6"
                    placeholder="A1001\nA1002"
                    bind:value=orders
                ></textarea>
            </Show>
            <label for="bk-template">{tr("keys.batch_template")}</label>
            <input id="bk-template" type="text" maxlength="200" bind:value=template />
            <p class="hint">
                {move || if by_orders.get() { tr("keys.batch_template_orders") } else { tr("keys.batch_template_count") }}
            </p>
            <div class="form-row">
                {(!seller).then(|| view! {
                    <div>
                        <label for="bk-price">{tr("keys.sale_price")}</label>
                        <input id="bk-price" type="number" min="0" step="0.01" bind:value=price />
                    </div>
                    <div>
                        <label for="bk-currency">{tr("keys.currency")}</label>
                        <input id="bk-currency" type="text" maxlength="3" bind:value=currency />
                    </div>
                })}
                <div>
                    <label for="bk-tags">{tr("keys.tags")}</label>
                    <input id="bk-tags" type="text" bind:value=tags />
                </div>
            </div>
            {(!seller).then(|| view! { <RestrictionFields signals=restrictions id="bk" /> })}
            <p class="hint" data-testid="batch-planned">
                {move || t_will_create.replace("{n}", &planned().to_string())}
            </p>
            <button type="submit" class="btn btn-primary" disabled=move || create.pending().get()>
                {move || busy_label(create.pending().get(), "keys.batch_create")}
            </button>
        </form>
    }
}
