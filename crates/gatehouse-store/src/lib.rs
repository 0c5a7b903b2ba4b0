//! The one place that speaks SQL.
//!
//! A [`Store`] is an embedded SQLite file or a PostgreSQL database with the same schema and the
//! same behaviour. Every change goes through [`Store::write`], which hands out a [`Writer`]:
//! events are appended there, in one transaction with their ledger leaf and their effect on the
//! state tables. Reads are plain functions over the current connection.
//!
//! **Architecture invariant**: no state table is written except by projecting an event, so the
//! state can always be rebuilt from the log (see [`Store::replay_into`]).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod db;
mod error;
pub mod findings;
mod import;
mod ledger;
mod migrate;
pub mod query;
mod sink;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod verify;
mod writer;

use gatehouse_model::Timestamp;

pub use db::{Backend, Db, RowRef, Value};
pub use error::StoreError;
pub use import::{ImportOptions, ImportSummary, SystemImport};
pub use ledger::{CheckpointRow, EventFilter, EventRow, STATE_TABLES, StateDifference};
pub use verify::{VerifyError, VerifyOptions, VerifyReport};
pub use writer::{DbTiles, Directory, Progress, Writer, from_micros, micros};

/// Where the embedded store lives by default.
pub const DEFAULT_SQLITE: &str = "gatehouse.db";

/// A connection to a Gatehouse store.
pub struct Store {
    db: Db,
    /// The location as given (it may hold a password: never print it).
    url: String,
    location: String,
    ledger_time: std::time::Duration,
    /// The identity directory as of a ledger size, reused by the next writes while no other
    /// writer has appended anything.
    directory: Option<(u64, writer::Directory)>,
    /// Inside [`Store::bulk`]: the indexes its writes have dropped so far, rebuilt when it ends.
    bulk: Option<Vec<&'static writer::DeferrableIndex>>,
}

/// Whether [`Store::open`] may create a new store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// The store must exist already.
    Existing,
    /// Create the store if it does not exist (`gatehouse init`).
    Create,
}

/// Hides the password of a PostgreSQL URL for messages.
pub fn redact(location: &str) -> String {
    if let Some(rest) = location
        .strip_prefix("postgres://")
        .or_else(|| location.strip_prefix("postgresql://"))
        && let Some((cred, host)) = rest.split_once('@')
    {
        let user = cred.split(':').next().unwrap_or("");
        return format!("postgres://{user}:***@{host}");
    }
    location.to_owned()
}

impl Store {
    /// Opens the store at `location`: a `postgres://…` URL selects PostgreSQL, anything else is
    /// a SQLite file path. The schema is migrated to the current version.
    pub fn open(location: &str, mode: OpenMode) -> Result<Store, StoreError> {
        let db = if location.starts_with("postgres://") || location.starts_with("postgresql://") {
            let client = postgres::Client::connect(location, postgres::NoTls)?;
            Db::Pg {
                client: Box::new(client),
                statements: Default::default(),
            }
        } else {
            let path = location.strip_prefix("sqlite://").unwrap_or(location);
            if mode == OpenMode::Existing
                && path != ":memory:"
                && !std::path::Path::new(path).exists()
            {
                return Err(StoreError::NotFound(path.to_owned()));
            }
            let conn = rusqlite::Connection::open(path)?;
            conn.busy_timeout(std::time::Duration::from_secs(30))?;
            conn.set_prepared_statement_cache_capacity(64);
            // A rollback journal, not WAL: a bulk import into new pages is written once, where
            // WAL writes every page twice (log, then checkpoint) — 10–15% of a large import.
            // Readers still read during an import until its commit (or a cache spill, which
            // the 128 MiB page cache makes rare); PostgreSQL is the backend for heavy
            // concurrent use. FULL sync makes every commit durable, so a signed checkpoint
            // never covers a transaction that a power cut could lose. No memory map by default
            // (see `Store::map_for_questions`).
            conn.execute_batch(
                "PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF; \
                 PRAGMA cache_size = -131072; PRAGMA temp_store = MEMORY;",
            )?;
            Db::Sqlite(conn)
        };
        let mut store = Store {
            db,
            url: location.to_owned(),
            location: redact(location),
            ledger_time: std::time::Duration::ZERO,
            directory: None,
            bulk: None,
        };
        migrate::migrate(&mut store.db, mode)?;
        Ok(store)
    }

