//! Webhooks: telling operators when accounts, keys or the pool change state.
//!
//! Emitters (the relay, key limits, the scheduler) call [`Webhooks::emit`], which never blocks;
//! a background worker ([`dispatcher`]) delivers each event to the `WEBHOOK_URLS` targets (when
//! `WEBHOOK_ENABLED`) and to the enabled dashboard targets subscribed to it, in the target's
//! format ([`formats`]), with retries and a delivery log ([`delivery`]). [`TransitionLatch`]
//! helps emitters fire once per state change instead of once per request.

pub mod config;
pub mod delivery;
pub mod dispatcher;
pub mod event;
pub mod formats;
pub mod latch;
mod quota;
pub mod target;

pub use config::WebhookOpts;
pub use delivery::{Attempt, Deliverer, Retry};
pub use dispatcher::{Webhooks, Worker};
pub use event::{EventKind, WebhookEvent};
pub use latch::TransitionLatch;
pub use target::{Target, TargetKind};
