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