    /// Runs `f`, a series of writes that may load many rows (a whole snapshot folder), as one
    /// bulk load: an index that one of its imports drops for speed (see
    /// `Writer::expect_rows`) stays dropped until the last write and is rebuilt once, when `f`
    /// ends, whether it succeeded or not. Queries in between are answered correctly, only more
    /// slowly; should the process die before the rebuild, the next write outside a bulk load
    /// rebuilds it.
    pub fn bulk<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&mut Store) -> Result<T, E>,
    ) -> Result<T, E> {
        if self.bulk.is_some() {
            return f(self);
        }
        self.bulk = Some(Vec::new());
        let out = f(self);
        let dropped = self.bulk.take().unwrap_or_default();
        let rebuilt = writer::rebuild_indexes(&mut self.db, &dropped);
        let out = out?;
        rebuilt?;
        Ok(out)
    }

    /// Opens a private in-memory SQLite store (for replay and tests).
    pub fn in_memory() -> Result<Store, StoreError> {
        Store::open(":memory:", OpenMode::Create)
    }

    /// Another connection to the same store, for reading in parallel; `None` for an
    /// in-memory store, which no other connection can see.
    pub fn reader(&self) -> Option<Store> {
        if self.url == ":memory:" {
            return None;
        }
        Store::open(&self.url, OpenMode::Existing).ok()
    }

    /// Reads through a memory map from now on (SQLite; up to its 2 GiB limit), for a
    /// connection that answers questions: a point-in-time question touches a few thousand
    /// scattered pages, and mapping them costs less than copying each one in. Imports and the
    /// analysis do without, because every page read through the map counts as resident memory.
    pub fn map_for_questions(&mut self) -> Result<(), StoreError> {
        if self.backend() == Backend::Sqlite {
            self.db.batch("PRAGMA mmap_size = 2147418112")?;
        }
        Ok(())
    }

    /// Where the store is, with any password hidden.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// The connection, for the read functions of [`query`].
    pub fn db(&mut self) -> &mut Db {
        &mut self.db
    }

    /// Runs `f` in one write transaction: everything it appends commits together, or nothing
    /// does. Writers are serialised (SQLite's write lock, a PostgreSQL advisory lock), so the
    /// log never forks or reorders.
    pub fn write<T, E: From<StoreError>>(
        &mut self,
        actor: &str,
        now: Timestamp,
        f: impl FnOnce(&mut Writer<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        match self.db.backend() {
            Backend::Sqlite => self.db.batch("BEGIN IMMEDIATE")?,
            Backend::Postgres => {
                self.db.batch("BEGIN")?;
                if let Err(e) = self.db.batch("SELECT pg_advisory_xact_lock(7202611230)") {
                    let _ = self.db.batch("ROLLBACK");
                    return Err(e.into());
                }
            }
        }
        let mut ledger_time = std::time::Duration::ZERO;
        let mut directory = None;
        let cached = self.directory.take();
        let mut dropped = self.bulk.clone();
        let result = (|| {
            if dropped.is_none() {
                writer::restore_indexes(&mut self.db)?;
            }
            let mut w = Writer::begin(&mut self.db, actor, now, cached, dropped.take())?;
            let out = f(&mut w)?;
            dropped = w.finish()?;
            ledger_time = w.ledger_time();
            directory = w.directory_after_commit();
            Ok::<T, E>(out)
        })();
        self.ledger_time += ledger_time;
        match result {
            Ok(out) => {
                if let Err(e) = self.db.batch("COMMIT") {
                    let _ = self.db.batch("ROLLBACK");
                    return Err(e.into());
                }
                self.directory = directory;
                if self.bulk.is_some() {
                    self.bulk = dropped;
                }
                Ok(out)
            }
            Err(e) => {
                let _ = self.db.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Time the ledger added to the writes of this connection so far (leaf hashing, tree
    /// updates, tile writes); for the benchmarks.
    pub fn ledger_time(&self) -> std::time::Duration {
        self.ledger_time
    }

    /// The number of events in the log.
    pub fn event_count(&mut self) -> Result<u64, StoreError> {
        Ok(self.db.scalar("SELECT max(seq) FROM event", &[])? as u64)
    }
}
