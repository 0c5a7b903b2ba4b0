//! The two backends behind one small interface: run a statement, read rows, load rows in bulk.
//! Private to the store: no other crate sees a connection, a SQL value or SQL text.
//!
//! Why not one generic driver: the embedded default must import a million grants in seconds,
//! which needs SQLite's prepared statements in-process (rusqlite), while PostgreSQL needs
//! `COPY` and array parameters to avoid a network round trip per row (rust-postgres). Both
//! speak the same SQL text: placeholders are written `$1, $2, …`, which SQLite accepts too,
//! integers are 64-bit, booleans are integers 0/1, times are microseconds since the epoch.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;

use postgres::types::{IsNull, ToSql as PgToSql, Type, to_sql_checked};
use rusqlite::types::{ToSqlOutput, ValueRef};

use crate::error::StoreError;

/// A parameter or column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A 64-bit integer (also booleans and times).
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

impl PgToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => {
                if *ty == Type::INT4 {
                    i32::try_from(*i)?.to_sql(ty, out)
                } else if *ty == Type::INT2 {
                    i16::try_from(*i)?.to_sql(ty, out)
                } else if *ty == Type::BOOL {
                    (*i != 0).to_sql(ty, out)
                } else {
                    i.to_sql(ty, out)
                }
            }
            Value::Text(s) => s.to_sql(ty, out),
            Value::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// One row being read.
pub enum RowRef<'r, 's> {
    /// From SQLite.
    Sqlite(&'r rusqlite::Row<'s>),
    /// From PostgreSQL.
    Pg(&'r postgres::Row),
}

impl RowRef<'_, '_> {
    /// An integer column, NULL allowed.
    pub fn opt_i64(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self {
            RowRef::Sqlite(r) => Ok(r.get::<_, Option<i64>>(i)?),
            RowRef::Pg(r) => {
                let ty = r.columns().get(i).map(|c| c.type_().clone());
                Ok(match ty {
                    Some(Type::INT4) => r.try_get::<_, Option<i32>>(i)?.map(i64::from),
                    Some(Type::INT2) => r.try_get::<_, Option<i16>>(i)?.map(i64::from),
                    _ => r.try_get::<_, Option<i64>>(i)?,
                })
            }
        }
    }

    /// An integer column.
    pub fn i64(&self, i: usize) -> Result<i64, StoreError> {
        self.opt_i64(i)?
            .ok_or_else(|| StoreError::Corrupt(format!("column {i} is unexpectedly NULL")))
    }

    /// A text column, NULL allowed.
    pub fn opt_str(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self {
            RowRef::Sqlite(r) => Ok(r.get::<_, Option<String>>(i)?),
            RowRef::Pg(r) => Ok(r.try_get::<_, Option<String>>(i)?),
        }
    }

    /// A text column.
    pub fn str(&self, i: usize) -> Result<String, StoreError> {
        self.opt_str(i)?
            .ok_or_else(|| StoreError::Corrupt(format!("column {i} is unexpectedly NULL")))
    }

    /// A text column parsed into a model type (a key, an enum word).
    pub fn parse<T>(&self, i: usize) -> Result<T, StoreError>
    where
        T: std::str::FromStr,
        StoreError: From<T::Err>,
    {
        self.with_str(i, |s| s.unwrap_or("").parse::<T>())?
            .map_err(StoreError::from)
    }

    /// A nullable text column parsed into a model type.
    pub fn opt_parse<T>(&self, i: usize) -> Result<Option<T>, StoreError>
    where
        T: std::str::FromStr,
        StoreError: From<T::Err>,
    {
        self.with_str(i, |s| s.map(str::parse::<T>).transpose())?
            .map_err(StoreError::from)
    }

    /// A text column handed to `f` without copying it; NULL is `None`.
    pub fn with_str<T>(
        &self,
        i: usize,
        f: impl FnOnce(Option<&str>) -> T,
    ) -> Result<T, StoreError> {
        match self {
            RowRef::Sqlite(r) => {
                match r.get_ref(i)? {
                    ValueRef::Null => Ok(f(None)),
                    ValueRef::Text(t) => Ok(f(Some(std::str::from_utf8(t).map_err(|e| {
                        StoreError::Corrupt(format!("column {i} is not UTF-8: {e}"))
                    })?))),
                    _ => Err(StoreError::Corrupt(format!("column {i} is not text"))),
                }
            }
            RowRef::Pg(r) => Ok(f(r.try_get::<_, Option<&str>>(i)?)),
        }
    }

    /// A bytes column.
    pub fn blob(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        match self {
            RowRef::Sqlite(r) => match r.get_ref(i)? {
                ValueRef::Blob(b) => Ok(b.to_vec()),
                ValueRef::Null => Err(StoreError::Corrupt(format!(
                    "column {i} is unexpectedly NULL"
                ))),
                other => Err(StoreError::Corrupt(format!(
                    "column {i} holds {} where bytes belong",
                    match other {
                        ValueRef::Integer(_) => "an integer",
                        ValueRef::Real(_) => "a real number",
                        _ => "text",
                    }
                ))),
            },
            RowRef::Pg(r) => Ok(r.try_get::<_, Vec<u8>>(i)?),
        }
    }

