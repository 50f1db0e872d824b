//! A key's threshold events: `key.quota_warning` when its spend reaches the warning share of
//! its quota, `key.quota_exhausted` when it reaches the quota.
//!
//! One instance: spend only grows, so each crossing is seen once, by the settlement that
//! crosses. Several instances on one database (`CLUSTER=1`): an instance sees only part of a
//! key's spend (what was written at its last lease plus its own), so crossings are decided on
//! the spend written in the database instead. An instance notes the keys with a quota it
//! settled; once a second, one statement claims the crossings of those keys (a row of
//! `cluster_key_events` per key, event and mark: only the first claim inserts it) and the
//! instance sends the events it claimed. A key stays noted for a minute after its last
//! settlement, so spend written late (by this or another instance) is still seen.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use super::{EventKind, Webhooks};
use crate::limits::{KeyLimits, Settled};
use crate::storage::cluster_rate::Crossing;
use crate::storage::{now_ms, Store};

const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// A key is checked this long after its last settlement here.
const NOTED_FOR_MS: i64 = 60_000;

/// Keys with a quota settled here lately (several instances): key id → last settlement.
#[derive(Default)]
pub(super) struct QuotaMarks {
    noted: Mutex<HashMap<Arc<str>, i64>>,
}

impl Webhooks {
    /// After every settlement: announce a key crossing its quota-warning share or its quota.
    pub fn after_key_settle(&self, key: &KeyLimits, settled: Settled) {
        let limit = key.quota_limit;
        if limit <= 0 || settled.spent_after == settled.spent_before {
            return;
        }
        if self.cluster_store().is_some() {
            self.quota_marks()
                .noted
                .lock()
                .insert(key.id.clone(), now_ms());
            return;
        }
        let warn_at = (limit as f64 * self.warning_share()).round() as i64;
        let crossed = |mark: i64| settled.spent_before < mark && settled.spent_after >= mark;
        let kind = if crossed(limit) {
            EventKind::KeyQuotaExhausted
        } else if crossed(warn_at) {
            EventKind::KeyQuotaWarning
        } else {
            return;
        };
        self.emit(kind, data(&key.id, &key.name, limit, settled.spent_after));
    }

    fn warning_share(&self) -> f64 {
        self.opts().quota_warning_share.clamp(0.0, 1.0)
    }
}

fn data(key_id: &str, name: &str, limit: i64, spent: i64) -> serde_json::Value {
    serde_json::json!({
        "keyId": key_id,
        "keyName": name,
        "quotaLimit": limit as f64 / 1e6,
        "spent": spent as f64 / 1e6,
    })
}

/// Several instances: claims and sends the crossings of the keys noted, once a second.
pub(super) async fn sweep(hooks: Webhooks, store: Store, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
        let now = now_ms();
        let keys: Vec<String> = {
            let mut noted = hooks.quota_marks().noted.lock();
            noted.retain(|_, at| now - *at < NOTED_FOR_MS);
            noted.keys().map(|k| k.to_string()).collect()
        };
        if keys.is_empty() {
            continue;
        }
        match store
            .cluster_claim_crossings(&keys, hooks.warning_share(), now)
            .await
        {
            Ok(claimed) => send(&hooks, claimed),
            Err(e) => tracing::warn!(error = %e, "checking keys' quota events failed; retrying"),
        }
    }
}

/// Sends the claimed crossings, a key's warning before its quota (both when the spend
/// passed both marks since the last look).
fn send(hooks: &Webhooks, mut claimed: Vec<Crossing>) {
    claimed.sort_by_key(|c| {
        (
            c.key_id.clone(),
            c.kind == EventKind::KeyQuotaExhausted.as_str(),
        )
    });
    for c in claimed {
        if let Some(kind) = EventKind::parse(&c.kind) {
            hooks.emit(kind, data(&c.key_id, &c.name, c.quota, c.spent));
        }
    }
}
