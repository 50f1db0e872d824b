//! CRS accounts → Tollgate accounts. The API-credential kinds come over (Claude Console,
//! OpenAI-Responses, Gemini API, Azure OpenAI); subscription-OAuth accounts (Claude.ai, Gemini
//! OAuth, ChatGPT/Codex OAuth) and kinds Tollgate does not run are skipped and listed. Nothing
//! that makes Tollgate pass for an official client is carried over (CRS's `userAgent`).

use std::collections::BTreeMap;

use app::types::{AccountType, ImportNote, Platform};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::endpoints::{base_url, models, proxy_url};
use super::secrets::{self, DecryptError};
use super::source::{CrsAccount, Fields};
use super::{field, flag, note, parse_time};
use crate::secret::Secret;

/// Tollgate's limit on account names.
const MAX_NAME_CHARS: usize = 100;
/// Azure API versions before this one may not support `stream_options`, which Tollgate needs
/// to bill streamed answers.
const MIN_AZURE_API_VERSION: &str = "2024-10-21";

/// An account as CRS describes it, in Tollgate's terms.
#[derive(Clone, Debug, Serialize)]
pub struct AccountTarget {
    pub platform: Platform,
    pub name: String,
    pub account_type: AccountType,
    #[serde(skip)]
    pub api_key: Secret<String>,
    /// For the digest only: the credential's SHA-256, never the credential.
    pub api_key_sha256: String,
    pub base_url: String,
    #[serde(skip)]
    pub proxy: Option<Secret<String>>,
    pub proxy_sha256: Option<String>,
    pub priority: i64,
    pub is_active: bool,
    pub schedulable: bool,
    pub supported_models: Vec<String>,
    pub model_mapping: BTreeMap<String, String>,
    pub max_concurrency: Option<i64>,
    pub notes: String,
    pub azure_deployment: Option<String>,
    pub azure_api_version: Option<String>,
    pub created_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

impl AccountTarget {
    /// What identifies this version of the account: equal digests mean nothing changed in CRS.
    pub fn digest(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        hex::encode(Sha256::digest(json.as_bytes()))
    }
}

/// The outcome of mapping one account.
pub enum Mapped {
    Import(Box<AccountTarget>, Vec<ImportNote>),
    Skip(Vec<ImportNote>),
}

/// Why an account of this CRS type is not imported, if it is not.
fn skipped_kind(source_type: &str) -> Option<ImportNote> {
    Some(match source_type {
        "claude" | "gemini" | "openai" => note(
            "oauth_account",
            format!("{source_type} is a subscription-OAuth account; Tollgate runs API-key accounts only"),
        ),
        "droid" => note("unsupported_kind", "Droid (Factory.ai) accounts are not supported"),
        "bedrock" => note("unsupported_kind", "AWS Bedrock accounts are not supported"),
        "ccr" => note("unsupported_kind", "CCR accounts are not supported"),
        _ => return None,
    })
}

/// The Tollgate platform of an importable CRS account type.
pub fn platform_of(source_type: &str) -> Option<Platform> {
    match source_type {
        "claude-console" => Some(Platform::Claude),
        "openai-responses" | "azure-openai" => Some(Platform::Openai),
        "gemini-api" => Some(Platform::Gemini),
        _ => None,
    }
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Maps one account. `key` is the derived AES key of its type (`None` when no CRS key was
/// given). A credential that does not decrypt is an error of the whole import (wrong key).
pub fn map_account(a: &CrsAccount, key: Option<&Secret<[u8; 32]>>) -> Result<Mapped, DecryptError> {
    if let Some(why) = skipped_kind(a.source_type) {
        return Ok(Mapped::Skip(vec![why]));
    }
    let Some(platform) = platform_of(a.source_type) else {
        return Ok(Mapped::Skip(vec![note(
            "unsupported_kind",
            "unknown account kind",
        )]));
    };
    let f = &a.fields;
    let Some(key) = key else {
        return Ok(Mapped::Skip(vec![note(
            "no_encryption_key",
            "its credential needs --crs-encryption-key",
        )]));
    };
    let mut notes = Vec::new();
    let stored = field(f, "apiKey");
    let api_key = match secrets::decrypt(stored, key.expose()) {
        Ok(k) => k,
        // CRS's console accounts use an unencrypted (old) value as it is; the others read ''.
        Err(DecryptError::NotEncrypted)
            if a.source_type == "claude-console" && !stored.is_empty() =>
        {
            notes.push(note(
                "plaintext_credential",
                "its credential was stored unencrypted in CRS",
            ));
            Secret::new(stored.to_owned())
        }
        Err(DecryptError::NotEncrypted) => {
            return Ok(Mapped::Skip(vec![note(
                "no_credential",
                "no readable upstream key is stored",
            )]))
        }
        Err(e) => return Err(e),
    };
    if api_key.expose().trim().is_empty() {
        return Ok(Mapped::Skip(vec![note(
            "no_credential",
            "no upstream key is stored",
        )]));
    }
    let base_url = match base_url(a) {
        Ok(u) => u,
        Err(why) => return Ok(Mapped::Skip(vec![note("invalid_url", why)])),
    };
    let proxy = match proxy_url(field(f, "proxy")) {
        Ok(p) => p,
        Err(why) => return Ok(Mapped::Skip(vec![note("invalid_proxy", why)])),
    };
    let mut name: String = field(f, "name").trim().to_owned();
    if name.is_empty() {
        name = format!("crs-{}", a.id);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        name = name.chars().take(MAX_NAME_CHARS).collect();
        notes.push(note(
            "name_shortened",
            format!("name shortened to {MAX_NAME_CHARS} characters"),
        ));
    }
    let account_type = AccountType::parse(field(f, "accountType")).unwrap_or_default();
    let (supported_models, model_mapping) = models(field(f, "supportedModels"));
    let max_concurrency = field(f, "maxConcurrentTasks")
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0);
    let (mut azure_deployment, mut azure_api_version) = (None, None);
    if a.source_type == "azure-openai" {
        azure_deployment =
            Some(field(f, "deploymentName").trim().to_owned()).filter(|d| !d.is_empty());
        let version = field(f, "apiVersion").trim();
        if !version.is_empty() && version < MIN_AZURE_API_VERSION {
            notes.push(note(
                "azure_api_version",
                format!("api-version {version} may not report streamed usage; Tollgate's default {MIN_AZURE_API_VERSION} is used"),
            ));
        } else if !version.is_empty() {
            azure_api_version = Some(version.to_owned());
        }
        if azure_deployment.is_none() {
            return Ok(Mapped::Skip(vec![note(
                "invalid_url",
                "no Azure deployment name",
            )]));
        }
    }
    if a.source_type == "claude-console" && !api_key.expose().starts_with("sk-ant-") {
        notes.push(note(
            "auth_header",
            "CRS sent this non-sk-ant key as Authorization: Bearer; Tollgate sends x-api-key",
        ));
    }
    report_dropped(f, &mut notes);
    let status = field(f, "status");
    if !status.is_empty() && status != "active" {
        notes.push(note(
            "status_reset",
            format!("CRS marked it {status}; it starts healthy in Tollgate"),
        ));
    }
    let description = field(f, "description").trim();
    let target = AccountTarget {
        platform,
        name,
        account_type,
        api_key_sha256: sha256_hex(api_key.expose()),
        api_key,
        base_url,
        proxy_sha256: proxy.as_deref().map(sha256_hex),
        proxy: proxy.map(Secret::new),
        priority: field(f, "priority").parse().unwrap_or(50),
        is_active: flag(f, "isActive", true),
        schedulable: flag(f, "schedulable", true),
        supported_models,
        model_mapping,
        max_concurrency,
        notes: if description.is_empty() {
            format!("Imported from CRS ({} {})", a.source_type, a.id)
        } else {
            format!(
                "{description}\nImported from CRS ({} {})",
                a.source_type, a.id
            )
        },
        azure_deployment,
        azure_api_version,
        created_at: parse_time(field(f, "createdAt")),
        last_used_at: parse_time(field(f, "lastUsedAt")),
    };
    Ok(Mapped::Import(Box::new(target), notes))
}

/// Settings of a CRS account that Tollgate has no place for.
fn report_dropped(f: &Fields, notes: &mut Vec<ImportNote>) {
    let quota = field(f, "dailyQuota");
    if quota.parse::<f64>().is_ok_and(|q| q > 0.0) {
        notes.push(note(
            "account_daily_quota",
            format!(
                "daily quota ${quota} is not carried over (Tollgate has no per-account cost limit)"
            ),
        ));
    }
    if !field(f, "userAgent").trim().is_empty() {
        notes.push(note(
            "user_agent",
            "its custom User-Agent is not carried over (Tollgate does not pose as another client)",
        ));
    }
    if !field(f, "subscriptionExpiresAt").trim().is_empty() {
        notes.push(note(
            "subscription_expiry",
            "its subscription expiry date is not carried over",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_and_models() {
        assert_eq!(
            proxy_url(r#"{"type":"http","host":"127.0.0.1","port":18082,"username":"fx proxy","password":"p@ss"}"#)
                .unwrap()
                .as_deref(),
            Some("http://fx%20proxy:p%40ss@127.0.0.1:18082")
        );
        assert_eq!(proxy_url("").unwrap(), None);
        assert!(proxy_url(r#"{"type":"ftp","host":"h","port":1}"#).is_err());
        let (s, m) = models(
            r#"{"claude-sonnet-4-5":"claude-sonnet-4-5","claude-opus-4-1":"claude-sonnet-4-5"}"#,
        );
        assert_eq!(s, vec!["claude-opus-4-1", "claude-sonnet-4-5"]);
        assert_eq!(
            m.get("claude-opus-4-1").map(String::as_str),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(m.len(), 1);
        assert_eq!(models("{}"), (vec![], BTreeMap::new()));
        assert_eq!(models(r#"["gpt-5"]"#).0, vec!["gpt-5"]);
    }

    #[test]
    fn base_urls_follow_crs_paths() {
        let acct = |t: &'static str, k: &str, v: &str| CrsAccount {
            source_type: t,
            id: "x".into(),
            fields: [(k.to_owned(), v.to_owned())].into(),
        };
        assert_eq!(
            base_url(&acct(
                "claude-console",
                "apiUrl",
                "https://h.example/api/v1/messages/"
            ))
            .unwrap(),
            "https://h.example/api"
        );
        assert_eq!(
            base_url(&acct("openai-responses", "baseApi", "https://h.example/v1")).unwrap(),
            "https://h.example/v1"
        );
        assert_eq!(
            base_url(&acct(
                "openai-responses",
                "baseApi",
                "https://h.example/openai"
            ))
            .unwrap(),
            "https://h.example/openai/v1"
        );
        assert_eq!(
            base_url(&acct(
                "openai-responses",
                "baseApi",
                "https://api.openai.com"
            ))
            .unwrap(),
            "https://api.openai.com"
        );
        assert!(base_url(&acct("claude-console", "apiUrl", "ftp://x")).is_err());
    }
}
