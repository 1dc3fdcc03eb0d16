//! [`Store`](super::Store) on PostgreSQL, for several `faqbot run` replicas sharing one
//! database. This file owns the connections (a small pool driven by the store's own runtime),
//! the connection settings (URL, TLS, the password from the environment) and the migrations;
//! each role's SQL is in the file of that name, as in `sqlite/`.
//!
//! Why a private runtime: the store's traits are synchronous and are called from async code,
//! including `#[tokio::test]`'s current-thread runtime, where the sync `postgres` crate panics
//! and `block_in_place` is refused. tokio-postgres splits a connection into a `Client` (which
//! only talks to channels) and a `Connection` future (which does the socket I/O). The
//! connections run as tasks on a runtime of one thread that the store owns; a method builds its
//! queries on the `Client` and waits for them on the caller's thread with a plain `block_on`
//! (below), as the SQLite store waits on its mutex. No future has to be `'static`, so the SQL
//! borrows the caller's data, and the caller's runtime is never asked to block.
//!
//! Concurrency: every replica may call every method at once, so each multi-row change is one
//! transaction whose checks hold under concurrency (row locks, `ON CONFLICT`, conditional
//! `UPDATE`s), not only under one process's lock. Outbox inserts take a transaction-level
//! advisory lock so that ids become visible in the order they were given (see `outbox.rs`).

use std::future::Future;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{StoreError, StoreResult};
use crate::action::Action;

pub(in crate::store) mod chats;
mod escalations;
mod inbox;
mod outbox;
mod questions;
mod review;
mod schema;
mod session;
#[cfg(test)]
mod tests;
mod upkeep;

pub(crate) mod dump;

pub use session::{Db, Session, Tx};

/// How long a caller waits for a free connection when all are busy before giving up.
const POOL_WAIT: Duration = Duration::from_secs(30);

/// How long connecting may take (DNS, TCP, TLS, authentication).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The advisory lock key under which one process at a time migrates ("faqbot" in ASCII).
const MIGRATION_LOCK: i64 = 0x6661_7162_6f74;

/// The advisory lock key that orders outbox inserts (see `outbox.rs`).
pub(super) const OUTBOX_LOCK: i64 = 0x6661_7162_6f75;

/// What a connection needs: the parsed settings and the TLS connector. Cheap to clone.
#[derive(Clone)]
pub struct ConnectSettings {
    /// tokio-postgres's settings, password included (never print them: use `target`).
    pub config: Config,
    /// The TLS connector, used when `config`'s `sslmode` is `require`.
    pub tls: MakeRustlsConnect,
    /// The database as shown in logs and errors, without any password.
    pub target: String,
}

impl std::fmt::Debug for ConnectSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectSettings")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// A connection settings problem, worded for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "config key `store.url` is not a PostgreSQL address ({problem}); write it as \
         postgres://USER@HOST:PORT/DATABASE (FAQBOT_STORE__URL)"
    )]
    BadUrl { problem: String },
    #[error(
        "config key `store.url` contains a password; remove it from the address and set \
         FAQBOT_STORE__PASSWORD (or PGPASSWORD) in the environment instead"
    )]
    PasswordInUrl,
    #[error("config key `store.ca_file` {path}: {problem}; give a PEM file of CA certificates")]
    BadCaFile { path: String, problem: String },
}

/// Parses a `postgres://` address into connection settings, with the password taken from
/// `password` (the caller reads it from `FAQBOT_STORE__PASSWORD` or `PGPASSWORD`) and, for
/// `sslmode=require`, TLS verified against Mozilla's roots plus the certificates in `ca_file`.
///
/// A password inside the address is refused: addresses are shown in logs, errors and process
/// lists, and config files get committed. TLS is used only when asked for: without `sslmode`,
/// a server's self-signed certificate (Debian's default) would otherwise fail the connection.
/// `verify-ca` and `verify-full` are accepted as `require`, which always verifies the
/// certificate and the host name.
pub fn connect_settings(
    url: &str,
    password: Option<&str>,
    ca_file: Option<&std::path::Path>,
) -> Result<ConnectSettings, ConnectError> {
    let target = redact_url(url);
    let bad = |problem: String| ConnectError::BadUrl { problem };
    if !is_postgres_url(url) {
        return Err(bad(format!(
            "it starts with neither postgres:// nor postgresql://: {target}"
        )));
    }
    let explicit_tls = url.contains("sslmode=require")
        || url.contains("sslmode=verify-ca")
        || url.contains("sslmode=verify-full");
    let normalised = url
        .replace("sslmode=verify-full", "sslmode=require")
        .replace("sslmode=verify-ca", "sslmode=require");
    let mut config: Config = normalised
        .parse()
        .map_err(|e: tokio_postgres::Error| bad(e.to_string()))?;
    if config.get_password().is_some() {
        return Err(ConnectError::PasswordInUrl);
    }
    if let Some(p) = password.filter(|p| !p.is_empty()) {
        config.password(p);
    }
    if !explicit_tls {
        config.ssl_mode(SslMode::Disable);
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    // A replica whose database vanished without a FIN must notice within a minute, not the
    // kernel's two hours.
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(30));
    if config.get_application_name().is_none() {
        config.application_name("faqbot");
    }
    let tls = tls_connector(ca_file)?;
    Ok(ConnectSettings {
        config,
        tls,
        target,
    })
}

