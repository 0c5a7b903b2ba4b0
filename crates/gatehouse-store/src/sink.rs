//! Buffered writes of one transaction, flushed in bulk in a fixed, dependency-respecting order.
//!
//! The projection of events onto tables never reads back what it has just written (it keeps
//! ids in memory), so its writes can be buffered and sent in bulk: `COPY` and array updates on
//! PostgreSQL, prepared statements on SQLite.
//!
//! INVARIANT: between two flushes, each versioned object is closed at most once, and only
//! before any new version of it is buffered. The writer flushes before closing an object it
//! already touched in the batch, so "statements, then new objects, then interval closes, then
//! new versions, then logins, then events" is a correct order for every buffered batch.

use crate::db::{Db, Value};
use crate::error::StoreError;

/// The largest valid_to, marking the current version.
pub const OPEN: i64 = i64::MAX;

/// Tables that receive plain inserts, in flush order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Table {
    /// `identity`.
    Identity,
    /// `account`.
    Account,
    /// `entitlement`.
    Entitlement,
    /// `identity_version`.
    IdentityVersion,
    /// `account_version`.
    AccountVersion,
    /// `entitlement_version`.
    EntitlementVersion,
    /// `grant_version`.
    GrantVersion,
    /// `import`.
    Import,
    /// `event`.
    Event,
}

const TABLES: [Table; 9] = [
    Table::Identity,
    Table::Account,
    Table::Entitlement,
    Table::IdentityVersion,
    Table::AccountVersion,
    Table::EntitlementVersion,
    Table::GrantVersion,
    Table::Import,
    Table::Event,
];

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Identity => "identity",
            Table::Account => "account",
            Table::Entitlement => "entitlement",
            Table::IdentityVersion => "identity_version",
            Table::AccountVersion => "account_version",
            Table::EntitlementVersion => "entitlement_version",
            Table::GrantVersion => "grant_version",
            Table::Import => "import",
            Table::Event => "event",
        }
    }

    /// Column order of the rows given to [`Sink::insert`].
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Table::Identity => &["identity_id", "key", "source"],
            Table::Account => &["account_id", "system_id", "native_id", "last_login"],
            Table::Entitlement => &["entitlement_id", "system_id", "native_id"],
            Table::IdentityVersion => &[
                "identity_id",
                "seq",
                "key",
                "valid_from",
                "valid_to",
                "end_seq",
                "kind",
                "name",
                "email",
                "status",
                "department",
                "record",
            ],
            Table::AccountVersion => &[
                "system_id",
                "account_id",
                "seq",
                "valid_from",
                "valid_to",
                "end_seq",
                "username",
                "identity",
                "linked_by",
                "kind",
                "enabled",
                "mfa",
                "employee_id",
                "email",
                "attributes",
            ],
            Table::EntitlementVersion => &[
                "entitlement_id",
                "seq",
                "valid_from",
                "valid_to",
                "end_seq",
                "name",
                "privileged",
                "record",
            ],
            Table::GrantVersion => &[
                "system_id",
                "account_id",
                "entitlement_id",
                "seq",
                "valid_from",
                "valid_to",
                "end_seq",
                "source",
                "warrant",
                "expires_at",
                "attributes",
                "granted_at",
            ],
            Table::Import => &["seq", "source", "as_of", "digest", "changes"],
            Table::Event => &["seq", "recorded_at", "actor", "kind", "object", "body"],
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Version tables whose current interval can be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versioned {
    /// `identity_version` by identity_id.
    Identity,
    /// `account_version` by (system_id, account_id).
    Account,
    /// `entitlement_version` by entitlement_id.
    Entitlement,
    /// `grant_version` by (system_id, account_id, entitlement_id).
    Grant,
}

const VERSIONED: [Versioned; 4] = [
    Versioned::Identity,
    Versioned::Account,
    Versioned::Entitlement,
    Versioned::Grant,
];

