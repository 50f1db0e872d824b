//! `/admin/webhooks...`: webhook targets, their test sends and the delivery log.

use app::error::AdminError;
use app::port::WebhooksPort;
use app::types::{
    WebhookDelivery, WebhookTarget, WebhookTargetInput, WebhookTargetPatch, WebhookTestResult,
};
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::{get, patch, post};
use axum::Json;

use super::extract::{unknown, whole_number, NoParams, QueryParams, StrictQuery};
use super::{ApiResult, RouteTable, Service};
use crate::admin::error::AppJson;
use crate::auth::Admin;

pub(super) fn register(table: RouteTable) -> RouteTable {
    table
        .route(
            "/admin/webhooks",
            &[Method::GET, Method::POST],
            get(list).post(create),
        )
        .route(
            "/admin/webhooks/deliveries",
            &[Method::GET],
            get(deliveries),
        )
        .route(
            "/admin/webhooks/{id}",
            &[Method::PATCH, Method::DELETE],
            patch(update).delete(delete),
        )
        .route("/admin/webhooks/{id}/test", &[Method::POST], post(test))
}

async fn list(
    State(s): Service,
    Admin(actor): Admin,
    _query: StrictQuery<NoParams>,
) -> ApiResult<Json<Vec<WebhookTarget>>> {
    Ok(Json(s.list_webhook_targets(&actor).await?))
}

async fn create(
    State(s): Service,
    Admin(actor): Admin,
    AppJson(input): AppJson<WebhookTargetInput>,
) -> ApiResult<(StatusCode, Json<WebhookTarget>)> {
    let target = s.create_webhook_target(&actor, input).await?;
    Ok((StatusCode::CREATED, Json(target)))
}

async fn update(
    State(s): Service,
    Admin(actor): Admin,
    Path(id): Path<String>,
    AppJson(patch): AppJson<WebhookTargetPatch>,
) -> ApiResult<Json<WebhookTarget>> {
    Ok(Json(s.update_webhook_target(&actor, &id, patch).await?))
}

async fn delete(
    State(s): Service,
    Admin(actor): Admin,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.delete_webhook_target(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn test(
    State(s): Service,
    Admin(actor): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<WebhookTestResult>> {
    Ok(Json(s.test_webhook_target(&actor, &id).await?))
}

/// `limit` (newest first) and `before` (a delivery id) of the delivery log.
#[derive(Default)]
struct DeliveriesQuery {
    limit: Option<u32>,
    before: Option<i64>,
}

impl QueryParams for DeliveriesQuery {
    fn set(&mut self, name: &str, value: &str) -> Result<(), AdminError> {
        match name {
            "limit" => self.limit = Some(whole_number(name, value)?),
            "before" => self.before = Some(whole_number(name, value)?),
            other => return Err(unknown(other)),
        }
        Ok(())
    }
}

async fn deliveries(
    State(s): Service,
    Admin(actor): Admin,
    StrictQuery(q): StrictQuery<DeliveriesQuery>,
) -> ApiResult<Json<Vec<WebhookDelivery>>> {
    Ok(Json(
        s.list_webhook_deliveries(&actor, q.limit.unwrap_or(50), q.before)
            .await?,
    ))
}
