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
    use crate::store::schema::MIGRATIONS;
    use crate::store::*;

    fn open(dir: &TempDir) -> SqliteStore {
        SqliteStore::open(dir.path().join("bot.db")).expect("open store")
    }

    fn new(chat_id: i64, reason: Reason, urgent: bool) -> NewEscalation {
        NewEscalation {
            chat_id,
            user_id: chat_id + 1,
            name: format!("Caregiver {chat_id}"),
            username: Some(format!("user{chat_id}")),
            language: "en".into(),
            reason,
            urgent,
        }
    }

    fn entry(at: i64, role: Role, text: &str) -> TranscriptEntry {
        TranscriptEntry {
            at,
            role,
            text: text.into(),
            passage_id: None,
        }
    }

    fn texts(entries: &[TranscriptEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.text.as_str()).collect()
    }

    fn count(store: &SqliteStore, table: &str) -> i64 {
        store
            .run("count", |c| {
                c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            })
            .expect("count")
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
    fn names_round_trip_and_match_serde() {
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.as_str()), Some(r));
            assert_eq!(
                serde_json::to_value(r).expect("json"),
                serde_json::json!(r.as_str())
            );
        }
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(
                serde_json::to_value(r).expect("json"),
                serde_json::json!(r.as_str())
            );
        }
        for d in [RelayDirection::ToCoordinators, RelayDirection::ToCaregiver] {
            assert_eq!(RelayDirection::parse(d.as_str()), Some(d));
        }
        assert_eq!(Reason::NoMatch.as_str(), "no_match");
        assert_eq!(Reason::parse("No_Match"), None);
        assert_eq!(Role::parse(""), None);
    }

    #[test]
    fn a_chat_has_at_most_one_open_escalation() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        let (first, created) = store
            .open_escalation(&new(7, Reason::Asked, false), 1_000)
            .expect("open");
        assert!(created);
        assert_eq!(
            first,
            Escalation {
                id: first.id,
                chat_id: 7,
                user_id: 8,
                name: "Caregiver 7".into(),
                username: Some("user7".into()),
                language: "en".into(),
                reason: Reason::Asked,
                urgent: false,
                open: true,
                created_at: 1_000,
                claimed_by: None,
                first_reply_at: None,
                closed_at: None,
                closed_by: None,
                thread_id: None,
                card_message_id: None,
                topic_failed: false,
                caregiver_blocked: false,
            }
        );
        let (again, created) = store
            .open_escalation(&new(7, Reason::NoMatch, false), 2_000)
            .expect("open again");
        assert!(!created);
        assert_eq!(again, first, "the open one is returned unchanged");
        let (other, created) = store
            .open_escalation(&new(9, Reason::NoMatch, false), 3_000)
            .expect("other chat");
        assert!(created);
        assert_ne!(other.id, first.id);
        assert_eq!(
            store.open_escalation_for_chat(7).expect("for chat"),
            Some(first.clone())
        );
        assert_eq!(store.open_escalation_for_chat(8).expect("none"), None);
        assert_eq!(count(&store, "escalations"), 2);

        // The index holds even against a caller bypassing open_escalation.
        let dup = store.run("insert a second open escalation", |c| {
            c.execute(
                "INSERT INTO escalations (chat_id, user_id, name, language, reason, created_at)
                 VALUES (7, 8, 'x', 'en', 'asked', 5)",
                [],
            )
        });
        assert!(dup.is_err(), "a second open escalation was accepted");

        // Once closed, the chat can be escalated again, with a new id.
        assert!(store
            .close_escalation(first.id, "Coord", 4_000)
            .expect("close"));
        let (next, created) = store
            .open_escalation(&new(7, Reason::NotHelpful, false), 5_000)
            .expect("open after close");
        assert!(created);
        assert!(next.id > other.id);
        assert_eq!(next.reason, Reason::NotHelpful);
    }

    #[test]
    fn an_urgent_request_upgrades_the_open_escalation() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        let (e, _) = store
            .open_escalation(&new(1, Reason::Asked, false), 100)
            .expect("open");
        assert!(!e.urgent);
        let (e2, created) = store
            .open_escalation(&new(1, Reason::NoMatch, true), 200)
            .expect("urgent");
        assert!(!created);
        assert!(e2.urgent, "marked urgent");
        assert_eq!(
            e2.reason,
            Reason::Asked,
            "only an emergency changes the reason"
        );
        assert_eq!(e2.created_at, 100);
        let (e3, created) = store
            .open_escalation(&new(1, Reason::Emergency, true), 300)
            .expect("emergency");
        assert!(!created);
        assert_eq!(
            (e3.id, e3.reason, e3.urgent),
            (e.id, Reason::Emergency, true)
        );
        // A non-urgent request never lowers it.
        let (e4, _) = store
            .open_escalation(&new(1, Reason::Asked, false), 400)
            .expect("again");
        assert_eq!((e4.reason, e4.urgent), (Reason::Emergency, true));

        // An emergency is urgent even if the caller forgot to say so, new or upgraded.
        let (fresh, _) = store
            .open_escalation(&new(2, Reason::Emergency, false), 500)
            .expect("emergency");
        assert!(fresh.urgent);
        store
            .open_escalation(&new(3, Reason::Asked, false), 600)
            .expect("open");
        let (up, _) = store
            .open_escalation(&new(3, Reason::Emergency, false), 700)
            .expect("emergency later");
        assert_eq!((up.reason, up.urgent), (Reason::Emergency, true));
    }

    #[test]
    fn claim_close_and_reopen_follow_the_rules() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        let (e, _) = store
            .open_escalation(&new(1, Reason::Asked, false), 100)
            .expect("open");
        let get = |id| store.escalation(id).expect("get").expect("exists");

        assert!(store.claim_escalation(e.id, "Ann", 150).expect("claim"));
        assert!(store.claim_escalation(e.id, "Bob", 160).expect("take over"));
        assert_eq!(get(e.id).claimed_by.as_deref(), Some("Bob"));

        assert!(store.close_escalation(e.id, "Bob", 200).expect("close"));
        let closed = get(e.id);
        assert!(!closed.open);
        assert_eq!(
            (closed.closed_at, closed.closed_by.as_deref()),
            (Some(200), Some("Bob"))
        );
        assert!(
            !store
                .close_escalation(e.id, "Ann", 250)
                .expect("close again"),
            "already closed"
        );
        assert_eq!(
            get(e.id).closed_by.as_deref(),
            Some("Bob"),
            "first close stands"
        );
        assert!(
            !store
                .claim_escalation(e.id, "Ann", 260)
                .expect("claim closed"),
            "a closed escalation cannot be claimed"
        );
        assert_eq!(get(e.id).claimed_by.as_deref(), Some("Bob"));

        assert!(store.reopen_escalation(e.id, 300).expect("reopen"));
        let reopened = get(e.id);
        assert!(reopened.open);
        assert_eq!(
            (reopened.closed_at, reopened.closed_by.as_deref()),
            (None, None)
        );
        assert_eq!(reopened.created_at, 100);
        assert_eq!(
            store.open_escalation_for_chat(1).expect("open"),
            Some(reopened)
        );
        assert!(
            !store.reopen_escalation(e.id, 310).expect("reopen open"),
            "already open"
        );

        // While the chat has another open escalation, the old one cannot be reopened.
        assert!(store.close_escalation(e.id, "Bob", 400).expect("close"));
        let (other, created) = store
            .open_escalation(&new(1, Reason::NoMatch, false), 500)
            .expect("new");
        assert!(created);
        assert!(!store.reopen_escalation(e.id, 600).expect("reopen blocked"));
        assert!(!get(e.id).open);
        assert!(store.close_escalation(other.id, "Ann", 700).expect("close"));
        assert!(store.reopen_escalation(e.id, 800).expect("reopen now"));

        // Unknown ids.
        assert!(!store.claim_escalation(999, "x", 1).expect("claim"));
        assert!(!store.close_escalation(999, "x", 1).expect("close"));
        assert!(!store.reopen_escalation(999, 1).expect("reopen"));
        assert_eq!(store.escalation(999).expect("get"), None);
    }

    #[test]
    fn the_first_reply_time_is_set_once() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        let (e, _) = store
            .open_escalation(&new(1, Reason::Asked, false), 100)
            .expect("open");
        store.record_coordinator_reply(e.id, 250).expect("reply");
        store
            .record_coordinator_reply(e.id, 400)
            .expect("reply again");
        assert_eq!(
            store
                .escalation(e.id)
                .expect("get")
                .expect("e")
                .first_reply_at,
            Some(250)
        );
        store
            .record_coordinator_reply(999, 1)
            .expect("unknown is ignored");
    }

    #[test]
    fn escalations_are_found_by_topic_and_card() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        let (a, _) = store
            .open_escalation(&new(1, Reason::Asked, false), 100)
            .expect("open");
        let (b, _) = store
            .open_escalation(&new(2, Reason::Asked, false), 200)
            .expect("open");
        store
            .set_escalation_topic(a.id, Some(55), false)
            .expect("topic");
        store
            .set_escalation_topic(b.id, None, true)
            .expect("no topics");
        store.set_escalation_card(b.id, 77).expect("card");

        let by_thread = store
            .escalation_by_thread(55)
            .expect("thread")
            .expect("found");
        assert_eq!((by_thread.id, by_thread.thread_id), (a.id, Some(55)));
        assert!(!by_thread.topic_failed);
        let by_card = store.escalation_by_card(77).expect("card").expect("found");
        assert_eq!(by_card.id, b.id);
        assert!(by_card.topic_failed && by_card.thread_id.is_none());
        assert_eq!(by_card.card_message_id, Some(77));
        assert_eq!(store.escalation_by_thread(56).expect("thread"), None);
        assert_eq!(store.escalation_by_card(55).expect("card"), None);
        assert_eq!(store.escalation_by_thread(77).expect("thread"), None);

        // A later escalation reusing the topic is the one found.
        assert!(store.close_escalation(a.id, "c", 300).expect("close"));
        let (a2, _) = store
            .open_escalation(&new(1, Reason::NoMatch, false), 400)
            .expect("again");
        store
            .set_escalation_topic(a2.id, Some(55), false)
            .expect("topic");
        assert_eq!(
            store
                .escalation_by_thread(55)
                .expect("thread")
                .map(|e| e.id),
            Some(a2.id)
        );
    }

    #[test]
    fn mark_caregiver_blocked_marks_the_open_escalation() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        assert_eq!(store.mark_caregiver_blocked(1).expect("none"), None);
        let (old, _) = store
            .open_escalation(&new(1, Reason::Asked, false), 100)
            .expect("open");
        assert!(store.close_escalation(old.id, "c", 150).expect("close"));
        let (e, _) = store
            .open_escalation(&new(1, Reason::Asked, false), 200)
            .expect("open");
        let marked = store
            .mark_caregiver_blocked(1)
            .expect("mark")
            .expect("some");
        assert_eq!(marked.id, e.id);
        assert!(marked.caregiver_blocked);
        assert!(
            !store
                .escalation(old.id)
                .expect("get")
                .expect("old")
                .caregiver_blocked
        );
    }

    #[test]
    fn list_filters_and_orders_newest_first() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        let mut ids = Vec::new();
        for (chat, at) in [(1, 100), (2, 300), (3, 200)] {
            let (e, _) = store
                .open_escalation(&new(chat, Reason::Asked, false), at)
                .expect("open");
            ids.push(e.id);
        }
        assert!(store.close_escalation(ids[2], "c", 400).expect("close"));
        let all: Vec<i64> = store
            .list_escalations(None)
            .expect("list")
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(all, [ids[1], ids[2], ids[0]]);
        let open: Vec<i64> = store
            .list_escalations(Some(true))
            .expect("list")
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(open, [ids[1], ids[0]]);
        let closed = store.list_escalations(Some(false)).expect("list");
        assert_eq!(closed.len(), 1);
        assert_eq!((closed[0].id, closed[0].open), (ids[2], false));
    }

    #[test]
    fn an_answer_is_recorded_alone_or_with_its_update() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        let answer = |chat_id, lines: &[&str], no_match_streak| AnswerRecord {
            chat_id,
            transcript: lines
                .iter()
                .map(|l| entry(100, Role::Caregiver, l))
                .collect(),
            no_match_streak,
            question: None,
            chosen: None,
        };
        // a chat never seen before gets a row
        store
            .record_answer(&answer(7, &["one"], 1))
            .expect("record");
        assert_eq!(store.chat_state(7).expect("state").no_match_streak, 1);
        store.record_answer(&answer(7, &[], 0)).expect("record");
        assert_eq!(store.chat_state(7).expect("state").no_match_streak, 0);

        store
            .enqueue_updates(
                &[
                    NewUpdate {
                        update_id: 1,
                        chat_id: 7,
                        body: "{}".into(),
                    },
                    NewUpdate {
                        update_id: 2,
                        chat_id: 8,
                        body: "{}".into(),
                    },
                ],
                50,
            )
            .expect("enqueue");
        let (first, second) = (answer(7, &["two"], 2), answer(8, &["three"], 0));
        let completion = |update_id, answer| Completion {
            update_id,
            actions: &[],
            answer: Some(answer),
        };
        store
            .complete_updates(&[completion(1, &first), completion(2, &second)], 200)
            .expect("complete");
        assert_eq!(store.chat_state(7).expect("state").no_match_streak, 2);
        // a redelivered update is not recorded again
        store
            .complete_updates(&[completion(1, &first)], 300)
            .expect("complete again");
        assert_eq!(
            texts(&store.transcript(7, 10).expect("transcript")),
            ["one", "two"]
        );
        assert_eq!(
            texts(&store.transcript(8, 10).expect("transcript")),
            ["three"]
        );
    }

    #[test]
    fn transcript_keeps_order_and_returns_the_most_recent() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        let mut bot = entry(300, Role::Bot, "three");
        bot.passage_id = Some("guide/trials".into());
        // Added out of time order, with a tie at 300 kept in the order added.
        store
            .add_transcript(1, &entry(200, Role::Caregiver, "two"))
            .expect("add");
        store
            .add_transcript(1, &entry(100, Role::Caregiver, "one"))
            .expect("add");
        store.add_transcript(1, &bot).expect("add");
        store
            .add_transcript(1, &entry(300, Role::Note, "four"))
            .expect("add");
        store
            .add_transcript(1, &entry(500, Role::Coordinator, "five"))
            .expect("add");
        store
            .add_transcript(2, &entry(400, Role::Caregiver, "other chat"))
            .expect("add");

        let all = store.transcript(1, 100).expect("all");
        assert_eq!(texts(&all), ["one", "two", "three", "four", "five"]);
        assert_eq!(all[2], bot);
        let recent = store.transcript(1, 3).expect("recent");
        assert_eq!(texts(&recent), ["three", "four", "five"]);
        assert_eq!(recent[2].role, Role::Coordinator);
        assert!(store.transcript(1, 0).expect("none").is_empty());
        assert_eq!(
            texts(&store.transcript(2, usize::MAX).expect("other")),
            ["other chat"]
        );
        assert!(store.transcript(3, 10).expect("unknown").is_empty());
    }

    #[test]
    fn relays_are_found_both_ways() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        let (a, _) = store
            .open_escalation(&new(1, Reason::Asked, false), 100)
            .expect("open");
        let (b, _) = store
            .open_escalation(&new(2, Reason::Asked, false), 100)
            .expect("open");
        store
            .map_relay(a.id, 1_000, 10, RelayDirection::ToCoordinators)
            .expect("map");
        store
            .map_relay(a.id, 1_001, 11, RelayDirection::ToCaregiver)
            .expect("map");
        store
            .map_relay(b.id, 1_002, 10, RelayDirection::ToCoordinators)
            .expect("map");

        assert_eq!(
            store.relay_by_group_message(1_000).expect("lookup"),
            Some((a.id, 10, RelayDirection::ToCoordinators))
        );
        assert_eq!(
            store.relay_by_group_message(1_001).expect("lookup"),
            Some((a.id, 11, RelayDirection::ToCaregiver))
        );
        assert_eq!(store.relay_by_group_message(10).expect("lookup"), None);
        // The same caregiver message id in two chats stays apart.
        assert_eq!(
            store.relay_by_caregiver_message(1, 10).expect("lookup"),
            Some((a.id, 1_000, RelayDirection::ToCoordinators))
        );
        assert_eq!(
            store.relay_by_caregiver_message(2, 10).expect("lookup"),
            Some((b.id, 1_002, RelayDirection::ToCoordinators))
        );
        assert_eq!(
            store.relay_by_caregiver_message(1, 1_000).expect("lookup"),
            None
        );
        assert_eq!(
            store.relay_by_caregiver_message(3, 10).expect("lookup"),
            None
        );

        // A correction maps the message again; the latest mapping wins, the old copy still
        // resolves.
        store
            .map_relay(a.id, 1_005, 10, RelayDirection::ToCoordinators)
            .expect("map");
        assert_eq!(
            store.relay_by_caregiver_message(1, 10).expect("lookup"),
            Some((a.id, 1_005, RelayDirection::ToCoordinators))
        );
        assert_eq!(
            store
                .relay_by_group_message(1_000)
                .expect("lookup")
                .map(|r| r.0),
            Some(a.id)
        );

        store
            .map_relay(999, 2_000, 1, RelayDirection::ToCaregiver)
            .expect("unknown escalation is ignored");
        assert_eq!(store.relay_by_group_message(2_000).expect("lookup"), None);
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
    fn purge_keeps_open_escalations_and_recent_transcript() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        let cutoff = 1_000;
        // Chat 1: escalated long ago, still open. Chat 2: closed before the cutoff.
        // Chat 3: closed after the cutoff.
        let (open_old, _) = store
            .open_escalation(&new(1, Reason::Asked, false), 100)
            .expect("open");
        let (closed_old, _) = store
            .open_escalation(&new(2, Reason::Asked, false), 100)
            .expect("open");
        let (closed_new, _) = store
            .open_escalation(&new(3, Reason::Asked, false), 100)
            .expect("open");
        for e in [&open_old, &closed_old, &closed_new] {
            store
                .map_relay(e.id, 100 + e.id as i32, 1, RelayDirection::ToCoordinators)
                .expect("map");
        }
        assert!(store
            .close_escalation(closed_old.id, "c", 900)
            .expect("close"));
        assert!(store
            .close_escalation(closed_new.id, "c", 1_100)
            .expect("close"));
        store
            .add_transcript(1, &entry(999, Role::Caregiver, "old"))
            .expect("add");
        store
            .add_transcript(1, &entry(1_000, Role::Caregiver, "at cutoff"))
            .expect("add");
        store
            .add_transcript(1, &entry(1_500, Role::Bot, "recent"))
            .expect("add");
        store
            .add_transcript(2, &entry(10, Role::Caregiver, "ancient"))
            .expect("add");

        let deleted = store.purge_older_than(cutoff).expect("purge");
        assert_eq!(deleted, 2 + 1 + 1, "transcript 2, relay 1, escalation 1");

        assert!(
            store.escalation(open_old.id).expect("get").is_some(),
            "open is kept"
        );
        assert_eq!(store.escalation(closed_old.id).expect("get"), None);
        assert!(store.escalation(closed_new.id).expect("get").is_some());
        assert_eq!(
            store
                .relay_by_group_message(100 + closed_old.id as i32)
                .expect("relay"),
            None
        );
        assert!(store
            .relay_by_group_message(100 + open_old.id as i32)
            .expect("relay")
            .is_some());
        assert!(store
            .relay_by_group_message(100 + closed_new.id as i32)
            .expect("relay")
            .is_some());
        assert_eq!(
            texts(&store.transcript(1, 10).expect("t")),
            ["at cutoff", "recent"]
        );
        assert!(store.transcript(2, 10).expect("t").is_empty());
        assert_eq!(store.purge_older_than(cutoff).expect("again"), 0);
        // An open escalation is kept however old it is.
        store.purge_older_than(i64::MAX).expect("purge everything");
        assert!(store.escalation(open_old.id).expect("get").is_some());
    }

    #[test]
    fn migrate_chat_moves_transcript_and_escalations() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        let (old, newer) = (-100_i64, -1_001_234_567_890_i64);
        let (e, _) = store
            .open_escalation(&new(old, Reason::Asked, false), 100)
            .expect("open");
        store
            .map_relay(e.id, 500, 5, RelayDirection::ToCoordinators)
            .expect("map");
        store
            .add_transcript(old, &entry(100, Role::Caregiver, "hello"))
            .expect("add");
        store.migrate_chat(old, newer).expect("migrate");
        assert_eq!(store.open_escalation_for_chat(old).expect("old"), None);
        assert_eq!(
            store
                .open_escalation_for_chat(newer)
                .expect("new")
                .map(|x| x.id),
            Some(e.id)
        );
        assert_eq!(texts(&store.transcript(newer, 10).expect("t")), ["hello"]);
        assert_eq!(
            store.relay_by_caregiver_message(newer, 5).expect("relay"),
            Some((e.id, 500, RelayDirection::ToCoordinators))
        );

        // Both ids with an open escalation: nothing breaks, the old one stays put.
        let (x, _) = store
            .open_escalation(&new(1, Reason::Asked, false), 100)
            .expect("open");
        let (y, _) = store
            .open_escalation(&new(2, Reason::Asked, false), 100)
            .expect("open");
        store.migrate_chat(1, 2).expect("migrate with conflict");
        assert_eq!(
            store.open_escalation_for_chat(1).expect("1").map(|e| e.id),
            Some(x.id)
        );
        assert_eq!(
            store.open_escalation_for_chat(2).expect("2").map(|e| e.id),
            Some(y.id)
        );
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
