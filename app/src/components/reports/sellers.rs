//! The margin report's revenue by seller (the staff user who created the keys), linked to each
//! seller's sales page. Upstream cost is not attributed to sellers, so no margin here.

use leptos::prelude::*;

use super::{plain, CsvButton};
use crate::components::feedback::EmptyState;
use crate::components::table::{Column, DataTable};
use crate::i18n::{fmt_int, fmt_money};
use crate::tr;
use crate::types::SellerSales;

#[component]
pub fn SellerTable(lines: Vec<SellerSales>, currency: String, filename: String) -> impl IntoView {
    if lines.is_empty() {
        return view! {
            <section class="card" data-testid="margin-sellers">
                <h2>{tr("margin.by_seller")}</h2>
                <EmptyState text=tr("margin.empty") />
            </section>
        }
        .into_any();
    }
    let name = |s: &SellerSales| {
        if s.key.is_empty() {
            tr("margin.no_seller").to_string()
        } else {
            s.label.clone()
        }
    };
    let mut csv_rows = vec![vec![
        "seller".to_string(),
        "sellerId".into(),
        "keysSold".into(),
        "revenue".into(),
    ]];
    csv_rows.extend(lines.iter().map(|s| {
        vec![
            name(s),
            s.key.clone(),
            s.keys_sold.to_string(),
            plain(s.revenue),
        ]
    }));
    let cols = [
        Column::text(tr("margin.seller")),
        Column::figure(tr("margin.keys")),
        Column::figure(tr("margin.revenue")),
    ];
    let rows = lines
        .iter()
        .map(|s| {
            let who = if s.key.is_empty() {
                view! { <span>{name(s)}</span> }.into_any()
            } else {
                let href = format!("/sales?seller={}", s.key);
                view! { <a href=href>{name(s)}</a> }.into_any()
            };
            view! {
                <tr>
                    <td>{who}</td>
                    <td class="num" data-label=cols[1].label>{fmt_int(s.keys_sold as i64)}</td>
                    <td class="num" data-label=cols[2].label>{fmt_money(s.revenue, &currency)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card" data-testid="margin-sellers">
            <h2>{tr("margin.by_seller")}</h2>
            <DataTable columns=cols.to_vec()>{rows}</DataTable>
            <CsvButton filename=filename rows=csv_rows />
        </section>
    }
    .into_any()
}
