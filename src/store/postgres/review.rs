//! The review page's role on PostgreSQL: sign-in links and sessions (by hash), and the relays
//! of an escalation. Redeeming a link is one `DELETE … RETURNING`, so two replicas redeeming
//! the same link at once sign in only one browser.

use super::session::Db;

use super::{get, PgResult, PgStore};
use crate::store::{Relay, RelayDirection, ReviewStore, StoreResult};

/// Deletes what expired at `now`.
async fn sweep(c: &impl Db, now: i64) -> PgResult<()> {
    c.execute("DELETE FROM review_links WHERE expires_at <= $1", &[&now])
        .await?;
    c.execute(
        "DELETE FROM review_sessions WHERE expires_at <= $1",
        &[&now],
    )
    .await?;
    Ok(())
}

impl ReviewStore for PgStore {
    fn create_review_link(
        &self,
        hash: &str,
        user_id: i64,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<()> {
        self.run("store a review link", async |c| {
            sweep(c, now).await?;
            c.execute(
                "INSERT INTO review_links (hash, user_id, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (hash) DO UPDATE
                     SET user_id = excluded.user_id, expires_at = excluded.expires_at",
                &[&hash, &user_id, &expires_at],
            )
            .await?;
            Ok(())
        })
    }

    fn redeem_review_link(&self, hash: &str, now: i64) -> StoreResult<Option<i64>> {
        self.run("redeem a review link", async |c| {
            let row = c
                .query_opt(
                    "DELETE FROM review_links WHERE hash = $1 RETURNING user_id, expires_at",
                    &[&hash],
                )
                .await?;
            match row {
                Some(r) => {
                    let (user, expires): (i64, i64) = (get(&r, 0)?, get(&r, 1)?);
                    Ok((expires > now).then_some(user))
                }
                None => Ok(None),
            }
        })
    }

    fn create_review_session(
        &self,
        hash: &str,
        user_id: i64,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<()> {
        self.run("store a review session", async |c| {
            sweep(c, now).await?;
            c.execute(
                "INSERT INTO review_sessions (hash, user_id, created_at, expires_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (hash) DO UPDATE SET user_id = excluded.user_id,
                     created_at = excluded.created_at, expires_at = excluded.expires_at",
                &[&hash, &user_id, &now, &expires_at],
            )
            .await?;
            Ok(())
        })
    }

    fn review_session(&self, hash: &str, now: i64) -> StoreResult<Option<i64>> {
        self.run("read a review session", async |c| {
            match c
                .query_opt(
                    "SELECT user_id FROM review_sessions WHERE hash = $1 AND expires_at > $2",
                    &[&hash, &now],
                )
                .await?
            {
                Some(r) => Ok(Some(get(&r, 0)?)),
                None => Ok(None),
            }
        })
    }

    fn end_review_session(&self, hash: &str) -> StoreResult<()> {
        self.run("end a review session", async |c| {
            c.execute("DELETE FROM review_sessions WHERE hash = $1", &[&hash])
                .await?;
            Ok(())
        })
    }

    fn end_review_sessions_except(&self, allowed: &[i64]) -> StoreResult<u64> {
        self.run("end review sessions", async |c| {
            let tx = c.transaction().await?;
            let ended = tx
                .execute(
                    "DELETE FROM review_sessions WHERE user_id <> ALL($1)",
                    &[&allowed],
                )
                .await?;
            tx.execute(
                "DELETE FROM review_links WHERE user_id <> ALL($1)",
                &[&allowed],
            )
            .await?;
            tx.commit().await?;
            Ok(ended)
        })
    }

    fn relays_of(&self, escalation_id: i64) -> StoreResult<Vec<Relay>> {
        self.run("read relays", async |c| {
            let rows = c
                .query(
                    "SELECT group_message_id, caregiver_message_id, direction FROM relays
                     WHERE escalation_id = $1 ORDER BY id",
                    &[&escalation_id],
                )
                .await?;
            let mut relays = Vec::with_capacity(rows.len());
            for r in &rows {
                // An unknown direction (a newer version's) is skipped, as on SQLite.
                if let Some(direction) = RelayDirection::parse(get(r, 2)?) {
                    relays.push(Relay {
                        group_message_id: get(r, 0)?,
                        caregiver_message_id: get(r, 1)?,
                        direction,
                    });
                }
            }
            Ok(relays)
        })
    }
}
