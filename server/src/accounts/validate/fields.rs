//! One rule per account field, each naming the JSON field it refuses.

use std::collections::BTreeMap;

use app::error::AdminError;
use app::types::{usd_to_micros, Platform};

use super::AzureChanges;
use crate::upstream_http::validate_proxy;

const MAX_NAME_CHARS: usize = 100;
const MAX_NOTES_CHARS: usize = 2000;
const MAX_MODELS: usize = 500;

/// A first-token timeout: 1 s to 10 minutes.
pub(super) fn first_token_timeout(ms: Option<u64>) -> Result<Option<u64>, AdminError> {
    match ms {
        Some(ms) if !app::types::FIRST_TOKEN_TIMEOUT_RANGE_MS.contains(&ms) => {
            let range = app::types::FIRST_TOKEN_TIMEOUT_RANGE_MS;
            Err(v(
                "firstTokenTimeoutMs",
                format!(
                    "must be between {} and {} ms (or null for the server default)",
                    range.start(),
                    range.end()
                ),
            ))
        }
        ms => Ok(ms),
    }
}

pub(super) fn v(field: &str, message: impl Into<String>) -> AdminError {
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

pub(super) fn money(field: &str, usd: f64) -> Result<i64, AdminError> {
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

pub(super) fn max_concurrency(
    max: Option<u32>,
    how_to_unset: &str,
) -> Result<Option<i64>, AdminError> {
    if max == Some(0) {
        return Err(v(
            "maxConcurrency",
            format!("must be at least 1 ({how_to_unset} for no limit)"),
        ));
    }
    Ok(max.map(i64::from))
}

pub(super) fn notes(notes: String) -> Result<String, AdminError> {
    if notes.chars().count() > MAX_NOTES_CHARS {
        return Err(v("notes", "at most 2000 characters"));
    }
    Ok(notes)
}

/// Azure settings only exist for OpenAI accounts; blank values clear them.
pub(super) fn azure(
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
