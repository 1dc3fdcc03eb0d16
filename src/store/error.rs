//! The store's error type. Every message names the database file (or, for PostgreSQL, the
//! database's address without its password), because an operator reading a log line needs to
//! know which one to look at (there may be a test copy beside the real one).

use std::path::PathBuf;

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// What went wrong in the store. Variants a caller may act on are separate; the rest is
/// [`StoreError::Sqlite`] with the operation that failed. The underlying error is the
/// [`std::error::Error::source`], so a printed chain shows it once.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The folder for the database could not be created.
    #[error("cannot create the folder for the store {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The file exists but is not a SQLite database (or is encrypted). Refusing is safer than
    /// overwriting whatever it is.
    #[error(
        "the store {path} is not a SQLite database; move it away (a new, empty store is then \
         created) or set store.path to the right file"
    )]
    NotADatabase { path: PathBuf },

    /// SQLite found the file damaged.
    #[error(
        "the store {path} is damaged; stop the bot, move the file (with its -wal and -shm \
         files) away and restart with a new store, or repair it with the sqlite3 .recover command"
    )]
    Corrupt {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    /// SQLite could not switch the file to write-ahead logging (e.g. on some network file
    /// systems); without it a crash could lose committed rows, so the store refuses to run.
    #[error(
        "the store {path} cannot use write-ahead logging (journal mode stayed {mode}); put it \
         on a local file system"
    )]
    NoWal { path: PathBuf, mode: String },

    /// The file's schema is newer than this build knows; an older binary must not write to it.
    #[error(
        "the store {path} has schema version {found}, newer than this faqbot knows ({known}); \
         run a newer faqbot or use another file"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },

    /// Any other database failure; `op` says what the store was doing.
    #[error("the store {path}: {op} failed")]
    Sqlite {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: rusqlite::Error,
    },

    /// An action could not be encoded as JSON for the outbox.
    #[error("the store {path}: cannot encode an action for the outbox")]
    Encode {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    /// A thread panicked while using the database connection. The open transaction was rolled
    /// back, but the store refuses further use rather than guess; restart the process.
    #[error("the store {path} is unusable: a thread panicked while using it; restart the bot")]
    Poisoned { path: PathBuf },

    /// The write-ahead log could not be emptied because another connection (e.g. a `sqlite3`
    /// shell) is reading; erased text may remain in the `-wal` file until it can.
    #[error(
        "the store {path}: the write-ahead log could not be emptied because another program \
         has the database open; erased data may remain in {path}-wal until it is closed and \
         the operation is repeated"
    )]
    CheckpointBusy { path: PathBuf },

    /// A PostgreSQL operation failed; `op` says what the store was doing. The source names
    /// the server's error (connection refused, authentication, a constraint) without values
    /// from the messages.
    #[error("the store {db}: {op} failed")]
    Postgres {
        db: String,
        op: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },

    /// A row this build cannot read (a column of another type, an unknown name): the schema
    /// was changed by something else.
    #[error("the store {db}: {op} found a row it cannot read ({problem})")]
    BadRow {
        db: String,
        op: &'static str,
        problem: String,
    },

    /// The database's schema is newer than this build knows; an older binary must not write.
    #[error(
        "the store {db} has schema version {found}, newer than this faqbot knows ({known}); \
         run a newer faqbot on every replica"
    )]
    PgTooNew { db: String, found: i64, known: i64 },

    /// Every connection stayed busy for the pool's whole wait, or the pool is unusable after a
    /// panic.
    #[error(
        "the store {db} has no free connection; raise store.max_connections or check for \
         slow queries on the server"
    )]
    Unavailable { db: String },

    /// The store's own runtime (the thread driving the database connections) could not start.
    #[error("the PostgreSQL store cannot start its connection thread")]
    Runtime {
        #[source]
        source: std::io::Error,
    },
}
