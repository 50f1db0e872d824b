//! Validation of accounts and account groups, shared by create and update: every field is
//! checked by one function, so a rule cannot differ between the two. Pure: no storage, no I/O.

use std::collections::BTreeMap;

use app::error::AdminError;
use app::types::{usd_to_micros, AccountInput, AccountPatch, AccountType, Platform};

use crate::upstream_http::validate_proxy;

const MAX_NAME_CHARS: usize = 100;
const MAX_NOTES_CHARS: usize = 2000;
const MAX_GROUP_DESCRIPTION_CHARS: usize = 500;
const MAX_MODELS: usize = 500;
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

/// A first-token timeout: 1 s to 10 minutes.
fn first_token_timeout(ms: Option<u64>) -> Result<Option<u64>, AdminError> {
    match ms {
        Some(ms) if !(1_000..=600_000).contains(&ms) => Err(v(
            "firstTokenTimeoutMs",
            "must be between 1000 and 600000 ms (or null for the server default)",
        )),
        ms => Ok(ms),
    }
}

fn v(field: &str, message: impl Into<String>) -> AdminError {
    AdminError::validation(field, message)
}

/// An account's or a group's name: trimmed, 1 to 100 characters.
pub fn name(field: &str, name: &str) -> Result<String, AdminError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(v(field, "must be 1 to 100 characters"));
    }
    Ok(name.to_owned())
}

