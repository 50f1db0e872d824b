//! Usage and margin over a chosen range of days. The range, split, cost basis and exchange
//! rate are query parameters, so every view has a link and reads without JavaScript.

use chrono::{Duration, NaiveDate};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use crate::api::{margin_report, operator_settings, save_operator_settings, usage_report};
use crate::components::feedback::{busy_label, use_toasts};
use crate::components::reports::margin::MarginSection;
use crate::components::reports::usage::UsageSection;
use crate::components::ui::ErrorBanner;
use crate::tr;
use crate::types::{CostBasis, OperatorSettingsInput, ReportRange, SplitBy};

/// Links for the last `n` days ending on `to`, keeping the other parameters.
fn range_link(
    to: &str,
    days: i64,
    split: SplitBy,
    basis: CostBasis,
    rate: &Option<String>,
    seller: &Option<String>,
) -> String {
    let from = NaiveDate::parse_from_str(to, "%Y-%m-%d")
        .map(|d| {
            (d - Duration::days(days - 1))
                .format("%Y-%m-%d")
                .to_string()
        })
        .unwrap_or_default();
    let mut link = format!(
        "/usage-report?from={from}&to={to}&split={}&basis={}",
        split.as_str(),
        basis.as_str()
    );
    if let Some(rate) = rate {
        link.push_str(&format!("&rate={rate}"));
    }
    // User ids are UUIDs: nothing to escape (anything else is left out of the link).
    if let Some(seller) = seller.as_ref().filter(|s| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }) {
        link.push_str(&format!("&seller={seller}"));
    }
    link
}

