//! Dashboard sessions (tower-sessions) kept in our own database, so a restart or a second
//! instance sharing PostgreSQL keeps everyone signed in, and logout really ends a session.
//!
//! Only the SHA-256 of a session id is stored (like admin tokens): a copy of the database does
//! not hand out live sessions. The stored row holds the session's data, never its id. A session
//! expires `ttl` after it was last saved, by this store's clock; the auth layer renews it as it
//! is used (see `auth::session_renewal`).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::{with_pool, Store};
use crate::clock::SharedClock;
use crate::crypto::token_hash;

/// The session store over [`Store`].
#[derive(Clone)]
pub struct DbSessionStore {
    store: Store,
    clock: SharedClock,
    ttl_ms: i64,
}

impl std::fmt::Debug for DbSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbSessionStore")
            .field("ttl_ms", &self.ttl_ms)
            .finish_non_exhaustive()
    }
}

impl DbSessionStore {
    pub fn new(store: Store, clock: SharedClock, ttl: Duration) -> Self {
        DbSessionStore {
            store,
            clock,
            ttl_ms: ttl.as_millis() as i64,
        }
    }

    fn expires_at(&self) -> i64 {
        self.clock.now_ms() + self.ttl_ms
    }
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn id_hash(id: &Id) -> String {
    token_hash(&id.to_string())
}

fn admin_of(record: &Record) -> Option<String> {
    record
        .data
        .get(app::api::SESSION_ADMIN_KEY)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

fn encode(record: &Record) -> session_store::Result<Vec<u8>> {
    serde_json::to_vec(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Ids are 128 random bits, but a collision must never hand over someone else's session.
        loop {
            let data = encode(record)?;
            let admin = admin_of(record);
            let inserted = with_pool!(&self.store, |pool| {
                sqlx::query(
                    "INSERT INTO sessions (id_hash, admin_id, data, expires_at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (id_hash) DO NOTHING",
                )
                .bind(id_hash(&record.id))
                .bind(&admin)
                .bind(&data)
                .bind(self.expires_at())
                .execute(pool)
                .await
                .map_err(backend)?
                .rows_affected()
            });
            if inserted == 1 {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = encode(record)?;
        let admin = admin_of(record);
        with_pool!(&self.store, |pool| {
            sqlx::query(
                "INSERT INTO sessions (id_hash, admin_id, data, expires_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id_hash) DO UPDATE SET admin_id = excluded.admin_id,
                 data = excluded.data, expires_at = excluded.expires_at",
            )
            .bind(id_hash(&record.id))
            .bind(&admin)
            .bind(&data)
            .bind(self.expires_at())
            .execute(pool)
            .await
            .map_err(backend)?;
        });
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = self.clock.now_ms();
        let row: Option<(Vec<u8>, i64)> = with_pool!(&self.store, |pool| {
            sqlx::query_as(
                "SELECT data, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2",
            )
            .bind(id_hash(id))
            .bind(now)
            .fetch_optional(pool)
            .await
            .map_err(backend)?
        });
        let Some((data, expires_at)) = row else {
            return Ok(None);
        };
        let data: HashMap<String, serde_json::Value> = serde_json::from_slice(&data)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = time::OffsetDateTime::from_unix_timestamp(expires_at / 1000)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        with_pool!(&self.store, |pool| {
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                .bind(id_hash(id))
                .execute(pool)
                .await
                .map_err(backend)?;
        });
        Ok(())
    }
}

/// How often expired sessions and admin tokens are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// The purge job: deletes expired sessions and admin tokens at start and every 10 minutes
/// until `stop` (lookups already ignore them; this keeps the tables small). Started by
/// `relay::jobs`.
pub async fn purge_expired(store: Store, stop: tokio_util::sync::CancellationToken) {
    let mut every = tokio::time::interval(PURGE_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = every.tick() => {
                if let Err(e) = store.purge_expired_auth().await {
                    tracing::warn!(error = %e, "purging expired sessions failed");
                }
            }
        }
    }
}
