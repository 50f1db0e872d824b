//! Files only Tollgate's own user may read: the data directory (0700), the encryption key file
//! and the SQLite database (0600). SQLite creates its `-wal` and `-shm` files with the mode of
//! the database file, so creating the database 0600 before SQLite opens it covers them too.
//!
//! Files and directories that already exist are left as they are (an operator may have chosen
//! a group for backups); a warning names those readable by others.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Creates `dir` (and missing parents) with mode 0700.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.as_os_str().is_empty() || dir.exists() {
        warn_if_open(dir);
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("creating directory {}", dir.display()))
}

fn private_options() -> OpenOptions {
    let mut opts = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts
}

/// Writes a new file with mode 0600; fails if it exists.
pub fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut file = private_options()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Whether SQLite's `path` names a file of its own. Not an in-memory database: `:memory:`, an
/// empty name, or a URI name (`file:…`), which is how sqlx names the in-memory database of
/// `sqlite::memory:` (`file:sqlx-in-memory-<n>`, no file ever made of it).
pub fn is_sqlite_file(path: &Path) -> bool {
    let name = path.to_str().unwrap_or_default();
    !(name.is_empty() || name == ":memory:" || name.starts_with("file:"))
}

/// Makes sure the SQLite database at `path` exists with mode 0600 in a 0700 directory before
/// SQLite opens it (SQLite would create it 0644, and its WAL files alike).
pub fn prepare_sqlite_file(path: &Path) -> anyhow::Result<()> {
    if !is_sqlite_file(path) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        create_private_dir(parent)?;
    }
    if path.exists() {
        warn_if_open(path);
        return Ok(());
    }
    private_options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    Ok(())
}

fn warn_if_open(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "readable by other users; consider chmod go-rwx");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn directories_and_database_files_are_private() {
        let root = tempfile::tempdir().unwrap();
        let db = root.path().join("a/b/tollgate.db");
        prepare_sqlite_file(&db).unwrap();
        assert_eq!(mode(&root.path().join("a")), 0o700);
        assert_eq!(mode(&root.path().join("a/b")), 0o700);
        assert_eq!(mode(&db), 0o600);
        // Existing files are not touched.
        std::fs::write(&db, b"x").unwrap();
        prepare_sqlite_file(&db).unwrap();
        assert_eq!(std::fs::read(&db).unwrap(), b"x");
        let key = root.path().join("a/key");
        write_private(&key, b"k").unwrap();
        assert_eq!(mode(&key), 0o600);
        assert!(write_private(&key, b"k").is_err(), "never overwrites");
    }

    /// `sqlite::memory:` gets no stray file named after sqlx's in-memory name (one was made in
    /// the working directory before), nor do `:memory:` and an empty name.
    #[test]
    fn in_memory_databases_make_no_file() {
        let root = tempfile::tempdir().unwrap();
        let opts: sqlx::sqlite::SqliteConnectOptions = "sqlite::memory:".parse().unwrap();
        let named = opts.get_filename();
        assert!(!is_sqlite_file(named), "{}", named.display());
        for name in [":memory:", ""] {
            assert!(!is_sqlite_file(Path::new(name)));
        }
        let relative = root.path().join(named);
        prepare_sqlite_file(&relative).unwrap();
        assert!(
            is_sqlite_file(&relative) && relative.exists(),
            "an absolute path is a file"
        );
        prepare_sqlite_file(named).unwrap();
        assert!(!named.exists(), "{}", named.display());
    }
}
