//! Adding and editing an upstream account. The API key and the proxy are write-only: the form
//! shows their masked hints and sends a new value only when one is typed.

use leptos::prelude::*;
use serde_json::{json, Map, Value};

use crate::api::{create_account, update_account};
use crate::components::feedback::{busy_label, use_toasts};
use crate::components::keys::{optional_number, word_list};
use crate::components::ui::platform_name;
use crate::tr;
use crate::types::{Account, AccountInput, AccountType, Platform};

fn s(v: impl ToString) -> RwSignal<String> {
    RwSignal::new(v.to_string())
}

#[component]
pub fn AccountForm(
    existing: Option<Account>,
    #[prop(into)] on_saved: Callback<Account>,
) -> impl IntoView {
    let toasts = use_toasts();
    let editing = existing.is_some();
    let e = existing.clone();
    let platform = RwSignal::new(e.as_ref().map(|a| a.platform).unwrap_or(Platform::Claude));
    let account_type = s(e
        .as_ref()
        .map(|a| a.account_type.as_str())
        .unwrap_or("shared"));
    let name = s(e.as_ref().map(|a| a.name.clone()).unwrap_or_default());
    let api_key = s("");
    let base_url = s(e
        .as_ref()
        .map(|a| a.base_url.clone())
        .unwrap_or_else(|| Platform::Claude.default_base_url().into()));
    let proxy = s("");
    let remove_proxy = RwSignal::new(false);
    let priority = s(e.as_ref().map(|a| a.priority).unwrap_or(50));
    let max_concurrency = s(e
        .as_ref()
        .and_then(|a| a.max_concurrency)
        .map(|m| m.to_string())
        .unwrap_or_default());
    let monthly_cost = s(e.as_ref().map(|a| a.monthly_cost).unwrap_or(0.0));
    let models = s(e
        .as_ref()
        .map(|a| a.supported_models.join(", "))
        .unwrap_or_default());
    let notes = s(e.as_ref().map(|a| a.notes.clone()).unwrap_or_default());
    let azure_deployment = s(e
        .as_ref()
        .and_then(|a| a.azure_deployment.clone())
        .unwrap_or_default());
    let azure_version = s(e
        .as_ref()
        .and_then(|a| a.azure_api_version.clone())
        .unwrap_or_default());
    let first_token = s(e
        .as_ref()
        .and_then(|a| a.first_token_timeout_ms)
        .map(ms_as_secs)
        .unwrap_or_default());
    let schedulable = RwSignal::new(e.as_ref().map(|a| a.schedulable).unwrap_or(true));
    let active = RwSignal::new(e.as_ref().map(|a| a.is_active).unwrap_or(true));
    let key_hint = e.as_ref().map(|a| a.api_key_hint.clone());
    let proxy_hint = e.as_ref().and_then(|a| a.proxy.clone());
    let t_bad_first_token = tr("accounts.bad_first_token");
    let (t_bad_number, t_saved, t_created) = (
        tr("common.bad_number"),
        tr("accounts.saved"),
        tr("accounts.created"),
    );

    let save = Action::new(move |input: &(Option<String>, Value)| {
        let (id, body) = input.clone();
        async move {
            let result = match id {
                Some(id) => update_account(id, body).await,
                None => match serde_json::from_value::<AccountInput>(body) {
                    Ok(input) => create_account(input).await,
                    Err(e) => Err(crate::error::AdminError::validation("form", e.to_string())),
                },
            };
            match result {
                Ok(account) => {
                    toasts.ok(if editing { t_saved } else { t_created });
                    on_saved.run(account);
                }
                Err(e) => toasts.error(&e),
            }
        }
    });

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let numbers = (|| {
            Ok::<_, ()>((
                priority.get().trim().parse::<i32>().map_err(|_| ())?,
                optional_number::<u32>(&max_concurrency.get())?,
                optional_number::<f64>(&monthly_cost.get())?.unwrap_or(0.0),
            ))
        })();
        let Ok((priority, max_concurrency, monthly_cost)) = numbers else {
            toasts.error_text(t_bad_number);
            return;
        };
        let Ok(first_token_timeout) = first_token_ms(&first_token.get()) else {
            toasts.error_text(t_bad_first_token);
            return;
        };
        let opt = |v: String| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
        let is_openai = platform.get() == Platform::Openai;
        let mut body = Map::new();
        body.insert("name".into(), json!(name.get().trim()));
        body.insert("accountType".into(), json!(account_type.get()));
        body.insert("baseUrl".into(), json!(base_url.get().trim()));
        body.insert("priority".into(), json!(priority));
        body.insert("maxConcurrency".into(), json!(max_concurrency));
        body.insert("monthlyCost".into(), json!(monthly_cost));
        body.insert("supportedModels".into(), json!(word_list(&models.get())));
        body.insert("notes".into(), json!(notes.get()));
        body.insert("schedulable".into(), json!(schedulable.get()));
        body.insert("isActive".into(), json!(active.get()));
        // Empty: `null`, the server's FIRST_TOKEN_TIMEOUT_MS (an edit goes back to it).
        body.insert("firstTokenTimeoutMs".into(), json!(first_token_timeout));
        if is_openai {
            body.insert("azureDeployment".into(), json!(opt(azure_deployment.get())));
            body.insert("azureApiVersion".into(), json!(opt(azure_version.get())));
        }
        let key = api_key.get().trim().to_owned();
        let proxy_text = opt(proxy.get());
        let id = existing.as_ref().map(|a| a.id.clone());
        if id.is_some() {
            // Secrets change only when a new value is typed (or the proxy is removed).
            if !key.is_empty() {
                body.insert("apiKey".into(), json!(key));
            }
            if remove_proxy.get() {
                body.insert("proxy".into(), Value::Null);
            } else if let Some(p) = proxy_text {
                body.insert("proxy".into(), json!(p));
            }
        } else {
            body.insert("platform".into(), json!(platform.get().as_str()));
            body.insert("apiKey".into(), json!(key));
            body.insert("proxy".into(), json!(proxy_text));
        }
        api_key.set(String::new());
        proxy.set(String::new());
        save.dispatch((id, Value::Object(body)));
    };

    let on_platform = move |ev| {
        if let Some(p) = Platform::parse(&event_target_value(&ev)) {
            let old_default = platform.get_untracked().default_base_url();
            platform.set(p);
            if base_url.get_untracked() == old_default || base_url.get_untracked().is_empty() {
                base_url.set(p.default_base_url().into());
            }
        }
    };

    view! {
        <form on:submit=submit data-testid="account-form" autocomplete="off">
            <div class="form-row">
                <div>
                    <label for="af-name">{tr("accounts.name")}</label>
                    <input id="af-name" type="text" required maxlength="100" bind:value=name />
                </div>
                <div>
                    <label for="af-platform">{tr("accounts.platform")}</label>
                    <select id="af-platform" disabled=editing on:change=on_platform prop:value=move || platform.get().as_str()>
                        {Platform::ALL
                            .into_iter()
                            .map(|p| view! { <option value=p.as_str()>{platform_name(p)}</option> })
                            .collect_view()}
                    </select>
                </div>
                <div>
                    <label for="af-type">{tr("accounts.type")}</label>
                    <select
                        id="af-type"
                        on:change=move |ev| account_type.set(event_target_value(&ev))
                        prop:value=move || account_type.get()
                    >
                        {[AccountType::Shared, AccountType::Dedicated, AccountType::Group]
                            .into_iter()
                            .map(|t| {
                                let label = match t {
                                    AccountType::Shared => tr("accounts.type_shared"),
                                    AccountType::Dedicated => tr("accounts.type_dedicated"),
                                    AccountType::Group => tr("accounts.type_group"),
                                };
                                view! { <option value=t.as_str()>{label}</option> }
                            })
                            .collect_view()}
                    </select>
                </div>
            </div>
            <p class="hint">{tr("accounts.type_hint")}</p>
            <label for="af-key">{tr("accounts.api_key")}</label>
            <input
                id="af-key"
                type="password"
                autocomplete="new-password"
                required=!editing
                placeholder=key_hint.map(|h| tr("accounts.keep_secret").replace("{hint}", &h)).unwrap_or_default()
                bind:value=api_key
            />
            <label for="af-base">{tr("accounts.base_url")}</label>
            <input id="af-base" type="url" required bind:value=base_url />
            <label for="af-proxy">{tr("accounts.proxy")}</label>
            <input
                id="af-proxy"
                type="password"
                autocomplete="off"
                placeholder=proxy_hint
                    .clone()
                    .map(|h| tr("accounts.keep_secret").replace("{hint}", &h))
                    .unwrap_or_else(|| "socks5://user:pass@host:1080".into())
                bind:value=proxy
            />
            {proxy_hint.is_some().then(|| view! {
                <label class="check">
                    <input type="checkbox" bind:checked=remove_proxy />
                    {tr("accounts.remove_proxy")}
                </label>
            })}
            <div class="form-row">
                <div>
                    <label for="af-priority">{tr("accounts.priority")}</label>
                    <input id="af-priority" type="number" step="1" bind:value=priority />
                </div>
                <div>
                    <label for="af-max">{tr("accounts.max_concurrency")}</label>
                    <input id="af-max" type="number" min="1" step="1" bind:value=max_concurrency />
                </div>
                <div>
                    <label for="af-cost">{tr("accounts.monthly_cost")}</label>
                    <input id="af-cost" type="number" min="0" step="0.01" bind:value=monthly_cost />
                </div>
                <div>
                    <label for="af-first-token">{tr("accounts.first_token_timeout")}</label>
                    <input id="af-first-token" type="number" step="any" placeholder="60" bind:value=first_token />
                </div>
            </div>
            <p class="hint">{tr("accounts.first_token_hint")}</p>
            <label for="af-models">{tr("accounts.models")}</label>
            <input id="af-models" type="text" bind:value=models />
            <Show when=move || platform.get() == Platform::Openai>
                <div class="form-row">
                    <div>
                        <label for="af-azure-dep">{tr("accounts.azure_deployment")}</label>
                        <input id="af-azure-dep" type="text" bind:value=azure_deployment />
                    </div>
                    <div>
                        <label for="af-azure-ver">{tr("accounts.azure_version")}</label>
                        <input id="af-azure-ver" type="text" bind:value=azure_version />
                    </div>
                </div>
            </Show>
            <label for="af-notes">{tr("accounts.notes")}</label>
            <textarea id="af-notes" rows="2" bind:value=notes></textarea>
            <label class="check">
                <input type="checkbox" bind:checked=schedulable />
                {tr("accounts.schedulable")}
            </label>
            <label class="check">
                <input type="checkbox" bind:checked=active />
                {tr("accounts.active")}
            </label>
            <button type="submit" class="btn btn-primary" data-testid="account-save" disabled=move || save.pending().get()>
                {move || busy_label(save.pending().get(), "common.save")}
            </button>
        </form>
    }
}

