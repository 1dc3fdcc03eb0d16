//! Escalations on PostgreSQL: [`Escalations`] for [`PgStore`], plus the parts of forgetting,
//! retention and chat migration that concern these tables and the transcript (called inside
//! the transactions of `upkeep.rs` and `chats.rs`). The rules are SQLite's
//! (`sqlite/escalations.rs`); the one-open-per-chat unique index decides races between
//! replicas.

use tokio_postgres::Row;

use super::session::Db;

use super::{get, Fail, PgResult, PgStore};
use crate::store::{Escalation, Escalations, NewEscalation, Reason, RelayDirection, StoreResult};

/// The columns [`escalation_from_row`] reads, in its order.
const COLUMNS: &str = "id, chat_id, user_id, name, username, language, reason, urgent, \
     closed_at IS NULL, created_at, claimed_by, first_reply_at, closed_at, closed_by, \
     thread_id, card_message_id, topic_failed, caregiver_blocked";

fn escalation_from_row(r: &Row) -> PgResult<Escalation> {
    let reason: &str = get(r, 6)?;
    Ok(Escalation {
        id: get(r, 0)?,
        chat_id: get(r, 1)?,
        user_id: get(r, 2)?,
        name: get(r, 3)?,
        username: get(r, 4)?,
        language: get(r, 5)?,
        reason: Reason::parse(reason)
            .ok_or_else(|| Fail::Row(format!("unknown reason {reason:?}")))?,
        urgent: get(r, 7)?,
        open: get(r, 8)?,
        created_at: get(r, 9)?,
        claimed_by: get(r, 10)?,
        first_reply_at: get(r, 11)?,
        closed_at: get(r, 12)?,
        closed_by: get(r, 13)?,
        thread_id: get(r, 14)?,
        card_message_id: get(r, 15)?,
        topic_failed: get(r, 16)?,
        caregiver_blocked: get(r, 17)?,
    })
}

fn direction(s: &str) -> PgResult<RelayDirection> {
    RelayDirection::parse(s).ok_or_else(|| Fail::Row(format!("unknown direction {s:?}")))
}

/// One escalation selected by `condition` on `$1`, the most recent if several match.
async fn one_escalation(
    c: &impl Db,
    condition: &str,
    param: &(dyn tokio_postgres::types::ToSql + Sync),
) -> PgResult<Option<Escalation>> {
    let sql =
        format!("SELECT {COLUMNS} FROM escalations WHERE {condition} ORDER BY id DESC LIMIT 1");
    match c.query_opt(&sql, &[param]).await? {
        Some(r) => Ok(Some(escalation_from_row(&r)?)),
        None => Ok(None),
    }
}

