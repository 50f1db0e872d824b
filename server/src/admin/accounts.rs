//! Upstream accounts and account groups: validation, credentials at rest, the scheduler's
//! snapshot kept in step, and the rules that keep the three scheduling modes unambiguous:
//! only `group` accounts join groups, and neither an account nor a group can be deleted or
//! repurposed while keys are bound to it.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use app::error::AdminError;
use app::port::AccountsPort;
use app::types::{
    micros_to_usd, usd_to_micros, Account, AccountEvent, AccountGroup, AccountInput, AccountPatch,
    AccountStats, AccountStatus, AccountTestResult, AccountType, GroupInput, GroupMembers,
    GroupPatch, KeyRef, Platform,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::internal;
use super::AdminService;
use crate::crypto::{mask_secret, Binding};
use crate::relay::claude::ClaudeAdapter;
use crate::relay::clients::{mask_proxy, validate_proxy};
use crate::relay::forward::{Adapter, Call};
use crate::relay::gemini::{Action, GeminiAdapter};
use crate::relay::openai::{Endpoint, OpenAiAdapter};
use crate::storage::accounts::{AccountEventRow, AccountRow, GroupRow};
use crate::storage::now_ms;

fn ts(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn v(field: &str, message: impl Into<String>) -> AdminError {
    AdminError::validation(field, message)
}

fn check_name(field: &str, name: &str) -> Result<String, AdminError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(v(field, "must be 1 to 100 characters"));
    }
    Ok(name.to_owned())
}

