//! A pooled connection with its prepared statements. tokio-postgres prepares a statement given
//! as text on every use, a round trip of its own; the store's statements are a fixed set, so
//! each connection prepares each once and reuses it (measured: half the round trips of an
//! update, see BENCHMARKS.md). [`Db`] gives the store's SQL one interface inside and outside
//! transactions.

use std::cell::RefCell;
use std::collections::HashMap;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Error, GenericClient, Row, Statement, Transaction};

/// The statements a connection has prepared, by their text.
pub(super) type Cache = HashMap<String, Statement>;

/// A connection taken from the pool, with its statements.
pub struct Session {
    pub(super) client: Client,
    pub(super) cache: RefCell<Cache>,
}

impl Session {
    pub(super) fn new(client: Client) -> Session {
        Session {
            client,
            cache: RefCell::new(Cache::new()),
        }
    }

    /// Starts a transaction (rolled back if dropped without [`Tx::commit`]).
    pub async fn transaction(&mut self) -> Result<Tx<'_>, Error> {
        Ok(Tx {
            tx: self.client.transaction().await?,
            cache: &self.cache,
        })
    }

    /// Runs statements given as text, unprepared (schema changes, tests).
    pub async fn batch_execute(&self, sql: &str) -> Result<(), Error> {
        self.client.batch_execute(sql).await
    }
}

/// A transaction on a [`Session`].
pub struct Tx<'a> {
    tx: Transaction<'a>,
    cache: &'a RefCell<Cache>,
}

impl Tx<'_> {
    pub async fn commit(self) -> Result<(), Error> {
        self.tx.commit().await
    }

    pub async fn batch_execute(&self, sql: &str) -> Result<(), Error> {
        self.tx.batch_execute(sql).await
    }
}

/// The statements of the store, on a session or in a transaction, prepared once per
/// connection.
#[allow(async_fn_in_trait)] // used only by this store, on one thread, never as `dyn`
pub trait Db {
    fn raw(&self) -> &impl GenericClient;
    fn cache(&self) -> &RefCell<Cache>;

    /// The prepared statement for `sql`.
    async fn prepare(&self, sql: &str) -> Result<Statement, Error> {
        if let Some(st) = self.cache().borrow().get(sql) {
            return Ok(st.clone());
        }
        let st = self.raw().prepare(sql).await?;
        self.cache()
            .borrow_mut()
            .insert(sql.to_string(), st.clone());
        Ok(st)
    }

    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
        let st = self.prepare(sql).await?;
        self.raw().execute(&st, params).await
    }

    async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error> {
        let st = self.prepare(sql).await?;
        self.raw().query(&st, params).await
    }

    async fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error> {
        let st = self.prepare(sql).await?;
        self.raw().query_one(&st, params).await
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error> {
        let st = self.prepare(sql).await?;
        self.raw().query_opt(&st, params).await
    }
}

impl Db for Session {
    fn raw(&self) -> &impl GenericClient {
        &self.client
    }
    fn cache(&self) -> &RefCell<Cache> {
        &self.cache
    }
}

impl Db for Tx<'_> {
    fn raw(&self) -> &impl GenericClient {
        &self.tx
    }
    fn cache(&self) -> &RefCell<Cache> {
        self.cache
    }
}
