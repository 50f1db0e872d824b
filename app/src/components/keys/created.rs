//! New keys, shown this once: copy buttons and a CSV download. Closing the panel drops them
//! from memory; nothing can show them again.

use leptos::prelude::*;

use crate::components::browser::{copy_text, csv, download};
use crate::components::feedback::use_toasts;
use crate::components::table::{Column, DataTable};
use crate::tr;
use crate::types::CreatedKey;

/// The CSV of new keys, in the columns of `tollgate keys create`.
pub fn keys_csv(keys: &[CreatedKey]) -> String {
    let mut rows = vec![vec![
        "name".to_string(),
        "key".into(),
        "id".into(),
        "expiresAt".into(),
        "quotaLimit".into(),
    ]];
    rows.extend(keys.iter().map(|k| {
        vec![
            k.record.name.clone(),
            k.key.clone(),
            k.record.id.clone(),
            k.record
                .expires_at
                .map(|w| match w {
                    crate::types::When::At(d) => {
                        d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    }
                    crate::types::When::Day(_) => w.to_string(),
                })
                .unwrap_or_default(),
            k.record.quota_limit.to_string(),
        ]
    }));
    csv(&rows)
}

#[component]
pub fn CreatedKeys(keys: Vec<CreatedKey>) -> impl IntoView {
    let toasts = use_toasts();
    let (t_copied, t_copy_failed) = (tr("keys.copied"), tr("keys.copy_failed"));
    let copy = move |text: String| {
        if copy_text(&text) {
            toasts.ok(t_copied);
        } else {
            toasts.error_text(t_copy_failed);
        }
    };
    let all_keys = keys
        .iter()
        .map(|k| format!("{}\t{}", k.record.name, k.key))
        .collect::<Vec<_>>()
        .join("\n");
    let csv_text = keys_csv(&keys);
    let cols = [
        Column::text(tr("keys.name")),
        Column::text(tr("keys.key")),
        Column::actions(tr("common.actions")),
    ];
    let rows = keys
        .into_iter()
        .map(|k| {
            let key = k.key.clone();
            view! {
                <tr data-testid="created-key">
                    <td>{k.record.name.clone()}</td>
                    <td class="mono key-cell" data-label=cols[1].label data-testid="created-key-value">{k.key.clone()}</td>
                    <td class="actions">
                        <button type="button" class="btn btn-small" on:click=move |_| copy(key.clone())>
                            {tr("keys.copy")}
                        </button>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="banner banner-warn" role="note">{tr("keys.shown_once")}</div>
        <div class="toolbar">
            <button type="button" class="btn" on:click=move |_| copy(all_keys.clone())>
                {tr("keys.copy_all")}
            </button>
            <button
                type="button"
                class="btn btn-primary-inline"
                data-testid="download-csv"
                on:click=move |_| download("tollgate-keys.csv", "text/csv", &csv_text)
            >
                {tr("keys.download_csv")}
            </button>
        </div>
        <DataTable columns=cols.to_vec()>{rows}</DataTable>
    }
}
