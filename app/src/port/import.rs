use async_trait::async_trait;

use super::Actor;
use crate::error::AdminError;
use crate::types::{CrsImportRequest, ImportReport};

/// Bringing another relay's accounts, groups, keys and usage over.
#[async_trait]
pub trait ImportPort {
    /// Reads a claude-relay-service Redis and imports what Tollgate can run (or, with
    /// `dryRun`, reports what it would do and writes nothing). Idempotent: a second run over
    /// the same data changes nothing. The actor is recorded with every run that writes.
    async fn import_crs(
        &self,
        actor: &Actor,
        request: CrsImportRequest,
    ) -> Result<ImportReport, AdminError>;
}
