//! API keys and key presets: the control plane's rules, put together from `crate::keys` (the
//! pure parts) and storage. Every committed write tells the relay through `key_changed`.

mod bindings;
mod cleanup;
mod presets;
pub(crate) mod view;

use app::error::AdminError;
use app::port::{Actor, KeysPort};
use app::types::{
    ApiKey, BatchCreateKeys, CreateKey, CreatedKey, KeyPage, KeyPreset, KeyPresetInput,
    KeyPresetPatch, KeyQuery, KeySettings, UpdateKey,
};
use async_trait::async_trait;

use super::audit::{self, diff};
use super::error::internal;
use super::AdminService;
use crate::keys::presets as preset_rules;
use crate::keys::validate::{self, Mode};
use crate::keys::{self as key_rules, names, patch};
use crate::storage::keys::{KeyConfig, KeyFilter, NewKey};
use crate::storage::now_ms;

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 500;

fn key_not_found() -> AdminError {
    AdminError::not_found("api key")
}

/// What a seller may put into a new key: a name, an allowed preset, a description and tags (an
/// order number, a customer note). Limits, bindings and prices come from the preset only.
fn seller_settings(actor: &Actor, s: &KeySettings) -> Result<(), AdminError> {
    actor.require_key_writer()?;
    if !actor.is_seller() {
        return Ok(());
    }
    let Some(preset) = term(&s.preset_id) else {
        return Err(AdminError::forbidden("sellers create keys from a preset"));
    };
    actor.require_preset(&preset)?;
    let free_form = KeySettings {
        description: None,
        tags: None,
        preset_id: None,
        ..s.clone()
    };
    if free_form != KeySettings::default() {
        return Err(AdminError::forbidden(
            "sellers cannot set limits, bindings or prices; the preset sets them",
        ));
    }
    Ok(())
}

/// What a seller may change on their own key: enable or disable it, its name, description and
/// tags.
fn seller_update(actor: &Actor, u: &UpdateKey) -> Result<(), AdminError> {
    if !actor.is_seller() {
        return Ok(());
    }
    let rest = UpdateKey {
        name: None,
        description: None,
        tags: None,
        is_active: None,
        ..u.clone()
    };
    if rest != UpdateKey::default() {
        return Err(AdminError::forbidden(
            "sellers can only enable, disable, rename or describe their keys",
        ));
    }
    Ok(())
}

