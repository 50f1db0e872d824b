//! The command line: `tollgate [serve|migrate|admin|keys|accounts|usage|import]`. Each command's
//! own arguments live with the command (`cli::keys`, `cli::accounts`, `cli::usage`,
//! `cli::import`); the options they share are `config::CommonOpts`.

use clap::{Parser, Subcommand};

use crate::config::{CommonOpts, ServeOpts};
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
    /// API keys: batch creation to CSV and cleanup of expired keys (cron-ready).
    Keys {
        #[command(subcommand)]
        command: crate::cli::keys::KeysCommand,
    },
    /// Upstream accounts: test them all (cron-ready, exit 1 when any fails).
    Accounts {
        #[command(subcommand)]
        command: crate::cli::accounts::AccountsCommand,
    },
    /// Usage events: export a range of days as CSV or JSON.
    Usage {
        #[command(subcommand)]
        command: crate::cli::usage::UsageCommand,
    },
    /// Bring another relay's accounts, groups, keys and usage over (idempotent).
    Import {
        #[command(subcommand)]
        command: crate::cli::import::ImportCommand,
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
