//! Adding and editing a webhook target. The URL (which carries the chat tools' credentials)
//! and the secret are write-only: editing shows the masked hint and keeps them unless retyped.

use leptos::prelude::*;

use crate::api::{create_webhook_target, update_webhook_target};
use crate::components::feedback::{busy_label, use_toasts};
use crate::tr;
use crate::types::{
    WebhookTarget, WebhookTargetInput, WebhookTargetPatch, WEBHOOK_EVENT_NAMES,
    WEBHOOK_SIGNED_KINDS, WEBHOOK_TARGET_KINDS,
};

#[component]
pub fn WebhookForm(
    existing: Option<WebhookTarget>,
    #[prop(into)] on_saved: Callback<()>,
) -> impl IntoView {
    let toasts = use_toasts();
    let editing = existing.is_some();
    let name = RwSignal::new(
        existing
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_default(),
    );
    let kind = RwSignal::new(
        existing
            .as_ref()
            .map(|t| t.kind.clone())
            .unwrap_or_else(|| "generic".into()),
    );
    let url = RwSignal::new(String::new());
    let secret = RwSignal::new(String::new());
    let chat_id = RwSignal::new(String::new());
    let enabled = RwSignal::new(existing.as_ref().map(|t| t.enabled).unwrap_or(true));
    let events: Vec<(&'static str, RwSignal<bool>)> = WEBHOOK_EVENT_NAMES
        .iter()
        .map(|e| {
            (
                *e,
                RwSignal::new(
                    existing
                        .as_ref()
                        .is_some_and(|t| t.events.iter().any(|x| x == e)),
                ),
            )
        })
        .collect();
    let url_hint = existing.as_ref().map(|t| t.url_hint.clone());
    let has_secret = existing.as_ref().is_some_and(|t| t.has_secret);
    let id = existing.map(|t| t.id);
    let (t_saved, t_created) = (tr("webhooks.saved"), tr("webhooks.created"));

    let save = Action::new(move |input: &(Option<String>, WebhookTargetInput)| {
        let (id, input) = input.clone();
        async move {
            let result = match id {
                None => create_webhook_target(input).await.map(|_| ()),
                Some(id) => {
                    let text = |v: String| Some(v).filter(|v| !v.trim().is_empty());
                    let patch = WebhookTargetPatch {
                        name: Some(input.name),
                        kind: Some(input.kind),
                        url: text(input.url),
                        secret: input.secret,
                        chat_id: input.chat_id,
                        events: Some(input.events),
                        enabled: Some(input.enabled),
                    };
                    update_webhook_target(id, patch).await.map(|_| ())
                }
            };
            toasts.outcome(&result, if editing { t_saved } else { t_created });
            if result.is_ok() {
                on_saved.run(());
            }
        }
    });
    let boxes = events.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let secret_text = secret.get().trim().to_owned();
        let chat = chat_id.get().trim().to_owned();
        let input = WebhookTargetInput {
            name: name.get().trim().to_owned(),
            kind: kind.get(),
            url: url.get().trim().to_owned(),
            // Creating: an empty secret is none. Editing: empty keeps the stored one.
            secret: (!secret_text.is_empty()).then_some(secret_text),
            chat_id: (!chat.is_empty()).then_some(chat),
            events: boxes
                .iter()
                .filter(|(_, on)| on.get())
                .map(|(e, _)| e.to_string())
                .collect(),
            enabled: enabled.get(),
        };
        url.set(String::new());
        secret.set(String::new());
        save.dispatch((id.clone(), input));
    };
    let signed = move || WEBHOOK_SIGNED_KINDS.contains(&kind.get().as_str());

    view! {
        <form on:submit=submit data-testid="webhook-form" autocomplete="off">
            <div class="form-row">
                <div>
                    <label for="wf-name">{tr("webhooks.name")}</label>
                    <input id="wf-name" type="text" required maxlength="100" bind:value=name />
                </div>
                <div>
                    <label for="wf-kind">{tr("webhooks.kind")}</label>
                    <select id="wf-kind" on:change=move |ev| kind.set(event_target_value(&ev)) prop:value=move || kind.get()>
                        {WEBHOOK_TARGET_KINDS
                            .iter()
                            .map(|k| view! { <option value=*k>{kind_name(k)}</option> })
                            .collect_view()}
                    </select>
                </div>
            </div>
            <label for="wf-url">{tr("webhooks.url")}</label>
            <input
                id="wf-url"
                type="url"
                required=!editing
                placeholder=url_hint.map(|h| tr("accounts.keep_secret").replace("{hint}", &h)).unwrap_or_else(|| "https://".into())
                bind:value=url
            />
            <Show when=signed>
                <label for="wf-secret">{tr("webhooks.secret")}</label>
                <input
                    id="wf-secret"
                    type="password"
                    autocomplete="new-password"
                    placeholder=if has_secret { tr("webhooks.secret_kept") } else { "" }
                    bind:value=secret
                />
            </Show>
            <Show when=move || kind.get() == "telegram">
                <label for="wf-chat">{tr("webhooks.chat_id")}</label>
                <input id="wf-chat" type="text" required=!editing placeholder="-100… / @channel" bind:value=chat_id />
            </Show>
            <fieldset>
                <legend>{tr("webhooks.events")}</legend>
                <p class="hint">{tr("webhooks.events_hint")}</p>
                <div class="checks">
                    {events
                        .into_iter()
                        .map(|(e, on)| view! {
                            <label class="check">
                                <input type="checkbox" bind:checked=on />
                                <code>{e}</code>
                            </label>
                        })
                        .collect_view()}
                </div>
            </fieldset>
            <label class="check">
                <input type="checkbox" bind:checked=enabled />
                {tr("webhooks.enabled")}
            </label>
            <button type="submit" class="btn btn-primary" disabled=move || save.pending().get()>
                {move || busy_label(save.pending().get(), "common.save")}
            </button>
        </form>
    }
}

/// A target kind's name as people know it.
pub fn kind_name(kind: &str) -> &'static str {
    match kind {
        "generic" => tr("webhooks.kind_generic"),
        "wecom" => "企业微信 WeCom",
        "dingtalk" => "钉钉 DingTalk",
        "feishu" => "飞书 Feishu",
        "slack" => "Slack",
        "discord" => "Discord",
        "telegram" => "Telegram",
        _ => "?",
    }
}
