//! The saturation monitor: watches each platform's pool utilization (requests in flight over
//! capacity) and announces `pool.saturated` once per stretch above the threshold. Looked at on
//! every housekeeping round (`relay::jobs`).

use super::Scheduler;
use crate::config::RelayOpts;
use crate::webhooks::{EventKind, Webhooks};

/// Per platform: since when utilization has been above the threshold, and whether that
/// stretch was announced (once per stretch).
#[derive(Default)]
pub struct Saturation {
    above_since: [Option<i64>; 3],
    announced: [bool; 3],
}

impl Saturation {
    /// One look at the pool at `now`: `pool.saturated` once a platform's utilization has
    /// stayed above the threshold for the configured minutes (once per stretch).
    pub fn check(
        &mut self,
        scheduler: &Scheduler,
        opts: &RelayOpts,
        webhooks: &Webhooks,
        now: i64,
    ) {
        let pool = scheduler.snapshot();
        for (i, platform) in app::types::Platform::ALL.into_iter().enumerate() {
            let load = scheduler.load_of(
                pool.by_id
                    .values()
                    .filter(|a| a.platform == platform)
                    .map(|a| a.as_ref()),
                opts.default_account_capacity,
            );
            if load.capacity == 0 || load.utilization() < opts.pool_saturation_threshold {
                self.above_since[i] = None;
                self.announced[i] = false;
                continue;
            }
            let since = *self.above_since[i].get_or_insert(now);
            if !self.announced[i] && now - since >= opts.pool_saturation_minutes as i64 * 60_000 {
                self.announced[i] = true;
                webhooks.emit(
                    EventKind::PoolSaturated,
                    serde_json::json!({
                        "platform": platform.as_str(),
                        "utilization": load.utilization(),
                        "inFlight": load.in_flight,
                        "capacity": load.capacity,
                        "sinceMs": since,
                    }),
                );
            }
        }
    }
}
