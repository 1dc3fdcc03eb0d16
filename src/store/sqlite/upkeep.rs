//! Privacy and upkeep on SQLite: forgetting a chat and retention across every table (each
//! role's file deletes its own rows inside the one transaction), and the meta values.

use rusqlite::{OptionalExtension, TransactionBehavior};

use super::{checkpoint_truncate, escalations, questions, SqliteStore};
use crate::store::{StoreError, StoreResult, Upkeep};

impl Upkeep for SqliteStore {
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
}

/// For tests and tools: not part of the role a second backend must write.
impl SqliteStore {
    /// A stored value (e.g. the content version the index was built from).
    pub fn get_meta(&self, key: &str) -> StoreResult<Option<String>> {
        self.run("read a meta value", |conn| {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
        })
    }

    /// Whether the database passes its own integrity check.
    pub fn integrity_check(&self) -> StoreResult<bool> {
        let first: String = self.run("check integrity", |conn| {
            conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        })?;
        Ok(first == "ok")
    }
}
