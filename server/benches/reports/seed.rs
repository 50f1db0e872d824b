//! One seeded database per backend: accounts, groups and a preset made through the admin
//! service, keys inserted as batch creation stores them (with creation dates spread over the
//! period), then every usage event written by the relay's own `write_batch`, a day per batch,
//! so raw rows, rollups and keys' spend are exactly what the writer produces.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::port::{AccountsPort, KeysPort, ReportsPort};
use app::types::{
    AccountInput, AccountType, GroupInput, GroupMembers, KeyPresetInput, KeySettings,
    OperatorSettingsInput, Platform,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tollgate::admin::AdminService;
use tollgate::config::{CommonOpts, ServeOpts, Settings};
use tollgate::crypto::Cipher;
use tollgate::relay::writer::write_batch;
use tollgate::relay::Relay;
use tollgate::secret::Secret;
use tollgate::storage::Store;
use tollgate::webhooks::Webhooks;

use crate::dataset::{self, Generator, Key, Pool, DAY_MS, KINDS, TWO_WEEK};

/// Runs the same code on either pool (the bodies must have one type).
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            Store::Sqlite($pool) => $body,
            Store::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn postgres_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database of the benchmark's own: a SQLite file in a temp dir, or a PostgreSQL schema that
/// is dropped afterwards (unless `BENCH_KEEP` is set, to look at query plans).
pub struct Db {
    pub store: Store,
    pub dir: tempfile::TempDir,
    pub schema: Option<String>,
}

impl Drop for Db {
    fn drop(&mut self) {
        if std::env::var_os("BENCH_KEEP").is_some() {
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
            eprintln!("kept: {} schema {:?}", dir.keep().display(), self.schema);
            return;
        }
        if let Some(schema) = self.schema.take() {
            // Drop cannot await: use a runtime of its own on a thread of its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(pool) = sqlx::PgPool::connect(&postgres_url()).await {
                        let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                            .execute(&pool)
                            .await;
                        pool.close().await;
                    }
                });
            })
            .join();
        }
    }
}

pub fn settings(dir: &Path, tz: chrono_tz::Tz) -> Arc<Settings> {
    let mut common = CommonOpts::from_env();
    common.data_dir = dir.to_path_buf();
    common.database_url = None;
    common.encryption_key = Some(Secret::new("ab".repeat(32)));
    common.timezone = tz;
    let serve = ServeOpts::from_env();
    Arc::new(Settings { common, serve })
}

/// The admin service the dashboard talks to, over `store`, with the accounts loaded into the
/// scheduler's snapshot as at startup.
pub async fn service(store: Store, settings: Arc<Settings>) -> AdminService {
    let cipher = Cipher::load(
        settings.common.encryption_key.as_ref(),
        &settings.common.data_dir,
    )
    .unwrap();
    let (webhooks, _worker) =
        Webhooks::new(&settings.serve.webhooks, store.clone(), cipher.clone()).unwrap();
    let relay = Relay::detached(
        settings.clone(),
        store.clone(),
        cipher.clone(),
        webhooks.clone(),
    )
    .unwrap();
    relay.load_accounts().await.unwrap();
    AdminService::new(store, settings, cipher, webhooks, relay)
}

fn sqlite_options(dir: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::from_str(&format!("sqlite://{}", dir.join("bench.db").display())).unwrap()
}

/// An empty, migrated database, and the store to seed it through: for SQLite one connection
/// with `synchronous = OFF` and a big page cache (seed only; the benchmark reopens it with
/// Tollgate's own settings), for PostgreSQL the ordinary pool.
async fn create(backend: Backend) -> (Db, Store) {
    let dir = tempfile::tempdir().unwrap();
    match backend {
        Backend::Sqlite => {
            let opts = sqlite_options(dir.path())
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Off)
                .pragma("cache_size", "-524288");
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(opts)
                .await
                .unwrap();
            let seed = Store::Sqlite(pool);
            seed.migrate().await.unwrap();
            let db = Db {
                store: seed.clone(),
                dir,
                schema: None,
            };
            (db, seed)
        }
        Backend::Postgres => {
            let schema = format!("tg_bench_{}", uuid::Uuid::new_v4().simple());
            let admin = sqlx::PgPool::connect(&postgres_url())
                .await
                .expect("PostgreSQL must be running (TEST_POSTGRES_URL)");
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
            let opts = PgConnectOptions::from_str(&postgres_url())
                .unwrap()
                .options([("search_path", schema.as_str())]);
            let store = Store::connect_postgres(opts).await.unwrap();
            store.migrate().await.unwrap();
            let db = Db {
                store: store.clone(),
                dir,
                schema: Some(schema),
            };
            (db, store)
        }
    }
}

