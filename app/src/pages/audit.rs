//! The audit trail (admins only): who changed what, from where, filtered by user, action,
//! target and days (the filters live in the URL), paged, with a CSV export of the filtered
//! events.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use crate::api::{list_audit_events, list_users};
use crate::components::feedback::EmptyState;
use crate::components::table::{Column, DataTable};
use crate::components::ui::ErrorBanner;
use crate::i18n::{fmt_int, fmt_time};
use crate::tr;
use crate::types::AuditQuery;

const PAGE_SIZE: u32 = 50;
const TARGET_TYPES: [&str; 8] = [
    "user", "key", "preset", "account", "group", "pricing", "settings", "webhook",
];

/// `YYYY-MM-DD` as epoch milliseconds at the start of that UTC day.
fn day_ms(day: &str) -> Option<i64> {
    chrono::NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp_millis())
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &str| query.with(|q| q.get(name).filter(|v| !v.trim().is_empty()));
    let audit_query = Memo::new(move |_| AuditQuery {
        page: param("page")
            .and_then(|p| p.parse().ok())
            .filter(|p| *p > 0),
        page_size: Some(PAGE_SIZE),
        actor_id: param("user"),
        action: param("action"),
        target_type: param("target"),
        target_id: None,
        since: param("since").as_deref().and_then(day_ms),
        until: param("until")
            .as_deref()
            .and_then(day_ms)
            .map(|ms| ms + 86_400_000),
    });
    let events = Resource::new(move || audit_query.get(), list_audit_events);
    let users = Resource::new(|| (), |_| list_users());
    // The same filters for the pager and the CSV export.
    let filters = move || {
        query.with(|q| {
            ["user", "action", "target", "since", "until"]
                .iter()
                .filter_map(|k| {
                    q.get(k)
                        .filter(|v| !v.is_empty())
                        .map(|v| format!("{k}={}", encode(&v)))
                })
                .collect::<Vec<_>>()
        })
    };
    let csv_href = move || {
        let q = audit_query.get();
        let mut parts = vec![
            "format=csv".to_string(),
            format!("pageSize={}", crate::types::AUDIT_MAX_PAGE_SIZE),
        ];
        if let Some(v) = q.actor_id {
            parts.push(format!("actorId={}", encode(&v)));
        }
        if let Some(v) = q.action {
            parts.push(format!("action={}", encode(&v)));
        }
        if let Some(v) = q.target_type {
            parts.push(format!("targetType={}", encode(&v)));
        }
        if let Some(v) = q.since {
            parts.push(format!("since={v}"));
        }
        if let Some(v) = q.until {
            parts.push(format!("until={v}"));
        }
        format!("/admin/audit-events?{}", parts.join("&"))
    };
    let page_link = move |page: u32| {
        let mut parts = filters();
        parts.push(format!("page={page}"));
        format!("/audit?{}", parts.join("&"))
    };
    let cols = vec![
        Column::text(tr("audit.when")),
        Column::text(tr("audit.who")),
        Column::text(tr("audit.action")),
        Column::text(tr("audit.target")),
        Column::text(tr("audit.changes")),
        Column::text(tr("audit.from")),
    ];
    let t_page = tr("audit.page_of");
    view! {
            <Title text=tr("audit.title") />
            <div class="page-head">
                <h1>{tr("audit.title")}</h1>
                <div class="toolbar">
                    <a class="btn" rel="external" data-testid="audit-export" href=csv_href>{tr("audit.export")}</a>
                </div>
            </div>
            <p class="hint">{tr("audit.hint")}</p>
            <Form method="GET" action="/audit" attr:class="filters" attr:role="search">
                <div>
                    <label for="af-user">{tr("audit.user")}</label>
                    <select id="af-user" name="user">
                        <option value="">{tr("audit.any_user")}</option>
                        <Suspense fallback=|| ()>{move || {
                            let chosen = param("user").unwrap_or_default();
                            users.get().and_then(|r| r.ok()).unwrap_or_default().into_iter().map(|u| {
                                let selected = u.id == chosen;
                                view! { <option value=u.id selected=selected>{u.username}</option> }
                            }).collect_view()
                        }}
    </Suspense>
    </select>
                </div>
                <div>
                    <label for="af-action">{tr("audit.action")}</label>
                    <input id="af-action" type="text" name="action" placeholder="key.create" value=move || param("action").unwrap_or_default() />
                </div>
                <div>
                    <label for="af-target">{tr("audit.target_type")}</label>
                    <select id="af-target" name="target">
                        <option value="">{tr("audit.any_user")}</option>
                        {move || {
                            let chosen = param("target").unwrap_or_default();
                            TARGET_TYPES.into_iter().map(|t| view! { <option value=t selected=chosen == t>{t}</option> }).collect_view()
                        }}
                    </select>
                </div>
                <div>
                    <label for="af-since">{tr("audit.since")}</label>
                    <input id="af-since" type="date" name="since" value=move || param("since").unwrap_or_default() />
                </div>
                <div>
                    <label for="af-until">{tr("audit.until")}</label>
                    <input id="af-until" type="date" name="until" value=move || param("until").unwrap_or_default() />
                </div>
                <div class="filters-submit">
                    <button type="submit" class="btn">{tr("audit.filter")}</button>
                </div>
            </Form>
            <Transition fallback=move || view! { <p>{tr("common.loading")}</p> }>
                {move || {
                    let cols = cols.clone();
                    events.get().map(|r| match r {
                        Ok(page) if page.items.is_empty() => view! { <EmptyState text=tr("audit.empty") /> }.into_any(),
                        Ok(page) => {
                            let pages = page.total.div_ceil(u64::from(page.page_size.max(1))).max(1) as u32;
                            let here = page.page;
                            let rows = page.items.into_iter().map(|e| {
                                let summary = match &e.summary {
                                    serde_json::Value::Object(m) if m.is_empty() => String::new(),
                                    other => other.to_string(),
                                };
                                let target = if e.target_name.is_empty() {
                                    e.target_type.clone()
                                } else {
                                    format!("{} · {}", e.target_type, e.target_name)
                                };
                                view! {
                                    <tr data-testid="audit-row" data-action=e.action.clone()>
                                        <td>{fmt_time(e.at.timestamp_millis())}</td>
                                        <td data-label=cols[1].label data-testid="audit-who">{e.actor_name.clone()}</td>
                                        <td data-label=cols[2].label class="mono">{e.action.clone()}</td>
                                        <td data-label=cols[3].label>{target}</td>
                                        <td data-label=cols[4].label class="audit-summary mono">{summary}</td>
                                        <td data-label=cols[5].label class="mono">{e.client_addr.clone()}</td>
                                    </tr>
                                }
                            }).collect_view();
                            view! {
                                <p class="muted" data-testid="audit-total">
                                    {t_page
                                        .replace("{total}", &fmt_int(page.total as i64))
                                        .replace("{page}", &here.to_string())
                                        .replace("{pages}", &pages.to_string())}
                                </p>
                                <DataTable columns=cols test_id="audit-table">{rows}</DataTable>
                                <nav class="pager" aria-label=tr("keys.pages")>
                                    {(here > 1).then(|| view! { <a class="btn btn-small" href=page_link(here - 1)>{tr("keys.prev")}</a> })}
                                    {(here < pages).then(|| view! { <a class="btn btn-small" href=page_link(here + 1)>{tr("keys.next")}</a> })}
                                </nav>
                            }
                            .into_any()
                        }
                        Err(e) => view! { <ErrorBanner error=Some(e) /> }.into_any(),
                    })
                }}
            </Transition>
        }
}
