//! `tollgate accounts check`: tests every active upstream account the way the dashboard's
//! "test" button does (a one-token request through the account's own proxy), prints a table,
//! and exits 1 when any account fails — for cron and monitoring. It also reports every account
//! budget (`budgets`) and exits 1 when one is exhausted or projected to run out within
//! `--budget-within`. With `--webhook`, each failure
//! is announced as `account.error` through the configured webhooks before the command exits.

use std::io::Write;
use std::sync::Arc;

use app::port::AccountsPort;
use app::types::{Account, AccountTestResult, Platform};
use clap::{Args, Subcommand};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admin::AdminService;
use crate::config::{CommonOpts, ServeOpts, Settings};
use crate::crypto::Cipher;
use crate::relay::control::RelayControl;
use crate::storage::Store;
use crate::webhooks::{EventKind, Webhooks};

const EXIT_FAILURE: i32 = 1;
/// Where `serve` keeps a generated key (see `crypto`); the check must never create one.
const KEY_FILE: &str = "encryption.key";
const ERROR_COLUMN_MAX_CHARS: usize = 160;

#[derive(Subcommand, Debug)]
pub enum AccountsCommand {
    /// Test every active account through its own proxy and print a table.
    /// Exit status: 0 all passed, 1 any failed (or the check could not run), 2 bad arguments.
    Check(AccountsCheckArgs),
}

#[derive(Args, Debug, Clone)]
pub struct AccountsCheckArgs {
    /// Only accounts of this platform: claude, openai or gemini.
    #[arg(long, value_parser = parse_platform)]
    pub platform: Option<Platform>,
    /// Announce each failed account as an `account.error` webhook event (WEBHOOK_URLS and the
    /// dashboard's targets) and wait for delivery before exiting.
    #[arg(long)]
    pub webhook: bool,
    /// Accounts tested at the same time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub parallel: u32,
    /// Fail (exit 1) when an account budget is exhausted or projected to run out within this
    /// time (`12h`, `3d`, `0` for exhausted only).
    #[arg(long, default_value = "3d", value_parser = super::keys::parse_age)]
    pub budget_within: std::time::Duration,
    /// Only report budgets; do not test the accounts.
    #[arg(long)]
    pub budgets_only: bool,
}

fn parse_platform(text: &str) -> Result<Platform, String> {
    Platform::parse(&text.to_ascii_lowercase())
        .ok_or_else(|| format!("'{text}' is not one of claude, openai, gemini"))
}

/// Runs an `accounts` command and returns the process exit status. Errors go to stderr.
pub async fn run(common: &CommonOpts, command: AccountsCommand) -> i32 {
    let AccountsCommand::Check(args) = command;
    let store = match super::open(common).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e:#}");
            return EXIT_FAILURE;
        }
    };
    let code = match check(common, store.clone(), &args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_FAILURE
        }
    };
    store.close().await;
    code
}

