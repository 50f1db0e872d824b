//! `tollgate import crs`: brings a claude-relay-service (CRS 1.1.x) Redis over — API-key
//! accounts, groups and their members, API keys with their limits, bindings, spend and usage
//! history — so its customers' `cr_...` keys keep working. Idempotent: what was imported before
//! is updated (found through `import_map`), never duplicated; a second run over unchanged data
//! writes nothing. A wrong CRS `ENCRYPTION_KEY` is caught before anything is written.
//!
//! `source` reads Redis, `secrets` is CRS's cryptography, `accounts`/`keys`/`usage` map CRS's
//! objects to Tollgate's, `plan` compares them with what is stored and builds the writes, which
//! `Store::apply_import` commits in one transaction.

pub mod accounts;
pub mod bindings;
mod endpoints;
mod key_terms;
pub mod keys;
mod plan;
pub mod secrets;
pub mod source;
pub mod usage;

use std::collections::HashMap;

use app::types::{ImportKind, ImportNote, ImportReport};

use crate::crypto::Cipher;
use crate::secret::Secret;
use crate::storage::import::ImportWrites;
use crate::storage::{Store, StoreError};
use secrets::DecryptError;
use source::{CrsData, Fields};

/// The `source` of CRS imports in `import_map`.
pub const SOURCE: &str = "crs";

/// What to import and how.
#[derive(Clone, Debug, Default)]
pub struct CrsImportOptions {
    pub redis_url: String,
    pub encryption_key: Option<Secret<String>>,
    pub sample_key: Option<Secret<String>>,
    pub dry_run: bool,
    /// Empty = everything.
    pub only: Vec<ImportKind>,
    /// Who runs it (an admin id, or `cli`), recorded with the run.
    pub started_by: String,
    /// Who runs it, for the audit row written with the run's changes (none: no audit row).
    pub actor: Option<app::port::Actor>,
}

impl CrsImportOptions {
    pub fn covers(&self, kind: ImportKind) -> bool {
        self.only.is_empty() || self.only.contains(&kind)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A bad option, named by its field.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The source could not be read.
    #[error("{0}")]
    Source(String),
    /// The CRS encryption key is wrong (or cannot be checked); nothing was written.
    #[error("{0}")]
    WrongKey(String),
    /// Another import wrote the same objects meanwhile; this run was rolled back.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a run did: its report, and the writes it made (empty for a dry run), so a running
/// server can bring its caches up to date.
pub struct ImportOutcome {
    pub report: ImportReport,
    pub writes: ImportWrites,
}

/// One field of a CRS hash, `""` when absent.
pub(crate) fn field<'a>(f: &'a Fields, name: &str) -> &'a str {
    f.get(name).map(String::as_str).unwrap_or("")
}

/// A CRS boolean (`"true"`/`"false"`), `default` when absent or anything else.
pub(crate) fn flag(f: &Fields, name: &str, default: bool) -> bool {
    match field(f, name).trim() {
        "true" => true,
        "false" => false,
        _ => default,
    }
}

/// A JSON list of strings stored as text; anything else is empty.
/// USD as CRS stores it (a decimal string) → micro-USD; empty or invalid = 0.
pub(crate) fn usd(text: &str) -> i64 {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| *v > 0.0)
        .and_then(app::types::usd_to_micros)
        .unwrap_or(0)
}

/// A whole number field; empty, invalid or negative = 0.
pub(crate) fn int(f: &Fields, name: &str) -> i64 {
    field(f, name)
        .trim()
        .parse::<f64>()
        .map(|v| v as i64)
        .unwrap_or(0)
        .max(0)
}

pub(crate) fn json_list(text: &str) -> Vec<String> {
    serde_json::from_str::<Vec<serde_json::Value>>(text.trim())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// An ISO 8601 time (CRS's `toISOString()`) → epoch ms.
pub(crate) fn parse_time(text: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.timestamp_millis())
}

pub(crate) fn note(code: &str, message: impl Into<String>) -> ImportNote {
    ImportNote {
        code: code.into(),
        message: message.into(),
    }
}

