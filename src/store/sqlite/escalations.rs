//! Escalations on SQLite: [`Escalations`] for [`SqliteStore`], plus the parts of forgetting,
//! retention and chat migration that concern these tables and the transcript (called inside
//! the transactions of `upkeep.rs` and `chats.rs`).

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Row, ToSql, Transaction};
use rusqlite::{Result as SqlResult, TransactionBehavior};

use super::SqliteStore;
use crate::store::{
    Escalation, Escalations, NewEscalation, Reason, RelayDirection, Role, StoreResult,
};

/// The columns [`escalation_from_row`] reads, in its order.
const COLUMNS: &str = "id, chat_id, user_id, name, username, language, reason, urgent, \
     closed_at IS NULL, created_at, claimed_by, first_reply_at, closed_at, closed_by, \
     thread_id, card_message_id, topic_failed, caregiver_blocked";

fn escalation_from_row(r: &Row<'_>) -> SqlResult<Escalation> {
    Ok(Escalation {
        id: r.get(0)?,
        chat_id: r.get(1)?,
        user_id: r.get(2)?,
        name: r.get(3)?,
        username: r.get(4)?,
        language: r.get(5)?,
        reason: r.get(6)?,
        urgent: r.get(7)?,
        open: r.get(8)?,
        created_at: r.get(9)?,
        claimed_by: r.get(10)?,
        first_reply_at: r.get(11)?,
        closed_at: r.get(12)?,
        closed_by: r.get(13)?,
        thread_id: r.get(14)?,
        card_message_id: r.get(15)?,
        topic_failed: r.get(16)?,
        caregiver_blocked: r.get(17)?,
    })
}

/// One escalation selected by `condition` (with `params`), the most recent if several match.
fn one_escalation(
    conn: &Connection,
    condition: &str,
    params: impl rusqlite::Params,
) -> SqlResult<Option<Escalation>> {
    let sql =
        format!("SELECT {COLUMNS} FROM escalations WHERE {condition} ORDER BY id DESC LIMIT 1");
    conn.prepare_cached(&sql)?
        .query_row(params, escalation_from_row)
        .optional()
}

/// Stored names for the enums, so a row written by a newer version with an unknown name is a
/// conversion error naming the value, not a silent default.
macro_rules! sql_name {
    ($t:ty) => {
        impl ToSql for $t {
            fn to_sql(&self) -> SqlResult<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $t {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let s = value.as_str()?;
                <$t>::parse(s).ok_or_else(|| {
                    FromSqlError::Other(format!("unknown {} {s:?}", stringify!($t)).into())
                })
            }
        }
    };
}

sql_name!(Reason);
sql_name!(Role);
sql_name!(RelayDirection);