/// Seconds as the form shows them: `60000` → `60`, `1500` → `1.5`.
fn ms_as_secs(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        (ms / 1000).to_string()
    } else {
        (ms as f64 / 1000.0).to_string()
    }
}

/// The first-token timeout field (seconds) as milliseconds: empty is `None` (the server's
/// default); the server accepts 1 s to 10 minutes.
fn first_token_ms(text: &str) -> Result<Option<u64>, ()> {
    let Some(secs) = optional_number::<f64>(text)? else {
        return Ok(None);
    };
    let ms = (secs * 1000.0).round();
    let range = crate::types::FIRST_TOKEN_TIMEOUT_RANGE_MS;
    if !ms.is_finite() || !(*range.start() as f64..=*range.end() as f64).contains(&ms) {
        return Err(());
    }
    Ok(Some(ms as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_token_timeout_is_seconds_in_the_server_range() {
        assert_eq!(first_token_ms(""), Ok(None));
        assert_eq!(first_token_ms(" 60 "), Ok(Some(60_000)));
        assert_eq!(first_token_ms("1.5"), Ok(Some(1_500)));
        assert_eq!(first_token_ms("600"), Ok(Some(600_000)));
        assert_eq!(first_token_ms("0.5"), Err(()));
        assert_eq!(first_token_ms("601"), Err(()));
        assert_eq!(first_token_ms("soon"), Err(()));
        assert_eq!(ms_as_secs(60_000), "60");
        assert_eq!(ms_as_secs(1_500), "1.5");
    }
}