/// Runs an import (or a dry run) against `store`. Nothing is written unless every check passed.
pub async fn run(
    store: &Store,
    cipher: &Cipher,
    opts: &CrsImportOptions,
) -> Result<ImportOutcome, ImportError> {
    if opts.redis_url.trim().is_empty() {
        return Err(ImportError::Invalid {
            field: "redisUrl",
            message: "the CRS Redis URL is required, e.g. redis://127.0.0.1:6379/0".into(),
        });
    }
    let needs_key = opts.covers(ImportKind::Accounts) || opts.covers(ImportKind::Keys);
    let key = opts
        .encryption_key
        .as_ref()
        .map(|k| k.expose().clone())
        .filter(|k| !k.is_empty());
    if needs_key && key.is_none() {
        return Err(ImportError::Invalid {
            field: "crsEncryptionKey",
            message: "accounts and keys need CRS's ENCRYPTION_KEY (from its .env or config)".into(),
        });
    }
    let data = source::read(opts.redis_url.trim())
        .await
        .map_err(|e| ImportError::Source(format!("{e:#}")))?;
    let derived = match &key {
        Some(k) => derive_keys(&data, k).await?,
        None => HashMap::new(),
    };
    let damaged = match &key {
        Some(k) => verify_key(&data, &derived, k, opts)?,
        None => Default::default(),
    };
    let mut planner = plan::Planner::new(store, cipher, opts, &data, &derived, damaged).await?;
    planner.plan(key.as_deref()).await?;
    let (report, mut writes) = planner.finish();
    if let (Some(actor), Some(run)) = (&opts.actor, &writes.run) {
        writes.audit = Some(crate::storage::audit_row::row(
            actor,
            "import.crs",
            "import",
            &run.id,
            "crs",
            serde_json::json!({
                "source": report.source,
                "accounts": report.accounts,
                "groups": report.groups,
                "keys": report.keys,
                "usage": report.usage,
            }),
        ));
    }
    if !opts.dry_run && !writes.is_empty() {
        store.apply_import(&writes).await.map_err(|e| {
            if e.is_unique_violation() {
                ImportError::Conflict(
                    "another import wrote the same objects at the same time; nothing of this run was written: run it again".into(),
                )
            } else {
                ImportError::Store(e)
            }
        })?;
    }
    tracing::info!(
        dry_run = opts.dry_run,
        changed = report.changed,
        by = %opts.started_by,
        "CRS import finished"
    );
    Ok(ImportOutcome {
        report,
        writes: if opts.dry_run {
            ImportWrites::default()
        } else {
            writes
        },
    })
}

/// Derives CRS's AES key for each account type present (scrypt, on a blocking thread).
async fn derive_keys(
    data: &CrsData,
    key: &str,
) -> Result<HashMap<&'static str, Secret<[u8; 32]>>, ImportError> {
    let mut types: Vec<&'static str> = data
        .accounts
        .iter()
        .map(|a| a.source_type)
        .filter(|t| secrets::credential_salt(t).is_some())
        .collect();
    types.sort();
    types.dedup();
    let key = key.to_owned();
    tokio::task::spawn_blocking(move || {
        types
            .into_iter()
            .filter_map(|t| {
                let salt = secrets::credential_salt(t)?;
                Some(secrets::derive_key(&key, salt).map(|k| (t, k)))
            })
            .collect::<anyhow::Result<HashMap<_, _>>>()
    })
    .await
    .map_err(|e| ImportError::Source(format!("deriving CRS's credential keys failed: {e}")))?
    .map_err(|e| ImportError::Source(format!("deriving CRS's credential keys failed: {e:#}")))
}

/// Checks the CRS encryption key before anything is written: every stored credential must
/// decrypt with it (when none does, the key is wrong; when only some do, those are damaged and
/// their accounts are skipped), and a sample key, when given, must hash to a stored key.
/// Returns the ids of accounts whose credential is damaged.
fn verify_key(
    data: &CrsData,
    derived: &HashMap<&'static str, Secret<[u8; 32]>>,
    key: &str,
    opts: &CrsImportOptions,
) -> Result<std::collections::HashSet<String>, ImportError> {
    let (mut decrypted, mut failed) = (0usize, Vec::new());
    for a in &data.accounts {
        let Some(aes) = derived.get(a.source_type) else {
            continue;
        };
        match secrets::decrypt(field(&a.fields, "apiKey"), aes.expose()) {
            Ok(_) => decrypted += 1,
            Err(DecryptError::NotEncrypted) => {}
            Err(DecryptError::WrongKey) => failed.push(a),
        }
    }
    if decrypted == 0 {
        if let Some(a) = failed.first() {
            return Err(ImportError::WrongKey(format!(
                "the CRS encryption key is wrong: the credential of {} account {:?} ({}) does not decrypt with it. Nothing was written.",
                a.source_type,
                field(&a.fields, "name"),
                a.id
            )));
        }
    }
    if let Some(sample) = &opts.sample_key {
        let sample = sample.expose().trim();
        if !secrets::is_crs_key(sample) {
            return Err(ImportError::Invalid {
                field: "crsSampleKey",
                message: "must be a whole CRS key: cr_ followed by 64 hex characters".into(),
            });
        }
        if !data
            .hash_map
            .contains_key(&secrets::crs_key_hash(sample, key))
        {
            return Err(ImportError::WrongKey(
                "the CRS encryption key is wrong, or the sample key is not one of this CRS's keys: it does not hash to any stored key. Nothing was written.".into(),
            ));
        }
    } else if decrypted == 0 && opts.covers(ImportKind::Keys) && !data.keys.is_empty() {
        return Err(ImportError::WrongKey(
            "the CRS encryption key cannot be checked: this CRS holds no encrypted account credential. Pass one of its keys as --crs-sample-key (crsSampleKey) to check it against the stored key hashes. Nothing was written.".into(),
        ));
    }
    Ok(failed.into_iter().map(|a| a.id.clone()).collect())
}
