//! The store's behaviour, tested once for every backend: each test here is a function of a
//! [`Fixture`], run by [`both!`] on a fresh SQLite file and on a fresh PostgreSQL database
//! (see `faqbot_dev::pg` for where that comes from). Tests of what only one engine has (SQLite's
//! files and pragmas, PostgreSQL's concurrency between connections) stay beside that backend.

use tempfile::TempDir;

use super::postgres::{connect_settings, Db, PgStore};
use super::*;
use crate::action::OutMessage;

mod chats;
pub(crate) mod escalations;
mod inbox;
pub(crate) mod review;

/// What the tests read and do beside the role traits: the backends' tools and raw SQL
/// (written to run on both engines).
pub(crate) trait Probe: Backend {
    fn is_update_done(&self, update_id: i32) -> StoreResult<bool>;
    fn outbox_batch(&self, limit: usize) -> StoreResult<Vec<OutboxItem>>;
    fn get_meta(&self, key: &str) -> StoreResult<Option<String>>;
    fn is_blocked(&self, chat_id: i64) -> StoreResult<bool>;
    fn feedback_counts(&self, passage_id: &str) -> StoreResult<(u64, u64)>;
    fn set_no_match_streak(&self, chat_id: i64, n: u32) -> StoreResult<()>;
    /// One integer from `sql`.
    fn query_i64(&self, sql: &str) -> i64;
    /// One text (maybe NULL) from `sql`.
    fn query_text(&self, sql: &str) -> Option<String>;
    /// Runs `sql`, reporting whether the database accepted it.
    fn exec(&self, sql: &str) -> Result<(), String>;
    /// Makes outbox inserts whose action contains `marker` fail (as a full disk might), or
    /// stops doing so.
    fn fail_outbox_inserts(&self, marker: Option<&str>);

    /// [`Inbox::complete_updates`] for one update with no answer record.
    fn complete_update(&self, update_id: i32, actions: &[Action], now: i64) -> StoreResult<()> {
        let completion = Completion {
            update_id,
            actions,
            answer: None,
        };
        self.complete_updates(&[completion], now)
    }
}

impl Probe for SqliteStore {
    fn is_update_done(&self, update_id: i32) -> StoreResult<bool> {
        SqliteStore::is_update_done(self, update_id)
    }
    fn outbox_batch(&self, limit: usize) -> StoreResult<Vec<OutboxItem>> {
        SqliteStore::outbox_batch(self, limit)
    }
    fn get_meta(&self, key: &str) -> StoreResult<Option<String>> {
        SqliteStore::get_meta(self, key)
    }
    fn is_blocked(&self, chat_id: i64) -> StoreResult<bool> {
        SqliteStore::is_blocked(self, chat_id)
    }
    fn feedback_counts(&self, passage_id: &str) -> StoreResult<(u64, u64)> {
        SqliteStore::feedback_counts(self, passage_id)
    }
    fn set_no_match_streak(&self, chat_id: i64, n: u32) -> StoreResult<()> {
        SqliteStore::set_no_match_streak(self, chat_id, n)
    }
    fn query_i64(&self, sql: &str) -> i64 {
        self.run("test query", |c| c.query_row(sql, [], |r| r.get(0)))
            .expect("query")
    }
    fn query_text(&self, sql: &str) -> Option<String> {
        self.run("test query", |c| c.query_row(sql, [], |r| r.get(0)))
            .expect("query")
    }
    fn exec(&self, sql: &str) -> Result<(), String> {
        self.run("test statement", |c| c.execute_batch(sql))
            .map_err(|e| format!("{e:?}"))
    }
    fn fail_outbox_inserts(&self, marker: Option<&str>) {
        let sql = match marker {
            Some(m) => format!(
                "CREATE TRIGGER fail_marker BEFORE INSERT ON outbox
                 WHEN NEW.action LIKE '%{m}%'
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END;"
            ),
            None => "DROP TRIGGER fail_marker".into(),
        };
        Probe::exec(self, &sql).expect("trigger");
    }
}

