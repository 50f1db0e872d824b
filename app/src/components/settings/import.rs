//! Settings → Import: bring a claude-relay-service (CRS) Redis over. A preview (dry run) comes
//! first and shows the report of what would happen; "Import" runs exactly the previewed
//! request and shows the report of what was written. Changing a field asks for a new preview.

use leptos::prelude::*;

use crate::api::import_crs;
use crate::components::feedback::use_toasts;
use crate::components::table::{Column, DataTable};
use crate::components::ui::ErrorBanner;
use crate::error::AdminError;
use crate::i18n::Locale;
use crate::types::{
    CrsImportRequest, ImportCounts, ImportItem, ImportKind, ImportNote, ImportOutcome, ImportReport,
};
use crate::{tr, use_locale};

/// The translated headline of a note's code, for the codes the importer uses.
fn note_key(code: &str) -> Option<&'static str> {
    Some(match code {
        "oauth_account" => "import.note.oauth_account",
        "unsupported_kind" => "import.note.unsupported_kind",
        "deleted_in_tollgate" => "import.note.deleted_in_tollgate",
        "model_blacklist" => "import.note.model_blacklist",
        "client_restriction" => "import.note.client_restriction",
        "weekly_opus_limit" => "import.note.weekly_opus_limit",
        "binding_to_pool" => "import.note.binding_to_pool",
        "binding_to_shared" => "import.note.binding_to_shared",
        "account_daily_quota" => "import.note.account_daily_quota",
        "user_agent" => "import.note.user_agent",
        "queue" => "import.note.queue",
        "no_credential" | "credential_damaged" => "import.note.no_credential",
        "member_dropped" => "import.note.member_dropped",
        _ => return None,
    })
}

/// A note as shown: in Chinese the translated headline first, then the details (English).
fn note_text(locale: Locale, n: &ImportNote) -> String {
    match (locale, note_key(&n.code)) {
        (Locale::ZhCn, Some(key)) => format!("{}：{}", crate::i18n::t(locale, key), n.message),
        _ => n.message.clone(),
    }
}

fn outcome_view(o: ImportOutcome) -> impl IntoView {
    let (class, key) = match o {
        ImportOutcome::Imported => ("pill pill-ok", "import.imported"),
        ImportOutcome::Updated => ("pill pill-ok", "import.updated"),
        ImportOutcome::Unchanged => ("pill", "import.unchanged"),
        ImportOutcome::Skipped => ("pill pill-warn", "import.skipped"),
    };
    view! { <span class=class>{tr(key)}</span> }
}

fn kind_key(k: ImportKind) -> &'static str {
    match k {
        ImportKind::Accounts => "import.accounts",
        ImportKind::Groups => "import.groups",
        ImportKind::Keys => "import.keys",
    }
}

fn item_key(k: ImportKind) -> &'static str {
    match k {
        ImportKind::Accounts => "import.item.account",
        ImportKind::Groups => "import.item.group",
        ImportKind::Keys => "import.item.key",
    }
}

