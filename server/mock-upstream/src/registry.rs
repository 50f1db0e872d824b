//! Per-credential behaviours and request statistics. One short mutex section per request
//! (never held across an await); counters the hot path only reads are atomics.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};
use parking_lot::Mutex;

use super::behavior::{Behavior, Fault};

/// A request as the mock received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The received request, shared between the handler and the "last request" record so
/// recording it costs no copy.
#[derive(Debug)]
pub(crate) struct Captured {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Captured {
    fn to_recorded(&self) -> RecordedRequest {
        RecordedRequest {
            method: self.method.clone(),
            path: self.uri.path().to_owned(),
            query: self.uri.query().map(str::to_owned),
            headers: self.headers.clone(),
            body: self.body.clone(),
        }
    }
}

/// What one request gets: the behaviour in force and whether it is faulted.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub behavior: Arc<Behavior>,
    pub fault: Option<Fault>,
}

/// A behaviour plus how many faulted requests it has left (`None`: unlimited).
struct Profile {
    behavior: Arc<Behavior>,
    faults_left: Option<u32>,
}

impl Profile {
    fn new(behavior: Behavior) -> Profile {
        Profile {
            faults_left: behavior.fault_times,
            behavior: Arc::new(behavior),
        }
    }

    fn plan(&mut self) -> Plan {
        let fault = match (self.behavior.fault, &mut self.faults_left) {
            (None, _) => None,
            (Some(fault), None) => Some(fault),
            (Some(fault), Some(left)) if *left > 0 => {
                *left -= 1;
                Some(fault)
            }
            (Some(_), Some(_)) => None,
        };
        Plan {
            behavior: Arc::clone(&self.behavior),
            fault,
        }
    }
}

#[derive(Default)]
struct CredentialEntry {
    profile: Option<Profile>,
    requests: u64,
    last: Option<Arc<Captured>>,
}

struct Inner {
    /// Serves every credential without a profile of its own; its fault budget is shared.
    defaults: Profile,
    credentials: HashMap<String, CredentialEntry>,
}

pub(crate) struct Registry {
    inner: Mutex<Inner>,
    startup_defaults: Behavior,
    total: AtomicU64,
    in_flight: Arc<AtomicUsize>,
    /// The most requests in flight at once since the start (or the last stats reset).
    peak: AtomicUsize,
}

impl Registry {
    pub(crate) fn new(defaults: Behavior) -> Registry {
        Registry {
            inner: Mutex::new(Inner {
                defaults: Profile::new(defaults.clone()),
                credentials: HashMap::new(),
            }),
            startup_defaults: defaults,
            total: AtomicU64::new(0),
            in_flight: Arc::new(AtomicUsize::new(0)),
            peak: AtomicUsize::new(0),
        }
    }

    /// Counts the request, remembers it as the credential's last one and decides its plan.
    /// Requests without a credential are counted in the total only.
    pub(crate) fn admit(&self, credential: Option<&str>, request: &Arc<Captured>) -> Plan {
        self.total.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.inner.lock();
        let Some(credential) = credential else {
            return inner.defaults.plan();
        };
        let Inner {
            defaults,
            credentials,
        } = &mut *inner;
        let entry = match credentials.get_mut(credential) {
            Some(entry) => entry,
            None => credentials.entry(credential.to_owned()).or_default(),
        };
        entry.requests += 1;
        entry.last = Some(Arc::clone(request));
        match &mut entry.profile {
            Some(profile) => profile.plan(),
            None => defaults.plan(),
        }
    }

    pub(crate) fn set_behavior(&self, credential: &str, behavior: Behavior) {
        let mut inner = self.inner.lock();
        inner
            .credentials
            .entry(credential.to_owned())
            .or_default()
            .profile = Some(Profile::new(behavior));
    }

    pub(crate) fn clear_behavior(&self, credential: &str) {
        if let Some(entry) = self.inner.lock().credentials.get_mut(credential) {
            entry.profile = None;
        }
    }

