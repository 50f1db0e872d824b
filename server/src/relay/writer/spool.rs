//! The spool: usage events the writer could not keep in memory (its queue was full, or the
//! process is stopping while the database is unreachable), appended as JSON lines to files in
//! `<data dir>/usage-spool/` (directory 0700, files 0600) and replayed into the database when
//! it is back and at the next start.
//!
//! Each process appends to a file of its own, named by a UUIDv7 and held under an exclusive
//! lock while it is open; a replay takes only files it can lock (its own, rotated out first,
//! and those of processes that have ended), so a second instance sharing the data dir never
//! replays, or deletes, a file another is still appending to. Replaying is idempotent (events
//! carry their request id; see `storage::usage_write`), so a file replayed twice after a crash
//! counts once. A file is deleted only after every line of it is in the database.
//!
//! Appends are `write(2)`s of whole lines without `fsync`: a `kill -9` loses none of them (the
//! kernel has them), a power loss can lose what the kernel had not written back yet. The writer
//! syncs the file when it stops.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

use super::UsageEvent;

pub struct Spool {
    dir: PathBuf,
    current: Mutex<Option<File>>,
    /// Events in spool files this process knows of and has not replayed yet.
    backlog: AtomicUsize,
}

/// A spool file taken for replay: locked by this process until dropped.
pub struct Taken {
    pub path: PathBuf,
    _file: File,
}

impl Spool {
    /// Opens the spool in `dir` (created 0700 if missing) and counts the events left there by
    /// earlier runs.
    pub fn open(dir: PathBuf) -> anyhow::Result<Spool> {
        crate::private_files::create_private_dir(&dir)?;
        let spool = Spool {
            dir,
            current: Mutex::new(None),
            backlog: AtomicUsize::new(0),
        };
        let mut left = 0;
        for path in spool.files() {
            // Files another live instance appends to (locked) are its backlog, not ours.
            let Ok(file) = File::open(&path) else {
                continue;
            };
            if file.try_lock().is_ok() {
                left += BufReader::new(file).lines().count();
            }
        }
        spool.backlog.store(left, Ordering::Relaxed);
        Ok(spool)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Events waiting in spool files.
    pub fn backlog(&self) -> usize {
        self.backlog.load(Ordering::Relaxed)
    }

    fn files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    /// Appends events, one JSON line each, in one write.
    pub fn append(&self, events: &[UsageEvent]) -> std::io::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut text = Vec::with_capacity(events.len() * 512);
        for e in events {
            serde_json::to_writer(&mut text, &Spooled::from(e))?;
            text.push(b'\n');
        }
        let mut current = self.current.lock();
        let file = match current.as_mut() {
            Some(file) => file,
            None => {
                let path = self
                    .dir
                    .join(format!("{}.jsonl", uuid::Uuid::now_v7().simple()));
                let mut opts = OpenOptions::new();
                opts.append(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                let file = opts.open(&path)?;
                file.try_lock().map_err(std::io::Error::other)?;
                current.insert(file)
            }
        };
        file.write_all(&text)?;
        self.backlog.fetch_add(events.len(), Ordering::Relaxed);
        Ok(())
    }

    /// Flushes this process's spool file to disk (at shutdown).
    pub fn sync(&self) {
        if let Some(f) = self.current.lock().as_ref() {
            if let Err(e) = f.sync_data() {
                tracing::error!(error = %e, "syncing the usage spool failed");
            }
        }
    }

    /// Closes this process's current file (later appends start a new one) and locks every
    /// spool file no live process is appending to, oldest first.
    pub fn take(&self) -> Vec<Taken> {
        drop(self.current.lock().take());
        let mut taken = Vec::new();
        for path in self.files() {
            let Ok(file) = OpenOptions::new().read(true).write(true).open(&path) else {
                continue;
            };
            if file.try_lock().is_ok() {
                taken.push(Taken { path, _file: file });
            }
        }
        taken
    }

    /// The events of a taken file. Lines that do not parse (a line torn by a crash in the
    /// middle of its write) are logged and skipped; the count of lines read is returned too.
    pub fn read(&self, taken: &Taken) -> std::io::Result<(Vec<UsageEvent>, usize)> {
        let file = File::open(&taken.path)?;
        let mut events = Vec::new();
        let mut lines = 0;
        for line in BufReader::new(file).lines() {
            let line = line?;
            lines += 1;
            match serde_json::from_str::<Spooled>(&line) {
                Ok(s) => events.push(s.into()),
                Err(e) => tracing::error!(
                    error = %e,
                    file = %taken.path.display(),
                    "an unreadable line in the usage spool was skipped"
                ),
            }
        }
        Ok((events, lines))
    }

    /// Deletes a replayed file: every one of its `lines` is in the database.
    pub fn done(&self, taken: Taken, lines: usize) {
        if let Err(e) = std::fs::remove_file(&taken.path) {
            tracing::error!(error = %e, file = %taken.path.display(), "removing a replayed usage spool file failed");
            return;
        }
        let _ = self
            .backlog
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(lines))
            });
    }
}

