//! The one way state changes: append an event, in a transaction that also appends its leaf to
//! the ledger and projects it onto the state tables of its domain.
//!
//! INVARIANT: the event row, its Merkle leaf and its effect on the tables are committed
//! together or not at all. If the ledger cannot be updated, the transaction is rolled back and
//! the state change does not happen (fail closed).

use std::sync::{Arc, Mutex};

use gatehouse_ledger::{Appender, Hash, TileId, TileReader, decode_tile, encode_tile, leaf_hash};
use gatehouse_model::{Event, EventData, Timestamp};

use crate::Shared;
use crate::body;
use crate::checkpoint::Checkpointer;
use crate::conn::{Backend, Conn, Value};
use crate::error::StoreError;
use crate::inventory::{self, Directory};
use crate::sink::{Phase, Sink, TableSpec};
use crate::txn::Reader;
use crate::{campaigns, domain, findings, users};

/// Flush buffered writes after this many operations, to bound memory during big imports.
const FLUSH_EVERY: usize = 50_000;

/// The PostgreSQL advisory lock that serialises writers (and so sequence numbers).
const WRITER_LOCK: i64 = 7_202_611_230;

/// Microseconds since the epoch, as stored.
pub(crate) fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

/// A stored time back as a timestamp.
pub(crate) fn from_micros(us: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_microsecond(us)
        .map_err(|e| StoreError::Corrupt(format!("time {us} is out of range: {e}")))
}

/// The log's own table.
pub(crate) const EVENT: TableSpec = TableSpec {
    name: "event",
    columns: &["seq", "recorded_at", "actor", "kind", "object", "body"],
    phase: Phase::Log,
};

/// How a write transaction's commit reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// The commit is on disk when it returns.
    Full,
    /// One batch of an import: written without waiting for the disk (SQLite in WAL mode keeps
    /// the database consistent whatever happens); the import's last batch is `Full`, which
    /// makes every earlier one durable too.
    Batch,
}

/// Starts a write transaction and takes the writers' lock.
pub(crate) fn begin(conn: &mut Conn, durability: Durability) -> Result<(), StoreError> {
    match conn.backend() {
        Backend::Sqlite => {
            // The write-ahead log is copied back into the database by the store's
            // checkpointer, off the writer's turn (see `checkpoint.rs`).
            conn.batch(match durability {
                Durability::Full => "PRAGMA synchronous = FULL",
                Durability::Batch => "PRAGMA synchronous = NORMAL",
            })?;
            conn.batch("BEGIN IMMEDIATE")
        }
        Backend::Postgres => {
            // One round trip: the transaction, its durability and the writers' lock.
            let commit = match durability {
                Durability::Full => "on",
                Durability::Batch => "off",
            };
            if let Err(e) = conn.batch(&format!(
                "BEGIN; SET LOCAL synchronous_commit = {commit}; \
                 SELECT pg_advisory_xact_lock({WRITER_LOCK})"
            )) {
                let _ = conn.batch("ROLLBACK");
                return Err(e);
            }
            Ok(())
        }
    }
}

/// Reads ledger tiles from the database.
pub(crate) struct DbTiles<'a>(pub(crate) &'a mut Conn);

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

/// The ledger's right edge at the end of the log, in a write transaction: `cached`, the edge
/// this process left after its last commit, holds what the tiles would say unless another
/// process has appended since (the size tells); otherwise it is read from the tiles.
pub(crate) fn ledger_edge(
    conn: &mut Conn,
    cached: Option<Appender>,
) -> Result<Appender, StoreError> {
    let size = conn.scalar("SELECT max(seq) FROM event", &[])? as u64;
    Ok(match cached {
        Some(edge) if edge.size() == size => edge,
        _ => Appender::load(size, &mut DbTiles(conn))?,
    })
}

/// Writes the tiles of the ledger that changed since the last call; returns the time it took.
pub(crate) fn write_tiles(
    conn: &mut Conn,
    ledger: &mut Appender,
) -> Result<std::time::Duration, StoreError> {
    let t = std::time::Instant::now();
    for (id, hashes) in ledger.take_dirty_tiles() {
        conn.exec(
            "INSERT INTO ledger_tile (level, idx, hashes) VALUES ($1, $2, $3) \
             ON CONFLICT (level, idx) DO UPDATE SET hashes = excluded.hashes",
            &[
                Value::Int(i64::from(id.level)),
                Value::Int(id.index as i64),
                Value::Blob(encode_tile(&hashes)),
            ],
        )?;
    }
    Ok(t.elapsed())
}

/// A progress callback: `(events appended, events expected)`.
pub type Progress = std::sync::Arc<dyn Fn(u64, u64) + Send + Sync>;

