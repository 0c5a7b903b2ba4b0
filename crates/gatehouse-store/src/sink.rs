//! Buffered writes of one transaction, flushed in bulk in a fixed, dependency-respecting order.
//!
//! A projection never reads back what it has just written (it keeps ids in memory), so its
//! writes can be buffered and sent in bulk: `COPY` and array updates on PostgreSQL, prepared
//! statements on SQLite. Domains describe their tables with [`TableSpec`], [`Versioned`] and
//! [`KeyedUpdate`] constants.
//!
//! INVARIANT: between two flushes, each versioned object is closed at most once, and only
//! before any new version of it is buffered. The writer flushes before closing an object it
//! already touched in the batch, so "statements, then new objects, then interval closes, then
//! new versions, then keyed updates, then the log" is a correct order for every flush.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::conn::{Conn, Value};
use crate::error::StoreError;

/// The largest valid_to, marking the current version.
pub const OPEN: i64 = i64::MAX;

/// When a table's buffered inserts are written in a flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Phase {
    /// Rows other rows refer to (objects with their ids).
    Objects,
    /// Versions of objects, written after the closes of the versions they follow.
    Versions,
    /// The log itself, last.
    Log,
}

/// A table that receives plain inserts.
#[derive(Debug)]
pub(crate) struct TableSpec {
    pub(crate) name: &'static str,
    /// Column order of the rows given to [`Sink::insert`].
    pub(crate) columns: &'static [&'static str],
    pub(crate) phase: Phase,
}

/// A version table whose current interval (`valid_to = OPEN`) can be closed.
#[derive(Debug)]
pub(crate) struct Versioned {
    pub(crate) table: &'static str,
    /// The key columns (one to three) naming an object.
    pub(crate) keys: &'static [&'static str],
}

/// A value kept by key in a narrow table, written many rows at once (last logins): the row is
/// inserted, or its value replaced; within one flush the last value given for a key wins.
#[derive(Debug)]
pub(crate) struct KeyedUpdate {
    pub(crate) table: &'static str,
    pub(crate) key: &'static str,
    pub(crate) column: &'static str,
}

/// A close of the current interval: key ids (as many as the table has), the time it ends,
/// the event that ends it.
#[derive(Debug, Clone, Copy)]
struct Close {
    keys: [i64; 3],
    valid_to: i64,
    end_seq: i64,
}

