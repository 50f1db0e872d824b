//! Importing another relay's data (`tollgate import crs`, `POST /admin/import/crs`, Settings →
//! Import): the request and the per-item report, the same for the CLI, the REST API and the
//! dashboard.

use serde::{Deserialize, Serialize};

/// What an import covers. Keys bring their usage history with them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportKind {
    Accounts,
    Groups,
    Keys,
}

impl ImportKind {
    pub const ALL: [ImportKind; 3] = [ImportKind::Accounts, ImportKind::Groups, ImportKind::Keys];

    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::Accounts => "accounts",
            ImportKind::Groups => "groups",
            ImportKind::Keys => "keys",
        }
    }

    pub fn parse(s: &str) -> Option<ImportKind> {
        ImportKind::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }
}

/// `POST /admin/import/crs`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CrsImportRequest {
    /// `redis://[:password@]host:port[/db]` of the CRS Redis (read only).
    pub redis_url: String,
    /// CRS's `ENCRYPTION_KEY`: decrypts the accounts' credentials and is the salt of its key
    /// hashes. Needed for accounts and keys.
    #[serde(default)]
    pub crs_encryption_key: Option<String>,
    /// One plaintext `cr_...` key, to verify the encryption key when the CRS holds no account
    /// credential to check it against.
    #[serde(default)]
    pub crs_sample_key: Option<String>,
    /// Report what would happen; write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Empty = everything.
    #[serde(default)]
    pub only: Vec<ImportKind>,
}

/// What happened to one item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportOutcome {
    Imported,
    Updated,
    Unchanged,
    Skipped,
}

impl ImportOutcome {
    pub const ALL: [ImportOutcome; 4] = [
        ImportOutcome::Imported,
        ImportOutcome::Updated,
        ImportOutcome::Unchanged,
        ImportOutcome::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ImportOutcome::Imported => "imported",
            ImportOutcome::Updated => "updated",
            ImportOutcome::Unchanged => "unchanged",
            ImportOutcome::Skipped => "skipped",
        }
    }
}

/// A remark on an item: why it was skipped, or what of it was not carried over. `code` is
/// stable (the dashboard translates it); `message` is the English text with the details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportNote {
    pub code: String,
    pub message: String,
}

/// One account, group or key of the source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportItem {
    pub kind: ImportKind,
    /// The id in the source, and its kind there (e.g. `claude-console`).
    pub source_id: String,
    pub source_type: String,
    pub name: String,
    pub outcome: ImportOutcome,
    /// The Tollgate id it is (or would be) stored under.
    pub local_id: Option<String>,
    pub notes: Vec<ImportNote>,
}

/// How many items of one kind ended how.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportCounts {
    pub imported: u32,
    pub updated: u32,
    pub unchanged: u32,
    pub skipped: u32,
}

impl ImportCounts {
    pub fn add(&mut self, outcome: ImportOutcome) {
        match outcome {
            ImportOutcome::Imported => self.imported += 1,
            ImportOutcome::Updated => self.updated += 1,
            ImportOutcome::Unchanged => self.unchanged += 1,
            ImportOutcome::Skipped => self.skipped += 1,
        }
    }
}

/// Usage history brought over with the keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportUsage {
    /// (key, day, model) rows of daily usage added or corrected.
    pub daily_rows: u32,
    /// Request records copied into the raw usage log.
    pub records: u32,
}

/// The whole answer: per item, and totals per kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub dry_run: bool,
    /// The Redis it read, without its password.
    pub source: String,
    /// The CRS version its data says it is (`system:migrated:version`).
    pub source_version: Option<String>,
    /// True when this run wrote anything.
    pub changed: bool,
    pub accounts: ImportCounts,
    pub groups: ImportCounts,
    pub keys: ImportCounts,
    pub usage: ImportUsage,
    pub items: Vec<ImportItem>,
    /// Remarks about the whole import (settings that apply to every key, and so on).
    pub notes: Vec<ImportNote>,
}