impl Escalations for SqliteStore {
    fn open_escalation(&self, e: &NewEscalation, now: i64) -> StoreResult<(Escalation, bool)> {
        let emergency = e.reason == Reason::Emergency;
        let urgent = e.urgent || emergency;
        self.run("open an escalation", |conn| {
            // IMMEDIATE: the check for an open escalation and the insert must not interleave
            // with another process doing the same (the unique index would then fail the second).
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let existing: Option<i64> = tx
                .query_row(
                    "SELECT id FROM escalations WHERE chat_id = ?1 AND closed_at IS NULL",
                    [e.chat_id],
                    |r| r.get(0),
                )
                .optional()?;
            let (id, created) = match existing {
                Some(id) => {
                    if urgent {
                        tx.execute(
                            "UPDATE escalations SET urgent = 1,
                                 reason = CASE WHEN ?2 THEN 'emergency' ELSE reason END
                             WHERE id = ?1",
                            params![id, emergency],
                        )?;
                    }
                    (id, false)
                }
                None => {
                    tx.execute(
                        "INSERT INTO escalations
                             (chat_id, user_id, name, username, language, reason, urgent, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        params![
                            e.chat_id, e.user_id, e.name, e.username, e.language, e.reason,
                            urgent, now
                        ],
                    )?;
                    (tx.last_insert_rowid(), true)
                }
            };
            let escalation = one_escalation(&tx, "id = ?1", [id])?
                .ok_or(rusqlite::Error::QueryReturnedNoRows)?;
            tx.commit()?;
            Ok((escalation, created))
        })
    }

    fn escalation(&self, id: i64) -> StoreResult<Option<Escalation>> {
        self.run("read an escalation", |conn| {
            one_escalation(conn, "id = ?1", [id])
        })
    }

    fn open_escalation_for_chat(&self, chat_id: i64) -> StoreResult<Option<Escalation>> {
        self.run("read a chat's open escalation", |conn| {
            one_escalation(conn, "chat_id = ?1 AND closed_at IS NULL", [chat_id])
        })
    }

    fn escalation_by_thread(&self, thread_id: i32) -> StoreResult<Option<Escalation>> {
        self.run("find an escalation by topic", |conn| {
            one_escalation(conn, "thread_id = ?1", [thread_id])
        })
    }

    fn escalation_by_card(&self, card_message_id: i32) -> StoreResult<Option<Escalation>> {
        self.run("find an escalation by card", |conn| {
            one_escalation(conn, "card_message_id = ?1", [card_message_id])
        })
    }

    fn set_escalation_topic(
        &self,
        id: i64,
        thread_id: Option<i32>,
        topic_failed: bool,
    ) -> StoreResult<()> {
        self.run("record an escalation's topic", |conn| {
            conn.execute(
                "UPDATE escalations SET thread_id = ?2, topic_failed = ?3 WHERE id = ?1",
                params![id, thread_id, topic_failed],
            )
            .map(drop)
        })
    }

    fn set_escalation_card(&self, id: i64, message_id: i32) -> StoreResult<()> {
        self.run("record an escalation's card", |conn| {
            conn.execute(
                "UPDATE escalations SET card_message_id = ?2 WHERE id = ?1",
                params![id, message_id],
            )
            .map(drop)
        })
    }

    fn claim_escalation(&self, id: i64, by: &str, now: i64) -> StoreResult<bool> {
        self.run("claim an escalation", |conn| {
            conn.execute(
                "UPDATE escalations SET claimed_by = ?2, claimed_at = ?3
                 WHERE id = ?1 AND closed_at IS NULL",
                params![id, by, now],
            )
            .map(|n| n == 1)
        })
    }

    fn record_coordinator_reply(&self, id: i64, now: i64) -> StoreResult<()> {
        self.run("record a coordinator's reply", |conn| {
            conn.execute(
                "UPDATE escalations SET first_reply_at = ?2
                 WHERE id = ?1 AND first_reply_at IS NULL",
                params![id, now],
            )
            .map(drop)
        })
    }

    fn close_escalation(&self, id: i64, by: &str, now: i64) -> StoreResult<bool> {
        self.run("close an escalation", |conn| {
            conn.execute(
                "UPDATE escalations SET closed_at = ?3, closed_by = ?2
                 WHERE id = ?1 AND closed_at IS NULL",
                params![id, by, now],
            )
            .map(|n| n == 1)
        })
    }

    fn reopen_escalation(&self, id: i64, now: i64) -> StoreResult<bool> {
        self.run("reopen an escalation", |conn| {
            // One statement, so the check for another open escalation of the chat and the
            // update cannot interleave with another writer.
            conn.execute(
                "UPDATE escalations SET closed_at = NULL, closed_by = NULL, reopened_at = ?2
                 WHERE id = ?1 AND closed_at IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM escalations AS other
                                   WHERE other.chat_id = escalations.chat_id
                                     AND other.closed_at IS NULL)",
                params![id, now],
            )
            .map(|n| n == 1)
        })
    }

