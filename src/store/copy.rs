//! `faqbot store copy`: moving a store to another backend (SQLite → PostgreSQL when a
//! deployment grows past one machine, or back), every table with its ids.
//!
//! Both backends have the same tables and columns (`store/schema.rs`, `postgres/schema.rs`),
//! so a copy is table by table, through [`Dump`], the one interface that sees rows rather than
//! roles. Ids are kept, because coordinators and reports name escalations by id and the outbox
//! must not hand out an id again: each identity's high-water mark is carried over too.
//!
//! A copy into a store that already has rows is refused unless asked for (`merge`): rows whose
//! key exists in the target are then left as they are and the rest added, so a copy stopped
//! half way (or repeated after more traffic on the source) can simply be run again.

use super::StoreResult;

/// A value of a column, as both engines can hold it.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// A column's type on PostgreSQL (SQLite stores the integer kinds alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    /// BIGINT.
    Big,
    /// INTEGER (Telegram's update and message ids, small counts).
    Int,
    /// BOOLEAN (0 or 1 on SQLite).
    Bool,
    /// DOUBLE PRECISION.
    Real,
    /// TEXT.
    Text,
}

/// A table as the copy sees it.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    /// Columns with their types; the first ones up to `key_len` are the primary key.
    pub columns: &'static [(&'static str, Col)],
    pub key_len: usize,
    /// Whether `id` is an identity (an id never handed out twice) whose mark to carry over.
    pub identity: bool,
}

impl Table {
    /// The column names, comma separated.
    pub fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Every row, in key order.
    pub fn select_sql(&self) -> String {
        let key = self.columns[..self.key_len]
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "SELECT {} FROM {} ORDER BY {key}",
            self.column_list(),
            self.name
        )
    }

    /// One row's insert that leaves an existing key alone, with the engine's placeholder for
    /// the n-th value (from 1).
    pub fn insert_sql(&self, placeholder: impl Fn(usize) -> String) -> String {
        let values = (1..=self.columns.len())
            .map(placeholder)
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "INSERT INTO {} ({}) VALUES ({values}) ON CONFLICT DO NOTHING",
            self.name,
            self.column_list()
        )
    }
}

use Col::{Big, Bool, Int, Real, Text};

/// Every table with data, parents before children (relays refer to escalations).
pub const TABLES: &[Table] = &[
    Table {
        name: "meta",
        columns: &[("key", Text), ("value", Text)],
        key_len: 1,
        identity: false,
    },
    Table {
        name: "inbox_state",
        columns: &[("id", Int), ("max_update_id", Int)],
        key_len: 1,
        identity: false,
    },
    Table {
        name: "inbox",
        columns: &[
            ("update_id", Int),
            ("chat_id", Big),
            ("body", Text),
            ("received_at", Big),
            ("done_at", Big),
        ],
        key_len: 1,
        identity: false,
    },
    Table {
        name: "chats",
        columns: &[
            ("chat_id", Big),
            ("source", Text),
            ("started_at", Big),
            ("last_seen", Big),
            ("blocked", Bool),
            ("no_match_streak", Int),
        ],
        key_len: 1,
        identity: false,
    },
    Table {
        name: "feedback",
        columns: &[
            ("chat_id", Big),
            ("passage_id", Text),
            ("helpful", Bool),
            ("created_at", Big),
        ],
        key_len: 2,
        identity: false,
    },
    Table {
        name: "outbox",
        columns: &[
            ("id", Big),
            ("chat_id", Big),
            ("action", Text),
            ("not_before", Big),
            ("attempts", Int),
        ],
        key_len: 1,
        identity: true,
    },
    Table {
        name: "escalations",
        columns: &[
            ("id", Big),
            ("chat_id", Big),
            ("user_id", Big),
            ("name", Text),
            ("username", Text),
            ("language", Text),
            ("reason", Text),
            ("urgent", Bool),
            ("created_at", Big),
            ("claimed_by", Text),
            ("claimed_at", Big),
            ("first_reply_at", Big),
            ("closed_at", Big),
            ("closed_by", Text),
            ("reopened_at", Big),
            ("thread_id", Int),
            ("card_message_id", Int),
            ("topic_failed", Bool),
            ("caregiver_blocked", Bool),
        ],
        key_len: 1,
        identity: true,
    },
    Table {
        name: "relays",
        columns: &[
            ("id", Big),
            ("escalation_id", Big),
            ("group_message_id", Int),
            ("caregiver_message_id", Int),
            ("direction", Text),
        ],
        key_len: 1,
        identity: true,
    },
    Table {
        name: "transcript",
        columns: &[
            ("id", Big),
            ("chat_id", Big),
            ("at", Big),
            ("role", Text),
            ("text", Text),
            ("passage_id", Text),
        ],
        key_len: 1,
        identity: true,
    },
    Table {
        name: "questions",
        columns: &[
            ("id", Big),
            ("chat_id", Big),
            ("at", Big),
            ("outcome", Text),
            ("text", Text),
            ("passage_id", Text),
            ("offered", Text),
            ("confidence", Real),
            ("chosen", Text),
        ],
        key_len: 1,
        identity: true,
    },
    Table {
        name: "review_links",
        columns: &[("hash", Text), ("user_id", Big), ("expires_at", Big)],
        key_len: 1,
        identity: false,
    },
    Table {
        name: "review_sessions",
        columns: &[
            ("hash", Text),
            ("user_id", Big),
            ("created_at", Big),
            ("expires_at", Big),
        ],
        key_len: 1,
        identity: false,
    },
];