    pub(crate) fn set_defaults(&self, behavior: Behavior) {
        self.inner.lock().defaults = Profile::new(behavior);
    }

    pub(crate) fn requests(&self, credential: &str) -> u64 {
        self.inner
            .lock()
            .credentials
            .get(credential)
            .map_or(0, |e| e.requests)
    }

    pub(crate) fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub(crate) fn last_request(&self, credential: &str) -> Option<RecordedRequest> {
        let last = self
            .inner
            .lock()
            .credentials
            .get(credential)
            .and_then(|e| e.last.clone());
        last.map(|captured| captured.to_recorded())
    }

    pub(crate) fn by_credential(&self) -> Vec<(String, u64)> {
        self.inner
            .lock()
            .credentials
            .iter()
            .filter(|(_, e)| e.requests > 0)
            .map(|(c, e)| (c.clone(), e.requests))
            .collect()
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub(crate) fn in_flight_counter(&self) -> &Arc<AtomicUsize> {
        &self.in_flight
    }

    pub(crate) fn peak_counter(&self) -> &AtomicUsize {
        &self.peak
    }

    pub(crate) fn peak_in_flight(&self) -> usize {
        self.peak.load(Ordering::Acquire)
    }

    /// Zeroes the counters and forgets the recorded requests; behaviours stay.
    pub(crate) fn reset_stats(&self) {
        let mut inner = self.inner.lock();
        self.total.store(0, Ordering::Relaxed);
        self.peak
            .store(self.in_flight.load(Ordering::Acquire), Ordering::Release);
        for entry in inner.credentials.values_mut() {
            entry.requests = 0;
            entry.last = None;
        }
    }

    /// Back to the state at startup: statistics zeroed, per-credential behaviours gone,
    /// defaults restored.
    pub(crate) fn reset_all(&self) {
        let mut inner = self.inner.lock();
        self.total.store(0, Ordering::Relaxed);
        inner.credentials.clear();
        inner.defaults = Profile::new(self.startup_defaults.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captured() -> Arc<Captured> {
        Arc::new(Captured {
            method: Method::POST,
            uri: Uri::from_static("/v1/messages?beta=true"),
            headers: HeaderMap::new(),
            body: Bytes::from_static(b"{}"),
        })
    }

    #[test]
    fn fault_times_limits_faults_then_serves_healthy() {
        let registry = Registry::new(Behavior::default());
        registry.set_behavior(
            "k",
            Behavior {
                fault: Some(Fault::StallBeforeHeaders),
                fault_times: Some(2),
                ..Behavior::default()
            },
        );
        let req = captured();
        let faults: Vec<bool> = (0..4)
            .map(|_| registry.admit(Some("k"), &req).fault.is_some())
            .collect();
        assert_eq!(faults, [true, true, false, false]);
        assert_eq!(registry.requests("k"), 4);
        assert!(registry.admit(Some("other"), &req).fault.is_none());
        assert_eq!(registry.total(), 5);
        let last = registry.last_request("k").unwrap();
        assert_eq!(last.path, "/v1/messages");
        assert_eq!(last.query.as_deref(), Some("beta=true"));
    }

    #[test]
    fn resets_differ_in_what_they_keep() {
        let registry = Registry::new(Behavior::default());
        let slow = Behavior {
            latency_ms: 9,
            ..Behavior::default()
        };
        registry.set_behavior("k", slow);
        registry.admit(Some("k"), &captured());
        registry.reset_stats();
        assert_eq!(registry.requests("k"), 0);
        assert!(registry.last_request("k").is_none());
        assert_eq!(
            registry.admit(Some("k"), &captured()).behavior.latency_ms,
            9
        );
        registry.reset_all();
        assert_eq!(
            registry.admit(Some("k"), &captured()).behavior.latency_ms,
            0
        );
    }
}