/// A usage event as a spool line (and a dead letter's `event`). Built by destructuring every
/// field of [`UsageEvent`], so a field added there fails to compile here until it is spooled
/// too.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[derive(Default)]
pub struct Spooled {
    request_id: String,
    key_id: String,
    account_id: Option<String>,
    group_id: Option<String>,
    platform: String,
    model: String,
    usage: crate::pricing::TokenUsage,
    cost_micros: i64,
    price: String,
    priced_by_fallback: bool,
    status: u16,
    error_type: Option<String>,
    latency_ms: i64,
    ttft_ms: Option<i64>,
    stream: bool,
    client_disconnected: bool,
    usage_estimated: bool,
    created_at: i64,
}

impl From<&UsageEvent> for Spooled {
    fn from(e: &UsageEvent) -> Spooled {
        let UsageEvent {
            request_id,
            key_id,
            account_id,
            group_id,
            platform,
            model,
            usage,
            cost_micros,
            price,
            priced_by_fallback,
            status,
            error_type,
            latency_ms,
            ttft_ms,
            stream,
            client_disconnected,
            usage_estimated,
            created_at,
        } = e;
        Spooled {
            request_id: request_id.clone(),
            key_id: key_id.to_string(),
            account_id: account_id.as_deref().map(str::to_owned),
            group_id: group_id.as_deref().map(str::to_owned),
            platform: (*platform).to_owned(),
            model: model.clone(),
            usage: *usage,
            cost_micros: *cost_micros,
            price: price.clone(),
            priced_by_fallback: *priced_by_fallback,
            status: *status,
            error_type: error_type.clone(),
            latency_ms: *latency_ms,
            ttft_ms: *ttft_ms,
            stream: *stream,
            client_disconnected: *client_disconnected,
            usage_estimated: *usage_estimated,
            created_at: *created_at,
        }
    }
}

impl From<Spooled> for UsageEvent {
    fn from(s: Spooled) -> UsageEvent {
        UsageEvent {
            request_id: s.request_id,
            key_id: s.key_id.into(),
            account_id: s.account_id.map(Into::into),
            group_id: s.group_id.map(Into::into),
            platform: app::types::Platform::parse(&s.platform).map_or("other", |p| p.as_str()),
            model: s.model,
            usage: s.usage,
            cost_micros: s.cost_micros,
            price: s.price,
            priced_by_fallback: s.priced_by_fallback,
            status: s.status,
            error_type: s.error_type,
            latency_ms: s.latency_ms,
            ttft_ms: s.ttft_ms,
            stream: s.stream,
            client_disconnected: s.client_disconnected,
            usage_estimated: s.usage_estimated,
            created_at: s.created_at,
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn event(n: usize) -> UsageEvent {
        UsageEvent {
            request_id: format!("r{n}"),
            key_id: "k".into(),
            account_id: Some("a".into()),
            platform: "claude",
            model: "m\0odel".into(),
            cost_micros: n as i64,
            status: 200,
            created_at: 1,
            ..Default::default()
        }
    }

    #[test]
    fn appends_privately_takes_what_it_can_lock_and_counts_backlog() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("usage-spool");
        let spool = Spool::open(dir.clone()).unwrap();
        spool.append(&[event(1), event(2)]).unwrap();
        spool.append(&[event(3)]).unwrap();
        assert_eq!(spool.backlog(), 3);
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let file = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap();
        assert_eq!(file.metadata().unwrap().permissions().mode() & 0o777, 0o600);

        // A second instance on the same dir sees a locked (live) file: not its backlog.
        let other = Spool::open(dir.clone()).unwrap();
        assert_eq!(other.backlog(), 0);
        assert!(other.take().is_empty(), "another live file is never taken");

        let taken = spool.take();
        assert_eq!(taken.len(), 1);
        let (events, lines) = spool.read(&taken[0]).unwrap();
        assert_eq!(lines, 3);
        assert_eq!(events[2].request_id, "r3");
        assert_eq!(events[0].model, "m\0odel");
        assert_eq!(events[0].platform, "claude");
        // Appends during a replay go to a new file.
        spool.append(&[event(4)]).unwrap();
        spool.done(taken.into_iter().next().unwrap(), lines);
        assert_eq!(spool.backlog(), 1);
        drop(spool);
        // The next start counts (and can take) what is left.
        let next = Spool::open(dir).unwrap();
        assert_eq!(next.backlog(), 1);
        assert_eq!(next.take().len(), 1);
    }
}
