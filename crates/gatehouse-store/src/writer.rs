//! The one way state changes: append an event, in a transaction that also appends its leaf to
//! the ledger and projects it onto the state tables.
//!
//! INVARIANT: the event row, its Merkle leaf and its effect on the tables are committed
//! together or not at all. If the ledger cannot be updated, the transaction is rolled back and
//! the state change does not happen (fail closed).

use rustc_hash::FxHashMap as HashMap;

use gatehouse_ledger::{Appender, Hash, TileId, TileReader, decode_tile, encode_tile, leaf_hash};
use gatehouse_model::{
    Account, Entitlement, Event, EventData, Identity, IdentityKey, IdentityKind, Timestamp,
};

use crate::db::{Db, Value};
use crate::error::StoreError;
use crate::sink::{OPEN, Sink, Table, Versioned};

/// Flush buffered writes after this many operations, to bound memory during big imports.
const FLUSH_EVERY: usize = 50_000;

/// Microseconds since the epoch, as stored.
pub fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

/// A stored time back as a timestamp.
pub fn from_micros(us: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_microsecond(us)
        .map_err(|e| StoreError::Corrupt(format!("time {us} is out of range: {e}")))
}

/// Reads ledger tiles from the database.
pub struct DbTiles<'a>(pub &'a mut Db);

impl TileReader for DbTiles<'_> {
    type Error = StoreError;

    fn read_tile(&mut self, id: TileId, width: u64) -> Result<Vec<Hash>, StoreError> {
        let bytes = self
            .0
            .query_opt(
                "SELECT hashes FROM ledger_tile WHERE level = $1 AND idx = $2",
                &[Value::Int(i64::from(id.level)), Value::Int(id.index as i64)],
                |r| r.blob(0),
            )?
            .ok_or_else(|| {
                StoreError::Corrupt(format!("ledger tile {}/{} is missing", id.level, id.index))
            })?;
        let mut hashes = decode_tile(&bytes)?;
        if (hashes.len() as u64) < width {
            return Err(StoreError::Corrupt(format!(
                "ledger tile {}/{} holds {} hashes, {width} expected",
                id.level,
                id.index,
                hashes.len()
            )));
        }
        hashes.truncate(width as usize);
        Ok(hashes)
    }
}

/// A progress callback: `(events appended, events expected)`.
pub type Progress = std::sync::Arc<dyn Fn(u64, u64) + Send + Sync>;

/// Ids of the objects met so far, so that projection never has to read its own writes.
#[derive(Default)]
struct Ids {
    next_identity: i64,
    next_account: i64,
    next_entitlement: i64,
    next_system: i64,
    systems: HashMap<String, i64>,
    identities: Option<HashMap<String, i64>>,
    accounts: HashMap<i64, HashMap<String, i64>>,
    entitlements: HashMap<i64, HashMap<String, i64>>,
}

/// Appends events within one database transaction. Get one from [`crate::Store::write`].
pub struct Writer<'s> {
    pub(crate) db: &'s mut Db,
    sink: Sink,
    ids: Ids,
    ledger: Appender,
    next_seq: u64,
    now: Timestamp,
    actor: String,
    appended: u64,
    ledger_time: std::time::Duration,
    expected: u64,
    progress: Option<Progress>,
    start_size: u64,
    pub(crate) directory: Option<(u64, Directory)>,
    pub(crate) identities_changed: bool,
    /// Secondary indexes dropped for a bulk load, rebuilt by [`Writer::finish`].
    deferred: Vec<&'static DeferrableIndex>,
    /// Inside [`crate::Store::bulk`]: leave the dropped indexes to it.
    in_bulk: bool,
}

/// A secondary index that a bulk load may drop and rebuild (SQLite only): inserting a million
/// rows into it one by one, at random places, costs more than sorting them once.
pub(crate) struct DeferrableIndex {
    table: &'static str,
    name: &'static str,
    /// As the latest migration creates it, made idempotent (SQLite stores it without the
    /// `IF NOT EXISTS`; a test compares the two).
    create: &'static str,
}

/// The history tables' secondary indexes, as the migrations leave them.
pub(crate) const DEFERRABLE_INDEXES: [DeferrableIndex; 2] = [
    DeferrableIndex {
        table: "grant_version",
        name: "grant_version_entitlement",
        create: "CREATE INDEX IF NOT EXISTS grant_version_entitlement ON grant_version (entitlement_id, valid_from, valid_to)",
    },
    DeferrableIndex {
        table: "account_version",
        name: "account_version_identity",
        create: "CREATE INDEX IF NOT EXISTS account_version_identity ON account_version (identity, valid_from)",
    },
];

