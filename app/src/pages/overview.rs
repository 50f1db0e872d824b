use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::load_overview;
use crate::components::ui::{ErrorBanner, StatCard};
use crate::i18n::fmt_int;
use crate::tr;

/// How often the overview refreshes itself, without reloading the page.
const REFRESH_MS: u64 = 5_000;

#[component]
pub fn OverviewPage() -> impl IntoView {
    let tick = RwSignal::new(0u64);
    let counts = Resource::new(move || tick.get(), |_| load_overview());
    Effect::new(move |_| {
        let handle = set_interval_with_handle(
            move || tick.update(|t| *t += 1),
            std::time::Duration::from_millis(REFRESH_MS),
        );
        on_cleanup(move || {
            if let Ok(h) = handle {
                h.clear();
            }
        });
    });

    let value = move |f: fn(&crate::types::OverviewCounts) -> i64| {
        Signal::derive(move || {
            counts
                .get()
                .and_then(|r| r.ok())
                .map(|c| fmt_int(f(&c)))
                .unwrap_or_else(|| "…".to_string())
        })
    };
    let error = Signal::derive(move || counts.get().and_then(|r| r.err()));

    view! {
        <Title text=tr("overview.title") />
        <h1>{tr("overview.title")}</h1>
        <Transition fallback=move || view! { <p>{tr("overview.loading")}</p> }>
            <ErrorBanner error />
            <div class="grid stats">
                <StatCard
                    label=tr("overview.accounts")
                    value=value(|c| c.accounts)
                    detail=Signal::derive({
                        let v = value(|c| c.active_accounts);
                        move || format!("{} {}", v.get(), tr("overview.active_accounts"))
                    })
                    test_id="count-accounts"
                />
                <StatCard label=tr("overview.groups") value=value(|c| c.groups) test_id="count-groups" />
                <StatCard
                    label=tr("overview.keys")
                    value=value(|c| c.keys)
                    detail=Signal::derive({
                        let v = value(|c| c.active_keys);
                        move || format!("{} {}", v.get(), tr("overview.active_keys"))
                    })
                    test_id="count-keys"
                />
            </div>
        </Transition>
    }
}
