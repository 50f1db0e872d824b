//! API keys: a filtered, paginated list (the filters live in the URL, so the page reads the
//! same without JavaScript), and dialogs to create one key or a batch for orders, show new keys
//! once, edit, see a key's usage, renew a key (with its ledger) or a selection of keys.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use crate::api::{
    current_admin, delete_key, list_accounts, list_groups, list_keys, list_presets, list_users,
    operator_settings, update_key,
};
use crate::components::feedback::use_toasts;
use crate::components::keys::batch::BatchForm;
use crate::components::keys::batch_renew::{BatchRenewForm, SelectionBar};
use crate::components::keys::create::CreateKeyForm;
use crate::components::keys::created::CreatedKeys;
use crate::components::keys::edit::EditKeyForm;
use crate::components::keys::presets::PresetsPanel;
use crate::components::keys::renew::RenewPanel;
use crate::components::keys::table::{KeyTable, RowAction, Selection};
use crate::components::keys::usage::KeyUsagePanel;
use crate::components::keys::Directory;
use crate::components::modal::Modal;
use crate::components::ui::ErrorBanner;
use crate::i18n::fmt_int;
use crate::tr;
use crate::types::{ApiKey, CreatedKey, KeyQuery, KeyStatus, Role, UpdateKey};

const PAGE_SIZE: u32 = 50;

/// The dialog open over the list.
#[derive(Clone, Debug, PartialEq)]
enum Panel {
    Closed,
    Create,
    Batch,
    Created(Vec<CreatedKey>),
    Edit(ApiKey),
    Usage(ApiKey),
    Renew(ApiKey),
    BatchRenew(Vec<ApiKey>),
    Presets,
}

fn parse_status(s: &str) -> Option<KeyStatus> {
    [
        KeyStatus::Active,
        KeyStatus::Expired,
        KeyStatus::Exhausted,
        KeyStatus::Disabled,
    ]
    .into_iter()
    .find(|k| k.as_str() == s)
}

