//! [`Dump`] on PostgreSQL, for `faqbot store copy`: rows as values typed by the copy's table
//! list, and the identity columns' sequences.

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::{get, Db, PgResult, PgStore};
use crate::store::copy::{Col, Dump, Table, Val};
use crate::store::StoreResult;

fn read_val(row: &Row, i: usize, col: Col) -> PgResult<Val> {
    Ok(match col {
        Col::Big => get::<Option<i64>>(row, i)?.map_or(Val::Null, Val::Int),
        Col::Int => get::<Option<i32>>(row, i)?.map_or(Val::Null, |v| Val::Int(v.into())),
        Col::Bool => get::<Option<bool>>(row, i)?.map_or(Val::Null, |b| Val::Int(b.into())),
        Col::Real => get::<Option<f64>>(row, i)?.map_or(Val::Null, Val::Real),
        Col::Text => get::<Option<String>>(row, i)?.map_or(Val::Null, Val::Text),
    })
}

/// A parameter of the column's type; a value of another kind (an integer in a SQLite text
/// column, say) is refused rather than guessed at.
fn param(v: &Val, col: Col) -> Result<Box<dyn ToSql + Sync + Send>, String> {
    Ok(match (v, col) {
        (Val::Null, Col::Big) => Box::new(None::<i64>),
        (Val::Null, Col::Int) => Box::new(None::<i32>),
        (Val::Null, Col::Bool) => Box::new(None::<bool>),
        (Val::Null, Col::Real) => Box::new(None::<f64>),
        (Val::Null, Col::Text) => Box::new(None::<String>),
        (Val::Int(i), Col::Big) => Box::new(*i),
        (Val::Int(i), Col::Int) => {
            Box::new(i32::try_from(*i).map_err(|_| format!("{i} is too large for INTEGER"))?)
        }
        (Val::Int(i), Col::Bool) => Box::new(*i != 0),
        (Val::Int(i), Col::Real) => Box::new(*i as f64),
        (Val::Real(r), Col::Real) => Box::new(*r),
        (Val::Text(t), Col::Text) => Box::new(t.clone()),
        (other, col) => return Err(format!("{other:?} does not fit a {col:?} column")),
    })
}

impl Dump for PgStore {
    fn read_rows(&self, table: &Table) -> StoreResult<Vec<Vec<Val>>> {
        let sql = table.select_sql();
        self.run("read rows to copy", async |c| {
            let rows = c.query(&sql, &[]).await?;
            rows.iter()
                .map(|r| {
                    table
                        .columns
                        .iter()
                        .enumerate()
                        .map(|(i, (_, col))| read_val(r, i, *col))
                        .collect()
                })
                .collect()
        })
    }

    fn write_rows(&self, table: &Table, rows: &[Vec<Val>]) -> StoreResult<u64> {
        let sql = table.insert_sql(|i| format!("${i}"));
        self.run("write copied rows", async |c| {
            let tx = c.transaction().await?;
            let mut added = 0;
            for row in rows {
                let params = row
                    .iter()
                    .zip(table.columns)
                    .map(|(v, (name, col))| {
                        param(v, *col)
                            .map_err(|e| super::Fail::Row(format!("{}.{name}: {e}", table.name)))
                    })
                    .collect::<PgResult<Vec<_>>>()?;
                let refs: Vec<&(dyn ToSql + Sync)> = params
                    .iter()
                    .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                    .collect();
                added += tx.execute(&sql, &refs).await?;
            }
            tx.commit().await?;
            Ok(added)
        })
    }

    fn count_rows(&self, table: &Table) -> StoreResult<u64> {
        let sql = format!("SELECT count(*) FROM {}", table.name);
        self.run("count rows", async |c| {
            Ok(get::<i64>(&c.query_one(&sql, &[]).await?, 0)?.unsigned_abs())
        })
    }

    fn identity_mark(&self, table: &Table) -> StoreResult<i64> {
        let sql = format!(
            "SELECT GREATEST(
                 (SELECT coalesce(max(id), 0) FROM {name}),
                 (SELECT coalesce(last_value, 0) FROM pg_sequences
                  WHERE schemaname || '.' || sequencename
                        = pg_get_serial_sequence('{name}', 'id')))",
            name = table.name
        );
        self.run("read an identity mark", async |c| {
            get(&c.query_one(&sql, &[]).await?, 0)
        })
    }

    fn raise_identity(&self, table: &Table, mark: i64) -> StoreResult<()> {
        if mark <= 0 {
            return Ok(());
        }
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence('{name}', 'id'), GREATEST($1::bigint,
                 (SELECT coalesce(max(id), 1) FROM {name}),
                 (SELECT coalesce(last_value, 1) FROM pg_sequences
                  WHERE schemaname || '.' || sequencename
                        = pg_get_serial_sequence('{name}', 'id'))))",
            name = table.name
        );
        self.run("raise an identity mark", async |c| {
            c.execute(&sql, &[&mark]).await?;
            Ok(())
        })
    }
}
