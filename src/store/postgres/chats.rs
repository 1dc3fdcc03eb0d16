//! Chats on PostgreSQL: per-chat state, answers with their transcript lines and logged
//! questions, feedback, transcripts, and a group's move to a supergroup.

use super::session::Db;

use super::{escalations, get, questions, sql_limit, PgResult, PgStore};
use crate::store::{AnswerRecord, ChatState, Chats, Role, StoreResult, TranscriptEntry};

/// Appends an answer's transcript lines, logs its question or the suggestion chosen, and sets
/// the chat's no-match streak.
pub(super) async fn write_answer(c: &impl Db, answer: &AnswerRecord) -> PgResult<()> {
    for entry in &answer.transcript {
        insert_transcript(c, answer.chat_id, entry).await?;
    }
    if let Some(q) = &answer.question {
        questions::insert(c, answer.chat_id, q).await?;
    }
    if let Some(passage) = &answer.chosen {
        questions::choose(c, answer.chat_id, passage).await?;
    }
    write_streak(c, answer.chat_id, answer.no_match_streak).await
}

fn streak_sql(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Sets a chat's count of consecutive unmatched messages (see `sqlite/chats.rs` for why a new
/// row counts as last seen at 0).
pub(in crate::store) async fn write_streak(c: &impl Db, chat_id: i64, n: u32) -> PgResult<()> {
    if n == 0 {
        c.execute(
            "UPDATE chats SET no_match_streak = 0 WHERE chat_id = $1 AND no_match_streak <> 0",
            &[&chat_id],
        )
        .await?;
    } else {
        c.execute(
            "INSERT INTO chats (chat_id, last_seen, no_match_streak) VALUES ($1, 0, $2)
             ON CONFLICT (chat_id) DO UPDATE SET no_match_streak = excluded.no_match_streak",
            &[&chat_id, &streak_sql(n)],
        )
        .await?;
    }
    Ok(())
}

/// Appends one line to a chat's transcript.
pub(super) async fn insert_transcript(
    c: &impl Db,
    chat_id: i64,
    entry: &TranscriptEntry,
) -> PgResult<()> {
    c.execute(
        "INSERT INTO transcript (chat_id, at, role, text, passage_id) VALUES ($1, $2, $3, $4, $5)",
        &[
            &chat_id,
            &entry.at,
            &entry.role.as_str(),
            &entry.text,
            &entry.passage_id,
        ],
    )
    .await?;
    Ok(())
}

impl Chats for PgStore {
    fn record_chat_start(&self, chat_id: i64, source: Option<&str>, now: i64) -> StoreResult<()> {
        self.run("record a /start", async |c| {
            c.execute(
                "INSERT INTO chats (chat_id, source, started_at, last_seen) VALUES ($1, $2, $3, $3)
                 ON CONFLICT (chat_id) DO UPDATE SET
                     source = CASE WHEN chats.started_at IS NULL THEN excluded.source
                                   ELSE chats.source END,
                     started_at = coalesce(chats.started_at, excluded.started_at),
                     last_seen = GREATEST(chats.last_seen, excluded.last_seen)",
                &[&chat_id, &source, &now],
            )
            .await?;
            Ok(())
        })
    }

    fn set_blocked(&self, chat_id: i64, blocked: bool, now: i64) -> StoreResult<()> {
        self.run("record a block", async |c| {
            c.execute(
                "INSERT INTO chats (chat_id, last_seen, blocked) VALUES ($1, $2, $3)
                 ON CONFLICT (chat_id) DO UPDATE SET blocked = excluded.blocked",
                &[&chat_id, &now, &blocked],
            )
            .await?;
            Ok(())
        })
    }

    fn chat_state(&self, chat_id: i64) -> StoreResult<ChatState> {
        self.run("read a chat", async |c| {
            match c
                .query_opt(
                    "SELECT no_match_streak FROM chats WHERE chat_id = $1",
                    &[&chat_id],
                )
                .await?
            {
                Some(r) => Ok(ChatState {
                    no_match_streak: get::<i32>(&r, 0)?.max(0).unsigned_abs(),
                }),
                None => Ok(ChatState::default()),
            }
        })
    }

    fn record_answer(&self, answer: &AnswerRecord) -> StoreResult<()> {
        self.run("record an answer", async |c| {
            let tx = c.transaction().await?;
            write_answer(&tx, answer).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn migrate_chat(&self, old_chat_id: i64, new_chat_id: i64) -> StoreResult<()> {
        if old_chat_id == new_chat_id {
            return Ok(());
        }
        self.run("move a migrated chat", async |c| {
            let tx = c.transaction().await?;
            let ids: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&old_chat_id, &new_chat_id];
            tx.execute(
                "INSERT INTO chats (chat_id, source, started_at, last_seen, blocked, no_match_streak)
                 SELECT $2, source, started_at, last_seen, blocked, no_match_streak
                 FROM chats WHERE chat_id = $1
                 ON CONFLICT (chat_id) DO UPDATE SET
                     source = CASE WHEN chats.started_at IS NULL THEN excluded.source
                                   ELSE chats.source END,
                     started_at = coalesce(chats.started_at, excluded.started_at),
                     last_seen = GREATEST(chats.last_seen, excluded.last_seen)",
                &ids,
            )
            .await?;
            tx.execute("DELETE FROM chats WHERE chat_id = $1", &[&old_chat_id])
                .await?;
            tx.execute("UPDATE inbox SET chat_id = $2 WHERE chat_id = $1", &ids)
                .await?;
            // Where the new id already voted on a passage, its vote stands.
            tx.execute(
                "UPDATE feedback SET chat_id = $2 WHERE chat_id = $1
                 AND passage_id NOT IN (SELECT passage_id FROM feedback WHERE chat_id = $2)",
                &ids,
            )
            .await?;
            tx.execute("DELETE FROM feedback WHERE chat_id = $1", &[&old_chat_id])
                .await?;
            // Only chat-bound actions have a chat_id, at the top level of their JSON.
            tx.execute(
                "UPDATE outbox SET chat_id = $2,
                     action = jsonb_set(action::jsonb, '{chat_id}', to_jsonb($2::bigint))::text
                 WHERE chat_id = $1",
                &ids,
            )
            .await?;
            escalations::migrate_chat(&tx, old_chat_id, new_chat_id).await?;
            questions::migrate_chat(&tx, old_chat_id, new_chat_id).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn record_feedback(
        &self,
        chat_id: i64,
        passage_id: &str,
        helpful: bool,
        now: i64,
    ) -> StoreResult<()> {
        self.run("record feedback", async |c| {
            c.execute(
                "INSERT INTO feedback (chat_id, passage_id, helpful, created_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (chat_id, passage_id) DO UPDATE SET
                     helpful = excluded.helpful, created_at = excluded.created_at",
                &[&chat_id, &passage_id, &helpful, &now],
            )
            .await?;
            Ok(())
        })
    }

    fn add_transcript(&self, chat_id: i64, entry: &TranscriptEntry) -> StoreResult<()> {
        self.run("add to a transcript", async |c| {
            insert_transcript(c, chat_id, entry).await
        })
    }

    fn transcript(&self, chat_id: i64, limit: usize) -> StoreResult<Vec<TranscriptEntry>> {
        self.run("read a transcript", async |c| {
            let rows = c
                .query(
                    "SELECT at, role, text, passage_id FROM (
                         SELECT id, at, role, text, passage_id FROM transcript
                         WHERE chat_id = $1 ORDER BY at DESC, id DESC LIMIT $2
                     ) AS recent ORDER BY at, id",
                    &[&chat_id, &sql_limit(limit)],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    let role: &str = get(r, 1)?;
                    Ok(TranscriptEntry {
                        at: get(r, 0)?,
                        role: Role::parse(role)
                            .ok_or_else(|| super::Fail::Row(format!("unknown role {role:?}")))?,
                        text: get(r, 2)?,
                        passage_id: get(r, 3)?,
                    })
                })
                .collect()
        })
    }
}

/// For tests and tools (the bot's end-to-end tests read these): not part of the role.
impl PgStore {
    /// Whether the chat is recorded as blocked (false for unknown chats).
    pub fn is_blocked(&self, chat_id: i64) -> StoreResult<bool> {
        self.run("read a chat", async |c| {
            match c
                .query_opt("SELECT blocked FROM chats WHERE chat_id = $1", &[&chat_id])
                .await?
            {
                Some(r) => get(&r, 0),
                None => Ok(false),
            }
        })
    }

    /// `(helpful, not_helpful)` votes for a passage.
    pub fn feedback_counts(&self, passage_id: &str) -> StoreResult<(u64, u64)> {
        self.run("count feedback", async |c| {
            let r = c
                .query_one(
                    "SELECT count(*) FILTER (WHERE helpful), count(*) FILTER (WHERE NOT helpful)
                     FROM feedback WHERE passage_id = $1",
                    &[&passage_id],
                )
                .await?;
            Ok((
                get::<i64>(&r, 0)?.unsigned_abs(),
                get::<i64>(&r, 1)?.unsigned_abs(),
            ))
        })
    }
}
