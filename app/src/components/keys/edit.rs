//! Editing a key's limits and binding. Every field is sent; the service applies the change
//! from the key's next request.

use leptos::prelude::*;

use super::binding::BindingPicker;
use super::restrictions::{RestrictionFields, RestrictionSignals};
use super::{date_input, date_value, word_list, Directory};
use crate::api::update_key;
use crate::components::feedback::{busy_label, use_toasts};
use crate::types::{ApiKey, Platform, UpdateKey};
use crate::{tr, use_utc_offset};

fn text(n: impl ToString) -> RwSignal<String> {
    RwSignal::new(n.to_string())
}

#[component]
pub fn EditKeyForm(
    key: ApiKey,
    directory: Directory,
    #[prop(into)] on_saved: Callback<ApiKey>,
) -> impl IntoView {
    let toasts = use_toasts();
    let offset = use_utc_offset();
    let id = key.id.clone();
    let name = text(&key.name);
    let description = text(&key.description);
    let tags = text(key.tags.join(", "));
    let active = RwSignal::new(key.is_active);
    let quota = text(key.quota_limit);
    let validity = RwSignal::new(
        match (key.expires_at, key.activation_days) {
            (Some(_), _) => "date",
            (None, Some(_)) => "activation",
            _ => "never",
        }
        .to_string(),
    );
    let expires = text(
        key.expires_at
            .map(|d| date_value(d, offset))
            .unwrap_or_default(),
    );
    let activation = text(
        key.activation_days
            .map(|d| d.to_string())
            .unwrap_or_default(),
    );
    let concurrency = text(key.concurrency_limit);
    let queue = RwSignal::new(key.concurrent_request_queue_enabled);
    let queue_size = text(key.concurrent_request_queue_max_size);
    let queue_timeout = text(key.concurrent_request_queue_timeout_ms);
    let rate_window = text(key.rate_limit_window);
    let rate_requests = text(key.rate_limit_requests);
    let rate_cost = text(key.rate_limit_cost);
    let daily = text(key.daily_cost_limit);
    let models = text(key.allowed_models.join(", "));
    let permissions: Vec<(Platform, RwSignal<bool>)> = Platform::ALL
        .into_iter()
        .map(|p| {
            (
                p,
                RwSignal::new(key.permissions.iter().any(|x| x == p.as_str())),
            )
        })
        .collect();
    let claude = text(&key.claude_account_id);
    let openai = text(&key.openai_account_id);
    let gemini = text(&key.gemini_account_id);
    let fallback = RwSignal::new(key.allow_pool_fallback);
    let strict = RwSignal::new(key.strict_max_tokens);
    let server_tools = RwSignal::new(key.allow_server_tools);
    let restrictions = RestrictionSignals::new(
        &key.allowed_clients,
        &key.allowed_cidrs,
        &key.model_daily_cost_limits,
    );
    let t_bad_caps = tr("keys.bad_caps");
    let price = text(key.sale_price);
    let currency = text(&key.currency);
    let (t_bad_number, t_bad_date, t_saved) = (
        tr("common.bad_number"),
        tr("keys.bad_date"),
        tr("keys.saved"),
    );

    let save = Action::new(move |input: &(String, UpdateKey)| {
        let (id, input) = input.clone();
        async move {
            match update_key(id, input).await {
                Ok(key) => {
                    toasts.ok(t_saved);
                    on_saved.run(key);
                }
                Err(e) => toasts.error(&e),
            }
        }
    });
    let perms = permissions.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let f = |s: RwSignal<String>| s.get().trim().parse::<f64>().ok().filter(|v| v.is_finite());
        let u = |s: RwSignal<String>| s.get().trim().parse::<u32>().ok();
        let numbers = (|| {
            Some((
                f(quota)?,
                u(concurrency)?,
                u(queue_size)?,
                s_u64(queue_timeout)?,
                u(rate_window)?,
                u(rate_requests)?,
                f(rate_cost)?,
                f(daily)?,
                f(price)?,
            ))
        })();
        let Some((
            quota,
            concurrency,
            queue_size,
            queue_timeout,
            window,
            requests,
            cost,
            daily,
            price,
        )) = numbers
        else {
            toasts.error_text(t_bad_number);
            return;
        };
        let Some(caps) = restrictions.caps() else {
            toasts.error_text(t_bad_caps);
            return;
        };
        let (expires_at, activation_days) = match validity.get().as_str() {
            "date" => match date_input(&expires.get()) {
                Some(at) => (Some(at), None),
                None => {
                    toasts.error_text(t_bad_date);
                    return;
                }
            },
            "activation" => match u(activation).filter(|d| *d > 0) {
                Some(days) => (None, Some(days)),
                None => {
                    toasts.error_text(t_bad_number);
                    return;
                }
            },
            _ => (None, None),
        };
        let update = UpdateKey {
            name: Some(name.get().trim().to_owned()),
            description: Some(description.get()),
            tags: Some(word_list(&tags.get())),
            is_active: Some(active.get()),
            quota_limit: Some(quota),
            expires_at: Some(expires_at),
            activation_days: Some(activation_days),
            concurrency_limit: Some(concurrency),
            concurrent_request_queue_enabled: Some(queue.get()),
            concurrent_request_queue_max_size: Some(queue_size),
            concurrent_request_queue_timeout_ms: Some(queue_timeout),
            rate_limit_window: Some(window),
            rate_limit_requests: Some(requests),
            rate_limit_cost: Some(cost),
            daily_cost_limit: Some(daily),
            allowed_models: Some(word_list(&models.get())),
            permissions: Some(
                perms
                    .iter()
                    .filter(|(_, on)| on.get())
                    .map(|(p, _)| p.as_str().to_owned())
                    .collect(),
            ),
            claude_account_id: Some(claude.get()),
            openai_account_id: Some(openai.get()),
            gemini_account_id: Some(gemini.get()),
            allow_pool_fallback: Some(fallback.get()),
            strict_max_tokens: Some(strict.get()),
            allow_server_tools: Some(server_tools.get()),
            allowed_clients: Some(restrictions.clients()),
            allowed_cidrs: Some(restrictions.cidrs()),
            model_daily_cost_limits: Some(caps),
            sale_price: Some(price),
            currency: Some(currency.get().trim().to_uppercase()),
            preset_id: None,
        };
        save.dispatch((id.clone(), update));
    };

    let accounts = directory.accounts.clone();
    let groups = directory.groups.clone();
    view! {
        <form on:submit=submit data-testid="edit-key-form">
            <label for="ek-name">{tr("keys.name")}</label>
            <input id="ek-name" type="text" required maxlength="200" bind:value=name />
            <label class="check">
                <input type="checkbox" bind:checked=active />
                {tr("keys.active")}
            </label>
            <fieldset>
                <legend>{tr("keys.binding")}</legend>
                <p class="hint">{tr("keys.binding_hint")}</p>
                <div class="form-row">
                    <div>
                        <BindingPicker platform=Platform::Claude accounts=accounts.clone() groups=groups.clone() value=claude id="ek-claude" />
                    </div>
                    <div>
                        <BindingPicker platform=Platform::Openai accounts=accounts.clone() groups=groups.clone() value=openai id="ek-openai" />
                    </div>
                    <div>
                        <BindingPicker platform=Platform::Gemini accounts=accounts groups=groups value=gemini id="ek-gemini" />
                    </div>
                </div>
                <label class="check">
                    <input type="checkbox" bind:checked=fallback />
                    {tr("keys.pool_fallback")}
                </label>
            </fieldset>
            <fieldset>
                <legend>{tr("keys.limits")}</legend>
                <div class="form-row">
                    <div>
                        <label for="ek-quota">{tr("keys.quota_usd_zero")}</label>
                        <input id="ek-quota" type="number" min="0" step="0.01" bind:value=quota />
                    </div>
                    <div>
                        <label for="ek-daily">{tr("keys.daily_limit")}</label>
                        <input id="ek-daily" type="number" min="0" step="0.01" bind:value=daily />
                    </div>
                    <div>
                        <label for="ek-validity">{tr("keys.validity")}</label>
                        <select
                            id="ek-validity"
                            on:change=move |ev| validity.set(event_target_value(&ev))
                            prop:value=move || validity.get()
                        >
                            <option value="never">{tr("keys.validity_never")}</option>
                            <option value="date">{tr("keys.validity_date")}</option>
                            <option value="activation">{tr("keys.validity_activation")}</option>
                        </select>
                    </div>
                    <Show when=move || validity.get() == "date">
                        <div>
                            <label for="ek-expires">{tr("keys.expires_on")}</label>
                            <input id="ek-expires" type="date" bind:value=expires />
                        </div>
                    </Show>
                    <Show when=move || validity.get() == "activation">
                        <div>
                            <label for="ek-activation">{tr("keys.activation_days")}</label>
                            <input id="ek-activation" type="number" min="1" step="1" bind:value=activation />
                        </div>
                    </Show>
                    <div>
                        <label for="ek-concurrency">{tr("keys.concurrency_zero")}</label>
                        <input id="ek-concurrency" type="number" min="0" step="1" bind:value=concurrency />
                    </div>
                    <div>
                        <label for="ek-queue-size">{tr("keys.queue_size")}</label>
                        <input id="ek-queue-size" type="number" min="0" step="1" bind:value=queue_size />
                    </div>
                    <div>
                        <label for="ek-queue-timeout">{tr("keys.queue_timeout")}</label>
                        <input id="ek-queue-timeout" type="number" min="0" step="100" bind:value=queue_timeout />
                    </div>
                    <div>
                        <label for="ek-window">{tr("keys.rate_window")}</label>
                        <input id="ek-window" type="number" min="0" step="1" bind:value=rate_window />
                    </div>
                    <div>
                        <label for="ek-requests">{tr("keys.rate_requests")}</label>
                        <input id="ek-requests" type="number" min="0" step="1" bind:value=rate_requests />
                    </div>
                    <div>
                        <label for="ek-cost">{tr("keys.rate_cost")}</label>
                        <input id="ek-cost" type="number" min="0" step="0.01" bind:value=rate_cost />
                    </div>
                </div>
                <label class="check">
                    <input type="checkbox" bind:checked=queue />
                    {tr("keys.queue_enabled")}
                </label>
                <label class="check">
                    <input type="checkbox" data-testid="ek-strict" bind:checked=strict />
                    {tr("keys.strict_max_tokens")}
                </label>
                <label class="check">
                    <input type="checkbox" data-testid="ek-server-tools" bind:checked=server_tools />
                    {tr("keys.allow_server_tools")}
                </label>
                <label for="ek-models">{tr("keys.allowed_models")}</label>
                <input id="ek-models" type="text" bind:value=models />
                <div class="checks" role="group" aria-label=tr("keys.permissions")>
                    <span class="muted">{tr("keys.permissions")}</span>
                    {permissions
                        .into_iter()
                        .map(|(p, on)| {
                            view! {
                                <label class="check">
                                    <input type="checkbox" bind:checked=on />
                                    {crate::components::ui::platform_name(p)}
                                </label>
                            }
                        })
                        .collect_view()}
                </div>
            </fieldset>
            <RestrictionFields signals=restrictions id="ek" />
            <fieldset>
                <legend>{tr("keys.sale")}</legend>
                <div class="form-row">
                    <div>
                        <label for="ek-price">{tr("keys.sale_price")}</label>
                        <input id="ek-price" type="number" min="0" step="0.01" bind:value=price />
                    </div>
                    <div>
                        <label for="ek-currency">{tr("keys.currency")}</label>
                        <input id="ek-currency" type="text" maxlength="3" bind:value=currency />
                    </div>
                    <div>
                        <label for="ek-tags">{tr("keys.tags")}</label>
                        <input id="ek-tags" type="text" bind:value=tags />
                    </div>
                </div>
                <label for="ek-description">{tr("keys.description")}</label>
                <input id="ek-description" type="text" maxlength="500" bind:value=description />
            </fieldset>
            <button type="submit" class="btn btn-primary" data-testid="edit-key-save" disabled=move || save.pending().get()>
                {move || busy_label(save.pending().get(), "common.save")}
            </button>
        </form>
    }
}

fn s_u64(s: RwSignal<String>) -> Option<u64> {
    s.get().trim().parse().ok()
}
