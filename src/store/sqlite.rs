//! [`Store`] on one SQLite file: WAL with `synchronous=NORMAL` (committed rows survive
//! `kill -9`, see RELIABILITY.md), one connection behind a mutex, schema migrations keyed by
//! `PRAGMA user_version`.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{
    params, Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior,
};

use super::escalations;
use super::questions;
use super::schema::MIGRATIONS;
use super::{
    AnswerRecord, ChatState, Completion, Escalation, InboxItem, NewEscalation, NewUpdate,
    OutboxHead, OutboxItem, RelayDirection, Store, StoreError, StoreResult, TranscriptEntry,
};
use crate::action::Action;

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

    fn encode(&self, action: &Action) -> StoreResult<String> {
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

/// Raises the remembered highest update id (never lowers it).
fn bump_max_update_id(tx: &Transaction<'_>, update_id: i32) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO inbox_state (id, max_update_id) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET max_update_id = max(max_update_id, excluded.max_update_id)",
        [update_id],
    )?;
    Ok(())
}

/// Copies the write-ahead log into the database and truncates it to zero bytes: deleted rows
/// stay readable in old WAL frames until then. Returns false when another connection's read
/// kept it from finishing.
fn checkpoint_truncate(conn: &Connection) -> rusqlite::Result<bool> {
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    Ok(busy == 0)
}

pub(super) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Appends an answer's transcript lines, logs its question or the suggestion chosen, and sets
/// the chat's no-match streak.
fn write_answer(conn: &Connection, answer: &AnswerRecord) -> rusqlite::Result<()> {
    for entry in &answer.transcript {
        escalations::insert_transcript(conn, answer.chat_id, entry)?;
    }
    if let Some(q) = &answer.question {
        questions::insert(conn, answer.chat_id, q)?;
    }
    if let Some(passage) = &answer.chosen {
        questions::choose(conn, answer.chat_id, passage)?;
    }
    write_streak(conn, answer.chat_id, answer.no_match_streak)
}

/// Sets a chat's count of consecutive unmatched messages.
fn write_streak(conn: &Connection, chat_id: i64, n: u32) -> rusqlite::Result<()> {
    if n == 0 {
        // Zero is the default: no need to create a row for it.
        conn.prepare_cached(
            "UPDATE chats SET no_match_streak = 0 WHERE chat_id = ?1 AND no_match_streak <> 0",
        )?
        .execute([chat_id])?;
    } else {
        // Normally the row exists (enqueueing the chat's update created it). Without a time to
        // go by, a new row counts as last seen at 0, so retention removes it at the next purge
        // unless the chat writes again; a streak is short-lived.
        conn.prepare_cached(
            "INSERT INTO chats (chat_id, last_seen, no_match_streak) VALUES (?1, 0, ?2)
             ON CONFLICT (chat_id) DO UPDATE SET no_match_streak = excluded.no_match_streak",
        )?
        .execute(params![chat_id, n])?;
    }
    Ok(())
}