    fn mark_caregiver_blocked(&self, chat_id: i64) -> StoreResult<Option<Escalation>> {
        self.run("mark an escalation blocked", |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "UPDATE escalations SET caregiver_blocked = 1
                 WHERE chat_id = ?1 AND closed_at IS NULL",
                [chat_id],
            )?;
            let escalation = one_escalation(&tx, "chat_id = ?1 AND closed_at IS NULL", [chat_id])?;
            tx.commit()?;
            Ok(escalation)
        })
    }

    fn list_escalations(&self, open: Option<bool>) -> StoreResult<Vec<Escalation>> {
        self.run("list escalations", |conn| {
            let sql = format!(
                "SELECT {COLUMNS} FROM escalations
                 WHERE ?1 IS NULL OR (closed_at IS NULL) = ?1
                 ORDER BY created_at DESC, id DESC"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([open], escalation_from_row)?;
            rows.collect()
        })
    }

    fn map_relay(
        &self,
        escalation_id: i64,
        group_message_id: i32,
        caregiver_message_id: i32,
        direction: RelayDirection,
    ) -> StoreResult<()> {
        self.run("map a relayed message", |conn| {
            // Selecting from escalations skips a mapping for an escalation that /forget
            // deleted while the message was being relayed, instead of failing the caller.
            conn.execute(
                "INSERT INTO relays (escalation_id, group_message_id, caregiver_message_id, direction)
                 SELECT id, ?2, ?3, ?4 FROM escalations WHERE id = ?1",
                params![escalation_id, group_message_id, caregiver_message_id, direction],
            )
            .map(drop)
        })
    }

    fn relay_by_group_message(
        &self,
        group_message_id: i32,
    ) -> StoreResult<Option<(i64, i32, RelayDirection)>> {
        self.run("find a relayed message", |conn| {
            conn.prepare_cached(
                "SELECT escalation_id, caregiver_message_id, direction FROM relays
                 WHERE group_message_id = ?1 ORDER BY id DESC LIMIT 1",
            )?
            .query_row([group_message_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
        })
    }

    fn relay_by_caregiver_message(
        &self,
        chat_id: i64,
        caregiver_message_id: i32,
    ) -> StoreResult<Option<(i64, i32, RelayDirection)>> {
        self.run("find a relayed message", |conn| {
            conn.prepare_cached(
                "SELECT r.escalation_id, r.group_message_id, r.direction
                 FROM relays AS r JOIN escalations AS e ON e.id = r.escalation_id
                 WHERE e.chat_id = ?1 AND r.caregiver_message_id = ?2
                 ORDER BY r.id DESC LIMIT 1",
            )?
            .query_row(params![chat_id, caregiver_message_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
        })
    }
}

/// The escalation part of forgetting a chat: its transcript, relays and escalations.
pub(super) fn forget_chat(tx: &Transaction<'_>, chat_id: i64) -> SqlResult<()> {
    tx.execute("DELETE FROM transcript WHERE chat_id = ?1", [chat_id])?;
    tx.execute(
        "DELETE FROM relays WHERE escalation_id IN (SELECT id FROM escalations WHERE chat_id = ?1)",
        [chat_id],
    )?;
    tx.execute("DELETE FROM escalations WHERE chat_id = ?1", [chat_id])?;
    Ok(())
}

/// The escalation part of retention: transcript lines older than `cutoff`, and escalations
/// closed before it with their relays. Open escalations stay whatever their age. Returns how
/// many rows were deleted.
pub(super) fn purge_older_than(tx: &Transaction<'_>, cutoff: i64) -> SqlResult<usize> {
    let mut deleted = tx.execute("DELETE FROM transcript WHERE at < ?1", [cutoff])?;
    deleted += tx.execute(
        "DELETE FROM relays WHERE escalation_id IN
             (SELECT id FROM escalations WHERE closed_at IS NOT NULL AND closed_at < ?1)",
        [cutoff],
    )?;
    deleted += tx.execute(
        "DELETE FROM escalations WHERE closed_at IS NOT NULL AND closed_at < ?1",
        [cutoff],
    )?;
    Ok(deleted)
}

/// The escalation part of a chat migration. `OR IGNORE` leaves the old id's open escalation in
/// place when the new id already has one (the one-open-per-chat index would refuse it).
pub(super) fn migrate_chat(
    tx: &Transaction<'_>,
    old_chat_id: i64,
    new_chat_id: i64,
) -> SqlResult<()> {
    let ids = params![old_chat_id, new_chat_id];
    tx.execute("UPDATE transcript SET chat_id = ?2 WHERE chat_id = ?1", ids)?;
    tx.execute(
        "UPDATE OR IGNORE escalations SET chat_id = ?2 WHERE chat_id = ?1",
        ids,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use tempfile::TempDir;

    use super::*;
    use crate::store::conformance::escalations::{entry, new, texts};
    use crate::store::schema::MIGRATIONS;
    use crate::store::*;

    fn open(dir: &TempDir) -> SqliteStore {
        SqliteStore::open(dir.path().join("bot.db")).expect("open store")
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    fn read_or_empty(path: &Path) -> Vec<u8> {
        match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("read {}: {e}", path.display()),
        }
    }

    #[test]
    fn forget_erases_transcripts_and_escalations_from_the_files() {
        const MARKER: &str = "OKAPI-MARKER-91c2";
        let dir = TempDir::new().expect("tempdir");
        let db = dir.path().join("bot.db");
        let wal = PathBuf::from(format!("{}-wal", db.display()));
        let store = open(&dir);
        let (chat, other) = (4_321_i64, 77_i64);

        let write_rows = |store: &SqliteStore, now: i64| {
            for i in 0..20 {
                let text = format!("my wife {MARKER} cannot breathe well, line {i}");
                store
                    .add_transcript(chat, &entry(now + i, Role::Caregiver, &text))
                    .expect("add");
            }
            let mut e = new(chat, Reason::Asked, false);
            e.name = format!("Name {MARKER}");
            e.username = Some(MARKER.into());
            let (esc, _) = store.open_escalation(&e, now).expect("open");
            store
                .map_relay(esc.id, 500, 5, RelayDirection::ToCoordinators)
                .expect("map");
            store.claim_escalation(esc.id, "Coord", now).expect("claim");
            store
                .close_escalation(esc.id, "Coord", now + 1)
                .expect("close");
        };
        write_rows(&store, 100);
        // Some rows reach the .db file, the rest stay in the -wal file.
        store
            .run("checkpoint", |c| {
                c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            })
            .expect("checkpoint");
        write_rows(&store, 200);
        store
            .add_transcript(other, &entry(300, Role::Caregiver, "keep me"))
            .expect("other");
        let (kept, _) = store
            .open_escalation(&new(other, Reason::NoMatch, false), 300)
            .expect("other");
        store
            .map_relay(kept.id, 600, 6, RelayDirection::ToCaregiver)
            .expect("map");

        let marker = MARKER.as_bytes();
        assert!(
            contains(&std::fs::read(&db).expect("read db"), marker),
            "setup: not in .db"
        );
        assert!(contains(&read_or_empty(&wal), marker), "setup: not in -wal");

        store.forget_chat(chat).expect("forget");

        assert!(
            !contains(&std::fs::read(&db).expect("read db"), marker),
            "left in .db"
        );
        assert!(!contains(&read_or_empty(&wal), marker), "left in -wal");
        assert!(store.transcript(chat, 100).expect("transcript").is_empty());
        assert!(store
            .list_escalations(None)
            .expect("list")
            .iter()
            .all(|e| e.chat_id == other));
        assert_eq!(store.relay_by_group_message(500).expect("relay"), None);
        assert_eq!(
            store.relay_by_caregiver_message(chat, 5).expect("relay"),
            None
        );
        // The other chat is untouched.
        assert_eq!(
            texts(&store.transcript(other, 10).expect("other")),
            ["keep me"]
        );
        assert_eq!(
            store.open_escalation_for_chat(other).expect("other"),
            Some(kept.clone())
        );
        assert_eq!(
            store.relay_by_group_message(600).expect("relay"),
            Some((kept.id, 6, RelayDirection::ToCaregiver))
        );
        assert!(store.integrity_check().expect("integrity"));
    }

    #[test]
    fn migration_2_applies_to_a_version_1_database() {
        let dir = TempDir::new().expect("tempdir");
        let path = dir.path().join("bot.db");
        {
            let conn = Connection::open(&path).expect("raw open");
            conn.execute_batch(MIGRATIONS[0]).expect("v1 schema");
            conn.pragma_update(None, "user_version", 1)
                .expect("version");
            conn.execute_batch(
                "INSERT INTO meta (key, value) VALUES ('content', 'v1');
                 INSERT INTO chats (chat_id, last_seen, no_match_streak) VALUES (5, 100, 2);
                 INSERT INTO inbox (update_id, chat_id, body, received_at)
                     VALUES (41, 5, '{}', 100);
                 INSERT INTO inbox_state (id, max_update_id) VALUES (1, 41);",
            )
            .expect("v1 rows");
        }
        let store = SqliteStore::open(&path).expect("open and migrate");
        let version: i64 = store
            .run("version", |c| {
                c.query_row("PRAGMA user_version", [], |r| r.get(0))
            })
            .expect("version");
        // and every later migration after it
        assert_eq!(version, MIGRATIONS.len() as i64);
        // Version 1 data is intact.
        assert_eq!(
            store.get_meta("content").expect("meta").as_deref(),
            Some("v1")
        );
        assert_eq!(store.chat_state(5).expect("state").no_match_streak, 2);
        assert_eq!(store.next_update_offset().expect("offset"), 42);
        assert_eq!(store.pending_count().expect("pending"), 1);
        // The new tables work.
        let (e, created) = store
            .open_escalation(&new(5, Reason::NoMatch, false), 200)
            .expect("open");
        assert!(created);
        store
            .add_transcript(5, &entry(200, Role::Caregiver, "hi"))
            .expect("add");
        store
            .map_relay(e.id, 9, 8, RelayDirection::ToCoordinators)
            .expect("map");
        assert_eq!(
            store.relay_by_group_message(9).expect("relay").map(|r| r.1),
            Some(8)
        );
        store
            .enqueue_updates(
                &[NewUpdate {
                    update_id: 42,
                    chat_id: 5,
                    body: "{}".into(),
                }],
                300,
            )
            .expect("enqueue");
        assert!(store.integrity_check().expect("integrity"));
        drop(store);
        // Reopening a migrated file changes nothing.
        let store = SqliteStore::open(&path).expect("reopen");
        assert_eq!(
            store.escalation(e.id).expect("get").map(|x| x.reason),
            Some(Reason::NoMatch)
        );
    }
}
