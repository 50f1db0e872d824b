//! Comparing what CRS holds with what an earlier import stored, and building one run's writes
//! and report: new objects get Tollgate ids, imported ones are updated only when CRS changed
//! them, objects deleted in Tollgate since are not brought back, and a key's spend, requests and
//! usage move by the difference to what was imported last.

mod accounts;
mod groups;
mod keys;

use std::collections::{BTreeMap, HashMap, HashSet};

use app::types::{
    AccountStatus, AccountType, ImportCounts, ImportItem, ImportKind, ImportNote, ImportOutcome,
    ImportReport, ImportUsage, Platform,
};
use sha2::{Digest, Sha256};

use super::accounts::{self as account_map, AccountTarget};
use super::bindings::{BindingTargets, LocalTarget};
use super::keys::{self as key_map, KeyTarget, QueueConfig};
use super::source::{CrsAccount, CrsData, CrsGroup, CrsKey};
use super::{field, note, parse_time, secrets, usage, CrsImportOptions, ImportError, SOURCE};
use crate::crypto::{mask_secret, Binding, Cipher};
use crate::secret::Secret;
use crate::storage::accounts::AccountRow;
use crate::storage::groups::GroupRow;
use crate::storage::import::{
    DailyTotals, DailyWrite, ImportRun, ImportWrites, ImportedKey, KeyPresence, KeySpend,
    LegacySalt, MapEntry,
};
use crate::storage::keys::{KeyConfig, NewKey};
use crate::storage::{now_ms, Store};
use crate::upstream_http::mask_proxy;

const MAX_GROUP_NAME_CHARS: usize = 100;
const MAX_GROUP_DESCRIPTION_CHARS: usize = 500;

pub struct Planner<'a> {
    store: &'a Store,
    cipher: &'a Cipher,
    opts: &'a CrsImportOptions,
    data: &'a CrsData,
    derived: &'a HashMap<&'static str, Secret<[u8; 32]>>,
    damaged: HashSet<String>,
    map: HashMap<(String, String), MapEntry>,
    now: i64,
    targets: BindingTargets,
    report: ImportReport,
    writes: ImportWrites,
}

fn item(kind: ImportKind, id: &str, source_type: &str, name: &str) -> ImportItem {
    ImportItem {
        kind,
        source_id: id.to_owned(),
        source_type: source_type.to_owned(),
        name: name.to_owned(),
        outcome: ImportOutcome::Skipped,
        local_id: None,
        notes: Vec::new(),
    }
}

fn deleted_here() -> ImportNote {
    note(
        "deleted_in_tollgate",
        "deleted in Tollgate after an earlier import; not brought back",
    )
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn digest_of(value: &impl serde::Serialize) -> String {
    hex::encode(Sha256::digest(
        serde_json::to_string(value).unwrap_or_default().as_bytes(),
    ))
}

impl<'a> Planner<'a> {
    pub async fn new(
        store: &'a Store,
        cipher: &'a Cipher,
        opts: &'a CrsImportOptions,
        data: &'a CrsData,
        derived: &'a HashMap<&'static str, Secret<[u8; 32]>>,
        damaged: HashSet<String>,
    ) -> Result<Planner<'a>, ImportError> {
        Ok(Planner {
            store,
            cipher,
            opts,
            data,
            derived,
            damaged,
            map: store.import_map(SOURCE).await?,
            now: now_ms(),
            targets: BindingTargets::default(),
            report: ImportReport {
                dry_run: opts.dry_run,
                source: super::source::redacted_url(&opts.redis_url),
                source_version: data.version.clone(),
                changed: false,
                accounts: ImportCounts::default(),
                groups: ImportCounts::default(),
                keys: ImportCounts::default(),
                usage: ImportUsage::default(),
                items: Vec::new(),
                notes: Vec::new(),
            },
            writes: ImportWrites {
                source: SOURCE,
                ..Default::default()
            },
        })
    }

    fn mapped(&self, kind: &str, id: &str) -> Option<&MapEntry> {
        self.map.get(&(kind.to_owned(), id.to_owned()))
    }

    fn push(&mut self, item: ImportItem) {
        let counts = match item.kind {
            ImportKind::Accounts => &mut self.report.accounts,
            ImportKind::Groups => &mut self.report.groups,
            ImportKind::Keys => &mut self.report.keys,
        };
        counts.add(item.outcome);
        self.report.items.push(item);
    }

    pub async fn plan(&mut self, key: Option<&str>) -> Result<(), ImportError> {
        self.accounts().await?;
        self.groups().await?;
        if self.opts.covers(ImportKind::Keys) {
            if let Some(key) = key {
                self.keys(key).await?;
            }
        }
        Ok(())
    }

    pub fn finish(mut self) -> (ImportReport, ImportWrites) {
        self.report.changed = !self.writes.is_empty();
        if self.report.changed && !self.opts.dry_run {
            self.writes.run = Some(ImportRun {
                id: new_id(),
                started_by: self.opts.started_by.clone(),
                report: serde_json::to_string(&self.report).unwrap_or_default(),
            });
        }
        (self.report, self.writes)
    }
}
