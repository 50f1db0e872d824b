//! Revenue against upstream cost: the total by day, then margin by preset and by group, each a
//! chart with a table (and CSV) under it, in the operator's currency.

use leptos::prelude::*;

use super::sellers::SellerTable;
use super::{plain, CsvButton};
use crate::components::chart::{ChartLine, ChartValues, DailyChart};
use crate::components::feedback::EmptyState;
use crate::components::table::{Column, DataTable};
use crate::i18n::{fmt_day, fmt_int, fmt_money, fmt_pct, fmt_usd};
use crate::types::{CostBasis, MarginLine, MarginReport};
use crate::{tr, use_locale};

/// Lines drawn per breakdown chart; the tables list every line.
const CHART_LINES: usize = 8;

fn label(key: &str, label: &str, by_group: bool) -> String {
    match key {
        "" if by_group => tr("margin.no_group").to_string(),
        "" => tr("margin.no_preset").to_string(),
        "__unallocated__" => tr("margin.unallocated").to_string(),
        _ => label.to_owned(),
    }
}

fn pct(p: Option<f64>) -> String {
    p.map(fmt_pct).unwrap_or_else(|| "–".into())
}

#[component]
pub fn MarginSection(report: MarginReport) -> impl IntoView {
    let locale = use_locale();
    let currency = report.currency.clone();
    let money = move |v: f64| fmt_money(v, &currency);
    let days = report.days.clone();
    let total = report.total.clone();
    let total_lines = vec![
        ChartLine::new(tr("margin.revenue"), total.revenue.clone()),
        ChartLine::new(tr("margin.cost"), total.cost.clone()),
        ChartLine::new(tr("margin.margin"), total.margin.clone()),
    ];
    let basis_note = match report.cost_basis {
        CostBasis::Usage => tr("margin.basis_usage_note"),
        CostBasis::Amortized => tr("margin.basis_amortized_note"),
    };
    let rate_note = tr("margin.rate_note")
        .replace("{currency}", &report.currency)
        .replace("{rate}", &report.exchange_rate.to_string());
    let mut day_csv = vec![vec![
        "day".to_string(),
        "revenue".into(),
        "cost".into(),
        "margin".into(),
    ]];
    day_csv.extend(days.iter().enumerate().map(|(i, d)| {
        vec![
            d.clone(),
            plain(total.revenue[i]),
            plain(total.cost[i]),
            plain(total.margin[i]),
        ]
    }));
    let money_days = money.clone();
    let cols = [
        Column::text(tr("usage.day")),
        Column::figure(tr("margin.revenue")),
        Column::figure(tr("margin.cost")),
        Column::figure(tr("margin.margin")),
        Column::figure(tr("margin.margin_pct")),
    ];
    let day_rows = days
        .iter()
        .enumerate()
        .filter(|(i, _)| total.revenue[*i] != 0.0 || total.cost[*i] != 0.0)
        .map(|(i, d)| {
            let m = total.margin[i];
            let share = (total.revenue[i] > 0.0).then(|| m / total.revenue[i]);
            view! {
                <tr>
                    <td>{fmt_day(locale, d)}</td>
                    <td class="num" data-label=cols[1].label>{money_days(total.revenue[i])}</td>
                    <td class="num" data-label=cols[2].label>{money_days(total.cost[i])}</td>
                    <td class="num" data-label=cols[3].label class:negative=m < 0.0>{money_days(m)}</td>
                    <td class="num" data-label=cols[4].label>{pct(share)}</td>
                </tr>
            }
        })
        .collect_view();
    let t = total.totals.clone();
    let filename = |what: &str| format!("margin-{what}-{}-{}.csv", report.from, report.to);

    view! {
        <section class="card" aria-labelledby="margin-heading" data-testid="margin-section">
            <h2 id="margin-heading">{tr("margin.heading")}</h2>
            <p class="hint">{basis_note} " " {rate_note}</p>
            {(report.unconverted_keys > 0).then(|| view! {
                <div class="banner banner-warn">
                    {tr("margin.unconverted").replace("{n}", &report.unconverted_keys.to_string())}
                </div>
            })}
            <div class="grid stats">
                <div class="card stat" data-testid="margin-revenue">
                    <div class="stat-label">{tr("margin.revenue")}</div>
                    <div class="stat-value">{money(t.revenue)}</div>
                    <div class="stat-detail">{tr("margin.keys_sold").replace("{n}", &fmt_int(t.keys_sold as i64))}</div>
                </div>
                <div class="card stat" data-testid="margin-cost">
                    <div class="stat-label">{tr("margin.cost")}</div>
                    <div class="stat-value">{money(t.cost)}</div>
                    // The cost in USD beside the operator's currency; in USD it would say the same twice.
                    {(report.currency != "USD").then(|| view! { <div class="stat-detail">{fmt_usd(t.cost_usd)}</div> })}
                </div>
                <div class="card stat" data-testid="margin-total">
                    <div class="stat-label">{tr("margin.margin")}</div>
                    <div class="stat-value" class:negative=t.margin < 0.0>{money(t.margin)}</div>
                    <div class="stat-detail">{pct(t.margin_pct)}</div>
                </div>
            </div>
            <DailyChart days=days.clone() lines=total_lines label=tr("margin.by_day") values=ChartValues::Money(report.currency.clone()) test_id="margin-chart" signed=true />
            <DataTable columns=cols.to_vec() test_id="margin-days">{day_rows}</DataTable>
            <CsvButton filename=filename("days") rows=day_csv test_id="margin-days-csv" />
        </section>
        <Breakdown title=tr("margin.by_preset") lines=report.by_preset.clone() days=days.clone() currency=report.currency.clone() by_group=false filename=filename("presets") test_id="margin-presets" />
        <Breakdown title=tr("margin.by_group") lines=report.by_group.clone() days=days currency=report.currency.clone() by_group=true filename=filename("groups") test_id="margin-groups" />
        <SellerTable lines=report.by_seller.clone() currency=report.currency.clone() filename=filename("sellers") />
    }
}

