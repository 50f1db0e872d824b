//! Command line and environment configuration. Every option has a flag and an environment
//! variable; secrets are wrapped in [`Secret`] so `Debug` output and logs never show them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::secret::Secret;

#[derive(Parser, Debug)]
#[command(
    name = "tollgate",
    version,
    about = "Self-hosted LLM API relay with an admin dashboard"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonOpts,
    #[command(subcommand)]
    pub command: Option<Command>,
}

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
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the relay and the dashboard (the default).
    Serve(Box<ServeOpts>),
    /// Apply database migrations and exit.
    Migrate,
    /// Administrator accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Set a new password for an administrator (created if missing); prints it when generated.
    ResetPassword {
        #[arg(long, default_value = "admin")]
        username: String,
        /// The new password; generated and printed when omitted.
        #[arg(long, env = "NEW_ADMIN_PASSWORD", hide_env_values = true)]
        password: Option<Secret<String>>,
    },
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
    /// Trust `X-Forwarded-For` / `X-Real-IP` for client addresses (only behind your own proxy).
    #[arg(long, env = "TRUST_PROXY_HEADERS", default_value_t = false)]
    pub trust_proxy_headers: bool,
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
    /// Longest silence allowed between two chunks of an upstream stream.
    #[arg(long, env = "UPSTREAM_IDLE_TIMEOUT_MS", default_value_t = 300_000)]
    pub idle_timeout_ms: u64,
    /// Path of a pricing table (LiteLLM `model_prices_and_context_window.json` format) to use
    /// instead of the one built in.
    #[arg(long, env = "PRICING_FILE")]
    pub pricing_file: Option<PathBuf>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let cli = Cli::parse_from([
            "tollgate",
            "--database-url",
            "postgres://u:hunter2@localhost/db",
            "--encryption-key",
            "abcdef",
        ]);
        let dump = format!("{cli:?}");
        assert!(!dump.contains("hunter2"), "{dump}");
        assert!(!dump.contains("abcdef"), "{dump}");
    }
}