/// Rows in and out of a backend, for the copy only.
pub trait Dump {
    /// Every row of `table`, in key order, columns as in [`Table::columns`].
    fn read_rows(&self, table: &Table) -> StoreResult<Vec<Vec<Val>>>;

    /// Inserts `rows`, leaving rows whose key exists as they are, in one transaction. Returns
    /// how many were added.
    fn write_rows(&self, table: &Table, rows: &[Vec<Val>]) -> StoreResult<u64>;

    /// How many rows `table` has.
    fn count_rows(&self, table: &Table) -> StoreResult<u64>;

    /// The highest id `table`'s identity has handed out (0 when none).
    fn identity_mark(&self, table: &Table) -> StoreResult<i64>;

    /// Makes `table`'s identity hand out ids above `mark` only.
    fn raise_identity(&self, table: &Table, mark: i64) -> StoreResult<()>;
}

/// What a copy did to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub table: &'static str,
    /// Rows in the source.
    pub read: u64,
    /// Rows added to the target (the others were there already).
    pub added: u64,
}

/// Why a copy did not start.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(
        "the target store already has {rows} rows ({tables}); copy into an empty store, or \
         pass --merge to add what is missing and keep what is there"
    )]
    NotEmpty { rows: u64, tables: String },
    #[error(transparent)]
    Store(#[from] super::StoreError),
}

/// Rows written per transaction: large enough to be quick, small enough that a failure loses
/// little and nothing holds locks for long.
const CHUNK: usize = 500;

/// Copies every table of `from` into `to`, keeping ids and identity marks. Refuses a target
/// with rows unless `merge`.
pub fn copy(from: &dyn Dump, to: &dyn Dump, merge: bool) -> Result<Vec<Copied>, CopyError> {
    if !merge {
        let mut rows = 0;
        let mut tables = Vec::new();
        for table in TABLES {
            let n = to.count_rows(table)?;
            if n > 0 {
                rows += n;
                tables.push(format!("{} {n}", table.name));
            }
        }
        if rows > 0 {
            return Err(CopyError::NotEmpty {
                rows,
                tables: tables.join(", "),
            });
        }
    }
    let mut report = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let rows = from.read_rows(table)?;
        let mut added = 0;
        for chunk in rows.chunks(CHUNK) {
            added += to.write_rows(table, chunk)?;
        }
        if table.identity {
            let mark = from.identity_mark(table)?;
            to.raise_identity(table, mark)?;
        }
        report.push(Copied {
            table: table.name,
            read: rows.len() as u64,
            added,
        });
    }
    Ok(report)
}