    /// Any column as a [`Value`], for whole-table comparisons.
    pub fn value(&self, i: usize) -> Result<Value, StoreError> {
        match self {
            RowRef::Sqlite(r) => Ok(match r.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(v) => Value::Int(v),
                ValueRef::Real(v) => Value::Text(v.to_string()),
                ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            }),
            RowRef::Pg(r) => {
                let ty = r.columns().get(i).map(|c| c.type_().clone());
                Ok(match ty {
                    Some(Type::INT8 | Type::INT4 | Type::INT2) => {
                        self.opt_i64(i)?.map_or(Value::Null, Value::Int)
                    }
                    Some(Type::BYTEA) => r
                        .try_get::<_, Option<Vec<u8>>>(i)?
                        .map_or(Value::Null, Value::Blob),
                    _ => r
                        .try_get::<_, Option<String>>(i)?
                        .map_or(Value::Null, Value::Text),
                })
            }
        }
    }
}

/// Which backend a store uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// Prepared statements of one PostgreSQL connection, by SQL text, at most [`Self::CAPACITY`]:
/// the least recently used one is dropped (and deallocated by the server) when a new one would
/// exceed it. SQL text is built from a fixed set of templates, never from values, so the set is
/// small; the bound is what keeps a long-running server's memory flat regardless.
#[derive(Default)]
pub(crate) struct Statements {
    map: HashMap<String, (postgres::Statement, u64)>,
    tick: u64,
}

impl Statements {
    pub(crate) const CAPACITY: usize = 256;

    fn get(
        &mut self,
        client: &mut postgres::Client,
        sql: &str,
    ) -> Result<postgres::Statement, StoreError> {
        self.tick += 1;
        if let Some((s, used)) = self.map.get_mut(sql) {
            *used = self.tick;
            return Ok(s.clone());
        }
        if self.map.len() >= Self::CAPACITY
            && let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
        {
            self.map.remove(&oldest);
        }
        let s = client.prepare(sql)?;
        self.map.insert(sql.to_owned(), (s.clone(), self.tick));
        Ok(s)
    }

