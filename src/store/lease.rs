//! The leader's lease in PostgreSQL: which replica may work (handle the inbox, send the outbox,
//! poll Telegram), for how long, and the sends to groups of the last minute, so that the next
//! leader keeps Telegram's 20-a-minute limit per group across a change of leader.
//!
//! Why a lease row and not an advisory lock: a session lock lives as long as its connection, and
//! a connection cut off by the network (a half-open TCP connection) can keep it for minutes
//! while the replica holding it no longer knows whether it leads. A lease has a deadline
//! computed with the database's clock, so both sides know when it ends: the holder stops before
//! it ends (its own deadline is counted from before it asked, with a margin), a follower takes
//! over only after it ended. Every renewal and every takeover is one statement on the
//! election's own connection, never waiting behind the store's work.
//!
//! Each term has an epoch, raised by every takeover: the fencing token. A group send is
//! recorded only while the sender's term is current, so a replica that lost its lease without
//! noticing cannot send to a group.
//!
//! The tables are created by the PostgreSQL store's migrations (`postgres/schema.rs`, step 2).

use std::time::Duration;

use tokio_postgres::Client;

/// Takes the lease when it is free or expired (a new epoch), or renews it when `holder` holds
/// it with epoch `$3` and it has not expired; nothing otherwise. One statement, so two replicas
/// asking at once cannot both win: the row's lock orders them and the second sees the first's
/// deadline.
const ACQUIRE: &str = "
    INSERT INTO leader_lease AS l (id, holder, epoch, expires_at)
    VALUES (1, $1, 1, clock_timestamp() + make_interval(secs => $2::float8))
    ON CONFLICT (id) DO UPDATE SET
        holder = EXCLUDED.holder,
        epoch = CASE WHEN l.holder = EXCLUDED.holder AND l.epoch = $3
                          AND l.expires_at > clock_timestamp()
                     THEN l.epoch ELSE l.epoch + 1 END,
        expires_at = EXCLUDED.expires_at
    WHERE (l.holder = EXCLUDED.holder AND l.epoch = $3 AND l.expires_at > clock_timestamp())
       OR l.expires_at <= clock_timestamp()
    RETURNING l.epoch";

/// Ends a term at once, so a follower need not wait for the deadline.
const RELEASE: &str = "
    UPDATE leader_lease SET expires_at = clock_timestamp() - interval '1 millisecond'
    WHERE id = 1 AND holder = $1 AND epoch = $2";

/// Records a send to a group, only while the term is current (the fence).
const RECORD_GROUP_SEND: &str = "
    INSERT INTO leader_group_sends (chat_id, at)
    SELECT $3, clock_timestamp() FROM leader_lease
    WHERE id = 1 AND holder = $1 AND epoch = $2 AND expires_at > clock_timestamp()";

/// The sends to groups of the last minute, as (group, milliseconds ago).
const RECENT_GROUP_SENDS: &str = "
    SELECT chat_id, (extract(epoch FROM clock_timestamp() - at) * 1000)::float8
    FROM leader_group_sends WHERE at > clock_timestamp() - interval '61 seconds'";

const PRUNE_GROUP_SENDS: &str =
    "DELETE FROM leader_group_sends WHERE at < clock_timestamp() - interval '61 seconds'";

/// The lease seen from one replica, over a connection the caller made (and makes again after an
/// error).
pub struct PgLease<'a> {
    pub client: &'a Client,
    /// This replica, unique among all that ever ran: host, process and start time.
    pub holder: &'a str,
}

impl PgLease<'_> {
    /// Takes or renews the lease for `ttl`: the epoch of the term this replica now holds, or
    /// `None` when another replica holds it. `epoch` is the term being renewed (0 for none).
    pub async fn acquire(
        &self,
        epoch: i64,
        ttl: Duration,
    ) -> Result<Option<i64>, tokio_postgres::Error> {
        let row = self
            .client
            .query_opt(ACQUIRE, &[&self.holder, &ttl.as_secs_f64(), &epoch])
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Ends the term `epoch` now (nothing when it is no longer this replica's).
    pub async fn release(&self, epoch: i64) -> Result<(), tokio_postgres::Error> {
        self.client
            .execute(RELEASE, &[&self.holder, &epoch])
            .await
            .map(drop)
    }

    /// Records a send to `group` under term `epoch`; false when the term is over, and then the
    /// send must not happen.
    pub async fn record_group_send(
        &self,
        epoch: i64,
        group: i64,
    ) -> Result<bool, tokio_postgres::Error> {
        let n = self
            .client
            .execute(RECORD_GROUP_SEND, &[&self.holder, &epoch, &group])
            .await?;
        Ok(n == 1)
    }

    /// The sends to groups of the last minute (any leader's), oldest last: (group, how long
    /// ago). Old ones are deleted on the way.
    pub async fn recent_group_sends(&self) -> Result<Vec<(i64, Duration)>, tokio_postgres::Error> {
        self.client.execute(PRUNE_GROUP_SENDS, &[]).await?;
        let rows = self.client.query(RECENT_GROUP_SENDS, &[]).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let ago: f64 = r.get(1);
                (r.get(0), Duration::from_secs_f64(ago.max(0.0) / 1000.0))
            })
            .collect())
    }
}
