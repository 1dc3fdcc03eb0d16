//! Privacy and upkeep on PostgreSQL: forgetting a chat and retention across every table (each
//! role's file deletes its own rows inside the one transaction), and the meta values.
//!
//! Unlike SQLite's `secure_delete`, PostgreSQL does not overwrite deleted rows: they stay in
//! the table's pages until vacuumed and reused, and in the write-ahead log and backups until
//! those are recycled. What `/forget` guarantees here is that the rows are deleted, for every
//! replica at once; erasure from the disks is the database's storage policy (encrypted
//! volumes, WAL and backup retention), as the README's store section says.

use super::{escalations, questions, Db, PgStore};
use crate::store::{StoreResult, Upkeep};

impl Upkeep for PgStore {
    fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        self.run("store a meta value", async |c| {
            c.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&key, &value],
            )
            .await?;
            Ok(())
        })
    }

    fn forget_chat(&self, chat_id: i64) -> StoreResult<()> {
        self.run("forget a chat", async |c| {
            let tx = c.transaction().await?;
            tx.execute("DELETE FROM inbox WHERE chat_id = $1", &[&chat_id])
                .await?;
            tx.execute("DELETE FROM outbox WHERE chat_id = $1", &[&chat_id])
                .await?;
            tx.execute("DELETE FROM chats WHERE chat_id = $1", &[&chat_id])
                .await?;
            tx.execute("DELETE FROM feedback WHERE chat_id = $1", &[&chat_id])
                .await?;
            escalations::forget_chat(&tx, chat_id).await?;
            questions::forget_chat(&tx, chat_id).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn purge_older_than(&self, cutoff: i64) -> StoreResult<u64> {
        self.run("purge old rows", async |c| {
            let tx = c.transaction().await?;
            let mut deleted = tx
                .execute(
                    "DELETE FROM inbox WHERE done_at IS NOT NULL AND done_at < $1",
                    &[&cutoff],
                )
                .await?;
            deleted += tx
                .execute("DELETE FROM feedback WHERE created_at < $1", &[&cutoff])
                .await?;
            deleted += tx
                .execute("DELETE FROM chats WHERE last_seen < $1", &[&cutoff])
                .await?;
            deleted += escalations::purge_older_than(&tx, cutoff).await?;
            deleted += questions::purge_older_than(&tx, cutoff).await?;
            tx.commit().await?;
            Ok(deleted)
        })
    }
}
