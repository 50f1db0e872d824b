//! Accounts written from validated settings ([`crate::accounts::validate`]): new rows, patched
//! rows, credentials and proxies encrypted at rest, then the scheduler's snapshot rebuilt.

use app::error::AdminError;
use app::types::{Account, AccountInput, AccountPatch, AccountStatus, AccountType, Platform};

use super::AdminService;
use crate::accounts::validate::{self, AzureChanges};
use crate::admin::audit;
use crate::admin::error::internal;
use crate::crypto::{mask_secret, Binding};
use crate::storage::accounts::AccountRow;
use crate::storage::now_ms;
use crate::upstream_http::mask_proxy;
use app::port::Actor;

/// Writes Azure changes into the account's `extra` JSON, keeping its other fields.
fn apply_azure(extra: &str, azure: AzureChanges) -> String {
    let mut extra: serde_json::Value =
        serde_json::from_str(extra).unwrap_or_else(|_| serde_json::json!({}));
    if let Some(d) = azure.deployment {
        extra["azureDeployment"] = d.into();
    }
    if let Some(a) = azure.api_version {
        extra["azureApiVersion"] = a.into();
    }
    extra.to_string()
}

impl AdminService {
    pub(super) async fn insert_account(
        &self,
        actor: &Actor,
        input: AccountInput,
    ) -> Result<Account, AdminError> {
        let new = validate::new_account(input)?;
        let now = now_ms();
        let mut row = AccountRow {
            id: uuid::Uuid::now_v7().to_string(),
            name: new.name,
            platform: new.platform.as_str().into(),
            account_type: new.account_type.as_str().into(),
            api_key_enc: String::new(),
            api_key_hint: String::new(),
            base_url: new.base_url,
            proxy_enc: None,
            proxy_hint: None,
            priority: new.priority,
            is_active: new.is_active,
            schedulable: new.schedulable,
            status: AccountStatus::Active.as_str().into(),
            status_message: None,
            status_changed_at: None,
            cooldown_until: None,
            supported_models: serde_json::to_string(&new.supported_models).unwrap_or_default(),
            model_mapping: serde_json::to_string(&new.model_mapping).unwrap_or_default(),
            max_concurrency: new.max_concurrency,
            monthly_cost_micros: new.monthly_cost_micros,
            notes: new.notes,
            // Both Azure fields are always present on a new account (null when unset).
            extra: serde_json::json!({
                "azureDeployment": new.azure.deployment.flatten(),
                "azureApiVersion": new.azure.api_version.flatten(),
                "firstTokenTimeoutMs": new.first_token_timeout_ms,
            })
            .to_string(),
            created_at: now,
            updated_at: now,
            last_used_at: None,
        };
        self.encrypt_key_and_proxy(&mut row, Some(&new.api_key), Some(new.proxy.as_deref()));
        let event = audit::row(
            actor,
            "account.create",
            "account",
            &row.id,
            &row.name,
            serde_json::json!({
                "platform": row.platform,
                "accountType": row.account_type,
                "baseUrl": row.base_url,
                "apiKey": "changed",
                "proxy": row.proxy_enc.as_ref().map(|_| "changed"),
            }),
        );
        self.store
            .save_account(&row, Some(&event))
            .await
            .map_err(internal)?;
        self.refresh_scheduler().await?;
        tracing::info!(account = %row.id, platform = %row.platform, "account created");
        self.account_by_id(&row.id).await
    }

    pub(super) async fn patch_account(
        &self,
        actor: &Actor,
        id: &str,
        patch: AccountPatch,
    ) -> Result<Account, AdminError> {
        let mut row = self.load_account(id).await?;
        let before = self.account_by_id(id).await?;
        let platform = Platform::parse(&row.platform).unwrap_or(Platform::Claude);
        let changes = validate::account_changes(patch, platform)?;
        if let Some(t) = changes.account_type {
            self.check_type_change(id, &row, t).await?;
            row.account_type = t.as_str().into();
        }
        if let Some(name) = changes.name {
            row.name = name;
        }
        if let Some(url) = changes.base_url {
            row.base_url = url;
        }
        if let Some(p) = changes.priority {
            row.priority = p;
        }
        if let Some(a) = changes.is_active {
            row.is_active = a;
        }
        if let Some(s) = changes.schedulable {
            row.schedulable = s;
        }
        if let Some(models) = &changes.supported_models {
            row.supported_models = serde_json::to_string(models).unwrap_or_default();
        }
        if let Some(mapping) = &changes.model_mapping {
            row.model_mapping = serde_json::to_string(mapping).unwrap_or_default();
        }
        if let Some(max) = changes.max_concurrency {
            row.max_concurrency = max;
        }
        if let Some(m) = changes.monthly_cost_micros {
            row.monthly_cost_micros = m;
        }
        if let Some(n) = changes.notes {
            row.notes = n;
        }
        if changes.azure != AzureChanges::default() {
            row.extra = apply_azure(&row.extra, changes.azure);
        }
        if let Some(ms) = changes.first_token_timeout_ms {
            let mut extra: serde_json::Value =
                serde_json::from_str(&row.extra).unwrap_or_else(|_| serde_json::json!({}));
            extra["firstTokenTimeoutMs"] = ms.into();
            row.extra = extra.to_string();
        }
        row.updated_at = now_ms();
        self.encrypt_key_and_proxy(
            &mut row,
            changes.api_key.as_deref(),
            changes.proxy.as_ref().map(|p| p.as_deref()),
        );
        let after_view = self.account_view(&row, before.group_ids.clone(), None, 0);
        let mut summary = audit::diff(&audit::json(&before), &audit::json(&after_view));
        // What the patch set, not the live figures beside it.
        if let Some(map) = summary.as_object_mut() {
            map.retain(|k, _| {
                !matches!(
                    k.as_str(),
                    "lastError"
                        | "boundKeys"
                        | "stats24h"
                        | "inFlight"
                        | "status"
                        | "statusMessage"
                        | "statusChangedAt"
                        | "cooldownUntil"
                )
            });
        }
        let event = audit::row(actor, "account.update", "account", id, &row.name, summary);
        self.store
            .save_account(&row, Some(&event))
            .await
            .map_err(internal)?;
        self.refresh_scheduler().await?;
        self.account_by_id(id).await
    }

    /// A dedicated account with bound keys, or a group account in groups, keeps its type.
    async fn check_type_change(
        &self,
        id: &str,
        row: &AccountRow,
        t: AccountType,
    ) -> Result<(), AdminError> {
        let current = AccountType::parse(&row.account_type).unwrap_or_default();
        if t == current {
            return Ok(());
        }
        if current == AccountType::Dedicated {
            self.refuse_if_bound(id, "this dedicated account").await?;
        }
        if current == AccountType::Group {
            let groups = self.groups_of(id).await?.len();
            if groups > 0 {
                return Err(AdminError::conflict(format!(
                    "the account is a member of {groups} group(s); remove it from them before changing its type"
                )));
            }
        }
        Ok(())
    }

    fn encrypt_key_and_proxy(
        &self,
        row: &mut AccountRow,
        api_key: Option<&str>,
        proxy: Option<Option<&str>>,
    ) {
        if let Some(key) = api_key {
            row.api_key_enc = self.cipher.encrypt(Binding::account_api_key(&row.id), key);
            row.api_key_hint = mask_secret(key);
        }
        if let Some(proxy) = proxy {
            row.proxy_enc = proxy.map(|p| self.cipher.encrypt(Binding::account_proxy(&row.id), p));
            row.proxy_hint = proxy.map(mask_proxy);
        }
    }
}