impl Versioned {
    fn table(self) -> &'static str {
        match self {
            Versioned::Identity => "identity_version",
            Versioned::Account => "account_version",
            Versioned::Entitlement => "entitlement_version",
            Versioned::Grant => "grant_version",
        }
    }

    fn keys(self) -> &'static [&'static str] {
        match self {
            Versioned::Identity => &["identity_id"],
            Versioned::Account => &["system_id", "account_id"],
            Versioned::Entitlement => &["entitlement_id"],
            Versioned::Grant => &["system_id", "account_id", "entitlement_id"],
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A close of the current interval: key ids (as many as the table has), the time it ends,
/// the event that ends it.
#[derive(Debug, Clone, Copy)]
struct Close {
    keys: [i64; 3],
    valid_to: i64,
    end_seq: i64,
}

/// The buffered writes.
#[derive(Default)]
pub struct Sink {
    statements: Vec<(&'static str, Vec<Value>)>,
    inserts: [Vec<Vec<Value>>; 9],
    closes: [Vec<Close>; 4],
    logins: Vec<(i64, i64)>,
    touched: rustc_hash::FxHashSet<(u8, [i64; 3])>,
    pending: usize,
}

impl Sink {
    /// Buffers a statement run before everything else, in order (upserts of systems, roles…).
    pub fn statement(&mut self, sql: &'static str, params: Vec<Value>) {
        self.statements.push((sql, params));
        self.pending += 1;
    }

    /// Buffers an insert; `row` follows [`Table::columns`].
    pub fn insert(&mut self, table: Table, row: Vec<Value>) {
        debug_assert_eq!(row.len(), table.columns().len());
        self.inserts[table.index()].push(row);
        self.pending += 1;
    }

    /// Whether an object's versions were already changed in this batch; if so, the batch
    /// must be flushed before its current version is closed again.
    pub fn touched(&self, table: Versioned, keys: [i64; 3]) -> bool {
        self.touched.contains(&(table as u8, keys))
    }

    /// Notes that an object's versions change in this batch.
    pub fn touch(&mut self, table: Versioned, keys: [i64; 3]) {
        self.touched.insert((table as u8, keys));
    }

    /// Buffers the close of an object's current version; `keys` follow the table's key
    /// columns (unused ones 0).
    pub fn close(&mut self, table: Versioned, keys: [i64; 3], valid_to: i64, end_seq: i64) {
        self.touch(table, keys);
        self.closes[table.index()].push(Close {
            keys,
            valid_to,
            end_seq,
        });
        self.pending += 1;
    }

    /// Buffers a last-login update.
    pub fn login(&mut self, account_id: i64, at: i64) {
        self.logins.push((account_id, at));
        self.pending += 1;
    }

    /// Buffered operations.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Writes everything buffered.
    pub fn flush(&mut self, db: &mut Db) -> Result<(), StoreError> {
        if self.pending == 0 {
            return Ok(());
        }
        for (sql, params) in self.statements.drain(..) {
            db.exec(sql, &params)?;
        }
        for t in &TABLES[..3] {
            let rows = std::mem::take(&mut self.inserts[t.index()]);
            db.insert_rows(t.name(), t.columns(), &rows)?;
        }
        for v in VERSIONED {
            let closes = std::mem::take(&mut self.closes[v.index()]);
            flush_closes(db, v, &closes)?;
        }
        for t in &TABLES[3..] {
            let rows = std::mem::take(&mut self.inserts[t.index()]);
            db.insert_rows(t.name(), t.columns(), &rows)?;
        }
        let logins = std::mem::take(&mut self.logins);
        flush_logins(db, &logins)?;
        self.touched.clear();
        self.pending = 0;
        Ok(())
    }
}

fn flush_closes(db: &mut Db, v: Versioned, closes: &[Close]) -> Result<(), StoreError> {
    if closes.is_empty() {
        return Ok(());
    }
    let keys = v.keys();
    let n = keys.len();
    match db {
        Db::Sqlite(_) => {
            let cond: Vec<String> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| format!("{k} = ${}", i + 3))
                .collect();
            let sql = format!(
                "UPDATE {} SET valid_to = $1, end_seq = $2 WHERE {} AND valid_to = {OPEN}",
                v.table(),
                cond.join(" AND ")
            );
            for c in closes {
                let mut params = vec![Value::Int(c.valid_to), Value::Int(c.end_seq)];
                params.extend(c.keys[..n].iter().map(|k| Value::Int(*k)));
                let changed = db.exec(&sql, &params)?;
                if changed != 1 {
                    return Err(StoreError::Corrupt(format!(
                        "event {}: expected one current version in {} for {:?} to close, found {changed}",
                        c.end_seq,
                        v.table(),
                        &c.keys[..n]
                    )));
                }
            }
        }
        Db::Pg { client, .. } => {
            let mut cols: [Vec<i64>; 5] = Default::default();
            for c in closes {
                cols[0].push(c.keys[0]);
                cols[1].push(c.keys[1]);
                cols[2].push(c.keys[2]);
                cols[3].push(c.valid_to);
                cols[4].push(c.end_seq);
            }
            let cond: Vec<String> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| format!("t.{k} = v.k{i}"))
                .collect();
            let sql = format!(
                "UPDATE {} t SET valid_to = v.valid_to, end_seq = v.end_seq \
                 FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) \
                 AS v(k0, k1, k2, valid_to, end_seq) WHERE {} AND t.valid_to = {OPEN}",
                v.table(),
                cond.join(" AND ")
            );
            let changed =
                client.execute(&sql, &[&cols[0], &cols[1], &cols[2], &cols[3], &cols[4]])?;
            if changed != closes.len() as u64 {
                return Err(StoreError::Corrupt(format!(
                    "closing {} versions in {} matched {changed} current rows",
                    closes.len(),
                    v.table()
                )));
            }
        }
    }
    Ok(())
}

fn flush_logins(db: &mut Db, logins: &[(i64, i64)]) -> Result<(), StoreError> {
    if logins.is_empty() {
        return Ok(());
    }
    match db {
        Db::Sqlite(_) => {
            for (id, at) in logins {
                db.exec(
                    "UPDATE account SET last_login = $1 WHERE account_id = $2",
                    &[Value::Int(*at), Value::Int(*id)],
                )?;
            }
        }
        Db::Pg { client, .. } => {
            let ids: Vec<i64> = logins.iter().map(|l| l.0).collect();
            let ats: Vec<i64> = logins.iter().map(|l| l.1).collect();
            client.execute(
                "UPDATE account t SET last_login = v.at \
                 FROM unnest($1::bigint[], $2::bigint[]) AS v(id, at) WHERE t.account_id = v.id",
                &[&ids, &ats],
            )?;
        }
    }
    Ok(())
}