#[component]
pub fn KeysPage() -> impl IntoView {
    let toasts = use_toasts();
    let query = use_query_map();
    let refresh = RwSignal::new(0u32);
    let panel = RwSignal::new(Panel::Closed);
    let param = move |name: &str| query.with(|q| q.get(name).filter(|v| !v.is_empty()));
    let key_query = Memo::new(move |_| KeyQuery {
        page: param("page")
            .and_then(|p| p.parse().ok())
            .filter(|p| *p > 0),
        page_size: Some(PAGE_SIZE),
        status: param("status").as_deref().and_then(parse_status),
        search: param("search"),
        preset_id: param("preset"),
        tag: param("tag"),
        created_by: param("created_by"),
        binding: None,
    });
    let me = Resource::new(|| (), |_| current_admin());
    let is_seller = move || {
        me.get()
            .and_then(|r| r.ok())
            .is_some_and(|m| m.role == Role::Seller)
    };
    let is_viewer = move || {
        me.get()
            .and_then(|r| r.ok())
            .is_some_and(|m| m.role == Role::Viewer)
    };
    let selected: Selection = RwSignal::new(Default::default());
    // Admins filter by seller: the staff list (other roles are refused it, and see no filter).
    // Asked only of the roles that may read them: a refused call would mark the page 403.
    let staff = Resource::new(
        || (),
        |_| async {
            match current_admin().await {
                Ok(m) if m.role == Role::Admin => list_users().await.unwrap_or_default(),
                _ => Vec::new(),
            }
        },
    );
    let keys = Resource::new(
        move || (key_query.get(), refresh.get()),
        |(q, _)| list_keys(q),
    );
    let directory = Resource::new(
        || (),
        |_| async {
            // Sellers may not read accounts and groups: their keys take the preset's bindings.
            let seller = current_admin().await?.role == Role::Seller;
            Ok::<_, crate::error::AdminError>(Directory {
                presets: list_presets().await?,
                accounts: if seller {
                    Vec::new()
                } else {
                    list_accounts().await?
                },
                groups: if seller {
                    Vec::new()
                } else {
                    list_groups().await?
                },
            })
        },
    );
    let settings = Resource::new(|| (), |_| operator_settings());
    let currency = move || {
        settings
            .get()
            .and_then(|r| r.ok())
            .map(|s| s.currency)
            .unwrap_or_else(|| "USD".into())
    };

    let (t_saved, t_deleted) = (tr("keys.saved"), tr("keys.deleted"));
    let row_action = Action::new(move |action: &RowAction| {
        let action = action.clone();
        async move {
            match action {
                RowAction::SetActive(key, on) => {
                    let update = UpdateKey {
                        is_active: Some(on),
                        ..Default::default()
                    };
                    let r = update_key(key.id, update).await;
                    toasts.outcome(&r, t_saved);
                }
                RowAction::Delete(key) => {
                    let r = delete_key(key.id).await;
                    toasts.outcome(&r, t_deleted);
                }
                _ => {}
            }
            refresh.update(|n| *n += 1);
        }
    });
    let on_action = Callback::new(move |a: RowAction| match a {
        RowAction::Edit(k) => panel.set(Panel::Edit(k)),
        RowAction::Usage(k) => panel.set(Panel::Usage(k)),
        RowAction::Renew(k) => panel.set(Panel::Renew(k)),
        other => {
            row_action.dispatch(other);
        }
    });
    let on_created = Callback::new(move |created: Vec<CreatedKey>| {
        refresh.update(|n| *n += 1);
        panel.set(Panel::Created(created));
    });
    let close = Callback::new(move |_| panel.set(Panel::Closed));

    let current_page = move || key_query.with(|q| q.page.unwrap_or(1));
    let page_link = move |page: u32| {
        query.with(|q| {
            let mut parts: Vec<String> = ["search", "status", "preset", "tag", "created_by"]
                .iter()
                .filter_map(|k| {
                    q.get(k)
                        .filter(|v| !v.is_empty())
                        .map(|v| format!("{k}={}", url_encode(&v)))
                })
                .collect();
            parts.push(format!("page={page}"));
            format!("/keys?{}", parts.join("&"))
        })
    };
    let t_page = tr("keys.page_of");

    view! {
        <Title text=tr("keys.title") />
        <div class="page-head">
            <h1>{tr("keys.title")}</h1>
            <div class="toolbar">
                // Read when the Suspense resolves, not through `<Show>`'s memo (see
                // `components::role`). Viewers create nothing.
                <Suspense fallback=|| ()>
                    {move || {
                        let role = me.get().and_then(|r| r.ok()).map(|m| m.role);
                        let admin = (role == Some(Role::Admin)).then(|| view! {
                            <button type="button" class="btn" data-testid="presets" on:click=move |_| panel.set(Panel::Presets)>
                                {tr("presets.title")}
                            </button>
                            <button type="button" class="btn" data-testid="new-key" on:click=move |_| panel.set(Panel::Create)>
                                {tr("keys.new")}
                            </button>
                        });
                        let batch = role.is_some_and(|r| r != Role::Viewer).then(|| view! {
                            <button type="button" class="btn btn-primary-inline" data-testid="new-batch" on:click=move |_| panel.set(Panel::Batch)>
                                {tr("keys.new_batch")}
                            </button>
                        });
                        view! { {admin} {batch} }
                    }}
                </Suspense>
            </div>
        </div>
        <Transition fallback=move || view! { <p>{tr("common.loading")}</p> }>
            {move || {
                let dir = directory.get().and_then(|r| r.ok()).unwrap_or_default();
                keys.get()
                    .map(|r| match r {
                        Ok(page) => {
                            let pages = page.total.div_ceil(u64::from(page.page_size.max(1))).max(1) as u32;
                            let here = current_page();
                            let chosen_preset = param("preset").unwrap_or_default();
                            let preset_options = dir
                                .presets
                                .iter()
                                .map(|p| {
                                    let selected = p.id == chosen_preset;
                                    view! { <option value=p.id.clone() selected=selected>{p.name.clone()}</option> }
                                })
                                .collect_view();
                            let chosen_status = param("status").unwrap_or_default();
                            let staff_list = staff.get().unwrap_or_default();
                            let status_option = |value: &'static str, key: &'static str| {
                                view! { <option value=value selected=chosen_status == value>{tr(key)}</option> }
                            };
                            let status_options = (
                                status_option("", "keys.any_status"),
                                status_option("active", "keystatus.active"),
                                status_option("expired", "keystatus.expired"),
                                status_option("exhausted", "keystatus.exhausted"),
                                status_option("disabled", "keystatus.disabled"),
                            );
                            view! {
                <Form method="GET" action="/keys" attr:class="filters" attr:role="search">
                    <div>
                        <label for="kf-search">{tr("keys.search")}</label>
                        <input
                            id="kf-search"
                            type="search"
                            name="search"
                            placeholder=tr("keys.search_hint")
                            value=param("search").unwrap_or_default()
                        />
                    </div>
                    <div>
                        <label for="kf-status">{tr("keys.status")}</label>
                        <select id="kf-status" name="status">{status_options}</select>
                    </div>
                    <div>
                        <label for="kf-preset">{tr("keys.preset")}</label>
                        <select id="kf-preset" name="preset">
                            <option value="">{tr("keys.any_preset")}</option>
                            {preset_options}
                        </select>
                    </div>
                    {(!staff_list.is_empty()).then(|| {
                        let chosen = param("created_by").unwrap_or_default();
                        let options = staff_list
                            .iter()
                            .map(|u| {
                                let selected = u.id == chosen;
                                view! { <option value=u.id.clone() selected=selected>{u.username.clone()}</option> }
                            })
                            .collect_view();
                        view! {
                            <div>
                                <label for="kf-seller">{tr("keys.created_by")}</label>
                                <select id="kf-seller" name="created_by" data-testid="filter-created-by">
                                    <option value="">{tr("keys.anyone")}</option>
                                    {options}
                                </select>
                            </div>
                        }
                    })}
                    <div class="filters-submit">
                        <button type="submit" class="btn">{tr("keys.filter")}</button>
                    </div>
                </Form>
                                <p class="muted" data-testid="keys-total">
                                    {t_page
                                        .replace("{total}", &fmt_int(page.total as i64))
                                        .replace("{page}", &here.to_string())
                                        .replace("{pages}", &pages.to_string())}
                                </p>
                                <SelectionBar selected=selected on_renew=move |keys| panel.set(Panel::BatchRenew(keys)) />
                                <KeyTable
                                    keys=page.items
                                    directory=dir
                                    on_action=on_action
                                    busy=row_action.pending()
                                    seller=is_seller()
                                    viewer=is_viewer()
                                    selected=selected
                                />
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
        {move || {
            let dir = move || directory.get().and_then(|r| r.ok()).unwrap_or_default();
            match panel.get() {
                Panel::Closed => ().into_any(),
                Panel::Create => view! {
                    <Modal title=tr("keys.new") on_close=close test_id="create-key-dialog">
                        <CreateKeyForm presets=dir().presets currency=currency() on_created=on_created />
                    </Modal>
                }
                .into_any(),
                Panel::Batch => view! {
                    <Modal title=tr("keys.new_batch") on_close=close test_id="batch-dialog">
                        <BatchForm presets=dir().presets currency=currency() on_created=on_created seller=is_seller() />
                    </Modal>
                }
                .into_any(),
                Panel::Created(created) => view! {
                    <Modal title=tr("keys.created_title") on_close=close test_id="created-dialog" wide=true>
                        <CreatedKeys keys=created />
                    </Modal>
                }
                .into_any(),
                Panel::Edit(key) => view! {
                    <Modal title=tr("keys.edit_title") on_close=close test_id="edit-key-dialog" wide=true>
                        <EditKeyForm
                            key=key
                            directory=dir()
                            on_saved=move |_| {
                                refresh.update(|n| *n += 1);
                                panel.set(Panel::Closed);
                            }
                        />
                    </Modal>
                }
                .into_any(),
                Panel::Presets => view! {
                    <Modal title=tr("presets.title") on_close=close test_id="presets-dialog" wide=true>
                        <PresetsPanel on_changed=move |_| directory.refetch() />
                    </Modal>
                }
                .into_any(),
                Panel::Renew(key) => view! {
                    <Modal title=tr("renew.title").replace("{name}", &key.name) on_close=close test_id="renew-dialog" wide=true>
                        <RenewPanel key=key directory=dir() writer=!is_viewer() on_renewed=move |_| refresh.update(|n| *n += 1) />
                    </Modal>
                }
                .into_any(),
                Panel::BatchRenew(keys) => view! {
                    <Modal title=tr("renew.batch_title").replace("{n}", &keys.len().to_string()) on_close=close test_id="batch-renew-dialog" wide=true>
                        <BatchRenewForm
                            keys=keys
                            presets=dir().presets
                            currency=currency()
                            on_renewed=move |_| {
                                selected.set(Default::default());
                                refresh.update(|n| *n += 1);
                            }
                        />
                    </Modal>
                }
                .into_any(),
                Panel::Usage(key) => view! {
                    <Modal title=format!("{} · {}", tr("keys.usage"), key.name) on_close=close test_id="key-usage-dialog" wide=true>
                        <KeyUsagePanel key_id=key.id />
                    </Modal>
                }
                .into_any(),
            }
        }}
    }
}

/// Percent-encodes a query value for the pager's links.
fn url_encode(value: &str) -> String {
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
