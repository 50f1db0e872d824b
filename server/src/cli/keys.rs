//! `tollgate keys create|cleanup`: the admin service's key rules from the command line, for
//! shops and cron. Plain output (CSV or one tab-separated line per key), no prompts, no colour;
//! exit status 0 on success, 1 on failures, 2 on bad arguments.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use app::error::AdminError;
use app::port::KeysPort;
use app::types::{BatchCreateKeys, KeySettings, When};
use chrono::{DateTime, SecondsFormat, Utc};
use clap::{Args, Subcommand};

use crate::admin::AdminService;
use crate::config::{CommonOpts, ServeOpts, Settings};
use crate::crypto::Cipher;
use crate::storage::Store;

const EXIT_FAILURE: i32 = 1;
const EXIT_USAGE: i32 = 2;
const DAY_MS: i64 = 86_400_000;

/// `tollgate keys ...`: the same rules as the REST API, without a running server.
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create keys in one transaction and print them as CSV (name,key,id,expiresAt,quotaLimit)
    /// on stdout. The keys are shown this once only.
    Create(Box<KeysCreateArgs>),
    /// Soft-delete keys whose validity ended more than --older-than ago; usage history stays.
    /// Exit status: 0 done (also when nothing was due), 1 failure, 2 bad arguments.
    Cleanup(KeysCleanupArgs),
}

#[derive(Args, Debug, Clone)]
pub struct KeysCreateArgs {
    /// How many keys to create (1-1000), named by --name-template.
    #[arg(
        long,
        required_unless_present = "names_file",
        conflicts_with = "names_file"
    )]
    pub count: Option<u32>,
    /// Key names: `{n}` is the number (zero-padded to the width of --count); with
    /// --names-file, `{name}` or `[订单号]` is each line.
    #[arg(long)]
    pub name_template: Option<String>,
    /// One key per non-empty line (e.g. order numbers); `-` reads stdin.
    #[arg(long, value_name = "FILE")]
    pub names_file: Option<PathBuf>,
    /// Quota in USD (0 = unlimited).
    #[arg(long, value_name = "USD")]
    pub quota: Option<f64>,
    /// Fixed expiry this many days from now.
    #[arg(long, value_name = "DAYS", conflicts_with_all = ["activation_days", "expires_at"])]
    pub expires_in_days: Option<u32>,
    /// Fixed expiry: a date (`2026-01-18`, the end of that day in TOLLGATE_TIMEZONE) or a time
    /// (`2026-01-18T12:00:00Z`).
    #[arg(long, value_name = "DATE", value_parser = When::parse, conflicts_with = "activation_days")]
    pub expires_at: Option<When>,
    /// Validity that starts at the key's first request.
    #[arg(long, value_name = "DAYS")]
    pub activation_days: Option<u32>,
    /// Requests in flight at once (0 = unlimited).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<u32>,
    /// Enables the wait queue for requests over the concurrency limit, with this many places.
    #[arg(long, value_name = "N")]
    pub queue_size: Option<u32>,
    /// How long a queued request waits (enables the queue).
    #[arg(long, value_name = "MS")]
    pub queue_timeout_ms: Option<u64>,
    /// Rate limit window in minutes.
    #[arg(long, value_name = "MINUTES")]
    pub rate_window: Option<u32>,
    /// Requests allowed per rate limit window.
    #[arg(long, value_name = "N")]
    pub rate_requests: Option<u32>,
    /// Start from this preset's settings (e.g. preset-trial); other flags override them.
    #[arg(long, value_name = "ID")]
    pub preset: Option<String>,
    /// What each key was sold for, in --currency.
    #[arg(long, value_name = "PRICE")]
    pub sale_price: Option<f64>,
    /// 3-letter currency code of --sale-price (default USD).
    #[arg(long, value_name = "CODE")]
    pub currency: Option<String>,
    /// Comma-separated tags.
    #[arg(long, value_delimiter = ',', value_name = "TAGS")]
    pub tags: Vec<String>,
}

