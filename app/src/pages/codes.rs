//! Redemption codes: create a batch from a preset (shown once, exported as CSV or TXT for a
//! shop's automatic delivery), list them by status, revoke unused ones. Viewers only list.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{create_codes, list_codes, list_presets, revoke_code};
use crate::components::browser::{csv, download};
use crate::components::feedback::{use_toasts, EmptyState};
use crate::components::keys::word_list;
use crate::components::role::use_can_change;
use crate::components::table::{Column, DataTable};
use crate::i18n::{fmt_date, fmt_usd};
use crate::types::{CodeQuery, CodeStatus, CreateCodes, CreatedCode, RedemptionCode};
use crate::{tr, use_locale, use_utc_offset};

fn status_key(s: CodeStatus) -> &'static str {
    match s {
        CodeStatus::Unused => "codestatus.unused",
        CodeStatus::Redeemed => "codestatus.redeemed",
        CodeStatus::Expired => "codestatus.expired",
        CodeStatus::Revoked => "codestatus.revoked",
    }
}

/// `code,id,orderNumber,quotaUsd,days,salePrice,currency,redeemBy`, one line per code.
pub fn codes_csv(codes: &[CreatedCode]) -> String {
    let mut rows = vec![[
        "code",
        "id",
        "orderNumber",
        "quotaUsd",
        "days",
        "salePrice",
        "currency",
        "redeemBy",
    ]
    .map(str::to_owned)
    .to_vec()];
    rows.extend(codes.iter().map(|c| {
        vec![
            c.code.clone(),
            c.record.id.clone(),
            c.record.order_number.clone(),
            c.record.quota.to_string(),
            c.record.days.to_string(),
            c.record.sale_price.to_string(),
            c.record.currency.clone(),
            c.record
                .redeem_by
                .map(|w| w.to_string())
                .unwrap_or_default(),
        ]
    }));
    csv(&rows)
}

/// One code a line.
pub fn codes_txt(codes: &[CreatedCode]) -> String {
    codes.iter().map(|c| format!("{}\n", c.code)).collect()
}

fn optional(text: &str) -> Result<Option<f64>, ()> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse::<f64>().map(Some).map_err(|_| ())
}

