//! Webhook targets in the dashboard: validation, encryption at rest, test sends and the delivery
//! log. URLs, secrets and chat ids go in and never come back out.

use app::error::AdminError;
use app::port::{Actor, WebhooksPort};
use app::types::{
    WebhookDelivery, WebhookTarget, WebhookTargetInput, WebhookTargetPatch, WebhookTestResult,
};
use async_trait::async_trait;

use super::error::internal;
use super::AdminService;
use crate::crypto::Binding;
use crate::storage::now_ms;
use crate::storage::webhooks::{WebhookDeliveryRow, WebhookTargetRow};
use crate::webhooks::target::{parse_events, parse_target_url, url_hint};
use crate::webhooks::{EventKind, Target, TargetKind};

const MAX_NAME_CHARS: usize = 100;
const MAX_SECRET_CHARS: usize = 512;
const MAX_CHAT_ID_CHARS: usize = 64;
const MAX_DELIVERIES_PAGE: u32 = 500;

#[async_trait]
impl WebhooksPort for AdminService {
    async fn list_webhook_targets(&self, actor: &Actor) -> Result<Vec<WebhookTarget>, AdminError> {
        actor.require_admin()?;
        let rows = self.store.list_webhook_targets().await.map_err(internal)?;
        Ok(rows.iter().map(to_wire).collect())
    }

    async fn create_webhook_target(
        &self,
        actor: &Actor,
        input: WebhookTargetInput,
    ) -> Result<WebhookTarget, AdminError> {
        actor.require_admin()?;
        let name = check_name(&input.name)?;
        let kind = check_kind(&input.kind)?;
        let url = check_url(&input.url)?;
        let credential = credential_for(
            kind,
            None,
            non_empty(input.secret.as_deref()),
            non_empty(input.chat_id.as_deref()),
        )?;
        let events = check_events(&input.events)?;
        let now = now_ms();
        let id = uuid::Uuid::now_v7().to_string();
        let row = WebhookTargetRow {
            url_enc: self.cipher.encrypt(Binding::webhook_url(&id), url.as_str()),
            secret_enc: credential.resolve(&self.cipher, &id, None),
            id,
            name,
            kind: kind.as_str().to_owned(),
            url_hint: url_hint(&url),
            events,
            enabled: input.enabled,
            created_at: now,
            updated_at: now,
        };
        let wire = to_wire(&row);
        let event = super::audit::row(
            actor,
            "webhook.create",
            "webhook",
            &row.id,
            &row.name,
            super::audit::created(&super::audit::json(&wire)),
        );
        self.store
            .insert_webhook_target(&row, Some(&event))
            .await
            .map_err(internal)?;
        tracing::info!(target_id = %row.id, kind = %row.kind, hint = %row.url_hint, "webhook target created");
        Ok(to_wire(&row))
    }

    async fn update_webhook_target(
        &self,
        actor: &Actor,
        id: &str,
        patch: WebhookTargetPatch,
    ) -> Result<WebhookTarget, AdminError> {
        actor.require_admin()?;
        let mut row = self.stored_target(id).await?;
        let before = super::audit::json(&to_wire(&row));
        let (old_url, old_secret) = (row.url_enc.clone(), row.secret_enc.clone());
        let old_kind = TargetKind::parse(&row.kind);
        if let Some(name) = &patch.name {
            row.name = check_name(name)?;
        }
        let kind = match &patch.kind {
            Some(kind) => check_kind(kind)?,
            None => old_kind.ok_or_else(|| AdminError::validation("kind", "choose a kind"))?,
        };
        if let Some(url) = &patch.url {
            let url = check_url(url)?;
            row.url_enc = self
                .cipher
                .encrypt(Binding::webhook_url(&row.id), url.as_str());
            row.url_hint = url_hint(&url);
        }
        // `Some("")` clears the secret; `None` keeps it.
        let secret = patch.secret.as_deref().map(str::trim);
        let credential =
            credential_for(kind, old_kind, secret, non_empty(patch.chat_id.as_deref()))?;
        row.secret_enc = credential.resolve(&self.cipher, &row.id, row.secret_enc.take());
        row.kind = kind.as_str().to_owned();
        if let Some(events) = &patch.events {
            row.events = check_events(events)?;
        }
        if let Some(enabled) = patch.enabled {
            row.enabled = enabled;
        }
        row.updated_at = now_ms();
        let mut summary = super::audit::diff(&before, &super::audit::json(&to_wire(&row)));
        // The URL and secret are secrets: only whether they changed.
        if row.url_enc != old_url {
            summary["url"] = serde_json::json!("changed");
        }
        if row.secret_enc != old_secret {
            summary["secret"] = serde_json::json!("changed");
        }
        let event = super::audit::row(
            actor,
            "webhook.update",
            "webhook",
            &row.id,
            &row.name,
            summary,
        );
        if !self
            .store
            .update_webhook_target(&row, Some(&event))
            .await
            .map_err(internal)?
        {
            return Err(AdminError::not_found("webhook target"));
        }
        tracing::info!(target_id = %row.id, kind = %row.kind, enabled = row.enabled, "webhook target updated");
        Ok(to_wire(&row))
    }

