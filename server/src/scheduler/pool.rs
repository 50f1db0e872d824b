//! The schedulable accounts as an immutable snapshot, rebuilt from the database whenever an
//! account or group changes and swapped in atomically; requests never wait on a rebuild.

use std::collections::HashMap;
use std::sync::Arc;

use app::types::{AccountStatus, AccountType, Platform};

use crate::crypto::{Binding, Cipher};
use crate::secret::Secret;
use crate::storage::accounts::AccountRow;
use crate::upstream_http::{HttpClients, UpstreamClient, UpstreamRequest};

/// An upstream account, ready to send requests to.
pub struct UpstreamAccount {
    pub id: Arc<str>,
    pub name: String,
    pub platform: Platform,
    pub account_type: AccountType,
    pub api_key: Secret<String>,
    /// Without a trailing slash.
    pub base_url: String,
    /// `base_url` parsed once, when appending a path to it cannot change how it parses (see
    /// [`UpstreamAccount::post`]); `None` sends requests through the full parse.
    pub base: Option<url::Url>,
    /// Whether `base_url` has a path of its own (an OpenAI-compatible API root such as
    /// `https://openrouter.ai/api/v1`), decided once.
    pub base_has_path: bool,
    pub priority: i32,
    pub is_active: bool,
    pub schedulable: bool,
    pub supported_models: Vec<String>,
    pub model_mapping: HashMap<String, String>,
    pub max_concurrency: Option<u32>,
    pub azure_deployment: Option<String>,
    pub azure_api_version: Option<String>,
    /// The account's own first-token timeout for streams (`firstTokenTimeoutMs`).
    pub first_token_timeout: Option<std::time::Duration>,
    pub group_ids: Vec<Arc<str>>,
    pub client: UpstreamClient,
    pub monthly_cost_micros: i64,
    /// Set when the account cannot be used at all (e.g. its credential does not decrypt).
    pub unusable: Option<String>,
    pub stored_status: AccountStatus,
    pub stored_cooldown_until: Option<i64>,
    pub stored_message: String,
}

impl UpstreamAccount {
    /// Whether the account serves `model`: everything when no list is set; otherwise listed
    /// names, `prefix*` patterns, and names its mapping renames.
    pub fn supports(&self, model: &str) -> bool {
        self.supported_models.is_empty()
            || self.model_mapping.contains_key(model)
            || self
                .supported_models
                .iter()
                .any(|m| match m.strip_suffix('*') {
                    Some(prefix) => model.starts_with(prefix),
                    None => m == model,
                })
    }

    /// A POST to `base_url` followed by `path_and_query`, with the base parsed once per pool
    /// snapshot instead of per request. The URL is the one `format!("{base_url}{path_and_query}")`
    /// parses to; anything that could parse otherwise takes that road itself.
    pub fn post(&self, path_and_query: &str) -> UpstreamRequest {
        match self.base.as_ref().and_then(|b| join(b, path_and_query)) {
            Some(url) => self.client.post(url),
            None => self
                .client
                .post_str(&format!("{}{path_and_query}", self.base_url)),
        }
    }

    /// The model name to send upstream for a requested one.
    pub fn upstream_model<'a>(&'a self, model: &'a str) -> &'a str {
        self.model_mapping
            .get(model)
            .map(String::as_str)
            .unwrap_or(model)
    }
}

/// Whether a base URL has a path of its own (an OpenAI-compatible API root such as
/// `https://openrouter.ai/api/v1`).
pub fn has_own_path(base_url: &str) -> bool {
    url::Url::parse(base_url.trim_end_matches('/'))
        .is_ok_and(|u| !u.path().trim_matches('/').is_empty())
}

/// The base URL parsed, when it serialises back to itself (so the string and the parsed form
/// agree) and has a host but no query or fragment for a path to run into.
fn parse_base(base_url: &str) -> Option<url::Url> {
    let url = url::Url::parse(base_url).ok()?;
    let same = url.as_str() == base_url
        || url.as_str().strip_suffix('/') == Some(base_url) && url.path() == "/";
    (same && url.has_host() && url.query().is_none() && url.fragment().is_none()).then_some(url)
}

/// `base` with `path_and_query` appended, as parsing the concatenated string would give it:
/// only for an absolute path of printable ASCII without `#` or `\`, the cases where the
/// host cannot change and the path and query parse alike on their own.
fn join(base: &url::Url, path_and_query: &str) -> Option<url::Url> {
    if !path_and_query.starts_with('/')
        || !path_and_query
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'#' && b != b'\\')
    {
        return None;
    }
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_and_query, None),
    };
    let mut url = base.clone();
    if base.path() == "/" {
        url.set_path(path);
    } else {
        url.set_path(&format!("{}{path}", base.path()));
    }
    url.set_query(query);
    Some(url)
}

/// How a group's conversations stay on their account when it cools down.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StickyMode {
    /// Kept through a cooldown shorter than `STICKY_UNAVAILABLE_GRACE_SECS`.
    #[default]
    Grace,
    /// Kept through any cooldown (served elsewhere meanwhile), for the prompt cache.
    Keep,
    /// Moved at once to the account that serves the request.
    Move,
}

