//! The key's restrictions at the door, after its authentication: the client it may be used
//! from (`allowedClients`), the addresses (`allowedCidrs`, the address the auth layer trusts:
//! the socket peer, or with `TRUST_PROXY_HEADERS` the forwarded one), and per model family a
//! daily cost cap (`modelDailyCostLimits`). Refusals name the restriction in the client
//! protocol's error shape (403; the cap 402 like the key's daily limit).
//!
//! Family caps count the cost settled today (the key's time zone day), per model, kept in
//! memory: loaded from the usage events at the key's first capped request of the day, added to
//! as requests settle. A request in flight is not reserved against the cap, so the last request
//! before the cap may overshoot it by its own cost.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use axum::response::Response;
use parking_lot::Mutex;

use super::error::{Protocol, RelayError};
use super::Relay;
use crate::limits::{KeyLimits, Refusal};

/// The socket peer of a request, as axum's connect info records it.
pub fn peer(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Authenticates the presented key and checks its client and address restrictions.
pub async fn admit_key(
    relay: &Relay,
    headers: &HeaderMap,
    extensions: &Extensions,
    presented: &str,
    protocol: Protocol,
) -> Result<Arc<KeyLimits>, Response> {
    let key = relay
        .keys
        .authenticate(presented)
        .await
        .map_err(|r| RelayError::from(r).into_response(protocol))?;
    let gate = &key.gate;
    if let Err(seen) = gate.client_allowed(headers) {
        let refusal = Refusal::ClientNotAllowed {
            seen,
            allowed: gate.clients.clone(),
        };
        return Err(RelayError::from(refusal).into_response(protocol));
    }
    if !gate.cidrs.is_empty() {
        let ip = relay.proxies.client_ip(headers, peer(extensions));
        if !gate.address_allowed(ip) {
            return Err(RelayError::from(Refusal::AddressNotAllowed { ip }).into_response(protocol));
        }
    }
    Ok(key)
}

/// A key's day (days since the epoch in the configured zone) and its cost per model.
type KeyDay = (i32, HashMap<String, i64>);

/// Today's settled cost per key and model, for the family caps.
#[derive(Default)]
pub struct FamilySpend {
    days: Mutex<HashMap<Arc<str>, KeyDay>>,
}

impl FamilySpend {
    /// The cap `model` is over for `key` today, if any. The day's cost per model is read from
    /// the usage events when this key's day is not in memory yet.
    pub async fn check(
        &self,
        relay: &Relay,
        key: &KeyLimits,
        model: &str,
        now: i64,
    ) -> Option<Refusal> {
        let caps: Vec<(String, i64)> = key.gate.caps_for(model).cloned().collect();
        if caps.is_empty() {
            return None;
        }
        let (day, midnight) =
            crate::limits::directory::day_and_next_midnight(now, relay.keys.time_zone());
        let known = self
            .days
            .lock()
            .get(&key.id)
            .is_some_and(|(d, _)| *d == day);
        if !known {
            let since = crate::limits::directory::day_start(now, relay.keys.time_zone());
            let loaded = match relay.store.key_cost_by_model_since(&key.id, since).await {
                Ok(rows) => rows.into_iter().collect(),
                Err(e) => {
                    tracing::warn!(error = %e, key = %key.id, "reading today's cost per model failed");
                    return Some(Refusal::Unavailable);
                }
            };
            let mut days = self.days.lock();
            let entry = days.entry(key.id.clone()).or_default();
            if entry.0 != day {
                *entry = (day, loaded);
            }
        }
        let days = self.days.lock();
        let spent_by_model = &days.get(&key.id)?.1;
        caps.into_iter().find_map(|(family, limit)| {
            let spent: i64 = spent_by_model
                .iter()
                .filter(|(m, _)| crate::keys::restrictions::family_matches(&family, m))
                .map(|(_, c)| *c)
                .sum();
            (spent >= limit).then_some(Refusal::FamilyDailyLimit {
                family,
                limit,
                spent,
                resets_at: midnight,
            })
        })
    }

    /// Adds a settled request's cost, when the key's day is tracked (a key without caps never is).
    pub fn record(&self, key_id: &str, model: &str, cost: i64, day: i32) {
        if cost <= 0 {
            return;
        }
        let mut days = self.days.lock();
        if let Some((d, models)) = days.get_mut(key_id) {
            if *d == day {
                *models.entry(model.to_owned()).or_default() += cost;
            }
        }
    }
}
