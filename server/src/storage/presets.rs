//! Key presets: named sets of key settings for batch creation. The settings are stored as the
//! JSON of the wire type (`{"validityDays": 7, "settings": {...}}`), so a preset keeps working
//! when new optional settings appear.

use sqlx::FromRow;

use super::audit::{insert_audit, AuditRow};
use super::{now_ms, with_pool, Store, StoreResult};

#[derive(Clone, Debug, FromRow)]
pub struct PresetRow {
    pub id: String,
    pub name: String,
    pub config: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn list_key_presets(&self) -> StoreResult<Vec<PresetRow>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, PresetRow>(
                "SELECT id, name, config, created_at, updated_at FROM key_presets
                 ORDER BY created_at, id",
            )
            .fetch_all(pool)
            .await?
        }))
    }

    #[tracing::instrument(skip_all)]
    pub async fn key_preset(&self, id: &str) -> StoreResult<Option<PresetRow>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as::<_, PresetRow>(
                "SELECT id, name, config, created_at, updated_at FROM key_presets WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Inserts a preset; a duplicate name is a unique violation.
    #[tracing::instrument(skip_all)]
    pub async fn insert_key_preset(
        &self,
        id: &str,
        name: &str,
        config: &str,
        audit: &AuditRow,
    ) -> StoreResult<()> {
        let now = now_ms();
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO key_presets (id, name, config, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $4)",
            )
            .bind(id)
            .bind(name)
            .bind(config)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// False when there is no such preset; a duplicate name is a unique violation.
    #[tracing::instrument(skip_all)]
    pub async fn update_key_preset(
        &self,
        id: &str,
        name: &str,
        config: &str,
        audit: &AuditRow,
    ) -> StoreResult<bool> {
        let now = now_ms();
        Ok(with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE key_presets SET name = $1, config = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(name)
            .bind(config)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if done {
                insert_audit!(&mut *tx, audit);
                tx.commit().await?;
            }
            done
        }))
    }

    /// Keys created from the preset keep its id (a record of what they were sold as).
    #[tracing::instrument(skip_all)]
    pub async fn delete_key_preset(&self, id: &str, audit: &AuditRow) -> StoreResult<bool> {
        Ok(with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query("DELETE FROM key_presets WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if done {
                insert_audit!(&mut *tx, audit);
                tx.commit().await?;
            }
            done
        }))
    }
}
