use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{load_overview, overview_live};
use crate::components::overview::{AttentionList, PoolTable, PresetTable};
use crate::components::ui::{ErrorBanner, StatCard};
use crate::i18n::{fmt_compact, fmt_decimal, fmt_int, fmt_pct, fmt_usd};
use crate::types::LiveOverview;
use crate::{tr, use_locale};

/// How often the overview refreshes itself, without reloading the page.
const REFRESH_MS: u64 = 5_000;

#[component]
pub fn OverviewPage() -> impl IntoView {
    let locale = use_locale();
    let tick = RwSignal::new(0u64);
    let counts = Resource::new(move || tick.get(), |_| load_overview());
    let live = Resource::new(move || tick.get(), |_| overview_live());
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
    // Texts looked up once here: the closures below run whenever the figures refresh.
    let (t_errors, t_capacity, t_attempts, t_refused, t_tokens) = (
        tr("overview.error_rate"),
        tr("overview.of_capacity"),
        tr("overview.attempts"),
        tr("overview.refused"),
        tr("overview.tokens"),
    );
    let figure = move |f: Box<dyn Fn(&LiveOverview) -> String + Send + Sync>| {
        Signal::derive(move || {
            live.get()
                .and_then(|r| r.ok())
                .map(|o| f(&o))
                .unwrap_or_else(|| "…".to_string())
        })
    };
    let error = Signal::derive(move || {
        counts
            .get()
            .and_then(|r| r.err())
            .or_else(|| live.get().and_then(|r| r.err()))
    });
    let t_window = tr("overview.live");
    let window = move || {
        live.get()
            .and_then(|r| r.ok())
            .map(|o| t_window.replace("{n}", &o.window_minutes.to_string()))
            .unwrap_or_default()
    };

    view! {
        <Title text=tr("overview.title") />
        <div class="page-head">
            <h1>{tr("overview.title")}</h1>
            <span class="live-badge" data-testid="live-window">
                <Transition fallback=|| ()>{window}</Transition>
            </span>
        </div>
        <Transition fallback=move || view! { <p>{tr("overview.loading")}</p> }>
            <ErrorBanner error />
            <section aria-labelledby="live-heading">
                <h2 id="live-heading" class="sr-only">{tr("overview.live_heading")}</h2>
                <div class="grid stats">
                    <StatCard
                        label=tr("overview.rpm")
                        value=figure(Box::new(move |o| fmt_decimal(o.requests_per_minute, 1)))
                        detail=figure(Box::new(move |o| {
                            t_errors.replace("{p}", &fmt_pct(o.error_rate))
                        }))
                        test_id="live-rpm"
                    />
                    <StatCard
                        label=tr("overview.tpm")
                        value=figure(Box::new(move |o| fmt_compact(locale, o.tokens_per_minute)))
                        detail=figure(Box::new(move |o| {
                            format!("{} / min", fmt_usd(o.cost_per_minute))
                        }))
                        test_id="live-tpm"
                    />
                    <StatCard
                        label=tr("overview.in_flight")
                        value=figure(Box::new(move |o| fmt_int(i64::from(o.in_flight))))
                        detail=figure(Box::new(move |o| {
                            t_capacity
                                .replace("{c}", &fmt_int(i64::from(o.capacity)))
                                .replace("{p}", &fmt_pct(o.utilization))
                        }))
                        test_id="live-in-flight"
                    />
                    <StatCard
                        label=tr("overview.rate_429")
                        value=figure(Box::new(move |o| fmt_pct(o.upstream_429_rate)))
                        detail=figure(Box::new(move |o| {
                            t_attempts.replace("{n}", &fmt_int(o.upstream_attempts as i64))
                        }))
                        test_id="live-429"
                    />
                    <StatCard
                        label=tr("overview.rate_529")
                        value=figure(Box::new(move |o| fmt_pct(o.upstream_529_rate)))
                        detail=figure(Box::new(move |o| {
                            t_refused.replace("{n}", &fmt_int(o.refused_429 as i64))
                        }))
                        test_id="live-529"
                    />
                </div>
            </section>
            <section aria-labelledby="today-heading">
                <h2 id="today-heading">{tr("overview.today")}</h2>
                <div class="grid stats">
                    <StatCard
                        label=tr("overview.today_keys")
                        value=figure(Box::new(move |o| fmt_int(o.today.new_keys as i64)))
                        test_id="today-keys"
                    />
                    <StatCard
                        label=tr("overview.today_requests")
                        value=figure(Box::new(move |o| fmt_int(o.today.requests as i64)))
                        detail=figure(Box::new(move |o| {
                            t_tokens.replace("{n}", &fmt_compact(locale, o.today.tokens as f64))
                        }))
                        test_id="today-requests"
                    />
                    <StatCard
                        label=tr("overview.today_cost")
                        value=figure(Box::new(move |o| fmt_usd(o.today.cost)))
                        test_id="today-cost"
                    />
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
            </section>
            {move || {
                live.get()
                    .and_then(|r| r.ok())
                    .map(|o| {
                        view! {
                            <div class="columns">
                                <PoolTable platforms=o.platforms.clone() groups=o.groups.clone() />
                                <PresetTable presets=o.presets.clone() />
                            </div>
                            <AttentionList accounts=o.attention.clone() />
                        }
                    })
            }}
        </Transition>
    }
}
