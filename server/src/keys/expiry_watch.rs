//! The expired-key watch: announces `key.expired` for each key whose validity ended since the
//! last look (a fixed expiry, or validity days counted from activation: the one rule of
//! [`super::lifecycle`]). Looked at every 30 s by `relay::jobs`.

use crate::storage::Store;
use crate::webhooks::{EventKind, Webhooks};

/// Where the last look ended: keys whose validity ends after it are announced next time.
pub struct ExpiryWatch {
    watermark: i64,
}

impl ExpiryWatch {
    /// A watch that announces keys expiring from `now` on (not those that expired before).
    pub fn starting_at(now: i64) -> Self {
        ExpiryWatch { watermark: now }
    }

    /// Announces the keys whose validity ended in `(watermark, now]` and moves the watermark;
    /// on a database error it stays, so the next look covers the same stretch.
    pub async fn announce(&mut self, store: &Store, webhooks: &Webhooks, now: i64) {
        match store.keys_expired_between(self.watermark, now).await {
            Ok(expired) => {
                self.watermark = now;
                for (id, name, at) in expired {
                    webhooks.emit(
                        EventKind::KeyExpired,
                        serde_json::json!({ "keyId": id, "keyName": name, "expiredAt": at }),
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "checking for expired keys failed"),
        }
    }
}
