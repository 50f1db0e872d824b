use async_trait::async_trait;

use super::Actor;
use crate::error::AdminError;
use crate::types::{
    ApiKey, BatchCreateKeys, CreateKey, CreatedKey, KeyPage, KeyPreset, KeyPresetInput,
    KeyPresetPatch, KeyQuery, UpdateKey,
};

/// API keys and the presets they are sold from. The plaintext key is part of the answer of
/// `create_key`/`batch_create_keys` only; nothing else ever returns it.
#[async_trait]
pub trait KeysPort {
    /// Validates and stores one key (applying `presetId`'s settings first, explicit fields win).
    async fn create_key(&self, actor: &Actor, input: CreateKey) -> Result<CreatedKey, AdminError>;

    /// Creates `count` keys from `nameTemplate`, or one per entry of `names`, in one
    /// transaction: on any failure nothing is created.
    async fn batch_create_keys(
        &self,
        actor: &Actor,
        input: BatchCreateKeys,
    ) -> Result<Vec<CreatedKey>, AdminError>;

    /// One page of live (not deleted) keys, newest first, with the total matching the filters.
    async fn list_keys(&self, actor: &Actor, query: KeyQuery) -> Result<KeyPage, AdminError>;

    async fn get_key(&self, actor: &Actor, id: &str) -> Result<ApiKey, AdminError>;

    /// Applies a partial update; the relay sees the new limits on the key's next request.
    async fn update_key(
        &self,
        actor: &Actor,
        id: &str,
        input: UpdateKey,
    ) -> Result<ApiKey, AdminError>;

    /// Soft delete: the key stops authenticating at once; its usage history stays.
    async fn delete_key(&self, actor: &Actor, id: &str) -> Result<(), AdminError>;

    async fn list_presets(&self, actor: &Actor) -> Result<Vec<KeyPreset>, AdminError>;

    async fn create_preset(
        &self,
        actor: &Actor,
        input: KeyPresetInput,
    ) -> Result<KeyPreset, AdminError>;

    async fn update_preset(
        &self,
        actor: &Actor,
        id: &str,
        patch: KeyPresetPatch,
    ) -> Result<KeyPreset, AdminError>;

    /// Keys created from the preset keep its id as a record of what they were sold as.
    async fn delete_preset(&self, actor: &Actor, id: &str) -> Result<(), AdminError>;
}