/// What was seeded, for the report.
pub struct Shape {
    pub events: i64,
    pub hourly_rows: i64,
    pub daily_rows: i64,
    pub totals_rows: i64,
    pub key_day_rows: i64,
    pub preset_day_rows: i64,
    pub keys: i64,
    pub accounts: i64,
    pub groups: i64,
    pub presets: i64,
    pub models: usize,
    pub fallback_models: Vec<&'static str>,
    pub seed: Duration,
    pub bytes: i64,
    pub heaviest_key: String,
    pub heaviest_key_requests: i64,
}

const ACCOUNTS: [(Platform, usize, usize, f64); 3] = [
    // platform, shared accounts, accounts of its group, monthly cost (USD)
    (Platform::Claude, 8, 4, 200.0),
    (Platform::Openai, 3, 2, 200.0),
    (Platform::Gemini, 2, 1, 20.0),
];
const GROUPS: [&str; 3] = ["VIP Claude", "OpenAI Pro", "Gemini Team"];

/// 20 accounts, 3 groups, the two-week preset and the operator's currency, through the admin
/// service as the dashboard would.
async fn operator(admin: &AdminService) -> (Pool, String) {
    let mut shared: [Vec<Arc<str>>; 3] = Default::default();
    let mut members: [Vec<Arc<str>>; 3] = Default::default();
    let mut group_ids: Vec<Arc<str>> = Vec::new();
    for (p, (platform, n_shared, n_group, cost)) in ACCOUNTS.into_iter().enumerate() {
        for n in 0..n_shared + n_group {
            let grouped = n >= n_shared;
            let account = admin
                .create_account(
                    crate::cli(),
                    AccountInput {
                        name: format!("{}-{:02}", platform.as_str(), n + 1),
                        platform: Some(platform),
                        account_type: Some(if grouped {
                            AccountType::Group
                        } else {
                            AccountType::Shared
                        }),
                        api_key: format!("sk-bench-{}-{n}", platform.as_str()),
                        base_url: Some("http://127.0.0.1:9".into()),
                        max_concurrency: Some(10),
                        monthly_cost: Some(cost),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            let list = if grouped { &mut members } else { &mut shared };
            list[p].push(account.id.into());
        }
        let group = admin
            .create_group(
                crate::cli(),
                GroupInput {
                    name: GROUPS[p].into(),
                    platform: Some(platform),
                    description: None,
                    sticky_mode: None,
                },
            )
            .await
            .unwrap();
        admin
            .set_group_members(
                crate::cli(),
                &group.id,
                GroupMembers {
                    account_ids: members[p].iter().map(|a| a.to_string()).collect(),
                },
            )
            .await
            .unwrap();
        group_ids.push(group.id.into());
    }
    let preset = admin
        .create_preset(
            crate::cli(),
            KeyPresetInput {
                name: "Two weeks".into(),
                validity_days: Some(14),
                settings: KeySettings {
                    quota_limit: Some(50.0),
                    concurrency_limit: Some(5),
                    ..Default::default()
                },
            },
        )
        .await
        .unwrap();
    admin
        .save_operator_settings(
            crate::cli(),
            OperatorSettingsInput {
                currency: "CNY".into(),
                usd_exchange_rate: 7.2,
            },
        )
        .await
        .unwrap();
    let group_ids: [Arc<str>; 3] = group_ids.try_into().unwrap();
    let pool = Pool {
        shared,
        group_ids,
        group_members: members,
    };
    (pool, preset.id)
}

/// Inserts the keys, 500 per statement, in one transaction.
async fn insert_keys(store: &Store, keys: &[Key], pool: &Pool) {
    on_pool!(store, |p| {
        let mut tx = p.begin().await.unwrap();
        for chunk in keys.chunks(500) {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO api_keys (id, key_hash, key_prefix, name, quota_limit_micros,
                 expires_at, concurrency_limit, claude_account_id, openai_account_id,
                 gemini_account_id, sale_price_micros, currency, preset_id, created_at,
                 updated_at, deleted_at) ",
            );
            q.push_values(chunk, |mut b, k| {
                let kind = &KINDS[k.kind];
                let hash = format!("{:0>64}", k.id.replace('-', ""));
                let binding = |p: usize| match k.group {
                    Some(g) if g == p => format!("group:{}", pool.group_ids[g]),
                    _ => String::new(),
                };
                b.push_bind(k.id.to_string())
                    .push_bind(hash)
                    .push_bind(format!("tg_{}", &k.id[k.id.len() - 6..]))
                    .push_bind(k.name.clone())
                    .push_bind(kind.quota_micros)
                    .push_bind(k.expires_at)
                    .push_bind(5i64)
                    .push_bind(binding(0))
                    .push_bind(binding(1))
                    .push_bind(binding(2))
                    .push_bind(kind.sale_micros)
                    .push_bind(kind.currency)
                    .push_bind(k.preset_id.clone())
                    .push_bind(k.created_at)
                    .push_bind(k.created_at)
                    .push_bind(k.deleted_at);
            });
            q.build().execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    });
}

pub async fn scalar(store: &Store, sql: &str) -> i64 {
    on_pool!(store, |p| sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(p)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}")))
}

/// Requests and cost must agree between the raw rows, both rollups and the keys' counters.
async fn check_totals(store: &Store) {
    let sums = [
        "SELECT CAST(COUNT(*) AS BIGINT) FROM usage_events",
        "SELECT CAST(SUM(requests) AS BIGINT) FROM usage_hourly",
        "SELECT CAST(SUM(requests) AS BIGINT) FROM usage_daily",
        "SELECT CAST(SUM(requests) AS BIGINT) FROM usage_daily_totals",
        "SELECT CAST(SUM(requests) AS BIGINT) FROM usage_daily_keys",
        "SELECT CAST(SUM(requests) AS BIGINT) FROM usage_daily_presets",
    ];
    let costs = [
        "SELECT CAST(SUM(cost_micros) AS BIGINT) FROM usage_events",
        "SELECT CAST(SUM(cost_micros) AS BIGINT) FROM usage_hourly",
        "SELECT CAST(SUM(cost_micros) AS BIGINT) FROM usage_daily",
        "SELECT CAST(SUM(cost_micros) AS BIGINT) FROM usage_daily_totals",
        "SELECT CAST(SUM(cost_micros) AS BIGINT) FROM usage_daily_keys",
        "SELECT CAST(SUM(cost_micros) AS BIGINT) FROM usage_daily_presets",
        "SELECT CAST(SUM(spent_micros) AS BIGINT) FROM api_keys",
    ];
    for set in [&sums[..], &costs[..]] {
        let mut values = Vec::new();
        for sql in set {
            values.push(scalar(store, sql).await);
        }
        assert!(
            values.windows(2).all(|w| w[0] == w[1]),
            "rollups disagree with the raw rows: {values:?}"
        );
    }
}

async fn size_bytes(db: &Db) -> i64 {
    match db.schema {
        None => ["bench.db", "bench.db-wal"]
            .iter()
            .map(|f| {
                std::fs::metadata(db.dir.path().join(f))
                    .map(|m| m.len() as i64)
                    .unwrap_or(0)
            })
            .sum(),
        Some(_) => {
            scalar(
                &db.store,
                "SELECT CAST(SUM(pg_total_relation_size(c.oid)) AS BIGINT) FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = current_schema() AND c.relkind = 'r'",
            )
            .await
        }
    }
}

/// Seeds `events` usage events over `days` days ending now, from `key_count` keys.
pub async fn seed(
    backend: Backend,
    events: u64,
    key_count: usize,
    days: usize,
    tz: chrono_tz::Tz,
) -> (Db, Shape) {
    let (mut db, seed_store) = create(backend).await;
    let settings = settings(db.dir.path(), tz);
    let admin = service(seed_store.clone(), settings.clone()).await;
    let (pool, two_week) = operator(&admin).await;

    let now = tollgate::storage::now_ms();
    let start = now - days as i64 * DAY_MS;
    let mut rng = StdRng::seed_from_u64(7);
    let mut keys = dataset::keys(&mut rng, key_count, start, now);
    for k in &mut keys {
        if k.preset_id.as_deref() == Some(TWO_WEEK) {
            k.preset_id = Some(two_week.clone());
        }
    }
    insert_keys(&seed_store, &keys, &pool).await;

    let offset_ms = i64::from(admin.display_utc_offset_secs()) * 1000;
    let mut generator = Generator::new(
        StdRng::seed_from_u64(rng.gen()),
        keys,
        pool,
        events,
        days,
        now,
        offset_ms,
    );
    let started = Instant::now();
    let mut written = 0usize;
    for d in 0..generator.days() {
        let batch = generator.day(d);
        write_batch(&seed_store, tz, &batch).await.unwrap();
        written += batch.len();
        if (d + 1) % 10 == 0 {
            eprintln!(
                "  {backend:?}: day {}/{days}, {written} events, {:.0} s",
                d + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let seed_time = started.elapsed();
    let fallback_models = generator.fallback_models();
    drop(admin);

    if backend == Backend::Sqlite {
        seed_store.close().await;
        db.store = Store::connect_sqlite(sqlite_options(db.dir.path()))
            .await
            .unwrap();
    } else {
        // What autovacuum does after a bulk load, done now rather than whenever it gets to it.
        on_pool!(&db.store, |p| sqlx::raw_sql(
            "VACUUM ANALYZE usage_events, usage_hourly, usage_daily, usage_daily_totals,
             usage_daily_keys, usage_daily_presets, api_keys"
        )
        .execute(p)
        .await
        .map(|_| ())
        .unwrap());
    }
    check_totals(&db.store).await;
    let store = &db.store;
    let heaviest_key: (String, i64) = on_pool!(store, |p| sqlx::query_as(
        "SELECT id, requests FROM api_keys ORDER BY requests DESC, id LIMIT 1"
    )
    .fetch_one(p)
    .await
    .unwrap());
    let shape = Shape {
        events: scalar(store, "SELECT CAST(COUNT(*) AS BIGINT) FROM usage_events").await,
        hourly_rows: scalar(store, "SELECT CAST(COUNT(*) AS BIGINT) FROM usage_hourly").await,
        daily_rows: scalar(store, "SELECT CAST(COUNT(*) AS BIGINT) FROM usage_daily").await,
        totals_rows: scalar(
            store,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM usage_daily_totals",
        )
        .await,
        key_day_rows: scalar(
            store,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM usage_daily_keys",
        )
        .await,
        preset_day_rows: scalar(
            store,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM usage_daily_presets",
        )
        .await,
        keys: scalar(store, "SELECT CAST(COUNT(*) AS BIGINT) FROM api_keys").await,
        accounts: scalar(store, "SELECT CAST(COUNT(*) AS BIGINT) FROM accounts").await,
        groups: scalar(store, "SELECT CAST(COUNT(*) AS BIGINT) FROM account_groups").await,
        presets: scalar(store, "SELECT CAST(COUNT(*) AS BIGINT) FROM key_presets").await,
        models: dataset::model_count(),
        fallback_models,
        seed: seed_time,
        bytes: size_bytes(&db).await,
        heaviest_key: heaviest_key.0,
        heaviest_key_requests: heaviest_key.1,
    };
    (db, shape)
}