/// An http(s) base URL without query or fragment, without its trailing slash.
pub fn base_url(url: &str) -> Result<String, AdminError> {
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

/// Model names or `prefix*` patterns, trimmed.
pub fn supported_models(models: &[String]) -> Result<Vec<String>, AdminError> {
    if models.len() > MAX_MODELS {
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

/// Requested model → upstream model, both trimmed and non-empty.
pub fn model_mapping(
    mapping: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, AdminError> {
    if mapping.len() > MAX_MODELS {
        return Err(v("modelMapping", "at most 500 entries"));
    }
    if mapping
        .iter()
        .any(|(from, to)| from.trim().is_empty() || to.trim().is_empty())
    {
        return Err(v("modelMapping", "names must not be empty"));
    }
    Ok(mapping
        .iter()
        .map(|(a, b)| (a.trim().to_owned(), b.trim().to_owned()))
        .collect())
}

fn money(field: &str, usd: f64) -> Result<i64, AdminError> {
    match usd_to_micros(usd) {
        Some(m) if m >= 0 => Ok(m),
        _ => Err(v(field, "must be a finite amount of at least 0")),
    }
}

/// The upstream credential: 1 to 4096 printable characters, trimmed.
pub fn api_key(key: &str) -> Result<String, AdminError> {
    let key = key.trim();
    if key.is_empty() || key.len() > 4096 || key.chars().any(char::is_control) {
        return Err(v("apiKey", "must be 1 to 4096 printable characters"));
    }
    Ok(key.to_owned())
}

/// An http(s) or socks5 proxy URL; empty means none.
pub fn proxy(proxy: Option<&str>) -> Result<Option<String>, AdminError> {
    match proxy.map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(None),
        Some(p) => {
            validate_proxy(p).map_err(|m| v("proxy", m))?;
            Ok(Some(p.to_owned()))
        }
    }
}

fn max_concurrency(max: Option<u32>, how_to_unset: &str) -> Result<Option<i64>, AdminError> {
    if max == Some(0) {
        return Err(v(
            "maxConcurrency",
            format!("must be at least 1 ({how_to_unset} for no limit)"),
        ));
    }
    Ok(max.map(i64::from))
}

fn notes(notes: String) -> Result<String, AdminError> {
    if notes.chars().count() > MAX_NOTES_CHARS {
        return Err(v("notes", "at most 2000 characters"));
    }
    Ok(notes)
}

/// Azure settings only exist for OpenAI accounts; blank values clear them.
fn azure(
    platform: Platform,
    deployment: Option<Option<String>>,
    api_version: Option<Option<String>>,
) -> Result<AzureChanges, AdminError> {
    if platform != Platform::Openai && (deployment.is_some() || api_version.is_some()) {
        return Err(v(
            "azureDeployment",
            "only openai accounts can be Azure OpenAI deployments",
        ));
    }
    let blank_is_none = |v: Option<String>| v.filter(|d| !d.trim().is_empty());
    Ok(AzureChanges {
        deployment: deployment.map(blank_is_none),
        api_version: api_version.map(blank_is_none),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn field<T: std::fmt::Debug>(r: Result<T, AdminError>) -> String {
        match r {
            Err(AdminError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    fn input() -> AccountInput {
        AccountInput {
            name: " main ".into(),
            api_key: " sk-1 ".into(),
            ..Default::default()
        }
    }

    #[test]
    fn new_accounts_get_defaults_and_trimmed_fields() {
        let a = new_account(input()).unwrap();
        assert_eq!((a.name.as_str(), a.api_key.as_str()), ("main", "sk-1"));
        assert_eq!(a.platform, Platform::Claude);
        assert_eq!(
            a.base_url,
            Platform::Claude.default_base_url().trim_end_matches('/')
        );
        assert_eq!((a.priority, a.is_active, a.schedulable), (50, true, true));
        assert_eq!(a.azure, AzureChanges::default());
        let openai = new_account(AccountInput {
            platform: Some(Platform::Openai),
            base_url: Some("https://x.example/v1/".into()),
            azure_deployment: Some(" ".into()),
            azure_api_version: Some("2024-10-21".into()),
            model_mapping: Some([(" a ".into(), " b ".into())].into()),
            ..input()
        })
        .unwrap();
        assert_eq!(openai.base_url, "https://x.example/v1");
        assert_eq!(openai.azure.deployment, Some(None), "blank is none");
        assert_eq!(openai.azure.api_version, Some(Some("2024-10-21".into())));
        assert_eq!(openai.model_mapping, [("a".into(), "b".into())].into());
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = |f: fn(&mut AccountInput)| {
            let mut i = input();
            f(&mut i);
            field(new_account(i))
        };
        assert_eq!(bad(|i| i.name = " ".into()), "name");
        assert_eq!(bad(|i| i.name = "n".repeat(101)), "name");
        assert_eq!(bad(|i| i.api_key = "a\nb".into()), "apiKey");
        assert_eq!(bad(|i| i.base_url = Some("ftp://x".into())), "baseUrl");
        assert_eq!(
            bad(|i| i.base_url = Some("https://x/?q=1".into())),
            "baseUrl"
        );
        assert_eq!(bad(|i| i.proxy = Some("ftp://p".into())), "proxy");
        assert_eq!(
            bad(|i| i.supported_models = Some(vec![" ".into()])),
            "supportedModels"
        );
        assert_eq!(
            bad(|i| i.model_mapping = Some([("a".into(), "".into())].into())),
            "modelMapping"
        );
        assert_eq!(bad(|i| i.max_concurrency = Some(0)), "maxConcurrency");
        assert_eq!(bad(|i| i.monthly_cost = Some(-1.0)), "monthlyCost");
        assert_eq!(bad(|i| i.monthly_cost = Some(f64::NAN)), "monthlyCost");
        assert_eq!(bad(|i| i.notes = Some("n".repeat(2001))), "notes");
        assert_eq!(
            bad(|i| i.azure_deployment = Some("d".into())),
            "azureDeployment"
        );
    }

    #[test]
    fn create_and_update_apply_the_same_rules() {
        let patch = |f: fn(&mut AccountPatch)| {
            let mut p = AccountPatch::default();
            f(&mut p);
            account_changes(p, Platform::Claude)
        };
        assert_eq!(
            patch(|_| {}).unwrap(),
            AccountChanges::default(),
            "empty patch"
        );
        assert_eq!(field(patch(|p| p.name = Some("".into()))), "name");
        assert_eq!(field(patch(|p| p.api_key = Some("".into()))), "apiKey");
        assert_eq!(field(patch(|p| p.base_url = Some("x".into()))), "baseUrl");
        assert_eq!(field(patch(|p| p.proxy = Some(Some("x".into())))), "proxy");
        assert_eq!(
            field(patch(|p| p.max_concurrency = Some(Some(0)))),
            "maxConcurrency"
        );
        assert_eq!(field(patch(|p| p.monthly_cost = Some(-0.5))), "monthlyCost");
        assert_eq!(field(patch(|p| p.notes = Some("n".repeat(2001)))), "notes");
        assert_eq!(
            field(patch(|p| p.azure_api_version = Some(None))),
            "azureDeployment",
            "not an openai account"
        );
        let ok = patch(|p| {
            p.proxy = Some(Some("  ".into()));
            p.max_concurrency = Some(None);
            p.supported_models = Some(vec![" m* ".into()]);
        })
        .unwrap();
        assert_eq!(ok.proxy, Some(None), "blank proxy removes it");
        assert_eq!(ok.max_concurrency, Some(None));
        assert_eq!(ok.supported_models, Some(vec!["m*".to_owned()]));
    }

    #[test]
    fn group_fields() {
        assert_eq!(name("name", " g ").unwrap(), "g");
        assert_eq!(field(group_description("d".repeat(501))), "description");
        assert_eq!(group_description("d".repeat(500)).unwrap().len(), 500);
    }
}