impl Escalations for PgStore {
    fn open_escalation(&self, e: &NewEscalation, now: i64) -> StoreResult<(Escalation, bool)> {
        let emergency = e.reason == Reason::Emergency;
        let urgent = e.urgent || emergency;
        self.run("open an escalation", async |c| {
            let tx = c.transaction().await?;
            // The unique index on open escalations decides a race with another replica: the
            // insert that loses does nothing, and the open one is read (and upgraded) below.
            let inserted = tx
                .query_opt(
                    "INSERT INTO escalations
                         (chat_id, user_id, name, username, language, reason, urgent, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (chat_id) WHERE closed_at IS NULL DO NOTHING
                     RETURNING id",
                    &[
                        &e.chat_id,
                        &e.user_id,
                        &e.name,
                        &e.username,
                        &e.language,
                        &e.reason.as_str(),
                        &urgent,
                        &now,
                    ],
                )
                .await?;
            let (id, created) = match inserted {
                Some(r) => (get::<i64>(&r, 0)?, true),
                None => {
                    let row = tx
                        .query_opt(
                            "SELECT id FROM escalations WHERE chat_id = $1 AND closed_at IS NULL
                             FOR UPDATE",
                            &[&e.chat_id],
                        )
                        .await?
                        .ok_or_else(|| {
                            Fail::Row("the open escalation vanished during the insert".into())
                        })?;
                    let id: i64 = get(&row, 0)?;
                    if urgent {
                        tx.execute(
                            "UPDATE escalations SET urgent = TRUE,
                                 reason = CASE WHEN $2 THEN 'emergency' ELSE reason END
                             WHERE id = $1",
                            &[&id, &emergency],
                        )
                        .await?;
                    }
                    (id, false)
                }
            };
            let escalation = one_escalation(&tx, "id = $1", &id)
                .await?
                .ok_or_else(|| Fail::Row("the escalation just written is missing".into()))?;
            tx.commit().await?;
            Ok((escalation, created))
        })
    }

    fn escalation(&self, id: i64) -> StoreResult<Option<Escalation>> {
        self.run("read an escalation", async |c| {
            one_escalation(c, "id = $1", &id).await
        })
    }

    fn open_escalation_for_chat(&self, chat_id: i64) -> StoreResult<Option<Escalation>> {
        self.run("read a chat's open escalation", async |c| {
            one_escalation(c, "chat_id = $1 AND closed_at IS NULL", &chat_id).await
        })
    }

    fn escalation_by_thread(&self, thread_id: i32) -> StoreResult<Option<Escalation>> {
        self.run("find an escalation by topic", async |c| {
            one_escalation(c, "thread_id = $1", &thread_id).await
        })
    }

    fn escalation_by_card(&self, card_message_id: i32) -> StoreResult<Option<Escalation>> {
        self.run("find an escalation by card", async |c| {
            one_escalation(c, "card_message_id = $1", &card_message_id).await
        })
    }

    fn set_escalation_topic(
        &self,
        id: i64,
        thread_id: Option<i32>,
        topic_failed: bool,
    ) -> StoreResult<()> {
        self.run("record an escalation's topic", async |c| {
            c.execute(
                "UPDATE escalations SET thread_id = $2, topic_failed = $3 WHERE id = $1",
                &[&id, &thread_id, &topic_failed],
            )
            .await?;
            Ok(())
        })
    }

    fn set_escalation_card(&self, id: i64, message_id: i32) -> StoreResult<()> {
        self.run("record an escalation's card", async |c| {
            c.execute(
                "UPDATE escalations SET card_message_id = $2 WHERE id = $1",
                &[&id, &message_id],
            )
            .await?;
            Ok(())
        })
    }

    fn claim_escalation(&self, id: i64, by: &str, now: i64) -> StoreResult<bool> {
        self.run("claim an escalation", async |c| {
            let n = c
                .execute(
                    "UPDATE escalations SET claimed_by = $2, claimed_at = $3
                     WHERE id = $1 AND closed_at IS NULL",
                    &[&id, &by, &now],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn record_coordinator_reply(&self, id: i64, now: i64) -> StoreResult<()> {
        self.run("record a coordinator's reply", async |c| {
            c.execute(
                "UPDATE escalations SET first_reply_at = $2
                 WHERE id = $1 AND first_reply_at IS NULL",
                &[&id, &now],
            )
            .await?;
            Ok(())
        })
    }

    fn close_escalation(&self, id: i64, by: &str, now: i64) -> StoreResult<bool> {
        self.run("close an escalation", async |c| {
            let n = c
                .execute(
                    "UPDATE escalations SET closed_at = $3, closed_by = $2
                     WHERE id = $1 AND closed_at IS NULL",
                    &[&id, &by, &now],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn reopen_escalation(&self, id: i64, now: i64) -> StoreResult<bool> {
        self.run("reopen an escalation", async |c| {
            // Two replicas reopening two closed escalations of one chat at once: the unique
            // index refuses the second, which is then "not reopened", as if its check had seen
            // the first; the refused transaction is rolled back when dropped.
            let tx = c.transaction().await?;
            let n = tx
                .execute(
                    "UPDATE escalations SET closed_at = NULL, closed_by = NULL, reopened_at = $2
                     WHERE id = $1 AND closed_at IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM escalations AS other
                                       WHERE other.chat_id = escalations.chat_id
                                         AND other.closed_at IS NULL)",
                    &[&id, &now],
                )
                .await;
            match n {
                Ok(n) => {
                    tx.commit().await?;
                    Ok(n == 1)
                }
                Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
                    Ok(false)
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    fn mark_caregiver_blocked(&self, chat_id: i64) -> StoreResult<Option<Escalation>> {
        self.run("mark an escalation blocked", async |c| {
            let row = c
                .query_opt(
                    &format!(
                        "UPDATE escalations SET caregiver_blocked = TRUE
                         WHERE chat_id = $1 AND closed_at IS NULL RETURNING {COLUMNS}"
                    ),
                    &[&chat_id],
                )
                .await?;
            row.as_ref().map(escalation_from_row).transpose()
        })
    }

    fn list_escalations(&self, open: Option<bool>) -> StoreResult<Vec<Escalation>> {
        self.run("list escalations", async |c| {
            let sql = format!(
                "SELECT {COLUMNS} FROM escalations
                 WHERE $1::boolean IS NULL OR (closed_at IS NULL) = $1
                 ORDER BY created_at DESC, id DESC"
            );
            let rows = c.query(&sql, &[&open]).await?;
            rows.iter().map(escalation_from_row).collect()
        })
    }

    fn map_relay(
        &self,
        escalation_id: i64,
        group_message_id: i32,
        caregiver_message_id: i32,
        direction: RelayDirection,
    ) -> StoreResult<()> {
        self.run("map a relayed message", async |c| {
            // Selecting from escalations skips a mapping for an escalation that /forget
            // deleted while the message was being relayed, instead of failing the caller.
            c.execute(
                "INSERT INTO relays (escalation_id, group_message_id, caregiver_message_id, direction)
                 SELECT id, $2, $3, $4 FROM escalations WHERE id = $1",
                &[
                    &escalation_id,
                    &group_message_id,
                    &caregiver_message_id,
                    &direction.as_str(),
                ],
            )
            .await?;
            Ok(())
        })
    }

    fn relay_by_group_message(
        &self,
        group_message_id: i32,
    ) -> StoreResult<Option<(i64, i32, RelayDirection)>> {
        self.run("find a relayed message", async |c| {
            let row = c
                .query_opt(
                    "SELECT escalation_id, caregiver_message_id, direction FROM relays
                     WHERE group_message_id = $1 ORDER BY id DESC LIMIT 1",
                    &[&group_message_id],
                )
                .await?;
            row.map(|r| Ok((get(&r, 0)?, get(&r, 1)?, direction(get(&r, 2)?)?)))
                .transpose()
        })
    }

    fn relay_by_caregiver_message(
        &self,
        chat_id: i64,
        caregiver_message_id: i32,
    ) -> StoreResult<Option<(i64, i32, RelayDirection)>> {
        self.run("find a relayed message", async |c| {
            let row = c
                .query_opt(
                    "SELECT r.escalation_id, r.group_message_id, r.direction
                     FROM relays AS r JOIN escalations AS e ON e.id = r.escalation_id
                     WHERE e.chat_id = $1 AND r.caregiver_message_id = $2
                     ORDER BY r.id DESC LIMIT 1",
                    &[&chat_id, &caregiver_message_id],
                )
                .await?;
            row.map(|r| Ok((get(&r, 0)?, get(&r, 1)?, direction(get(&r, 2)?)?)))
                .transpose()
        })
    }
}

/// The escalation part of forgetting a chat: its transcript, relays and escalations.
pub(super) async fn forget_chat(c: &impl Db, chat_id: i64) -> PgResult<()> {
    c.execute("DELETE FROM transcript WHERE chat_id = $1", &[&chat_id])
        .await?;
    c.execute(
        "DELETE FROM relays WHERE escalation_id IN (SELECT id FROM escalations WHERE chat_id = $1)",
        &[&chat_id],
    )
    .await?;
    c.execute("DELETE FROM escalations WHERE chat_id = $1", &[&chat_id])
        .await?;
    Ok(())
}

/// The escalation part of retention (see `sqlite/escalations.rs`). Returns how many rows were
/// deleted.
pub(super) async fn purge_older_than(c: &impl Db, cutoff: i64) -> PgResult<u64> {
    let mut deleted = c
        .execute("DELETE FROM transcript WHERE at < $1", &[&cutoff])
        .await?;
    deleted += c
        .execute(
            "DELETE FROM relays WHERE escalation_id IN
                 (SELECT id FROM escalations WHERE closed_at IS NOT NULL AND closed_at < $1)",
            &[&cutoff],
        )
        .await?;
    deleted += c
        .execute(
            "DELETE FROM escalations WHERE closed_at IS NOT NULL AND closed_at < $1",
            &[&cutoff],
        )
        .await?;
    Ok(deleted)
}

/// The escalation part of a chat migration: the old id's open escalation stays where it is when
/// the new id already has one (SQLite's `UPDATE OR IGNORE`).
pub(super) async fn migrate_chat(c: &impl Db, old: i64, new: i64) -> PgResult<()> {
    c.execute(
        "UPDATE transcript SET chat_id = $2 WHERE chat_id = $1",
        &[&old, &new],
    )
    .await?;
    c.execute(
        "UPDATE escalations SET chat_id = $2 WHERE chat_id = $1
         AND NOT (closed_at IS NULL
                  AND EXISTS (SELECT 1 FROM escalations AS o
                              WHERE o.chat_id = $2 AND o.closed_at IS NULL))",
        &[&old, &new],
    )
    .await?;
    Ok(())
}