    async fn delete_webhook_target(&self, actor: &Actor, id: &str) -> Result<(), AdminError> {
        actor.require_admin()?;
        let event = super::audit::row(
            actor,
            "webhook.delete",
            "webhook",
            id,
            "",
            serde_json::json!({}),
        );
        if self
            .store
            .delete_webhook_target(id, Some(&event))
            .await
            .map_err(internal)?
        {
            tracing::info!(target_id = %id, "webhook target deleted");
            Ok(())
        } else {
            Err(AdminError::not_found("webhook target"))
        }
    }

    async fn test_webhook_target(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<WebhookTestResult, AdminError> {
        actor.require_admin()?;
        let row = self.stored_target(id).await?;
        let target = Target::from_row(&row, &self.cipher).map_err(|e| {
            tracing::error!(target_id = %id, error = %e, "cannot read webhook target");
            AdminError::Internal
        })?;
        let attempt = self
            .webhooks
            .send_test(
                &target,
                serde_json::json!({ "name": row.name, "message": "Tollgate webhook test" }),
            )
            .await;
        Ok(WebhookTestResult {
            http_status: attempt.http_status,
            ok: attempt.ok,
            error: attempt.error,
            latency_ms: u64::try_from(attempt.latency.as_millis()).unwrap_or(u64::MAX),
        })
    }

    async fn list_webhook_deliveries(
        &self,
        actor: &Actor,
        limit: u32,
        before_id: Option<i64>,
    ) -> Result<Vec<WebhookDelivery>, AdminError> {
        actor.require_admin()?;
        if !(1..=MAX_DELIVERIES_PAGE).contains(&limit) {
            return Err(AdminError::validation(
                "limit",
                format!("must be between 1 and {MAX_DELIVERIES_PAGE}"),
            ));
        }
        let rows = self
            .store
            .list_webhook_deliveries(i64::from(limit), before_id)
            .await
            .map_err(internal)?;
        Ok(rows.into_iter().map(delivery_to_wire).collect())
    }
}

impl AdminService {
    async fn stored_target(&self, id: &str) -> Result<WebhookTargetRow, AdminError> {
        self.store
            .webhook_target(id)
            .await
            .map_err(internal)?
            .ok_or_else(|| AdminError::not_found("webhook target"))
    }
}

fn to_wire(row: &WebhookTargetRow) -> WebhookTarget {
    let signed = TargetKind::parse(&row.kind).is_some_and(TargetKind::is_signed);
    WebhookTarget {
        id: row.id.clone(),
        name: row.name.clone(),
        kind: row.kind.clone(),
        url_hint: row.url_hint.clone(),
        events: parse_events(&row.events)
            .into_iter()
            .map(|e| e.as_str().to_owned())
            .collect(),
        enabled: row.enabled,
        has_secret: signed && row.secret_enc.is_some(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn delivery_to_wire(row: WebhookDeliveryRow) -> WebhookDelivery {
    WebhookDelivery {
        id: row.id,
        target_id: row.target_id,
        target_hint: row.target_hint,
        event: row.event,
        attempt: u32::try_from(row.attempt).unwrap_or(0),
        http_status: row.http_status.and_then(|s| u16::try_from(s).ok()),
        ok: row.ok,
        error: row.error,
        created_at: row.created_at,
    }
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

fn check_name(name: &str) -> Result<String, AdminError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AdminError::validation("name", "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(AdminError::validation(
            "name",
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(name.to_owned())
}

fn check_kind(kind: &str) -> Result<TargetKind, AdminError> {
    TargetKind::parse(kind.trim()).ok_or_else(|| {
        let known: Vec<&str> = TargetKind::ALL.iter().map(|k| k.as_str()).collect();
        AdminError::validation(
            "kind",
            format!(
                "unknown kind {kind:?}; expected one of {}",
                known.join(", ")
            ),
        )
    })
}

fn check_url(url: &str) -> Result<url::Url, AdminError> {
    parse_target_url(url.trim()).map_err(|why| AdminError::validation("url", why))
}

/// The subscribed events as a JSON array in canonical order, duplicates removed.
fn check_events(events: &[String]) -> Result<String, AdminError> {
    let mut kinds = Vec::with_capacity(events.len());
    for name in events {
        let kind = EventKind::parse(name.trim())
            .ok_or_else(|| AdminError::validation("events", format!("unknown event {name:?}")))?;
        kinds.push(kind);
    }
    kinds.sort();
    kinds.dedup();
    let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    serde_json::to_string(&names).map_err(|_| AdminError::Internal)
}

/// What `secret_enc` should hold after a create or an update.
enum Credential<'a> {
    Keep,
    Clear,
    Set(&'a str),
}

impl Credential<'_> {
    fn resolve(
        &self,
        cipher: &crate::crypto::Cipher,
        target_id: &str,
        stored: Option<String>,
    ) -> Option<String> {
        match self {
            Credential::Keep => stored,
            Credential::Clear => None,
            Credential::Set(value) => {
                Some(cipher.encrypt(Binding::webhook_secret(target_id), value))
            }
        }
    }
}

/// Telegram targets need a chat id (stored where the others keep their secret); generic,
/// DingTalk and Feishu may have a signing secret; the other kinds take neither. When the kind
/// changes, the stored value is only kept if it still means the same thing.
fn credential_for<'a>(
    kind: TargetKind,
    old_kind: Option<TargetKind>,
    secret: Option<&'a str>,
    chat_id: Option<&'a str>,
) -> Result<Credential<'a>, AdminError> {
    let secret_given = secret.is_some_and(|s| !s.is_empty());
    if kind != TargetKind::Telegram && chat_id.is_some() {
        return Err(AdminError::validation(
            "chatId",
            "only telegram targets take a chat id",
        ));
    }
    if !kind.is_signed() && secret_given {
        return Err(AdminError::validation(
            "secret",
            format!("{kind} targets are not signed; leave the secret empty"),
        ));
    }
    if kind == TargetKind::Telegram {
        return match chat_id {
            Some(chat) if chat.chars().count() > MAX_CHAT_ID_CHARS => Err(AdminError::validation(
                "chatId",
                format!("must be at most {MAX_CHAT_ID_CHARS} characters"),
            )),
            Some(chat) => Ok(Credential::Set(chat)),
            None if old_kind == Some(TargetKind::Telegram) => Ok(Credential::Keep),
            None => Err(AdminError::validation(
                "chatId",
                "a telegram target needs the chat id to send to",
            )),
        };
    }
    if !kind.is_signed() {
        return Ok(Credential::Clear);
    }
    match secret {
        Some("") => Ok(Credential::Clear),
        Some(s) if s.chars().count() > MAX_SECRET_CHARS => Err(AdminError::validation(
            "secret",
            format!("must be at most {MAX_SECRET_CHARS} characters"),
        )),
        Some(s) => Ok(Credential::Set(s)),
        None if old_kind.is_some_and(TargetKind::is_signed) => Ok(Credential::Keep),
        None => Ok(Credential::Clear),
    }
}
