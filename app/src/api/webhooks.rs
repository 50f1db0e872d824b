//! Server functions of the webhook section of the settings page.

use leptos::prelude::*;
use server_fn::codec::Json;

use crate::error::AdminError;
use crate::types::{
    WebhookDelivery, WebhookTarget, WebhookTargetInput, WebhookTargetPatch, WebhookTestResult,
};

#[server(prefix = "/admin/fn", endpoint = "list_webhook_targets")]
pub async fn list_webhook_targets() -> Result<Vec<WebhookTarget>, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .list_webhook_targets(&actor)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "create_webhook_target", input = Json)]
pub async fn create_webhook_target(input: WebhookTargetInput) -> Result<WebhookTarget, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .create_webhook_target(&actor, input)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "update_webhook_target", input = Json)]
pub async fn update_webhook_target(
    id: String,
    patch: WebhookTargetPatch,
) -> Result<WebhookTarget, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .update_webhook_target(&actor, &id, patch)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "delete_webhook_target", input = Json)]
pub async fn delete_webhook_target(id: String) -> Result<(), AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .delete_webhook_target(&actor, &id)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "test_webhook_target", input = Json)]
pub async fn test_webhook_target(id: String) -> Result<WebhookTestResult, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .test_webhook_target(&actor, &id)
        .await
        .map_err(fail)
}

#[server(prefix = "/admin/fn", endpoint = "webhook_deliveries", input = Json)]
pub async fn webhook_deliveries(
    limit: u32,
    before_id: Option<i64>,
) -> Result<Vec<WebhookDelivery>, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .list_webhook_deliveries(&actor, limit, before_id)
        .await
        .map_err(fail)
}