/// A versioned object: its table and key ids.
type Key = (&'static str, [i64; 3]);

/// The buffered writes.
#[derive(Default)]
pub(crate) struct Sink {
    statements: Vec<(&'static str, Vec<Value>)>,
    inserts: Vec<(&'static TableSpec, Vec<Vec<Value>>)>,
    closes: Vec<(&'static Versioned, Vec<Close>)>,
    updates: Vec<(&'static KeyedUpdate, Vec<(i64, i64)>)>,
    touched: FxHashSet<Key>,
    pending: usize,
}

fn slot<'a, S, T: Default>(list: &'a mut Vec<(&'static S, T)>, spec: &'static S) -> &'a mut T {
    let i = match list.iter().position(|(s, _)| std::ptr::eq(*s, spec)) {
        Some(i) => i,
        None => {
            list.push((spec, T::default()));
            list.len() - 1
        }
    };
    &mut list[i].1
}

impl Sink {
    /// Buffers a statement run before everything else, in order (upserts of systems, roles…).
    pub(crate) fn statement(&mut self, sql: &'static str, params: Vec<Value>) {
        self.statements.push((sql, params));
        self.pending += 1;
    }

    /// Buffers an insert; `row` follows the table's columns.
    pub(crate) fn insert(&mut self, table: &'static TableSpec, row: Vec<Value>) {
        debug_assert_eq!(row.len(), table.columns.len());
        slot(&mut self.inserts, table).push(row);
        self.pending += 1;
    }

    /// Whether an object's versions were already changed in this batch; if so, the batch
    /// must be flushed before its current version is closed again.
    pub(crate) fn touched(&self, table: &'static Versioned, keys: [i64; 3]) -> bool {
        self.touched.contains(&(table.table, keys))
    }

    /// Notes that an object's versions change in this batch.
    pub(crate) fn touch(&mut self, table: &'static Versioned, keys: [i64; 3]) {
        self.touched.insert((table.table, keys));
    }

    /// Buffers the close of an object's current version; `keys` follow the table's key
    /// columns (unused ones 0).
    pub(crate) fn close(
        &mut self,
        table: &'static Versioned,
        keys: [i64; 3],
        valid_to: i64,
        end_seq: i64,
    ) {
        self.touch(table, keys);
        slot(&mut self.closes, table).push(Close {
            keys,
            valid_to,
            end_seq,
        });
        self.pending += 1;
    }

    /// Buffers `column = value` for the row with `key` (inserted if missing).
    pub(crate) fn update(&mut self, spec: &'static KeyedUpdate, key: i64, value: i64) {
        slot(&mut self.updates, spec).push((key, value));
        self.pending += 1;
    }

    /// Takes over what another sink buffered (the rows of one event, built apart), as if
    /// they had been buffered here after what this one holds.
    pub(crate) fn absorb(&mut self, other: Sink) {
        self.statements.extend(other.statements);
        for (t, rows) in other.inserts {
            slot(&mut self.inserts, t).extend(rows);
        }
        for (v, closes) in other.closes {
            slot(&mut self.closes, v).extend(closes);
        }
        for (u, rows) in other.updates {
            slot(&mut self.updates, u).extend(rows);
        }
        self.touched.extend(other.touched);
        self.pending += other.pending;
    }

    /// Buffered operations.
    pub(crate) fn pending(&self) -> usize {
        self.pending
    }

    /// Writes everything buffered.
    pub(crate) fn flush(&mut self, db: &mut Conn) -> Result<(), StoreError> {
        if self.pending == 0 {
            return Ok(());
        }
        for (sql, params) in self.statements.drain(..) {
            db.exec(sql, &params)?;
        }
        let mut inserts = std::mem::take(&mut self.inserts);
        inserts.sort_by_key(|(t, _)| t.phase);
        let (objects, rest): (Vec<_>, Vec<_>) = inserts
            .into_iter()
            .partition(|(t, _)| t.phase == Phase::Objects);
        for (t, rows) in objects {
            db.insert_rows(t.name, t.columns, &rows)?;
        }
        for (v, closes) in std::mem::take(&mut self.closes) {
            flush_closes(db, v, &closes)?;
        }
        let (versions, log): (Vec<_>, Vec<_>) = rest
            .into_iter()
            .partition(|(t, _)| t.phase == Phase::Versions);
        for (t, rows) in versions {
            db.insert_rows(t.name, t.columns, &rows)?;
        }
        for (u, rows) in std::mem::take(&mut self.updates) {
            flush_updates(db, u, &rows)?;
        }
        for (t, rows) in log {
            db.insert_rows(t.name, t.columns, &rows)?;
        }
        self.touched.clear();
        self.pending = 0;
        Ok(())
    }
}

/// `UPDATE` statements are built from the specs' names once per process and kept, so that
/// their text (the prepared-statement cache key) is the same every time.
fn cached_sql(key: (&'static str, u8), build: impl FnOnce() -> String) -> &'static str {
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<FxHashMap<(&'static str, u8), &'static str>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let Ok(mut map) = cache.lock() else {
        return Box::leak(build().into_boxed_str());
    };
    map.entry(key)
        .or_insert_with(|| Box::leak(build().into_boxed_str()))
}

fn flush_closes(db: &mut Conn, v: &'static Versioned, closes: &[Close]) -> Result<(), StoreError> {
    if closes.is_empty() {
        return Ok(());
    }
    let keys = v.keys;
    let n = keys.len();
    match db {
        Conn::Sqlite(_) => {
            let sql = cached_sql((v.table, 0), || {
                let cond: Vec<String> = keys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| format!("{k} = ${}", i + 3))
                    .collect();
                format!(
                    "UPDATE {} SET valid_to = $1, end_seq = $2 WHERE {} AND valid_to = {OPEN}",
                    v.table,
                    cond.join(" AND ")
                )
            });
            for c in closes {
                let mut params = vec![Value::Int(c.valid_to), Value::Int(c.end_seq)];
                params.extend(c.keys[..n].iter().map(|k| Value::Int(*k)));
                let changed = db.exec(sql, &params)?;
                if changed != 1 {
                    return Err(StoreError::Corrupt(format!(
                        "event {}: expected one current version in {} for {:?} to close, found {changed}",
                        c.end_seq,
                        v.table,
                        &c.keys[..n]
                    )));
                }
            }
        }
        Conn::Pg { client, .. } => {
            let mut cols: [Vec<i64>; 5] = Default::default();
            for c in closes {
                cols[0].push(c.keys[0]);
                cols[1].push(c.keys[1]);
                cols[2].push(c.keys[2]);
                cols[3].push(c.valid_to);
                cols[4].push(c.end_seq);
            }
            let sql = cached_sql((v.table, 1), || {
                let cond: Vec<String> = keys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| format!("t.{k} = v.k{i}"))
                    .collect();
                format!(
                    "UPDATE {} t SET valid_to = v.valid_to, end_seq = v.end_seq \
                     FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) \
                     AS v(k0, k1, k2, valid_to, end_seq) WHERE {} AND t.valid_to = {OPEN}",
                    v.table,
                    cond.join(" AND ")
                )
            });
            let changed =
                client.execute(sql, &[&cols[0], &cols[1], &cols[2], &cols[3], &cols[4]])?;
            if changed != closes.len() as u64 {
                return Err(StoreError::Corrupt(format!(
                    "closing {} versions in {} matched {changed} current rows",
                    closes.len(),
                    v.table
                )));
            }
        }
    }
    Ok(())
}

fn flush_updates(
    db: &mut Conn,
    u: &'static KeyedUpdate,
    rows: &[(i64, i64)],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    // The last value per key, in key order (an upsert may not touch a row twice).
    let mut last: FxHashMap<i64, i64> = FxHashMap::default();
    for (key, value) in rows {
        last.insert(*key, *value);
    }
    let mut rows: Vec<(i64, i64)> = last.into_iter().collect();
    rows.sort_unstable();
    match db {
        Conn::Sqlite(_) => {
            let sql = cached_sql((u.table, 2), || {
                format!(
                    "INSERT INTO {t} ({k}, {c}) VALUES ($1, $2) \
                     ON CONFLICT ({k}) DO UPDATE SET {c} = excluded.{c}",
                    t = u.table,
                    k = u.key,
                    c = u.column
                )
            });
            for (key, value) in &rows {
                db.exec(sql, &[Value::Int(*key), Value::Int(*value)])?;
            }
        }
        Conn::Pg { client, .. } => {
            let sql = cached_sql((u.table, 3), || {
                format!(
                    "INSERT INTO {t} ({k}, {c}) SELECT * FROM unnest($1::bigint[], $2::bigint[]) \
                     ON CONFLICT ({k}) DO UPDATE SET {c} = excluded.{c}",
                    t = u.table,
                    k = u.key,
                    c = u.column
                )
            });
            let keys: Vec<i64> = rows.iter().map(|r| r.0).collect();
            let values: Vec<i64> = rows.iter().map(|r| r.1).collect();
            client.execute(sql, &[&keys, &values])?;
        }
    }
    Ok(())
}
