//! Webhook targets: the list with enable switches, test sends with the result inline, edit and
//! delete; and the delivery log, newest first, paged back on demand.

use std::collections::HashMap;

use leptos::prelude::*;

use super::webhook_form::{kind_name, WebhookForm};
use crate::api::{
    delete_webhook_target, list_webhook_targets, test_webhook_target, update_webhook_target,
    webhook_deliveries,
};
use crate::components::feedback::{use_toasts, ConfirmButton, EmptyState};
use crate::components::modal::Modal;
use crate::components::table::{Column, DataTable};
use crate::components::ui::ErrorBanner;
use crate::i18n::{error_text, fmt_datetime};
use crate::types::{WebhookDelivery, WebhookTarget, WebhookTargetPatch, WebhookTestResult};
use crate::{tr, use_locale, use_utc_offset};

const LOG_PAGE: u32 = 20;

#[derive(Clone, Debug, PartialEq)]
enum Op {
    Test(String),
    Enable(String, bool),
    Delete(String),
}

#[derive(Clone, Debug, PartialEq)]
enum Panel {
    Closed,
    Add,
    Edit(WebhookTarget),
}

#[component]
pub fn WebhooksSection() -> impl IntoView {
    let toasts = use_toasts();
    let locale = use_locale();
    let refresh = RwSignal::new(0u32);
    let panel = RwSignal::new(Panel::Closed);
    let results: RwSignal<HashMap<String, Result<WebhookTestResult, String>>> =
        RwSignal::new(HashMap::new());
    let targets = Resource::new(move || refresh.get(), |_| list_webhook_targets());
    let (t_saved, t_deleted) = (tr("webhooks.saved"), tr("webhooks.deleted"));
    let op = Action::new(move |o: &Op| {
        let o = o.clone();
        async move {
            match o {
                Op::Test(id) => {
                    let r = test_webhook_target(id.clone())
                        .await
                        .map_err(|e| error_text(locale, &e));
                    results.update(|m| {
                        m.insert(id, r);
                    });
                }
                Op::Enable(id, on) => {
                    let patch = WebhookTargetPatch {
                        enabled: Some(on),
                        ..Default::default()
                    };
                    toasts.outcome(&update_webhook_target(id, patch).await, t_saved);
                }
                Op::Delete(id) => toasts.outcome(&delete_webhook_target(id).await, t_deleted),
            }
            refresh.update(|n| *n += 1);
        }
    });
    let close = Callback::new(move |_| panel.set(Panel::Closed));
    let saved = Callback::new(move |_| {
        refresh.update(|n| *n += 1);
        panel.set(Panel::Closed);
    });
    let (t_ok, t_failed, t_all) = (
        tr("webhooks.test_ok"),
        tr("webhooks.test_failed"),
        tr("webhooks.all_events"),
    );

    view! {
        <section class="card" aria-labelledby="webhooks-heading" data-testid="webhooks">
            <div class="card-head">
                <h2 id="webhooks-heading">{tr("webhooks.heading")}</h2>
                <button type="button" class="btn btn-small" data-testid="add-webhook" on:click=move |_| panel.set(Panel::Add)>
                    {tr("webhooks.add")}
                </button>
            </div>
            <Transition fallback=move || view! { <p>{tr("common.loading")}</p> }>
                {move || targets.get().map(|r| match r {
                    Ok(list) if list.is_empty() => view! { <EmptyState text=tr("webhooks.empty") /> }.into_any(),
                    Ok(list) => view! {
                        <ul class="target-list">
                            {list.into_iter().map(|t| {
                                let (test, toggle, delete, edit, rid) = (t.id.clone(), t.id.clone(), t.id.clone(), t.clone(), t.id.clone());
                                let enabled = t.enabled;
                                let events = if t.events.is_empty() { t_all.to_string() } else { t.events.join(", ") };
                                view! {
                                    <li data-testid="webhook-target">
                                        <div class="attention-head">
                                            <span class="strong">{t.name.clone()}</span>
                                            " " <span class="pill">{kind_name(&t.kind)}</span>
                                            " " <span class="mono muted">{t.url_hint.clone()}</span>
                                        </div>
                                        <div class="muted small">{events}</div>
                                        <div class="toolbar">
                                            <label class="check">
                                                <input type="checkbox" role="switch" prop:checked=enabled disabled=move || op.pending().get()
                                                    on:change=move |ev| { op.dispatch(Op::Enable(toggle.clone(), event_target_checked(&ev))); } />
                                                {tr("webhooks.enabled")}
                                            </label>
                                            <button type="button" class="btn btn-small" data-testid="webhook-test" disabled=move || op.pending().get()
                                                on:click=move |_| { op.dispatch(Op::Test(test.clone())); }>
                                                {tr("webhooks.test")}
                                            </button>
                                            <button type="button" class="btn btn-small" on:click=move |_| panel.set(Panel::Edit(edit.clone()))>
                                                {tr("common.edit")}
                                            </button>
                                            <ConfirmButton label=tr("common.delete") question=tr("webhooks.delete_question") pending=op.pending()
                                                on_confirm=move |_| { op.dispatch(Op::Delete(delete.clone())); } />
                                        </div>
                                        {move || results.with(|m| m.get(&rid).cloned()).map(|r| {
                                            let (class, text) = match r {
                                                Ok(r) if r.ok => ("banner banner-ok", t_ok.replace("{status}", &r.http_status.map(|s| s.to_string()).unwrap_or_default()).replace("{ms}", &r.latency_ms.to_string())),
                                                Ok(r) => ("banner banner-error", format!("{} {}", t_failed.replace("{status}", &r.http_status.map(|s| s.to_string()).unwrap_or_else(|| "–".into())), r.error.unwrap_or_default())),
                                                Err(e) => ("banner banner-error", e),
                                            };
                                            view! { <div class=class role="status" data-testid="webhook-test-result">{text}</div> }
                                        })}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(e) => view! { <ErrorBanner error=Some(e) /> }.into_any(),
                })}
            </Transition>
            <DeliveryLog refresh=refresh />
        </section>
        {move || match panel.get() {
            Panel::Closed => ().into_any(),
            Panel::Add => view! {
                <Modal title=tr("webhooks.add") on_close=close wide=true>
                    <WebhookForm existing=None on_saved=saved />
                </Modal>
            }.into_any(),
            Panel::Edit(t) => view! {
                <Modal title=tr("webhooks.edit") on_close=close wide=true>
                    <WebhookForm existing=Some(t) on_saved=saved />
                </Modal>
            }.into_any(),
        }}
    }
}

/// The newest deliveries; "older" loads the page before the oldest shown.
#[component]
fn DeliveryLog(refresh: RwSignal<u32>) -> impl IntoView {
    let locale = use_locale();
    let offset = use_utc_offset();
    let first = Resource::new(
        move || refresh.get(),
        |_| webhook_deliveries(LOG_PAGE, None),
    );
    let older: RwSignal<Vec<WebhookDelivery>> = RwSignal::new(Vec::new());
    // A refreshed first page starts the log over.
    Effect::new(move |_| {
        refresh.track();
        older.set(Vec::new());
    });
    let more = Action::new(move |before: &i64| {
        let before = *before;
        async move {
            if let Ok(page) = webhook_deliveries(LOG_PAGE, Some(before)).await {
                older.update(|o| o.extend(page));
            }
        }
    });
    let cols = [
        Column::text(tr("webhooks.time")),
        Column::text(tr("webhooks.event")),
        Column::text(tr("webhooks.target")),
        Column::figure(tr("webhooks.attempt")),
        Column::text(tr("webhooks.result")),
    ];
    let row = move |d: WebhookDelivery| {
        view! {
            <tr>
                <td>{fmt_datetime(locale, chrono::DateTime::from_timestamp_millis(d.created_at).unwrap_or_default(), offset)}</td>
                <td data-label=cols[1].label><code>{d.event}</code></td>
                <td class="mono" data-label=cols[2].label>{d.target_hint}</td>
                <td class="num" data-label=cols[3].label>{d.attempt}</td>
                <td data-label=cols[4].label>
                    {if d.ok {
                        view! { <span class="pill pill-ok">{d.http_status.map(|s| s.to_string()).unwrap_or_else(|| "OK".into())}</span> }.into_any()
                    } else {
                        view! { <span class="pill pill-bad">{d.http_status.map(|s| s.to_string()).unwrap_or_else(|| "–".into())}</span> }.into_any()
                    }}
                    {d.error.map(|e| view! { <div class="muted small">{e}</div> })}
                </td>
            </tr>
        }
    };
    view! {
        <h3>{tr("webhooks.log")}</h3>
        <Transition fallback=|| ()>
            {move || first.get().map(|r| match r {
                Ok(page) if page.is_empty() => view! { <EmptyState text=tr("webhooks.log_empty") /> }.into_any(),
                Ok(page) => {
                    let full = page.len() as u32 == LOG_PAGE;
                    view! {
                        <DataTable columns=cols.to_vec() test_id="deliveries">
                                    {page.into_iter().map(row).collect_view()}
                                    {move || older.get().into_iter().map(row).collect_view()}
                        </DataTable>
                        {full.then(|| view! {
                            <button type="button" class="btn btn-small" disabled=move || more.pending().get() on:click=move |_| {
                                let oldest = older.with(|o| o.last().map(|d| d.id));
                                let fallback = first.get_untracked().and_then(|r| r.ok()).and_then(|p| p.last().map(|d| d.id));
                                if let Some(id) = oldest.or(fallback) { more.dispatch(id); }
                            }>{tr("webhooks.older")}</button>
                        })}
                    }.into_any()
                }
                Err(e) => view! { <ErrorBanner error=Some(e) /> }.into_any(),
            })}
        </Transition>
    }
}
