//! Configuration from flags and the environment: every option has a flag and an environment
//! variable; secrets are wrapped in [`Secret`] so `Debug` output and logs never show them.
//! [`CommonOpts`] is what every command needs (storage, logging, the time zone of days);
//! [`ServeOpts`] what `serve` adds. The commands themselves are declared in `cli`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, ValueEnum};

use crate::secret::Secret;

/// Options every subcommand needs: where the data lives and how to log.
#[derive(Args, Debug, Clone)]
pub struct CommonOpts {
    /// Database URL: `sqlite://path.db` or `postgres://...`. Default: a SQLite file in the data dir.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<Secret<String>>,
    /// Directory for the default SQLite database and the generated encryption key.
    #[arg(long, env = "TOLLGATE_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// 32-byte key (64 hex chars or base64) for credentials at rest. Default: `<data dir>/encryption.key`,
    /// generated on first start with mode 0600.
    #[arg(long, env = "ENCRYPTION_KEY", global = true, hide_env_values = true)]
    pub encryption_key: Option<Secret<String>>,
    /// Log filter, e.g. `info` or `tollgate=debug,info`.
    #[arg(long, env = "LOG_LEVEL", default_value = "info", global = true)]
    pub log_level: String,
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// Time zone of days (IANA name, e.g. Asia/Shanghai): daily cost limits, the daily rollups,
    /// reports, charts and exports.
    #[arg(long, env = "TOLLGATE_TIMEZONE", default_value = "UTC", global = true)]
    pub timezone: chrono_tz::Tz,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct ServeOpts {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// Username of the first administrator, created on first start.
    #[arg(long, env = "ADMIN_USERNAME", default_value = "admin")]
    pub admin_username: String,
    /// Password of the first administrator; generated and printed once when unset.
    #[arg(long, env = "ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<Secret<String>>,
    /// Directory with the built dashboard assets (`pkg/`, CSS, `public/`).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
    /// Public base URL; an `https://` URL marks the session cookie `Secure`.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Trust `X-Forwarded-For` / `X-Real-IP` for client addresses (only behind your own proxy):
    /// the client is the rightmost address that is not one of `TRUSTED_PROXIES`.
    #[arg(long, env = "TRUST_PROXY_HEADERS", default_value_t = false)]
    pub trust_proxy_headers: bool,
    /// Addresses or CIDR ranges of the proxies in front of Tollgate, comma-separated. Unset, the
    /// socket peer is the one trusted proxy.
    #[arg(long, env = "TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
    /// Dashboard session lifetime after the last request.
    #[arg(long, env = "SESSION_TTL_HOURS", default_value_t = 12)]
    pub session_ttl_hours: u64,
    /// Lifetime of REST API tokens from `POST /admin/auth/login`.
    #[arg(long, env = "ADMIN_TOKEN_TTL_HOURS", default_value_t = 24)]
    pub admin_token_ttl_hours: u64,
    /// Seconds in-flight requests and streams may take to finish after SIGTERM.
    #[arg(long, env = "SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,
    #[command(flatten)]
    pub relay: RelayOpts,
    #[command(flatten)]
    pub guard: crate::limits::budget::GuardOpts,
    #[command(flatten)]
    pub webhooks: crate::webhooks::WebhookOpts,
    #[command(flatten)]
    pub scheduler: SchedulerOpts,
    #[command(flatten)]
    pub ops: crate::ops::OpsOpts,
    #[command(flatten)]
    pub cluster: crate::limits::cluster::ClusterOpts,
}

/// Data-plane settings.
#[derive(Args, Debug, Clone)]
pub struct RelayOpts {
    /// Largest accepted request body, in MiB.
    #[arg(long, env = "REQUEST_BODY_LIMIT_MB", default_value_t = 32)]
    pub body_limit_mb: usize,
    #[arg(long, env = "UPSTREAM_CONNECT_TIMEOUT_MS", default_value_t = 10_000)]
    pub connect_timeout_ms: u64,
    /// Time allowed until the upstream's response headers arrive (non-streaming answers arrive whole).
    #[arg(
        long,
        env = "UPSTREAM_FIRST_BYTE_TIMEOUT_MS",
        default_value_t = 600_000
    )]
    pub first_byte_timeout_ms: u64,
    /// Time a stream may take, after its headers, to send its first content event; beyond it
    /// the stream is abandoned and the request fails over (accounts can set their own).
    #[arg(long, env = "FIRST_TOKEN_TIMEOUT_MS", default_value_t = 60_000)]
    pub first_token_timeout_ms: u64,
    /// Longest silence allowed between two chunks of an upstream stream.
    #[arg(long, env = "UPSTREAM_IDLE_TIMEOUT_MS", default_value_t = 300_000)]
    pub idle_timeout_ms: u64,
    /// Minutes of real-time figures kept in memory for the dashboard's overview.
    #[arg(long, env = "METRICS_WINDOW", default_value_t = 5)]
    pub metrics_window_minutes: u32,
    /// Concurrency an account without `maxConcurrency` counts as, for pool utilization.
    #[arg(long, env = "DEFAULT_ACCOUNT_CAPACITY", default_value_t = 10)]
    pub default_account_capacity: u32,
    /// Pool utilization (in flight ÷ capacity, per platform) above which `pool.saturated` fires
    /// once it has lasted `POOL_SATURATION_MINUTES`.
    #[arg(long, env = "POOL_SATURATION_THRESHOLD", default_value_t = 0.9)]
    pub pool_saturation_threshold: f64,
    #[arg(long, env = "POOL_SATURATION_MINUTES", default_value_t = 5)]
    pub pool_saturation_minutes: u64,
    /// Path of a pricing table (LiteLLM `model_prices_and_context_window.json` format) to use
    /// instead of the one built in.
    #[arg(long, env = "PRICING_FILE")]
    pub pricing_file: Option<PathBuf>,
    /// URL of a pricing table (same format, e.g. LiteLLM's upstream file) fetched at start and
    /// every `PRICING_REFRESH_HOURS`; a failed or unsound fetch keeps the current table.
    #[arg(long, env = "PRICING_URL")]
    pub pricing_url: Option<String>,
    #[arg(long, env = "PRICING_REFRESH_HOURS", default_value_t = 24.0)]
    pub pricing_refresh_hours: f64,
}