#[component]
pub fn UsageReportPage() -> impl IntoView {
    let toasts = use_toasts();
    let query = use_query_map();
    let param = move |name: &str| query.with(|q| q.get(name).filter(|v| !v.trim().is_empty()));
    let range = Memo::new(move |_| ReportRange {
        from: param("from"),
        to: param("to"),
    });
    let split = Memo::new(move |_| {
        param("split")
            .as_deref()
            .and_then(SplitBy::parse)
            .unwrap_or_default()
    });
    let basis = Memo::new(move |_| {
        param("basis")
            .as_deref()
            .and_then(CostBasis::parse)
            .unwrap_or_default()
    });
    let rate = Memo::new(move |_| param("rate").and_then(|r| r.trim().parse::<f64>().ok()));
    let seller = Memo::new(move |_| param("seller"));
    let usage = Resource::new(
        move || (range.get(), split.get()),
        |(r, s)| usage_report(r, s),
    );
    let margin = Resource::new(
        move || (range.get(), basis.get(), rate.get(), seller.get()),
        |(r, b, x, s)| margin_report(r, b, x, s),
    );

    let saved_version = RwSignal::new(0u32);
    let settings = Resource::new(move || saved_version.get(), |_| operator_settings());
    let t_saved = tr("margin.rate_saved");
    let save_rate = Action::new(move |input: &OperatorSettingsInput| {
        let input = input.clone();
        async move {
            toasts.outcome(&save_operator_settings(input).await, t_saved);
            saved_version.update(|v| *v += 1);
        }
    });

    let split_option = move |s: SplitBy, key: &'static str| {
        view! { <option value=s.as_str() selected=move || split.get() == s>{tr(key)}</option> }
    };

    view! {
        <Title text=tr("reports.title") />
        <h1>{tr("reports.title")}</h1>
        <Transition fallback=move || view! { <p>{tr("common.loading")}</p> }>
            {move || {
                let usage = usage.get();
                let margin = margin.get();
                let resolved = usage.as_ref().and_then(|r| r.as_ref().ok()).map(|u| (u.from.clone(), u.to.clone()));
                let (from, to) = resolved.clone().unwrap_or_default();
                let current_rate = margin
                    .as_ref()
                    .and_then(|r| r.as_ref().ok())
                    .map(|m| (m.currency.clone(), m.exchange_rate));
                let rate_text = param("rate").or_else(|| current_rate.as_ref().map(|(_, r)| r.to_string()));
                let quick = resolved.map(|(_, to)| {
                    let raw_rate = param("rate");
                    let raw_seller = seller.get();
                    [(7, "reports.last_7"), (30, "reports.last_30"), (90, "reports.last_90")]
                        .into_iter()
                        .map(|(n, key)| {
                            view! { <a class="btn btn-small" href=range_link(&to, n, split.get(), basis.get(), &raw_rate, &raw_seller)>{tr(key)}</a> }
                        })
                        .collect_view()
                });
                let stored = settings.get().and_then(|r| r.ok());
                // Who can be chosen: the sellers of the report (one, once filtered).
                let chosen = seller.get().unwrap_or_default();
                let mut sellers: Vec<(String, String)> = margin
                    .as_ref()
                    .and_then(|r| r.as_ref().ok())
                    .map(|m| m.by_seller.iter().filter(|s| !s.key.is_empty()).map(|s| (s.key.clone(), s.label.clone())).collect())
                    .unwrap_or_default();
                if !chosen.is_empty() && !sellers.iter().any(|(k, _)| *k == chosen) {
                    sellers.push((chosen.clone(), chosen.clone()));
                }
                let seller_options = sellers
                    .into_iter()
                    .map(|(k, label)| {
                        let selected = k == chosen;
                        view! { <option value=k selected=selected>{label}</option> }
                    })
                    .collect_view();
                view! {
                    <Form method="GET" action="/usage-report" attr:class="filters" attr:data-testid="report-filters">
                        <div>
                            <label for="rf-from">{tr("reports.from")}</label>
                            <input id="rf-from" type="date" name="from" value=from.clone() />
                        </div>
                        <div>
                            <label for="rf-to">{tr("reports.to")}</label>
                            <input id="rf-to" type="date" name="to" value=to.clone() />
                        </div>
                        <div>
                            <label for="rf-split">{tr("reports.split_by")}</label>
                            <select id="rf-split" name="split">
                                {split_option(SplitBy::Model, "usage.model")}
                                {split_option(SplitBy::Account, "usage.account")}
                                {split_option(SplitBy::Group, "usage.group")}
                                {split_option(SplitBy::Preset, "usage.preset")}
                            </select>
                        </div>
                        <div>
                            <label for="rf-basis">{tr("margin.cost_basis")}</label>
                            <select id="rf-basis" name="basis">
                                <option value="usage" selected=basis.get() == CostBasis::Usage>{tr("margin.basis_usage")}</option>
                                <option value="amortized" selected=basis.get() == CostBasis::Amortized>{tr("margin.basis_amortized")}</option>
                            </select>
                        </div>
                        <div>
                            <label for="rf-rate">
                                {tr("margin.exchange_rate").replace("{currency}", &current_rate.as_ref().map(|(c, _)| c.clone()).unwrap_or_else(|| "USD".into()))}
                            </label>
                            <input id="rf-rate" type="number" name="rate" min="0" step="any" value=rate_text.clone().unwrap_or_default() />
                        </div>
                        <div>
                            <label for="rf-seller">{tr("margin.seller")}</label>
                            <select id="rf-seller" name="seller" data-testid="margin-seller">
                                <option value="" selected=chosen.is_empty()>{tr("margin.all_sellers")}</option>
                                {seller_options}
                            </select>
                        </div>
                        <div class="filters-submit">
                            <button type="submit" class="btn">{tr("reports.apply")}</button>
                        </div>
                    </Form>
                    <div class="toolbar quick-ranges">
                        {quick}
                        {stored.filter(|s| s.currency != "USD").map(|s| {
                            let (currency, stored) = (s.currency, s.usd_exchange_rate);
                            let typed = rate.get();
                            view! {
                                <button
                                    type="button"
                                    class="btn btn-small"
                                    disabled=move || save_rate.pending().get() || typed.is_none_or(|t| t == stored)
                                    on:click=move |_| {
                                        if let Some(r) = typed {
                                            save_rate.dispatch(OperatorSettingsInput { currency: currency.clone(), usd_exchange_rate: r });
                                        }
                                    }
                                >
                                    {move || busy_label(save_rate.pending().get(), "margin.save_rate")}
                                </button>
                            }
                        })}
                    </div>
                    {usage.map(|r| match r {
                        Ok(report) => view! { <UsageSection report=report /> }.into_any(),
                        Err(e) => view! { <ErrorBanner error=Some(e) /> }.into_any(),
                    })}
                    {margin.map(|r| match r {
                        Ok(report) => view! { <MarginSection report=report /> }.into_any(),
                        Err(e) => view! { <ErrorBanner error=Some(e) /> }.into_any(),
                    })}
                }
            }}
        </Transition>
    }
}