#[component]
pub fn CodesPage() -> impl IntoView {
    let toasts = use_toasts();
    let refresh = RwSignal::new(0u32);
    let status = RwSignal::new(String::new());
    let presets = Resource::new(|| (), |_| list_presets());
    let codes = Resource::new(
        move || (status.get(), refresh.get()),
        |(s, _)| {
            list_codes(CodeQuery {
                status: CodeStatus::ALL.into_iter().find(|c| c.as_str() == s),
                page_size: Some(200),
                ..Default::default()
            })
        },
    );
    let preset = RwSignal::new(crate::types::TRIAL_PRESET_ID.to_string());
    let count = RwSignal::new("10".to_string());
    let quota = RwSignal::new(String::new());
    let days = RwSignal::new(String::new());
    let price = RwSignal::new(String::new());
    let orders = RwSignal::new(String::new());
    let created = RwSignal::new(Vec::<CreatedCode>::new());
    let create = Action::new(|input: &CreateCodes| create_codes(input.clone()));
    let t_bad = tr("common.bad_number");
    Effect::new(move |_| {
        if let Some(r) = create.value().get() {
            match r {
                Ok(batch) => {
                    created.set(batch.codes);
                    refresh.update(|n| *n += 1);
                }
                Err(e) => toasts.error(&e),
            }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (Ok(q), Ok(p)) = (optional(&quota.get()), optional(&price.get())) else {
            toasts.error_text(t_bad);
            return;
        };
        let order_numbers = word_list(&orders.get());
        let n = count.get().trim().parse::<u32>().ok();
        let d = days.get().trim().parse::<u32>().ok();
        create.dispatch(CreateCodes {
            preset_id: preset.get(),
            count: if order_numbers.is_empty() { n } else { None },
            quota_usd: q,
            days: d,
            sale_price: p,
            order_numbers: (!order_numbers.is_empty()).then_some(order_numbers),
            ..Default::default()
        });
    };
    let revoke = Action::new(move |id: &String| {
        let id = id.clone();
        async move {
            let r = revoke_code(id).await;
            toasts.outcome(&r, tr("codes.revoked"));
            refresh.update(|n| *n += 1);
        }
    });
    // Viewers read the list; creating and revoking are for admins and sellers.
    let can_change = use_can_change();
    view! {
        <Title text=tr("codes.title") />
        <h1>{tr("codes.title")}</h1>
        // Read when the Suspense resolves, not through `<Show>`'s memo (see `components::role`).
        <Suspense fallback=|| ()>
        {move || can_change.get().then(|| view! {
        <section class="card">
            <h2>{tr("codes.new")}</h2>
            <form on:submit=submit data-testid="codes-form">
                <div class="form-row">
                    <div>
                        <label for="cc-preset">{tr("codes.preset")}</label>
                        <Suspense fallback=|| ()>
                            {move || presets.get().map(|r| {
                                let list = r.unwrap_or_default();
                                view! {
                                    <select id="cc-preset" bind:value=preset>
                                        {list.into_iter().map(|p| view! { <option value=p.id.clone()>{p.name.clone()}</option> }).collect_view()}
                                    </select>
                                }
                            })}
                        </Suspense>
                    </div>
                    <div>
                        <label for="cc-count">{tr("codes.count")}</label>
                        <input id="cc-count" type="number" min="1" max={crate::types::MAX_BATCH.to_string()} bind:value=count />
                    </div>
                    <div>
                        <label for="cc-quota">{tr("codes.quota")}</label>
                        <input id="cc-quota" type="text" inputmode="decimal" bind:value=quota />
                    </div>
                    <div>
                        <label for="cc-days">{tr("codes.days")}</label>
                        <input id="cc-days" type="number" min="0" bind:value=days />
                    </div>
                    <div>
                        <label for="cc-price">{tr("codes.price")}</label>
                        <input id="cc-price" type="text" inputmode="decimal" bind:value=price />
                    </div>
                </div>
                <label for="cc-orders">{tr("codes.orders")}</label>
                <textarea id="cc-orders" rows="3" bind:value=orders></textarea>
                <button type="submit" class="btn btn-primary" data-testid="codes-create" disabled=move || create.pending().get()>
                    {move || if create.pending().get() { tr("common.working") } else { tr("codes.create") }}
                </button>
            </form>
        </section>
        })}
        </Suspense>
        {move || {
            let list = created.get();
            (!list.is_empty()).then(|| {
                let csv_text = codes_csv(&list);
                let txt = codes_txt(&list);
                view! {
                    <section class="card" data-testid="codes-created">
                        <div class="banner banner-warn" role="note">{tr("codes.created")}</div>
                        <div class="toolbar">
                            <button type="button" class="btn" data-testid="codes-export-csv" on:click=move |_| download("tollgate-codes.csv", "text/csv", &csv_text)>
                                {tr("codes.export_csv")}
                            </button>
                            <button type="button" class="btn" data-testid="codes-export-txt" on:click=move |_| download("tollgate-codes.txt", "text/plain", &txt)>
                                {tr("codes.export_txt")}
                            </button>
                        </div>
                        <ul class="code-list">
                            {list.into_iter().map(|c| view! { <li class="mono break-all" data-testid="created-code">{c.code}</li> }).collect_view()}
                        </ul>
                    </section>
                }
            })
        }}
        <section class="card">
            <div class="toolbar">
                <label for="codes-status">{tr("codes.status")}</label>
                <select id="codes-status" bind:value=status data-testid="codes-status">
                    <option value="">{tr("codes.all")}</option>
                    {CodeStatus::ALL.into_iter().map(|s| view! { <option value=s.as_str()>{tr(status_key(s))}</option> }).collect_view()}
                </select>
            </div>
            <Suspense fallback=|| view! { <p>{tr("common.loading")}</p> }>
                {move || codes.get().map(|r| match r {
                    Ok(page) if page.items.is_empty() => view! { <EmptyState text=tr("codes.none") /> }.into_any(),
                    Ok(page) => view! { <CodeTable codes=page.items can_revoke=can_change.get() on_revoke=Callback::new(move |id: String| { revoke.dispatch(id); }) /> }.into_any(),
                    Err(e) => view! { <div class="banner banner-error" role="alert">{crate::i18n::error_text(use_locale(), &e)}</div> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn CodeTable(
    codes: Vec<RedemptionCode>,
    can_revoke: bool,
    on_revoke: Callback<String>,
) -> impl IntoView {
    let locale = use_locale();
    let offset = use_utc_offset();
    let cols = [
        Column::text(tr("codes.code")),
        Column::text(tr("codes.status")),
        Column::text(tr("codes.value")),
        Column::text(tr("codes.order")),
        Column::text(tr("codes.redeemed_by")),
        Column::text(tr("codes.created_at")),
        Column::actions(tr("common.actions")),
    ];
    let rows = codes
        .into_iter()
        .map(|c| {
            let id = c.id.clone();
            let value = tr("codes.days_n")
                .replace("{quota}", &fmt_usd(c.quota))
                .replace("{n}", &c.days.to_string());
            view! {
                <tr data-testid="code-row">
                    <td class="mono">{c.code_hint.clone()}</td>
                    <td data-label=cols[1].label data-testid="code-status">{tr(status_key(c.status))}</td>
                    <td data-label=cols[2].label>{value}</td>
                    <td data-label=cols[3].label>{c.order_number.clone()}</td>
                    <td data-label=cols[4].label class="mono">{c.redeemed_key_id.clone().unwrap_or_default()}</td>
                    <td data-label=cols[5].label>{fmt_date(locale, c.created_at, offset)}</td>
                    <td class="actions">
                        {(can_revoke && c.status == CodeStatus::Unused).then(|| view! {
                            <button type="button" class="btn btn-small" data-testid="code-revoke" on:click=move |_| on_revoke.run(id.clone())>
                                {tr("codes.revoke")}
                            </button>
                        })}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! { <DataTable columns=cols.to_vec() test_id="codes">{rows}</DataTable> }
}
