//! One key's usage over the last 30 days: a chart by day and a table by model. Also used by
//! the key holder's page.

use leptos::prelude::*;

use crate::components::chart::{ChartLine, ChartValues, DailyChart};
use crate::components::feedback::EmptyState;
use crate::components::table::{Column, DataTable};
use crate::components::ui::ErrorBanner;
use crate::i18n::{fmt_day, fmt_int, fmt_usd};
use crate::types::KeyUsage;
use crate::{tr, use_locale};

/// Loads and shows the usage of the admin's key `key_id`.
#[component]
pub fn KeyUsagePanel(key_id: String) -> impl IntoView {
    let usage = Resource::new(move || key_id.clone(), crate::api::key_usage);
    view! {
        <Suspense fallback=move || view! { <p>{tr("common.loading")}</p> }>
            {move || {
                usage
                    .get()
                    .map(|r| match r {
                        Ok(u) => view! { <UsageView usage=u /> }.into_any(),
                        Err(e) => view! { <ErrorBanner error=Some(e) /> }.into_any(),
                    })
            }}
        </Suspense>
    }
}

/// Usage by day (chart and the days with traffic) and by model.
#[component]
pub fn UsageView(usage: KeyUsage) -> impl IntoView {
    let locale = use_locale();
    let days: Vec<String> = usage.days.iter().map(|d| d.day.clone()).collect();
    // Cost only: requests on the same axis would flatten it (they are in the table by day).
    let lines = vec![ChartLine::new(
        tr("usage.cost_usd"),
        usage.days.iter().map(|d| d.cost).collect(),
    )];
    let busy_days: Vec<_> = usage
        .days
        .iter()
        .rev()
        .filter(|d| d.requests > 0)
        .cloned()
        .collect();
    let models = usage.models.clone();
    let estimated = usage.estimated_requests;
    view! {
        <DailyChart days=days lines=lines label=tr("usage.by_day") values=ChartValues::Money("USD".into()) test_id="key-usage-chart" />
        <Show when=move || 0 < estimated>
            <p class="hint" data-testid="usage-estimated">
                {tr("usage.estimated_note").replace("{n}", &estimated.to_string())}
            </p>
        </Show>
        <h3>{tr("usage.by_model")}</h3>
        {if models.is_empty() {
            view! { <EmptyState text=tr("usage.no_usage_30d") /> }.into_any()
        } else {
            let cols = [
                Column::text(tr("usage.model")),
                Column::figure(tr("usage.requests")),
                Column::figure(tr("usage.input_tokens")),
                Column::figure(tr("usage.output_tokens")),
                Column::figure(tr("usage.cache_tokens")),
                Column::figure(tr("usage.cost")),
            ];
            view! {
                <DataTable columns=cols.to_vec() test_id="usage-by-model">
                            {models
                                .into_iter()
                                .map(|m| {
                                    view! {
                                        <tr>
                                            <td>{m.model}</td>
                                            <td class="num" data-label=cols[1].label>{fmt_int(m.requests as i64)}</td>
                                            <td class="num" data-label=cols[2].label>{fmt_int(m.input_tokens as i64)}</td>
                                            <td class="num" data-label=cols[3].label>{fmt_int(m.output_tokens as i64)}</td>
                                            <td class="num" data-label=cols[4].label>{fmt_int(m.cache_tokens as i64)}</td>
                                            <td class="num" data-label=cols[5].label>{fmt_usd(m.cost)}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                </DataTable>
            }
                .into_any()
        }}
        {(!busy_days.is_empty())
            .then(|| {
                let cols = [
                    Column::text(tr("usage.day")),
                    Column::figure(tr("usage.requests")),
                    Column::figure(tr("usage.tokens")),
                    Column::figure(tr("usage.cost")),
                ];
                view! {
                    <h3>{tr("usage.by_day")}</h3>
                    <DataTable columns=cols.to_vec()>
                                {busy_days
                                    .into_iter()
                                    .map(|d| {
                                        view! {
                                            <tr>
                                                <td>{fmt_day(locale, &d.day)}</td>
                                                <td class="num" data-label=cols[1].label>{fmt_int(d.requests as i64)}</td>
                                                <td class="num" data-label=cols[2].label>{fmt_int(d.tokens as i64)}</td>
                                                <td class="num" data-label=cols[3].label>{fmt_usd(d.cost)}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                    </DataTable>
                }
            })}
    }
}
