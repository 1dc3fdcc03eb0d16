//! The outbox on PostgreSQL: actions as JSON rows, in queue order, with their retry times.
//!
//! Order across replicas: an identity column gives ids in the order inserts ask for them, but
//! two transactions may commit in the other order, so a reader could see id 11 before id 10
//! exists and a chat's actions could be sent out of order. Inserts therefore take a
//! transaction-level advisory lock, held until their commit: ids become visible in the order
//! they were given. The lock is taken as the last step of a transaction, so it is held only
//! for the inserts and the commit.

use tokio_postgres::Row;

use super::session::Db;

use super::{get, sql_limit, PgResult, PgStore, OUTBOX_LOCK};
use crate::action::Action;
use crate::store::{decode_outbox, Outbox, OutboxHead, OutboxItem, StoreResult};

/// Appends encoded actions `(chat, json)` to the outbox, in order, under the ordering lock.
pub(super) async fn insert_actions(
    c: &impl Db,
    actions: &[(Option<i64>, &str)],
    now: i64,
) -> PgResult<()> {
    if actions.is_empty() {
        return Ok(());
    }
    c.execute("SELECT pg_advisory_xact_lock($1)", &[&OUTBOX_LOCK])
        .await?;
    for (chat_id, json) in actions {
        c.execute(
            "INSERT INTO outbox (chat_id, action, not_before) VALUES ($1, $2, $3)",
            &[chat_id, json, &now],
        )
        .await?;
    }
    Ok(())
}

/// An outbox row's head from its first four columns: id, chat_id, not_before, attempts.
fn outbox_head(r: &Row) -> PgResult<OutboxHead> {
    let attempts: i32 = get(r, 3)?;
    Ok(OutboxHead {
        id: get(r, 0)?,
        chat_id: get(r, 1)?,
        not_before: get(r, 2)?,
        attempts: attempts.max(0).unsigned_abs(),
    })
}

fn attempts_sql(attempts: u32) -> i32 {
    i32::try_from(attempts).unwrap_or(i32::MAX)
}

impl PgStore {
    /// The outbox item of a row; an action that no longer decodes is dropped (`None`, see
    /// [`decode_outbox`]).
    fn decode_outbox(&self, head: OutboxHead, json: String) -> StoreResult<Option<OutboxItem>> {
        if let Some(item) = decode_outbox(head, &json, &self.target()) {
            return Ok(Some(item));
        }
        self.run("drop an undecodable outbox action", async |c| {
            c.execute(
                "DELETE FROM outbox WHERE id = $1 AND action = $2",
                &[&head.id, &json],
            )
            .await?;
            Ok(())
        })?;
        Ok(None)
    }
}

impl Outbox for PgStore {
    fn outbox_heads(&self, after_id: i64, limit: usize) -> StoreResult<Vec<OutboxHead>> {
        self.run("read the outbox", async |c| {
            let rows = c
                .query(
                    "SELECT id, chat_id, not_before, attempts FROM outbox WHERE id > $1
                     ORDER BY id LIMIT $2",
                    &[&after_id, &sql_limit(limit)],
                )
                .await?;
            rows.iter().map(outbox_head).collect()
        })
    }

    fn outbox_item(&self, id: i64) -> StoreResult<Option<OutboxItem>> {
        let row = self.run("read an outbox action", async |c| {
            match c
                .query_opt(
                    "SELECT id, chat_id, not_before, attempts, action FROM outbox WHERE id = $1",
                    &[&id],
                )
                .await?
            {
                Some(r) => Ok(Some((outbox_head(&r)?, get::<String>(&r, 4)?))),
                None => Ok(None),
            }
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
        self.run("remove outbox actions", async |c| {
            c.execute("DELETE FROM outbox WHERE id = ANY($1)", &[&ids])
                .await?;
            Ok(())
        })
    }

    fn outbox_retry(&self, id: i64, not_before: i64, attempts: u32) -> StoreResult<()> {
        self.run("postpone an outbox action", async |c| {
            c.execute(
                "UPDATE outbox SET not_before = $2, attempts = $3 WHERE id = $1",
                &[&id, &not_before, &attempts_sql(attempts)],
            )
            .await?;
            Ok(())
        })
    }

    fn outbox_replace(&self, id: i64, action: &Action) -> StoreResult<()> {
        let json = self.encode(action)?;
        self.run("replace an outbox action", async |c| {
            c.execute(
                "UPDATE outbox SET action = $2, chat_id = $3 WHERE id = $1",
                &[&id, &json, &action.chat_id()],
            )
            .await?;
            Ok(())
        })
    }

    fn outbox_drop_chat(&self, chat_id: i64) -> StoreResult<u64> {
        self.run("drop a chat's outbox actions", async |c| {
            Ok(
                c.execute("DELETE FROM outbox WHERE chat_id = $1", &[&chat_id])
                    .await?,
            )
        })
    }

    fn outbox_len(&self) -> StoreResult<u64> {
        self.run("count outbox actions", async |c| {
            let row = c.query_one("SELECT count(*) FROM outbox", &[]).await?;
            Ok(get::<i64>(&row, 0)?.unsigned_abs())
        })
    }

    fn enqueue_actions(&self, actions: &[Action], now: i64) -> StoreResult<()> {
        let encoded = actions
            .iter()
            .map(|a| Ok((a.chat_id(), self.encode(a)?)))
            .collect::<StoreResult<Vec<_>>>()?;
        let refs: Vec<(Option<i64>, &str)> =
            encoded.iter().map(|(c, j)| (*c, j.as_str())).collect();
        self.run("queue actions", async |c| {
            let tx = c.transaction().await?;
            insert_actions(&tx, &refs, now).await?;
            tx.commit().await?;
            Ok(())
        })
    }
}