    /// Statements held now.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// A connection to either backend.
pub(crate) enum Conn {
    /// SQLite.
    Sqlite(rusqlite::Connection),
    /// PostgreSQL, with its prepared statements.
    Pg {
        /// The client.
        client: Box<postgres::Client>,
        /// Statements prepared so far.
        statements: Statements,
    },
}

impl Conn {
    /// The backend.
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Pg { .. } => Backend::Postgres,
        }
    }

    /// Runs several statements without parameters (migrations, transaction control).
    pub(crate) fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        match self {
            Conn::Sqlite(c) => c.execute_batch(sql)?,
            Conn::Pg { client, .. } => client.batch_execute(sql)?,
        }
        Ok(())
    }

    /// Runs transaction-control statements without parameters (savepoints): on SQLite each
    /// from the statement cache, not parsed again at every write of a group; on PostgreSQL
    /// all in one round trip.
    pub(crate) fn control(&mut self, statements: &[&str]) -> Result<(), StoreError> {
        match self {
            Conn::Sqlite(c) => {
                for sql in statements {
                    c.prepare_cached(sql)?.raw_execute()?;
                }
            }
            Conn::Pg { client, .. } => client.batch_execute(&statements.join("; "))?,
        }
        Ok(())
    }

    /// Runs one statement; returns the number of rows changed.
    pub(crate) fn exec(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        match self {
            Conn::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                bind_sqlite(&mut st, params)?;
                Ok(st.raw_execute()? as u64)
            }
            Conn::Pg { client, statements } => {
                let st = statements.get(client, sql)?;
                let refs: Vec<&(dyn PgToSql + Sync)> =
                    params.iter().map(|p| p as &(dyn PgToSql + Sync)).collect();
                Ok(client.execute(&st, &refs)?)
            }
        }
    }

    /// Runs a query and maps every row.
    pub(crate) fn query<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        mut f: impl FnMut(&RowRef<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        self.query_each(sql, params, |r| {
            out.push(f(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Runs a query and hands every row to `f` as it is read, without collecting them.
    pub(crate) fn query_each(
        &mut self,
        sql: &str,
        params: &[Value],
        f: impl FnMut(&RowRef<'_, '_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.query_each_as(sql, params, true, f)
    }

    /// [`Conn::query`] planned for these very values: on PostgreSQL the statement is prepared
    /// afresh (never reused), so the planner sees the values and never settles on a generic
    /// plan. For questions whose best plan depends on the values (how many hold an
    /// entitlement), where a generic plan can read a whole system instead of a page.
    pub(crate) fn query_planned<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        mut f: impl FnMut(&RowRef<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        self.query_each_as(sql, params, false, |r| {
            out.push(f(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    fn query_each_as(
        &mut self,
        sql: &str,
        params: &[Value],
        cached: bool,
        mut f: impl FnMut(&RowRef<'_, '_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        match self {
            Conn::Sqlite(c) => {
                let mut st = c.prepare_cached(sql)?;
                bind_sqlite(&mut st, params)?;
                let mut rows = st.raw_query();
                while let Some(row) = rows.next()? {
                    f(&RowRef::Sqlite(row))?;
                }
            }
            Conn::Pg { client, statements } => {
                let st = if cached {
                    statements.get(client, sql)?
                } else {
                    client.prepare(sql)?
                };
                let refs: Vec<&(dyn PgToSql + Sync)> =
                    params.iter().map(|p| p as &(dyn PgToSql + Sync)).collect();
                let mut it = client.query_raw(&st, refs)?;
                while let Some(row) = postgres::fallible_iterator::FallibleIterator::next(&mut it)?
                {
                    f(&RowRef::Pg(&row))?;
                }
            }
        }
        Ok(())
    }

    /// Runs a query expected to return at most one row.
    pub(crate) fn query_opt<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        mut f: impl FnMut(&RowRef<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let mut out = None;
        self.query_each(sql, params, |r| {
            if out.is_none() {
                out = Some(f(r)?);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Runs a query that returns exactly one row (an aggregate, a row known to exist).
    pub(crate) fn query_one<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        f: impl FnMut(&RowRef<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.query_opt(sql, params, f)?
            .ok_or_else(|| StoreError::Corrupt(format!("expected a row from `{sql}`")))
    }

    /// A single integer (`SELECT count(*) …`); NULL reads as 0.
    pub(crate) fn scalar(&mut self, sql: &str, params: &[Value]) -> Result<i64, StoreError> {
        Ok(self
            .query_opt(sql, params, |r| r.opt_i64(0))?
            .flatten()
            .unwrap_or(0))
    }

    /// Inserts many rows into `table(columns…)`: prepared statements on SQLite, `COPY` on
    /// PostgreSQL.
    pub(crate) fn insert_rows(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: &[Vec<Value>],
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        match self {
            Conn::Sqlite(c) => {
                let mut sql = format!("INSERT INTO {table} ({}) VALUES (", columns.join(", "));
                for i in 0..columns.len() {
                    let _ = write!(sql, "{}${}", if i == 0 { "" } else { ", " }, i + 1);
                }
                sql.push(')');
                let mut st = c.prepare_cached(&sql)?;
                for row in rows {
                    st.execute(rusqlite::params_from_iter(row.iter()))?;
                }
            }
            Conn::Pg { client, .. } => {
                let sql = format!("COPY {table} ({}) FROM STDIN", columns.join(", "));
                let mut writer = client.copy_in(&sql)?;
                let mut buf = String::with_capacity(64 * 1024);
                for row in rows {
                    for (i, v) in row.iter().enumerate() {
                        if i > 0 {
                            buf.push('\t');
                        }
                        copy_text(&mut buf, v);
                    }
                    buf.push('\n');
                    if buf.len() > 60 * 1024 {
                        writer
                            .write_all(buf.as_bytes())
                            .map_err(|e| StoreError::Io(e.to_string()))?;
                        buf.clear();
                    }
                }
                writer
                    .write_all(buf.as_bytes())
                    .map_err(|e| StoreError::Io(e.to_string()))?;
                writer.finish()?;
            }
        }
        Ok(())
    }

    /// Statements prepared on this connection (PostgreSQL; SQLite keeps its own bounded cache).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn prepared(&self) -> usize {
        match self {
            Conn::Sqlite(_) => 0,
            Conn::Pg { statements, .. } => statements.len(),
        }
    }
}

/// Binds `$N` parameters by their number. SQLite numbers parameters in order of first
/// appearance, so `… b = $2 … a = $1` would otherwise bind them swapped.
fn bind_sqlite(st: &mut rusqlite::Statement<'_>, params: &[Value]) -> Result<(), StoreError> {
    for i in 1..=st.parameter_count() {
        let n = st
            .parameter_name(i)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("sql parameter {i} is not written `$N`")))?;
        let v = params.get(n - 1).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "sql parameter ${n} has no value ({} given)",
                params.len()
            ))
        })?;
        st.raw_bind_parameter(i, v)?;
    }
    Ok(())
}

/// Appends a value in PostgreSQL's COPY text format.
fn copy_text(buf: &mut String, v: &Value) {
    match v {
        Value::Null => buf.push_str("\\N"),
        Value::Int(i) => {
            let _ = write!(buf, "{i}");
        }
        Value::Text(s) => {
            for ch in s.chars() {
                match ch {
                    '\\' => buf.push_str("\\\\"),
                    '\t' => buf.push_str("\\t"),
                    '\n' => buf.push_str("\\n"),
                    '\r' => buf.push_str("\\r"),
                    c => buf.push(c),
                }
            }
        }
        Value::Blob(b) => {
            buf.push_str("\\\\x");
            buf.push_str(&hex::encode(b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_escapes() {
        let mut s = String::new();
        copy_text(&mut s, &Value::Text("a\tb\\c\nd".into()));
        assert_eq!(s, "a\\tb\\\\c\\nd");
        s.clear();
        copy_text(&mut s, &Value::Blob(vec![0, 255]));
        assert_eq!(s, "\\\\x00ff");
    }
}