#[derive(Args, Debug, Clone)]
pub struct KeysCleanupArgs {
    /// List what would be deleted without changing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Only keys that expired more than this long ago: `0`, `30m`, `12h`, `7d`.
    #[arg(long, default_value = "0", value_name = "DURATION", value_parser = parse_age)]
    pub older_than: std::time::Duration,
    /// Print nothing on success (errors still go to stderr).
    #[arg(long, short)]
    pub quiet: bool,
}

/// Parses `0`, `45s`, `30m`, `12h` or `7d`.
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let split = text.len().saturating_sub(1);
    let (number, unit) = (
        text.get(..split).unwrap_or(""),
        text.get(split..).unwrap_or(""),
    );
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("'{text}' needs a unit: s, m, h or d (e.g. 7d)")),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a whole number followed by s, m, h or d"))?;
    n.checked_mul(seconds_per_unit)
        .filter(|s| *s <= i64::MAX as u64 / 1000)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("'{text}' is too long"))
}

/// Runs a `keys` command and returns the process exit status. Errors go to stderr.
pub async fn run(common: &CommonOpts, command: KeysCommand) -> i32 {
    let store = match super::open(common).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e:#}");
            return EXIT_FAILURE;
        }
    };
    let code = match service(common, store.clone()) {
        Ok(admin) => match command {
            KeysCommand::Create(args) => create(&admin, *args).await,
            KeysCommand::Cleanup(args) => cleanup(&admin, args).await,
        },
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_FAILURE
        }
    };
    store.close().await;
    code
}

/// The admin service over `store`, as `serve` builds it, minus what the key rules never use:
/// the webhook worker is not started and the cipher is a throw-away one (no credential is read
/// or written here), so running from cron never creates files in the working directory.
fn service(common: &CommonOpts, store: Store) -> anyhow::Result<AdminService> {
    let settings = Arc::new(Settings {
        common: common.clone(),
        serve: ServeOpts::from_env(),
    });
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let cipher = Cipher::from_key_bytes(&key);
    let (webhooks, _idle_worker) =
        crate::webhooks::Webhooks::new(&settings.serve.webhooks, store.clone(), cipher.clone())?;
    let relay = crate::relay::Relay::detached(
        settings.clone(),
        store.clone(),
        cipher.clone(),
        webhooks.clone(),
    )?;
    Ok(AdminService::new(store, settings, cipher, webhooks, relay))
}

/// The command line flag behind a JSON field, for error messages.
fn flag_of(field: &str) -> &str {
    match field {
        "count" => "--count",
        "nameTemplate" => "--name-template",
        "names" => "--names-file",
        "quotaLimit" => "--quota",
        "expiresAt" => "--expires-in-days",
        "activationDays" => "--activation-days",
        "concurrencyLimit" => "--concurrency",
        "concurrentRequestQueueMaxSize" => "--queue-size",
        "concurrentRequestQueueTimeoutMs" => "--queue-timeout-ms",
        "rateLimitWindow" => "--rate-window",
        "rateLimitRequests" => "--rate-requests",
        "presetId" => "--preset",
        "salePrice" => "--sale-price",
        "currency" => "--currency",
        "tags" => "--tags",
        other => other,
    }
}

fn report(e: &AdminError) -> i32 {
    match e {
        AdminError::Validation { field, message } => {
            eprintln!("error: {}: {message}", flag_of(field));
            EXIT_USAGE
        }
        other => {
            eprintln!("error: {other}");
            EXIT_FAILURE
        }
    }
}

fn read_names(path: &std::path::Path) -> std::io::Result<Vec<String>> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text = std::fs::read_to_string(path)?;
    }
    // Spreadsheet exports often start with a byte order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    Ok(text.lines().map(str::to_owned).collect())
}

