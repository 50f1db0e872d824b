//! Key presets: validation and storage of the saved settings batches are created from. The
//! `KeysPort` methods in the parent module delegate here.

use app::error::AdminError;
use app::port::Actor;
use app::types::{KeyPreset, KeyPresetInput, KeyPresetPatch, KeySettings};

use super::view::time;
use crate::admin::audit;
use crate::admin::error::internal;
use crate::admin::AdminService;
use crate::keys::presets::PresetConfig;
use crate::keys::validate::{self, Mode};
use crate::storage::presets::PresetRow;

fn not_found() -> AdminError {
    AdminError::not_found("key preset")
}

fn duplicate(name: &str) -> AdminError {
    AdminError::conflict(format!("a preset named '{name}' already exists"))
}

fn parse_config(row: &PresetRow) -> Result<PresetConfig, AdminError> {
    serde_json::from_str(&row.config).map_err(|e| {
        tracing::error!(preset = %row.id, error = %e, "stored preset is not valid JSON");
        AdminError::Internal
    })
}

fn from_row(row: PresetRow) -> Result<KeyPreset, AdminError> {
    let config = parse_config(&row)?;
    Ok(KeyPreset {
        id: row.id,
        name: row.name,
        validity_days: config.validity_days,
        settings: config.settings,
        created_at: time(row.created_at),
        updated_at: time(row.updated_at),
    })
}

fn to_json(config: &PresetConfig) -> Result<String, AdminError> {
    serde_json::to_string(config).map_err(|e| {
        tracing::error!(error = %e, "serializing a preset failed");
        AdminError::Internal
    })
}

impl AdminService {
    /// A preset's stored settings, if it exists.
    pub(crate) async fn preset_config(&self, id: &str) -> Result<Option<PresetConfig>, AdminError> {
        match self.store.key_preset(id).await.map_err(internal)? {
            Some(row) => Ok(Some(parse_config(&row)?)),
            None => Ok(None),
        }
    }

    /// Validates a preset's name, validity and settings (bindings included). The settings are
    /// kept as given: a field the preset leaves out stays open for the key's own default.
    async fn checked_preset(
        &self,
        name: &str,
        validity_days: Option<u32>,
        settings: KeySettings,
    ) -> Result<(String, PresetConfig), AdminError> {
        let name = validate::preset_name(name)?;
        let validity_days = validate::validity_days(validity_days)?;
        let config = validate::key_settings(&settings, Mode::Preset, "settings.")?;
        if validity_days.is_some() && config.activation_days.is_some() {
            return Err(AdminError::validation(
                "validityDays",
                "cannot be combined with settings.activationDays",
            ));
        }
        self.check_bindings(&config, None, "settings.").await?;
        Ok((
            name,
            PresetConfig {
                validity_days,
                settings,
            },
        ))
    }

    async fn stored_preset(&self, id: &str) -> Result<KeyPreset, AdminError> {
        let row = self
            .store
            .key_preset(id)
            .await
            .map_err(internal)?
            .ok_or_else(not_found)?;
        from_row(row)
    }

    pub(super) async fn all_presets(&self) -> Result<Vec<KeyPreset>, AdminError> {
        let rows = self.store.list_key_presets().await.map_err(internal)?;
        rows.into_iter().map(from_row).collect()
    }

    pub(super) async fn add_preset(
        &self,
        actor: &Actor,
        input: KeyPresetInput,
    ) -> Result<KeyPreset, AdminError> {
        let (name, config) = self
            .checked_preset(&input.name, input.validity_days, input.settings)
            .await?;
        let id = uuid::Uuid::now_v7().to_string();
        let event = audit::row(
            actor,
            "preset.create",
            "preset",
            &id,
            &name,
            audit::created(&audit::json(&config)),
        );
        match self
            .store
            .insert_key_preset(&id, &name, &to_json(&config)?, &event)
            .await
        {
            Err(e) if e.is_unique_violation() => return Err(duplicate(&name)),
            other => other.map_err(internal)?,
        }
        tracing::info!(preset = %id, "key preset created");
        self.stored_preset(&id).await
    }

    pub(super) async fn change_preset(
        &self,
        actor: &Actor,
        id: &str,
        patch: KeyPresetPatch,
    ) -> Result<KeyPreset, AdminError> {
        let row = self
            .store
            .key_preset(id)
            .await
            .map_err(internal)?
            .ok_or_else(not_found)?;
        let current = parse_config(&row)?;
        let mut before = audit::json(&current);
        let (name, config) = self
            .checked_preset(
                patch.name.as_deref().unwrap_or(&row.name),
                patch.validity_days.unwrap_or(current.validity_days),
                patch.settings.unwrap_or(current.settings),
            )
            .await?;
        before["name"] = serde_json::json!(row.name);
        let mut after = audit::json(&config);
        after["name"] = serde_json::json!(name);
        let event = audit::row(
            actor,
            "preset.update",
            "preset",
            id,
            &name,
            audit::diff(&before, &after),
        );
        match self
            .store
            .update_key_preset(id, &name, &to_json(&config)?, &event)
            .await
        {
            Err(e) if e.is_unique_violation() => return Err(duplicate(&name)),
            Ok(false) => return Err(not_found()),
            other => other.map_err(internal)?,
        };
        tracing::info!(preset = %id, "key preset updated");
        self.stored_preset(id).await
    }

    pub(super) async fn remove_preset(&self, actor: &Actor, id: &str) -> Result<(), AdminError> {
        let row = self
            .store
            .key_preset(id)
            .await
            .map_err(internal)?
            .ok_or_else(not_found)?;
        let event = audit::row(
            actor,
            "preset.delete",
            "preset",
            id,
            &row.name,
            serde_json::json!({}),
        );
        if !self
            .store
            .delete_key_preset(id, &event)
            .await
            .map_err(internal)?
        {
            return Err(not_found());
        }
        tracing::info!(preset = %id, "key preset deleted");
        Ok(())
    }
}
