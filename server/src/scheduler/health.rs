//! An account's health as a small state machine driven by upstream answers.
//!
//! - 429 → `rate_limited` until the reset the upstream announces (capped);
//! - 529 → `overloaded` for a short cooldown (`OVERLOAD_COOLDOWN_SECS`, 30 s) that doubles
//!   with every repeat after the previous one ended, up to `MAX_COOLDOWN_SECS`;
//! - 401/403 about the credential → `error` only after [`AUTH_FAILURES_FOR_ERROR`] of them in a
//!   row (no success in between) within [`AUTH_FAILURE_WINDOW_MS`], never from one request; it
//!   stays there until an admin resets it (or a test succeeds). Answers caused by the request
//!   (see `relay::blame`) never get here;
//! - 5xx, timeouts, connection failures, streams without a first token → cooldown only after
//!   N within a window, doubling the same way;
//! - after a cooldown the account is half-open: one probe; success → `active` and the backoff
//!   starts over, failure → the cooldown doubles (capped).

use std::collections::VecDeque;

use app::types::AccountStatus;

use crate::config::SchedulerOpts;

/// Authentication failures in a row (no success in between) that put an account in `error`.
pub const AUTH_FAILURES_FOR_ERROR: usize = 3;
/// ...all within this long.
pub const AUTH_FAILURE_WINDOW_MS: i64 = 10 * 60_000;

#[derive(Clone, Copy, Debug)]
pub struct HealthConfig {
    pub overload_cooldown_ms: i64,
    pub rate_limit_default_ms: i64,
    pub max_cooldown_ms: i64,
    pub error_threshold: usize,
    pub error_window_ms: i64,
    pub error_cooldown_ms: i64,
    pub auth_failures_for_error: usize,
    pub auth_failure_window_ms: i64,
}

impl From<&SchedulerOpts> for HealthConfig {
    fn from(o: &SchedulerOpts) -> Self {
        HealthConfig {
            overload_cooldown_ms: o.overload_cooldown_secs as i64 * 1000,
            rate_limit_default_ms: o.rate_limit_default_secs as i64 * 1000,
            max_cooldown_ms: o.max_cooldown_secs as i64 * 1000,
            error_threshold: o.error_threshold.max(1) as usize,
            error_window_ms: o.error_window_secs as i64 * 1000,
            error_cooldown_ms: o.error_cooldown_secs as i64 * 1000,
            auth_failures_for_error: AUTH_FAILURES_FOR_ERROR,
            auth_failure_window_ms: AUTH_FAILURE_WINDOW_MS,
        }
    }
}

/// What happened when a request was sent to an account.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Success,
    /// 429, with the reset the upstream announced (epoch ms), if any.
    RateLimited {
        reset_at: Option<i64>,
        message: String,
    },
    /// 529 (or the platform's equivalent overload answer).
    Overloaded {
        message: String,
    },
    /// 401/403 (or the platform's equivalent) about the credential: evidence that it is bad,
    /// which takes several in a row to act on.
    AuthFailed {
        status: u16,
        message: String,
    },
    /// 5xx, timeout or connection failure.
    Failed {
        status: Option<u16>,
        message: String,
    },
}

/// A change of status worth recording and announcing.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    pub from: AccountStatus,
    pub to: AccountStatus,
    pub http_status: Option<u16>,
    pub message: String,
    pub cooldown_until: Option<i64>,
}

/// Whether the scheduler may send a request to the account now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Availability {
    Available,
    /// The cooldown is over; one probe request may go.
    HalfOpen,
    CoolingDown {
        until: i64,
    },
    /// Needs an admin.
    Broken,
}

#[derive(Clone, Debug, Default)]
pub struct Health {
    pub status: AccountStatus,
    pub cooldown_until: Option<i64>,
    pub message: String,
    last_cooldown_ms: i64,
    /// The last 529/5xx cooldown since the last success: the next one doubles it.
    backoff_ms: i64,
    failures: VecDeque<i64>,
    /// Times of the authentication failures since the last success, oldest first.
    auth_failures: VecDeque<i64>,
    probing: bool,
}