/// Rows below which a bulk load keeps the indexes: dropping them only pays for large loads.
const BULK_ROWS: usize = 50_000;

/// Rebuilds dropped indexes, in a transaction of their own. Another writer may have rebuilt
/// one already (see [`restore_indexes`]); that is fine.
pub(crate) fn rebuild_indexes(
    db: &mut Db,
    dropped: &[&'static DeferrableIndex],
) -> Result<(), StoreError> {
    if dropped.is_empty() {
        return Ok(());
    }
    db.batch("BEGIN IMMEDIATE")?;
    let created = dropped.iter().try_for_each(|i| db.batch(i.create));
    match created {
        Ok(()) => db.batch("COMMIT"),
        Err(e) => {
            let _ = db.batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Inside a write transaction that is not part of a bulk load: rebuilds any history index that
/// a bulk load dropped and did not live to rebuild (its process died). Readers never do this;
/// they answer correctly without the index, only more slowly, until the next write.
pub(crate) fn restore_indexes(db: &mut Db) -> Result<(), StoreError> {
    if db.backend() != crate::Backend::Sqlite {
        return Ok(());
    }
    let present = db.query(
        "SELECT name FROM sqlite_master WHERE type = 'index'",
        &[],
        |r| r.str(0),
    )?;
    DEFERRABLE_INDEXES
        .iter()
        .filter(|i| !present.iter().any(|p| p == i.name))
        .try_for_each(|i| db.batch(i.create))
}

/// Every current identity's key, kind and e-mail, shared.
pub type Directory = std::sync::Arc<Vec<(IdentityKey, IdentityKind, Option<String>)>>;

impl<'s> Writer<'s> {
    /// Starts a writer inside an open transaction.
    pub(crate) fn begin(
        db: &'s mut Db,
        actor: &str,
        now: Timestamp,
        directory: Option<(u64, Directory)>,
        bulk: Option<Vec<&'static DeferrableIndex>>,
    ) -> Result<Self, StoreError> {
        let size = db.scalar("SELECT max(seq) FROM event", &[])? as u64;
        let ledger = Appender::load(size, &mut DbTiles(db))?;
        let ids = Ids {
            next_identity: db.scalar("SELECT max(identity_id) FROM identity", &[])? + 1,
            next_account: db.scalar("SELECT max(account_id) FROM account", &[])? + 1,
            next_entitlement: db.scalar("SELECT max(entitlement_id) FROM entitlement", &[])? + 1,
            next_system: db.scalar("SELECT max(system_id) FROM system", &[])? + 1,
            ..Ids::default()
        };
        Ok(Writer {
            db,
            sink: Sink::default(),
            ids,
            ledger,
            next_seq: size + 1,
            now,
            actor: actor.to_owned(),
            appended: 0,
            ledger_time: std::time::Duration::ZERO,
            expected: 0,
            progress: None,
            start_size: size,
            directory,
            identities_changed: false,
            in_bulk: bulk.is_some(),
            deferred: bulk.unwrap_or_default(),
        })
    }

    /// Announces that this transaction is about to add `rows` versions to `table`. On SQLite,
    /// when they are many and at least half as many as the table already holds, the table's
    /// secondary indexes are dropped now and rebuilt by [`Writer::finish`] before the commit,
    /// inside the same transaction: a failed or interrupted import rolls the drop back with
    /// everything else. PostgreSQL keeps its indexes (dropping one would lock out readers).
    pub(crate) fn expect_rows(&mut self, table: &str, rows: usize) -> Result<(), StoreError> {
        if rows < BULK_ROWS || self.db.backend() != crate::Backend::Sqlite {
            return Ok(());
        }
        let indexes: Vec<&'static DeferrableIndex> = DEFERRABLE_INDEXES
            .iter()
            .filter(|i| i.table == table && !self.deferred.iter().any(|d| d.name == i.name))
            .collect();
        if indexes.is_empty() {
            return Ok(());
        }
        self.flush()?;
        let held = self
            .db
            .scalar(&format!("SELECT count(*) FROM {table}"), &[])?;
        if (rows as i64).saturating_mul(2) < held {
            return Ok(());
        }
        for index in indexes {
            self.db.batch(&format!("DROP INDEX {}", index.name))?;
            self.deferred.push(index);
        }
        Ok(())
    }

    /// Writes what is buffered and rebuilds any index dropped for a bulk load, unless a
    /// [`crate::Store::bulk`] load is under way: then the dropped indexes are returned, for it
    /// to rebuild at its end.
    pub(crate) fn finish(&mut self) -> Result<Option<Vec<&'static DeferrableIndex>>, StoreError> {
        self.flush()?;
        let dropped = std::mem::take(&mut self.deferred);
        if self.in_bulk {
            return Ok(Some(dropped));
        }
        for index in dropped {
            self.db.batch(index.create)?;
        }
        Ok(None)
    }

    /// The cached directory, if it still describes the store as this writer found it and the
    /// writer has not changed any identity.
    pub(crate) fn cached_directory(&self) -> Option<Directory> {
        match &self.directory {
            Some((size, d)) if *size == self.start_size && !self.identities_changed => {
                Some(d.clone())
            }
            _ => None,
        }
    }

    /// Remembers a directory read from the store as this writer found it.
    pub(crate) fn remember_directory(&mut self, d: Directory) {
        if !self.identities_changed {
            self.directory = Some((self.start_size, d));
        }
    }

    /// The directory cache to keep after commit, valid at the new size.
    pub(crate) fn directory_after_commit(&self) -> Option<(u64, Directory)> {
        self.cached_directory().map(|d| (self.ledger.size(), d))
    }

    /// Reports progress to `f(appended, expected)` every few thousand events, where
    /// `expected` is the number of events this writer knows it will append.
    pub fn set_progress(&mut self, f: Progress) {
        self.progress = Some(f);
    }

    /// Announces that `n` more events are about to be appended (for progress reports).
    pub fn expect(&mut self, n: u64) {
        self.expected = self.appended + n;
        self.report();
    }

    fn report(&self) {
        if let Some(p) = &self.progress {
            p(self.appended, self.expected.max(self.appended));
        }
    }

    /// The time of this transaction.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Events appended by this writer so far.
    pub fn appended(&self) -> u64 {
        self.appended
    }

    /// The database, with every buffered write flushed, for reading.
    pub(crate) fn db(&mut self) -> Result<&mut Db, StoreError> {
        self.flush()?;
        Ok(self.db)
    }

    /// Appends an event: assigns its sequence number, records it, adds its leaf to the ledger
    /// and applies it to the state tables. Returns the sequence number.
    pub fn append(&mut self, data: EventData) -> Result<u64, StoreError> {
        let event = Event {
            seq: self.next_seq,
            at: self.now,
            actor: self.actor.clone(),
            data,
        };
        let body = event.encode();
        self.record(&event, body)?;
        self.next_seq += 1;
        Ok(event.seq)
    }

    /// Replays a stored event (used to rebuild and verify the state): the same as
    /// [`Writer::append`] but with the event's own sequence number, time and actor.
    pub(crate) fn replay(&mut self, event: &Event, body: Vec<u8>) -> Result<(), StoreError> {
        if event.seq != self.next_seq {
            return Err(StoreError::Corrupt(format!(
                "event {} follows event {}: the sequence has a gap or is out of order",
                event.seq,
                self.next_seq - 1
            )));
        }
        self.record(event, body)?;
        self.next_seq += 1;
        Ok(())
    }

    /// Appends many events, encoding and hashing them on all cores while the previous chunk is
    /// written. Equivalent to calling [`Writer::append`] for each, in order.
    pub fn append_all(&mut self, data: Vec<EventData>) -> Result<(), StoreError> {
        const CHUNK: usize = 64;
        let mut data = data.into_iter().peekable();
        while data.peek().is_some() {
            let start = self.next_seq;
            let events: Vec<Event> = data
                .by_ref()
                .take(CHUNK)
                .enumerate()
                .map(|(i, d)| Event {
                    seq: start + i as u64,
                    at: self.now,
                    actor: self.actor.clone(),
                    data: d,
                })
                .collect();
            let encode = |evs: &[Event]| -> (Vec<(Vec<u8>, Hash)>, std::time::Duration) {
                let mut hashing = std::time::Duration::ZERO;
                let out = evs
                    .iter()
                    .map(|e| {
                        let body = e.encode();
                        let t = std::time::Instant::now();
                        let leaf = leaf_hash(&body);
                        hashing += t.elapsed();
                        (body, leaf)
                    })
                    .collect();
                (out, hashing)
            };
            let half = events.len().div_ceil(2);
            let (a, b) = std::thread::scope(|s| {
                let (first, second) = events.split_at(half);
                let other = s.spawn(|| encode(second));
                let mine = encode(first);
                (mine, other.join())
            });
            let (b, hashing_b) =
                b.map_err(|_| StoreError::Corrupt("encoding events failed".into()))?;
            let (a, hashing_a) = a;
            self.ledger_time += hashing_a + hashing_b;
            for (event, (body, leaf)) in events.iter().zip(a.into_iter().chain(b)) {
                self.record_hashed(event, body, leaf)?;
                self.next_seq += 1;
            }
        }
        Ok(())
    }

    fn record(&mut self, event: &Event, body: Vec<u8>) -> Result<(), StoreError> {
        let t = std::time::Instant::now();
        let leaf = leaf_hash(&body);
        self.ledger_time += t.elapsed();
        self.record_hashed(event, body, leaf)
    }

    fn record_hashed(
        &mut self,
        event: &Event,
        body: Vec<u8>,
        leaf: Hash,
    ) -> Result<(), StoreError> {
        let t = std::time::Instant::now();
        self.ledger.push(leaf);
        self.ledger_time += t.elapsed();
        self.project(event)?;
        self.sink.insert(
            Table::Event,
            vec![
                Value::Int(event.seq as i64),
                Value::Int(micros(event.at)),
                Value::Text(event.actor.clone()),
                Value::Text(event.data.kind().to_owned()),
                Value::Text(event.data.object()),
                Value::Blob(body),
            ],
        );
        self.appended += 1;
        if self.sink.pending() >= FLUSH_EVERY {
            self.flush()?;
        }
        if self.appended.is_multiple_of(4096) {
            self.report();
        }
        Ok(())
    }

    /// Writes buffered rows and the changed ledger tiles.
    pub(crate) fn flush(&mut self) -> Result<(), StoreError> {
        self.sink.flush(self.db)?;
        let t = std::time::Instant::now();
        for (id, hashes) in self.ledger.take_dirty_tiles() {
            self.db.exec(
                "INSERT INTO ledger_tile (level, idx, hashes) VALUES ($1, $2, $3) \
                 ON CONFLICT (level, idx) DO UPDATE SET hashes = excluded.hashes",
                &[
                    Value::Int(i64::from(id.level)),
                    Value::Int(id.index as i64),
                    Value::Blob(encode_tile(&hashes)),
                ],
            )?;
        }
        self.ledger_time += t.elapsed();
        Ok(())
    }

    /// Time spent on the ledger in this writer so far: hashing leaves, updating the tree and
    /// writing its tiles (measured for the benchmarks).
    pub fn ledger_time(&self) -> std::time::Duration {
        self.ledger_time
    }

    /// The ledger's size and root after what was appended so far.
    pub fn tree_head(&self) -> (u64, Hash) {
        (self.ledger.size(), self.ledger.root())
    }

    /// Closes an object's current version, flushing first if the batch already changed it.
    fn close(
        &mut self,
        v: Versioned,
        keys: [i64; 3],
        valid_to: i64,
        end_seq: i64,
    ) -> Result<(), StoreError> {
        if self.sink.touched(v, keys) {
            self.flush()?;
        }
        self.sink.close(v, keys, valid_to, end_seq);
        Ok(())
    }

    // ---- ids -------------------------------------------------------------------------

    fn system_id(&mut self, key: &str, seq: u64) -> Result<i64, StoreError> {
        if let Some(id) = self.ids.systems.get(key) {
            return Ok(*id);
        }
        let found = self.db()?.query_opt(
            "SELECT system_id FROM system WHERE key = $1",
            &[Value::from(key)],
            |r| r.i64(0),
        )?;
        let id = found.ok_or_else(|| {
            StoreError::Corrupt(format!("event {seq}: system `{key}` was never configured"))
        })?;
        self.ids.systems.insert(key.to_owned(), id);
        Ok(id)
    }

    fn identity_ids(&mut self) -> Result<&mut HashMap<String, i64>, StoreError> {
        if self.ids.identities.is_none() {
            let rows = self
                .db()?
                .query("SELECT key, identity_id FROM identity", &[], |r| {
                    Ok((r.str(0)?, r.i64(1)?))
                })?;
            self.ids.identities = Some(rows.into_iter().collect());
        }
        Ok(self.ids.identities.get_or_insert_with(HashMap::default))
    }

    fn object_ids(
        &mut self,
        accounts: bool,
        system_id: i64,
    ) -> Result<&mut HashMap<String, i64>, StoreError> {
        let loaded = if accounts {
            self.ids.accounts.contains_key(&system_id)
        } else {
            self.ids.entitlements.contains_key(&system_id)
        };
        if !loaded {
            let sql = if accounts {
                "SELECT native_id, account_id FROM account WHERE system_id = $1"
            } else {
                "SELECT native_id, entitlement_id FROM entitlement WHERE system_id = $1"
            };
            let rows = self.db()?.query(sql, &[Value::Int(system_id)], |r| {
                Ok((r.str(0)?, r.i64(1)?))
            })?;
            let map: HashMap<String, i64> = rows.into_iter().collect();
            if accounts {
                self.ids.accounts.insert(system_id, map);
            } else {
                self.ids.entitlements.insert(system_id, map);
            }
        }
        let map = if accounts {
            self.ids.accounts.get_mut(&system_id)
        } else {
            self.ids.entitlements.get_mut(&system_id)
        };
        map.ok_or_else(|| StoreError::Corrupt("id cache".into()))
    }

    fn existing_object(
        &mut self,
        accounts: bool,
        system: &str,
        native: &str,
        seq: u64,
    ) -> Result<i64, StoreError> {
        let sid = self.system_id(system, seq)?;
        self.object_ids(accounts, sid)?
            .get(native)
            .copied()
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "event {seq}: {} `{system}:{native}` does not exist",
                    if accounts { "account" } else { "entitlement" }
                ))
            })
    }

    // ---- projection ------------------------------------------------------------------

    fn project(&mut self, event: &Event) -> Result<(), StoreError> {
        use EventData as E;
        let seq = event.seq;
        let end = seq as i64;
        match &event.data {
            E::ImportApplied(i) => {
                self.sink.insert(
                    Table::Import,
                    vec![
                        Value::Int(end),
                        Value::Text(i.source.clone()),
                        Value::Int(micros(i.as_of)),
                        Value::Text(i.digest.clone()),
                        Value::Text(serde_json::to_string(&i.changes)?),
                    ],
                );
            }
            E::SystemConfigured(s) => self.configure_system(&s.record, seq)?,
            E::IdentityAdded(b) | E::IdentityChanged(b) => {
                self.identities_changed = true;
                let changed = matches!(event.data, E::IdentityChanged(_));
                for i in &b.records {
                    self.identity_version(i, b.as_of, seq, changed)?;
                }
            }
            E::IdentityRemoved(b) => {
                self.identities_changed = true;
                for r in &b.records {
                    let key = r.key.as_str();
                    let id = *self.identity_ids()?.get(key).ok_or_else(|| {
                        StoreError::Corrupt(format!("event {seq}: identity `{key}` does not exist"))
                    })?;
                    self.close(Versioned::Identity, [id, 0, 0], micros(b.as_of), end)?;
                }
            }
            E::AccountAdded(b) | E::AccountChanged(b) | E::AccountCorrelated(b) => {
                let changed = !matches!(event.data, E::AccountAdded(_));
                for a in &b.records {
                    self.account_version(a, b.as_of, seq, changed)?;
                }
            }
            E::AccountRemoved(b) => {
                for r in &b.records {
                    let sid = self.system_id(r.system.as_str(), seq)?;
                    let id = self.existing_object(true, r.system.as_str(), &r.native_id, seq)?;
                    self.close(Versioned::Account, [sid, id, 0], micros(b.as_of), end)?;
                }
            }
            E::AccountActivity(s) => {
                let sid = self.system_id(s.record.system.as_str(), seq)?;
                for (native, at) in &s.record.logins {
                    let id = *self.object_ids(true, sid)?.get(native).ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "event {seq}: account `{}:{native}` does not exist",
                            s.record.system
                        ))
                    })?;
                    self.sink.login(id, micros(*at));
                }
            }
            E::EntitlementAdded(b) | E::EntitlementChanged(b) => {
                let changed = matches!(event.data, E::EntitlementChanged(_));
                for e in &b.records {
                    self.entitlement_version(e, b.as_of, seq, changed)?;
                }
            }
            E::EntitlementRemoved(b) => {
                for r in &b.records {
                    let id = self.existing_object(false, r.system.as_str(), &r.native_id, seq)?;
                    self.close(Versioned::Entitlement, [id, 0, 0], micros(b.as_of), end)?;
                }
            }
            E::GrantAdded(b) | E::GrantChanged(b) => {
                let changed = matches!(event.data, E::GrantChanged(_));
                let from = micros(b.as_of);
                for g in &b.records {
                    let sid = self.system_id(g.system.as_str(), seq)?;
                    let a = self.existing_object(true, g.system.as_str(), &g.account, seq)?;
                    let e = self.existing_object(false, g.system.as_str(), &g.entitlement, seq)?;
                    if changed {
                        self.close(Versioned::Grant, [sid, a, e], from, end)?;
                    }
                    self.sink.touch(Versioned::Grant, [sid, a, e]);
                    self.sink.insert(
                        Table::GrantVersion,
                        vec![
                            Value::Int(sid),
                            Value::Int(a),
                            Value::Int(e),
                            Value::Int(end),
                            Value::Int(from),
                            Value::Int(OPEN),
                            Value::Null,
                            Value::from(g.source.as_str()),
                            Value::from(g.warrant.as_ref().map(|w| w.to_string())),
                            Value::from(g.expires_at.map(micros)),
                            attributes(&g.attributes)?,
                            Value::from(g.granted_at.map(micros)),
                        ],
                    );
                }
            }
            E::GrantRemoved(b) => {
                for g in &b.records {
                    let sid = self.system_id(g.system.as_str(), seq)?;
                    let a = self.existing_object(true, g.system.as_str(), &g.account, seq)?;
                    let e = self.existing_object(false, g.system.as_str(), &g.entitlement, seq)?;
                    self.close(Versioned::Grant, [sid, a, e], micros(b.as_of), end)?;
                }
            }
            E::RoleDefined(b) | E::RoleChanged(b) => {
                for r in &b.records {
                    self.sink.statement(
                        "INSERT INTO role (key, record, seq) VALUES ($1, $2, $3) \
                         ON CONFLICT (key) DO UPDATE SET record = excluded.record, seq = excluded.seq",
                        vec![
                            Value::from(r.key.as_str()),
                            Value::Text(serde_json::to_string(r)?),
                            Value::Int(end),
                        ],
                    );
                }
            }
            E::RoleRemoved(b) => {
                for r in &b.records {
                    self.sink.statement(
                        "DELETE FROM role WHERE key = $1",
                        vec![Value::from(r.key.as_str())],
                    );
                }
            }
            E::WarrantRecorded(b) | E::WarrantChanged(b) => {
                for r in &b.records {
                    self.sink.statement(
                        "INSERT INTO warrant_record (kind, id, identity, entitlement, record, seq) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, id) DO UPDATE SET \
                         identity = excluded.identity, entitlement = excluded.entitlement, \
                         record = excluded.record, seq = excluded.seq",
                        vec![
                            Value::from(r.kind.as_str()),
                            Value::from(r.id.as_str()),
                            // A standing policy may name no holder or entitlement.
                            Value::from(r.identity.as_ref().map_or("", |k| k.as_str())),
                            Value::Text(
                                r.entitlement
                                    .as_ref()
                                    .map(|e| e.to_string())
                                    .unwrap_or_default(),
                            ),
                            Value::Text(serde_json::to_string(r)?),
                            Value::Int(end),
                        ],
                    );
                }
            }
            E::WarrantRemoved(b) => {
                for r in &b.records {
                    self.sink.statement(
                        "DELETE FROM warrant_record WHERE kind = $1 AND id = $2",
                        vec![Value::from(r.kind.as_str()), Value::from(r.id.as_str())],
                    );
                }
            }
            E::AnalysisRan(s) => {
                let at = micros(s.as_of);
                self.sink.statement(
                    "INSERT INTO analysis_run (seq, as_of, record) VALUES ($1, $2, $3)",
                    vec![
                        Value::Int(end),
                        Value::Int(at),
                        Value::Text(serde_json::to_string(&s.record)?),
                    ],
                );
                self.sink.statement(
                    "UPDATE finding SET last_seen = $1 WHERE status <> 'resolved'",
                    vec![Value::Int(at)],
                );
            }
            E::FindingOpened(b) => {
                let at = micros(b.as_of);
                for f in &b.records {
                    self.sink.statement(
                        "INSERT INTO finding (id, rule, severity, status, identity, system, account, \
                         first_seen, last_seen, resolved_at, accepted_by, accepted_reason, \
                         accepted_until, record, seq) \
                         VALUES ($1, $2, $3, 'open', $4, $5, $6, $7, $7, NULL, NULL, NULL, NULL, $8, $9) \
                         ON CONFLICT (id) DO UPDATE SET rule = excluded.rule, \
                         severity = excluded.severity, status = 'open', identity = excluded.identity, \
                         system = excluded.system, account = excluded.account, \
                         last_seen = excluded.last_seen, resolved_at = NULL, accepted_by = NULL, \
                         accepted_reason = NULL, accepted_until = NULL, record = excluded.record, \
                         seq = excluded.seq",
                        finding_row(f, at, end)?,
                    );
                }
            }
            E::FindingChanged(b) => {
                let at = micros(b.as_of);
                for f in &b.records {
                    self.sink.statement(
                        "UPDATE finding SET rule = $2, severity = $3, identity = $4, system = $5, \
                         account = $6, last_seen = $7, record = $8, seq = $9 WHERE id = $1",
                        finding_row(f, at, end)?,
                    );
                }
            }
            E::FindingResolved(b) => {
                for f in &b.records {
                    self.sink.statement(
                        "UPDATE finding SET status = 'resolved', resolved_at = $2, seq = $3 \
                         WHERE id = $1",
                        vec![
                            Value::from(f.id.as_str()),
                            Value::Int(micros(b.as_of)),
                            Value::Int(end),
                        ],
                    );
                }
            }
            E::FindingReopened(b) => {
                for f in &b.records {
                    self.sink.statement(
                        "UPDATE finding SET status = 'open', accepted_by = NULL, \
                         accepted_reason = NULL, accepted_until = NULL, seq = $2 WHERE id = $1",
                        vec![Value::from(f.id.as_str()), Value::Int(end)],
                    );
                }
            }
            E::FindingAccepted(s) => {
                let a = &s.record;
                self.sink.statement(
                    "UPDATE finding SET status = 'accepted', accepted_by = $2, \
                     accepted_reason = $3, accepted_until = $4, seq = $5 WHERE id = $1",
                    vec![
                        Value::from(a.id.as_str()),
                        Value::from(a.by.as_str()),
                        Value::from(a.reason.as_str()),
                        Value::Int(micros(a.until)),
                        Value::Int(end),
                    ],
                );
            }
            E::AssessmentRecorded(s) => {
                self.sink.statement(
                    "INSERT INTO assessment (seq, as_of, record) VALUES ($1, $2, $3)",
                    vec![
                        Value::Int(end),
                        Value::Int(micros(s.as_of)),
                        Value::Text(serde_json::to_string(&s.record)?),
                    ],
                );
            }
        }
        Ok(())
    }

    fn configure_system(
        &mut self,
        c: &gatehouse_model::SystemConfig,
        seq: u64,
    ) -> Result<(), StoreError> {
        let id = match self.ids.systems.get(c.key.as_str()) {
            Some(id) => *id,
            None => {
                let found = self.db()?.query_opt(
                    "SELECT system_id FROM system WHERE key = $1",
                    &[Value::from(c.key.as_str())],
                    |r| r.i64(0),
                )?;
                let id = match found {
                    Some(id) => id,
                    None => {
                        self.ids.next_system += 1;
                        self.ids.next_system - 1
                    }
                };
                self.ids.systems.insert(c.key.to_string(), id);
                id
            }
        };
        self.sink.statement(
            "INSERT INTO system (system_id, key, name, owner, criticality, financial_reporting, config, seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (key) DO UPDATE SET \
             name = excluded.name, owner = excluded.owner, criticality = excluded.criticality, \
             financial_reporting = excluded.financial_reporting, config = excluded.config, seq = excluded.seq",
            vec![
                Value::Int(id),
                Value::from(c.key.as_str()),
                Value::from(c.name.as_str()),
                Value::from(c.owner.as_ref().map(|o| o.to_string())),
                Value::from(c.criticality.map(|c| c.as_str())),
                Value::from(c.financial_reporting),
                Value::Text(serde_json::to_string(c)?),
                Value::Int(seq as i64),
            ],
        );
        // Make the row visible to the id lookups of the same batch.
        self.flush()
    }

    fn identity_version(
        &mut self,
        i: &Identity,
        as_of: Timestamp,
        seq: u64,
        changed: bool,
    ) -> Result<(), StoreError> {
        let key = i.key.as_str();
        let existing = self.identity_ids()?.get(key).copied();
        let id = match existing {
            Some(id) => id,
            None => {
                let id = self.ids.next_identity;
                self.ids.next_identity += 1;
                self.identity_ids()?.insert(key.to_owned(), id);
                let source = if i.kind == IdentityKind::Person {
                    "hr"
                } else {
                    "nhi"
                };
                self.sink.insert(
                    Table::Identity,
                    vec![Value::Int(id), Value::from(key), Value::from(source)],
                );
                id
            }
        };
        let from = micros(as_of);
        if changed {
            self.close(Versioned::Identity, [id, 0, 0], from, seq as i64)?;
        }
        let p = i.person.as_ref();
        self.sink.touch(Versioned::Identity, [id, 0, 0]);
        self.sink.insert(
            Table::IdentityVersion,
            vec![
                Value::Int(id),
                Value::Int(seq as i64),
                Value::from(key),
                Value::Int(from),
                Value::Int(OPEN),
                Value::Null,
                Value::from(i.kind.as_str()),
                Value::from(i.name.as_str()),
                Value::from(i.email.clone()),
                Value::from(p.map(|p| p.status.as_str())),
                Value::from(p.and_then(|p| p.department.clone())),
                Value::Text(serde_json::to_string(i)?),
            ],
        );
        Ok(())
    }

    fn account_version(
        &mut self,
        a: &Account,
        as_of: Timestamp,
        seq: u64,
        changed: bool,
    ) -> Result<(), StoreError> {
        let sid = self.system_id(a.system.as_str(), seq)?;
        let existing = self.object_ids(true, sid)?.get(&a.native_id).copied();
        let last_login = a.last_login.map(micros);
        let id = match existing {
            Some(id) => {
                if let Some(at) = last_login {
                    self.sink.login(id, at);
                }
                id
            }
            None => {
                let id = self.ids.next_account;
                self.ids.next_account += 1;
                self.object_ids(true, sid)?.insert(a.native_id.clone(), id);
                self.sink.insert(
                    Table::Account,
                    vec![
                        Value::Int(id),
                        Value::Int(sid),
                        Value::from(a.native_id.as_str()),
                        Value::from(last_login),
                    ],
                );
                id
            }
        };
        let from = micros(as_of);
        if changed {
            self.close(Versioned::Account, [sid, id, 0], from, seq as i64)?;
        }
        // The last login lives on `account`; the version keeps everything else.
        self.sink.touch(Versioned::Account, [sid, id, 0]);
        self.sink.insert(
            Table::AccountVersion,
            vec![
                Value::Int(sid),
                Value::Int(id),
                Value::Int(seq as i64),
                Value::Int(from),
                Value::Int(OPEN),
                Value::Null,
                Value::from(a.username.as_str()),
                Value::from(a.identity.as_ref().map(|k| k.to_string())),
                Value::from(a.linked_by.clone()),
                Value::from(a.kind.as_str()),
                Value::from(a.enabled),
                Value::from(a.mfa),
                Value::from(a.employee_id.clone()),
                Value::from(a.email.clone()),
                attributes(&a.attributes)?,
            ],
        );
        Ok(())
    }

    fn entitlement_version(
        &mut self,
        e: &Entitlement,
        as_of: Timestamp,
        seq: u64,
        changed: bool,
    ) -> Result<(), StoreError> {
        let sid = self.system_id(e.system.as_str(), seq)?;
        let existing = self.object_ids(false, sid)?.get(&e.native_id).copied();
        let id = match existing {
            Some(id) => id,
            None => {
                let id = self.ids.next_entitlement;
                self.ids.next_entitlement += 1;
                self.object_ids(false, sid)?.insert(e.native_id.clone(), id);
                self.sink.insert(
                    Table::Entitlement,
                    vec![
                        Value::Int(id),
                        Value::Int(sid),
                        Value::from(e.native_id.as_str()),
                    ],
                );
                id
            }
        };
        let from = micros(as_of);
        if changed {
            self.close(Versioned::Entitlement, [id, 0, 0], from, seq as i64)?;
        }
        self.sink.touch(Versioned::Entitlement, [id, 0, 0]);
        self.sink.insert(
            Table::EntitlementVersion,
            vec![
                Value::Int(id),
                Value::Int(seq as i64),
                Value::Int(from),
                Value::Int(OPEN),
                Value::Null,
                Value::from(e.name.as_str()),
                Value::from(e.privileged),
                Value::Text(serde_json::to_string(e)?),
            ],
        );
        Ok(())
    }
}

/// Free attributes as stored: JSON text, or NULL when there are none.
/// `$1..$9` of the finding upserts: id, rule, severity, identity, system, account, time,
/// record, seq.
fn finding_row(f: &gatehouse_model::Finding, at: i64, seq: i64) -> Result<Vec<Value>, StoreError> {
    Ok(vec![
        Value::from(f.id.as_str()),
        Value::from(f.rule.as_str()),
        Value::from(f.severity.as_str()),
        Value::from(f.identity.as_ref().map(|k| k.to_string())),
        Value::from(f.system.as_ref().map(|k| k.to_string())),
        Value::from(f.account.clone()),
        Value::Int(at),
        Value::Text(serde_json::to_string(f)?),
        Value::Int(seq),
    ])
}

pub(crate) fn attributes(a: &gatehouse_model::Attributes) -> Result<Value, StoreError> {
    Ok(if a.is_empty() {
        Value::Null
    } else {
        Value::Text(serde_json::to_string(a)?)
    })
}
