//! `tollgate usage export`: raw usage events between two calendar days (in TOLLGATE_TIMEZONE,
//! `--to` inclusive) to stdout as CSV or JSON, page by page, so exports of any size run in
//! constant memory. Events older than USAGE_RETENTION_DAYS have been pruned; the rollups behind
//! the dashboard's charts are not exported here.

use std::io::Write;

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone};
use chrono_tz::Tz;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use crate::config::CommonOpts;
use crate::storage::usage_export::{ExportRange, ExportedEvent};
use crate::storage::Store;

const EXIT_FAILURE: i32 = 1;
const EXIT_USAGE: i32 = 2;
const PAGE: i64 = 1_000;

#[derive(Subcommand, Debug)]
pub enum UsageCommand {
    /// Print raw usage events (with key and account names) as CSV or JSON.
    /// Exit status: 0 done, 1 failure, 2 bad arguments.
    Export(UsageExportArgs),
}

#[derive(Args, Debug, Clone)]
pub struct UsageExportArgs {
    /// First day, in TOLLGATE_TIMEZONE.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: NaiveDate,
    /// Last day (inclusive), in TOLLGATE_TIMEZONE.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: NaiveDate,
    /// Only the events of this API key (its id).
    #[arg(long, value_name = "ID")]
    pub key: Option<String>,
    /// `csv` (RFC 4180, a header line) or `json` (one array of objects, same field names).
    #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
    pub format: ExportFormat,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
}

/// Runs a `usage` command and returns the process exit status. Errors go to stderr.
pub async fn run(common: &CommonOpts, command: UsageCommand) -> i32 {
    let UsageCommand::Export(args) = command;
    let tz = common.timezone;
    let range = match export_range(&args, tz) {
        Ok(range) => range,
        Err(why) => {
            eprintln!("error: {why}");
            return EXIT_USAGE;
        }
    };
    let store = match super::open(common).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("error: {e:#}");
            return EXIT_FAILURE;
        }
    };
    let code = export(&store, &range, args.format, tz).await;
    store.close().await;
    code
}

/// The first millisecond of `day` in `tz`. A midnight skipped by a daylight-saving change
/// starts the day at the first hour that exists.
fn start_of_day(day: NaiveDate, tz: Tz) -> Option<i64> {
    let midnight = day.and_hms_opt(0, 0, 0)?;
    (0..=3)
        .filter_map(|h| {
            tz.from_local_datetime(&(midnight + chrono::Duration::hours(h)))
                .earliest()
        })
        .map(|t| t.timestamp_millis())
        .next()
}

fn export_range(args: &UsageExportArgs, tz: Tz) -> Result<ExportRange, String> {
    if args.to < args.from {
        return Err(format!("--to {} is before --from {}", args.to, args.from));
    }
    let after_last = args.to.succ_opt().ok_or("--to is out of range")?;
    let from_ms = start_of_day(args.from, tz).ok_or("--from is out of range")?;
    let to_ms = start_of_day(after_last, tz).ok_or("--to is out of range")?;
    let key_id = args
        .key
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned);
    Ok(ExportRange {
        from_ms,
        to_ms,
        key_id,
    })
}

async fn export(store: &Store, range: &ExportRange, format: ExportFormat, tz: Tz) -> i32 {
    if let Some(key_id) = &range.key_id {
        match store.api_key_exists(key_id).await {
            Ok(true) => {}
            Ok(false) => {
                eprintln!("error: --key: no API key has the id {key_id:?}");
                return EXIT_USAGE;
            }
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_FAILURE;
            }
        }
    }
    let mut after = 0;
    let mut written = 0u64;
    let mut chunk = match format {
        ExportFormat::Csv => format!("{}\n", COLUMNS.join(",")),
        ExportFormat::Json => "[".to_owned(),
    };
    loop {
        let page = match store.usage_export_page(range, after, PAGE).await {
            Ok(page) => page,
            Err(e) => {
                eprintln!("error: reading usage events failed after {written} rows: {e}");
                return EXIT_FAILURE;
            }
        };
        for event in &page {
            let row = Row::from_event(event, tz);
            match format {
                ExportFormat::Csv => chunk.push_str(&row.csv()),
                ExportFormat::Json => {
                    chunk.push_str(if written == 0 { "\n" } else { ",\n" });
                    // Plain data: serialising it cannot fail.
                    chunk.push_str(&serde_json::to_string(&row).unwrap_or_default());
                }
            }
            written += 1;
        }
        let last_page = (page.len() as i64) < PAGE;
        after = page.last().map_or(after, |e| e.id);
        if last_page && format == ExportFormat::Json {
            chunk.push_str(if written == 0 { "]\n" } else { "\n]\n" });
        }
        if let Err(e) = write_out(&chunk) {
            eprintln!("error: writing to stdout failed after {written} rows: {e}");
            return EXIT_FAILURE;
        }
        chunk.clear();
        if last_page {
            return 0;
        }
    }
}

