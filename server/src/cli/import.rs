//! `tollgate import crs`: the claude-relay-service importer from the command line, against the
//! same database and encryption key as `serve`. Prints the report (a table, or `--json`); exit
//! status 0 done, 1 failure (nothing written), 2 bad arguments.

use std::io::Write;

use app::types::{ImportKind, ImportReport};
use clap::{Args, Subcommand};

use crate::config::CommonOpts;
use crate::crypto::Cipher;
use crate::import::crs::{self, CrsImportOptions, ImportError};
use crate::secret::Secret;

const EXIT_FAILURE: i32 = 1;
const EXIT_USAGE: i32 = 2;

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Import a claude-relay-service (CRS 1.1.x) Redis: API-key accounts, groups, API keys
    /// (their `cr_...` strings keep working) and usage history. Idempotent; stop CRS first.
    Crs(ImportCrsArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ImportCrsArgs {
    /// The CRS Redis, read only: `redis://[:password@]host:port[/db]`.
    #[arg(long, env = "CRS_REDIS_URL", hide_env_values = true)]
    pub redis_url: Secret<String>,
    /// CRS's ENCRYPTION_KEY (its .env): decrypts account credentials; the salt of its key hashes.
    #[arg(long, env = "CRS_ENCRYPTION_KEY", hide_env_values = true)]
    pub crs_encryption_key: Option<Secret<String>>,
    /// One of CRS's keys (`cr_...`), to check the encryption key when CRS holds no account
    /// credential to check it against.
    #[arg(long, hide_env_values = true)]
    pub crs_sample_key: Option<Secret<String>>,
    /// Print what would happen; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only these (comma-separated): accounts, groups, keys. Keys bring their usage.
    #[arg(long, value_delimiter = ',', value_parser = parse_kind)]
    pub only: Vec<ImportKind>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_kind(s: &str) -> Result<ImportKind, String> {
    ImportKind::parse(s).ok_or_else(|| format!("'{s}' is not one of accounts, groups, keys"))
}

/// Runs an `import` command and returns the process exit status.
pub async fn run(common: &CommonOpts, command: ImportCommand) -> i32 {
    let ImportCommand::Crs(args) = command;
    let cipher = match Cipher::load(common.encryption_key.as_ref(), &common.data_dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: loading the encryption key: {e:#}");
            return EXIT_FAILURE;
        }
    };
    let store = match super::open(common).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e:#}");
            return EXIT_FAILURE;
        }
    };
    let opts = CrsImportOptions {
        redis_url: args.redis_url.expose().clone(),
        encryption_key: args.crs_encryption_key,
        sample_key: args.crs_sample_key,
        dry_run: args.dry_run,
        only: args.only,
        started_by: "cli".into(),
        actor: Some(app::port::Actor::cli()),
    };
    let code = match crs::run(&store, &cipher, &opts).await {
        Ok(outcome) => {
            let mut out = std::io::stdout().lock();
            let printed = if args.json {
                serde_json::to_writer_pretty(&mut out, &outcome.report)
                    .map_err(std::io::Error::other)
                    .and_then(|_| writeln!(out))
            } else {
                print_report(&mut out, &outcome.report)
            };
            match printed {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("error: writing the report: {e}");
                    EXIT_FAILURE
                }
            }
        }
        Err(ImportError::Invalid { field, message }) => {
            eprintln!("error: {}: {message}", flag_of(field));
            EXIT_USAGE
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_FAILURE
        }
    };
    store.close().await;
    code
}

fn flag_of(field: &str) -> &str {
    match field {
        "redisUrl" => "--redis-url",
        "crsEncryptionKey" => "--crs-encryption-key",
        "crsSampleKey" => "--crs-sample-key",
        other => other,
    }
}

/// One line per item (tab-separated: kind, outcome, source type, source id, name, Tollgate id),
/// its notes indented below, then the totals.
fn print_report(out: &mut impl Write, r: &ImportReport) -> std::io::Result<()> {
    let mode = if r.dry_run {
        " (dry run: nothing written)"
    } else {
        ""
    };
    let version = r.source_version.as_deref().unwrap_or("unknown version");
    writeln!(out, "CRS import from {} ({version}){mode}", r.source)?;
    for n in &r.notes {
        writeln!(out, "note: {}", n.message)?;
    }
    for it in &r.items {
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}",
            it.kind.as_str(),
            it.outcome.as_str(),
            it.source_type,
            it.source_id,
            it.name,
            it.local_id.as_deref().unwrap_or("-")
        )?;
        for n in &it.notes {
            writeln!(out, "    - {}", n.message)?;
        }
    }
    for (what, c) in [
        ("accounts", r.accounts),
        ("groups", r.groups),
        ("keys", r.keys),
    ] {
        writeln!(
            out,
            "{what}: {} imported, {} updated, {} unchanged, {} skipped",
            c.imported, c.updated, c.unchanged, c.skipped
        )?;
    }
    writeln!(
        out,
        "usage: {} daily rows, {} request records",
        r.usage.daily_rows, r.usage.records
    )?;
    let verb = match (r.dry_run, r.changed) {
        (true, true) => "would change the database",
        (true, false) => "would change nothing",
        (false, true) => "changes written",
        (false, false) => "nothing changed",
    };
    writeln!(out, "{verb}")
}
