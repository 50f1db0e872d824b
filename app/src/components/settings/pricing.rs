//! Price overrides (USD per million tokens): the overridden models, models recently billed by
//! a guessed price (their family's or the fallback) with a one-click "use this price", where
//! the price list comes from, the list itself, and a form to set a price.

use leptos::prelude::*;

use crate::api::{delete_price_override, pricing_list, set_price_override};
use crate::components::feedback::{busy_label, use_toasts, ConfirmButton, EmptyState};
use crate::components::table::{Column, DataTable};
use crate::components::ui::ErrorBanner;
use crate::i18n::{fmt_datetime, fmt_usd};
use crate::types::{
    FallbackModel, PriceInput, PriceRuleView, PriceTableInfo, PricedModelView, PricingList,
};
use crate::{tr, use_locale, use_utc_offset};

#[derive(Clone, Debug, PartialEq)]
enum Change {
    Set(String, PriceInput),
    Delete(String),
}

/// Rows of the price list shown at once; the filter narrows the rest down.
const CATALOG_ROWS: usize = 100;

#[component]
pub fn PricingSection() -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    let list = Resource::new(move || refresh.get(), |_| pricing_list());
    view! {
        <section class="card" aria-labelledby="pricing-heading" data-testid="pricing">
            <h2 id="pricing-heading">{tr("pricing.heading")}</h2>
            <p class="hint">{tr("pricing.hint")}</p>
            <Transition fallback=move || view! { <p>{tr("common.loading")}</p> }>
                {move || {
                    list.get()
                        .map(|r| match r {
                            Ok(l) => view! { <PricingView list=l refresh=refresh /> }.into_any(),
                            Err(e) => view! { <ErrorBanner error=Some(e) /> }.into_any(),
                        })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn PricingView(list: PricingList, refresh: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let locale = use_locale();
    let offset = use_utc_offset();
    let model = RwSignal::new(String::new());
    let fields: [RwSignal<String>; 5] = std::array::from_fn(|_| RwSignal::new(String::new()));
    let fill = move |name: &str, p: &PriceInput| {
        model.set(name.to_owned());
        for (f, v) in fields.iter().zip([
            p.input,
            p.output,
            p.cache_write_5m,
            p.cache_write_1h,
            p.cache_read,
        ]) {
            f.set(v.to_string());
        }
    };
    let (t_set, t_removed, t_bad) = (
        tr("pricing.saved"),
        tr("pricing.removed"),
        tr("common.bad_number"),
    );
    let change = Action::new(move |c: &Change| {
        let c = c.clone();
        async move {
            match c {
                Change::Set(m, p) => {
                    let r = set_price_override(m, p).await;
                    if r.is_ok() {
                        model.set(String::new());
                    }
                    toasts.outcome(&r, t_set);
                }
                Change::Delete(m) => toasts.outcome(&delete_price_override(m).await, t_removed),
            }
            refresh.update(|n| *n += 1);
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let values: Option<Vec<f64>> = fields
            .iter()
            .map(|f| {
                f.get()
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
            })
            .collect();
        let Some(v) = values else {
            toasts.error_text(t_bad);
            return;
        };
        let price = PriceInput {
            input: v[0],
            output: v[1],
            cache_write_5m: v[2],
            cache_write_1h: v[3],
            cache_read: v[4],
        };
        change.dispatch(Change::Set(model.get().trim().to_owned(), price));
    };
    let overrides: Vec<PricedModelView> = list
        .models
        .iter()
        .filter(|m| m.overridden)
        .cloned()
        .collect();
    let fallback_price = list.fallback_price.clone();
    let catalog = list.models.clone();
    let filter = RwSignal::new(String::new());
    let labels = [
        ("pf-input", "pricing.input"),
        ("pf-output", "pricing.output"),
        ("pf-cw5", "pricing.cache_write_5m"),
        ("pf-cw1h", "pricing.cache_write_1h"),
        ("pf-cr", "pricing.cache_read"),
    ];
    let price_columns = labels.map(|(_, k)| Column::figure(tr(k)));
    let price_cells = move |p: &PriceInput| {
        [
            p.input,
            p.output,
            p.cache_write_5m,
            p.cache_write_1h,
            p.cache_read,
        ]
        .into_iter()
        .zip(price_columns)
        .map(|(v, c)| view! { <td class="num" data-label=c.label>{fmt_usd(v)}</td> })
        .collect_view()
    };
    let model_column = Column::text(tr("pricing.model"));
    let override_columns: Vec<Column> = std::iter::once(model_column)
        .chain(price_columns)
        .chain([Column::actions(tr("common.actions"))])
        .collect();
    let catalog_columns: Vec<Column> = std::iter::once(model_column).chain(price_columns).collect();

    view! {
        <h3>{tr("pricing.overrides")}</h3>
        {if overrides.is_empty() {
            view! { <EmptyState text=tr("pricing.no_overrides") /> }.into_any()
        } else {
            view! {
                <DataTable columns=override_columns test_id="price-overrides">
                            {overrides
                                .into_iter()
                                .map(|m| {
                                    let (edit, remove) = ((m.model.clone(), m.price.clone()), m.model.clone());
                                    view! {
                                        <tr>
                                            <td class="mono">{m.model.clone()}</td>
                                            {price_cells(&m.price)}
                                            <td class="actions">
                                                <div class="row-actions">
                                                    <button type="button" class="btn btn-small" on:click=move |_| fill(&edit.0, &edit.1)>
                                                        {tr("common.edit")}
                                                    </button>
                                                    <ConfirmButton
                                                        label=tr("pricing.remove")
                                                        question=tr("pricing.remove_question")
                                                        pending=change.pending()
                                                        on_confirm=move |_| {
                                                            change.dispatch(Change::Delete(remove.clone()));
                                                        }
                                                    />
                                                </div>
                                            </td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                </DataTable>
            }
                .into_any()
        }}
        <h3>{tr("pricing.fallback_models")}</h3>
        <p class="hint">{tr("pricing.fallback_hint").replace("{price}", &format!("{} / {}", fmt_usd(fallback_price.input), fmt_usd(fallback_price.output)))}</p>
        {if list.fallback_models.is_empty() {
            view! { <EmptyState text=tr("pricing.no_fallback") /> }.into_any()
        } else {
            view! {
                <ul class="attention" data-testid="fallback-models">
                    {list
                        .fallback_models
                        .into_iter()
                        .map(|f| {
                            let (name, price) = (f.model.clone(), f.price.clone());
                            let (adopt, adopt_price) = (f.model.clone(), f.price.clone());
                            view! {
                                <li data-testid="fallback-model">
                                    <span class="mono">{f.model.clone()}</span>
                                    " "
                                    {rule_pill(&f)}
                                    " "
                                    <span class="muted">{rule_text(&f)}</span>
                                    " "
                                    <span class="num">{format!("{} / {}", fmt_usd(f.price.input), fmt_usd(f.price.output))}</span>
                                    " "
                                    <span class="muted">{fmt_datetime(locale, f.last_seen, offset)}</span>
                                    " "
                                    {(!f.priced_now).then(|| view! {
                                        <button type="button" class="btn btn-small" data-testid="use-price"
                                            disabled=move || change.pending().get()
                                            on:click=move |_| { change.dispatch(Change::Set(adopt.clone(), adopt_price.clone())); }>
                                            {tr("pricing.use_price")}
                                        </button>
                                    })}
                                    " "
                                    <button type="button" class="btn btn-small" on:click=move |_| fill(&name, &price)>
                                        {tr("pricing.set_price")}
                                    </button>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            }
                .into_any()
        }}
        <h3>{tr("pricing.set_heading")}</h3>
        <form on:submit=submit data-testid="price-form">
            <label for="pf-model">{tr("pricing.model")}</label>
            <input id="pf-model" type="text" required maxlength="200" list="pf-models" bind:value=model />
            <datalist id="pf-models">
                {list.models.iter().map(|m| view! { <option value=m.model.clone()></option> }).collect_view()}
            </datalist>
            <div class="form-row">
                {labels
                    .iter()
                    .zip(fields)
                    .map(|((id, key), f)| {
                        view! {
                            <div>
                                <label for=*id>{tr(key)}</label>
                                <input id=*id type="number" min="0" step="any" required bind:value=f />
                            </div>
                        }
                    })
                    .collect_view()}
            </div>
            <button type="submit" class="btn btn-primary" disabled=move || change.pending().get()>
                {move || busy_label(change.pending().get(), "pricing.save")}
            </button>
        </form>
        <p class="hint" data-testid="price-table">{table_info(&list.table, locale, offset)}</p>
        <details class="catalog">
            <summary>{tr("pricing.catalog").replace("{n}", &catalog.len().to_string())}</summary>
            <label for="pf-filter">{tr("pricing.filter")}</label>
            <input id="pf-filter" type="search" bind:value=filter />
            <DataTable columns=catalog_columns>
                {move || {
                    let needle = filter.with(|f| f.trim().to_lowercase());
                    let matching: Vec<&PricedModelView> = catalog
                        .iter()
                        .filter(|m| m.model.to_lowercase().contains(&needle))
                        .collect();
                    let total = matching.len();
                    let rows = matching
                        .into_iter()
                        .take(CATALOG_ROWS)
                        .map(|m| {
                            view! {
                                <tr>
                                    <td class="mono">
                                        {m.model.clone()}
                                        {m.overridden.then(|| view! { " " <span class="pill">{tr("pricing.overridden")}</span> })}
                                    </td>
                                    {price_cells(&m.price)}
                                </tr>
                            }
                        })
                        .collect_view();
                    let more = (total > CATALOG_ROWS).then(|| {
                        let text = tr("pricing.catalog_shown")
                            .replace("{shown}", &CATALOG_ROWS.to_string())
                            .replace("{n}", &total.to_string());
                        view! { <tr><td colspan="6" class="muted">{text}</td></tr> }
                    });
                    view! { {rows} {more} }
                }}
            </DataTable>
        </details>
    }
}

fn rule_pill(f: &FallbackModel) -> impl IntoView {
    let (class, key) = match (f.priced_now, f.rule) {
        (true, _) => ("pill pill-ok", "pricing.priced_now"),
        (false, PriceRuleView::Family) => ("pill pill-warn", "pricing.at_family"),
        (false, _) => ("pill pill-warn", "pricing.at_fallback"),
    };
    view! { <span class=class>{tr(key)}</span> }
}

/// Which rule prices the model now, and as what.
fn rule_text(f: &FallbackModel) -> String {
    let model = f.priced_as.clone().unwrap_or_default();
    match f.rule {
        PriceRuleView::Family => tr("pricing.rule_family")
            .replace("{family}", f.family.as_deref().unwrap_or_default())
            .replace("{model}", &model),
        PriceRuleView::Fallback => tr("pricing.rule_fallback").to_string(),
        PriceRuleView::Exact | PriceRuleView::Alias => {
            tr("pricing.rule_priced").replace("{model}", &model)
        }
    }
}

fn table_info(t: &PriceTableInfo, locale: crate::i18n::Locale, offset: i32) -> String {
    let origin = match t.origin.as_str() {
        "url" => tr("pricing.origin_url"),
        "file" => tr("pricing.origin_file"),
        _ => tr("pricing.origin_builtin"),
    };
    let mut text = tr("pricing.table_info")
        .replace("{origin}", origin)
        .replace("{n}", &t.models.to_string())
        .replace("{time}", &fmt_datetime(locale, t.loaded_at, offset));
    if let (n @ 1.., Some(at)) = (t.refresh_failures, t.last_refresh_failure) {
        text.push(' ');
        text.push_str(
            &tr("pricing.refresh_failures")
                .replace("{n}", &n.to_string())
                .replace("{time}", &fmt_datetime(locale, at, offset)),
        );
    }
    text
}