/// An outbox row's head from its first four columns: id, chat_id, not_before, attempts.
fn outbox_head(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxHead> {
    Ok(OutboxHead {
        id: r.get(0)?,
        chat_id: r.get(1)?,
        not_before: r.get(2)?,
        attempts: r.get(3)?,
    })
}

impl SqliteStore {
    /// The outbox item of a row. An action written by an incompatible version can never be
    /// performed, and left in place it would block its chat's queue forever: it is dropped
    /// (`None`). The decoding error's text may quote the action (user text), so only its
    /// position is logged.
    fn decode_outbox(&self, head: OutboxHead, json: String) -> StoreResult<Option<OutboxItem>> {
        match serde_json::from_str::<Action>(&json) {
            Ok(action) => Ok(Some(OutboxItem {
                id: head.id,
                chat_id: head.chat_id,
                action,
                not_before: head.not_before,
                attempts: head.attempts,
            })),
            Err(e) => {
                tracing::warn!(
                    store = %self.path.display(),
                    outbox_id = head.id,
                    error_kind = ?e.classify(),
                    line = e.line(),
                    column = e.column(),
                    "dropping an outbox action that cannot be decoded"
                );
                self.run("drop an undecodable outbox action", |conn| {
                    conn.execute(
                        "DELETE FROM outbox WHERE id = ?1 AND action = ?2",
                        params![head.id, json],
                    )
                })?;
                Ok(None)
            }
        }
    }
}

impl Store for SqliteStore {
    fn enqueue_updates(&self, items: &[NewUpdate], now: i64) -> StoreResult<usize> {
        let Some(max) = items.iter().map(|i| i.update_id).max() else {
            return Ok(0);
        };
        self.run("enqueue updates", |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut new = 0;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO inbox (update_id, chat_id, body, received_at)
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (update_id) DO NOTHING",
                )?;
                // A new update is the chat's latest activity, which retention goes by.
                let mut touch = tx.prepare_cached(
                    "INSERT INTO chats (chat_id, last_seen) VALUES (?1, ?2)
                     ON CONFLICT (chat_id) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
                )?;
                for item in items {
                    if insert.execute(params![item.update_id, item.chat_id, item.body, now])? == 1 {
                        new += 1;
                        if item.chat_id != 0 {
                            touch.execute(params![item.chat_id, now])?;
                        }
                    }
                }
            }
            bump_max_update_id(&tx, max)?;
            tx.commit()?;
            Ok(new)
        })
    }

    fn next_update_offset(&self) -> StoreResult<i32> {
        let max: Option<i32> = self.run("read the update offset", |conn| {
            conn.query_row(
                "SELECT max_update_id FROM inbox_state WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .optional()
        })?;
        Ok(max.map_or(0, |m| m.saturating_add(1)))
    }

    fn pending_updates(&self, limit: usize) -> StoreResult<Vec<InboxItem>> {
        self.run("read pending updates", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT update_id, chat_id, body, received_at FROM inbox
                 WHERE done_at IS NULL ORDER BY update_id LIMIT ?1",
            )?;
            let rows = stmt.query_map([sql_limit(limit)], |r| {
                Ok(InboxItem {
                    update_id: r.get(0)?,
                    chat_id: r.get(1)?,
                    body: r.get(2)?,
                    received_at: r.get(3)?,
                })
            })?;
            rows.collect()
        })
    }

    fn pending_count(&self) -> StoreResult<u64> {
        self.run("count pending updates", |conn| {
            conn.query_row(
                "SELECT count(*) FROM inbox WHERE done_at IS NULL",
                [],
                |r| r.get(0),
            )
        })
    }

    fn complete_updates(&self, updates: &[Completion<'_>], now: i64) -> StoreResult<()> {
        let encoded = updates
            .iter()
            .map(|u| {
                u.actions
                    .iter()
                    .map(|a| Ok((a.chat_id(), self.encode(a)?)))
                    .collect::<StoreResult<Vec<_>>>()
            })
            .collect::<StoreResult<Vec<_>>>()?;
        self.run("complete an update", |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for (update, actions) in updates.iter().zip(&encoded) {
                let update_id = update.update_id;
                let done_at: Option<Option<i64>> = tx
                    .prepare_cached("SELECT done_at FROM inbox WHERE update_id = ?1")?
                    .query_row([update_id], |r| r.get(0))
                    .optional()?;
                match done_at {
                    // Already handled: a redelivery or a second worker; answering again would
                    // send the user the same reply twice.
                    Some(Some(_)) => continue,
                    Some(None) => {
                        tx.prepare_cached(
                            "UPDATE inbox SET body = NULL, done_at = ?2 WHERE update_id = ?1",
                        )?
                        .execute(params![update_id, now])?;
                    }
                    // No row: never enqueued, or forgotten while being handled (`/forget`
                    // deletes its own update). Keep a bodiless row so a redelivery is still
                    // recognised.
                    None => {
                        tx.prepare_cached(
                            "INSERT INTO inbox (update_id, chat_id, body, received_at, done_at)
                             VALUES (?1, 0, NULL, ?2, ?2)",
                        )?
                        .execute(params![update_id, now])?;
                        bump_max_update_id(&tx, update_id)?;
                    }
                }
                if let Some(answer) = update.answer {
                    write_answer(&tx, answer)?;
                }
                let mut insert = tx.prepare_cached(
                    "INSERT INTO outbox (chat_id, action, not_before) VALUES (?1, ?2, ?3)",
                )?;
                for (chat_id, json) in actions {
                    insert.execute(params![chat_id, json, now])?;
                }
            }
            tx.commit()
        })
    }

    fn enqueue_actions(&self, actions: &[Action], now: i64) -> StoreResult<()> {
        let encoded = actions
            .iter()
            .map(|a| Ok((a.chat_id(), self.encode(a)?)))
            .collect::<StoreResult<Vec<_>>>()?;
        self.run("queue actions", |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO outbox (chat_id, action, not_before) VALUES (?1, ?2, ?3)",
                )?;
                for (chat_id, json) in &encoded {
                    insert.execute(params![chat_id, json, now])?;
                }
            }
            tx.commit()
        })
    }

    fn is_update_done(&self, update_id: i32) -> StoreResult<bool> {
        self.run("read an update", |conn| {
            conn.query_row(
                "SELECT done_at IS NOT NULL FROM inbox WHERE update_id = ?1",
                [update_id],
                |r| r.get(0),
            )
            .optional()
            .map(|done| done.unwrap_or(false))
        })
    }

    fn outbox_batch(&self, limit: usize) -> StoreResult<Vec<OutboxItem>> {
        let rows: Vec<(OutboxHead, String)> = self.run("read the outbox", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, chat_id, not_before, attempts, action FROM outbox
                 ORDER BY id LIMIT ?1",
            )?;
            let rows = stmt.query_map([sql_limit(limit)], |r| Ok((outbox_head(r)?, r.get(4)?)))?;
            rows.collect()
        })?;
        let mut items = Vec::with_capacity(rows.len());
        for (head, json) in rows {
            items.extend(self.decode_outbox(head, json)?);
        }
        Ok(items)
    }

    fn outbox_heads(&self, after_id: i64, limit: usize) -> StoreResult<Vec<OutboxHead>> {
        self.run("read the outbox", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, chat_id, not_before, attempts FROM outbox WHERE id > ?1
                 ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![after_id, sql_limit(limit)], outbox_head)?;
            rows.collect()
        })
    }

    fn outbox_item(&self, id: i64) -> StoreResult<Option<OutboxItem>> {
        let row: Option<(OutboxHead, String)> = self.run("read an outbox action", |conn| {
            conn.prepare_cached(
                "SELECT id, chat_id, not_before, attempts, action FROM outbox WHERE id = ?1",
            )?
            .query_row([id], |r| Ok((outbox_head(r)?, r.get(4)?)))
            .optional()
        })?;
        match row {
            Some((head, json)) => self.decode_outbox(head, json),
            None => Ok(None),
        }
    }

    fn outbox_done(&self, ids: &[i64]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.run("remove outbox actions", |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut delete = tx.prepare_cached("DELETE FROM outbox WHERE id = ?1")?;
                for id in ids {
                    delete.execute([id])?;
                }
            }
            tx.commit()
        })
    }

    fn outbox_retry(&self, id: i64, not_before: i64, attempts: u32) -> StoreResult<()> {
        self.run("postpone an outbox action", |conn| {
            conn.execute(
                "UPDATE outbox SET not_before = ?2, attempts = ?3 WHERE id = ?1",
                params![id, not_before, attempts],
            )
            .map(drop)
        })
    }

    fn outbox_replace(&self, id: i64, action: &Action) -> StoreResult<()> {
        let json = self.encode(action)?;
        self.run("replace an outbox action", |conn| {
            conn.execute(
                "UPDATE outbox SET action = ?2, chat_id = ?3 WHERE id = ?1",
                params![id, json, action.chat_id()],
            )
            .map(drop)
        })
    }

    fn outbox_drop_chat(&self, chat_id: i64) -> StoreResult<u64> {
        self.run("drop a chat's outbox actions", |conn| {
            conn.execute("DELETE FROM outbox WHERE chat_id = ?1", [chat_id])
                .map(|n| n as u64)
        })
    }

    fn outbox_len(&self) -> StoreResult<u64> {
        self.run("count outbox actions", |conn| {
            conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
        })
    }

    fn record_chat_start(&self, chat_id: i64, source: Option<&str>, now: i64) -> StoreResult<()> {
        self.run("record a /start", |conn| {
            // The deep-link source says how the person found the bot, which is only meaningful
            // for their first /start; it sticks with started_at.
            conn.execute(
                "INSERT INTO chats (chat_id, source, started_at, last_seen) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (chat_id) DO UPDATE SET
                     source = CASE WHEN started_at IS NULL THEN excluded.source ELSE source END,
                     started_at = coalesce(started_at, excluded.started_at),
                     last_seen = max(last_seen, excluded.last_seen)",
                params![chat_id, source, now],
            )
            .map(drop)
        })
    }

    fn set_blocked(&self, chat_id: i64, blocked: bool, now: i64) -> StoreResult<()> {
        self.run("record a block", |conn| {
            conn.execute(
                "INSERT INTO chats (chat_id, last_seen, blocked) VALUES (?1, ?2, ?3)
                 ON CONFLICT (chat_id) DO UPDATE SET blocked = excluded.blocked",
                params![chat_id, now, blocked],
            )
            .map(drop)
        })
    }

    fn is_blocked(&self, chat_id: i64) -> StoreResult<bool> {
        self.run("read a chat", |conn| {
            conn.query_row(
                "SELECT blocked FROM chats WHERE chat_id = ?1",
                [chat_id],
                |r| r.get(0),
            )
            .optional()
            .map(|b| b.unwrap_or(false))
        })
    }

    fn chat_state(&self, chat_id: i64) -> StoreResult<ChatState> {
        self.run("read a chat", |conn| {
            conn.query_row(
                "SELECT no_match_streak FROM chats WHERE chat_id = ?1",
                [chat_id],
                |r| {
                    Ok(ChatState {
                        no_match_streak: r.get(0)?,
                    })
                },
            )
            .optional()
            .map(Option::unwrap_or_default)
        })
    }

    fn record_answer(&self, answer: &AnswerRecord) -> StoreResult<()> {
        self.run("record an answer", |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            write_answer(&tx, answer)?;
            tx.commit()
        })
    }

    fn set_no_match_streak(&self, chat_id: i64, n: u32) -> StoreResult<()> {
        self.run("update a chat", |conn| write_streak(conn, chat_id, n))
    }

    fn migrate_chat(&self, old_chat_id: i64, new_chat_id: i64) -> StoreResult<()> {
        if old_chat_id == new_chat_id {
            return Ok(());
        }
        self.run("move a migrated chat", |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let ids = params![old_chat_id, new_chat_id];
            tx.execute(
                "INSERT INTO chats (chat_id, source, started_at, last_seen, blocked, no_match_streak)
                 SELECT ?2, source, started_at, last_seen, blocked, no_match_streak
                 FROM chats WHERE chat_id = ?1
                 ON CONFLICT (chat_id) DO UPDATE SET
                     source = CASE WHEN started_at IS NULL THEN excluded.source ELSE source END,
                     started_at = coalesce(started_at, excluded.started_at),
                     last_seen = max(last_seen, excluded.last_seen)",
                ids,
            )?;
            tx.execute("DELETE FROM chats WHERE chat_id = ?1", [old_chat_id])?;
            tx.execute("UPDATE inbox SET chat_id = ?2 WHERE chat_id = ?1", ids)?;
            // Where the new id already voted on a passage, its vote stands.
            tx.execute(
                "UPDATE OR IGNORE feedback SET chat_id = ?2 WHERE chat_id = ?1",
                ids,
            )?;
            tx.execute("DELETE FROM feedback WHERE chat_id = ?1", [old_chat_id])?;
            // Only chat-bound actions (sendMessage) have a chat_id, at the top level of their
            // JSON; editing it in SQL keeps the lock to SQL only. The migrate_chat test decodes
            // the result, so a change in Action's layout fails a test, not a user.
            tx.execute(
                "UPDATE outbox SET chat_id = ?2, action = json_set(action, '$.chat_id', ?2)
                 WHERE chat_id = ?1",
                ids,
            )?;
            escalations::migrate_chat(&tx, old_chat_id, new_chat_id)?;
            questions::migrate_chat(&tx, old_chat_id, new_chat_id)?;
            tx.commit()
        })
    }

    fn record_feedback(
        &self,
        chat_id: i64,
        passage_id: &str,
        helpful: bool,
        now: i64,
    ) -> StoreResult<()> {
        self.run("record feedback", |conn| {
            conn.execute(
                "INSERT INTO feedback (chat_id, passage_id, helpful, created_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (chat_id, passage_id) DO UPDATE SET
                     helpful = excluded.helpful, created_at = excluded.created_at",
                params![chat_id, passage_id, helpful, now],
            )
            .map(drop)
        })
    }

    fn feedback_counts(&self, passage_id: &str) -> StoreResult<(u64, u64)> {
        self.run("count feedback", |conn| {
            conn.query_row(
                "SELECT count(*) FILTER (WHERE helpful), count(*) FILTER (WHERE NOT helpful)
                 FROM feedback WHERE passage_id = ?1",
                [passage_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
    }

    // The escalation methods' SQL lives in escalations.rs.

    fn open_escalation(&self, e: &NewEscalation, now: i64) -> StoreResult<(Escalation, bool)> {
        self.sql_open_escalation(e, now)
    }

    fn escalation(&self, id: i64) -> StoreResult<Option<Escalation>> {
        self.sql_escalation(id)
    }

    fn open_escalation_for_chat(&self, chat_id: i64) -> StoreResult<Option<Escalation>> {
        self.sql_open_escalation_for_chat(chat_id)
    }

    fn escalation_by_thread(&self, thread_id: i32) -> StoreResult<Option<Escalation>> {
        self.sql_escalation_by_thread(thread_id)
    }

    fn escalation_by_card(&self, card_message_id: i32) -> StoreResult<Option<Escalation>> {
        self.sql_escalation_by_card(card_message_id)
    }

    fn set_escalation_topic(
        &self,
        id: i64,
        thread_id: Option<i32>,
        topic_failed: bool,
    ) -> StoreResult<()> {
        self.sql_set_escalation_topic(id, thread_id, topic_failed)
    }

    fn set_escalation_card(&self, id: i64, message_id: i32) -> StoreResult<()> {
        self.sql_set_escalation_card(id, message_id)
    }

    fn claim_escalation(&self, id: i64, by: &str, now: i64) -> StoreResult<bool> {
        self.sql_claim_escalation(id, by, now)
    }

    fn record_coordinator_reply(&self, id: i64, now: i64) -> StoreResult<()> {
        self.sql_record_coordinator_reply(id, now)
    }

    fn close_escalation(&self, id: i64, by: &str, now: i64) -> StoreResult<bool> {
        self.sql_close_escalation(id, by, now)
    }

    fn reopen_escalation(&self, id: i64, now: i64) -> StoreResult<bool> {
        self.sql_reopen_escalation(id, now)
    }

    fn mark_caregiver_blocked(&self, chat_id: i64) -> StoreResult<Option<Escalation>> {
        self.sql_mark_caregiver_blocked(chat_id)
    }

    fn list_escalations(&self, open: Option<bool>) -> StoreResult<Vec<Escalation>> {
        self.sql_list_escalations(open)
    }

    fn add_transcript(&self, chat_id: i64, entry: &TranscriptEntry) -> StoreResult<()> {
        self.sql_add_transcript(chat_id, entry)
    }

    fn transcript(&self, chat_id: i64, limit: usize) -> StoreResult<Vec<TranscriptEntry>> {
        self.sql_transcript(chat_id, limit)
    }

    fn map_relay(
        &self,
        escalation_id: i64,
        group_message_id: i32,
        caregiver_message_id: i32,
        direction: RelayDirection,
    ) -> StoreResult<()> {
        self.sql_map_relay(
            escalation_id,
            group_message_id,
            caregiver_message_id,
            direction,
        )
    }

    fn relay_by_group_message(
        &self,
        group_message_id: i32,
    ) -> StoreResult<Option<(i64, i32, RelayDirection)>> {
        self.sql_relay_by_group_message(group_message_id)
    }

    fn relay_by_caregiver_message(
        &self,
        chat_id: i64,
        caregiver_message_id: i32,
    ) -> StoreResult<Option<(i64, i32, RelayDirection)>> {
        self.sql_relay_by_caregiver_message(chat_id, caregiver_message_id)
    }

    fn get_meta(&self, key: &str) -> StoreResult<Option<String>> {
        self.run("read a meta value", |conn| {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
        })
    }

    fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        self.run("store a meta value", |conn| {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map(drop)
        })
    }

    fn forget_chat(&self, chat_id: i64) -> StoreResult<()> {
        let complete = self.run("forget a chat", |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM inbox WHERE chat_id = ?1", [chat_id])?;
            tx.execute("DELETE FROM outbox WHERE chat_id = ?1", [chat_id])?;
            tx.execute("DELETE FROM chats WHERE chat_id = ?1", [chat_id])?;
            tx.execute("DELETE FROM feedback WHERE chat_id = ?1", [chat_id])?;
            escalations::forget_chat(&tx, chat_id)?;
            questions::forget_chat(&tx, chat_id)?;
            tx.commit()?;
            // secure_delete zeroed the rows in the new page images, but the old images are
            // still in the -wal file (and, if checkpointed before, in the .db file) until a
            // checkpoint copies the zeroed pages over them and the log is truncated.
            checkpoint_truncate(conn)
        })?;
        if complete {
            Ok(())
        } else {
            Err(StoreError::CheckpointBusy {
                path: self.path.clone(),
            })
        }
    }

    fn purge_older_than(&self, cutoff: i64) -> StoreResult<u64> {
        let (deleted, complete) = self.run("purge old rows", |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut deleted = tx.execute(
                "DELETE FROM inbox WHERE done_at IS NOT NULL AND done_at < ?1",
                [cutoff],
            )?;
            deleted += tx.execute("DELETE FROM feedback WHERE created_at < ?1", [cutoff])?;
            deleted += tx.execute("DELETE FROM chats WHERE last_seen < ?1", [cutoff])?;
            deleted += escalations::purge_older_than(&tx, cutoff)?;
            deleted += questions::purge_older_than(&tx, cutoff)?;
            tx.commit()?;
            let complete = deleted == 0 || checkpoint_truncate(conn)?;
            Ok((deleted as u64, complete))
        })?;
        if !complete {
            // Unlike /forget, nobody is waiting on this: the rows are deleted and the next
            // purge's checkpoint finishes the job.
            tracing::warn!(
                store = %self.path.display(),
                "write-ahead log not truncated after purge: another connection is reading"
            );
        }
        Ok(deleted)
    }

    fn integrity_check(&self) -> StoreResult<bool> {
        let first: String = self.run("check integrity", |conn| {
            conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        })?;
        Ok(first == "ok")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tempfile::TempDir;

    use super::*;
    use crate::action::OutMessage;

    fn db_path(dir: &TempDir) -> PathBuf {
        dir.path().join("bot.db")
    }

    fn open(dir: &TempDir) -> SqliteStore {
        SqliteStore::open(db_path(dir)).expect("open store")
    }

    fn send(chat_id: i64, html: &str) -> Action {
        Action::Send(OutMessage::new(chat_id, html.to_string()))
    }

    fn update(update_id: i32, chat_id: i64, body: &str) -> NewUpdate {
        NewUpdate {
            update_id,
            chat_id,
            body: body.to_string(),
        }
    }

    fn pragma_i64(store: &SqliteStore, name: &str) -> i64 {
        let conn = store.lock().expect("lock");
        conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
            .expect("pragma")
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    fn read_or_empty(path: &Path) -> Vec<u8> {
        match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("read {}: {e}", path.display()),
        }
    }

    fn wal_path(db: &Path) -> PathBuf {
        let mut s = db.as_os_str().to_owned();
        s.push("-wal");
        PathBuf::from(s)
    }

    /// The bot and a CLI command may open a new file at the same moment: neither is refused.
    #[test]
    fn connections_opening_a_new_file_together_wait_for_each_other() {
        for _ in 0..20 {
            let dir = TempDir::new().expect("tempdir");
            let opened: Vec<StoreResult<SqliteStore>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..4)
                    .map(|_| s.spawn(|| SqliteStore::open(db_path(&dir))))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("no panic"))
                    .collect()
            });
            for store in opened {
                store.expect("open store").outbox_len().expect("readable");
            }
        }
    }

    #[test]
    fn open_creates_folders_and_sets_pragmas() {
        let dir = TempDir::new().expect("tempdir");
        let path = dir.path().join("a").join("b").join("bot.db");
        let store = SqliteStore::open(&path).expect("open");
        assert!(path.is_file());
        assert_eq!(store.path(), path);
        let mode: String = {
            let conn = store.lock().expect("lock");
            conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .expect("journal_mode")
        };
        assert_eq!(mode, "wal");
        assert_eq!(pragma_i64(&store, "synchronous"), 1, "NORMAL");
        assert_eq!(pragma_i64(&store, "foreign_keys"), 1);
        assert_eq!(pragma_i64(&store, "secure_delete"), 1);
        assert_eq!(pragma_i64(&store, "busy_timeout"), 5000);
        assert_eq!(pragma_i64(&store, "user_version"), MIGRATIONS.len() as i64);
        assert!(store.integrity_check().expect("integrity"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "readable by others: {mode:o}");
        }
    }

    #[test]
    fn migrations_are_idempotent() {
        let dir = TempDir::new().expect("tempdir");
        let schema = |store: &SqliteStore| -> Vec<String> {
            let conn = store.lock().expect("lock");
            let mut stmt = conn
                .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
                .expect("prepare");
            let rows = stmt.query_map([], |r| r.get(0)).expect("query");
            rows.collect::<Result<_, _>>().expect("rows")
        };
        let first = open(&dir);
        first.set_meta("k", "v").expect("set_meta");
        let before = schema(&first);
        assert!(before.iter().any(|s| s.contains("CREATE TABLE inbox")));
        // Running the migrations again on a migrated connection changes nothing.
        {
            let mut conn = first.lock().expect("lock");
            migrate(first.path(), &mut conn).expect("migrate again");
        }
        drop(first);
        let second = open(&dir);
        assert_eq!(schema(&second), before);
        assert_eq!(pragma_i64(&second, "user_version"), MIGRATIONS.len() as i64);
        assert_eq!(
            second.get_meta("k").expect("get_meta").as_deref(),
            Some("v")
        );
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = TempDir::new().expect("tempdir");
        drop(open(&dir));
        {
            let conn = Connection::open(db_path(&dir)).expect("raw open");
            conn.pragma_update(None, "user_version", 99)
                .expect("set version");
        }
        let err = SqliteStore::open(db_path(&dir)).expect_err("must refuse");
        assert!(
            matches!(err, StoreError::TooNew { found: 99, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("bot.db"), "{err}");
    }

    #[test]
    fn a_file_that_is_not_sqlite_gives_a_clear_error() {
        let dir = TempDir::new().expect("tempdir");
        let path = db_path(&dir);
        let content = "these are my notes, not a database\n".repeat(200);
        std::fs::write(&path, &content).expect("write");
        let err = SqliteStore::open(&path).expect_err("must refuse");
        assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("move it away"), "{msg}");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), content);
    }

    #[test]
    fn enqueue_dedupes_and_tracks_the_offset() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        assert_eq!(store.next_update_offset().expect("offset"), 0);
        assert_eq!(store.pending_count().expect("count"), 0);

        let n = store
            .enqueue_updates(&[update(11, 5, "b"), update(10, 5, "a")], 1_000)
            .expect("enqueue");
        assert_eq!(n, 2);
        // 11 is pending, 12 appears twice in one batch: only 12 is new, once.
        let n = store
            .enqueue_updates(
                &[update(11, 5, "b2"), update(12, 6, "c"), update(12, 6, "c")],
                2_000,
            )
            .expect("enqueue");
        assert_eq!(n, 1);
        assert_eq!(store.pending_count().expect("count"), 3);
        assert_eq!(store.next_update_offset().expect("offset"), 13);

        store.complete_update(10, &[], 3_000).expect("complete");
        // Done updates are not taken again either.
        assert_eq!(
            store
                .enqueue_updates(&[update(10, 5, "a")], 4_000)
                .expect("enqueue"),
            0
        );
        // A late, lower id is new but does not move the offset back.
        assert_eq!(
            store
                .enqueue_updates(&[update(7, 5, "z")], 4_000)
                .expect("enqueue"),
            1
        );
        assert_eq!(store.next_update_offset().expect("offset"), 13);
        assert_eq!(store.enqueue_updates(&[], 4_000).expect("enqueue"), 0);

        let pending = store.pending_updates(10).expect("pending");
        let ids: Vec<i32> = pending.iter().map(|i| i.update_id).collect();
        assert_eq!(ids, [7, 11, 12]);
        assert_eq!(
            pending[1],
            InboxItem {
                update_id: 11,
                chat_id: 5,
                body: "b".into(),
                received_at: 1_000
            }
        );
        assert_eq!(store.pending_updates(2).expect("pending").len(), 2);
        assert_eq!(store.pending_count().expect("count"), 3);
    }

    #[test]
    fn complete_update_is_idempotent_and_erases_the_body() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        store
            .enqueue_updates(&[update(1, 5, "secret text")], 100)
            .expect("enqueue");
        assert!(!store.is_update_done(1).expect("done?"));

        let actions = [send(5, "one"), send(5, "two")];
        store.complete_update(1, &actions, 200).expect("complete");
        assert!(store.is_update_done(1).expect("done?"));
        assert_eq!(store.pending_count().expect("count"), 0);
        let body: Option<String> = {
            let conn = store.lock().expect("lock");
            conn.query_row("SELECT body FROM inbox WHERE update_id = 1", [], |r| {
                r.get(0)
            })
            .expect("row")
        };
        assert_eq!(body, None);

        // Completing again (a redelivery handled twice) queues nothing more.
        store
            .complete_update(1, &actions, 300)
            .expect("complete again");
        let batch = store.outbox_batch(10).expect("batch");
        let sent: Vec<Action> = batch.into_iter().map(|i| i.action).collect();
        assert_eq!(sent, actions);
        assert_eq!(store.outbox_len().expect("len"), 2);
    }

    #[test]
    fn complete_update_is_atomic() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        store
            .enqueue_updates(&[update(1, 5, "question")], 100)
            .expect("enqueue");
        // Make the second outbox insert fail, as a full disk might.
        {
            let conn = store.lock().expect("lock");
            conn.execute_batch(
                "CREATE TRIGGER fail_boom BEFORE INSERT ON outbox
                 WHEN NEW.action LIKE '%boom%'
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
            )
            .expect("trigger");
        }
        let actions = [send(5, "fine"), send(5, "boom")];
        store
            .complete_update(1, &actions, 200)
            .expect_err("must fail");
        assert!(!store.is_update_done(1).expect("done?"));
        assert_eq!(store.outbox_len().expect("len"), 0, "first action leaked");
        assert_eq!(
            store.pending_updates(10).expect("pending")[0].body,
            "question"
        );

        {
            let conn = store.lock().expect("lock");
            conn.execute_batch("DROP TRIGGER fail_boom")
                .expect("drop trigger");
        }
        store.complete_update(1, &actions, 300).expect("complete");
        store
            .complete_update(1, &actions, 400)
            .expect("complete again");
        assert_eq!(store.outbox_len().expect("len"), 2);
    }

    #[test]
    fn completing_an_unknown_update_records_it() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        store
            .complete_update(42, &[send(5, "bye")], 100)
            .expect("complete");
        assert!(store.is_update_done(42).expect("done?"));
        assert_eq!(store.outbox_len().expect("len"), 1);
        assert_eq!(store.next_update_offset().expect("offset"), 43);
        store
            .complete_update(42, &[send(5, "bye")], 200)
            .expect("again");
        assert_eq!(store.outbox_len().expect("len"), 1);
        assert_eq!(
            store
                .enqueue_updates(&[update(42, 5, "x")], 300)
                .expect("enqueue"),
            0
        );
    }

    #[test]
    fn outbox_keeps_order_and_supports_retry_replace_and_drop() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        let callback = Action::AnswerCallback {
            callback_id: "cb".into(),
            text: None,
        };
        store
            .complete_update(1, &[send(1, "a1"), send(2, "b1"), callback.clone()], 100)
            .expect("complete");
        store
            .complete_update(2, &[send(1, "a2")], 200)
            .expect("complete");

        let batch = store.outbox_batch(10).expect("batch");
        let ids: Vec<i64> = batch.iter().map(|i| i.id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        let chats: Vec<Option<i64>> = batch.iter().map(|i| i.chat_id).collect();
        assert_eq!(chats, [Some(1), Some(2), None, Some(1)]);
        assert_eq!(batch[2].action, callback);
        assert_eq!(batch[3].action, send(1, "a2"));
        assert_eq!((batch[0].not_before, batch[0].attempts), (100, 0));
        assert_eq!(batch[3].not_before, 200);
        assert_eq!(store.outbox_batch(2).expect("batch").len(), 2);

        // heads page through the same queue; an item is the batch's entry
        let heads = |after, limit| -> Vec<i64> {
            let heads = store.outbox_heads(after, limit).expect("heads");
            heads.iter().map(|h| h.id).collect()
        };
        assert_eq!(heads(0, 2), ids[..2]);
        assert_eq!(heads(ids[1], 10), ids[2..]);
        assert!(heads(ids[3], 10).is_empty());
        let head = store.outbox_heads(ids[2], 1).expect("heads")[0];
        assert_eq!((head.chat_id, head.not_before), (Some(1), 200));
        assert_eq!(
            store.outbox_item(ids[3]).expect("item").as_ref(),
            Some(&batch[3])
        );

        store.outbox_retry(ids[0], 5_000, 3).expect("retry");
        store
            .outbox_replace(ids[1], &send(9, "b1 plain"))
            .expect("replace");
        let batch = store.outbox_batch(10).expect("batch");
        assert_eq!(batch[0].id, ids[0], "a retried action keeps its place");
        assert_eq!((batch[0].not_before, batch[0].attempts), (5_000, 3));
        assert_eq!(batch[1].id, ids[1], "a replaced action keeps its place");
        assert_eq!(batch[1].action, send(9, "b1 plain"));
        assert_eq!(batch[1].chat_id, Some(9));

        assert_eq!(store.outbox_drop_chat(1).expect("drop"), 2);
        assert_eq!(store.outbox_drop_chat(1).expect("drop"), 0);
        assert_eq!(store.outbox_len().expect("len"), 2);

        store.outbox_done(&ids[2..3]).expect("done");
        store.outbox_done(&ids[2..3]).expect("done twice is fine");
        assert_eq!(store.outbox_item(ids[2]).expect("item"), None, "gone");
        store
            .outbox_retry(ids[2], 1, 1)
            .expect("retry of a gone id is ignored");
        assert_eq!(store.outbox_len().expect("len"), 1);

        // Ids are never reused, even after the newest action is removed.
        let last = *ids.last().expect("ids");
        store.outbox_done(&ids[1..2]).expect("done");
        store
            .complete_update(3, &[send(1, "a3")], 300)
            .expect("complete");
        let batch = store.outbox_batch(10).expect("batch");
        assert_eq!(batch.len(), 1);
        assert!(batch[0].id > last, "{} reused", batch[0].id);
    }

    #[test]
    fn an_undecodable_outbox_action_is_dropped_not_blocking() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        {
            let conn = store.lock().expect("lock");
            conn.execute(
                "INSERT INTO outbox (chat_id, action, not_before) VALUES (1, '{\"kind\":\"teleport\"}', 0)",
                [],
            )
            .expect("insert");
        }
        store
            .complete_update(1, &[send(1, "ok")], 100)
            .expect("complete");
        let batch = store.outbox_batch(1).expect("batch");
        assert!(batch.is_empty(), "the bad row comes first and is dropped");
        let batch = store.outbox_batch(10).expect("batch");
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].action, send(1, "ok"));
        assert_eq!(store.outbox_len().expect("len"), 1);
    }

    #[test]
    fn chats_keep_the_first_source_blocked_flag_and_streak() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        let row = |chat: i64| -> (Option<String>, Option<i64>, i64) {
            let conn = store.lock().expect("lock");
            conn.query_row(
                "SELECT source, started_at, last_seen FROM chats WHERE chat_id = ?1",
                [chat],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .expect("row")
        };
        // A message before any /start creates the row without a source.
        store
            .enqueue_updates(&[update(1, 7, "hi")], 50)
            .expect("enqueue");
        assert_eq!(row(7), (None, None, 50));
        store
            .record_chat_start(7, Some("flyer"), 100)
            .expect("start");
        store
            .record_chat_start(7, Some("other"), 200)
            .expect("start again");
        store.record_chat_start(7, None, 300).expect("start again");
        assert_eq!(row(7), (Some("flyer".into()), Some(100), 300));

        assert!(!store.is_blocked(7).expect("blocked?"));
        assert!(!store.is_blocked(8).expect("unknown chat"));
        store.set_blocked(7, true, 400).expect("block");
        assert!(store.is_blocked(7).expect("blocked?"));
        assert_eq!(row(7).2, 300, "blocking is not activity");
        store.set_blocked(7, false, 500).expect("unblock");
        assert!(!store.is_blocked(7).expect("blocked?"));
        store.set_blocked(8, true, 600).expect("block unknown chat");
        assert!(store.is_blocked(8).expect("blocked?"));

        assert_eq!(store.chat_state(9).expect("state"), ChatState::default());
        store.set_no_match_streak(7, 2).expect("streak");
        store
            .set_no_match_streak(9, 1)
            .expect("streak for a new chat");
        assert_eq!(store.chat_state(7).expect("state").no_match_streak, 2);
        assert_eq!(store.chat_state(9).expect("state").no_match_streak, 1);
        store.set_no_match_streak(7, 0).expect("reset");
        assert_eq!(store.chat_state(7).expect("state").no_match_streak, 0);
        assert_eq!(
            row(7).0.as_deref(),
            Some("flyer"),
            "other columns untouched"
        );
    }

    #[test]
    fn migrate_chat_moves_everything_to_the_new_id() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        let (old, new, other) = (-100, -1_001_234_567_890_i64, 55);
        store
            .enqueue_updates(&[update(1, old, "pending")], 100)
            .expect("enqueue");
        store
            .record_chat_start(old, Some("group-link"), 100)
            .expect("start");
        store.set_no_match_streak(old, 3).expect("streak");
        store
            .record_feedback(old, "p1", true, 100)
            .expect("feedback");
        store
            .record_feedback(old, "p2", true, 100)
            .expect("feedback");
        store
            .record_feedback(new, "p2", false, 150)
            .expect("feedback");
        store
            .complete_update(
                2,
                &[send(old, "for the group"), send(other, "elsewhere")],
                200,
            )
            .expect("complete");

        store.migrate_chat(old, new).expect("migrate");

        let batch = store.outbox_batch(10).expect("batch");
        assert_eq!(batch[0].chat_id, Some(new));
        assert_eq!(batch[0].action, send(new, "for the group"));
        assert_eq!(batch[1].action, send(other, "elsewhere"));
        assert_eq!(store.chat_state(new).expect("state").no_match_streak, 3);
        assert_eq!(store.chat_state(old).expect("state"), ChatState::default());
        assert_eq!(store.pending_updates(10).expect("pending")[0].chat_id, new);
        assert_eq!(store.feedback_counts("p1").expect("counts"), (1, 0));
        assert_eq!(
            store.feedback_counts("p2").expect("counts"),
            (0, 1),
            "new id's vote stands"
        );
        let source: Option<String> = {
            let conn = store.lock().expect("lock");
            conn.query_row("SELECT source FROM chats WHERE chat_id = ?1", [new], |r| {
                r.get(0)
            })
            .expect("row")
        };
        assert_eq!(source.as_deref(), Some("group-link"));
        // Nothing is left under the old id.
        store.forget_chat(new).expect("forget");
        assert_eq!(store.outbox_len().expect("len"), 1);
        assert_eq!(store.pending_count().expect("count"), 0);
        assert_eq!(store.feedback_counts("p1").expect("counts"), (0, 0));
    }

    #[test]
    fn feedback_counts_one_vote_per_chat_and_passage() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        assert_eq!(store.feedback_counts("p").expect("counts"), (0, 0));
        store.record_feedback(1, "p", true, 100).expect("feedback");
        store.record_feedback(1, "p", true, 110).expect("feedback");
        store.record_feedback(2, "p", false, 120).expect("feedback");
        store.record_feedback(3, "p", false, 130).expect("feedback");
        store
            .record_feedback(3, "p", true, 140)
            .expect("changed mind");
        store.record_feedback(3, "q", false, 150).expect("feedback");
        assert_eq!(store.feedback_counts("p").expect("counts"), (2, 1));
        assert_eq!(store.feedback_counts("q").expect("counts"), (0, 1));
    }

    #[test]
    fn meta_values_are_stored_and_replaced() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        assert_eq!(store.get_meta("content").expect("get"), None);
        store.set_meta("content", "v1").expect("set");
        store.set_meta("content", "v2").expect("set");
        store.set_meta("other", "x").expect("set");
        assert_eq!(
            store.get_meta("content").expect("get").as_deref(),
            Some("v2")
        );
        assert_eq!(store.get_meta("other").expect("get").as_deref(), Some("x"));
    }

    #[test]
    fn forget_chat_erases_the_text_from_the_files() {
        const MARKER: &str = "ZEBRA-MARKER-7f3a";
        let dir = TempDir::new().expect("tempdir");
        let db = db_path(&dir);
        let wal = wal_path(&db);
        let store = open(&dir);
        let (chat, other) = (1_234_i64, 999_i64);

        let mut next_id = 1;
        let mut write_rows = |store: &SqliteStore, now: i64| {
            for _ in 0..5 {
                let body = format!("{{\"text\":\"my husband {MARKER} dose question\"}}");
                store
                    .enqueue_updates(&[update(next_id, chat, &body)], now)
                    .expect("enqueue");
                store
                    .complete_update(next_id, &[send(chat, &format!("You asked: {MARKER}"))], now)
                    .expect("complete");
                store
                    .enqueue_updates(&[update(next_id + 1, chat, &body)], now)
                    .expect("enqueue pending");
                next_id += 2;
            }
            store
                .record_chat_start(chat, Some(MARKER), now)
                .expect("start");
            store
                .record_feedback(chat, MARKER, true, now)
                .expect("feedback");
        };
        write_rows(&store, 100);
        // Some rows reach the .db file, the rest stay in the -wal file.
        {
            let conn = store.lock().expect("lock");
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                .expect("checkpoint");
        }
        write_rows(&store, 200);
        store
            .enqueue_updates(&[update(10_000, other, "unrelated")], 300)
            .expect("enqueue other");
        store
            .complete_update(10_001, &[send(other, "keep me")], 300)
            .expect("other");

        let marker = MARKER.as_bytes();
        assert!(
            contains(&std::fs::read(&db).expect("read db"), marker),
            "setup: not in .db"
        );
        assert!(contains(&read_or_empty(&wal), marker), "setup: not in -wal");

        store.forget_chat(chat).expect("forget");

        assert!(
            !contains(&std::fs::read(&db).expect("read db"), marker),
            "left in .db"
        );
        assert!(!contains(&read_or_empty(&wal), marker), "left in -wal");
        // The other chat is untouched, the store still works and the offset stays.
        assert_eq!(store.pending_count().expect("count"), 1);
        assert_eq!(
            store.outbox_batch(10).expect("batch")[0].action,
            send(other, "keep me")
        );
        assert_eq!(store.feedback_counts(MARKER).expect("counts"), (0, 0));
        assert_eq!(store.chat_state(chat).expect("state"), ChatState::default());
        assert_eq!(store.next_update_offset().expect("offset"), 10_002);
        assert!(store.integrity_check().expect("integrity"));
    }

    #[test]
    fn purge_respects_the_cutoff() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        store
            .enqueue_updates(&[update(1, 1, "old done")], 100)
            .expect("enqueue");
        store
            .complete_update(1, &[send(1, "queued long ago")], 100)
            .expect("complete");
        store
            .enqueue_updates(&[update(2, 1, "old pending")], 100)
            .expect("enqueue");
        store
            .enqueue_updates(&[update(3, 2, "new done")], 300)
            .expect("enqueue");
        store.complete_update(3, &[], 300).expect("complete");
        store.record_feedback(1, "p", true, 100).expect("feedback");
        store.record_feedback(2, "p", false, 300).expect("feedback");
        store.set_blocked(3, true, 150).expect("old chat");

        // Chat 1 was last seen at 100, chat 2 at 300, chat 3 at 150.
        let deleted = store.purge_older_than(200).expect("purge");
        assert_eq!(
            deleted,
            1 + 1 + 2,
            "inbox 1, feedback at 100, chats 1 and 3"
        );

        assert!(
            !store.is_update_done(1).expect("done?"),
            "old done row purged"
        );
        assert!(
            store.is_update_done(3).expect("done?"),
            "newer done row kept"
        );
        let pending = store.pending_updates(10).expect("pending");
        assert_eq!(pending.len(), 1, "pending updates are never purged");
        assert_eq!(pending[0].update_id, 2);
        assert_eq!(store.feedback_counts("p").expect("counts"), (0, 1));
        assert!(
            !store.is_blocked(3).expect("blocked?"),
            "old chat row purged"
        );
        assert_eq!(
            store.outbox_len().expect("len"),
            1,
            "queued actions are kept"
        );
        assert_eq!(store.next_update_offset().expect("offset"), 4);
        assert_eq!(store.purge_older_than(200).expect("purge again"), 0);
        let chats: i64 = {
            let conn = store.lock().expect("lock");
            conn.query_row("SELECT count(*) FROM chats", [], |r| r.get(0))
                .expect("count")
        };
        assert_eq!(chats, 1, "chat 2 kept");
    }

    #[test]
    fn data_survives_closing_and_reopening() {
        let dir = TempDir::new().expect("tempdir");
        {
            let store = open(&dir);
            store
                .enqueue_updates(&[update(5, 1, "pending"), update(6, 1, "done")], 100)
                .expect("enqueue");
            store
                .complete_update(6, &[send(1, "reply")], 200)
                .expect("complete");
            store.record_chat_start(1, Some("src"), 100).expect("start");
            store.set_no_match_streak(1, 2).expect("streak");
            store.set_blocked(2, true, 100).expect("block");
            store.record_feedback(1, "p", true, 100).expect("feedback");
            store.set_meta("k", "v").expect("meta");
        }
        let store = open(&dir);
        assert_eq!(store.next_update_offset().expect("offset"), 7);
        assert_eq!(
            store.pending_updates(10).expect("pending")[0].body,
            "pending"
        );
        assert!(store.is_update_done(6).expect("done?"));
        assert_eq!(
            store.outbox_batch(10).expect("batch")[0].action,
            send(1, "reply")
        );
        assert_eq!(store.chat_state(1).expect("state").no_match_streak, 2);
        assert!(store.is_blocked(2).expect("blocked?"));
        assert_eq!(store.feedback_counts("p").expect("counts"), (1, 0));
        assert_eq!(store.get_meta("k").expect("meta").as_deref(), Some("v"));
    }

    #[test]
    fn the_store_is_shared_across_threads() {
        let dir = TempDir::new().expect("tempdir");
        let store: Arc<dyn Store> = Arc::new(open(&dir));
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    for i in 0..25 {
                        let id = t * 100 + i;
                        store
                            .enqueue_updates(&[update(id, i64::from(t), "x")], 1)
                            .expect("enqueue");
                        store
                            .complete_update(id, &[send(i64::from(t), "y")], 2)
                            .expect("complete");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }
        assert_eq!(store.outbox_len().expect("len"), 100);
        assert_eq!(store.pending_count().expect("count"), 0);
        assert_eq!(store.next_update_offset().expect("offset"), 325);
    }

    #[test]
    fn a_poisoned_lock_is_an_error() {
        let dir = TempDir::new().expect("tempdir");
        let store = Arc::new(open(&dir));
        let s = Arc::clone(&store);
        let panicked = std::thread::spawn(move || {
            let _guard = s.lock().expect("lock");
            panic!("handler bug");
        })
        .join();
        assert!(panicked.is_err());
        let err = store.pending_count().expect_err("must refuse");
        assert!(matches!(err, StoreError::Poisoned { .. }), "{err:?}");
        assert!(err.to_string().contains("bot.db"), "{err}");
    }
}
