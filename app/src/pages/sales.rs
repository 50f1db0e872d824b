//! Sales: keys sold, revenue and the keys' usage by day. A seller sees their own ("My sales");
//! admins and viewers choose a seller, or see everyone's. The range and the seller are query
//! parameters, so every view has a link and reads without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use crate::api::{current_admin, sales_summary};
use crate::components::chart::{ChartLine, ChartValues, DailyChart};
use crate::components::reports::{plain, CsvButton};
use crate::components::table::{Column, DataTable};
use crate::components::ui::ErrorBanner;
use crate::i18n::{fmt_day, fmt_int, fmt_money, fmt_usd};
use crate::types::{ReportRange, Role, SalesSummary};
use crate::{tr, use_locale};

#[component]
pub fn SalesPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &str| query.with(|q| q.get(name).filter(|v| !v.trim().is_empty()));
    let range = Memo::new(move |_| ReportRange {
        from: param("from"),
        to: param("to"),
    });
    let seller = Memo::new(move |_| param("seller"));
    let me = Resource::new(|| (), |_| current_admin());
    let summary = Resource::new(
        move || (range.get(), seller.get()),
        |(r, s)| sales_summary(r, s),
    );
    let is_seller = move || {
        me.get()
            .and_then(|r| r.ok())
            .is_some_and(|m| m.role == Role::Seller)
    };
    view! {
        <Title text=tr("sales.title") />
        // The heading depends on who is asking, so it is read inside the transition with the
        // summary: rendered on the server and hydrated the same, never swapped afterwards.
        <Transition fallback=move || {
            view! {
                <h1>{tr("sales.title")}</h1>
                <p>{tr("common.loading")}</p>
            }
        }>
            {move || {
                let seller = is_seller();
                let heading = if seller { tr("sales.mine") } else { tr("sales.title") };
                summary.get().map(|r| match r {
                    Ok(s) => {
                        let filters = view! { <SalesFilters summary=s.clone() seller=seller /> };
                        view! { <h1>{heading}</h1> {filters} <SalesView summary=s /> }.into_any()
                    }
                    Err(e) => {
                        view! { <h1>{heading}</h1> <ErrorBanner error=Some(e) /> }.into_any()
                    }
                })
            }}
        </Transition>
    }
}

#[component]
fn SalesFilters(summary: SalesSummary, seller: bool) -> impl IntoView {
    let chosen = summary
        .seller
        .as_ref()
        .map(|s| s.id.clone())
        .unwrap_or_default();
    let mut choices = summary.sellers.clone();
    if let Some(current) = summary.seller.clone() {
        if !choices.iter().any(|c| c.id == current.id) {
            choices.push(current);
        }
    }
    let options = choices
        .into_iter()
        .map(|c| {
            let selected = c.id == chosen;
            view! { <option value=c.id selected=selected>{c.name}</option> }
        })
        .collect_view();
    view! {
        <Form method="GET" action="/sales" attr:class="filters" attr:data-testid="sales-filters">
            <div>
                <label for="sf-from">{tr("reports.from")}</label>
                <input id="sf-from" type="date" name="from" value=summary.from.clone() />
            </div>
            <div>
                <label for="sf-to">{tr("reports.to")}</label>
                <input id="sf-to" type="date" name="to" value=summary.to.clone() />
            </div>
            {(!seller).then(|| view! {
                <div>
                    <label for="sf-seller">{tr("margin.seller")}</label>
                    <select id="sf-seller" name="seller" data-testid="sales-seller">
                        <option value="" selected=chosen.is_empty()>{tr("margin.all_sellers")}</option>
                        {options}
                    </select>
                </div>
            })}
            <div class="filters-submit">
                <button type="submit" class="btn">{tr("reports.apply")}</button>
            </div>
        </Form>
    }
}