impl Health {
    /// Restores persisted state (at startup) so a restart keeps cooldowns and errors.
    pub fn restored(status: AccountStatus, cooldown_until: Option<i64>, message: String) -> Health {
        let status = match status {
            AccountStatus::Disabled => AccountStatus::Active,
            s => s,
        };
        Health {
            status,
            cooldown_until,
            message,
            ..Default::default()
        }
    }

    /// The length of the last 529/5xx cooldown since the last success (the next doubles it).
    pub fn backoff_ms(&self) -> i64 {
        self.backoff_ms
    }

    /// Takes the state another instance reached (shared through the database): its status,
    /// cooldown and backoff step. What this instance counts towards thresholds stays; a claimed
    /// probe stays claimed while the account is still cooling, and ends with a recovery.
    pub fn apply_shared(
        &mut self,
        status: AccountStatus,
        cooldown_until: Option<i64>,
        message: String,
        backoff_ms: i64,
    ) {
        self.status = match status {
            AccountStatus::Disabled => AccountStatus::Active,
            s => s,
        };
        self.cooldown_until = cooldown_until;
        self.message = message;
        self.backoff_ms = backoff_ms;
        if self.status == AccountStatus::Active {
            self.failures.clear();
            self.auth_failures.clear();
            self.last_cooldown_ms = 0;
            self.probing = false;
        }
    }

    pub fn availability(&self, now: i64) -> Availability {
        match self.status {
            AccountStatus::Active | AccountStatus::Disabled => Availability::Available,
            AccountStatus::Error => Availability::Broken,
            AccountStatus::RateLimited | AccountStatus::Overloaded => match self.cooldown_until {
                Some(until) if until > now => Availability::CoolingDown { until },
                _ => Availability::HalfOpen,
            },
        }
    }

    /// Claims the single probe of a half-open account.
    pub fn claim_probe(&mut self) -> bool {
        if self.probing {
            false
        } else {
            self.probing = true;
            true
        }
    }

    /// A probe ended without a verdict (client gone before the upstream answered).
    pub fn abandon_probe(&mut self) {
        self.probing = false;
    }

    fn enter(
        &mut self,
        to: AccountStatus,
        http_status: Option<u16>,
        message: String,
        cooldown_ms: Option<i64>,
        now: i64,
    ) -> Option<Transition> {
        let from = self.status;
        let cooldown_until = cooldown_ms.map(|ms| now + ms);
        if let Some(ms) = cooldown_ms {
            self.last_cooldown_ms = ms;
        }
        self.status = to;
        self.cooldown_until = cooldown_until;
        self.message = message.clone();
        self.probing = false;
        // A repeated 429/529 while already cooling down extends silently: one event per transition.
        (from != to).then_some(Transition {
            from,
            to,
            http_status,
            message,
            cooldown_until,
        })
    }