/// Margin by day of each preset or group, and their totals.
#[component]
fn Breakdown(
    #[prop(into)] title: String,
    lines: Vec<MarginLine>,
    days: Vec<String>,
    currency: String,
    by_group: bool,
    filename: String,
    #[prop(into)] test_id: String,
) -> impl IntoView {
    if lines.is_empty() {
        return view! {
            <section class="card" data-testid=test_id>
                <h2>{title}</h2>
                <EmptyState text=tr("margin.empty") />
            </section>
        }
        .into_any();
    }
    let chart_lines: Vec<ChartLine> = lines
        .iter()
        .take(CHART_LINES)
        .map(|l| ChartLine::new(label(&l.key, &l.label, by_group), l.margin.clone()))
        .collect();
    let mut csv_rows = vec![vec![
        if by_group { "group" } else { "preset" }.to_string(),
        "keysSold".into(),
        "revenue".into(),
        "cost".into(),
        "costUsd".into(),
        "margin".into(),
        "marginPct".into(),
    ]];
    csv_rows.extend(lines.iter().map(|l| {
        vec![
            label(&l.key, &l.label, by_group),
            l.totals.keys_sold.to_string(),
            plain(l.totals.revenue),
            plain(l.totals.cost),
            plain(l.totals.cost_usd),
            plain(l.totals.margin),
            l.totals.margin_pct.map(plain).unwrap_or_default(),
        ]
    }));
    let cols = [
        Column::text(if by_group {
            tr("usage.group")
        } else {
            tr("usage.preset")
        }),
        Column::figure(tr("margin.keys")),
        Column::figure(tr("margin.revenue")),
        Column::figure(tr("margin.cost")),
        Column::figure(tr("margin.margin")),
        Column::figure(tr("margin.margin_pct")),
    ];
    let rows = lines
        .into_iter()
        .map(|l| {
            let t = l.totals;
            view! {
                <tr>
                    <td>{label(&l.key, &l.label, by_group)}</td>
                    <td class="num" data-label=cols[1].label>{fmt_int(t.keys_sold as i64)}</td>
                    <td class="num" data-label=cols[2].label>{fmt_money(t.revenue, &currency)}</td>
                    <td class="num" data-label=cols[3].label>{fmt_money(t.cost, &currency)}</td>
                    <td class="num" data-label=cols[4].label class:negative=t.margin < 0.0>{fmt_money(t.margin, &currency)}</td>
                    <td class="num" data-label=cols[5].label>{pct(t.margin_pct)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card" data-testid=test_id.clone()>
            <h2>{title.clone()}</h2>
            <DailyChart days=days lines=chart_lines label=title values=ChartValues::Money(currency) test_id=format!("{test_id}-chart") signed=true />
            <DataTable columns=cols.to_vec()>{rows}</DataTable>
            <CsvButton filename=filename rows=csv_rows />
        </section>
    }
    .into_any()
}