#[component]
fn SalesView(summary: SalesSummary) -> impl IntoView {
    let locale = use_locale();
    let currency = summary.currency.clone();
    let t = summary.totals.clone();
    let labels: Vec<String> = summary.days.iter().map(|d| d.day.clone()).collect();
    let revenue_line = vec![ChartLine::new(
        tr("margin.revenue"),
        summary.days.iter().map(|d| d.revenue).collect(),
    )];
    let cols = [
        Column::text(tr("usage.day")),
        Column::figure(tr("margin.keys")),
        Column::figure(tr("margin.revenue")),
        Column::figure(tr("usage.requests")),
        Column::figure(tr("usage.tokens")),
        Column::figure(tr("sales.spent")),
    ];
    let mut csv_rows = vec![[
        "day", "keysSold", "revenue", "requests", "tokens", "spentUsd",
    ]
    .map(str::to_owned)
    .to_vec()];
    csv_rows.extend(summary.days.iter().map(|d| {
        vec![
            d.day.clone(),
            d.keys_sold.to_string(),
            plain(d.revenue),
            d.requests.to_string(),
            d.tokens.to_string(),
            plain(d.spent),
        ]
    }));
    let money = currency.clone();
    let rows = summary
        .days
        .iter()
        .filter(|d| d.keys_sold > 0 || d.revenue != 0.0 || d.requests > 0)
        .map(|d| {
            view! {
                <tr>
                    <td>{fmt_day(locale, &d.day)}</td>
                    <td class="num" data-label=cols[1].label>{fmt_int(d.keys_sold as i64)}</td>
                    <td class="num" data-label=cols[2].label>{fmt_money(d.revenue, &money)}</td>
                    <td class="num" data-label=cols[3].label>{fmt_int(d.requests as i64)}</td>
                    <td class="num" data-label=cols[4].label>{fmt_int(d.tokens as i64)}</td>
                    <td class="num" data-label=cols[5].label>{fmt_usd(d.spent)}</td>
                </tr>
            }
        })
        .collect_view();
    let who = summary
        .seller
        .as_ref()
        .map(|s| tr("sales.of").replace("{name}", &s.name))
        .unwrap_or_else(|| tr("sales.everyone").to_string());
    let filename = format!("sales-{}-{}.csv", summary.from, summary.to);
    view! {
        <section class="card" aria-labelledby="sales-heading" data-testid="sales-section">
            <h2 id="sales-heading">{who}</h2>
            {(summary.unconverted_keys > 0).then(|| view! {
                <div class="banner banner-warn">
                    {tr("margin.unconverted").replace("{n}", &summary.unconverted_keys.to_string())}
                </div>
            })}
            <div class="grid stats">
                <div class="card stat" data-testid="sales-keys">
                    <div class="stat-label">{tr("sales.keys_sold")}</div>
                    <div class="stat-value">{fmt_int(t.keys_sold as i64)}</div>
                    <div class="stat-detail">{tr("sales.live_keys").replace("{n}", &fmt_int(summary.live_keys as i64))}</div>
                </div>
                <div class="card stat" data-testid="sales-revenue">
                    <div class="stat-label">{tr("margin.revenue")}</div>
                    <div class="stat-value">{fmt_money(t.revenue, &currency)}</div>
                </div>
                <div class="card stat" data-testid="sales-usage">
                    <div class="stat-label">{tr("sales.usage")}</div>
                    <div class="stat-value">{fmt_int(t.requests as i64)}</div>
                    <div class="stat-detail">{tr("sales.spent_detail").replace("{usd}", &fmt_usd(t.spent))}</div>
                </div>
            </div>
            <DailyChart days=labels lines=revenue_line label=tr("margin.revenue") values=ChartValues::Money(currency.clone()) test_id="sales-chart" />
            <DataTable columns=cols.to_vec() test_id="sales-days">{rows}</DataTable>
            <CsvButton filename=filename rows=csv_rows test_id="sales-csv" />
        </section>
    }
}