/// The rustls connector: Mozilla's roots and, when given, the CA certificates of `ca_file`
/// (a private CA, as managed databases often use). The crypto provider is named here rather
/// than installed process-wide, so nothing else in the process is affected.
pub fn tls_connector(ca_file: Option<&std::path::Path>) -> Result<MakeRustlsConnect, ConnectError> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        let bad = |problem: String| ConnectError::BadCaFile {
            path: path.display().to_string(),
            problem,
        };
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("it holds no certificate".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ConnectError::BadCaFile {
        path: String::new(),
        problem: e.to_string(),
    })?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `url` with any password replaced by `***`, for logs and errors.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    // The credentials end at the last '@' before the path.
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let creds = &authority[..at];
            let user = creds.split(':').next().unwrap_or("");
            let shown = if creds.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            format!("{scheme}://{shown}{}", &rest[at..])
        }
        None => url.to_string(),
    }
}

/// Connects once, on the runtime that will drive the connection.
pub async fn connect(settings: &ConnectSettings) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = settings.config.connect(settings.tls.clone()).await?;
    tokio::spawn(async move {
        // The error says why the server or the network closed it; the pool drops the client.
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "a store connection closed");
        }
    });
    Ok(client)
}

/// A failure inside a store method: the database's, or a row this build cannot read.
#[derive(Debug)]
pub(super) enum Fail {
    Db(tokio_postgres::Error),
    Row(String),
    Busy,
}

impl From<tokio_postgres::Error> for Fail {
    fn from(e: tokio_postgres::Error) -> Fail {
        Fail::Db(e)
    }
}

pub(super) type PgResult<T> = Result<T, Fail>;

/// Idle connections and how many exist, busy ones included.
struct Slots {
    idle: Vec<Session>,
    open: usize,
}

/// The PostgreSQL store. Cheap to share behind an `Arc`.
pub struct PgStore {
    settings: ConnectSettings,
    max_connections: usize,
    slots: Mutex<Slots>,
    freed: Condvar,
    /// Drives the connections' I/O; shut down in the background on drop, since a runtime may
    /// not be dropped inside another's async context.
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.settings.target)
            .finish_non_exhaustive()
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        if let Ok(slots) = self.slots.get_mut() {
            slots.idle.clear();
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// A connection taken from the pool; back to it on drop unless it broke.
pub(super) struct Conn<'a> {
    store: &'a PgStore,
    client: Option<Session>,
}

impl Conn<'_> {
    /// Drops the connection instead of returning it to the pool.
    fn discard(&mut self) {
        if self.client.take().is_some() {
            if let Ok(mut slots) = self.store.slots.lock() {
                slots.open -= 1;
            }
            self.store.freed.notify_one();
        }
    }

    pub(super) fn session(&mut self) -> &mut Session {
        // Always `Some` until dropped.
        self.client
            .as_mut()
            .expect("a pooled connection is present until dropped")
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        let Ok(mut slots) = self.store.slots.lock() else {
            return;
        };
        if client.client.is_closed() {
            slots.open -= 1;
        } else {
            slots.idle.push(client);
        }
        drop(slots);
        self.store.freed.notify_one();
    }
}