/// Everything `serve` runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonOpts,
    pub serve: ServeOpts,
}

impl Settings {
    /// The database URL: the configured one, else the default SQLite file in the data dir.
    pub fn database_url(&self) -> String {
        self.common.database_url_or_default()
    }

    /// The time zone of days (`TOLLGATE_TIMEZONE`).
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.common.timezone
    }
}

impl CommonOpts {
    pub fn database_url_or_default(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().clone(),
            None => crate::storage::Store::default_url(&self.data_dir),
        }
    }

    /// Defaults from the environment, as with no flags.
    pub fn from_env() -> Self {
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            opts: CommonOpts,
        }
        Wrapper::parse_from(["tollgate"]).opts
    }
}

/// Account scheduling: sticky sessions, failover, cooldowns.
#[derive(Args, Debug, Clone)]
pub struct SchedulerOpts {
    /// How long a conversation stays on the account that served it.
    #[arg(long, env = "STICKY_SESSION_TTL_HOURS", default_value_t = 1.0)]
    pub sticky_ttl_hours: f64,
    /// A use within this many minutes of expiry renews the mapping to the full TTL (0 = never).
    #[arg(
        long,
        env = "STICKY_SESSION_RENEWAL_THRESHOLD_MINUTES",
        default_value_t = 0
    )]
    pub sticky_renewal_threshold_minutes: u64,
    /// A sticky account cooling down for less than this is kept (served elsewhere meanwhile).
    #[arg(long, env = "STICKY_UNAVAILABLE_GRACE_SECS", default_value_t = 60)]
    pub sticky_grace_secs: u64,
    /// Accounts tried per request before the error goes to the client.
    #[arg(long, env = "FAILOVER_MAX_ATTEMPTS", default_value_t = 3)]
    pub failover_max_attempts: u32,
    /// First cooldown after a 529 (overloaded); each repeat without a success in between doubles
    /// it, up to `MAX_COOLDOWN_SECS`.
    #[arg(long, env = "OVERLOAD_COOLDOWN_SECS", default_value_t = 30)]
    pub overload_cooldown_secs: u64,
    /// Cooldown after a 429 that announces no reset time.
    #[arg(long, env = "RATE_LIMIT_DEFAULT_COOLDOWN_SECS", default_value_t = 60)]
    pub rate_limit_default_secs: u64,
    /// Upper bound for any cooldown, including the doubling after failed probes.
    #[arg(long, env = "MAX_COOLDOWN_SECS", default_value_t = 3600)]
    pub max_cooldown_secs: u64,
    /// 5xx answers or timeouts within the window that put an account into cooldown.
    #[arg(long, env = "ERROR_THRESHOLD_COUNT", default_value_t = 3)]
    pub error_threshold: u32,
    #[arg(long, env = "ERROR_THRESHOLD_WINDOW_SECS", default_value_t = 60)]
    pub error_window_secs: u64,
    /// First cooldown after the error threshold is reached (doubling like the 529 cooldown).
    #[arg(long, env = "ERROR_COOLDOWN_SECS", default_value_t = 30)]
    pub error_cooldown_secs: u64,
}

impl ServeOpts {
    /// The options as they are with no flags, from the environment and defaults.
    pub fn from_env() -> Self {
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            opts: ServeOpts,
        }
        Wrapper::parse_from(["tollgate"]).opts
    }
}

impl RelayOpts {
    pub fn body_limit_bytes(&self) -> usize {
        self.body_limit_mb.saturating_mul(1024 * 1024)
    }
}
