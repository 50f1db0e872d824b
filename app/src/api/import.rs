use leptos::prelude::*;
use server_fn::codec::Json;

use crate::error::AdminError;
use crate::types::{CrsImportRequest, ImportReport};

/// Settings → Import: reads a claude-relay-service Redis; `dry_run` writes nothing.
#[server(prefix = "/admin/fn", endpoint = "import_crs", input = Json)]
pub async fn import_crs(request: CrsImportRequest) -> Result<ImportReport, AdminError> {
    use crate::api::support::*;
    let actor = identity()?;
    crate::port::admin_service()?
        .import_crs(&actor, request)
        .await
        .map_err(fail)
}
