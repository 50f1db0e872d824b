//! Webhook settings (`tollgate serve` flags and environment variables).

use std::time::Duration;

use clap::Args;

use crate::secret::Secret;

#[derive(Args, Debug, Clone)]
pub struct WebhookOpts {
    /// Deliver events to the `WEBHOOK_URLS` targets. Targets added in the dashboard deliver
    /// whatever this says.
    #[arg(long, env = "WEBHOOK_ENABLED", default_value_t = false)]
    pub webhook_enabled: bool,
    /// Comma-separated URLs that receive every event as signed generic JSON.
    #[arg(
        long,
        env = "WEBHOOK_URLS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub webhook_urls: Vec<Secret<String>>,
    /// HMAC-SHA256 key of the `X-Tollgate-Signature` header on generic targets without a secret
    /// of their own.
    #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<Secret<String>>,
    /// Time one delivery attempt may take, connecting included.
    #[arg(long, env = "WEBHOOK_TIMEOUT_MS", default_value_t = 5_000)]
    pub webhook_timeout_ms: u64,
    /// Attempts per target and event, the first included.
    #[arg(long, env = "WEBHOOK_MAX_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub webhook_max_attempts: u32,
    /// Wait before the first retry; it doubles with each further retry, up to 5 minutes.
    #[arg(long, env = "WEBHOOK_BACKOFF_MS", default_value_t = 1_000)]
    pub webhook_backoff_ms: u64,
    /// Events waiting for delivery at most; further events are dropped (and counted).
    #[arg(long, env = "WEBHOOK_QUEUE_SIZE", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub webhook_queue_size: u64,
    /// Days the delivery log is kept; 0 keeps it forever.
    #[arg(long, env = "WEBHOOK_LOG_RETENTION_DAYS", default_value_t = 30)]
    pub webhook_log_retention_days: u64,
    /// Share of a key's quota whose use triggers `key.quota_warning` (0 < share ≤ 1).
    #[arg(long, env = "QUOTA_WARNING_SHARE", default_value_t = 0.8, value_parser = parse_share)]
    pub quota_warning_share: f64,
}

const MAX_QUEUE_SIZE: u64 = 1_000_000;

/// The longest wait between two attempts, however large the backoff grows.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

impl WebhookOpts {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.webhook_timeout_ms.max(1))
    }

    /// The wait after failed attempt number `attempt` (1-based): base, 2×base, 4×base, …
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u64 << attempt.saturating_sub(1).min(20);
        Duration::from_millis(self.webhook_backoff_ms.saturating_mul(factor)).min(MAX_BACKOFF)
    }

    /// The queue bound, kept within 1..=1,000,000 even when set in code rather than by flag.
    pub fn queue_size(&self) -> usize {
        usize::try_from(self.webhook_queue_size.clamp(1, MAX_QUEUE_SIZE)).unwrap_or(1)
    }

    /// The configured generic targets, when they are switched on.
    pub fn env_urls(&self) -> impl Iterator<Item = &Secret<String>> {
        self.webhook_urls
            .iter()
            .filter(|u| !u.expose().trim().is_empty())
            .filter(move |_| self.webhook_enabled)
    }
}

fn parse_share(value: &str) -> Result<f64, String> {
    let share: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("{value:?} is not a number"))?;
    if share > 0.0 && share <= 1.0 {
        Ok(share)
    } else {
        Err("must be greater than 0 and at most 1".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        opts: WebhookOpts,
    }

    #[test]
    fn defaults_and_backoff() {
        let opts = Wrapper::parse_from(["t"]).opts;
        assert!(!opts.webhook_enabled);
        assert_eq!(opts.webhook_max_attempts, 5);
        assert_eq!(opts.queue_size(), 1000);
        assert_eq!(opts.quota_warning_share, 0.8);
        let waits: Vec<u64> = (1..=5).map(|a| opts.backoff(a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16]);
        assert_eq!(opts.backoff(40), MAX_BACKOFF);
    }

    #[test]
    fn urls_split_and_only_count_when_enabled() {
        let opts = Wrapper::parse_from([
            "t",
            "--webhook-urls",
            "http://a.example/x,http://b.example/y,",
        ])
        .opts;
        assert_eq!(opts.env_urls().count(), 0, "off unless enabled");
        let opts = Wrapper::parse_from([
            "t",
            "--webhook-enabled",
            "--webhook-urls",
            "http://a.example/x,http://b.example/y,",
        ])
        .opts;
        assert_eq!(opts.env_urls().count(), 2);
        assert!(!format!("{opts:?}").contains("a.example"));
    }

    #[test]
    fn share_is_checked() {
        assert!(Wrapper::try_parse_from(["t", "--quota-warning-share", "1.5"]).is_err());
        assert!(Wrapper::try_parse_from(["t", "--quota-warning-share", "0"]).is_err());
        let opts = Wrapper::parse_from(["t", "--quota-warning-share", "0.9"]).opts;
        assert_eq!(opts.quota_warning_share, 0.9);
    }
}
