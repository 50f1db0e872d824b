//! The statements of keys' rate windows shared by several instances (`CLUSTER=1`, see
//! [`crate::limits::cluster`]) and of key quota events sent once per cluster. The deciding
//! one is a function of migration 0022 (`tollgate_rate_admit`): one statement per admission.

use super::{Store, StoreResult};

/// What the shared rate window answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateAnswer {
    /// The admitted request's entry (to take it back); `None`: refused.
    pub hit: Option<i64>,
    /// Requests in the window over all instances (this one included when admitted).
    pub used: i64,
    /// Milliseconds until room frees (refused) or until the oldest request ages out.
    pub wait_ms: i64,
}

impl Store {
    /// Admits one request to a key's window of `window_ms` holding at most `limit` requests
    /// over all instances (one statement, see `tollgate_rate_admit`).
    pub async fn cluster_rate_admit(
        &self,
        key_id: &str,
        window_ms: i64,
        limit: u32,
    ) -> StoreResult<RateAnswer> {
        let (hit, used, wait_ms): (Option<i64>, i64, i64) =
            sqlx::query_as("SELECT hit, used, wait_ms FROM tollgate_rate_admit($1, $2, $3)")
                .bind(key_id)
                .bind(window_ms)
                .bind(limit.min(i32::MAX as u32) as i32)
                .fetch_one(self.pg()?)
                .await?;
        Ok(RateAnswer { hit, used, wait_ms })
    }

    /// Takes back an admission (the request got no concurrency slot).
    pub async fn cluster_rate_undo(&self, hit: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM cluster_rate_hits WHERE id = $1")
            .bind(hit)
            .execute(self.pg()?)
            .await?;
        Ok(())
    }
}

/// A key's crossing claimed by this instance (see [`Store::cluster_claim_crossings`]).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Crossing {
    pub key_id: String,
    pub name: String,
    pub quota: i64,
    pub spent: i64,
    /// `key.quota_warning` or `key.quota_exhausted`.
    pub kind: String,
}

impl Store {
    /// Claims the quota crossings of `keys` as their written spend has them (warning at
    /// `share` of the quota, exhausted at the quota): the crossings no instance claimed before,
    /// each once over all instances (one statement).
    pub async fn cluster_claim_crossings(
        &self,
        keys: &[String],
        share: f64,
        now: i64,
    ) -> StoreResult<Vec<Crossing>> {
        Ok(sqlx::query_as(
            "WITH due AS (
                 SELECT k.id, k.name, k.quota_limit_micros AS quota, k.spent_micros AS spent,
                        e.kind, e.mark
                   FROM api_keys k
                  CROSS JOIN LATERAL (VALUES
                        ('key.quota_exhausted', k.quota_limit_micros),
                        ('key.quota_warning', ROUND(k.quota_limit_micros * $2)::BIGINT)) AS e(kind, mark)
                  WHERE k.id = ANY($1) AND k.quota_limit_micros > 0 AND k.spent_micros >= e.mark),
             claimed AS (
                 INSERT INTO cluster_key_events (key_id, kind, mark, claimed_at)
                 SELECT id, kind, mark, $3 FROM due
                 ON CONFLICT DO NOTHING
                 RETURNING key_id, kind, mark)
             SELECT d.id AS key_id, d.name, d.quota, d.spent, d.kind
               FROM due d JOIN claimed c ON c.key_id = d.id AND c.kind = d.kind AND c.mark = d.mark",
        )
        .bind(keys)
        .bind(share)
        .bind(now)
        .fetch_all(self.pg()?)
        .await?)
    }
}
