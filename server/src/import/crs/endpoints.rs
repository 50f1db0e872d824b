//! Where a CRS account is reached and what it serves, in Tollgate's terms: its base URL (CRS
//! appends a different path per kind), its proxy (CRS keeps a JSON object), its models.

use std::collections::BTreeMap;

use app::types::Platform;

use super::field;
use super::source::CrsAccount;
use crate::upstream_http::validate_proxy;

/// `http(s)://host[:port][/path]` without a trailing slash, or why not.
fn check_url(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim().trim_end_matches('/');
    let parsed = url::Url::parse(trimmed).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!("{raw:?} is not an http(s) URL"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("{raw:?} carries a query string or fragment"));
    }
    Ok(trimmed.to_owned())
}

/// The base URL Tollgate needs for what CRS had: CRS appends different paths per kind.
pub(super) fn base_url(a: &CrsAccount) -> Result<String, String> {
    match a.source_type {
        // CRS posts to `{apiUrl}/v1/messages` unless apiUrl already ends so.
        "claude-console" => {
            let url = check_url(field(&a.fields, "apiUrl"))?;
            Ok(url
                .strip_suffix("/v1/messages")
                .unwrap_or(&url)
                .trim_end_matches('/')
                .to_owned())
        }
        // CRS appends the request path (`/v1/responses`, without a doubled /v1). Tollgate takes a
        // base with a path as the API root itself, so a root other than `/v1` gets it added.
        "openai-responses" => {
            let url = check_url(field(&a.fields, "baseApi"))?;
            let has_path =
                url::Url::parse(&url).is_ok_and(|u| !u.path().trim_matches('/').is_empty());
            if has_path && !url.ends_with("/v1") {
                Ok(format!("{url}/v1"))
            } else {
                Ok(url)
            }
        }
        "gemini-api" => check_url(field(&a.fields, "baseUrl"))
            .or_else(|_| Ok(Platform::Gemini.default_base_url().to_owned())),
        "azure-openai" => check_url(field(&a.fields, "azureEndpoint")),
        other => Err(format!("{other} accounts are not imported")),
    }
}

/// CRS's proxy JSON (`{type, host, port, username, password}`) as a proxy URL.
pub(super) fn proxy_url(raw: &str) -> Result<Option<String>, String> {
    let raw = raw.trim();
    if raw.is_empty() || raw == "null" {
        return Ok(None);
    }
    let v: serde_json::Value =
        serde_json::from_str(raw).map_err(|_| "the proxy setting is not JSON".to_string())?;
    let text = |k: &str| match &v[k] {
        serde_json::Value::String(s) => s.trim().to_owned(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let (scheme, host, port) = (
        text("type").to_ascii_lowercase(),
        text("host"),
        text("port"),
    );
    if scheme.is_empty() || host.is_empty() {
        return Ok(None);
    }
    let mut url = url::Url::parse(&format!("{scheme}://{host}:{port}"))
        .map_err(|e| format!("the proxy {scheme}://{host}:{port} is not a URL: {e}"))?;
    let (user, pass) = (text("username"), text("password"));
    if !user.is_empty() {
        let _ = url.set_username(&user);
        let _ = url
            .set_password(Some(&pass))
            .ok()
            .filter(|_| !pass.is_empty());
    }
    let url = url.to_string().trim_end_matches('/').to_owned();
    validate_proxy(&url)?;
    Ok(Some(url))
}

/// `supportedModels`: `{}`/`[]` = every model; a list restricts; an object maps requested →
/// upstream names, and (as in CRS) only its names are served.
pub(super) fn models(raw: &str) -> (Vec<String>, BTreeMap<String, String>) {
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Array(list)) => (
            list.iter()
                .filter_map(|m| m.as_str().map(|s| s.trim().to_owned()))
                .filter(|m| !m.is_empty())
                .collect(),
            BTreeMap::new(),
        ),
        Ok(serde_json::Value::Object(map)) => {
            let mut supported = Vec::new();
            let mut mapping = BTreeMap::new();
            for (from, to) in &map {
                let (from, to) = (from.trim(), to.as_str().unwrap_or("").trim());
                if from.is_empty() {
                    continue;
                }
                supported.push(from.to_owned());
                if !to.is_empty() && to != from {
                    mapping.insert(from.to_owned(), to.to_owned());
                }
            }
            (supported, mapping)
        }
        _ => (Vec::new(), BTreeMap::new()),
    }
}
