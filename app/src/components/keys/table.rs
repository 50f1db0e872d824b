//! One page of keys as a table, with the actions of each row and a checkbox per row that
//! selects keys for a batch renewal.

use leptos::prelude::*;

use super::Directory;
use crate::components::feedback::{ConfirmButton, EmptyState};
use crate::components::table::{Column, DataTable};
use crate::components::ui::{platform_name, KeyStatusPill};
use crate::i18n::{fmt_date, fmt_int, fmt_usd};
use crate::types::{ApiKey, Platform};
use crate::{tr, use_locale, use_utc_offset};

/// The keys selected for a batch action, by id (kept across pages).
pub type Selection = RwSignal<std::collections::BTreeMap<String, ApiKey>>;

/// What a row asks the page to do.
#[derive(Clone, Debug, PartialEq)]
pub enum RowAction {
    Edit(ApiKey),
    Usage(ApiKey),
    /// The key's ledger and renew form.
    Renew(ApiKey),
    SetActive(ApiKey, bool),
    Delete(ApiKey),
}

#[component]
pub fn KeyTable(
    keys: Vec<ApiKey>,
    directory: Directory,
    #[prop(into)] on_action: Callback<RowAction>,
    #[prop(into)] busy: Signal<bool>,
    /// A seller's view: no settings editor (their keys' settings come from presets).
    #[prop(optional)]
    seller: bool,
    /// A viewer's view: the ledger without the renew form.
    #[prop(optional)]
    viewer: bool,
    /// Rows get a checkbox that adds the key to (or takes it from) this selection.
    #[prop(optional)]
    selected: Option<Selection>,
) -> impl IntoView {
    let locale = use_locale();
    let offset = use_utc_offset();
    let (t_never, t_unlimited, t_pool, t_delete_q) = (
        tr("keys.never"),
        tr("common.unlimited"),
        tr("keys.binding_pool"),
        tr("keys.delete_question"),
    );
    let cols = [
        Column::text(tr("keys.name")),
        Column::text(tr("keys.status")),
        Column::figure(tr("keys.spent_quota")),
        Column::text(tr("keys.expires")),
        Column::text(tr("keys.binding")),
        Column::text(tr("keys.preset")),
        Column::figure(tr("keys.requests")),
        Column::actions(tr("common.actions")),
    ];
    // Who sold the key, under its preset (a column of its own does not fit a laptop).
    let t_created_by = tr("keys.created_by");
    let (t_renew, t_select) = (
        tr(if viewer {
            "renew.history"
        } else {
            "renew.open"
        }),
        tr("renew.select"),
    );
    let (t_edit, t_usage, t_disable, t_enable, t_delete) = (
        tr("common.edit"),
        tr("keys.usage"),
        tr("keys.disable"),
        tr("keys.enable"),
        tr("common.delete"),
    );
    if keys.is_empty() {
        return view! { <EmptyState text=tr("keys.empty") /> }.into_any();
    }
    let rows = keys
        .into_iter()
        .map(|k| {
            let quota = if k.quota_limit > 0.0 {
                format!("{} / {}", fmt_usd(k.spent), fmt_usd(k.quota_limit))
            } else {
                format!("{} / {}", fmt_usd(k.spent), t_unlimited)
            };
            let expires = match (k.expires_at, k.activation_days) {
                (Some(crate::types::When::At(at)), _) => fmt_date(locale, at, offset),
                (Some(crate::types::When::Day(day)), _) => day.format("%Y-%m-%d").to_string(),
                (None, Some(days)) => tr_days(days),
                (None, None) => t_never.to_string(),
            };
            let bindings: Vec<String> = Platform::ALL
                .into_iter()
                .filter_map(|p| {
                    let stored = match p {
                        Platform::Claude => &k.claude_account_id,
                        Platform::Openai => &k.openai_account_id,
                        Platform::Gemini => &k.gemini_account_id,
                    };
                    directory
                        .binding_name(stored)
                        .map(|name| format!("{}: {name}", platform_name(p)))
                })
                .collect();
            let binding = if bindings.is_empty() {
                t_pool.to_string()
            } else {
                bindings.join(", ")
            };
            let preset = k.preset_id.as_deref().map(|p| directory.preset_name(p));
            let (edit, usage, toggle, delete) = (k.clone(), k.clone(), k.clone(), k.clone());
            let renew = k.clone();
            // Viewers renew nothing: no checkboxes.
            let select = selected.filter(|_| !viewer).map(|sel| {
                let (id, key) = (k.id.clone(), k.clone());
                let checked = id.clone();
                view! {
                    <input
                        type="checkbox"
                        class="row-select"
                        data-testid="key-select"
                        aria-label=format!("{t_select} {}", k.name)
                        prop:checked=move || sel.with(|s| s.contains_key(&checked))
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            sel.update(|s| {
                                if on {
                                    s.insert(id.clone(), key.clone());
                                } else {
                                    s.remove(&id);
                                }
                            });
                        }
                    />
                }
            });
            let active = k.is_active;
            let creator = k.created_by.as_ref().map(|c| c.name.clone()).unwrap_or_default();
            view! {
                <tr data-key-id=k.id.clone() data-testid="key-row">
                    <td>
                        <div class="strong">{select}{k.name.clone()}</div>
                        <div class="mono muted">{k.key_prefix.clone()}</div>
                    </td>
                    <td data-label=cols[1].label><KeyStatusPill status=k.status /></td>
                    <td class="num" data-label=cols[2].label>{quota}</td>
                    <td data-label=cols[3].label>{expires}</td>
                    <td data-label=cols[4].label>{binding}</td>
                    <td data-label=cols[5].label>
                        {preset}
                        <div class="muted" title=t_created_by data-testid="key-created-by">{creator}</div>
                    </td>
                    <td class="num" data-label=cols[6].label>{fmt_int(k.requests as i64)}</td>
                    <td class="actions">
                        <div class="row-actions">
                            {(!seller && !viewer).then(|| view! {
                                <button
                                    type="button"
                                    class="btn btn-small"
                                    data-testid="key-edit"
                                    on:click=move |_| on_action.run(RowAction::Edit(edit.clone()))
                                >
                                    {t_edit}
                                </button>
                            })}
                            <button
                                type="button"
                                class="btn btn-small"
                                data-testid="key-renew"
                                on:click=move |_| on_action.run(RowAction::Renew(renew.clone()))
                            >
                                {t_renew}
                            </button>
                            <button
                                type="button"
                                class="btn btn-small"
                                data-testid="key-usage"
                                on:click=move |_| on_action.run(RowAction::Usage(usage.clone()))
                            >
                                {t_usage}
                            </button>
                            // Viewers change nothing: no switch, no delete.
                            {(!viewer).then(|| view! {
                                <button
                                    type="button"
                                    class="btn btn-small"
                                    disabled=move || busy.get()
                                    on:click=move |_| on_action.run(RowAction::SetActive(toggle.clone(), !active))
                                >
                                    {if active { t_disable } else { t_enable }}
                                </button>
                                <ConfirmButton
                                    label=t_delete
                                    question=t_delete_q
                                    pending=busy
                                    test_id="key-delete"
                                    on_confirm=move |_| on_action.run(RowAction::Delete(delete.clone()))
                                />
                            })}
                        </div>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! { <DataTable columns=cols.to_vec()>{rows}</DataTable> }.into_any()
}

fn tr_days(days: u32) -> String {
    tr("keys.days_after_first_use").replace("{n}", &days.to_string())
}