impl Probe for PgStore {
    fn is_update_done(&self, update_id: i32) -> StoreResult<bool> {
        self.run("read an update", async |c| {
            let row = c
                .query_opt(
                    "SELECT done_at IS NOT NULL FROM inbox WHERE update_id = $1",
                    &[&update_id],
                )
                .await?;
            Ok(row.map(|r| r.try_get(0)).transpose()?.unwrap_or(false))
        })
    }
    fn outbox_batch(&self, limit: usize) -> StoreResult<Vec<OutboxItem>> {
        // the heads, then each item, as the sender reads them
        let mut items = Vec::new();
        for head in self.outbox_heads(0, limit)? {
            items.extend(self.outbox_item(head.id)?);
        }
        Ok(items)
    }
    fn get_meta(&self, key: &str) -> StoreResult<Option<String>> {
        self.run("read a meta value", async |c| {
            let row = c
                .query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
                .await?;
            Ok(row.map(|r| r.try_get(0)).transpose()?)
        })
    }
    fn is_blocked(&self, chat_id: i64) -> StoreResult<bool> {
        PgStore::is_blocked(self, chat_id)
    }
    fn feedback_counts(&self, passage_id: &str) -> StoreResult<(u64, u64)> {
        PgStore::feedback_counts(self, passage_id)
    }
    fn set_no_match_streak(&self, chat_id: i64, n: u32) -> StoreResult<()> {
        self.run("update a chat", async |c| {
            super::postgres::chats::write_streak(c, chat_id, n).await
        })
    }
    fn query_i64(&self, sql: &str) -> i64 {
        self.run("test query", async |c| {
            let row = c.query_one(sql, &[]).await?;
            // counts are BIGINT, some columns INTEGER
            match row.try_get::<_, i64>(0) {
                Ok(v) => Ok(v),
                Err(_) => Ok(i64::from(row.try_get::<_, i32>(0)?)),
            }
        })
        .expect("query")
    }
    fn query_text(&self, sql: &str) -> Option<String> {
        self.run("test query", async |c| {
            Ok(c.query_one(sql, &[]).await?.try_get(0)?)
        })
        .expect("query")
    }
    fn exec(&self, sql: &str) -> Result<(), String> {
        self.run("test statement", async |c| Ok(c.batch_execute(sql).await?))
            .map_err(|e| format!("{e:?}"))
    }
    fn fail_outbox_inserts(&self, marker: Option<&str>) {
        let sql = match marker {
            Some(m) => format!(
                "CREATE FUNCTION fail_marker() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN
                     IF NEW.action LIKE '%{m}%' THEN RAISE EXCEPTION 'injected failure'; END IF;
                     RETURN NEW;
                 END $$;
                 CREATE TRIGGER fail_marker BEFORE INSERT ON outbox
                     FOR EACH ROW EXECUTE FUNCTION fail_marker();"
            ),
            None => "DROP TRIGGER fail_marker ON outbox; DROP FUNCTION fail_marker();".into(),
        };
        Probe::exec(self, &sql).expect("trigger");
    }
}

/// Keeps the database alive for the store (and deletes it after).
enum Guard {
    Dir(TempDir),
    Db(faqbot_dev::pg::TestDb),
}

/// A fresh store of one backend. The store is dropped before its database.
pub(crate) struct Fixture {
    pub store: Box<dyn Probe>,
    guard: Guard,
}

impl Fixture {
    pub fn sqlite() -> Fixture {
        let dir = TempDir::new().expect("tempdir");
        Fixture {
            store: Box::new(SqliteStore::open(dir.path().join("bot.db")).expect("open store")),
            guard: Guard::Dir(dir),
        }
    }

    pub fn postgres() -> Fixture {
        let db = faqbot_dev::pg::TestDb::new();
        Fixture {
            store: Box::new(open_pg(&db.url)),
            guard: Guard::Db(db),
        }
    }

    /// Closes the store and opens the same database again.
    pub fn reopen(&mut self) {
        self.store = match &self.guard {
            Guard::Dir(dir) => {
                Box::new(SqliteStore::open(dir.path().join("bot.db")).expect("reopen"))
            }
            Guard::Db(db) => Box::new(open_pg(&db.url)),
        };
    }
}

pub(crate) fn open_pg(url: &str) -> PgStore {
    PgStore::open(connect_settings(url, None, None).expect("settings"), 4).expect("open store")
}

/// Runs each named test function on SQLite and on PostgreSQL:
/// `store::conformance::<file>::<test>::{sqlite, postgres}`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name(&mut $crate::store::conformance::Fixture::sqlite());
                }
                #[test]
                fn postgres() {
                    super::$name(&mut $crate::store::conformance::Fixture::postgres());
                }
            }
        )*
    };
}
pub(crate) use both;

pub(crate) fn send(chat_id: i64, html: &str) -> Action {
    Action::Send(OutMessage::new(chat_id, html.to_string()))
}

pub(crate) fn update(update_id: i32, chat_id: i64, body: &str) -> NewUpdate {
    NewUpdate {
        update_id,
        chat_id,
        body: body.to_string(),
    }
}
