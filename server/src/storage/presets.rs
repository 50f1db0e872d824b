//! Key presets: named sets of key settings for batch creation. The settings are stored as the
//! JSON of the wire type (`{"validityDays": 7, "settings": {...}}`), so a preset keeps working
//! when new optional settings appear.

use sqlx::FromRow;

use super::audit::AuditRow;
use super::rows::audited;
use super::{now_ms, Store, StoreResult};

#[derive(Clone, Debug, FromRow)]
pub struct PresetRow {
    pub id: String,
    pub name: String,
    pub config: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const PRESET_COLUMNS: &str = "id, name, config, created_at, updated_at";

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn list_key_presets(&self) -> StoreResult<Vec<PresetRow>> {
        self.all_rows(&format!(
            "SELECT {PRESET_COLUMNS} FROM key_presets ORDER BY created_at, id"
        ))
        .await
    }

    #[tracing::instrument(skip_all)]
    pub async fn key_preset(&self, id: &str) -> StoreResult<Option<PresetRow>> {
        self.optional_row(
            &format!("SELECT {PRESET_COLUMNS} FROM key_presets WHERE id = $1"),
            id,
        )
        .await
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
        audited!(self, Some(audit), |tx| {
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
        Ok(audited!(self, Some(audit), |tx| {
            sqlx::query(
                "UPDATE key_presets SET name = $1, config = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(name)
            .bind(config)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1
        }))
    }

    /// Keys created from the preset keep its id (a record of what they were sold as).
    #[tracing::instrument(skip_all)]
    pub async fn delete_key_preset(&self, id: &str, audit: &AuditRow) -> StoreResult<bool> {
        self.change_one("DELETE FROM key_presets WHERE id = $1", id, Some(audit))
            .await
    }
}
