//! Choosing and opening the store from the settings: `store.url` names PostgreSQL
//! (`postgres://…`) or SQLite (`sqlite://PATH`, or empty for `store.path`). `faqbot run` and
//! every command open the store here, and see only the role traits afterwards.

use std::path::PathBuf;
use std::sync::Arc;

use super::copy::Dump;
use super::postgres::{self, PgStore};
use super::{QuestionLog, ReviewStore, SqliteStore, Store, StoreResult};
use crate::settings::Settings;

/// Every role a backend plays: what `faqbot run` (bot, review page, report) needs, and the
/// rows for `faqbot store copy`.
pub trait Backend: Store + QuestionLog + ReviewStore + Dump {}

impl<T: Store + QuestionLog + ReviewStore + Dump> Backend for T {}

/// Which engine a store address names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by its address (no password in it).
    Postgres(String),
}

impl StoreKind {
    /// The engine named by `url`; an empty `url` is the SQLite file at `path`. `sqlite://` is
    /// followed by the path as written: `sqlite:///var/lib/faqbot.db` is absolute,
    /// `sqlite://faqbot.db` relative.
    pub fn parse(url: &str, path: &std::path::Path) -> Result<StoreKind, String> {
        if url.is_empty() {
            return Ok(StoreKind::Sqlite(path.to_path_buf()));
        }
        if let Some(p) = url.strip_prefix("sqlite://") {
            if p.is_empty() {
                return Err(
                    "sqlite:// needs a path, e.g. sqlite:///var/lib/faqbot/faqbot.db".into(),
                );
            }
            return Ok(StoreKind::Sqlite(PathBuf::from(p)));
        }
        if postgres::is_postgres_url(url) {
            return Ok(StoreKind::Postgres(url.to_string()));
        }
        Err(format!(
            "{} is neither postgres://, postgresql:// nor sqlite://",
            postgres::redact_url(url)
        ))
    }
}

impl std::fmt::Display for StoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreKind::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
            StoreKind::Postgres(url) => f.write_str(&postgres::redact_url(url)),
        }
    }
}

/// An open store: one backend behind the role traits.
#[derive(Clone)]
pub struct OpenedStore {
    /// Every role, for the bot and the review page.
    pub backend: Arc<dyn Backend>,
    /// Which store it is, for messages.
    pub kind: StoreKind,
}

impl OpenedStore {
    /// The bot's roles.
    pub fn store(&self) -> Arc<dyn Store> {
        self.backend.clone()
    }

    /// The review page's role.
    pub fn review(&self) -> Arc<dyn ReviewStore> {
        self.backend.clone()
    }
}

/// The PostgreSQL password: `FAQBOT_STORE__PASSWORD` (read into the settings), else libpq's
/// `PGPASSWORD`.
fn password(settings: &Settings) -> Option<String> {
    let from_settings = settings.store.password.expose();
    if !from_settings.is_empty() {
        return Some(from_settings.to_string());
    }
    std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty())
}

/// The PostgreSQL connection settings of `settings` (address, TLS, password): for the store,
/// and for anything that needs its own connection to the same database (leader election).
pub fn pg_connect_settings(
    settings: &Settings,
    url: &str,
) -> Result<postgres::ConnectSettings, postgres::ConnectError> {
    let ca = &settings.store.ca_file;
    let ca = (!ca.as_os_str().is_empty()).then_some(ca.as_path());
    postgres::connect_settings(url, password(settings).as_deref(), ca)
}

/// Opens the store the settings name (`store.url`, else `store.path`), bringing its schema up
/// to date.
pub fn open(settings: &Settings) -> anyhow::Result<OpenedStore> {
    open_url(settings, settings.store.url.as_str())
}

/// Opens the store at `url` (as `store.url` would name it), with the other store settings
/// (password, TLS, pool size) from `settings`: for `faqbot store copy`.
pub fn open_url(settings: &Settings, url: &str) -> anyhow::Result<OpenedStore> {
    use anyhow::Context;
    let kind = StoreKind::parse(url, &settings.store.path)
        .map_err(|e| anyhow::anyhow!("config key `store.url`: {e}; fix FAQBOT_STORE__URL"))?;
    let backend: Arc<dyn Backend> = match &kind {
        StoreKind::Sqlite(path) => Arc::new(
            SqliteStore::open(path).with_context(|| format!("cannot open the store {kind}"))?,
        ),
        StoreKind::Postgres(url) => {
            let connect = pg_connect_settings(settings, url)?;
            Arc::new(
                open_pg(connect, settings.store.max_connections)
                    .with_context(|| format!("cannot open the store {kind}"))?,
            )
        }
    };
    Ok(OpenedStore { backend, kind })
}

fn open_pg(connect: postgres::ConnectSettings, max: usize) -> StoreResult<PgStore> {
    PgStore::open(connect, max)
}
