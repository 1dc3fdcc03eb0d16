//! The editors' log on PostgreSQL: [`QuestionLog`] for [`PgStore`], and the questions' part of
//! answering, forgetting, retention and chat migration (rules as in `sqlite/questions.rs`).

use tokio_postgres::Row;

use super::session::Db;

use super::{get, PgResult, PgStore};
use crate::store::questions::offered_from_stored;
use crate::store::{AskedQuestion, LoggedQuestion, NotHelpful, QuestionLog, StoreResult};

/// Logs a question of `chat_id` (in the answer's transaction).
pub(super) async fn insert(c: &impl Db, chat_id: i64, q: &AskedQuestion) -> PgResult<()> {
    let (text, offered) = (q.stored_text(), q.stored_offered());
    c.execute(
        "INSERT INTO questions (chat_id, at, outcome, text, passage_id, offered, confidence, chosen)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &chat_id,
            &q.at,
            &q.outcome,
            &text,
            &q.passage_id,
            &offered,
            &q.confidence.map(f64::from),
            &q.chosen,
        ],
    )
    .await?;
    Ok(())
}

/// Marks `passage` as chosen on the chat's latest question whose suggestions offered it.
pub(super) async fn choose(c: &impl Db, chat_id: i64, passage: &str) -> PgResult<()> {
    c.execute(
        "UPDATE questions SET chosen = $2 WHERE id = (
             SELECT id FROM questions
             WHERE chat_id = $1 AND outcome = 'suggest'
               AND strpos(' ' || offered || ' ', ' ' || $2 || ' ') > 0
             ORDER BY at DESC, id DESC LIMIT 1)",
        &[&chat_id, &passage],
    )
    .await?;
    Ok(())
}

/// `/forget`: the chat's questions go.
pub(super) async fn forget_chat(c: &impl Db, chat_id: i64) -> PgResult<u64> {
    Ok(
        c.execute("DELETE FROM questions WHERE chat_id = $1", &[&chat_id])
            .await?,
    )
}

/// Retention: questions older than `cutoff` lose their text and chat.
pub(super) async fn purge_older_than(c: &impl Db, cutoff: i64) -> PgResult<u64> {
    Ok(c.execute(
        "UPDATE questions SET text = NULL, chat_id = NULL
         WHERE at < $1 AND (text IS NOT NULL OR chat_id IS NOT NULL)",
        &[&cutoff],
    )
    .await?)
}

/// A group became a supergroup: its questions move to the new id.
pub(super) async fn migrate_chat(c: &impl Db, old: i64, new: i64) -> PgResult<()> {
    c.execute(
        "UPDATE questions SET chat_id = $2 WHERE chat_id = $1",
        &[&old, &new],
    )
    .await?;
    Ok(())
}

fn logged_from_row(r: &Row) -> PgResult<LoggedQuestion> {
    let offered: Option<String> = get(r, 6)?;
    let confidence: Option<f64> = get(r, 7)?;
    Ok(LoggedQuestion {
        chat_id: get(r, 0)?,
        question: AskedQuestion {
            at: get(r, 1)?,
            outcome: get(r, 2)?,
            text: get(r, 3)?,
            passage_id: get(r, 4)?,
            chosen: get(r, 5)?,
            offered: offered_from_stored(offered),
            // stored from an f32: narrowing it back loses nothing
            confidence: confidence.map(|c| c as f32),
        },
    })
}

impl QuestionLog for PgStore {
    fn questions_between(&self, from: i64, to: i64) -> StoreResult<Vec<LoggedQuestion>> {
        self.run("read the questions", async |c| {
            let rows = c
                .query(
                    "SELECT chat_id, at, outcome, text, passage_id, chosen, offered, confidence
                     FROM questions WHERE at >= $1 AND at < $2 ORDER BY at, id",
                    &[&from, &to],
                )
                .await?;
            rows.iter().map(logged_from_row).collect()
        })
    }

    fn not_helpful_between(&self, from: i64, to: i64) -> StoreResult<Vec<NotHelpful>> {
        self.run("read the votes", async |c| {
            let rows = c
                .query(
                    "SELECT f.passage_id, f.created_at, q.at, q.text
                     FROM feedback f
                     LEFT JOIN questions q ON q.id = (
                         SELECT id FROM questions
                         WHERE chat_id = f.chat_id AND at <= f.created_at
                           AND (passage_id = f.passage_id OR chosen = f.passage_id)
                         ORDER BY at DESC, id DESC LIMIT 1)
                     WHERE NOT f.helpful AND f.created_at >= $1 AND f.created_at < $2
                     ORDER BY f.passage_id COLLATE \"C\", f.created_at",
                    &[&from, &to],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(NotHelpful {
                        passage_id: get(r, 0)?,
                        at: get(r, 1)?,
                        question_at: get(r, 2)?,
                        question_text: get(r, 3)?,
                    })
                })
                .collect()
        })
    }
}
