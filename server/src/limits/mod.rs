//! Key limits, enforced on every relay request in a fixed order: (1) the key exists, is active
//! and not expired, (2) the model and platform are allowed, (3) quota and daily cost
//! (reserve → settle), (4) the rate window, (5) concurrency with an optional FIFO queue.
//!
//! The live counters sit behind [`LimitState`] (in memory here, [`memory::MemoryLimits`]), so a
//! store shared by several instances can replace it without touching the relay. Every admitted
//! request holds an [`Admitted`] guard: its reservation and its slot are released on every path
//! (settled, refused later, failed, dropped by a client disconnect, or unwound by a panic).

mod admit;
pub mod budget;
pub mod cluster;
pub mod counting;
pub mod directory;
pub mod legacy;
pub mod memory;
pub mod slots;
pub mod window;

use std::sync::Arc;
use std::time::{Duration, Instant};

use app::types::Platform;
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use admit::{Admission, Admitted};
pub use directory::KeyDirectory;
use slots::{QueuePolicy, SlotQueue, SlotRefusal};

/// Where a key's requests for one platform may go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Binding {
    Pool,
    Account(Arc<str>),
    Group(Arc<str>),
}

impl Binding {
    pub fn parse(stored: &str) -> Binding {
        let s = stored.trim();
        if s.is_empty() {
            Binding::Pool
        } else if let Some(group) = s.strip_prefix("group:") {
            Binding::Group(group.into())
        } else {
            Binding::Account(s.into())
        }
    }
}

/// A key's settings as the relay needs them: an immutable snapshot, replaced on every edit.
#[derive(Clone, Debug)]
pub struct KeyLimits {
    pub id: Arc<str>,
    pub name: String,
    pub is_active: bool,
    /// micro-USD; 0 = unlimited.
    pub quota_limit: i64,
    /// Fixed expiry, or the activation-derived one once activated (epoch ms).
    pub expires_at: Option<i64>,
    pub activation_days: Option<i64>,
    pub activated_at: Option<i64>,
    pub concurrency_limit: u32,
    pub queue: Option<QueuePolicy>,
    pub rate_window: Option<Duration>,
    pub rate_requests: u32,
    /// micro-USD per window; 0 = unlimited.
    pub rate_cost: i64,
    /// micro-USD per day; 0 = unlimited.
    pub daily_cost_limit: i64,
    pub allowed_models: Vec<String>,
    /// Empty = every platform.
    pub permissions: Vec<Platform>,
    pub claude: Binding,
    pub openai: Binding,
    pub gemini: Binding,
    pub allow_pool_fallback: bool,
    pub preset_id: Option<String>,
    /// Lower each request's output ceiling to what the remaining quota can pay for.
    pub strict_max_tokens: bool,
    /// Server-side tools (web search, code execution, grounding) may be used.
    pub allow_server_tools: bool,
    /// Allowed clients and addresses, daily caps per model family.
    pub gate: Arc<crate::keys::restrictions::Gate>,
}

impl KeyLimits {
    pub fn binding(&self, platform: Platform) -> &Binding {
        match platform {
            Platform::Claude => &self.claude,
            Platform::Openai => &self.openai,
            Platform::Gemini => &self.gemini,
        }
    }

    /// The expiry in force at `now`: fixed, or activation + days once activated.
    pub fn effective_expiry(&self) -> Option<i64> {
        crate::keys::lifecycle::expiry(self.expires_at, self.activation_days, self.activated_at)
    }

    /// Whether `model` may be used: exact names, or `prefix*` patterns.
    pub fn model_allowed(&self, model: &str) -> bool {
        self.allowed_models.is_empty()
            || self
                .allowed_models
                .iter()
                .any(|m| match m.strip_suffix('*') {
                    Some(prefix) => model.starts_with(prefix),
                    None => m == model,
                })
    }

    pub fn platform_allowed(&self, platform: Platform) -> bool {
        self.permissions.is_empty() || self.permissions.contains(&platform)
    }
}

