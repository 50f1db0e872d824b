//! Dashboard sessions (tower-sessions) kept in our own database, so a restart or a second
//! instance sharing PostgreSQL keeps everyone signed in, and logout really ends a session.

use async_trait::async_trait;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::{with_pool, Store};

/// The session store over [`Store`].
#[derive(Clone, Debug)]
pub struct DbSessionStore {
    store: Store,
}

impl DbSessionStore {
    pub fn new(store: Store) -> Self {
        DbSessionStore { store }
    }
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn admin_of(record: &Record) -> Option<String> {
    record
        .data
        .get(app::api::SESSION_ADMIN_KEY)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // Ids are 128 random bits, but a collision must never hand over someone else's session.
        loop {
            let data = serde_json::to_vec(&record)
                .map_err(|e| session_store::Error::Encode(e.to_string()))?;
            let expires = record.expiry_date.unix_timestamp() * 1000;
            let id = record.id.to_string();
            let admin = admin_of(record);
            let inserted = with_pool!(&self.store, |pool| {
                sqlx::query(
                    "INSERT INTO sessions (id, admin_id, data, expires_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(&id)
                .bind(&admin)
                .bind(&data)
                .bind(expires)
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
        let data =
            serde_json::to_vec(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let expires = record.expiry_date.unix_timestamp() * 1000;
        let id = record.id.to_string();
        let admin = admin_of(record);
        with_pool!(&self.store, |pool| {
            sqlx::query(
                "INSERT INTO sessions (id, admin_id, data, expires_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET admin_id = excluded.admin_id, data = excluded.data,
                 expires_at = excluded.expires_at",
            )
            .bind(&id)
            .bind(&admin)
            .bind(&data)
            .bind(expires)
            .execute(pool)
            .await
            .map_err(backend)?;
        });
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = super::now_ms();
        let data: Option<Vec<u8>> = with_pool!(&self.store, |pool| {
            sqlx::query_scalar("SELECT data FROM sessions WHERE id = $1 AND expires_at > $2")
                .bind(id.to_string())
                .bind(now)
                .fetch_optional(pool)
                .await
                .map_err(backend)?
        });
        data.map(|d| {
            serde_json::from_slice(&d).map_err(|e| session_store::Error::Decode(e.to_string()))
        })
        .transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        with_pool!(&self.store, |pool| {
            sqlx::query("DELETE FROM sessions WHERE id = $1")
                .bind(id.to_string())
                .execute(pool)
                .await
                .map_err(backend)?;
        });
        Ok(())
    }
}
