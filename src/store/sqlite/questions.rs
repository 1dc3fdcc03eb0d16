//! The editors' log on SQLite: [`QuestionLog`] for [`SqliteStore`], and the questions' part of
//! answering, forgetting, retention and chat migration.

use rusqlite::{params, Connection, Row, Transaction};

use super::SqliteStore;
use crate::store::questions::offered_from_stored;
use crate::store::{AskedQuestion, LoggedQuestion, NotHelpful, QuestionLog, StoreResult};

/// Logs a question of `chat_id` (in the answer's transaction).
pub(super) fn insert(conn: &Connection, chat_id: i64, q: &AskedQuestion) -> rusqlite::Result<()> {
    let (text, offered) = (q.stored_text(), q.stored_offered());
    conn.prepare_cached(
        "INSERT INTO questions (chat_id, at, outcome, text, passage_id, offered, confidence, chosen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        chat_id,
        q.at,
        q.outcome,
        text,
        q.passage_id,
        offered,
        q.confidence.map(f64::from),
        q.chosen
    ])?;
    Ok(())
}

/// Marks `passage` as chosen on the chat's latest question whose suggestions offered it.
pub(super) fn choose(conn: &Connection, chat_id: i64, passage: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE questions SET chosen = ?2 WHERE id = (
             SELECT id FROM questions
             WHERE chat_id = ?1 AND outcome = 'suggest'
               AND instr(' ' || offered || ' ', ' ' || ?2 || ' ') > 0
             ORDER BY at DESC, id DESC LIMIT 1)",
    )?
    .execute(params![chat_id, passage])?;
    Ok(())
}

/// `/forget`: the chat's questions go.
pub(super) fn forget_chat(tx: &Transaction<'_>, chat_id: i64) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM questions WHERE chat_id = ?1", [chat_id])?;
    Ok(())
}

/// Retention: questions older than `cutoff` lose their text and chat.
pub(super) fn purge_older_than(tx: &Transaction<'_>, cutoff: i64) -> rusqlite::Result<usize> {
    tx.execute(
        "UPDATE questions SET text = NULL, chat_id = NULL
         WHERE at < ?1 AND (text IS NOT NULL OR chat_id IS NOT NULL)",
        [cutoff],
    )
}

/// A group became a supergroup: its questions move to the new id.
pub(super) fn migrate_chat(tx: &Transaction<'_>, old: i64, new: i64) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE questions SET chat_id = ?2 WHERE chat_id = ?1",
        params![old, new],
    )?;
    Ok(())
}

fn logged_from_row(r: &Row<'_>) -> rusqlite::Result<LoggedQuestion> {
    let offered: Option<String> = r.get(6)?;
    let confidence: Option<f64> = r.get(7)?;
    Ok(LoggedQuestion {
        chat_id: r.get(0)?,
        question: AskedQuestion {
            at: r.get(1)?,
            outcome: r.get(2)?,
            text: r.get(3)?,
            passage_id: r.get(4)?,
            chosen: r.get(5)?,
            offered: offered_from_stored(offered),
            // stored from an f32: narrowing it back loses nothing
            confidence: confidence.map(|c| c as f32),
        },
    })
}

impl QuestionLog for SqliteStore {
    fn questions_between(&self, from: i64, to: i64) -> StoreResult<Vec<LoggedQuestion>> {
        self.run("read the questions", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT chat_id, at, outcome, text, passage_id, chosen, offered, confidence
                 FROM questions WHERE at >= ?1 AND at < ?2 ORDER BY at, id",
            )?;
            let rows = stmt.query_map([from, to], logged_from_row)?;
            rows.collect()
        })
    }

    fn not_helpful_between(&self, from: i64, to: i64) -> StoreResult<Vec<NotHelpful>> {
        self.run("read the votes", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT f.passage_id, f.created_at, q.at, q.text
                 FROM feedback f
                 LEFT JOIN questions q ON q.id = (
                     SELECT id FROM questions
                     WHERE chat_id = f.chat_id AND at <= f.created_at
                       AND (passage_id = f.passage_id OR chosen = f.passage_id)
                     ORDER BY at DESC, id DESC LIMIT 1)
                 WHERE f.helpful = 0 AND f.created_at >= ?1 AND f.created_at < ?2
                 ORDER BY f.passage_id, f.created_at",
            )?;
            let rows = stmt.query_map([from, to], |r| {
                Ok(NotHelpful {
                    passage_id: r.get(0)?,
                    at: r.get(1)?,
                    question_at: r.get(2)?,
                    question_text: r.get(3)?,
                })
            })?;
            rows.collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use tempfile::TempDir;

    use super::*;
    use crate::store::conformance::review::{asked, record};
    use crate::store::Chats;

    #[test]
    fn migration_3_applies_to_a_version_2_database() {
        let dir = TempDir::new().expect("tempdir");
        let path = dir.path().join("faqbot.db");
        {
            let conn = Connection::open(&path).expect("raw open");
            for m in &crate::store::schema::MIGRATIONS[..2] {
                conn.execute_batch(m).expect("v1 and v2 schema");
            }
            conn.pragma_update(None, "user_version", 2)
                .expect("version");
            conn.execute_batch(
                "INSERT INTO transcript (chat_id, at, role, text) VALUES (5, 100, 'caregiver', 'hi')",
            )
            .expect("v2 rows");
        }
        let store = SqliteStore::open(&path).expect("open and migrate");
        assert_eq!(store.transcript(5, 10).expect("transcript").len(), 1);
        store
            .record_answer(&record(5, Some(asked(200, "no_match", "new")), None))
            .expect("the new table works");
        assert_eq!(store.questions_between(0, 1000).expect("read").len(), 1);
    }
}