fn check_base_url(url: &str) -> Result<String, AdminError> {
    let parsed =
        url::Url::parse(url.trim()).map_err(|e| v("baseUrl", format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(v("baseUrl", "must be an http:// or https:// URL"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(v("baseUrl", "must not carry a query string or fragment"));
    }
    Ok(url.trim().trim_end_matches('/').to_owned())
}

fn check_models(models: &[String]) -> Result<Vec<String>, AdminError> {
    if models.len() > 500 {
        return Err(v("supportedModels", "at most 500 entries"));
    }
    models
        .iter()
        .map(|m| {
            let m = m.trim();
            if m.is_empty() || m.len() > 200 {
                Err(v("supportedModels", "entries must be 1 to 200 characters"))
            } else {
                Ok(m.to_owned())
            }
        })
        .collect()
}

fn check_mapping(
    mapping: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, AdminError> {
    if mapping.len() > 500 {
        return Err(v("modelMapping", "at most 500 entries"));
    }
    for (from, to) in mapping {
        if from.trim().is_empty() || to.trim().is_empty() {
            return Err(v("modelMapping", "names must not be empty"));
        }
    }
    Ok(mapping
        .iter()
        .map(|(a, b)| (a.trim().to_owned(), b.trim().to_owned()))
        .collect())
}

fn check_money(field: &str, usd: f64) -> Result<i64, AdminError> {
    match usd_to_micros(usd) {
        Some(m) if m >= 0 => Ok(m),
        _ => Err(v(field, "must be a finite amount of at least 0")),
    }
}

fn check_api_key(key: &str) -> Result<String, AdminError> {
    let key = key.trim();
    if key.is_empty() || key.len() > 4096 || key.chars().any(char::is_control) {
        return Err(v("apiKey", "must be 1 to 4096 printable characters"));
    }
    Ok(key.to_owned())
}

fn check_proxy(proxy: Option<&str>) -> Result<Option<String>, AdminError> {
    match proxy.map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(None),
        Some(p) => {
            validate_proxy(p).map_err(|m| v("proxy", m))?;
            Ok(Some(p.to_owned()))
        }
    }
}

fn event_view(e: &AccountEventRow) -> AccountEvent {
    AccountEvent {
        at: ts(e.at),
        status: AccountStatus::parse(&e.status).unwrap_or_default(),
        http_status: e.http_status.and_then(|s| u16::try_from(s).ok()),
        message: e.message.clone(),
    }
}

impl AdminService {
    fn account_view(
        &self,
        row: &AccountRow,
        groups: Vec<String>,
        last_error: Option<AccountEvent>,
        bound_keys: u64,
    ) -> Account {
        let scheduler = &self.relay.scheduler;
        let (status, cooldown_until, message) = scheduler.display_status(&row.id, row.is_active);
        let traffic = scheduler.live().traffic(&row.id, now_ms());
        let extra: crate::scheduler::pool::AccountExtra =
            serde_json::from_str(&row.extra).unwrap_or_default();
        Account {
            id: row.id.clone(),
            name: row.name.clone(),
            platform: Platform::parse(&row.platform).unwrap_or(Platform::Claude),
            account_type: AccountType::parse(&row.account_type).unwrap_or_default(),
            api_key_hint: row.api_key_hint.clone(),
            base_url: row.base_url.clone(),
            proxy: row.proxy_hint.clone(),
            priority: row.priority.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
            is_active: row.is_active,
            schedulable: row.schedulable,
            status,
            status_message: Some(message).filter(|m| !m.is_empty()),
            status_changed_at: row.status_changed_at.map(ts),
            cooldown_until: cooldown_until.filter(|c| *c > now_ms()).map(ts),
            supported_models: serde_json::from_str(&row.supported_models).unwrap_or_default(),
            model_mapping: serde_json::from_str(&row.model_mapping).unwrap_or_default(),
            max_concurrency: row
                .max_concurrency
                .map(|m| m.clamp(0, u32::MAX as i64) as u32),
            monthly_cost: micros_to_usd(row.monthly_cost_micros),
            notes: row.notes.clone(),
            azure_deployment: extra.azure_deployment,
            azure_api_version: extra.azure_api_version,
            group_ids: groups,
            created_at: ts(row.created_at),
            updated_at: ts(row.updated_at),
            last_used_at: row.last_used_at.map(ts),
            in_flight: scheduler.live().in_flight(&row.id),
            last_error,
            stats24h: AccountStats {
                requests: traffic.requests,
                errors: traffic.errors,
                overloaded: traffic.overloaded,
            },
            bound_keys,
        }
    }

    async fn load_account(&self, id: &str) -> Result<AccountRow, AdminError> {
        self.store
            .get_account(id)
            .await
            .map_err(internal)?
            .ok_or_else(|| AdminError::not_found("account"))
    }

    async fn account_by_id(&self, id: &str) -> Result<Account, AdminError> {
        let row = self.load_account(id).await?;
        let groups = self
            .store
            .group_memberships()
            .await
            .map_err(internal)?
            .into_iter()
            .filter(|(_, a)| a == id)
            .map(|(g, _)| g)
            .collect();
        let last_error = self
            .store
            .account_events(id, 20)
            .await
            .map_err(internal)?
            .iter()
            .find(|e| e.status != "active")
            .map(event_view);
        let (bound, _) = self.store.keys_bound_to(id, 0).await.map_err(internal)?;
        Ok(self.account_view(&row, groups, last_error, bound as u64))
    }

    async fn refresh_scheduler(&self) -> Result<(), AdminError> {
        self.relay.scheduler.reload(false).await.map_err(|e| {
            tracing::error!(error = %e, "reloading the account pool failed");
            AdminError::Internal
        })
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

    async fn group_view(
        &self,
        row: &GroupRow,
        members: &[(String, String)],
    ) -> Result<AccountGroup, AdminError> {
        let (count, keys) = self
            .store
            .keys_bound_to(&format!("group:{}", row.id), 50)
            .await
            .map_err(internal)?;
        Ok(AccountGroup {
            id: row.id.clone(),
            name: row.name.clone(),
            platform: Platform::parse(&row.platform).unwrap_or(Platform::Claude),
            description: row.description.clone(),
            account_ids: members
                .iter()
                .filter(|(g, _)| *g == row.id)
                .map(|(_, a)| a.clone())
                .collect(),
            bound_keys: keys
                .into_iter()
                .map(|(id, name)| KeyRef { id, name })
                .collect(),
            bound_key_count: count as u64,
            created_at: ts(row.created_at),
            updated_at: ts(row.updated_at),
        })
    }

    async fn load_group(&self, id: &str) -> Result<GroupRow, AdminError> {
        self.store
            .get_group(id)
            .await
            .map_err(internal)?
            .ok_or_else(|| AdminError::not_found("account group"))
    }

    /// Refuses when keys are bound to `binding`, naming a few of them.
    async fn refuse_if_bound(&self, binding: &str, what: &str) -> Result<(), AdminError> {
        let (count, keys) = self
            .store
            .keys_bound_to(binding, 5)
            .await
            .map_err(internal)?;
        if count > 0 {
            let names: Vec<String> = keys.into_iter().map(|(_, n)| n).collect();
            let more = if count as usize > names.len() {
                format!(" and {} more", count as usize - names.len())
            } else {
                String::new()
            };
            return Err(AdminError::conflict(format!(
                "{what} is still bound to {count} key(s): {}{more}; rebind or delete them first",
                names.join(", ")
            )));
        }
        Ok(())
    }

    /// Sends a minimal real request through the account's client and proxy.
    async fn probe_account(&self, id: &str) -> Result<AccountTestResult, AdminError> {
        let snap = self.relay.scheduler.snapshot();
        let account = snap
            .by_id
            .get(id)
            .cloned()
            .ok_or_else(|| AdminError::not_found("account"))?;
        if let Some(why) = &account.unusable {
            return Ok(AccountTestResult {
                ok: false,
                latency_ms: 0,
                http_status: None,
                model: String::new(),
                error: Some(why.clone()),
            });
        }
        let model = account
            .supported_models
            .iter()
            .find(|m| !m.ends_with('*'))
            .cloned()
            .unwrap_or_else(|| match account.platform {
                Platform::Claude => "claude-haiku-4-5".into(),
                Platform::Openai => "gpt-5-nano".into(),
                Platform::Gemini => "gemini-2.5-flash-lite".into(),
            });
        // The very request the relay would send for a one-token answer, built by the
        // platform's own adapter (same URL rules, headers, credentials and proxy).
        let ping = serde_json::json!([{"role": "user", "content": "ping"}]);
        let (adapter, body, path): (Box<dyn Adapter>, serde_json::Value, &str) = match account
            .platform
        {
            Platform::Claude => (
                Box::new(ClaudeAdapter),
                serde_json::json!({"model": model, "max_tokens": 1, "messages": ping}),
                "/v1/messages",
            ),
            Platform::Openai => (
                Box::new(OpenAiAdapter {
                    endpoint: Endpoint::ChatCompletions,
                    hide_usage_chunk: false,
                }),
                serde_json::json!({"model": model, "max_completion_tokens": 1, "messages": ping}),
                "",
            ),
            Platform::Gemini => (
                Box::new(GeminiAdapter {
                    version: "v1beta",
                    action: Action::Generate,
                    query: None,
                }),
                serde_json::json!({
                    "contents": [{"role": "user", "parts": [{"text": "ping"}]}],
                    "generationConfig": {"maxOutputTokens": 1},
                }),
                "",
            ),
        };
        let call = Call {
            path_and_query: path.to_owned(),
            headers: axum::http::HeaderMap::new(),
            body: bytes::Bytes::from(body.to_string()),
            model: model.clone(),
            stream: false,
            max_output_tokens: 1,
            session: None,
            billable: false,
        };
        let request = match adapter.build(&account, &call) {
            Ok(r) => r,
            Err(e) => {
                return Ok(AccountTestResult {
                    ok: false,
                    latency_ms: 0,
                    http_status: None,
                    model,
                    error: Some(e.message),
                })
            }
        };
        let started = Instant::now();
        let sent = tokio::time::timeout(std::time::Duration::from_secs(30), request.send()).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        let (ok, http_status, error) = match sent {
            Err(_) => (false, None, Some("no answer within 30 s".to_string())),
            Ok(Err(e)) => (
                false,
                None,
                Some(format!("request failed: {}", e.without_url())),
            ),
            Ok(Ok(res)) => {
                let status = res.status();
                if status.is_success() {
                    (true, Some(status.as_u16()), None)
                } else {
                    let body = res.text().await.unwrap_or_default();
                    let message = serde_json::from_str::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| {
                            v.pointer("/error/message")
                                .and_then(|m| m.as_str())
                                .map(str::to_owned)
                        })
                        .unwrap_or_else(|| body.chars().take(300).collect());
                    (false, Some(status.as_u16()), Some(message))
                }
            }
        };
        Ok(AccountTestResult {
            ok,
            latency_ms,
            http_status,
            model,
            error,
        })
    }
}

#[async_trait]
impl AccountsPort for AdminService {
    async fn list_accounts(&self) -> Result<Vec<Account>, AdminError> {
        let rows = self.store.list_accounts().await.map_err(internal)?;
        let memberships = self.store.group_memberships().await.map_err(internal)?;
        let mut groups_of: HashMap<&str, Vec<String>> = HashMap::new();
        for (g, a) in &memberships {
            groups_of.entry(a.as_str()).or_default().push(g.clone());
        }
        let last_errors: HashMap<String, AccountEvent> = self
            .store
            .last_account_errors()
            .await
            .map_err(internal)?
            .iter()
            .map(|e| (e.account_id.clone(), event_view(e)))
            .collect();
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let (bound, _) = self
                .store
                .keys_bound_to(&row.id, 0)
                .await
                .map_err(internal)?;
            out.push(self.account_view(
                row,
                groups_of.remove(row.id.as_str()).unwrap_or_default(),
                last_errors.get(&row.id).cloned(),
                bound as u64,
            ));
        }
        Ok(out)
    }

    async fn get_account(&self, id: &str) -> Result<Account, AdminError> {
        self.account_by_id(id).await
    }

    async fn create_account(&self, input: AccountInput) -> Result<Account, AdminError> {
        let platform = input.platform.unwrap_or(Platform::Claude);
        let name = check_name("name", &input.name)?;
        let api_key = check_api_key(&input.api_key)?;
        let base_url = check_base_url(
            input
                .base_url
                .as_deref()
                .unwrap_or(platform.default_base_url()),
        )?;
        let proxy = check_proxy(input.proxy.as_deref())?;
        let supported = check_models(&input.supported_models.unwrap_or_default())?;
        let mapping = check_mapping(&input.model_mapping.unwrap_or_default())?;
        if input.max_concurrency == Some(0) {
            return Err(v(
                "maxConcurrency",
                "must be at least 1 (omit it for no limit)",
            ));
        }
        let monthly = check_money("monthlyCost", input.monthly_cost.unwrap_or(0.0))?;
        let notes = input.notes.unwrap_or_default();
        if notes.chars().count() > 2000 {
            return Err(v("notes", "at most 2000 characters"));
        }
        if platform != Platform::Openai
            && (input.azure_deployment.is_some() || input.azure_api_version.is_some())
        {
            return Err(v(
                "azureDeployment",
                "only openai accounts can be Azure OpenAI deployments",
            ));
        }
        let now = now_ms();
        let mut row = AccountRow {
            id: uuid::Uuid::now_v7().to_string(),
            name,
            platform: platform.as_str().into(),
            account_type: input.account_type.unwrap_or_default().as_str().into(),
            api_key_enc: String::new(),
            api_key_hint: String::new(),
            base_url,
            proxy_enc: None,
            proxy_hint: None,
            priority: input.priority.unwrap_or(50) as i64,
            is_active: input.is_active.unwrap_or(true),
            schedulable: input.schedulable.unwrap_or(true),
            status: AccountStatus::Active.as_str().into(),
            status_message: None,
            status_changed_at: None,
            cooldown_until: None,
            supported_models: serde_json::to_string(&supported).unwrap_or_default(),
            model_mapping: serde_json::to_string(&mapping).unwrap_or_default(),
            max_concurrency: input.max_concurrency.map(i64::from),
            monthly_cost_micros: monthly,
            notes,
            extra: serde_json::json!({
                "azureDeployment": input.azure_deployment.filter(|d| !d.trim().is_empty()),
                "azureApiVersion": input.azure_api_version.filter(|d| !d.trim().is_empty()),
            })
            .to_string(),
            created_at: now,
            updated_at: now,
            last_used_at: None,
        };
        self.encrypt_key_and_proxy(&mut row, Some(&api_key), Some(proxy.as_deref()));
        self.store.save_account(&row).await.map_err(internal)?;
        self.refresh_scheduler().await?;
        tracing::info!(account = %row.id, platform = %row.platform, "account created");
        self.account_by_id(&row.id).await
    }

    async fn update_account(&self, id: &str, patch: AccountPatch) -> Result<Account, AdminError> {
        let mut row = self.load_account(id).await?;
        let platform = Platform::parse(&row.platform).unwrap_or(Platform::Claude);
        if let Some(name) = &patch.name {
            row.name = check_name("name", name)?;
        }
        if let Some(t) = patch.account_type {
            let current = AccountType::parse(&row.account_type).unwrap_or_default();
            if t != current {
                if current == AccountType::Dedicated {
                    self.refuse_if_bound(id, "this dedicated account").await?;
                }
                if current == AccountType::Group {
                    let groups: Vec<String> = self
                        .store
                        .group_memberships()
                        .await
                        .map_err(internal)?
                        .into_iter()
                        .filter(|(_, a)| a == id)
                        .map(|(g, _)| g)
                        .collect();
                    if !groups.is_empty() {
                        return Err(AdminError::conflict(format!(
                            "the account is a member of {} group(s); remove it from them before changing its type",
                            groups.len()
                        )));
                    }
                }
            }
            row.account_type = t.as_str().into();
        }
        let api_key = patch.api_key.as_deref().map(check_api_key).transpose()?;
        if let Some(url) = &patch.base_url {
            row.base_url = check_base_url(url)?;
        }
        let proxy = match &patch.proxy {
            Some(p) => Some(check_proxy(p.as_deref())?),
            None => None,
        };
        if let Some(p) = patch.priority {
            row.priority = p as i64;
        }
        if let Some(a) = patch.is_active {
            row.is_active = a;
        }
        if let Some(s) = patch.schedulable {
            row.schedulable = s;
        }
        if let Some(models) = &patch.supported_models {
            row.supported_models =
                serde_json::to_string(&check_models(models)?).unwrap_or_default();
        }
        if let Some(mapping) = &patch.model_mapping {
            row.model_mapping = serde_json::to_string(&check_mapping(mapping)?).unwrap_or_default();
        }
        if let Some(max) = patch.max_concurrency {
            if max == Some(0) {
                return Err(v(
                    "maxConcurrency",
                    "must be at least 1 (null for no limit)",
                ));
            }
            row.max_concurrency = max.map(i64::from);
        }
        if let Some(m) = patch.monthly_cost {
            row.monthly_cost_micros = check_money("monthlyCost", m)?;
        }
        if let Some(n) = &patch.notes {
            if n.chars().count() > 2000 {
                return Err(v("notes", "at most 2000 characters"));
            }
            row.notes = n.clone();
        }
        if patch.azure_deployment.is_some() || patch.azure_api_version.is_some() {
            if platform != Platform::Openai {
                return Err(v(
                    "azureDeployment",
                    "only openai accounts can be Azure OpenAI deployments",
                ));
            }
            let mut extra: serde_json::Value =
                serde_json::from_str(&row.extra).unwrap_or_else(|_| serde_json::json!({}));
            if let Some(d) = &patch.azure_deployment {
                extra["azureDeployment"] = d.clone().filter(|d| !d.trim().is_empty()).into();
            }
            if let Some(a) = &patch.azure_api_version {
                extra["azureApiVersion"] = a.clone().filter(|d| !d.trim().is_empty()).into();
            }
            row.extra = extra.to_string();
        }
        row.updated_at = now_ms();
        self.encrypt_key_and_proxy(
            &mut row,
            api_key.as_deref(),
            proxy.as_ref().map(|p| p.as_deref()),
        );
        self.store.save_account(&row).await.map_err(internal)?;
        self.refresh_scheduler().await?;
        self.account_by_id(id).await
    }

    async fn delete_account(&self, id: &str) -> Result<(), AdminError> {
        self.load_account(id).await?;
        self.refuse_if_bound(id, "this account").await?;
        self.store.delete_account(id).await.map_err(internal)?;
        self.refresh_scheduler().await?;
        tracing::info!(account = %id, "account deleted");
        Ok(())
    }

    async fn test_account(&self, id: &str) -> Result<AccountTestResult, AdminError> {
        self.load_account(id).await?;
        let result = self.probe_account(id).await?;
        if result.ok {
            // A successful test clears an error state (e.g. after the credential was replaced).
            let health = self.relay.scheduler.live().health(id);
            if health.status != AccountStatus::Active {
                self.relay.scheduler.reset_account(id, now_ms());
            }
        }
        Ok(result)
    }

    async fn reset_account_status(&self, id: &str) -> Result<Account, AdminError> {
        self.load_account(id).await?;
        self.relay.scheduler.reset_account(id, now_ms());
        // Persist at once so the answer (and a restart) sees it, not only the recorder.
        self.store
            .record_account_state(
                id,
                AccountStatus::Active.as_str(),
                "reset by an administrator",
                None,
                None,
            )
            .await
            .map_err(internal)?;
        self.account_by_id(id).await
    }

    async fn account_events(&self, id: &str, limit: u32) -> Result<Vec<AccountEvent>, AdminError> {
        self.load_account(id).await?;
        let rows = self
            .store
            .account_events(id, limit.clamp(1, 500) as i64)
            .await
            .map_err(internal)?;
        Ok(rows.iter().map(event_view).collect())
    }

    async fn list_groups(&self) -> Result<Vec<AccountGroup>, AdminError> {
        let groups = self.store.list_groups().await.map_err(internal)?;
        let members = self.store.group_memberships().await.map_err(internal)?;
        let mut out = Vec::with_capacity(groups.len());
        for g in &groups {
            out.push(self.group_view(g, &members).await?);
        }
        Ok(out)
    }

    async fn get_group(&self, id: &str) -> Result<AccountGroup, AdminError> {
        let g = self.load_group(id).await?;
        let members = self.store.group_memberships().await.map_err(internal)?;
        self.group_view(&g, &members).await
    }

    async fn create_group(&self, input: GroupInput) -> Result<AccountGroup, AdminError> {
        let name = check_name("name", &input.name)?;
        let description = input.description.unwrap_or_default();
        if description.chars().count() > 500 {
            return Err(v("description", "at most 500 characters"));
        }
        let now = now_ms();
        let row = GroupRow {
            id: uuid::Uuid::now_v7().to_string(),
            name,
            platform: input.platform.unwrap_or(Platform::Claude).as_str().into(),
            description,
            created_at: now,
            updated_at: now,
        };
        match self.store.save_group(&row).await {
            Ok(()) => {}
            Err(e) if e.is_unique_violation() => {
                return Err(AdminError::conflict(format!(
                    "a {} group named {:?} exists already",
                    row.platform, row.name
                )))
            }
            Err(e) => return Err(internal(e)),
        }
        self.refresh_scheduler().await?;
        self.get_group(&row.id).await
    }

    async fn update_group(&self, id: &str, patch: GroupPatch) -> Result<AccountGroup, AdminError> {
        let mut row = self.load_group(id).await?;
        if let Some(name) = &patch.name {
            row.name = check_name("name", name)?;
        }
        if let Some(d) = patch.description {
            if d.chars().count() > 500 {
                return Err(v("description", "at most 500 characters"));
            }
            row.description = d;
        }
        row.updated_at = now_ms();
        match self.store.save_group(&row).await {
            Ok(()) => {}
            Err(e) if e.is_unique_violation() => {
                return Err(AdminError::conflict(format!(
                    "a {} group named {:?} exists already",
                    row.platform, row.name
                )))
            }
            Err(e) => return Err(internal(e)),
        }
        self.get_group(id).await
    }

    async fn delete_group(&self, id: &str) -> Result<(), AdminError> {
        self.load_group(id).await?;
        self.refuse_if_bound(&format!("group:{id}"), "this group")
            .await?;
        self.store.delete_group(id).await.map_err(internal)?;
        self.refresh_scheduler().await?;
        Ok(())
    }

    async fn set_group_members(
        &self,
        id: &str,
        members: GroupMembers,
    ) -> Result<AccountGroup, AdminError> {
        let group = self.load_group(id).await?;
        let mut ids: Vec<String> = Vec::new();
        for (i, account_id) in members.account_ids.iter().enumerate() {
            let field = format!("accountIds[{i}]");
            let Some(row) = self.store.get_account(account_id).await.map_err(internal)? else {
                return Err(v(&field, format!("no account with id {account_id}")));
            };
            if row.platform != group.platform {
                return Err(v(
                    &field,
                    format!(
                        "account {} is a {} account; this group is {}",
                        row.name, row.platform, group.platform
                    ),
                ));
            }
            if row.account_type != AccountType::Group.as_str() {
                return Err(v(
                    &field,
                    format!(
                        "account {} is a {} account; set its accountType to group first (shared accounts serve every pool key)",
                        row.name, row.account_type
                    ),
                ));
            }
            if !ids.contains(account_id) {
                ids.push(account_id.clone());
            }
        }
        self.store
            .set_group_members(id, &ids)
            .await
            .map_err(internal)?;
        self.refresh_scheduler().await?;
        self.get_group(id).await
    }
}
