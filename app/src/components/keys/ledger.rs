//! A key's ledger: every sale after its creation (renewals, top-ups, upgrades, redemptions,
//! adjustments), oldest first, with what each changed, its price and who made it.

use leptos::prelude::*;

use super::Directory;
use crate::components::feedback::EmptyState;
use crate::components::table::{Column, DataTable};
use crate::components::ui::ErrorBanner;
use crate::i18n::{fmt_date, fmt_datetime, fmt_money, fmt_usd};
use crate::types::{LedgerEntry, LedgerKind};
use crate::{tr, use_locale, use_utc_offset};

pub fn kind_name(kind: LedgerKind) -> &'static str {
    match kind {
        LedgerKind::Renewal => tr("ledgerkind.renewal"),
        LedgerKind::TopUp => tr("ledgerkind.top_up"),
        LedgerKind::Upgrade => tr("ledgerkind.upgrade"),
        LedgerKind::Redemption => tr("ledgerkind.redemption"),
        LedgerKind::Adjustment => tr("ledgerkind.adjustment"),
    }
}

/// Loads and shows the ledger of `key_id`; reloads when `refresh` changes.
#[component]
pub fn KeyLedger(
    key_id: String,
    directory: Directory,
    #[prop(into)] refresh: Signal<u32>,
) -> impl IntoView {
    let ledger = Resource::new(
        move || (key_id.clone(), refresh.get()),
        |(id, _)| crate::api::key_ledger(id),
    );
    view! {
        <h3>{tr("ledger.title")}</h3>
        <Transition fallback=move || view! { <p>{tr("common.loading")}</p> }>
            {move || {
                let directory = directory.clone();
                ledger
                    .get()
                    .map(move |r| match r {
                        Ok(entries) if entries.is_empty() => {
                            view! { <EmptyState text=tr("ledger.empty") /> }.into_any()
                        }
                        Ok(entries) => view! { <LedgerTable entries=entries directory=directory /> }.into_any(),
                        Err(e) => view! { <ErrorBanner error=Some(e) /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

#[component]
fn LedgerTable(entries: Vec<LedgerEntry>, directory: Directory) -> impl IntoView {
    let locale = use_locale();
    let offset = use_utc_offset();
    let cols = [
        Column::text(tr("ledger.when")),
        Column::text(tr("ledger.kind")),
        Column::text(tr("ledger.change")),
        Column::text(tr("ledger.expires_after")),
        Column::figure(tr("ledger.price")),
        Column::text(tr("ledger.who")),
        Column::text(tr("ledger.note")),
    ];
    let (t_days, t_holder) = (tr("ledger.days"), tr("ledger.key_holder"));
    let rows = entries
        .into_iter()
        .map(|e| {
            let mut change = Vec::new();
            if e.quota_add > 0.0 {
                change.push(format!("+{}", fmt_usd(e.quota_add)));
            }
            if e.days_add > 0 {
                change.push(t_days.replace("{n}", &e.days_add.to_string()));
            }
            if e.preset_from != e.preset_to {
                let name = |p: &Option<String>| {
                    p.as_deref()
                        .map(|p| directory.preset_name(p))
                        .unwrap_or_else(|| "–".into())
                };
                change.push(format!("{} → {}", name(&e.preset_from), name(&e.preset_to)));
            }
            let expires = e
                .expires_after
                .map(|at| fmt_date(locale, at, offset))
                .unwrap_or_default();
            let who = if e.actor == "key-holder" {
                t_holder.to_string()
            } else {
                e.actor_name.clone()
            };
            let price = (e.sale_price > 0.0).then(|| fmt_money(e.sale_price, &e.currency));
            view! {
                <tr data-testid="ledger-row" data-kind=e.kind.as_str()>
                    <td>{fmt_datetime(locale, e.at, offset)}</td>
                    <td data-label=cols[1].label>{kind_name(e.kind)}</td>
                    <td data-label=cols[2].label>{change.join(", ")}</td>
                    <td data-label=cols[3].label data-testid="ledger-expires">{expires}</td>
                    <td class="num" data-label=cols[4].label>{price}</td>
                    <td data-label=cols[5].label>{who}</td>
                    <td class="wrap" data-label=cols[6].label>{e.note.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    view! { <DataTable columns=cols.to_vec() test_id="key-ledger">{rows}</DataTable> }
}