/// A trimmed, non-empty query value.
fn term(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

impl AdminService {
    /// The settings of new keys: the preset's applied (explicit fields win), validated, with
    /// their bindings checked.
    pub(crate) async fn new_key_config(
        &self,
        settings: &KeySettings,
        now: i64,
    ) -> Result<KeyConfig, AdminError> {
        let merged = match term(&settings.preset_id) {
            Some(id) => {
                let preset = self.preset_config(&id).await?.ok_or_else(|| {
                    AdminError::validation("presetId", format!("no preset '{id}' exists"))
                })?;
                preset_rules::apply(&id, &preset, settings, now)
            }
            None => settings.clone(),
        };
        let tz = self.config.common.timezone;
        let config = validate::key_settings_in(&merged, Mode::Create { now }, "", tz)?;
        self.check_bindings(&config, None, "").await?;
        Ok(config)
    }

    /// Generates and stores one key per name in one transaction; the only place plaintext keys
    /// exist, and they leave only in the answer.
    async fn insert_keys(
        &self,
        actor: &Actor,
        names: Vec<String>,
        config: KeyConfig,
        now: i64,
    ) -> Result<Vec<CreatedKey>, AdminError> {
        let mut plaintexts = Vec::with_capacity(names.len());
        let mut rows = Vec::with_capacity(names.len());
        for name in names {
            let generated = key_rules::generate();
            rows.push(NewKey {
                id: uuid::Uuid::now_v7().to_string(),
                key_hash: generated.hash,
                key_prefix: generated.prefix,
                name,
                config: config.clone(),
            });
            plaintexts.push(generated.plaintext);
        }
        let creator = app::types::KeyCreator {
            id: actor.id.clone(),
            name: actor.name.clone(),
        };
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut stored = row.clone().into_row(now);
            stored.created_by_id = Some(creator.id.clone());
            stored.created_by_name = Some(creator.name.clone());
            records.push(self.api_key(&stored, now)?);
        }
        let events: Vec<_> = records
            .iter()
            .map(|r| {
                audit::row(
                    actor,
                    "key.create",
                    "key",
                    &r.id,
                    &r.name,
                    audit::created(&audit::json(r)),
                )
            })
            .collect();
        self.store
            .insert_api_keys(&rows, &creator, &events, now)
            .await
            .map_err(internal)?;
        let mut created = Vec::with_capacity(rows.len());
        for (record, key) in records.into_iter().zip(plaintexts) {
            self.key_changed(&record.id);
            created.push(CreatedKey { record, key });
        }
        Ok(created)
    }

    /// The live key `id` if the actor may see it; another seller's key is "not found", exactly
    /// like a missing one.
    pub(crate) async fn visible_key(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<crate::storage::keys::KeyRow, AdminError> {
        self.store
            .api_key_by_id(id)
            .await
            .map_err(internal)?
            .filter(|row| actor.can_see_key(row.created_by_id.as_deref()))
            .ok_or_else(key_not_found)
    }
}

#[async_trait]
impl KeysPort for AdminService {
    async fn create_key(&self, actor: &Actor, input: CreateKey) -> Result<CreatedKey, AdminError> {
        seller_settings(actor, &input.settings)?;
        let now = now_ms();
        let name = validate::key_name(&input.name, "name")?;
        let config = self.new_key_config(&input.settings, now).await?;
        let created = self.insert_keys(actor, vec![name], config, now).await?;
        let key = created.into_iter().next().ok_or(AdminError::Internal)?;
        tracing::info!(key_id = %key.record.id, "api key created");
        Ok(key)
    }

    async fn batch_create_keys(
        &self,
        actor: &Actor,
        input: BatchCreateKeys,
    ) -> Result<Vec<CreatedKey>, AdminError> {
        seller_settings(actor, &input.settings)?;
        let now = now_ms();
        let names = names::batch_names(
            input.count,
            input.name_template.as_deref(),
            input.names.as_deref(),
        )?;
        let config = self.new_key_config(&input.settings, now).await?;
        let created = self.insert_keys(actor, names, config, now).await?;
        tracing::info!(count = created.len(), "api keys created in a batch");
        Ok(created)
    }

    async fn list_keys(&self, actor: &Actor, query: KeyQuery) -> Result<KeyPage, AdminError> {
        let page = query.page.unwrap_or(1);
        if page == 0 {
            return Err(AdminError::validation("page", "must be 1 or more"));
        }
        let page_size = query.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(AdminError::validation(
                "pageSize",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        // A pasted display prefix ends in "…"; a pasted whole key is found by its hash.
        let search = term(&query.search).map(|s| s.trim_end_matches('…').to_owned());
        let filter = KeyFilter {
            tag: term(&query.tag),
            status: query.status,
            search_key_hash: search
                .as_deref()
                .filter(|s| key_rules::looks_like_key(s))
                .map(crate::crypto::token_hash),
            search: search.filter(|s| !s.is_empty()),
            preset_id: term(&query.preset_id),
            // Sellers see only their own keys, whatever they ask for.
            created_by: match actor.key_owner_scope() {
                Some(me) => Some(me.to_owned()),
                None => term(&query.created_by),
            },
            binding: term(&query.binding),
        };
        let now = now_ms();
        let offset = i64::from(page - 1) * i64::from(page_size);
        let (rows, total) = self
            .store
            .list_api_keys(&filter, now, i64::from(page_size), offset)
            .await
            .map_err(internal)?;
        let items = rows
            .iter()
            .map(|row| self.api_key(row, now))
            .collect::<Result<_, _>>()?;
        Ok(KeyPage {
            items,
            total: total.max(0) as u64,
            page,
            page_size,
        })
    }

    async fn get_key(&self, actor: &Actor, id: &str) -> Result<ApiKey, AdminError> {
        let row = self.visible_key(actor, id).await?;
        self.api_key(&row, now_ms())
    }

    async fn update_key(
        &self,
        actor: &Actor,
        id: &str,
        input: UpdateKey,
    ) -> Result<ApiKey, AdminError> {
        actor.require_key_writer()?;
        let row = self.visible_key(actor, id).await?;
        seller_update(actor, &input)?;
        let before = self.api_key(&row, now_ms())?;
        let current = row.config().map_err(internal)?;
        let name = match &input.name {
            Some(name) => validate::key_name(name, "name")?,
            None => row.name.clone(),
        };
        let expiry_touched = input.expires_at.is_some() || input.activation_days.is_some();
        // A fixed expiry in the past is allowed here: it is how a key is ended now.
        let config = validate::key_settings_in(
            &patch::apply(patch::settings_of(&current), &input),
            Mode::Update { expiry_touched },
            "",
            self.config.common.timezone,
        )?;
        if config.preset_id != current.preset_id {
            if let Some(preset) = &config.preset_id {
                if self
                    .store
                    .key_preset(preset)
                    .await
                    .map_err(internal)?
                    .is_none()
                {
                    return Err(AdminError::validation(
                        "presetId",
                        format!("no preset '{preset}' exists"),
                    ));
                }
            }
        }
        self.check_bindings(&config, Some(&current), "").await?;
        let mut after_row = row.clone();
        after_row.name = name.clone();
        let after = self.api_key(&after_row.with_config(&config), now_ms())?;
        let event = audit::row(
            actor,
            "key.update",
            "key",
            id,
            &name,
            diff(&audit::json(&before), &audit::json(&after)),
        );
        if !self
            .store
            .update_api_key(id, &name, &config, &event)
            .await
            .map_err(internal)?
        {
            return Err(key_not_found());
        }
        self.key_changed(id);
        tracing::info!(key_id = %id, by = %actor.name, "api key updated");
        self.get_key(actor, id).await
    }

    async fn delete_key(&self, actor: &Actor, id: &str) -> Result<(), AdminError> {
        actor.require_key_writer()?;
        let row = self.visible_key(actor, id).await?;
        let event = audit::row(
            actor,
            "key.delete",
            "key",
            id,
            &row.name,
            serde_json::json!({}),
        );
        if !self
            .store
            .soft_delete_api_key(id, &event)
            .await
            .map_err(internal)?
        {
            return Err(key_not_found());
        }
        self.key_changed(id);
        tracing::info!(key_id = %id, "api key deleted");
        Ok(())
    }

    async fn list_presets(&self, actor: &Actor) -> Result<Vec<KeyPreset>, AdminError> {
        let mut presets = self.all_presets().await?;
        presets.retain(|p| actor.can_see_preset(&p.id));
        Ok(presets)
    }

    async fn create_preset(
        &self,
        actor: &Actor,
        input: KeyPresetInput,
    ) -> Result<KeyPreset, AdminError> {
        actor.require_admin()?;
        self.add_preset(actor, input).await
    }

    async fn update_preset(
        &self,
        actor: &Actor,
        id: &str,
        patch: KeyPresetPatch,
    ) -> Result<KeyPreset, AdminError> {
        actor.require_admin()?;
        self.change_preset(actor, id, patch).await
    }

    async fn delete_preset(&self, actor: &Actor, id: &str) -> Result<(), AdminError> {
        actor.require_admin()?;
        self.remove_preset(actor, id).await
    }
}