/// Why a request was refused. The relay turns each into its protocol's error shape.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    MissingKey,
    UnknownKey,
    Disabled,
    Expired {
        at: i64,
    },
    PlatformNotAllowed {
        platform: Platform,
    },
    ModelNotAllowed {
        model: String,
    },
    /// `allowedClients`: the client was recognised as `seen` (or as none of them).
    ClientNotAllowed {
        seen: Option<&'static str>,
        allowed: Vec<&'static str>,
    },
    /// `allowedCidrs`.
    AddressNotAllowed {
        ip: std::net::IpAddr,
    },
    /// `modelDailyCostLimits`: the family's cap for today is spent.
    FamilyDailyLimit {
        family: String,
        limit: i64,
        spent: i64,
        resets_at: i64,
    },
    QuotaExhausted {
        limit: i64,
        spent: i64,
    },
    /// The request's input alone would cost more than the quota (or today's budget) has left.
    InputOverBudget {
        estimate: i64,
        remaining: i64,
        daily: bool,
    },
    DailyLimit {
        limit: i64,
        spent: i64,
        resets_at: i64,
    },
    /// What is left of the quota (or today's budget) is held by a request in flight that could
    /// not reserve its whole estimate; a retry after it ends may fit.
    RemainderHeld {
        daily: bool,
    },
    RateLimited {
        retry_after: Duration,
        by_cost: bool,
        limit: u32,
        window: Duration,
    },
    Concurrency {
        limit: u32,
        reason: SlotRefusal,
    },
    /// The limits backend failed (e.g. the database was unreachable while loading the key).
    Unavailable,
    /// A stored setting of the key cannot be read (e.g. a corrupt `allowed_models`): the key is
    /// refused until an administrator saves it again, never run without the setting.
    Unreadable,
}

/// What a request holds against the quota until it settles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reservation {
    pub amount: i64,
    pub day: i32,
    /// Taken from a slice leased from the database (several instances), not from memory.
    pub shared: bool,
    /// The lease it was taken from (several instances): one voided since settles apart.
    pub lease: u32,
    /// Less than the request's estimate: what was left of the quota or today's budget. Only one
    /// such reservation per key is in flight at a time (per instance), so a key ends over its
    /// limit by at most what one request cost beyond what it could reserve (while reservations
    /// cover their requests' cost, and no lease was voided).
    pub short: bool,
}

/// A key's reservations in flight that got less than their estimate: one at a time (see
/// [`Reservation::short`]). Both limit stores keep one per key, beside their counters.
#[derive(Default)]
pub(crate) struct ShortHeld(u32);

impl ShortHeld {
    /// Counts a reservation about to be made; refuses a short one while another is held.
    pub(crate) fn take(&mut self, short: bool, daily: bool) -> Result<(), Refusal> {
        if short && self.0 > 0 {
            return Err(Refusal::RemainderHeld { daily });
        }
        self.0 += u32::from(short);
        Ok(())
    }

    /// Uncounts a reservation as it settles.
    pub(crate) fn settle(&mut self, r: &Reservation) {
        debug_assert!(self.0 >= u32::from(r.short));
        self.0 = self.0.saturating_sub(u32::from(r.short));
    }

    #[cfg(test)]
    pub(crate) fn count(&self) -> u32 {
        self.0
    }
}

/// A concurrency slot held across instances; dropping it gives it back.
pub type SharedSlot = Box<dyn Send + Sync>;

/// A request's entry in a rate window shared across instances: dropping it takes it back
/// (the request was refused later), [`RateEntry::keep`] leaves it counted (served).
pub trait RateEntry: Send + Sync {
    fn keep(self: Box<Self>);
}

/// Spend of a key as this instance sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveUsage {
    pub spent: i64,
    pub reserved: i64,
    pub day_spent: i64,
    pub day_reserved: i64,
}

/// The spend before and after a settlement, for threshold events (quota warning, exhausted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settled {
    pub spent_before: i64,
    pub spent_after: i64,
}

