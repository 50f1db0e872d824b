//! Usage by day split by model, account, group or preset: a chart of the chosen measure and a
//! table of every split value, exportable as CSV.

use leptos::prelude::*;

use super::{plain, CsvButton};
use crate::components::chart::{ChartLine, ChartValues, DailyChart};
use crate::components::feedback::EmptyState;
use crate::components::table::{Column, DataTable};
use crate::i18n::{fmt_int, fmt_usd};
use crate::tr;
use crate::types::{SplitBy, UsageReport, UsageTotals};

/// The key of the series folding every smaller value together (see the server's report).
pub const OTHER: &str = "__other__";

/// What to call a split value on screen.
pub fn split_label(split: SplitBy, key: &str, label: &str) -> String {
    if key == OTHER {
        return tr("usage.other").to_string();
    }
    if key.is_empty() {
        return match split {
            SplitBy::Model => tr("usage.no_model"),
            SplitBy::Account => tr("usage.no_account"),
            SplitBy::Group => tr("usage.no_group"),
            SplitBy::Preset => tr("usage.no_preset"),
        }
        .to_string();
    }
    label.to_owned()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Measure {
    Requests,
    Tokens,
    Cost,
}

#[component]
pub fn UsageSection(report: UsageReport) -> impl IntoView {
    let measure = RwSignal::new(Measure::Cost);
    let split = report.split_by;
    let days = report.days.clone();
    let series = report.series.clone();
    let chart = move || {
        let lines: Vec<ChartLine> = series
            .iter()
            .map(|s| {
                let values = match measure.get() {
                    Measure::Requests => s.requests.iter().map(|v| *v as f64).collect(),
                    Measure::Tokens => s.tokens.iter().map(|v| *v as f64).collect(),
                    Measure::Cost => s.cost.clone(),
                };
                ChartLine::new(split_label(split, &s.key, &s.label), values)
            })
            .collect();
        let values = match measure.get() {
            Measure::Cost => ChartValues::Money("USD".into()),
            Measure::Requests | Measure::Tokens => ChartValues::Count,
        };
        view! { <DailyChart days=days.clone() lines=lines label=tr("usage.chart_label") values=values test_id="usage-chart" /> }
    };
    let tab = move |m: Measure, key: &'static str| {
        view! {
            <button
                type="button"
                class="tab"
                aria-pressed=move || (measure.get() == m).to_string()
                on:click=move |_| measure.set(m)
            >
                {tr(key)}
            </button>
        }
    };
    let mut csv_rows = vec![vec![
        split.as_str().to_string(),
        "requests".into(),
        "errors".into(),
        "inputTokens".into(),
        "outputTokens".into(),
        "cacheWriteTokens".into(),
        "cacheReadTokens".into(),
        "costUsd".into(),
    ]];
    csv_rows.extend(report.rows.iter().map(|r| {
        vec![
            split_label(split, &r.key, &r.label),
            r.requests.to_string(),
            r.errors.to_string(),
            r.input_tokens.to_string(),
            r.output_tokens.to_string(),
            r.cache_write_tokens.to_string(),
            r.cache_read_tokens.to_string(),
            plain(r.cost),
        ]
    }));
    let filename = format!("usage-{}-{}-{}.csv", split.as_str(), report.from, report.to);
    let cols = [
        Column::text(tr(match split {
            SplitBy::Model => "usage.model",
            SplitBy::Account => "usage.account",
            SplitBy::Group => "usage.group",
            SplitBy::Preset => "usage.preset",
        })),
        Column::figure(tr("usage.requests")),
        Column::figure(tr("usage.errors")),
        Column::figure(tr("usage.input_tokens")),
        Column::figure(tr("usage.output_tokens")),
        Column::figure(tr("usage.cache_tokens")),
        Column::figure(tr("usage.cost")),
    ];
    let row = move |r: UsageTotals, total: bool| {
        let name = if total {
            tr("reports.total").to_string()
        } else {
            split_label(split, &r.key, &r.label)
        };
        view! {
            <tr class:total-row=total>
                <td>{name}</td>
                <td class="num" data-label=cols[1].label>{fmt_int(r.requests as i64)}</td>
                <td class="num" data-label=cols[2].label>{fmt_int(r.errors as i64)}</td>
                <td class="num" data-label=cols[3].label>{fmt_int(r.input_tokens as i64)}</td>
                <td class="num" data-label=cols[4].label>{fmt_int(r.output_tokens as i64)}</td>
                <td class="num" data-label=cols[5].label>{fmt_int((r.cache_write_tokens + r.cache_read_tokens) as i64)}</td>
                <td class="num" data-label=cols[6].label>{fmt_usd(r.cost)}</td>
            </tr>
        }
    };
    let rows = report.rows.clone();
    let totals = report.totals.clone();
    view! {
        <section class="card" aria-labelledby="usage-heading" data-testid="usage-section">
            <div class="card-head">
                <h2 id="usage-heading">{tr("usage.heading")}</h2>
                <div class="tabs" role="group" aria-label=tr("usage.measure")>
                    {tab(Measure::Requests, "usage.requests")}
                    {tab(Measure::Tokens, "usage.tokens")}
                    {tab(Measure::Cost, "usage.cost_usd")}
                </div>
            </div>
            {chart}
            {if rows.is_empty() {
                view! { <EmptyState text=tr("usage.empty") /> }.into_any()
            } else {
                view! {
                    <DataTable columns=cols.to_vec() test_id="usage-table">
                        {rows.into_iter().map(|r| row(r, false)).collect_view()}
                        {row(totals, true)}
                    </DataTable>
                    <CsvButton filename=filename rows=csv_rows test_id="usage-csv" />
                }
                    .into_any()
            }}
        </section>
    }
}
