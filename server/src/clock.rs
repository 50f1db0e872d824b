//! Time as a dependency: the real clock in production, a hand-moved one in tests, so a test of a
//! TTL or a backoff advances time instead of sleeping through it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Wall-clock time in epoch milliseconds (the unit of every stored time) and a way to wait.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> i64;
    /// Waits `duration` of this clock's time.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// The clock handed to components; cheap to clone.
pub type SharedClock = Arc<dyn Clock>;

/// The system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        system_now_ms()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// The system's wall clock in epoch milliseconds, read straight from `SystemTime` (every
/// request reads it several times; going through a calendar type costs a date conversion each).
pub fn system_now_ms() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that moves only when told to. `sleep` moves it forward by the time slept and returns
/// at once, so code that waits can be tested without waiting; [`ManualClock::slept_ms`] tells how
/// long it would have waited.
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicI64,
    slept: AtomicI64,
}

impl ManualClock {
    /// A clock starting at the real current time.
    pub fn new() -> Arc<ManualClock> {
        Arc::new(ManualClock {
            now: AtomicI64::new(chrono::Utc::now().timestamp_millis()),
            slept: AtomicI64::new(0),
        })
    }

    pub fn advance(&self, by: Duration) {
        self.now.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }

    /// Total time spent in `sleep` so far.
    pub fn slept_ms(&self) -> i64 {
        self.slept.load(Ordering::SeqCst)
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let ms = duration.as_millis() as i64;
        self.slept.fetch_add(ms, Ordering::SeqCst);
        self.now.fetch_add(ms, Ordering::SeqCst);
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new();
        let t0 = clock.now_ms();
        clock.advance(Duration::from_secs(2));
        assert_eq!(clock.now_ms(), t0 + 2000);
        clock.sleep(Duration::from_millis(250)).await;
        assert_eq!(clock.now_ms(), t0 + 2250);
        assert_eq!(clock.slept_ms(), 250);
    }

    #[test]
    fn system_time_in_epoch_milliseconds_as_a_calendar_reads_it() {
        let before = chrono::Utc::now().timestamp_millis();
        let now = system_now_ms();
        let after = chrono::Utc::now().timestamp_millis();
        assert!(
            before <= now && now <= after,
            "{before} <= {now} <= {after}"
        );
        assert!(now > 1_700_000_000_000, "{now} is not epoch milliseconds");
    }
}
