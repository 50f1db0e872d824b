//! The overview's tables: pool utilization, presets' real spend, accounts needing attention.

use leptos::prelude::*;

use crate::components::feedback::EmptyState;
use crate::components::table::{Column, DataTable};
use crate::components::ui::{platform_name, AccountStatusPill, Meter};
use crate::i18n::{fmt_datetime, fmt_int, fmt_pct, fmt_usd};
use crate::types::{AttentionAccount, PoolUtilization, PresetSpend};
use crate::{tr, use_locale, use_utc_offset};

#[component]
pub fn PoolTable(platforms: Vec<PoolUtilization>, groups: Vec<PoolUtilization>) -> impl IntoView {
    let t_group = tr("overview.group_of");
    let rows: Vec<PoolUtilization> = platforms.into_iter().chain(groups).collect();
    let empty = rows.is_empty();
    let cols = [
        Column::text(tr("overview.pool")),
        Column::figure(tr("overview.pool_accounts")),
        Column::text(tr("overview.utilization")),
    ];
    let rows = rows
        .into_iter()
        .map(|p| {
            let name = if p.is_group {
                t_group
                    .replace("{name}", &p.name)
                    .replace("{platform}", platform_name(p.platform))
            } else {
                platform_name(p.platform).to_string()
            };
            let label = format!(
                "{} / {} · {}",
                fmt_int(i64::from(p.in_flight)),
                fmt_int(i64::from(p.capacity)),
                fmt_pct(p.utilization),
            );
            view! {
                <tr data-pool=p.id.clone()>
                    <td>{name}</td>
                    <td class="num" data-label=cols[1].label>{fmt_int(i64::from(p.accounts))}</td>
                    <td data-label=cols[2].label>
                        <Meter share=p.utilization label=label />
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="pools-heading" data-testid="pools">
            <h2 id="pools-heading">{tr("overview.pools")}</h2>
            {if empty {
                view! { <EmptyState text=tr("overview.no_accounts") /> }.into_any()
            } else {
                view! { <DataTable columns=cols.to_vec()>{rows}</DataTable> }.into_any()
            }}
        </section>
    }
}

#[component]
pub fn PresetTable(presets: Vec<PresetSpend>) -> impl IntoView {
    let empty = presets.is_empty();
    let t_unlimited = tr("common.unlimited");
    let cols = [
        Column::text(tr("overview.preset")),
        Column::figure(tr("overview.preset_keys")),
        Column::figure(tr("overview.avg_spent")),
        Column::text(tr("overview.of_quota")),
    ];
    let rows = presets
        .into_iter()
        .map(|p| {
            let quota = match p.share_used {
                Some(share) => {
                    let label = format!("{} / {}", fmt_pct(share), fmt_usd(p.average_quota));
                    view! { <Meter share=share label=label /> }.into_any()
                }
                None => t_unlimited.into_any(),
            };
            view! {
                <tr>
                    <td>{p.name}</td>
                    <td class="num" data-label=cols[1].label>{fmt_int(p.keys as i64)}</td>
                    <td class="num" data-label=cols[2].label>{fmt_usd(p.average_spent)}</td>
                    <td data-label=cols[3].label>{quota}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="presets-heading" data-testid="preset-spend">
            <h2 id="presets-heading">{tr("overview.presets")}</h2>
            <p class="hint">{tr("overview.presets_hint")}</p>
            {if empty {
                view! { <EmptyState text=tr("overview.no_preset_keys") /> }.into_any()
            } else {
                view! { <DataTable columns=cols.to_vec()>{rows}</DataTable> }.into_any()
            }}
        </section>
    }
}

#[component]
pub fn AttentionList(accounts: Vec<AttentionAccount>) -> impl IntoView {
    let locale = use_locale();
    let offset = use_utc_offset();
    let t_until = tr("overview.cooldown_until");
    let t_paused = tr("overview.not_schedulable");
    let empty = accounts.is_empty();
    view! {
        <section class="card" aria-labelledby="attention-heading" data-testid="attention">
            <h2 id="attention-heading">{tr("overview.attention")}</h2>
            <Show when=move || !empty fallback=|| view! { <EmptyState text=tr("overview.all_serving") /> }>
                <ul class="attention">
                    {accounts
                        .clone()
                        .into_iter()
                        .map(|a| {
                            let until = a
                                .cooldown_until
                                .map(|c| t_until.replace("{time}", &fmt_datetime(locale, c, offset)));
                            view! {
                                <li>
                                    <div class="attention-head">
                                        <a href="/accounts">{a.name}</a>
                                        " "
                                        <span class="muted">{platform_name(a.platform)}</span>
                                        " "
                                        <AccountStatusPill status=a.status />
                                        {(!a.schedulable).then(|| view! { <span class="pill">{t_paused}</span> })}
                                    </div>
                                    {(!a.message.is_empty()).then(|| view! { <div class="muted">{a.message}</div> })}
                                    {until.map(|u| view! { <div class="muted">{u}</div> })}
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </Show>
        </section>
    }
}
