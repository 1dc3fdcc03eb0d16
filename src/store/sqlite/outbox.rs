//! The outbox on SQLite: actions as JSON rows, in queue order, with their retry times.

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::{sql_limit, SqliteStore};
use crate::action::Action;
use crate::store::{decode_outbox, Outbox, OutboxHead, OutboxItem, StoreResult};

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
    /// The outbox item of a row; an action that no longer decodes is dropped (`None`, see
    /// [`decode_outbox`]).
    fn decode_outbox(&self, head: OutboxHead, json: String) -> StoreResult<Option<OutboxItem>> {
        if let Some(item) = decode_outbox(head, &json, &self.path.display()) {
            return Ok(Some(item));
        }
        self.run("drop an undecodable outbox action", |conn| {
            conn.execute(
                "DELETE FROM outbox WHERE id = ?1 AND action = ?2",
                params![head.id, json],
            )
        })?;
        Ok(None)
    }
}

impl Outbox for SqliteStore {
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
}

/// For tests and tools: not part of the role a second backend must write.
impl SqliteStore {
    /// The oldest queued actions, in queue order (lowest id first), at most `limit`, whether or
    /// not their `not_before` has come; the sender keeps each chat's order by not skipping past
    /// a chat's waiting action. An action stored by an incompatible version that no longer
    /// decodes is dropped with a warning (it could never be performed and would block its
    /// chat), so a batch may be shorter than `limit` while more remain.
    pub fn outbox_batch(&self, limit: usize) -> StoreResult<Vec<OutboxItem>> {
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
}
