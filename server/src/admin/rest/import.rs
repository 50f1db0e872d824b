//! `/admin/import/crs`: the claude-relay-service importer (see `admin::import`).

use app::port::ImportPort;
use app::types::{CrsImportRequest, ImportReport};
use axum::extract::State;
use axum::http::Method;
use axum::routing::post;
use axum::Json;

use super::{ApiResult, RouteTable, Service};
use crate::admin::error::AppJson;
use crate::auth::Admin;

pub(super) fn register(table: RouteTable) -> RouteTable {
    table.route("/admin/import/crs", &[Method::POST], post(import_crs))
}

/// `{redisUrl, crsEncryptionKey, crsSampleKey, dryRun, only}` → the import report.
async fn import_crs(
    State(s): Service,
    Admin(actor): Admin,
    AppJson(body): AppJson<CrsImportRequest>,
) -> ApiResult<Json<ImportReport>> {
    Ok(Json(s.import_crs(&actor, body).await?))
}
