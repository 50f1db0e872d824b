//! Renewing keys: days to add (from the current expiry, or from now when it has passed), quota
//! to add, a preset to move to, a sale price and a note — what `POST /admin/api-keys/{id}/renew`
//! takes. One key's panel shows where it stands, the form and its ledger; a selection of keys
//! is renewed all or nothing (`batch_renew`). Sellers are offered their presets only (the list
//! the service gives them), and the service enforces it.

use leptos::prelude::*;

use super::ledger::KeyLedger;
use super::{optional_number, Directory};
use crate::api::renew_key;
use crate::components::feedback::{busy_label, use_toasts};
use crate::i18n::{fmt_date, fmt_usd};
use crate::types::{ApiKey, KeyPreset, RenewKey, When};
use crate::{tr, use_locale, use_utc_offset};

/// The form's fields, shared by one key's form and the batch form.
#[derive(Clone, Copy)]
pub struct RenewFields {
    days: RwSignal<String>,
    quota: RwSignal<String>,
    preset: RwSignal<String>,
    price: RwSignal<String>,
    currency: RwSignal<String>,
    note: RwSignal<String>,
}

/// Why the fields do not make a renewal (a text key).
pub enum Invalid {
    Number,
    Nothing,
}

impl RenewFields {
    pub fn new(currency: &str) -> Self {
        RenewFields {
            days: RwSignal::new(String::new()),
            quota: RwSignal::new(String::new()),
            preset: RwSignal::new(String::new()),
            price: RwSignal::new(String::new()),
            currency: RwSignal::new(currency.to_owned()),
            note: RwSignal::new(String::new()),
        }
    }

    /// The request, or why there is none.
    pub fn input(&self) -> Result<RenewKey, Invalid> {
        let days: Option<u32> = optional_number(&self.days.get()).map_err(|_| Invalid::Number)?;
        let money = |s: RwSignal<String>| {
            optional_number::<f64>(&s.get())
                .map_err(|_| Invalid::Number)
                .and_then(|v| match v {
                    Some(v) if !v.is_finite() || v < 0.0 => Err(Invalid::Number),
                    v => Ok(v),
                })
        };
        let quota = money(self.quota)?;
        let price = money(self.price)?;
        let text = |s: RwSignal<String>| Some(s.get().trim().to_owned()).filter(|t| !t.is_empty());
        let input = RenewKey {
            quota_add_usd: quota.filter(|q| *q > 0.0),
            days_add: days.filter(|d| *d > 0),
            preset_id: text(self.preset),
            sale_price: price.filter(|p| *p > 0.0),
            currency: text(self.currency).map(|c| c.to_uppercase()),
            note: text(self.note),
        };
        let nothing = input.quota_add_usd.is_none()
            && input.days_add.is_none()
            && input.preset_id.is_none()
            && input.sale_price.is_none()
            && input.note.is_none();
        if nothing {
            Err(Invalid::Nothing)
        } else {
            Ok(input)
        }
    }

    /// Fills days, quota and price from a preset's terms.
    fn take_terms(&self, preset: &KeyPreset) {
        let s = &preset.settings;
        let or_empty = |v: Option<String>| v.unwrap_or_default();
        self.days.set(or_empty(
            preset
                .validity_days
                .or(s.activation_days)
                .map(|d| d.to_string()),
        ));
        self.quota
            .set(or_empty(s.quota_limit.map(|q| q.to_string())));
        self.price
            .set(or_empty(s.sale_price.map(|p| p.to_string())));
        if let Some(c) = &s.currency {
            self.currency.set(c.clone());
        }
    }

    fn clear(&self) {
        for s in [self.days, self.quota, self.preset, self.price, self.note] {
            s.set(String::new());
        }
    }
}

