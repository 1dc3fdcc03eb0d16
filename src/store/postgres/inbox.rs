//! The inbox on PostgreSQL: updates kept until handled, completed with their actions and
//! answers in one transaction, and the remembered highest update id.
//!
//! Several replicas may enqueue the same update (a webhook retried to another replica) or
//! complete it (two workers that both took it): inserts skip what exists, and completing marks
//! the row done with a conditional `UPDATE` (or an insert that loses to a concurrent one), which
//! is what decides, under concurrency too, whether the update's actions are queued.

use super::session::Db;

use super::chats::write_answer;
use super::outbox::insert_actions;
use super::{get, sql_limit, PgResult, PgStore};
use crate::store::{encode_completions, Completion, Inbox, InboxItem, NewUpdate, StoreResult};

/// Raises the remembered highest update id (never lowers it).
pub(super) async fn bump_max_update_id(c: &impl Db, update_id: i32) -> PgResult<()> {
    c.execute(
        "INSERT INTO inbox_state (id, max_update_id) VALUES (1, $1)
         ON CONFLICT (id) DO UPDATE
             SET max_update_id = GREATEST(inbox_state.max_update_id, excluded.max_update_id)",
        &[&update_id],
    )
    .await?;
    Ok(())
}

impl Inbox for PgStore {
    fn enqueue_updates(&self, items: &[NewUpdate], now: i64) -> StoreResult<usize> {
        let Some(max) = items.iter().map(|i| i.update_id).max() else {
            return Ok(0);
        };
        self.run("enqueue updates", async |c| {
            let tx = c.transaction().await?;
            let insert = "INSERT INTO inbox (update_id, chat_id, body, received_at)
                          VALUES ($1, $2, $3, $4) ON CONFLICT (update_id) DO NOTHING";
            // A new update is the chat's latest activity, which retention goes by.
            let touch = "INSERT INTO chats (chat_id, last_seen) VALUES ($1, $2)
                         ON CONFLICT (chat_id) DO UPDATE
                             SET last_seen = GREATEST(chats.last_seen, excluded.last_seen)";
            let mut new = 0;
            for item in items {
                let n = tx
                    .execute(insert, &[&item.update_id, &item.chat_id, &item.body, &now])
                    .await?;
                if n == 1 {
                    new += 1;
                    if item.chat_id != 0 {
                        tx.execute(touch, &[&item.chat_id, &now]).await?;
                    }
                }
            }
            bump_max_update_id(&tx, max).await?;
            tx.commit().await?;
            Ok(new)
        })
    }

    fn next_update_offset(&self) -> StoreResult<i32> {
        let max: Option<i32> = self.run("read the update offset", async |c| {
            match c
                .query_opt("SELECT max_update_id FROM inbox_state WHERE id = 1", &[])
                .await?
            {
                Some(row) => Ok(Some(get(&row, 0)?)),
                None => Ok(None),
            }
        })?;
        Ok(max.map_or(0, |m| m.saturating_add(1)))
    }

    fn pending_updates(&self, limit: usize) -> StoreResult<Vec<InboxItem>> {
        self.run("read pending updates", async |c| {
            let rows = c
                .query(
                    "SELECT update_id, chat_id, body, received_at FROM inbox
                     WHERE done_at IS NULL ORDER BY update_id LIMIT $1",
                    &[&sql_limit(limit)],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(InboxItem {
                        update_id: get(r, 0)?,
                        chat_id: get(r, 1)?,
                        body: get(r, 2)?,
                        received_at: get(r, 3)?,
                    })
                })
                .collect()
        })
    }

    fn pending_count(&self) -> StoreResult<u64> {
        self.run("count pending updates", async |c| {
            let row = c
                .query_one("SELECT count(*) FROM inbox WHERE done_at IS NULL", &[])
                .await?;
            Ok(get::<i64>(&row, 0)?.unsigned_abs())
        })
    }

    fn complete_updates(&self, updates: &[Completion<'_>], now: i64) -> StoreResult<()> {
        let encoded = encode_completions(updates, |a| self.encode(a))?;
        self.run("complete an update", async |c| {
            let tx = c.transaction().await?;
            let mut queued = Vec::new();
            for (update, actions) in updates.iter().zip(&encoded) {
                let update_id = update.update_id;
                // Pending → done. A concurrent completion of the same update holds the row
                // until it commits; this statement then sees it done and changes nothing.
                let marked = tx
                    .execute(
                        "UPDATE inbox SET body = NULL, done_at = $2
                         WHERE update_id = $1 AND done_at IS NULL",
                        &[&update_id, &now],
                    )
                    .await?;
                if marked == 0 {
                    // Already done (a redelivery, another worker), or no row: never enqueued,
                    // or forgotten while being handled (`/forget` deletes its own update). A
                    // bodiless done row keeps a redelivery recognised; losing the insert to a
                    // concurrent one means that one queued the actions.
                    let inserted = tx
                        .execute(
                            "INSERT INTO inbox (update_id, chat_id, body, received_at, done_at)
                             VALUES ($1, 0, NULL, $2, $2) ON CONFLICT (update_id) DO NOTHING",
                            &[&update_id, &now],
                        )
                        .await?;
                    if inserted == 0 {
                        continue;
                    }
                    bump_max_update_id(&tx, update_id).await?;
                }
                if let Some(answer) = update.answer {
                    write_answer(&tx, answer).await?;
                }
                queued.extend(actions.iter().map(|(chat, json)| (*chat, json.as_str())));
            }
            // Last, so the outbox's ordering lock is held only until the commit just below.
            insert_actions(&tx, &queued, now).await?;
            tx.commit().await?;
            Ok(())
        })
    }
}
