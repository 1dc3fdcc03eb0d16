//! Which replica works: the leader. Only the leader handles the inbox, performs the outbox and
//! (in polling mode) calls `getUpdates`, so exactly-once handling, each chat's order and
//! Telegram's rate limits hold across replicas the way they hold in one process. In webhook
//! mode every replica stores the updates Telegram posts to it; followers otherwise stand by.
//!
//! With SQLite (one machine) the process is always the leader. With PostgreSQL the replicas
//! elect one through a lease (`store::lease`): renewed every [`RENEW_EVERY`] for [`TTL`], taken
//! over by a follower once it expired. A leader stops working as soon as it cannot be sure it
//! still holds the lease: its own deadline is counted from the moment before it asked the
//! database, less [`MARGIN`], so it always stops before any follower can take over. A leader
//! that is told to stop (SIGTERM) finishes what it has in hand and releases the lease at once.
//!
//! A term ([`Term`]) is what the leader's duties hold: they check [`Term::current`] before each
//! update round and each send, and record each send to a group in the database through
//! [`Term::may_send_to_group`], which refuses once the term is over (the fence).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_postgres::Client;

use crate::metrics::Metrics;
use crate::store::lease::PgLease;

/// How long a lease lasts unless renewed: a leader that is killed or cut off is replaced after
/// at most this (plus [`RENEW_EVERY`] for a follower to notice), well within Telegram's patience
/// and the 10 s the operators were promised.
pub const TTL: Duration = Duration::from_secs(5);

/// How often the leader renews its lease, and how often a follower tries to take it.
pub const RENEW_EVERY: Duration = Duration::from_secs(1);

/// Taken off the leader's own deadline: for clocks running at slightly different rates and for
/// a send that is under way when the leader stops.
pub const MARGIN: Duration = Duration::from_secs(1);

/// A new leader sends nothing for this long: the previous leader's last sends (in flight at a
/// kill, or answered just before it released the lease) then count for no chat's one-second gap
/// and no one-second window of the overall limit. Groups' minute is handed over in the database.
pub const QUIET: Duration = Duration::from_secs(1);

/// How a connection to the database is made (the store's connection settings, with TLS).
pub type Connect =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = anyhow::Result<Client>> + Send>> + Send + Sync>;

/// The election's connection, shared with the terms for recording group sends; made again
/// after any error.
struct Db {
    connect: Connect,
    holder: String,
    client: Mutex<Option<Arc<Client>>>,
}

impl Db {
    fn current(&self) -> Option<Arc<Client>> {
        self.client
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn client(&self) -> anyhow::Result<Arc<Client>> {
        if let Some(c) = self.current().filter(|c| !c.is_closed()) {
            return Ok(c);
        }
        let c = Arc::new((self.connect)().await?);
        *self.client.lock().unwrap_or_else(PoisonError::into_inner) = Some(c.clone());
        Ok(c)
    }

    /// Forgets the connection after an error (a cut-off connection may never answer again).
    fn drop_client(&self) {
        *self.client.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Runs `f` on the lease with a connection, within `limit`; the connection is dropped on
    /// any error or timeout.
    async fn with<T>(
        &self,
        limit: Duration,
        f: impl AsyncFnOnce(PgLease<'_>) -> Result<T, tokio_postgres::Error>,
    ) -> anyhow::Result<T> {
        let run = async {
            let client = self.client().await?;
            let lease = PgLease {
                client: &client,
                holder: &self.holder,
            };
            Ok::<T, anyhow::Error>(f(lease).await?)
        };
        match tokio::time::timeout(limit, run).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                self.drop_client();
                Err(e)
            }
            Err(_) => {
                self.drop_client();
                Err(anyhow::anyhow!(
                    "the database did not answer within {limit:?}"
                ))
            }
        }
    }
}

/// One term of leadership, as the leader's duties see it.
#[derive(Clone)]
pub struct Term(Arc<TermState>);

struct TermState {
    epoch: i64,
    /// Until when this replica may act; moved on by each renewal, into the past when the term
    /// ends. `None`: for as long as the process runs (SQLite).
    deadline: Mutex<Option<Instant>>,
    /// No sends before this (see [`QUIET`]).
    quiet_until: Instant,
    /// The sends to groups in the minute before the term began, as instants.
    group_sends: Vec<(i64, Instant)>,
    db: Option<Arc<Db>>,
}

impl Term {
    /// The term of a process that is always the leader (SQLite).
    pub fn single() -> Term {
        Term(Arc::new(TermState {
            epoch: 0,
            deadline: Mutex::new(None),
            quiet_until: Instant::now(),
            group_sends: Vec::new(),
            db: None,
        }))
    }