#[component]
pub fn ImportSection() -> impl IntoView {
    let toasts = use_toasts();
    let redis_url = RwSignal::new(String::new());
    let crs_key = RwSignal::new(String::new());
    let sample_key = RwSignal::new(String::new());
    let kinds = ImportKind::ALL.map(|k| (k, RwSignal::new(true)));
    let request = move || CrsImportRequest {
        redis_url: redis_url.get().trim().to_owned(),
        crs_encryption_key: Some(crs_key.get()).filter(|k| !k.is_empty()),
        crs_sample_key: Some(sample_key.get().trim().to_owned()).filter(|k| !k.is_empty()),
        dry_run: true,
        only: kinds
            .iter()
            .filter(|(_, on)| on.get())
            .map(|(k, _)| *k)
            .collect(),
    };
    // The request last previewed; "Import" is offered only for exactly that request.
    let previewed: RwSignal<Option<CrsImportRequest>> = RwSignal::new(None);
    let report: RwSignal<Option<ImportReport>> = RwSignal::new(None);
    let error: RwSignal<Option<AdminError>> = RwSignal::new(None);
    let t_done = tr("import.done");
    let run = Action::new(move |req: &CrsImportRequest| {
        let req = req.clone();
        async move {
            let dry = req.dry_run;
            match import_crs(req.clone()).await {
                Ok(r) => {
                    error.set(None);
                    report.set(Some(r));
                    previewed.set(dry.then_some(req));
                    if !dry {
                        toasts.ok(t_done);
                    }
                }
                Err(e) => {
                    error.set(Some(e));
                    report.set(None);
                    previewed.set(None);
                }
            }
        }
    });
    let can_import =
        move || previewed.with(|p| p.as_ref() == Some(&request())) && !run.pending().get();
    let preview = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        run.dispatch(request());
    };
    let import = move |_| {
        if let Some(mut req) = previewed.get() {
            req.dry_run = false;
            run.dispatch(req);
        }
    };
    view! {
        <section class="card" aria-labelledby="import-heading" data-testid="import-section">
            <h2 id="import-heading">{tr("import.heading")}</h2>
            <p class="hint">{tr("import.hint")}</p>
            <form on:submit=preview data-testid="import-form">
                <label for="imp-redis">{tr("import.redis_url")}</label>
                <input id="imp-redis" type="text" required placeholder="redis://127.0.0.1:6379/0"
                    autocomplete="off" bind:value=redis_url />
                <label for="imp-key">{tr("import.crs_key")}</label>
                <input id="imp-key" type="password" autocomplete="off" bind:value=crs_key />
                <label for="imp-sample">{tr("import.sample_key")}</label>
                <input id="imp-sample" type="password" autocomplete="off" placeholder="cr_…" bind:value=sample_key />
                <fieldset class="checks">
                    <legend>{tr("import.what")}</legend>
                    {kinds.into_iter().map(|(k, on)| view! {
                        <label class="check">
                            <input type="checkbox" bind:checked=on />
                            {tr(kind_key(k))}
                        </label>
                    }).collect_view()}
                </fieldset>
                <div class="toolbar">
                    <button type="submit" class="btn" disabled=move || run.pending().get()>
                        {move || if run.pending().get() { tr("common.working") } else { tr("import.preview") }}
                    </button>
                    <button type="button" class="btn btn-primary" data-testid="import-run"
                        disabled=move || !can_import() on:click=import>
                        {tr("import.run")}
                    </button>
                </div>
            </form>
            <ErrorBanner error=Signal::derive(move || error.get()) />
            {move || report.get().map(|r| view! { <ReportView report=r /> })}
        </section>
    }
}

#[component]
fn ReportView(report: ImportReport) -> impl IntoView {
    let locale = use_locale();
    let headline = match (report.dry_run, report.changed) {
        (true, true) => tr("import.would_change"),
        (true, false) => tr("import.would_not_change"),
        (false, true) => tr("import.changed"),
        (false, false) => tr("import.not_changed"),
    };
    let cols = [
        Column::text(tr("import.what")),
        Column::figure(tr("import.imported")),
        Column::figure(tr("import.updated")),
        Column::figure(tr("import.unchanged")),
        Column::figure(tr("import.skipped")),
    ];
    let counts = move |key: &'static str, c: ImportCounts| {
        view! {
            <tr>
                <td data-label=cols[0].label>{tr(key)}</td>
                <td class="num" data-label=cols[1].label>{c.imported}</td>
                <td class="num" data-label=cols[2].label>{c.updated}</td>
                <td class="num" data-label=cols[3].label>{c.unchanged}</td>
                <td class="num" data-label=cols[4].label>{c.skipped}</td>
            </tr>
        }
    };
    let notes = report.notes.clone();
    view! {
        <div data-testid="import-report">
            <h3>{if report.dry_run { tr("import.preview_title") } else { tr("import.result_title") }}</h3>
            <p><strong>{headline}</strong>" · "{report.source.clone()}" · CRS "
                {report.source_version.clone().unwrap_or_default()}</p>
            <DataTable columns=cols.to_vec() test_id="import-counts">
                {counts("import.accounts", report.accounts)}
                {counts("import.groups", report.groups)}
                {counts("import.keys", report.keys)}
            </DataTable>
            <p class="hint">
                {tr("import.usage")}" "{report.usage.daily_rows}" / "{report.usage.records}
            </p>
            <ul class="notes">
                {notes.iter().map(|n| view! { <li>{note_text(locale, n)}</li> }).collect_view()}
            </ul>
            <ul class="import-items" data-testid="import-items">
                {report.items.into_iter().map(|it| view! { <ItemView item=it /> }).collect_view()}
            </ul>
        </div>
    }
}

#[component]
fn ItemView(item: ImportItem) -> impl IntoView {
    let locale = use_locale();
    view! {
        <li class="import-item">
            <div class="import-item-head">
                {outcome_view(item.outcome)}
                <span class="muted">{tr(item_key(item.kind))}" · "{item.source_type.clone()}</span>
                <strong class="import-name">{item.name.clone()}</strong>
            </div>
            {(!item.notes.is_empty()).then(|| view! {
                <ul class="notes">
                    {item.notes.iter().map(|n| view! { <li>{note_text(locale, n)}</li> }).collect_view()}
                </ul>
            })}
        </li>
    }
}