    pub fn on_outcome(
        &mut self,
        outcome: Outcome,
        now: i64,
        cfg: &HealthConfig,
    ) -> Option<Transition> {
        let was_probe = self.probing;
        match outcome {
            Outcome::Success => {
                self.failures.clear();
                self.auth_failures.clear();
                self.probing = false;
                self.backoff_ms = 0;
                if self.status != AccountStatus::Active {
                    self.last_cooldown_ms = 0;
                    return self
                        .enter(AccountStatus::Active, None, "recovered".into(), None, now)
                        .map(|mut t| {
                            t.cooldown_until = None;
                            t
                        });
                }
                None
            }
            Outcome::RateLimited { reset_at, message } => {
                let ms = reset_at
                    .map(|at| at - now)
                    .filter(|ms| *ms > 0)
                    .unwrap_or(cfg.rate_limit_default_ms)
                    .min(cfg.max_cooldown_ms);
                let half_open = was_probe && self.cooling_until(now).is_none();
                let ms = if half_open { self.doubled(ms, cfg) } else { ms };
                self.enter(
                    AccountStatus::RateLimited,
                    Some(429),
                    message,
                    Some(ms),
                    now,
                )
            }
            Outcome::Overloaded { message } => {
                if let Some(until) = self.cooling_until(now) {
                    // Answers of requests sent before the cooldown began, or of a probe sent
                    // during it because nothing else could serve: no new backoff step.
                    let ms = until - now;
                    return self.enter(
                        AccountStatus::Overloaded,
                        Some(529),
                        message,
                        Some(ms),
                        now,
                    );
                }
                let ms = self.backoff(cfg.overload_cooldown_ms, cfg);
                self.enter(AccountStatus::Overloaded, Some(529), message, Some(ms), now)
            }
            Outcome::AuthFailed { status, message } => {
                self.auth_failures.push_back(now);
                while self
                    .auth_failures
                    .front()
                    .is_some_and(|t| now - t >= cfg.auth_failure_window_ms)
                {
                    self.auth_failures.pop_front();
                }
                if self.auth_failures.len() < cfg.auth_failures_for_error.max(1) {
                    // One refusal proves nothing: it may be the request's doing in a shape we
                    // do not know. A probe that ends so keeps its account out of rotation.
                    if was_probe {
                        self.probing = false;
                    }
                    return None;
                }
                self.auth_failures.clear();
                let msg = format!(
                    "{} authentication failures in a row within {} min: {message}",
                    cfg.auth_failures_for_error,
                    cfg.auth_failure_window_ms / 60_000
                );
                self.enter(AccountStatus::Error, Some(status), msg, None, now)
            }
            Outcome::Failed { status, message } => {
                if was_probe {
                    let ms = match self.cooling_until(now) {
                        // A probe during the cooldown keeps it as it is.
                        Some(until) => until - now,
                        None => self.backoff(cfg.error_cooldown_ms, cfg),
                    };
                    let to = match self.status {
                        AccountStatus::RateLimited => AccountStatus::RateLimited,
                        _ => AccountStatus::Overloaded,
                    };
                    return self.enter(to, status, message, Some(ms), now);
                }
                self.failures.push_back(now);
                while self
                    .failures
                    .front()
                    .is_some_and(|t| now - t >= cfg.error_window_ms)
                {
                    self.failures.pop_front();
                }
                if self.failures.len() >= cfg.error_threshold
                    && self.status == AccountStatus::Active
                {
                    self.failures.clear();
                    let msg = format!(
                        "{} failures within {}s: {message}",
                        cfg.error_threshold,
                        cfg.error_window_ms / 1000
                    );
                    let ms = self.backoff(cfg.error_cooldown_ms, cfg);
                    return self.enter(AccountStatus::Overloaded, status, msg, Some(ms), now);
                }
                None
            }
        }
    }

    /// The end of a cooldown still running at `now`.
    fn cooling_until(&self, now: i64) -> Option<i64> {
        match self.status {
            AccountStatus::Overloaded | AccountStatus::RateLimited => {
                self.cooldown_until.filter(|u| *u > now)
            }
            _ => None,
        }
    }

    /// The next 529/5xx cooldown: `base` after a success, else double the previous (capped).
    fn backoff(&mut self, base: i64, cfg: &HealthConfig) -> i64 {
        let ms = if self.backoff_ms > 0 {
            self.backoff_ms.saturating_mul(2)
        } else {
            base
        }
        .min(cfg.max_cooldown_ms)
        .max(1);
        self.backoff_ms = ms;
        ms
    }

    fn doubled(&self, base: i64, cfg: &HealthConfig) -> i64 {
        let previous = if self.last_cooldown_ms > 0 {
            self.last_cooldown_ms
        } else {
            base
        };
        (previous.saturating_mul(2)).min(cfg.max_cooldown_ms)
    }

    /// An account test (a probe with a request of our own, valid by construction) was refused
    /// for its credential: that alone is evidence enough.
    pub fn credential_refused(
        &mut self,
        status: u16,
        message: String,
        now: i64,
    ) -> Option<Transition> {
        self.auth_failures.clear();
        let message = format!("an account test was refused: {message}");
        self.enter(AccountStatus::Error, Some(status), message, None, now)
    }

    /// An admin reset (or a successful account test) clears everything.
    pub fn reset(&mut self, now: i64) -> Option<Transition> {
        self.failures.clear();
        self.auth_failures.clear();
        self.last_cooldown_ms = 0;
        self.backoff_ms = 0;
        self.enter(AccountStatus::Active, None, "reset".into(), None, now)
    }
}

#[cfg(test)]
mod tests;
