//! Server functions of the keys page: keys, batch creation for orders, and presets.

use leptos::prelude::*;
use server_fn::codec::Json;

use crate::error::AdminError;
use crate::types::{
    ApiKey, BatchCreateKeys, CreateKey, CreatedKey, KeyPage, KeyPreset, KeyPresetInput,
    KeyPresetPatch, KeyQuery, UpdateKey,
};

#[server(prefix = "/admin/fn", endpoint = "list_keys", input = Json)]
pub async fn list_keys(query: KeyQuery) -> Result<KeyPage, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .list_keys(&actor, query)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "get_key", input = Json)]
pub async fn get_key(id: String) -> Result<ApiKey, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .get_key(&actor, &id)
        .await
        .map_err(fail)
}

#[server(name = CreateKeyFn, prefix = "/admin/fn", endpoint = "create_key", input = Json)]
pub async fn create_key(input: CreateKey) -> Result<CreatedKey, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .create_key(&actor, input)
        .await
        .map_err(fail)
}

#[server(name = BatchCreateKeysFn, prefix = "/admin/fn", endpoint = "batch_create_keys", input = Json)]
pub async fn batch_create_keys(input: BatchCreateKeys) -> Result<Vec<CreatedKey>, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .batch_create_keys(&actor, input)
        .await
        .map_err(fail)
}

#[server(name = UpdateKeyFn, prefix = "/admin/fn", endpoint = "update_key", input = Json)]
pub async fn update_key(id: String, input: UpdateKey) -> Result<ApiKey, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .update_key(&actor, &id, input)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "delete_key", input = Json)]
pub async fn delete_key(id: String) -> Result<(), AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .delete_key(&actor, &id)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "list_presets")]
pub async fn list_presets() -> Result<Vec<KeyPreset>, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .list_presets(&actor)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "create_preset", input = Json)]
pub async fn create_preset(input: KeyPresetInput) -> Result<KeyPreset, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .create_preset(&actor, input)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "update_preset", input = Json)]
pub async fn update_preset(id: String, patch: KeyPresetPatch) -> Result<KeyPreset, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .update_preset(&actor, &id, patch)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "delete_preset", input = Json)]
pub async fn delete_preset(id: String) -> Result<(), AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .delete_preset(&actor, &id)
        .await
        .map_err(fail)
}
