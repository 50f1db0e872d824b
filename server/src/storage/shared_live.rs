//! What instances sharing one PostgreSQL database tell each other through it (see
//! `scheduler::cluster`): sticky sessions, per-account concurrency slots, account health and
//! the change channel. PostgreSQL only: on SQLite (one instance) every call is an error.

use super::{Store, StoreError, StoreResult};

/// The channel of this deployment's change notifications (`tollgate:<schema>`), as the
/// triggers of migration 0021 name it.
pub fn channel(schema: &str) -> String {
    format!("tollgate:{schema}")
}

/// One sticky mapping to write: `(key id, session hash, account id, expires at)`.
pub type StickyRow = (String, i64, String, i64);

/// An account's shared health as stored: `(id, status, message, cooldown until)`.
pub type HealthRow = (String, String, Option<String>, Option<i64>);

impl Store {
    fn shared_pg(&self) -> StoreResult<&sqlx::PgPool> {
        match self {
            Store::Postgres(pool) => Ok(pool),
            Store::Sqlite(_) => Err(StoreError::Corrupt(
                "several instances need PostgreSQL".into(),
            )),
        }
    }

    /// The schema this store's tables live in (it names the change channel).
    pub async fn current_schema(&self) -> StoreResult<String> {
        Ok(sqlx::query_scalar::<_, String>("SELECT current_schema()")
            .fetch_one(self.shared_pg()?)
            .await?)
    }

    /// A conversation's live mapping, if any instance bound it.
    #[tracing::instrument(skip_all)]
    pub async fn sticky_get(
        &self,
        key_id: &str,
        session: i64,
        now: i64,
    ) -> StoreResult<Option<(String, i64)>> {
        Ok(sqlx::query_as::<_, (String, i64)>(
            "SELECT account_id, expires_at FROM sticky_sessions
             WHERE key_id = $1 AND session = $2 AND expires_at > $3",
        )
        .bind(key_id)
        .bind(session)
        .bind(now)
        .fetch_optional(self.shared_pg()?)
        .await?)
    }

    /// Writes bindings and renewals in one statement (one row per conversation: the caller
    /// keeps the last of each). A renewal never shortens a mapping of the same account.
    #[tracing::instrument(skip_all)]
    pub async fn sticky_put(&self, rows: &[StickyRow]) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let keys: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        let sessions: Vec<i64> = rows.iter().map(|r| r.1).collect();
        let accounts: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
        let expires: Vec<i64> = rows.iter().map(|r| r.3).collect();
        sqlx::query(
            "INSERT INTO sticky_sessions (key_id, session, account_id, expires_at)
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::bigint[])
             ON CONFLICT (key_id, session) DO UPDATE SET
                account_id = EXCLUDED.account_id,
                expires_at = CASE WHEN sticky_sessions.account_id = EXCLUDED.account_id
                    THEN GREATEST(sticky_sessions.expires_at, EXCLUDED.expires_at)
                    ELSE EXCLUDED.expires_at END",
        )
        .bind(&keys)
        .bind(&sessions)
        .bind(&accounts)
        .bind(&expires)
        .execute(self.shared_pg()?)
        .await?;
        Ok(())
    }

    /// Forgets expired mappings; returns how many.
    pub async fn sticky_sweep(&self, now: i64) -> StoreResult<u64> {
        Ok(
            sqlx::query("DELETE FROM sticky_sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(self.shared_pg()?)
                .await?
                .rows_affected(),
        )
    }

    /// Takes one more slot of `account` (at most `max` held by live instances together);
    /// false when there is no room.
    #[tracing::instrument(skip_all)]
    pub async fn slot_take(
        &self,
        account: &str,
        instance: &str,
        max: u32,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        let held: i64 = sqlx::query_scalar("SELECT tollgate_take_slot($1, $2, $3, $4)")
            .bind(account)
            .bind(instance)
            .bind(max as i64)
            .bind(lease_ms)
            .fetch_one(self.shared_pg()?)
            .await?;
        Ok(held > 0)
    }

    /// Gives `count` slots of `account` back.
    #[tracing::instrument(skip_all)]
    pub async fn slot_give_back(
        &self,
        account: &str,
        instance: &str,
        count: u32,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE account_slots SET held = GREATEST(held - $3, 0)
             WHERE account_id = $1 AND instance_id = $2",
        )
        .bind(account)
        .bind(instance)
        .bind(count as i64)
        .execute(self.shared_pg()?)
        .await?;
        Ok(())
    }

    /// Renews every slot this instance holds for `lease_ms` of database time; drops its
    /// empty rows and everybody's long-expired ones.
    pub async fn slot_heartbeat(&self, instance: &str, lease_ms: i64) -> StoreResult<()> {
        sqlx::query(
            "WITH now AS (SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT AS ms),
             gone AS (DELETE FROM account_slots
                      WHERE (instance_id = $1 AND held = 0)
                         OR expires_at < (SELECT ms FROM now) - 3600000)
             UPDATE account_slots SET expires_at = (SELECT ms FROM now) + $2
             WHERE instance_id = $1 AND held > 0",
        )
        .bind(instance)
        .bind(lease_ms)
        .execute(self.shared_pg()?)
        .await?;
        Ok(())
    }

    /// Gives every slot of this instance back (at shutdown).
    pub async fn slot_release_all(&self, instance: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM account_slots WHERE instance_id = $1")
            .bind(instance)
            .execute(self.shared_pg()?)
            .await?;
        Ok(())
    }

    /// Stores an account's health and announces it on the change channel, in one statement.
    #[tracing::instrument(skip_all)]
    pub async fn publish_health(
        &self,
        account: &str,
        status: &str,
        message: &str,
        cooldown_until: Option<i64>,
        at: i64,
        payload: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "WITH stored AS (UPDATE accounts SET status = $2, status_message = $3,
                    cooldown_until = $4, status_changed_at = $5 WHERE id = $1)
             SELECT pg_notify('tollgate:' || current_schema(), $6)",
        )
        .bind(account)
        .bind(status)
        .bind(message)
        .bind(cooldown_until)
        .bind(at)
        .bind(payload)
        .execute(self.shared_pg()?)
        .await?;
        Ok(())
    }

    /// Says `payload` on this deployment's change channel (delivered to every listening
    /// instance, this one included).
    pub async fn notify(&self, payload: &str) -> StoreResult<()> {
        sqlx::query("SELECT tollgate_notify($1)")
            .bind(payload)
            .execute(self.shared_pg()?)
            .await?;
        Ok(())
    }

    /// Every account's stored health (to catch up after a lost notification channel).
    pub async fn account_health(&self) -> StoreResult<Vec<HealthRow>> {
        Ok(sqlx::query_as::<_, HealthRow>(
            "SELECT id, status, status_message, cooldown_until FROM accounts",
        )
        .fetch_all(self.shared_pg()?)
        .await?)
    }
}