    /// The term's fencing token (0 for a single process).
    pub fn epoch(&self) -> i64 {
        self.0.epoch
    }

    /// Whether this replica may still act as the leader.
    pub fn current(&self) -> bool {
        match *self
            .0
            .deadline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
        {
            None => true,
            Some(d) => Instant::now() < d,
        }
    }

    fn extend(&self, until: Instant) {
        let mut d = self
            .0
            .deadline
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if d.is_some_and(|d| d > Instant::now()) {
            *d = Some(until);
        }
    }

    fn end(&self) {
        let mut d = self
            .0
            .deadline
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *d = Some(Instant::now());
    }

    fn deadline(&self) -> Option<Instant> {
        *self
            .0
            .deadline
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// When the term may send its first message.
    pub fn quiet_until(&self) -> Instant {
        self.0.quiet_until
    }

    /// The sends to groups before the term began (by earlier leaders), for the throttle.
    pub fn group_sends(&self) -> &[(i64, Instant)] {
        &self.0.group_sends
    }

    /// Records a send to `group` in the database before it starts, so the next leader counts
    /// it; `Ok(false)` when the term is over (the send must not happen), an error when the
    /// database cannot say (try again later).
    pub async fn may_send_to_group(&self, group: i64) -> anyhow::Result<bool> {
        if !self.current() {
            return Ok(false);
        }
        let Some(db) = &self.0.db else {
            return Ok(true);
        };
        let epoch = self.0.epoch;
        let ok = db
            .with(Duration::from_secs(2), async |l| {
                l.record_group_send(epoch, group).await
            })
            .await?;
        if !ok {
            self.end();
        }
        Ok(ok)
    }
}

/// The current term, if this replica leads.
pub type Role = watch::Receiver<Option<Term>>;

/// Telling the election what the process is doing.
pub struct Election {
    /// Set once the process shuts down: no new term is taken.
    pub stopping: watch::Sender<bool>,
    /// Set once the duties are finished: the term ends and the lease is released.
    pub release: watch::Sender<bool>,
    /// Resolves when the election has ended.
    done: tokio::sync::oneshot::Receiver<()>,
}

impl Election {
    /// For SQLite: this process leads, from now until it exits.
    pub fn single(metrics: &Metrics) -> (Election, Role) {
        metrics.set_leader(true);
        let (tx, rx) = watch::channel(Some(Term::single()));
        let (stopping, _) = watch::channel(false);
        let (release, _) = watch::channel(false);
        let (done_tx, done) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            // the sender lives as long as the task, so the role never reads "closed"
            tx.closed().await;
            let _ = done_tx.send(());
        });
        (
            Election {
                stopping,
                release,
                done,
            },
            rx,
        )
    }

    /// Starts electing through the lease over connections made by `connect`.
    pub fn postgres(connect: Connect, metrics: Arc<Metrics>) -> (Election, Role) {
        metrics.set_leader(false);
        let (tx, rx) = watch::channel(None);
        let (stopping, stopping_rx) = watch::channel(false);
        let (release, release_rx) = watch::channel(false);
        let db = Arc::new(Db {
            connect,
            holder: holder_id(),
            client: Mutex::new(None),
        });
        tracing::info!(holder = %db.holder, "taking part in the leader election");
        let done = on_own_thread("faqbot-election", async move {
            elect(db, tx, metrics, stopping_rx, release_rx).await;
        });
        (
            Election {
                stopping,
                release,
                done,
            },
            rx,
        )
    }

    /// Ends the term (releasing the lease) and the election; returns once done.
    pub async fn finish(self) {
        let _ = self.stopping.send(true);
        let _ = self.release.send(true);
        let _ = self.done.await;
    }
}

/// Runs `work` on a thread and runtime of its own; the receiver resolves when it has ended.
/// For what must keep time while the bot's runtime is busy: the store's calls are synchronous,
/// and while the database stalls they hold the bot's worker threads, which must not delay a
/// renewal (or the step-down when it fails) nor the health check that reports the role.
pub fn on_own_thread(
    name: &str,
    work: impl Future<Output = ()> + Send + 'static,
) -> tokio::sync::oneshot::Receiver<()> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(work),
                Err(e) => tracing::error!(error = %e, "cannot start a runtime"),
            }
            let _ = tx.send(());
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start a thread");
    }
    rx
}

/// This replica's name in the lease: host, process and start time, so a restarted process is a
/// new holder and never renews its predecessor's term.
fn holder_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    format!(
        "{}:{}:{}",
        host.trim(),
        std::process::id(),
        crate::clock::Clock::system().now_ms()
    )
}

