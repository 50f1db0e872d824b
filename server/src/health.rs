//! `/health` and `/ready`, both public (see `auth::layer::PUBLIC_EXACT`).
//!
//! `/health` is about the process: it answers 200 while the process serves, `{"status":"ok"}`
//! when all is well, else `{"status":"degraded", "details": [...]}` naming what is wrong (the
//! database unreachable, the usage writer behind by N events), so an orchestrator does not
//! restart a process that is holding usage for a database that will come back.
//! `/ready` is for a load balancer: 503 while the database is unreachable or usage waits in the
//! spool, 200 otherwise.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use std::sync::Arc;

use crate::relay::Relay;

/// How long the database has to answer a health or readiness probe.
const PING_LIMIT: Duration = Duration::from_secs(2);
/// Events queued in memory beyond which `/health` reports the writer as behind.
pub const BEHIND_AT: usize = 1_000;

struct Probe {
    database_up: bool,
    queued: usize,
    spooled: usize,
}

async fn probe(relay: &Relay) -> Probe {
    let ping = tokio::time::timeout(PING_LIMIT, relay.ping_database()).await;
    let writer = relay.usage_backlog();
    let database_up = matches!(ping, Ok(Ok(()))) && writer.database_up;
    if !database_up {
        tracing::error!("health check: database unreachable");
    }
    Probe {
        database_up,
        queued: writer.queued,
        spooled: writer.spooled,
    }
}

impl Probe {
    fn details(&self) -> Vec<String> {
        let mut details = Vec::new();
        if !self.database_up {
            details.push("database unreachable".to_owned());
        }
        let behind = self.queued + self.spooled;
        if self.spooled > 0 || self.queued >= BEHIND_AT {
            details.push(format!("usage writer behind by {behind} events"));
        }
        details
    }

    fn body(&self, status: &str) -> serde_json::Value {
        json!({
            "status": status,
            "details": self.details(),
            "database": if self.database_up { "ok" } else { "unreachable" },
            "usageWriter": { "queued": self.queued, "spooled": self.spooled },
        })
    }
}

pub async fn health(State(relay): State<Arc<Relay>>) -> Response {
    let p = probe(&relay).await;
    if p.details().is_empty() {
        return Json(json!({ "status": "ok" })).into_response();
    }
    Json(p.body("degraded")).into_response()
}

pub async fn ready(State(relay): State<Arc<Relay>>) -> Response {
    let p = probe(&relay).await;
    if p.database_up && p.spooled == 0 {
        return Json(json!({ "status": "ready" })).into_response();
    }
    (StatusCode::SERVICE_UNAVAILABLE, Json(p.body("not_ready"))).into_response()
}
