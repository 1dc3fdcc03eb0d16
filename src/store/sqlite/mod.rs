//! [`Store`](super::Store) on one SQLite file: WAL with `synchronous=NORMAL` (committed rows
//! survive `kill -9`, see RELIABILITY.md), one connection behind a mutex, schema migrations keyed
//! by `PRAGMA user_version`. This file opens and configures the connection; each role's SQL is in
//! the file of that name (`inbox.rs`, `outbox.rs`, `chats.rs`, `escalations.rs`,
//! `questions.rs`, `upkeep.rs`), with the test-only helpers of each role as inherent methods.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use super::schema::MIGRATIONS;
use super::{StoreError, StoreResult};
use crate::action::Action;

mod chats;
mod dump;
mod escalations;
mod inbox;
mod outbox;
mod questions;
mod review;
#[cfg(test)]
mod tests;
mod upkeep;

/// How long a statement waits for another connection's lock (e.g. a `faqbot` command or a
/// `sqlite3` shell on the same file) before failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite store. Cheap to share behind an `Arc`; every method takes the connection's lock
/// only for its SQL, never across encoding, logging or I/O elsewhere.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed, with its parent folders) the store at `path` and brings its
    /// schema up to date.
    ///
    /// A file that is not a SQLite database gives [`StoreError::NotADatabase`] and is left
    /// untouched; a schema newer than this build gives [`StoreError::TooNew`].
    pub fn open(path: impl AsRef<Path>) -> StoreResult<SqliteStore> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: path.clone(),
                source,
            })?;
        }
        create_private(&path);
        let mut conn = Connection::open(&path).map_err(|e| classify(&path, "open", e))?;
        configure(&path, &conn)?;
        migrate(&path, &mut conn)?;
        Ok(SqliteStore {
            path,
            conn: Mutex::new(conn),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> StoreResult<MutexGuard<'_, Connection>> {
        // A panic inside a transaction rolled it back when the Transaction was dropped, so the
        // data is consistent; still, refuse rather than carry on after an unknown failure.
        self.conn.lock().map_err(|_| StoreError::Poisoned {
            path: self.path.clone(),
        })
    }

    /// Runs `f` with the connection locked; the lock is released before errors are mapped.
    pub(super) fn run<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> StoreResult<T> {
        let result = {
            let mut conn = self.lock()?;
            f(&mut conn)
        };
        result.map_err(|e| classify(&self.path, op, e))
    }

    pub(super) fn encode(&self, action: &Action) -> StoreResult<String> {
        serde_json::to_string(action).map_err(|source| StoreError::Encode {
            path: self.path.clone(),
            source,
        })
    }
}

/// Creates a missing database file readable by its owner only: it holds users' messages, and
/// SQLite gives the `-wal` and `-shm` files the same permissions as the database.
fn create_private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Errors are ignored on purpose: if the file exists this fails harmlessly, and any other
        // problem (permissions, a folder in the way) makes the open below fail with SQLite's
        // own, clearer error.
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Sets the per-connection pragmas. This is also the first read of the file, so a file that is
/// not a database is reported here.
fn configure(path: &Path, conn: &Connection) -> StoreResult<()> {
    let err = |e| classify(path, "configure the connection", e);
    conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
    // Switching a new file to WAL takes an exclusive lock, and SQLite answers "busy" at once,
    // without the busy handler, while another connection (the bot, a CLI command) is opening
    // the same file: wait for it as the busy timeout would.
    let started = std::time::Instant::now();
    let mode: String = loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)) {
            Err(e)
                if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            mode => break mode.map_err(err)?,
        }
    };
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NoWal {
            path: path.to_path_buf(),
            mode,
        });
    }
    // NORMAL in WAL mode keeps every committed transaction through a process crash; only power
    // loss may drop the last ones, which Telegram redelivers within 24 hours anyway.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(err)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(err)?;
    // Overwrite deleted content with zeros, so erased text does not linger in free pages.
    conn.pragma_update(None, "secure_delete", true)
        .map_err(err)?;
    Ok(())
}

/// Applies the migration steps the file has not had yet, each with its version bump in one
/// transaction, so a crash leaves the file at a whole version. IMMEDIATE transactions and a
/// re-read of the version inside them make two processes opening a new file at once safe.
fn migrate(path: &Path, conn: &mut Connection) -> StoreResult<()> {
    let known = MIGRATIONS.len() as i64;
    let err = |e| classify(path, "migrate the schema", e);
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        if version == known {
            return Ok(());
        }
        let step = usize::try_from(version)
            .ok()
            .and_then(|i| MIGRATIONS.get(i))
            .ok_or_else(|| StoreError::TooNew {
                path: path.to_path_buf(),
                found: version,
                known,
            })?;
        tx.execute_batch(step).map_err(err)?;
        tx.pragma_update(None, "user_version", version + 1)
            .map_err(err)?;
        tx.commit().map_err(err)?;
        tracing::info!(store = %path.display(), version = version + 1, "store schema migrated");
    }
}

/// Turns a SQLite error into the variant a caller can act on.
fn classify(path: &Path, op: &'static str, e: rusqlite::Error) -> StoreError {
    let path = path.to_path_buf();
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotADatabase { path },
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt { path, source: e },
        _ => StoreError::Sqlite {
            path,
            op,
            source: e,
        },
    }
}

/// Copies the write-ahead log into the database and truncates it to zero bytes: deleted rows
/// stay readable in old WAL frames until then. Returns false when another connection's read
/// kept it from finishing.
pub(super) fn checkpoint_truncate(conn: &Connection) -> rusqlite::Result<bool> {
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    Ok(busy == 0)
}

pub(super) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}