fn batch_request(args: KeysCreateArgs, names: Option<Vec<String>>) -> BatchCreateKeys {
    let now = Utc::now().timestamp_millis();
    let queue = args.queue_size.is_some() || args.queue_timeout_ms.is_some();
    BatchCreateKeys {
        count: args.count,
        name_template: args.name_template,
        names,
        settings: KeySettings {
            tags: (!args.tags.is_empty()).then_some(args.tags),
            quota_limit: args.quota,
            expires_at: args
                .expires_in_days
                .and_then(|d| DateTime::from_timestamp_millis(now + i64::from(d) * DAY_MS))
                .map(When::At)
                .or(args.expires_at),
            activation_days: args.activation_days,
            concurrency_limit: args.concurrency,
            concurrent_request_queue_enabled: queue.then_some(true),
            concurrent_request_queue_max_size: args.queue_size,
            concurrent_request_queue_timeout_ms: args.queue_timeout_ms,
            rate_limit_window: args.rate_window,
            rate_limit_requests: args.rate_requests,
            sale_price: args.sale_price,
            currency: args.currency,
            preset_id: args.preset,
            ..Default::default()
        },
    }
}

async fn create(admin: &AdminService, args: KeysCreateArgs) -> i32 {
    let names = match &args.names_file {
        Some(path) => match read_names(path) {
            Ok(names) => Some(names),
            Err(e) => {
                eprintln!("error: --names-file {}: {e}", path.display());
                return EXIT_USAGE;
            }
        },
        None => None,
    };
    let created = match admin
        .batch_create_keys(&app::port::Actor::cli(), batch_request(args, names))
        .await
    {
        Ok(created) => created,
        Err(e) => return report(&e),
    };
    let csv = crate::keys::csv::document(&created);
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(csv.as_bytes()).and_then(|()| out.flush()) {
        // The keys exist but their plaintext is lost: say so, so they can be deleted.
        eprintln!(
            "error: writing the CSV failed ({e}); {} keys were created and should be deleted",
            created.len()
        );
        return EXIT_FAILURE;
    }
    0
}

fn format_age(age: Duration) -> String {
    let secs = age.as_secs();
    match secs {
        0 => "0".to_owned(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

async fn cleanup(admin: &AdminService, args: KeysCleanupArgs) -> i32 {
    let older_than_ms = i64::try_from(args.older_than.as_millis()).unwrap_or(i64::MAX);
    let keys = match admin
        .cleanup_expired_keys(&app::port::Actor::cli(), older_than_ms, args.dry_run)
        .await
    {
        Ok(keys) => keys,
        Err(e) => return report(&e),
    };
    if args.quiet {
        return 0;
    }
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    let mut out = String::new();
    for key in &keys {
        let expired = DateTime::<Utc>::from_timestamp_millis(key.expired_at)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
            .unwrap_or_default();
        out.push_str(&format!("{verb}\t{}\t{expired}\t{}\n", key.id, key.name));
    }
    let age = format_age(args.older_than);
    out.push_str(&match (keys.len(), args.dry_run) {
        (0, _) => format!("no keys expired more than {age} ago\n"),
        (n, true) => format!("dry run: {n} keys expired more than {age} ago would be deleted\n"),
        (n, false) => format!("{n} keys expired more than {age} ago deleted\n"),
    });
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: writing the report failed: {e}");
            EXIT_FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_age("0"), Ok(Duration::ZERO));
        assert_eq!(parse_age("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_age("12h"), Ok(Duration::from_secs(12 * 3_600)));
        assert_eq!(parse_age("30m"), Ok(Duration::from_secs(1_800)));
        assert_eq!(parse_age("45s"), Ok(Duration::from_secs(45)));
        for bad in ["", "7", "d", "7w", "-1d", "1.5h", "99999999999999999d"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
        assert_eq!(format_age(Duration::from_secs(7 * 86_400)), "7d");
        assert_eq!(format_age(Duration::from_secs(90)), "90s");
    }
}