/// Appends events within one write transaction. Get one from [`crate::Store::write`].
pub struct Writer<'s> {
    pub(crate) conn: &'s mut Conn,
    pub(crate) sink: Sink,
    ledger: Appender,
    next_seq: u64,
    now: Timestamp,
    actor: String,
    appended: u64,
    ledger_time: std::time::Duration,
    expected: u64,
    progress: Option<Progress>,
    pub(crate) directory: &'s Mutex<Option<(i64, Directory)>>,
    /// The store's SQLite checkpointer (a file store), to send a large write's log to the
    /// disk while it goes on.
    log: Option<&'s Arc<Checkpointer>>,
    /// What the inventory domain keeps for the length of the transaction.
    pub(crate) inventory: inventory::TxState,
    /// Whether this write changed a user of Gatehouse (see [`crate::Store::users_version`]).
    pub(crate) users_changed: bool,
}

impl<'s> Writer<'s> {
    /// Starts a writer inside an open write transaction.
    pub(crate) fn begin(
        conn: &'s mut Conn,
        actor: &str,
        now: Timestamp,
        shared: &'s Shared,
        edge: Option<Appender>,
    ) -> Result<Self, StoreError> {
        let ledger = ledger_edge(conn, edge)?;
        Ok(Writer::resume(conn, actor, now, shared, ledger))
    }

    /// Starts a writer inside an open write transaction where the ledger's edge is known: the
    /// previous write of a group of writes left it (see `group.rs`).
    pub(crate) fn resume(
        conn: &'s mut Conn,
        actor: &str,
        now: Timestamp,
        shared: &'s Shared,
        ledger: Appender,
    ) -> Self {
        Writer {
            conn,
            sink: Sink::default(),
            next_seq: ledger.size() + 1,
            ledger,
            now,
            actor: actor.to_owned(),
            appended: 0,
            ledger_time: std::time::Duration::ZERO,
            expected: 0,
            progress: None,
            directory: &shared.directory,
            log: shared.checkpoints(),
            inventory: inventory::TxState::default(),
            users_changed: false,
        }
    }

    /// Writes everything buffered; called before the commit.
    pub(crate) fn finish(&mut self) -> Result<(), StoreError> {
        self.flush()
    }

    /// Writes the buffered rows but leaves the ledger's changed tiles in its edge, for the
    /// last write of a group to write once (see `group.rs`).
    pub(crate) fn finish_rows(&mut self) -> Result<(), StoreError> {
        domain::before_flush(self);
        self.sink.flush(self.conn)
    }

    /// The ledger's right edge, once [`Writer::finish`] has written its tiles.
    pub(crate) fn edge(&self) -> Appender {
        self.ledger.clone()
    }

    /// The ledger's right edge, with the tiles it has not written yet.
    pub(crate) fn into_edge(self) -> Appender {
        self.ledger
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

    /// Who makes the change.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// Events appended by this writer so far.
    pub fn appended(&self) -> u64 {
        self.appended
    }

    /// Reads inside this transaction, seeing what it has appended so far.
    pub fn read(&mut self) -> Result<Reader<'_>, StoreError> {
        self.flush()?;
        let size = self.next_seq - 1;
        Ok(Reader::new(self.conn, size, self.directory))
    }