fn write_out(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

const COLUMNS: [&str; 25] = [
    "id",
    "time",
    "request_id",
    "key_id",
    "key_name",
    "account_id",
    "account_name",
    "group_id",
    "platform",
    "model",
    "status",
    "error_type",
    "input_tokens",
    "output_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cache_read_tokens",
    "cost_usd",
    "cost_micros",
    "priced_by_fallback",
    "latency_ms",
    "ttft_ms",
    "stream",
    "client_disconnected",
    "usage_estimated",
];

/// One exported event; field order and names match [`COLUMNS`].
#[derive(Serialize)]
struct Row<'a> {
    id: i64,
    time: String,
    request_id: &'a str,
    key_id: &'a str,
    key_name: &'a str,
    account_id: &'a str,
    account_name: &'a str,
    group_id: &'a str,
    platform: &'a str,
    model: &'a str,
    status: i64,
    error_type: &'a str,
    input_tokens: i64,
    output_tokens: i64,
    cache_write_5m_tokens: i64,
    cache_write_1h_tokens: i64,
    cache_read_tokens: i64,
    /// `cost_micros / 10⁶`: a double prints back as the exact six-decimal value far beyond
    /// any plausible cost. The CSV formats it from the integer instead.
    cost_usd: f64,
    cost_micros: i64,
    priced_by_fallback: bool,
    latency_ms: i64,
    ttft_ms: Option<i64>,
    stream: bool,
    client_disconnected: bool,
    usage_estimated: bool,
}

/// Micro-USD as an exact decimal (`-0.000125`), never through a float.
fn usd(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    format!("{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
}

impl<'a> Row<'a> {
    fn from_event(e: &'a ExportedEvent, tz: Tz) -> Self {
        let time = DateTime::from_timestamp_millis(e.created_at)
            .map(|t| {
                t.with_timezone(&tz)
                    .to_rfc3339_opts(SecondsFormat::Millis, true)
            })
            .unwrap_or_default();
        Row {
            id: e.id,
            time,
            request_id: &e.request_id,
            key_id: &e.key_id,
            key_name: &e.key_name,
            account_id: &e.account_id,
            account_name: &e.account_name,
            group_id: &e.group_id,
            platform: &e.platform,
            model: &e.model,
            status: e.status,
            error_type: &e.error_type,
            input_tokens: e.input_tokens,
            output_tokens: e.output_tokens,
            cache_write_5m_tokens: e.cache_write_5m_tokens,
            cache_write_1h_tokens: e.cache_write_1h_tokens,
            cache_read_tokens: e.cache_read_tokens,
            cost_usd: e.cost_micros as f64 / 1_000_000.0,
            cost_micros: e.cost_micros,
            priced_by_fallback: e.priced_by_fallback,
            latency_ms: e.latency_ms,
            ttft_ms: e.ttft_ms,
            stream: e.stream,
            client_disconnected: e.client_disconnected,
            usage_estimated: e.usage_estimated,
        }
    }

    fn csv(&self) -> String {
        let fields = [
            self.id.to_string(),
            self.time.clone(),
            text(self.request_id),
            text(self.key_id),
            text(self.key_name),
            text(self.account_id),
            text(self.account_name),
            text(self.group_id),
            text(self.platform),
            text(self.model),
            self.status.to_string(),
            text(self.error_type),
            self.input_tokens.to_string(),
            self.output_tokens.to_string(),
            self.cache_write_5m_tokens.to_string(),
            self.cache_write_1h_tokens.to_string(),
            self.cache_read_tokens.to_string(),
            usd(self.cost_micros),
            self.cost_micros.to_string(),
            self.priced_by_fallback.to_string(),
            self.latency_ms.to_string(),
            self.ttft_ms.map(|t| t.to_string()).unwrap_or_default(),
            self.stream.to_string(),
            self.client_disconnected.to_string(),
            self.usage_estimated.to_string(),
        ];
        let mut line = fields.join(",");
        line.push('\n');
        line
    }
}

/// A text cell: RFC 4180 quoting, and a leading `'` on values a spreadsheet would run as a
/// formula (model names come from clients, so they are untrusted).
/// A text cell: the project's one CSV escaping (quoting, formulas defused).
fn text(value: &str) -> String {
    app::csv::field(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_local_and_to_is_inclusive() {
        let args = UsageExportArgs {
            from: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            key: None,
            format: ExportFormat::Csv,
        };
        let r = export_range(&args, chrono_tz::Asia::Shanghai).unwrap();
        // 2026-03-01T00:00+08:00 and 2026-03-03T00:00+08:00.
        assert_eq!(r.from_ms, 1_772_294_400_000);
        assert_eq!(r.to_ms - r.from_ms, 2 * 86_400_000);
        let backwards = UsageExportArgs {
            from: args.to,
            to: args.from,
            ..args
        };
        assert!(export_range(&backwards, chrono_tz::UTC).is_err());
    }

    #[test]
    fn skipped_midnight_starts_at_the_first_real_hour() {
        // Chile moved its clocks from 00:00 to 01:00 on 2022-09-11.
        let day = NaiveDate::from_ymd_opt(2022, 9, 11).unwrap();
        let start = start_of_day(day, chrono_tz::America::Santiago).unwrap();
        let local = DateTime::from_timestamp_millis(start)
            .unwrap()
            .with_timezone(&chrono_tz::America::Santiago);
        assert_eq!(
            local.format("%Y-%m-%d %H:%M").to_string(),
            "2022-09-11 01:00"
        );
    }

    #[test]
    fn money_and_cells() {
        assert_eq!(usd(1_234_567), "1.234567");
        assert_eq!(usd(125), "0.000125");
        assert_eq!(usd(-5), "-0.000005");
        assert_eq!(text("a,b"), "\"a,b\"");
        assert_eq!(text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(text("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(text("claude-sonnet-4-5"), "claude-sonnet-4-5");
        assert_eq!(text("\t=1"), "'\t=1");
    }
}