impl StickyMode {
    pub fn parse(stored: &str) -> StickyMode {
        match stored {
            "keep" => StickyMode::Keep,
            "move" => StickyMode::Move,
            _ => StickyMode::Grace,
        }
    }
}

pub struct GroupInfo {
    pub platform: Platform,
    pub members: Vec<Arc<UpstreamAccount>>,
    pub sticky_mode: StickyMode,
}

#[derive(Default)]
pub struct PoolSnapshot {
    pub by_id: HashMap<Arc<str>, Arc<UpstreamAccount>>,
    pub groups: HashMap<Arc<str>, GroupInfo>,
    /// Shared-pool accounts per platform (`Platform` order: claude, openai, gemini).
    pub shared: [Vec<Arc<UpstreamAccount>>; 3],
}

pub fn platform_index(p: Platform) -> usize {
    match p {
        Platform::Claude => 0,
        Platform::Openai => 1,
        Platform::Gemini => 2,
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct AccountExtra {
    pub azure_deployment: Option<String>,
    pub azure_api_version: Option<String>,
    pub first_token_timeout_ms: Option<u64>,
}

pub fn build_account(
    row: &AccountRow,
    groups: Vec<Arc<str>>,
    cipher: &Cipher,
    clients: &HttpClients,
) -> UpstreamAccount {
    let mut unusable = None;
    let api_key = cipher
        .decrypt(Binding::account_api_key(&row.id), &row.api_key_enc)
        .unwrap_or_else(|e| {
            tracing::error!(account = %row.id, error = %e, "cannot decrypt the account's API key");
            unusable = Some(
                "the stored API key cannot be decrypted (ENCRYPTION_KEY changed?)".to_string(),
            );
            Secret::new(String::new())
        });
    let proxy = match row
        .proxy_enc
        .as_deref()
        .map(|p| cipher.decrypt(Binding::account_proxy(&row.id), p))
    {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            tracing::error!(account = %row.id, error = %e, "cannot decrypt the account's proxy");
            unusable = Some("the stored proxy cannot be decrypted".into());
            None
        }
        None => None,
    };
    let client = match clients.get(proxy.as_ref().map(|p| p.expose().as_str())) {
        Ok(c) => c,
        Err(e) => {
            unusable = Some(format!("proxy unusable: {e}"));
            // Never used: an unusable account is not scheduled.
            UpstreamClient::Proxied(reqwest::Client::new())
        }
    };
    let extra: AccountExtra = serde_json::from_str(&row.extra).unwrap_or_default();
    let base_url = row.base_url.trim_end_matches('/').to_owned();
    UpstreamAccount {
        id: row.id.as_str().into(),
        name: row.name.clone(),
        platform: Platform::parse(&row.platform).unwrap_or(Platform::Claude),
        account_type: AccountType::parse(&row.account_type).unwrap_or_default(),
        api_key,
        base: parse_base(&base_url),
        base_has_path: has_own_path(&base_url),
        base_url,
        priority: row.priority.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
        is_active: row.is_active,
        schedulable: row.schedulable,
        supported_models: serde_json::from_str(&row.supported_models).unwrap_or_default(),
        model_mapping: serde_json::from_str(&row.model_mapping).unwrap_or_default(),
        max_concurrency: row
            .max_concurrency
            .filter(|m| *m > 0)
            .map(|m| m.min(u32::MAX as i64) as u32),
        azure_deployment: extra.azure_deployment,
        azure_api_version: extra.azure_api_version,
        first_token_timeout: extra
            .first_token_timeout_ms
            .filter(|ms| *ms > 0)
            .map(std::time::Duration::from_millis),
        group_ids: groups,
        client,
        monthly_cost_micros: row.monthly_cost_micros,
        unusable,
        stored_status: AccountStatus::parse(&row.status).unwrap_or_default(),
        stored_cooldown_until: row.cooldown_until,
        stored_message: row.status_message.clone().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_urls_parse_as_the_concatenation() {
        let bases = [
            "http://127.0.0.1:8080",
            "https://api.anthropic.com",
            "https://API.Example.com",
            "https://openrouter.ai/api/v1",
            "https://h/a%20b/c",
            "https://h/x/./y/../z",
            "https://user:pw@h:443/p",
            "https://h/p?x=1",
            "https://h/p#f",
            "https://h:99999",
            "https://xn--bcher-kva.example/v",
            "https://bücher.example",
            "unix:/x",
            "nonsense",
        ];
        let paths = [
            "/v1/messages",
            "/v1/messages?beta=true",
            "/v1/messages?",
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
            "/a/../../b",
            "/%2e%2e/x",
            "/a b",
            "/a#b",
            "/a\\b",
            "//evil.example/x",
            "/?q=%zz&r=\u{e9}",
            "v1/messages",
            "",
        ];
        for b in bases {
            let base = parse_base(b);
            for p in paths {
                let want = url::Url::parse(&format!("{b}{p}")).ok();
                if let Some(got) = base.as_ref().and_then(|base| join(base, p)) {
                    assert_eq!(Some(got), want, "{b} + {p}");
                }
            }
        }
        assert!(parse_base("http://127.0.0.1:8080").is_some());
        assert!(parse_base("https://openrouter.ai/api/v1").is_some());
        let base = parse_base("https://openrouter.ai/api/v1").unwrap();
        assert!(join(&base, "/chat/completions").is_some());
    }
}
