//! Chats on SQLite: per-chat state, answers with their transcript lines and logged questions,
//! feedback, transcripts, and a group's move to a supergroup.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{escalations, questions, sql_limit, SqliteStore};
use crate::store::{AnswerRecord, ChatState, Chats, StoreResult, TranscriptEntry};

/// Appends an answer's transcript lines, logs its question or the suggestion chosen, and sets
/// the chat's no-match streak.
pub(super) fn write_answer(conn: &Connection, answer: &AnswerRecord) -> rusqlite::Result<()> {
    for entry in &answer.transcript {
        insert_transcript(conn, answer.chat_id, entry)?;
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

/// Appends one line to a chat's transcript.
pub(super) fn insert_transcript(
    conn: &Connection,
    chat_id: i64,
    entry: &TranscriptEntry,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO transcript (chat_id, at, role, text, passage_id) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        chat_id,
        entry.at,
        entry.role,
        entry.text,
        entry.passage_id
    ])
    .map(drop)
}

impl Chats for SqliteStore {
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

    fn add_transcript(&self, chat_id: i64, entry: &TranscriptEntry) -> StoreResult<()> {
        self.run("add to a transcript", |conn| {
            insert_transcript(conn, chat_id, entry)
        })
    }

    fn transcript(&self, chat_id: i64, limit: usize) -> StoreResult<Vec<TranscriptEntry>> {
        self.run("read a transcript", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT at, role, text, passage_id FROM (
                     SELECT id, at, role, text, passage_id FROM transcript WHERE chat_id = ?1
                     ORDER BY at DESC, id DESC LIMIT ?2
                 ) ORDER BY at, id",
            )?;
            let rows = stmt.query_map(params![chat_id, sql_limit(limit)], |r| {
                Ok(TranscriptEntry {
                    at: r.get(0)?,
                    role: r.get(1)?,
                    text: r.get(2)?,
                    passage_id: r.get(3)?,
                })
            })?;
            rows.collect()
        })
    }
}

/// For tests and tools: not part of the role a second backend must write.
impl SqliteStore {
    /// Whether the chat is recorded as blocked (false for unknown chats).
    pub fn is_blocked(&self, chat_id: i64) -> StoreResult<bool> {
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

    /// Sets the chat's count of consecutive unmatched messages.
    pub fn set_no_match_streak(&self, chat_id: i64, n: u32) -> StoreResult<()> {
        self.run("update a chat", |conn| write_streak(conn, chat_id, n))
    }

    /// `(helpful, not_helpful)` votes for a passage.
    pub fn feedback_counts(&self, passage_id: &str) -> StoreResult<(u64, u64)> {
        self.run("count feedback", |conn| {
            conn.query_row(
                "SELECT count(*) FILTER (WHERE helpful), count(*) FILTER (WHERE NOT helpful)
                 FROM feedback WHERE passage_id = ?1",
                [passage_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
    }
}
