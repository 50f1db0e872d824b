//! `PRICING_URL` against a real HTTP server on 127.0.0.1: a good table is swapped in under the
//! overrides; a malformed, truncated, too large, failing or slow one leaves the table as it was.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::routing::get;
use axum::Router;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::pricing::refresh::PriceRefresher;

/// The shipped table with Opus 4.8 at $6 / $30 instead of $5 / $25.
fn repriced_builtin() -> String {
    let mut table: serde_json::Value = serde_json::from_str(BUILTIN_TABLE).unwrap();
    table["claude-opus-4-8"]["input_cost_per_token"] = serde_json::json!(6e-06);
    table["claude-opus-4-8"]["output_cost_per_token"] = serde_json::json!(3e-05);
    table.to_string()
}

struct Server {
    base: String,
    hits: Arc<AtomicUsize>,
}

async fn serve() -> Server {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = Router::new()
        .route("/good.json", get(|| async { repriced_builtin() }))
        .route("/malformed.json", get(|| async { "{\"claude-opus-4-8\": {\"input_cost_per" }))
        .route("/tiny.json", get(|| async { r#"{"house-model": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}}"# }))
        .route("/error.json", get(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down") }))
        .route("/chunked.json", get(|| async {
            let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024]));
            Body::from_stream(futures::stream::iter(chunks))
        }))
        .route("/slow.json", get(|| async {
            tokio::time::sleep(Duration::from_secs(600)).await;
            "{}"
        }))
        .layer(axum::middleware::from_fn(move |req, next: axum::middleware::Next| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move { next.run(req).await }
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Server { base, hits }
}

fn refresher(url: &str, timeout: Duration) -> PriceRefresher {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .unwrap();
    PriceRefresher::with_client(client, url, 24.0).unwrap()
}

fn shared_builtin_with_override() -> ArcSwap<Pricing> {
    let house = ModelPrice::flat(1, 1, 1, 1, 1);
    ArcSwap::from_pointee(
        Pricing::builtin().with_overrides(&[("claude-sonnet-4-6".to_string(), house)]),
    )
}

#[tokio::test]
async fn a_good_table_is_swapped_in_under_the_overrides() {
    let server = serve().await;
    let shared = shared_builtin_with_override();
    let before = shared.load().lookup("claude-opus-4-8").price;
    assert_eq!(before.input, 5_000_000);
    let models = refresher(
        &format!("{}/good.json", server.base),
        Duration::from_secs(30),
    )
    .refresh_once(&shared)
    .await
    .unwrap();
    let now = shared.load();
    assert_eq!(models, now.table_origin().2);
    assert_eq!(now.table_origin().0, TableOrigin::Url);
    let opus = now.lookup("claude-opus-4-8");
    assert_eq!(
        (opus.price.input, opus.price.output, opus.source),
        (6_000_000, 30_000_000, PriceSource::Table)
    );
    assert_eq!(
        now.lookup("claude-sonnet-4-6").source,
        PriceSource::Override,
        "overrides stay on top"
    );
    // Families are rebuilt from the new table.
    assert_eq!(
        now.lookup("claude-opus-4-9").price.input,
        pricing_of("claude-opus-5-5", &now)
    );
    let status = now.refresh_status();
    assert_eq!(
        (
            status.attempts.load(Ordering::Relaxed),
            status.failures.load(Ordering::Relaxed)
        ),
        (1, 0)
    );
    assert!(status.last_success_ms.load(Ordering::Relaxed) > 0);
}

fn pricing_of(model: &str, pricing: &Pricing) -> i64 {
    pricing.lookup(model).price.input
}

#[tokio::test]
async fn a_bad_fetch_keeps_the_current_table_and_is_counted() {
    let server = serve().await;
    let shared = shared_builtin_with_override();
    let before = Arc::clone(&shared.load_full());
    let cases = [
        ("malformed.json", 1_000_000, "not valid JSON"),
        ("tiny.json", 1_000_000, "fewer than half"),
        ("error.json", 1_000_000, "500"),
        // Over the size limit, announced by Content-Length or found while streaming.
        ("good.json", 1_000, "larger than 1000 bytes"),
        ("chunked.json", 10_000, "larger than 10000 bytes"),
    ];
    for (n, (path, max_bytes, why)) in cases.into_iter().enumerate() {
        let r = refresher(&format!("{}/{path}", server.base), Duration::from_secs(30))
            .with_max_bytes(max_bytes);
        let err = format!("{:#}", r.refresh_once(&shared).await.unwrap_err());
        assert!(err.contains(why), "{path}: {err}");
        let now = shared.load();
        assert!(
            Arc::ptr_eq(&now.table, &before.table),
            "{path}: the table was replaced"
        );
        assert_eq!(
            now.lookup("claude-sonnet-4-6").source,
            PriceSource::Override
        );
        let status = now.refresh_status();
        assert_eq!(status.failures.load(Ordering::Relaxed), n as u64 + 1);
        assert_eq!(status.last_success_ms.load(Ordering::Relaxed), 0);
    }
    assert_eq!(server.hits.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn a_slow_server_times_out_and_changes_nothing() {
    let server = serve().await;
    let shared = shared_builtin_with_override();
    let r = refresher(
        &format!("{}/slow.json", server.base),
        Duration::from_millis(200),
    );
    let err = format!("{:#}", r.refresh_once(&shared).await.unwrap_err());
    assert!(err.contains("PRICING_URL"), "{err}");
    assert_eq!(shared.load().table_origin().0, TableOrigin::Builtin);
    assert_eq!(
        shared
            .load()
            .refresh_status()
            .failures
            .load(Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn the_task_refreshes_at_start_and_stops_when_told() {
    let server = serve().await;
    let holder = Arc::new(shared_builtin_with_override());
    let stop = CancellationToken::new();
    let task = tokio::spawn(
        refresher(
            &format!("{}/good.json", server.base),
            Duration::from_secs(30),
        )
        .run(holder.clone(), |h| h, stop.clone()),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while holder.load().table_origin().0 != TableOrigin::Url {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no refresh at start"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        1,
        "the next refresh waits for the interval"
    );
}

#[test]
fn the_schedule_waits_the_interval_and_retries_sooner_after_a_failure() {
    let daily = PriceRefresher::new("https://example.invalid/prices.json", 24.0).unwrap();
    assert_eq!(daily.next_delay(true), Duration::from_secs(24 * 3600));
    assert_eq!(daily.next_delay(false), Duration::from_secs(3600));
    let often = PriceRefresher::new("http://127.0.0.1:9/p.json", 0.25).unwrap();
    assert_eq!(
        often.next_delay(false),
        Duration::from_secs(900),
        "never later than the interval"
    );
    for (url, hours) in [
        ("ftp://host/p.json", 24.0),
        ("not a url", 24.0),
        ("https://h/p.json", 0.0),
        ("https://h/p.json", f64::NAN),
    ] {
        assert!(
            PriceRefresher::new(url, hours).is_err(),
            "{url} every {hours} h"
        );
    }
}
