//! [`Dump`] on SQLite, for `faqbot store copy`: rows as values, and AUTOINCREMENT's marks in
//! `sqlite_sequence`.

use rusqlite::types::Value;
use rusqlite::{params_from_iter, OptionalExtension, TransactionBehavior};

use super::SqliteStore;
use crate::store::copy::{Col, Dump, Table, Val};
use crate::store::StoreResult;

/// Tables created with AUTOINCREMENT, whose marks `sqlite_sequence` keeps. The others hand out
/// the highest id plus one, so their mark is their highest id.
const AUTOINCREMENT: [&str; 2] = ["outbox", "escalations"];

fn to_val(v: Value) -> Val {
    match v {
        Value::Null => Val::Null,
        Value::Integer(i) => Val::Int(i),
        Value::Real(r) => Val::Real(r),
        Value::Text(t) => Val::Text(t),
        // no column holds blobs; keep the bytes as text rather than fail the copy
        Value::Blob(b) => Val::Text(String::from_utf8_lossy(&b).into_owned()),
    }
}

fn from_val(v: &Val, col: Col) -> Value {
    match (v, col) {
        (Val::Null, _) => Value::Null,
        (Val::Int(i), Col::Real) => Value::Real(*i as f64),
        (Val::Int(i), _) => Value::Integer(*i),
        (Val::Real(r), _) => Value::Real(*r),
        (Val::Text(t), _) => Value::Text(t.clone()),
    }
}

impl Dump for SqliteStore {
    fn read_rows(&self, table: &Table) -> StoreResult<Vec<Vec<Val>>> {
        let sql = table.select_sql();
        self.run("read rows to copy", |conn| {
            let mut stmt = conn.prepare(&sql)?;
            let n = table.columns.len();
            let rows = stmt.query_map([], |r| {
                (0..n)
                    .map(|i| r.get::<_, Value>(i).map(to_val))
                    .collect::<rusqlite::Result<Vec<_>>>()
            })?;
            rows.collect()
        })
    }

    fn write_rows(&self, table: &Table, rows: &[Vec<Val>]) -> StoreResult<u64> {
        let sql = table.insert_sql(|_| "?".to_string());
        self.run("write copied rows", |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut added = 0;
            {
                let mut insert = tx.prepare(&sql)?;
                for row in rows {
                    let values = row
                        .iter()
                        .zip(table.columns)
                        .map(|(v, (_, col))| from_val(v, *col));
                    added += insert.execute(params_from_iter(values))? as u64;
                }
            }
            tx.commit()?;
            Ok(added)
        })
    }

    fn count_rows(&self, table: &Table) -> StoreResult<u64> {
        let sql = format!("SELECT count(*) FROM {}", table.name);
        self.run("count rows", |conn| conn.query_row(&sql, [], |r| r.get(0)))
    }

    fn identity_mark(&self, table: &Table) -> StoreResult<i64> {
        let max_sql = format!("SELECT coalesce(max(id), 0) FROM {}", table.name);
        self.run("read an identity mark", |conn| {
            let max: i64 = conn.query_row(&max_sql, [], |r| r.get(0))?;
            let seq: Option<i64> = if AUTOINCREMENT.contains(&table.name) {
                conn.query_row(
                    "SELECT seq FROM sqlite_sequence WHERE name = ?1",
                    [table.name],
                    |r| r.get(0),
                )
                .optional()?
            } else {
                None
            };
            Ok(max.max(seq.unwrap_or(0)))
        })
    }

    fn raise_identity(&self, table: &Table, mark: i64) -> StoreResult<()> {
        if !AUTOINCREMENT.contains(&table.name) || mark <= 0 {
            return Ok(());
        }
        self.run("raise an identity mark", |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let updated = tx.execute(
                "UPDATE sqlite_sequence SET seq = max(seq, ?2) WHERE name = ?1",
                rusqlite::params![table.name, mark],
            )?;
            if updated == 0 {
                tx.execute(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES (?1, ?2)",
                    rusqlite::params![table.name, mark],
                )?;
            }
            tx.commit()
        })
    }
}
