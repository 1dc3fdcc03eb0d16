//! The review page's role on SQLite: sign-in links and sessions (by hash), and the relays of
//! an escalation.

use rusqlite::{params, OptionalExtension};

use super::SqliteStore;
use crate::store::{Relay, RelayDirection, ReviewStore, StoreResult};

/// Deletes what expired at `now`.
fn sweep(conn: &rusqlite::Connection, now: i64) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM review_links WHERE expires_at <= ?1", [now])?;
    conn.execute("DELETE FROM review_sessions WHERE expires_at <= ?1", [now])?;
    Ok(())
}

impl ReviewStore for SqliteStore {
    fn create_review_link(
        &self,
        hash: &str,
        user_id: i64,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<()> {
        self.run("store a review link", |conn| {
            sweep(conn, now)?;
            conn.execute(
                "INSERT OR REPLACE INTO review_links (hash, user_id, expires_at) VALUES (?1, ?2, ?3)",
                params![hash, user_id, expires_at],
            )?;
            Ok(())
        })
    }

    fn redeem_review_link(&self, hash: &str, now: i64) -> StoreResult<Option<i64>> {
        self.run("redeem a review link", |conn| {
            let found: Option<(i64, i64)> = conn
                .query_row(
                    "DELETE FROM review_links WHERE hash = ?1 RETURNING user_id, expires_at",
                    [hash],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            Ok(found.filter(|&(_, expires)| expires > now).map(|(u, _)| u))
        })
    }

    fn create_review_session(
        &self,
        hash: &str,
        user_id: i64,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<()> {
        self.run("store a review session", |conn| {
            sweep(conn, now)?;
            conn.execute(
                "INSERT OR REPLACE INTO review_sessions (hash, user_id, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![hash, user_id, now, expires_at],
            )?;
            Ok(())
        })
    }

    fn review_session(&self, hash: &str, now: i64) -> StoreResult<Option<i64>> {
        self.run("read a review session", |conn| {
            conn.query_row(
                "SELECT user_id FROM review_sessions WHERE hash = ?1 AND expires_at > ?2",
                params![hash, now],
                |r| r.get(0),
            )
            .optional()
        })
    }

    fn end_review_session(&self, hash: &str) -> StoreResult<()> {
        self.run("end a review session", |conn| {
            conn.execute("DELETE FROM review_sessions WHERE hash = ?1", [hash])?;
            Ok(())
        })
    }

    fn end_review_sessions_except(&self, allowed: &[i64]) -> StoreResult<u64> {
        let allowed = serde_json::to_string(allowed).unwrap_or_else(|_| "[]".into());
        self.run("end review sessions", |conn| {
            let tx = conn.transaction()?;
            let keep = "(SELECT value FROM json_each(?1))";
            let ended = tx.execute(
                &format!("DELETE FROM review_sessions WHERE user_id NOT IN {keep}"),
                [&allowed],
            )?;
            tx.execute(
                &format!("DELETE FROM review_links WHERE user_id NOT IN {keep}"),
                [&allowed],
            )?;
            tx.commit()?;
            Ok(ended as u64)
        })
    }

    fn relays_of(&self, escalation_id: i64) -> StoreResult<Vec<Relay>> {
        let rows: Vec<(i32, i32, String)> = self.run("read relays", |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT group_message_id, caregiver_message_id, direction FROM relays
                 WHERE escalation_id = ?1 ORDER BY id",
            )?;
            let rows =
                stmt.query_map([escalation_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(g, c, d)| {
                Some(Relay {
                    group_message_id: g,
                    caregiver_message_id: c,
                    direction: RelayDirection::parse(&d)?,
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use tempfile::TempDir;

    use super::*;
    use crate::store::{Escalations, NewEscalation, Reason};

    fn open(dir: &TempDir) -> SqliteStore {
        SqliteStore::open(dir.path().join("faqbot.db")).expect("open")
    }

    #[test]
    fn a_link_works_once_and_not_after_it_expired() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        store.create_review_link("a", 7, 1_000, 0).expect("link");
        assert_eq!(store.redeem_review_link("a", 500).expect("redeem"), Some(7));
        assert_eq!(store.redeem_review_link("a", 500).expect("again"), None);
        store.create_review_link("b", 7, 1_000, 0).expect("link");
        assert_eq!(store.redeem_review_link("b", 1_000).expect("late"), None);
        assert_eq!(store.redeem_review_link("b", 10).expect("gone"), None);
        assert_eq!(store.redeem_review_link("nope", 10).expect("unknown"), None);
    }

    #[test]
    fn sessions_expire_end_and_follow_the_allow_list() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        store.create_review_session("s1", 1, 1_000, 0).expect("s1");
        store.create_review_session("s2", 2, 1_000, 0).expect("s2");
        store.create_review_session("s3", 1, 1_000, 0).expect("s3");
        assert_eq!(store.review_session("s1", 999).expect("read"), Some(1));
        assert_eq!(store.review_session("s1", 1_000).expect("expired"), None);
        store.end_review_session("s3").expect("sign out");
        assert_eq!(store.review_session("s3", 10).expect("ended"), None);
        assert_eq!(store.end_review_sessions_except(&[2]).expect("removed"), 1);
        assert_eq!(store.review_session("s1", 10).expect("removed"), None);
        assert_eq!(store.review_session("s2", 10).expect("kept"), Some(2));
        assert_eq!(store.end_review_sessions_except(&[]).expect("all"), 1);
    }

    #[test]
    fn relays_are_listed_per_escalation() {
        let dir = TempDir::new().expect("tempdir");
        let store = open(&dir);
        let (e, _) = store
            .open_escalation(
                &NewEscalation {
                    chat_id: 5,
                    user_id: 5,
                    name: "Ann".into(),
                    username: None,
                    language: "en".into(),
                    reason: Reason::Asked,
                    urgent: false,
                },
                0,
            )
            .expect("escalate");
        store
            .map_relay(e.id, 10, 20, RelayDirection::ToCoordinators)
            .expect("relay");
        store
            .map_relay(e.id, 11, 21, RelayDirection::ToCaregiver)
            .expect("relay");
        let relays = store.relays_of(e.id).expect("relays");
        assert_eq!(relays.len(), 2);
        assert_eq!(relays[1].direction, RelayDirection::ToCaregiver);
        assert!(store.relays_of(e.id + 1).expect("none").is_empty());
    }
}
