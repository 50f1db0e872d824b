//! Validation of accounts and account groups, shared by create and update: every field is
//! checked by one function, so a rule cannot differ between the two. Pure: no storage, no I/O.
//! This file holds the rules for a whole account (new, patched) and a group; `fields` those for
//! one field.

use std::collections::BTreeMap;

use app::error::AdminError;
use app::types::{AccountInput, AccountPatch, AccountType, Platform};

mod fields;
#[cfg(test)]
mod tests;

pub use fields::{api_key, base_url, model_mapping, name, proxy, supported_models};
use fields::{azure, first_token_timeout, max_concurrency, money, notes, v};

const MAX_GROUP_DESCRIPTION_CHARS: usize = 500;
const DEFAULT_PRIORITY: i64 = 50;

/// A new account's settings, validated and with defaults applied (credentials in plaintext:
/// the caller encrypts them).
#[derive(Clone, Debug, PartialEq)]
pub struct NewAccount {
    pub name: String,
    pub platform: Platform,
    pub account_type: AccountType,
    pub api_key: String,
    pub base_url: String,
    pub proxy: Option<String>,
    pub priority: i64,
    pub is_active: bool,
    pub schedulable: bool,
    pub supported_models: Vec<String>,
    pub model_mapping: BTreeMap<String, String>,
    pub max_concurrency: Option<i64>,
    pub monthly_cost_micros: i64,
    pub notes: String,
    pub azure: AzureChanges,
    pub first_token_timeout_ms: Option<u64>,
}

/// Azure OpenAI settings to write: `Some(None)` clears one, `None` keeps it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AzureChanges {
    pub deployment: Option<Option<String>>,
    pub api_version: Option<Option<String>>,
}

/// The changes of an account patch, validated; `None` keeps the stored value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountChanges {
    pub name: Option<String>,
    pub account_type: Option<AccountType>,
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    /// `Some(None)` removes the proxy.
    pub proxy: Option<Option<String>>,
    pub priority: Option<i64>,
    pub is_active: Option<bool>,
    pub schedulable: Option<bool>,
    pub supported_models: Option<Vec<String>>,
    pub model_mapping: Option<BTreeMap<String, String>>,
    /// `Some(None)` removes the limit.
    pub max_concurrency: Option<Option<i64>>,
    pub monthly_cost_micros: Option<i64>,
    pub notes: Option<String>,
    pub azure: AzureChanges,
    /// `Some(None)` goes back to `FIRST_TOKEN_TIMEOUT_MS`.
    pub first_token_timeout_ms: Option<Option<u64>>,
}

/// A new account: every field checked, defaults applied (Claude, shared, priority 50, active).
pub fn new_account(input: AccountInput) -> Result<NewAccount, AdminError> {
    let platform = input.platform.unwrap_or(Platform::Claude);
    let name = name("name", &input.name)?;
    let api_key = api_key(&input.api_key)?;
    let base_url = base_url(
        input
            .base_url
            .as_deref()
            .unwrap_or(platform.default_base_url()),
    )?;
    let proxy = proxy(input.proxy.as_deref())?;
    let supported_models = supported_models(&input.supported_models.unwrap_or_default())?;
    let model_mapping = model_mapping(&input.model_mapping.unwrap_or_default())?;
    let max_concurrency = max_concurrency(input.max_concurrency, "omit it")?;
    let monthly_cost_micros = money("monthlyCost", input.monthly_cost.unwrap_or(0.0))?;
    let notes = notes(input.notes.unwrap_or_default())?;
    // On create, an absent Azure field is simply not set.
    let azure = azure(
        platform,
        input.azure_deployment.map(Some),
        input.azure_api_version.map(Some),
    )?;
    Ok(NewAccount {
        name,
        platform,
        account_type: input.account_type.unwrap_or_default(),
        api_key,
        base_url,
        proxy,
        priority: input.priority.map_or(DEFAULT_PRIORITY, i64::from),
        is_active: input.is_active.unwrap_or(true),
        schedulable: input.schedulable.unwrap_or(true),
        supported_models,
        model_mapping,
        max_concurrency,
        monthly_cost_micros,
        notes,
        azure,
        first_token_timeout_ms: first_token_timeout(input.first_token_timeout_ms)?,
    })
}

/// The changes of a patch to an account of `platform` (which never changes).
pub fn account_changes(
    patch: AccountPatch,
    platform: Platform,
) -> Result<AccountChanges, AdminError> {
    Ok(AccountChanges {
        name: patch.name.as_deref().map(|n| name("name", n)).transpose()?,
        account_type: patch.account_type,
        api_key: patch.api_key.as_deref().map(api_key).transpose()?,
        base_url: patch.base_url.as_deref().map(base_url).transpose()?,
        proxy: patch
            .proxy
            .as_ref()
            .map(|p| proxy(p.as_deref()))
            .transpose()?,
        priority: patch.priority.map(i64::from),
        is_active: patch.is_active,
        schedulable: patch.schedulable,
        supported_models: patch
            .supported_models
            .as_deref()
            .map(supported_models)
            .transpose()?,
        model_mapping: patch
            .model_mapping
            .as_ref()
            .map(model_mapping)
            .transpose()?,
        max_concurrency: patch
            .max_concurrency
            .map(|m| max_concurrency(m, "null"))
            .transpose()?,
        monthly_cost_micros: patch
            .monthly_cost
            .map(|m| money("monthlyCost", m))
            .transpose()?,
        notes: patch.notes.map(notes).transpose()?,
        azure: azure(platform, patch.azure_deployment, patch.azure_api_version)?,
        first_token_timeout_ms: patch
            .first_token_timeout_ms
            .map(first_token_timeout)
            .transpose()?,
    })
}

/// A group's description: at most 500 characters.
pub fn group_description(description: String) -> Result<String, AdminError> {
    if description.chars().count() > MAX_GROUP_DESCRIPTION_CHARS {
        return Err(v("description", "at most 500 characters"));
    }
    Ok(description)
}