/// The renewal's inputs. `fallback_preset` is whose terms "Use the preset's terms" takes when
/// no preset to move to is chosen (the key's own).
#[component]
pub fn RenewFieldset(
    fields: RenewFields,
    presets: Vec<KeyPreset>,
    #[prop(into)] id: String,
    #[prop(optional)] fallback_preset: Option<String>,
) -> impl IntoView {
    let f = fields;
    let RenewFields {
        days,
        quota,
        preset,
        price,
        currency,
        note,
    } = fields;
    let ids = |name: &str| format!("{id}-{name}");
    let terms = presets.clone();
    let take = move |_| {
        let chosen = Some(f.preset.get()).filter(|p| !p.is_empty());
        if let Some(p) = chosen
            .or(fallback_preset.clone())
            .and_then(|id| terms.iter().find(|p| p.id == id))
        {
            f.take_terms(p);
        }
    };
    view! {
        <div class="form-row">
            <div>
                <label for=ids("days")>{tr("renew.days")}</label>
                <input id=ids("days") type="number" min="0" step="1" data-testid="renew-days" bind:value=days />
            </div>
            <div>
                <label for=ids("quota")>{tr("renew.quota")}</label>
                <input id=ids("quota") type="number" min="0" step="0.01" data-testid="renew-quota" bind:value=quota />
            </div>
            <div>
                <label for=ids("preset")>{tr("renew.preset")}</label>
                <select
                    id=ids("preset")
                    data-testid="renew-preset"
                    on:change=move |ev| preset.set(event_target_value(&ev))
                    prop:value=move || preset.get()
                >
                    <option value="">{tr("renew.keep_preset")}</option>
                    {presets
                        .into_iter()
                        .map(|p| view! { <option value=p.id.clone()>{p.name}</option> })
                        .collect_view()}
                </select>
            </div>
        </div>
        <p class="hint">{tr("renew.days_hint")}</p>
        <button type="button" class="btn btn-small" data-testid="renew-use-preset" on:click=take>
            {tr("renew.use_preset")}
        </button>
        <div class="form-row">
            <div>
                <label for=ids("price")>{tr("renew.price")}</label>
                <input id=ids("price") type="number" min="0" step="0.01" data-testid="renew-price" bind:value=price />
            </div>
            <div>
                <label for=ids("currency")>{tr("renew.currency")}</label>
                <input id=ids("currency") type="text" maxlength="3" bind:value=currency />
            </div>
            <div>
                <label for=ids("note")>{tr("renew.note")}</label>
                <input id=ids("note") type="text" maxlength="500" data-testid="renew-note" bind:value=note />
            </div>
        </div>
    }
}

/// Where a key stands: its quota and when it expires, as the table shows them.
pub fn standing_text(key: &ApiKey, locale: crate::i18n::Locale, offset: i32) -> String {
    let quota = if key.quota_limit > 0.0 {
        format!("{} / {}", fmt_usd(key.spent), fmt_usd(key.quota_limit))
    } else {
        format!(
            "{} / {}",
            fmt_usd(key.spent),
            crate::i18n::t(locale, "common.unlimited")
        )
    };
    let expires = match (key.expires_at, key.activation_days) {
        (Some(When::At(at)), _) => fmt_date(locale, at, offset),
        (Some(When::Day(day)), _) => day.format("%Y-%m-%d").to_string(),
        (None, Some(days)) => {
            crate::i18n::t(locale, "keys.days_after_first_use").replace("{n}", &days.to_string())
        }
        (None, None) => crate::i18n::t(locale, "keys.never").to_string(),
    };
    crate::i18n::t(locale, "renew.now")
        .replace("{quota}", &quota)
        .replace("{expires}", &expires)
}

/// One key: where it stands, the renew form (for those who may renew) and its ledger.
#[component]
pub fn RenewPanel(
    key: ApiKey,
    directory: Directory,
    /// Admins and sellers renew; viewers see the ledger only.
    writer: bool,
    #[prop(into)] on_renewed: Callback<ApiKey>,
) -> impl IntoView {
    let toasts = use_toasts();
    let locale = use_locale();
    let offset = use_utc_offset();
    let current = RwSignal::new(key.clone());
    let refresh = RwSignal::new(0u32);
    let fields = RenewFields::new(&key.currency);
    let t_done = tr("renew.done");
    let id = key.id.clone();
    let renew = Action::new(move |input: &RenewKey| {
        let (id, input) = (id.clone(), input.clone());
        async move {
            match renew_key(id, input).await {
                Ok(r) => {
                    toasts.ok(t_done);
                    fields.clear();
                    current.set(r.key.clone());
                    refresh.update(|n| *n += 1);
                    on_renewed.run(r.key);
                }
                Err(e) => toasts.error(&e),
            }
        }
    });
    let (t_number, t_nothing) = (tr("common.bad_number"), tr("renew.nothing"));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match fields.input() {
            Ok(input) => {
                renew.dispatch(input);
            }
            Err(Invalid::Number) => toasts.error_text(t_number),
            Err(Invalid::Nothing) => toasts.error_text(t_nothing),
        }
    };
    let presets = directory.presets.clone();
    view! {
        <p class="strong" data-testid="renew-standing">{move || standing_text(&current.get(), locale, offset)}</p>
        {writer.then(|| view! {
            <form on:submit=submit data-testid="renew-form">
                <RenewFieldset fields=fields presets=presets id="rk" fallback_preset=key.preset_id.clone().unwrap_or_default() />
                <button type="submit" class="btn btn-primary" data-testid="renew-submit" disabled=move || renew.pending().get()>
                    {move || busy_label(renew.pending().get(), "renew.submit")}
                </button>
            </form>
        })}
        <KeyLedger key_id=key.id.clone() directory=directory refresh=refresh />
    }
}
