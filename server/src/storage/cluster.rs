//! The statements of several instances on one PostgreSQL (`CLUSTER=1`): the instance registry
//! (heartbeats) and the key leases (headroom slices and concurrency slots), see
//! [`crate::limits::cluster`]. The deciding ones are functions of migration 0020, so each lease
//! is one statement and one round trip.

use std::str::FromStr;

use anyhow::{bail, Context};
use sqlx::postgres::PgConnectOptions;

use super::{Store, StoreResult};

/// The `application_name` prefix of an instance's connections; the rest is its id. The lease
/// trigger reads it to shrink the writing instance's lease by the spend it writes.
pub const APP_NAME_PREFIX: &str = "tollgate/";

/// What a budget lease answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Granted {
    pub granted: i64,
    /// `api_keys.spent_micros` and today's written spend, as the database has them.
    pub spent: i64,
    pub day_spent: i64,
    /// Headroom left after the grant's predecessors (quota, today's budget; `None`: no limit).
    pub quota_left: Option<i64>,
    pub daily_left: Option<i64>,
}

/// A budget lease request.
#[derive(Clone, Copy, Debug)]
pub struct LeaseAsk<'a> {
    pub key_id: &'a str,
    pub need: i64,
    pub want: i64,
    pub quota: i64,
    pub daily: i64,
    pub day: i32,
    pub day_start: i64,
    pub now: i64,
    pub alive_after: i64,
}

impl Store {
    /// Connects to PostgreSQL as instance `instance_id` of a cluster (its connections are named
    /// after it, see [`APP_NAME_PREFIX`]).
    pub async fn connect_instance(url: &str, instance_id: &str) -> anyhow::Result<Store> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            bail!("CLUSTER=1 needs PostgreSQL (DATABASE_URL=postgres://...)");
        }
        let opts = PgConnectOptions::from_str(url)
            .context("invalid PostgreSQL URL")?
            .application_name(&format!("{APP_NAME_PREFIX}{instance_id}"));
        Self::connect_postgres(opts).await
    }

    /// The cluster instance this store's connections belong to, if it was connected as one.
    pub fn cluster_instance(&self) -> Option<String> {
        match self {
            Store::Postgres(pool) => pool
                .connect_options()
                .get_application_name()
                .and_then(|n| n.strip_prefix(APP_NAME_PREFIX))
                .map(str::to_owned),
            Store::Sqlite(_) => None,
        }
    }

    pub(super) fn pg(&self) -> StoreResult<&sqlx::PgPool> {
        match self {
            Store::Postgres(pool) => Ok(pool),
            Store::Sqlite(_) => Err(super::StoreError::Corrupt(
                "cluster leases need PostgreSQL".into(),
            )),
        }
    }

    /// Registers the instance or renews its heartbeat, forgets instances silent since
    /// `dead_before` (their leases go with them) and rate-window entries that aged out.
    /// Whether the instance was registered before (false: new, or forgotten by the others).
    pub async fn cluster_heartbeat(
        &self,
        instance_id: &str,
        now: i64,
        dead_before: i64,
    ) -> StoreResult<bool> {
        let existed = sqlx::query_scalar(
            "WITH known AS (SELECT 1 FROM cluster_instances WHERE id = $1),
                  gone AS (DELETE FROM cluster_instances WHERE heartbeat_at < $3 AND id <> $1),
                  aged AS (DELETE FROM cluster_rate_hits WHERE expires_at
                           < (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT)
             INSERT INTO cluster_instances (id, started_at, heartbeat_at) VALUES ($1, $2, $2)
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = $2
             RETURNING EXISTS (SELECT 1 FROM known)",
        )
        .bind(instance_id)
        .bind(now)
        .bind(dead_before)
        .fetch_one(self.pg()?)
        .await?;
        Ok(existed)
    }

    /// Leaves the cluster (graceful shutdown): the instance's leases are given back at once.
    pub async fn cluster_leave(&self, instance_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM cluster_instances WHERE id = $1")
            .bind(instance_id)
            .execute(self.pg()?)
            .await?;
        Ok(())
    }

    /// Leases more of a key's headroom (one statement, see `tollgate_lease_budget`).
    pub async fn cluster_lease_budget(
        &self,
        instance_id: &str,
        ask: LeaseAsk<'_>,
    ) -> StoreResult<Granted> {
        let row: (i64, i64, i64, Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT granted, spent, day_spent, quota_left, daily_left
             FROM tollgate_lease_budget($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(ask.key_id)
        .bind(instance_id)
        .bind(ask.need)
        .bind(ask.want)
        .bind(ask.quota)
        .bind(ask.daily)
        .bind(ask.day)
        .bind(ask.day_start)
        .bind(ask.now)
        .bind(ask.alive_after)
        .fetch_one(self.pg()?)
        .await?;
        Ok(Granted {
            granted: row.0,
            spent: row.1,
            day_spent: row.2,
            quota_left: row.3,
            daily_left: row.4,
        })
    }

    /// Gives `amount` of a key's leased headroom back.
    pub async fn cluster_return_budget(
        &self,
        instance_id: &str,
        key_id: &str,
        amount: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE cluster_key_leases SET budget = GREATEST(budget - $3, 0)
             WHERE key_id = $1 AND instance_id = $2",
        )
        .bind(key_id)
        .bind(instance_id)
        .bind(amount)
        .execute(self.pg()?)
        .await?;
        Ok(())
    }

    /// Sets the slots of a key this instance holds to `held`, if all live instances together
    /// stay within `limit`; false when they would not (a decrease always succeeds).
    pub async fn cluster_hold_slots(
        &self,
        instance_id: &str,
        key_id: &str,
        held: u32,
        limit: u32,
        now: i64,
        alive_after: i64,
    ) -> StoreResult<bool> {
        Ok(
            sqlx::query_scalar("SELECT tollgate_hold_slots($1, $2, $3, $4, $5, $6)")
                .bind(key_id)
                .bind(instance_id)
                .bind(held as i32)
                .bind(limit.min(i32::MAX as u32) as i32)
                .bind(now)
                .bind(alive_after)
                .fetch_one(self.pg()?)
                .await?,
        )
    }
}