impl PgStore {
    /// Connects to the database, brings its schema up to date (one process at a time, under an
    /// advisory lock) and keeps up to `max_connections` connections.
    pub fn open(settings: ConnectSettings, max_connections: usize) -> StoreResult<PgStore> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("faqbot-store")
            .enable_all()
            .build()
            .map_err(|source| StoreError::Runtime { source })?;
        let store = PgStore {
            settings,
            max_connections: max_connections.max(1),
            slots: Mutex::new(Slots {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
            runtime: Some(runtime),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The database as shown in logs (no password).
    pub fn target(&self) -> &str {
        &self.settings.target
    }

    /// The settings this store connects with, e.g. for a dedicated connection elsewhere.
    pub fn connect_settings(&self) -> &ConnectSettings {
        &self.settings
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("the runtime lives until drop")
    }

    /// A new connection, made on the store's runtime.
    fn new_client(&self) -> Result<Client, tokio_postgres::Error> {
        let settings = self.settings.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.runtime().spawn(async move {
            let _ = tx.send(connect(&settings).await);
        });
        // The sender is dropped only after sending, unless the runtime shut down (never
        // while `self` lives).
        block_on(rx).expect("the store runtime runs while the store lives")
    }

    /// Takes a connection: an idle one, a new one while fewer than the maximum exist, or the
    /// next one freed.
    fn conn(&self, op: &'static str) -> StoreResult<Conn<'_>> {
        let poisoned = || StoreError::Unavailable {
            db: self.settings.target.clone(),
        };
        let mut slots = self.slots.lock().map_err(|_| poisoned())?;
        let deadline = std::time::Instant::now() + POOL_WAIT;
        loop {
            while let Some(client) = slots.idle.pop() {
                if client.client.is_closed() {
                    slots.open -= 1;
                    continue;
                }
                return Ok(Conn {
                    store: self,
                    client: Some(client),
                });
            }
            if slots.open < self.max_connections {
                slots.open += 1;
                drop(slots);
                return match self.new_client() {
                    Ok(client) => Ok(Conn {
                        store: self,
                        client: Some(Session::new(client)),
                    }),
                    Err(e) => {
                        if let Ok(mut slots) = self.slots.lock() {
                            slots.open -= 1;
                        }
                        self.freed.notify_one();
                        Err(self.error(op, Fail::Db(e)))
                    }
                };
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return Err(self.error(op, Fail::Busy));
            }
            slots = self
                .freed
                .wait_timeout(slots, deadline - now)
                .map_err(|_| poisoned())?
                .0;
        }
    }

    /// Runs `f` on a pooled connection and waits for it on this thread.
    pub(super) fn run<T, F>(&self, op: &'static str, f: F) -> StoreResult<T>
    where
        F: for<'c> AsyncFnOnce(&'c mut Session) -> PgResult<T>,
    {
        let mut conn = self.conn(op)?;
        let result = block_on(f(conn.session()));
        if let Err(Fail::Db(e)) = &result {
            // The server or the network closed it (a restart, a failover): the connection
            // task may not have noticed yet, so do not hand it to the next caller.
            if e.is_closed() || e.code().is_some_and(|c| c.code().starts_with("57P")) {
                conn.discard();
            }
        }
        result.map_err(|e| self.error(op, e))
    }

    pub(super) fn error(&self, op: &'static str, e: Fail) -> StoreError {
        let db = self.settings.target.clone();
        match e {
            Fail::Db(source) => StoreError::Postgres { db, op, source },
            Fail::Row(problem) => StoreError::BadRow { db, op, problem },
            Fail::Busy => StoreError::Unavailable { db },
        }
    }

    pub(super) fn encode(&self, action: &Action) -> StoreResult<String> {
        serde_json::to_string(action).map_err(|source| StoreError::Encode {
            path: self.settings.target.clone().into(),
            source,
        })
    }

    /// Applies the migration steps the database has not had yet, each in a transaction with
    /// its version, while holding a session advisory lock, so replicas starting together
    /// migrate one after the other (the others then find nothing to do).
    fn migrate(&self) -> StoreResult<()> {
        let known = schema::MIGRATIONS.len() as i64;
        let target = self.settings.target.clone();
        let applied = self.run("migrate the schema", async |c| {
            c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
                .await?;
            let result = migrate_locked(c, known).await;
            // Unlock even after a failure; a failed unlock is moot, the lock goes with the
            // session if the connection broke.
            let _ = c
                .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
                .await;
            result
        })?;
        match applied {
            Migrated::TooNew(found) => Err(StoreError::PgTooNew {
                db: target,
                found,
                known,
            }),
            Migrated::Steps(0) => Ok(()),
            Migrated::Steps(n) => {
                tracing::info!(store = %target, version = known, steps = n, "store schema migrated");
                Ok(())
            }
        }
    }
}

enum Migrated {
    Steps(i64),
    TooNew(i64),
}

async fn migrate_locked(c: &mut Session, known: i64) -> PgResult<Migrated> {
    c.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             id      INTEGER PRIMARY KEY CHECK (id = 1),
             version BIGINT NOT NULL
         );
         INSERT INTO schema_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;",
    )
    .await?;
    let mut steps = 0;
    loop {
        let tx = c.transaction().await?;
        let version: i64 = tx
            .query_one(
                "SELECT version FROM schema_version WHERE id = 1 FOR UPDATE",
                &[],
            )
            .await?
            .try_get(0)?;
        if version == known {
            return Ok(Migrated::Steps(steps));
        }
        let Some(step) = usize::try_from(version)
            .ok()
            .and_then(|i| schema::MIGRATIONS.get(i))
        else {
            return Ok(Migrated::TooNew(version));
        };
        tx.batch_execute(step).await?;
        tx.execute(
            "UPDATE schema_version SET version = $1 WHERE id = 1",
            &[&(version + 1)],
        )
        .await?;
        tx.commit().await?;
        steps += 1;
    }
}

/// Runs a future to completion on the calling thread. The store's futures only exchange
/// messages with the connection tasks on the store's runtime, so they need no reactor here.
pub(super) fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

/// A value read from a row, with a type mismatch (a schema this build does not know) reported
/// instead of panicking.
pub(super) fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a tokio_postgres::Row,
    i: usize,
) -> PgResult<T> {
    Ok(row.try_get(i)?)
}

pub(super) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}