async fn check(common: &CommonOpts, store: Store, args: &AccountsCheckArgs) -> anyhow::Result<i32> {
    if common.encryption_key.is_none() && !common.data_dir.join(KEY_FILE).exists() {
        anyhow::bail!(
            "no encryption key: set ENCRYPTION_KEY, or TOLLGATE_DATA_DIR to the directory holding {KEY_FILE}, as for `serve`"
        );
    }
    let cipher = Cipher::load(common.encryption_key.as_ref(), &common.data_dir)?;
    let settings = Arc::new(Settings {
        common: common.clone(),
        serve: ServeOpts::from_env(),
    });
    let tasks = TaskTracker::new();
    let stop = CancellationToken::new();
    let (webhooks, worker) =
        Webhooks::new(&settings.serve.webhooks, store.clone(), cipher.clone())?;
    if args.webhook {
        tasks.spawn(worker.run(stop.clone()));
    }
    let relay = crate::relay::Relay::detached(
        settings.clone(),
        store.clone(),
        cipher.clone(),
        webhooks.clone(),
    )?;
    // Loads and decrypts every account, with the statuses `serve` last recorded.
    relay.load_accounts().await?;
    let admin = AdminService::new(store, settings, cipher, webhooks.clone(), relay.clone());

    let alerts = admin.budget_alerts(&app::port::Actor::cli()).await?;
    let within = chrono::Duration::from_std(args.budget_within).unwrap_or(chrono::Duration::MAX);
    let (budget_table, low_budgets) = super::budgets::report(&alerts, chrono::Utc::now(), within);
    let accounts: Vec<Account> = if args.budgets_only {
        Vec::new()
    } else {
        admin
            .list_accounts(&app::port::Actor::cli())
            .await?
            .into_iter()
            .filter(|a| a.is_active && args.platform.is_none_or(|p| a.platform == p))
            .collect()
    };
    if accounts.is_empty() {
        if !args.budgets_only {
            println!("no active accounts to check");
        }
        if args.budgets_only && budget_table.is_empty() {
            println!("no account budgets");
        }
        print!("{budget_table}");
        if args.webhook {
            stop.cancel();
            tasks.close();
            tasks.wait().await;
        }
        return Ok(if low_budgets > 0 { EXIT_FAILURE } else { 0 });
    }
    let results: Vec<(Account, AccountTestResult)> = futures::stream::iter(accounts)
        .map(|account| {
            let admin = &admin;
            async move {
                let result = admin
                    .test_account(&app::port::Actor::cli(), &account.id)
                    .await
                    .unwrap_or_else(|e| AccountTestResult {
                        ok: false,
                        latency_ms: 0,
                        http_status: None,
                        model: String::new(),
                        error: Some(e.to_string()),
                    });
                (account, result)
            }
        })
        .buffered(args.parallel as usize)
        .collect()
        .await;

    // With several instances (`CLUSTER=1`): a test that put an account in error or cleared
    // one is announced to the running instances, as the dashboard's test button does.
    if !crate::scheduler::cluster::publish_queued(relay.pool()).await {
        eprintln!("warning: the accounts' new health could not be announced to running instances");
    }
    let failed = results.iter().filter(|(_, r)| !r.ok).count();
    let mut out = table(&results);
    out.push_str(&format!(
        "{} accounts checked: {} ok, {failed} failed\n",
        results.len(),
        results.len() - failed
    ));
    out.push_str(&budget_table);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())?;
    drop(stdout);

    if args.webhook {
        for (account, result) in results.iter().filter(|(_, r)| !r.ok) {
            webhooks.emit(
                EventKind::AccountError,
                serde_json::json!({
                    "accountId": account.id,
                    "accountName": account.name,
                    "platform": account.platform.as_str(),
                    "httpStatus": result.http_status,
                    "message": result.error.clone().unwrap_or_default(),
                    "source": "tollgate accounts check",
                }),
            );
        }
        // The worker delivers what is queued (with its retries, within its drain time) and stops.
        stop.cancel();
        tasks.close();
        tasks.wait().await;
    }
    Ok(if failed > 0 || low_budgets > 0 {
        EXIT_FAILURE
    } else {
        0
    })
}

fn result_column(r: &AccountTestResult) -> (&'static str, String) {
    if r.ok {
        return ("ok", "-".to_owned());
    }
    let message = r
        .error
        .as_deref()
        .unwrap_or("failed")
        .replace(['\n', '\r', '\t'], " ");
    let message = crate::webhooks::event::truncate_chars(&message, ERROR_COLUMN_MAX_CHARS);
    let error = match r.http_status {
        Some(status) => format!("HTTP {status}: {message}"),
        None => message,
    };
    ("FAIL", error)
}

/// Aligned columns; the last one (the error) is left ragged.
fn table(results: &[(Account, AccountTestResult)]) -> String {
    let header = ["NAME", "PLATFORM", "STATUS", "RESULT", "LATENCY", "ERROR"].map(str::to_owned);
    let rows: Vec<[String; 6]> = results
        .iter()
        .map(|(a, r)| {
            let (result, error) = result_column(r);
            [
                a.name.replace(['\n', '\r', '\t'], " "),
                a.platform.as_str().to_owned(),
                a.status.as_str().to_owned(),
                result.to_owned(),
                format!("{} ms", r.latency_ms),
                error,
            ]
        })
        .collect();
    let mut widths = [0usize; 6];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        for (i, cell) in row.iter().enumerate() {
            if i == row.len() - 1 {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_case_insensitively() {
        assert_eq!(parse_platform("Claude"), Ok(Platform::Claude));
        assert!(parse_platform("azure").is_err());
    }

    #[test]
    fn failures_show_status_and_a_single_line_message() {
        let r = AccountTestResult {
            ok: false,
            latency_ms: 12,
            http_status: Some(401),
            model: "m".into(),
            error: Some("invalid\nx-api-key".into()),
        };
        assert_eq!(
            result_column(&r),
            ("FAIL", "HTTP 401: invalid x-api-key".to_owned())
        );
        let ok = AccountTestResult {
            ok: true,
            error: None,
            ..r
        };
        assert_eq!(result_column(&ok).0, "ok");
    }
}