    /// Reads the domains' state inside this transaction, seeing what it has appended so far,
    /// but not the ledger's tiles: those of the events appended so far are written once, when
    /// the transaction (or its group) ends, rather than before every read. For a write that
    /// reads the state it changes (a decision reads its item); ask the ledger's questions
    /// (roots, proofs) through [`Writer::read`].
    pub fn read_state(&mut self) -> Result<Reader<'_>, StoreError> {
        self.finish_rows()?;
        let size = self.next_seq - 1;
        Ok(Reader::new(self.conn, size, self.directory))
    }

    /// The connection, with every buffered write flushed, for the domains' reads.
    pub(crate) fn db(&mut self) -> Result<&mut Conn, StoreError> {
        self.flush()?;
        Ok(self.conn)
    }

    /// Appends an event: assigns its sequence number, records it, adds its leaf to the ledger
    /// and applies it to the state tables. Returns the sequence number.
    pub fn append(&mut self, data: impl Into<EventData>) -> Result<u64, StoreError> {
        let event = Event {
            seq: self.next_seq,
            at: self.now,
            actor: self.actor.clone(),
            data: data.into(),
        };
        let body = event.encode()?;
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

    /// Appends many events; equivalent to calling [`Writer::append`] for each, in order.
    ///
    /// Another thread encodes and hashes the events, and builds the rows of those whose
    /// projection reads nothing (see `campaigns::prepare`), a chunk ahead of this one, which
    /// projects the others and writes; this thread also hands the events it is done with
    /// back to be freed there. A campaign launch of a million items spent a quarter of its
    /// writing time on work that now runs beside the database's.
    pub fn append_all(&mut self, data: Vec<EventData>) -> Result<(), StoreError> {
        const CHUNK: usize = 64;
        if data.len() <= 2 {
            for d in data {
                self.append(d)?;
            }
            return Ok(());
        }
        let (start, now, actor) = (self.next_seq, self.now, self.actor.clone());
        let backend = self.conn.backend();
        std::thread::scope(|s| {
            let (ready, chunks) =
                std::sync::mpsc::sync_channel::<Result<Vec<Built>, StoreError>>(2);
            let (done, garbage) = std::sync::mpsc::channel::<Vec<Event>>();
            let builder = s.spawn(move || {
                let mut hashing = std::time::Duration::ZERO;
                let mut data = data.into_iter().enumerate().peekable();
                while data.peek().is_some() {
                    let chunk = data
                        .by_ref()
                        .take(CHUNK)
                        .map(|(i, d)| {
                            let event = Event {
                                seq: start + i as u64,
                                at: now,
                                actor: actor.clone(),
                                data: d,
                            };
                            let body = event.encode()?;
                            let t = std::time::Instant::now();
                            let leaf = leaf_hash(&body);
                            hashing += t.elapsed();
                            let body = body::pack(body);
                            let rows = prepare(backend, &event).transpose()?;
                            Ok(Built {
                                event,
                                body,
                                leaf,
                                rows,
                            })
                        })
                        .collect::<Result<Vec<_>, StoreError>>();
                    let failed = chunk.is_err();
                    if ready.send(chunk).is_err() || failed {
                        break;
                    }
                    garbage.try_iter().for_each(drop);
                }
                drop(ready);
                // What is left to free, until the writer is done.
                garbage.into_iter().for_each(drop);
                hashing
            });
            let written = (|| {
                for chunk in chunks {
                    let mut recorded = Vec::with_capacity(CHUNK);
                    for b in chunk? {
                        if b.event.seq != self.next_seq {
                            return Err(StoreError::Corrupt(format!(
                                "event {} was built to follow event {}",
                                b.event.seq,
                                self.next_seq - 1
                            )));
                        }
                        self.record_hashed(&b.event, b.body, b.leaf, b.rows)?;
                        self.next_seq += 1;
                        recorded.push(b.event);
                    }
                    let _ = done.send(recorded);
                }
                Ok(())
            })();
            drop(done);
            let hashing = builder
                .join()
                .map_err(|_| StoreError::Corrupt("encoding events failed".into()))?;
            self.ledger_time += hashing;
            written
        })
    }

    fn record(&mut self, event: &Event, body: Vec<u8>) -> Result<(), StoreError> {
        let t = std::time::Instant::now();
        let leaf = leaf_hash(&body);
        self.ledger_time += t.elapsed();
        self.record_hashed(event, body::pack(body), leaf, None)
    }

    /// Records an event whose leaf is known, with its body as stored (see `body.rs`); `rows`,
    /// its projection when it was built apart.
    fn record_hashed(
        &mut self,
        event: &Event,
        body: Vec<u8>,
        leaf: Hash,
        rows: Option<Sink>,
    ) -> Result<(), StoreError> {
        let t = std::time::Instant::now();
        self.ledger.push(leaf);
        self.ledger_time += t.elapsed();
        match rows {
            Some(rows) => self.sink.absorb(rows),
            None => self.project(event)?,
        }
        self.sink.insert(
            &EVENT,
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
            if let Some(log) = self.log {
                log.sync_ahead();
            }
        }
        if self.appended.is_multiple_of(4096) {
            self.report();
        }
        Ok(())
    }

    /// Hands an event to the projection of its domain.
    fn project(&mut self, event: &Event) -> Result<(), StoreError> {
        match &event.data {
            EventData::Inventory(e) => inventory::project(self, event.seq, e),
            EventData::Findings(e) => findings::project(self, event.seq, e),
            EventData::Campaigns(e) => campaigns::project(self, event.seq, e),
            EventData::Users(e) => users::project(self, event.seq, e),
        }
    }

    /// Writes buffered rows and the changed ledger tiles.
    pub(crate) fn flush(&mut self) -> Result<(), StoreError> {
        self.finish_rows()?;
        self.ledger_time += write_tiles(self.conn, &mut self.ledger)?;
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

    /// The tree's size with the events appended so far (its root costs a fold of hashes:
    /// [`Writer::tree_head`] when it is needed).
    pub fn tree_size(&self) -> u64 {
        self.ledger.size()
    }
}

/// An event encoded and hashed, with its rows when its projection reads nothing.
struct Built {
    event: Event,
    body: Vec<u8>,
    leaf: Hash,
    rows: Option<Sink>,
}

/// The rows of an event whose projection needs no connection, built on any thread.
fn prepare(backend: Backend, event: &Event) -> Option<Result<Sink, StoreError>> {
    match &event.data {
        EventData::Campaigns(e) => campaigns::prepare(backend, event.seq, e),
        EventData::Inventory(_) | EventData::Findings(_) | EventData::Users(_) => None,
    }
}
