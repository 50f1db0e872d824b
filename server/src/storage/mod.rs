//! Storage: one [`Store`] with two backends, SQLite (WAL, the default) and PostgreSQL, chosen by
//! the database URL. Queries are written once in the SQL both dialects share (`$n` parameters,
//! `BIGINT` epoch-millisecond times, integer micro-dollars) and run on whichever pool is live
//! through [`with_pool!`]; where the dialects differ a method matches on the backend explicitly.
//! Each backend has its own migrations folder, kept in step.

pub mod account_status;
pub mod accounts;
pub mod admins;
pub mod audit;
pub mod audit_row;
pub mod budgets;
pub mod cluster;
pub mod cluster_rate;
pub mod codes;
pub mod encrypted;
pub mod groups;
pub mod import;
pub mod key_limits;
pub mod keys;
pub mod ledger;
pub mod presets;
pub mod pricing;
pub mod reports;
pub mod retention;
pub(crate) mod rows;
pub mod seller_reports;
pub mod sessions;
pub mod shared_live;
pub mod text;
pub mod usage_export;
pub mod usage_write;
pub mod users;
pub mod webhooks;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the live backend's pool. The body is compiled once per
/// backend, so the same query text and row types serve both.
macro_rules! with_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            $crate::storage::Store::Sqlite($pool) => $body,
            $crate::storage::Store::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Errors of the storage layer. Callers map them to their protocol; the details go to the log.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// True when the error is a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Db(sqlx::Error::Database(e)) if e.is_unique_violation())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A bound value of a query built at run time (a list's filters; see `rows::newest_page`).
pub(crate) enum Arg {
    Text(String),
    Int(i64),
}

/// A storage failure as the control plane reports it: logged here with its details, an
/// internal error to the caller (whose details never leave the process).
pub fn internal(e: StoreError) -> app::error::AdminError {
    tracing::error!(error = %e, "storage failure");
    app::error::AdminError::Internal
}

/// The current time in epoch milliseconds, the unit of every stored time.
pub fn now_ms() -> i64 {
    crate::clock::system_now_ms()
}

impl Store {
    /// Connects to `url` (`sqlite:...` or `postgres://...`), creating a SQLite file if missing.
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url).context("invalid PostgreSQL URL")?;
            Self::connect_postgres(opts).await
        } else if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url).context("invalid SQLite URL")?;
            Self::connect_sqlite(opts).await
        } else {
            bail!("DATABASE_URL must start with sqlite: or postgres://")
        }
    }

    pub async fn connect_postgres(opts: PgConnectOptions) -> anyhow::Result<Store> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .context("connecting to PostgreSQL")?;
        Ok(Store::Postgres(pool))
    }

    pub async fn connect_sqlite(opts: SqliteConnectOptions) -> anyhow::Result<Store> {
        // The database holds credentials (encrypted), keys' hashes and usage: 0600 in a 0700
        // directory, its WAL files alike.
        crate::private_files::prepare_sqlite_file(opts.get_filename())?;
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts)
            .await
            .context("opening the SQLite database")?;
        Ok(Store::Sqlite(pool))
    }

    /// A store of the usage writer's own, where it should have one: on a SQLite file, a pool
    /// with one connection, opened at the first write. The writer's statements (its seven
    /// inserts, about 220 KiB compiled) and the pages its inserts touch are then cached by that
    /// connection alone, instead of by every pooled connection the writer happened to get
    /// (SQLite takes one writer at a time anyway). `None` for an in-memory database (no file to
    /// open twice) and PostgreSQL: the writer shares this pool. Whoever takes it closes it.
    pub fn for_usage_writer(&self) -> Option<Store> {
        let Store::Sqlite(pool) = self else {
            return None;
        };
        let opts = pool.connect_options();
        crate::private_files::is_sqlite_file(opts.get_filename()).then(|| {
            Store::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_lazy_with((*opts).clone()),
            )
        })
    }

    /// The default database: `<data dir>/tollgate.db`.
    pub fn default_url(data_dir: &Path) -> String {
        format!("sqlite://{}", data_dir.join("tollgate.db").display())
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Applies pending migrations of the live backend.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Store::Sqlite(pool) => sqlx::migrate!("../migrations/sqlite")
                .run(pool)
                .await
                .context("applying SQLite migrations")?,
            Store::Postgres(pool) => sqlx::migrate!("../migrations/postgres")
                .run(pool)
                .await
                .context("applying PostgreSQL migrations")?,
        }
        let folded = self
            .fold_unfolded_text()
            .await
            .context("folding names for search and sorting (migration 0007)")?;
        if folded > 0 {
            tracing::info!(rows = folded, "folded names for search and sorting");
        }
        Ok(())
    }

    /// A cheap round-trip, for `/health`.
    pub async fn ping(&self) -> StoreResult<()> {
        with_pool!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    pub async fn close(&self) {
        with_pool!(self, |pool| pool.close().await)
    }
}