/// The live counters behind the limits. Implementations must be cheap: every call is on the
/// relay's hot path, and none may block on I/O.
pub trait LimitState: Send + Sync + 'static {
    /// Makes the persisted spend of a key known (first sight of the key on this instance).
    fn seed(&self, key_id: &str, spent: i64, day: i32, day_spent: i64);
    fn is_seeded(&self, key_id: &str) -> bool;
    /// Adds spend counted elsewhere (an import) to a key already seeded; an unseeded key reads
    /// it from the database at its first sight.
    fn add_spent(&self, key_id: &str, delta: i64);
    /// Reserves up to `estimate` against the quota and the daily limit; refuses when nothing
    /// remains, or when less than `floor` (the cost of the request's input alone) remains.
    fn reserve(
        &self,
        key: &KeyLimits,
        estimate: i64,
        floor: i64,
        day: i32,
        next_midnight: i64,
    ) -> Result<Reservation, Refusal>;
    /// Replaces a reservation with the actual cost. Called exactly once per reservation.
    fn settle(&self, key_id: &str, reservation: Reservation, actual: i64) -> Settled;
    /// Admits a request to the key's rate window; the time recorded for it, if one was (only
    /// when requests are limited).
    fn rate_admit(&self, key: &KeyLimits, now: Instant) -> Result<Option<Instant>, Refusal>;
    /// Takes back the admission recorded at `at`.
    fn rate_undo(&self, key_id: &str, at: Instant);
    fn rate_add_cost(&self, key_id: &str, now: Instant, cost: i64);
    /// Requests left in the rate window and the time until the oldest ages out.
    fn rate_remaining(&self, key: &KeyLimits, now: Instant) -> Option<(u32, Duration)>;
    fn slots(&self, key_id: &str) -> Arc<SlotQueue>;
    /// Whether checks 3–5 would refuse the key right now whatever its request says (quota or
    /// daily limit used up, rate window full, concurrency busy or queue full). Records nothing:
    /// it lets the relay refuse before reading a body; admission decides for real.
    fn precheck(
        &self,
        key: &KeyLimits,
        day: i32,
        next_midnight: i64,
        now: Instant,
    ) -> Result<(), Refusal>;
    fn usage(&self, key_id: &str) -> LiveUsage;
    /// Total reserved and total slots held over all keys (leak checks, metrics).
    fn totals(&self) -> (i64, u32);
    /// Requests waiting in a concurrency queue, over all keys (metrics).
    fn waiting(&self) -> usize;
    /// What a request must wait for before [`LimitState::reserve`] can decide (a shared store
    /// leasing more of the key's headroom); `None` when it can decide now (always in memory).
    fn prepare<'a>(
        &'a self,
        _key: &'a KeyLimits,
        _estimate: i64,
        _day: i32,
    ) -> Option<BoxFuture<'a, ()>> {
        None
    }
    /// The key's concurrency slot across instances, taken once the local one is held, waiting
    /// up to `wait` (the queue's timeout) when there is none; `None` when the local slot is all.
    fn shared_slot<'a>(
        &'a self,
        _key: &'a KeyLimits,
        _wait: Option<Duration>,
    ) -> Option<BoxFuture<'a, Result<SharedSlot, Refusal>>> {
        None
    }
    /// The key's rate window across instances, when requests are counted there: admits the
    /// request (after [`LimitState::rate_admit`], which then counts only costs); `None` when
    /// the window is in memory only.
    fn shared_rate<'a>(
        &'a self,
        _key: &'a KeyLimits,
    ) -> Option<BoxFuture<'a, Result<Box<dyn RateEntry>, Refusal>>> {
        None
    }
    /// Starts the state's background work (heartbeats, lease upkeep) until `stop`.
    fn start(self: Arc<Self>, _tasks: &TaskTracker, _stop: CancellationToken) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_and_models() {
        assert_eq!(Binding::parse(""), Binding::Pool);
        assert_eq!(Binding::parse("group:g1"), Binding::Group("g1".into()));
        assert_eq!(Binding::parse("acc-1"), Binding::Account("acc-1".into()));
        let mut k = memory::tests::limits("k");
        k.allowed_models = vec!["claude-sonnet-4-5".into(), "claude-haiku-*".into()];
        assert!(k.model_allowed("claude-sonnet-4-5"));
        assert!(k.model_allowed("claude-haiku-4-5"));
        assert!(!k.model_allowed("claude-opus-4-8"));
        k.activation_days = Some(7);
        assert_eq!(k.effective_expiry(), None);
        k.activated_at = Some(1_000);
        assert_eq!(k.effective_expiry(), Some(1_000 + 7 * 86_400_000));
    }
}
