//! The inbox on SQLite: updates kept until handled, completed with their actions and answers in
//! one transaction, and the remembered highest update id.

use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use super::chats::write_answer;
use super::{sql_limit, SqliteStore};
use crate::action::Action;
use crate::store::{encode_completions, Completion, Inbox, InboxItem, NewUpdate, StoreResult};

/// Raises the remembered highest update id (never lowers it).
pub(super) fn bump_max_update_id(tx: &Transaction<'_>, update_id: i32) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO inbox_state (id, max_update_id) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET max_update_id = max(max_update_id, excluded.max_update_id)",
        [update_id],
    )?;
    Ok(())
}

impl Inbox for SqliteStore {
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
        let encoded = encode_completions(updates, |a| self.encode(a))?;
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
}

/// For tests and tools: not part of the role a second backend must write.
impl SqliteStore {
    /// [`Inbox::complete_updates`] for one update with no answer record.
    pub fn complete_update(&self, update_id: i32, actions: &[Action], now: i64) -> StoreResult<()> {
        let completion = Completion {
            update_id,
            actions,
            answer: None,
        };
        self.complete_updates(&[completion], now)
    }

    /// Whether the update has been handled.
    pub fn is_update_done(&self, update_id: i32) -> StoreResult<bool> {
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
}
