//! Creating one key.

use leptos::prelude::*;

use super::restrictions::{RestrictionFields, RestrictionSignals};
use super::{date_input, optional_number, PresetSelect};
use crate::api::create_key;
use crate::components::feedback::{busy_label, use_toasts};
use crate::tr;
use crate::types::{CreateKey, CreatedKey, KeyPreset, KeySettings};

#[component]
pub fn CreateKeyForm(
    presets: Vec<KeyPreset>,
    #[prop(into)] currency: String,
    #[prop(into)] on_created: Callback<Vec<CreatedKey>>,
) -> impl IntoView {
    let toasts = use_toasts();
    let name = RwSignal::new(String::new());
    let preset = RwSignal::new(String::new());
    let quota = RwSignal::new(String::new());
    let expires = RwSignal::new(String::new());
    let activation = RwSignal::new(String::new());
    let concurrency = RwSignal::new(String::new());
    let price = RwSignal::new(String::new());
    let currency = RwSignal::new(currency);
    let description = RwSignal::new(String::new());
    let t_bad_caps = tr("keys.bad_caps");
    let restrictions = RestrictionSignals::empty();
    let (t_bad_number, t_created) = (tr("common.bad_number"), tr("keys.created_one"));

    let create = Action::new(move |input: &CreateKey| {
        let input = input.clone();
        async move {
            let result = create_key(input).await;
            match result {
                Ok(created) => {
                    toasts.ok(t_created);
                    on_created.run(vec![created]);
                }
                Err(e) => toasts.error(&e),
            }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let numbers = (|| {
            Ok::<_, ()>((
                optional_number::<f64>(&quota.get())?,
                optional_number::<u32>(&activation.get())?,
                optional_number::<u32>(&concurrency.get())?,
                optional_number::<f64>(&price.get())?,
            ))
        })();
        let Ok((quota, activation, concurrency, price)) = numbers else {
            toasts.error_text(t_bad_number);
            return;
        };
        let Some(restricted) = restrictions.settings() else {
            toasts.error_text(t_bad_caps);
            return;
        };
        let preset = preset.get();
        let description = description.get();
        create.dispatch(CreateKey {
            name: name.get().trim().to_owned(),
            settings: KeySettings {
                description: (!description.trim().is_empty()).then_some(description),
                quota_limit: quota,
                expires_at: date_input(&expires.get()),
                activation_days: activation,
                concurrency_limit: concurrency,
                sale_price: price,
                currency: price.map(|_| currency.get().trim().to_uppercase()),
                preset_id: (!preset.is_empty()).then_some(preset),
                ..restricted
            },
        });
    };

    view! {
        <form on:submit=submit data-testid="create-key-form">
            <label for="ck-name">{tr("keys.name")}</label>
            <input id="ck-name" type="text" required maxlength="200" bind:value=name />
            <label for="ck-preset">{tr("keys.preset")}</label>
            <PresetSelect presets=presets value=preset id="ck-preset" />
            <p class="hint">{tr("keys.preset_hint")}</p>
            <div class="form-row">
                <div>
                    <label for="ck-quota">{tr("keys.quota_usd")}</label>
                    <input id="ck-quota" type="number" min="0" step="0.01" bind:value=quota />
                </div>
                <div>
                    <label for="ck-concurrency">{tr("keys.concurrency")}</label>
                    <input id="ck-concurrency" type="number" min="0" step="1" bind:value=concurrency />
                </div>
                <div>
                    <label for="ck-expires">{tr("keys.expires_on")}</label>
                    <input id="ck-expires" type="date" bind:value=expires />
                </div>
                <div>
                    <label for="ck-activation">{tr("keys.activation_days")}</label>
                    <input id="ck-activation" type="number" min="1" step="1" bind:value=activation />
                </div>
                <div>
                    <label for="ck-price">{tr("keys.sale_price")}</label>
                    <input id="ck-price" type="number" min="0" step="0.01" bind:value=price />
                </div>
                <div>
                    <label for="ck-currency">{tr("keys.currency")}</label>
                    <input id="ck-currency" type="text" maxlength="3" bind:value=currency />
                </div>
            </div>
            <label for="ck-description">{tr("keys.description")}</label>
            <input id="ck-description" type="text" maxlength="500" bind:value=description />
            <RestrictionFields signals=restrictions id="ck" />
            <button type="submit" class="btn btn-primary" disabled=move || create.pending().get()>
                {move || busy_label(create.pending().get(), "keys.create")}
            </button>
        </form>
    }
}
