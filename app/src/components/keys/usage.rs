//! One key's usage over the last 30 days: a chart by day and a table by model. Also used by
//! the key holder's page.

use leptos::prelude::*;

use crate::components::chart::{ChartLine, DailyChart};
use crate::components::feedback::EmptyState;
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
    let lines = vec![
        ChartLine::new(
            tr("usage.cost_usd"),
            usage.days.iter().map(|d| d.cost).collect(),
        ),
        ChartLine::new(
            tr("usage.requests"),
            usage.days.iter().map(|d| d.requests as f64).collect(),
        ),
    ];
    let busy_days: Vec<_> = usage
        .days
        .iter()
        .rev()
        .filter(|d| d.requests > 0)
        .cloned()
        .collect();
    let models = usage.models.clone();
    view! {
        <DailyChart days=days lines=lines label=tr("usage.by_day") test_id="key-usage-chart" />
        <h3>{tr("usage.by_model")}</h3>
        {if models.is_empty() {
            view! { <EmptyState text=tr("usage.no_usage_30d") /> }.into_any()
        } else {
            view! {
                <div class="table-wrap">
                    <table data-testid="usage-by-model">
                        <thead>
                            <tr>
                                <th scope="col">{tr("usage.model")}</th>
                                <th scope="col" class="num">{tr("usage.requests")}</th>
                                <th scope="col" class="num">{tr("usage.input_tokens")}</th>
                                <th scope="col" class="num">{tr("usage.output_tokens")}</th>
                                <th scope="col" class="num">{tr("usage.cache_tokens")}</th>
                                <th scope="col" class="num">{tr("usage.cost")}</th>
                            </tr>
                        </thead>
                        <tbody>
                            {models
                                .into_iter()
                                .map(|m| {
                                    view! {
                                        <tr>
                                            <td>{m.model}</td>
                                            <td class="num">{fmt_int(m.requests as i64)}</td>
                                            <td class="num">{fmt_int(m.input_tokens as i64)}</td>
                                            <td class="num">{fmt_int(m.output_tokens as i64)}</td>
                                            <td class="num">{fmt_int(m.cache_tokens as i64)}</td>
                                            <td class="num">{fmt_usd(m.cost)}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                </div>
            }
                .into_any()
        }}
        {(!busy_days.is_empty())
            .then(|| {
                view! {
                    <h3>{tr("usage.by_day")}</h3>
                    <div class="table-wrap">
                        <table>
                            <thead>
                                <tr>
                                    <th scope="col">{tr("usage.day")}</th>
                                    <th scope="col" class="num">{tr("usage.requests")}</th>
                                    <th scope="col" class="num">{tr("usage.tokens")}</th>
                                    <th scope="col" class="num">{tr("usage.cost")}</th>
                                </tr>
                            </thead>
                            <tbody>
                                {busy_days
                                    .into_iter()
                                    .map(|d| {
                                        view! {
                                            <tr>
                                                <td>{fmt_day(locale, &d.day)}</td>
                                                <td class="num">{fmt_int(d.requests as i64)}</td>
                                                <td class="num">{fmt_int(d.tokens as i64)}</td>
                                                <td class="num">{fmt_usd(d.cost)}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
            })}
    }
}
