use async_trait::async_trait;

use super::Actor;
use crate::error::AdminError;
use crate::types::{
    WebhookDelivery, WebhookTarget, WebhookTargetInput, WebhookTargetPatch, WebhookTestResult,
};

/// Webhook targets managed in the dashboard, test sends, and the delivery log.
#[async_trait]
pub trait WebhooksPort {
    async fn list_webhook_targets(&self, actor: &Actor) -> Result<Vec<WebhookTarget>, AdminError>;

    /// Validates and stores a target; the URL and secret are encrypted at rest.
    async fn create_webhook_target(
        &self,
        actor: &Actor,
        input: WebhookTargetInput,
    ) -> Result<WebhookTarget, AdminError>;

    async fn update_webhook_target(
        &self,
        actor: &Actor,
        id: &str,
        patch: WebhookTargetPatch,
    ) -> Result<WebhookTarget, AdminError>;

    async fn delete_webhook_target(&self, actor: &Actor, id: &str) -> Result<(), AdminError>;

    /// Sends one `test` event to the target now (enabled or not) and reports the outcome; the
    /// attempt is also written to the delivery log.
    async fn test_webhook_target(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<WebhookTestResult, AdminError>;

    /// The newest deliveries, `limit` at most (1..=500), older than `before_id` when given.
    async fn list_webhook_deliveries(
        &self,
        actor: &Actor,
        limit: u32,
        before_id: Option<i64>,
    ) -> Result<Vec<WebhookDelivery>, AdminError>;
}