/// The election: takes the lease when it is free, renews it while leading, steps down when it
/// cannot renew in time, and releases it when told to.
async fn elect(
    db: Arc<Db>,
    role: watch::Sender<Option<Term>>,
    metrics: Arc<Metrics>,
    stopping: watch::Receiver<bool>,
    mut release: watch::Receiver<bool>,
) {
    let mut term: Option<Term> = None;
    let mut next = Instant::now();
    let mut failures = 0u32;
    let step_down = |term: &mut Option<Term>, why: &str| {
        if let Some(t) = term.take() {
            t.end();
            role.send_replace(None);
            metrics.set_leader(false);
            tracing::warn!(epoch = t.epoch(), "{why}: no longer the leader");
        }
    };
    loop {
        if *release.borrow() {
            if let Some(t) = term.take() {
                t.end();
                role.send_replace(None);
                metrics.set_leader(false);
                let epoch = t.epoch();
                let released = db
                    .with(Duration::from_secs(2), async |l| l.release(epoch).await)
                    .await;
                match released {
                    Ok(()) => tracing::info!(epoch, "lease released"),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot release the lease; it expires by itself")
                    }
                }
            }
            return;
        }
        let wake = match term.as_ref().and_then(Term::deadline) {
            Some(d) => next.min(d),
            None => next,
        };
        tokio::select! {
            _ = tokio::time::sleep_until(wake.into()) => {}
            _ = release.changed() => continue,
        }
        if term.as_ref().is_some_and(|t| !t.current()) {
            step_down(&mut term, "the lease could not be renewed in time");
        }
        let now = Instant::now();
        if now < next {
            continue;
        }
        next = now + RENEW_EVERY;
        if term.is_none() && *stopping.borrow() {
            continue;
        }
        let epoch = term.as_ref().map_or(0, Term::epoch);
        // a renewal may take until the deadline; the attempt after it would be too late anyway
        let limit = term
            .as_ref()
            .and_then(Term::deadline)
            .map_or(Duration::from_secs(2), |d| d.saturating_duration_since(now))
            .max(Duration::from_millis(10));
        let asked = Instant::now();
        let got = db.with(limit, async |l| l.acquire(epoch, TTL).await).await;
        let until = asked + TTL - MARGIN;
        match got {
            Ok(Some(e)) if term.as_ref().is_some_and(|t| t.epoch() == e) => {
                failures = 0;
                if let Some(t) = &term {
                    t.extend(until);
                }
                if term.as_ref().is_some_and(|t| !t.current()) {
                    // renewed too late: this replica has stopped, so the lease it just renewed
                    // would only keep the others waiting
                    step_down(&mut term, "the lease was renewed too late");
                    let _ = db
                        .with(Duration::from_secs(2), async |l| l.release(e).await)
                        .await;
                }
            }
            Ok(Some(e)) => {
                failures = 0;
                step_down(&mut term, "a new term began");
                term = begin(&db, e, until).await;
                if let Some(t) = &term {
                    role.send_replace(Some(t.clone()));
                    metrics.set_leader(true);
                    tracing::info!(epoch = e, "took the lease: this replica leads");
                }
            }
            Ok(None) => {
                failures = 0;
                step_down(&mut term, "another replica holds the lease");
            }
            Err(e) => {
                if failures.is_multiple_of(30) {
                    tracing::warn!(error = %e, failures, "cannot reach the database for the leader's lease; retrying");
                }
                failures = failures.saturating_add(1);
                if term.is_some() {
                    // try again soon: the deadline is near
                    next = Instant::now() + RENEW_EVERY / 4;
                }
            }
        }
    }
}

/// A term just taken: reads the groups' sends of the last minute, without which the new leader
/// could pass a group's limit; when they cannot be read the term is given back.
async fn begin(db: &Arc<Db>, epoch: i64, until: Instant) -> Option<Term> {
    let read = db
        .with(Duration::from_secs(2), async |l| {
            l.recent_group_sends().await
        })
        .await;
    let now = Instant::now();
    match read {
        Ok(sends) => Some(Term(Arc::new(TermState {
            epoch,
            deadline: Mutex::new(Some(until)),
            quiet_until: now + QUIET,
            group_sends: sends
                .into_iter()
                .filter_map(|(g, ago)| Some((g, now.checked_sub(ago)?)))
                .collect(),
            db: Some(db.clone()),
        }))),
        Err(e) => {
            tracing::warn!(error = %e, "took the lease but cannot read the groups' recent sends; giving it back");
            let _ = db
                .with(Duration::from_secs(2), async |l| l.release(epoch).await)
                .await;
            None
        }
    }
}
