//! The one place that speaks SQL.
//!
//! A [`Store`] is an embedded SQLite file or a PostgreSQL database with the same schema and the
//! same behaviour. It is a cheap, cloneable handle over a pool of connections, safe to share
//! between threads:
//!
//! - [`Store::read`] runs a closure in a read transaction that sees one consistent state of the
//!   store (one ledger size) however long it takes, while others write;
//! - [`Store::write`] runs a closure in a write transaction: the events it appends, their
//!   ledger leaves and their effect on the state tables commit together, or nothing does.
//!   Writers are served one at a time, in arrival order, so sequence numbers never fork;
//!   small writes that wait together share one transaction and one sync of the disk, each in
//!   a savepoint of its own, and each returns only once that transaction has committed
//!   (group commit, see [`Store::commit_stats`]);
//! - an import computes its changes in a read transaction and records them in batches of write
//!   transactions ([`ImportLock::apply`]), so that a small write waits for one batch of an
//!   import, never for a whole one.
//!
//! Nothing outside this crate sees a connection, a SQL value or SQL text: answers are model
//! types. An async program calls the store from a blocking thread ([`Store::read_async`] and
//! [`Store::write_async`] with the `tokio` feature, or `tokio::task::spawn_blocking`).
//!
//! The store is organised by domain: `inventory` (imports, systems, identities, accounts,
//! entitlements, grants, roles, warrant records), `findings` (the risk analysis),
//! `campaigns` (access reviews, remediation, notifications) and `users` (who signs in to
//! Gatehouse, their credentials and API tokens). Each
//! domain module owns its events' projection, its tables and its queries; see
//! ARCHITECTURE.md for how a domain is added.
//!
//! **Architecture invariant**: no state table is written except by projecting an event, so the
//! state can always be rebuilt from the log (see [`Store::rebuilt`]).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod body;
pub mod campaigns;
mod checkpoint;
mod conn;
mod domain;
mod error;
pub mod findings;
// Jobs (writes without a thread of their own) are queued by `Store::write_async` alone.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
mod group;
pub mod inventory;
mod ledger;
mod lock;
mod pgtls;
mod pool;
mod schema;
mod sink;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod txn;
pub mod users;
mod verify;
mod writer;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use gatehouse_model::Timestamp;

pub use conn::Backend;
pub use error::StoreError;
pub use group::CommitStats;
pub use inventory::import::{
    ImportLock, ImportLogEntry, ImportOptions, ImportPlan, ImportSummary, IncompleteImport,
    LastImport, SystemImport, UNIT_CHANGES,
};
pub use inventory::memory::{ImportMemory, RecordChanges, RememberedFile, SystemSince};
pub use ledger::{AnswerPoint, CheckpointRow, EventFilter, EventRow, StateDifference};
pub use schema::{Migration, SCHEMA_VERSION};
pub use txn::Reader;
pub use verify::{VerifyError, VerifyOptions, VerifyReport, WitnessChecks};
pub use writer::{Progress, Writer};

use crate::group::WriterQueue;
use crate::lock::Nesting;
use crate::pool::{Pool, Target};

/// Where the embedded store lives by default.
pub const DEFAULT_SQLITE: &str = "gatehouse.db";

/// How to open a store.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Create the store when there is none (a new SQLite file, or the schema in an empty
    /// PostgreSQL database). Implies `migrate`.
    pub create: bool,
    /// Apply pending schema migrations. Without it, a store with an older schema is refused
    /// with [`StoreError::Outdated`].
    pub migrate: bool,
    /// Read SQLite through a memory map (for a process that answers point-in-time questions;
    /// an import's pages read through the map would count as its resident memory).
    pub map_for_questions: bool,
    /// At most this many connections (readers in parallel, plus one writer at a time).
    pub max_connections: usize,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            create: false,
            migrate: false,
            map_for_questions: false,
            max_connections: 16,
        }
    }
}

impl OpenOptions {
    /// Open an existing store as it is.
    pub fn existing() -> Self {
        Self::default()
    }

    /// Create the store if need be and bring its schema up to date (`gatehouse init`).
    pub fn create() -> Self {
        OpenOptions {
            create: true,
            migrate: true,
            ..Self::default()
        }
    }

    /// Open an existing store and bring its schema up to date (`gatehouse migrate`, the
    /// server at its start).
    pub fn migrate() -> Self {
        OpenOptions {
            migrate: true,
            ..Self::default()
        }
    }

    /// Also read through a memory map.
    pub fn for_questions(mut self) -> Self {
        self.map_for_questions = true;
        self
    }
}

/// A handle on a Gatehouse store. Cloning it is cheap: clones share one pool of connections.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

/// Shared by every clone of a store handle.
pub(crate) struct Shared {
    /// Tells transactions of different stores apart (see [`Nesting`]).
    id: usize,
    pool: Pool,
    /// The location as given (it may hold a password: never print it).
    #[allow(dead_code)]
    url: String,
    /// The location with any password hidden.
    location: String,
    writers: WriterQueue,
    /// The import lock of an in-memory store.
    memory_import: Mutex<bool>,
    /// Whether this process has checked, since it opened the store, that no index is left
    /// dropped by a bulk load that died.
    indexes_checked: AtomicBool,
    /// Every current identity, by the sequence number of the latest identity event.
    directory: Mutex<Option<(i64, inventory::Directory)>>,
    /// Each system's number of accounts, as counted recently, for `who_has` to choose its plan.
    account_counts: inventory::query::AccountCounts,
    /// Time the ledger added to this process's writes.
    ledger_nanos: std::sync::atomic::AtomicU64,
    /// Counts this process's commits that changed users (see [`Store::users_version`]).
    users_version: std::sync::atomic::AtomicU64,
    /// The ledger's right edge after this process's last commit: the next write starts from it
    /// instead of reading its tiles again, when nobody has appended since (same size).
    ledger_edge: Mutex<Option<gatehouse_ledger::Appender>>,
    /// Migrations applied when the store was opened.
    migrated: Vec<Migration>,
}

impl Shared {
    /// The checkpointer of a SQLite file store.
    pub(crate) fn checkpoints(&self) -> Option<&Arc<checkpoint::Checkpointer>> {
        match self.pool.target() {
            Target::Sqlite { checkpoints, .. } => checkpoints.as_ref(),
            Target::Postgres { .. } => None,
        }
    }
}

impl Drop for Shared {
    /// Ends the store's checkpoint thread (after the checkpoint it may be running) before the
    /// connections close.
    fn drop(&mut self) {
        if let Some(c) = self.checkpoints() {
            c.stop();
        }
    }
}

/// Locks a mutex whose holders never panic while holding it: a poisoned one is still
/// consistent, and a waiting writer or caller must be served whatever happened.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// Hides the password of a PostgreSQL URL for messages (in its user part, or a `password`
/// parameter).
pub fn redact(location: &str) -> String {
    if let Some(rest) = location
        .strip_prefix("postgres://")
        .or_else(|| location.strip_prefix("postgresql://"))
    {
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let mut out = match rest.split_once('@') {
            Some((cred, host)) => {
                let user = cred.split(':').next().unwrap_or("");
                format!("postgres://{user}:***@{host}")
            }
            None => format!("postgres://{rest}"),
        };
        if let Some(q) = query {
            let params: Vec<String> = q
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_owned(),
                })
                .collect();
            out.push('?');
            out.push_str(&params.join("&"));
        }
        return out;
    }
    if location.contains("://") && !location.starts_with("sqlite://") {
        // Not a location we take; keep only the scheme in messages.
        return location
            .split_once("://")
            .map(|(scheme, _)| format!("{scheme}://…"))
            .unwrap_or_default();
    }
    location.to_owned()
}

/// Which backend a location names.
fn target(location: &str, mmap: bool) -> Result<Target, StoreError> {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        return Ok(Target::Postgres {
            pg: Box::new(pgtls::PgTarget::parse(location)?),
        });
    }
    if location.contains("://") && !location.starts_with("sqlite://") {
        return Err(StoreError::InvalidLocation(redact(location)));
    }
    let path = location.strip_prefix("sqlite://").unwrap_or(location);
    if path.is_empty() {
        return Err(StoreError::InvalidLocation(String::new()));
    }
    Ok(Target::Sqlite {
        path: path.to_owned(),
        mmap,
        checkpoints: (path != ":memory:").then(|| checkpoint::Checkpointer::new(path)),
    })
}

impl Store {
    /// Opens the store at `location`: a `postgres://…` URL selects PostgreSQL, a path (or
    /// `sqlite://path`) a SQLite file. Any other URL is refused. The schema version is read
    /// and checked; migrations run only when `options` ask for them.
    pub fn open(location: &str, options: &OpenOptions) -> Result<Store, StoreError> {
        let target = target(location, options.map_for_questions)?;
        if let Target::Sqlite { path, .. } = &target
            && !options.create
            && path != ":memory:"
            && !std::path::Path::new(path).exists()
        {
            return Err(StoreError::NotFound(path.clone()));
        }
        if let Target::Sqlite { path, .. } = &target
            && path != ":memory:"
            && !std::path::Path::new(path).exists()
        {
            create_private_file(path)?;
        }
        let pool = Pool::new(target, options.max_connections)?;
        let migrated = {
            let mut lease = pool.get()?;
            let conn = lease.conn();
            let version = schema::version(conn)?;
            match version {
                None if !options.create => {
                    return Err(StoreError::NotInitialised(redact(location)));
                }
                Some(v) if v > SCHEMA_VERSION => {
                    return Err(StoreError::TooNew {
                        found: v,
                        known: SCHEMA_VERSION,
                    });
                }
                Some(v) if v < SCHEMA_VERSION && !(options.migrate || options.create) => {
                    return Err(StoreError::Outdated {
                        found: v,
                        known: SCHEMA_VERSION,
                    });
                }
                Some(v) if v == SCHEMA_VERSION => Vec::new(),
                _ => schema::migrate(conn)?,
            }
        };
        Ok(Store {
            shared: Arc::new(Shared {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                pool,
                url: location.to_owned(),
                location: redact(location),
                writers: WriterQueue::default(),
                memory_import: Mutex::new(false),
                indexes_checked: AtomicBool::new(false),
                directory: Mutex::new(None),
                account_counts: Default::default(),
                ledger_nanos: Default::default(),
                users_version: Default::default(),
                ledger_edge: Mutex::new(None),
                migrated,
            }),
        })
    }

    /// A private in-memory SQLite store (for replay and tests).
    pub fn in_memory() -> Result<Store, StoreError> {
        Store::open(":memory:", &OpenOptions::create())
    }

    /// The migrations applied when this store was opened.
    pub fn migrations_applied(&self) -> &[Migration] {
        &self.shared.migrated
    }

    /// Where the store is, with any password hidden.
    pub fn location(&self) -> &str {
        &self.shared.location
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.shared.pool.target().backend()
    }

    /// Runs `f` in a read transaction: every read it makes sees the store as it was at one
    /// point (one ledger size, [`Reader::size`]), whatever is committed meanwhile.
    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Reader<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let _nesting = Nesting::enter(self.shared.id)?;
        let mut lease = self.shared.pool.get()?;
        let conn = lease.conn();
        let begin = match conn.backend() {
            Backend::Sqlite => conn.batch("BEGIN"),
            Backend::Postgres => conn.batch("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"),
        };
        begin?;
        let result = (|| {
            // The first read fixes the snapshot (SQLite starts it lazily).
            let size = conn.scalar("SELECT max(seq) FROM event", &[])? as u64;
            let mut reader = Reader::new(conn, size, &self.shared.directory)
                .with_account_counts(&self.shared.account_counts);
            f(&mut reader)
        })();
        let end = conn.batch(if result.is_ok() { "COMMIT" } else { "ROLLBACK" });
        if end.is_err() {
            lease.discard();
        }
        let out = result?;
        end?;
        Ok(out)
    }

    /// Runs `f` in one write transaction: everything it appends commits together, or nothing
    /// does. `actor` is who makes the change (recorded in every event); it may not be empty.
    ///
    /// Concurrent writes may share one transaction (group commit): each runs in a savepoint of
    /// its own, so one that fails is rolled back alone and returns its own error, and each
    /// returns success only once the shared transaction has committed durably. A write that
    /// reads ([`Writer::read`]) sees the writes ordered before it, including those of its
    /// group. The closure runs on the calling thread.
    pub fn write<T, E: From<StoreError>>(
        &self,
        actor: &str,
        now: Timestamp,
        f: impl FnOnce(&mut Writer<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        if actor.trim().is_empty() {
            return Err(StoreError::NoActor.into());
        }
        let _nesting = Nesting::enter(self.shared.id)?;
        group::write(self, actor, now, f)
    }

    /// A number that changes once a change to Gatehouse's users (role, link, credentials,
    /// disabling) written by this process has committed: whoever keeps users' records in
    /// memory (the server, between requests) reads them again when it has changed. Changes
    /// written by another process (the CLI) do not change it.
    pub fn users_version(&self) -> u64 {
        self.shared.users_version.load(Ordering::Acquire)
    }

    /// How this process's small writes were committed so far: how many, in how many
    /// transactions (fewer under concurrency, when writes share a group commit).
    pub fn commit_stats(&self) -> CommitStats {
        self.shared.writers.stats()
    }

    /// A write alone in its transaction, with a choice of durability (an import's batches
    /// commit without waiting for the disk, and its last batch with, which makes them all
    /// durable), handing the inventory's ids from a previous transaction to this one and back
    /// (see `inventory::Ids`); they are dropped if the transaction fails.
    pub(crate) fn write_carrying<T, E: From<StoreError>>(
        &self,
        actor: &str,
        now: Timestamp,
        durability: writer::Durability,
        carry: &mut Option<inventory::Ids>,
        f: impl FnOnce(&mut Writer<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let carried = carry.take();
        if actor.trim().is_empty() {
            return Err(StoreError::NoActor.into());
        }
        let _nesting = Nesting::enter(self.shared.id)?;
        let _turn = self.shared.writers.alone()?;
        let mut lease = self.shared.pool.get()?;
        let conn = lease.conn();
        writer::begin(conn, durability)?;
        let mut ledger_nanos = 0;
        let result = (|| {
            if !self.shared.indexes_checked.load(Ordering::Relaxed) {
                inventory::restore_indexes(conn)?;
            }
            let edge = self
                .shared
                .ledger_edge
                .lock()
                .ok()
                .and_then(|mut e| e.take());
            let mut w = Writer::begin(conn, actor, now, &self.shared, edge)?;
            w.inventory.ids = carried;
            let out = f(&mut w)?;
            w.finish()?;
            ledger_nanos = w.ledger_time().as_nanos() as u64;
            Ok::<_, E>((out, w.inventory.ids.take(), w.edge(), w.users_changed))
        })();
        self.shared
            .ledger_nanos
            .fetch_add(ledger_nanos, Ordering::Relaxed);
        let (out, ids, edge, users_changed) = match result {
            Ok(out) => out,
            Err(e) => {
                if conn.batch("ROLLBACK").is_err() {
                    lease.discard();
                }
                // The write may have read the identity directory as it saw it.
                if let Ok(mut d) = self.shared.directory.lock() {
                    *d = None;
                }
                return Err(e);
            }
        };
        if let Err(e) = conn.batch("COMMIT") {
            if conn.batch("ROLLBACK").is_err() {
                lease.discard();
            }
            if let Ok(mut d) = self.shared.directory.lock() {
                *d = None;
            }
            return Err(e.into());
        }
        self.shared.indexes_checked.store(true, Ordering::Relaxed);
        if users_changed {
            self.shared.users_version.fetch_add(1, Ordering::Release);
        }
        if let Ok(mut cached) = self.shared.ledger_edge.lock() {
            *cached = Some(edge);
        }
        *carry = ids;
        Ok(out)
    }

    /// Runs `f` with a connection in a write transaction that appends no event (signed
    /// checkpoints, index rebuilds).
    pub(crate) fn maintain<T>(
        &self,
        f: impl FnOnce(&mut conn::Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.maintain_with(writer::Durability::Full, f)
    }

    /// [`Store::maintain`] with a choice of durability, for writes that may be lost in a power
    /// cut without harm (the next commit, which is durable, makes them durable too).
    pub(crate) fn maintain_with<T>(
        &self,
        durability: writer::Durability,
        f: impl FnOnce(&mut conn::Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _nesting = Nesting::enter(self.shared.id)?;
        let _turn = self.shared.writers.alone()?;
        let mut lease = self.shared.pool.get()?;
        let conn = lease.conn();
        writer::begin(conn, durability)?;
        match f(conn) {
            Ok(out) => {
                if let Err(e) = conn.batch("COMMIT") {
                    if conn.batch("ROLLBACK").is_err() {
                        lease.discard();
                    }
                    return Err(e);
                }
                Ok(out)
            }
            Err(e) => {
                if conn.batch("ROLLBACK").is_err() {
                    lease.discard();
                }
                Err(e)
            }
        }
    }

    /// Runs `f` with a connection outside any transaction and outside the writers' turn:
    /// for PostgreSQL maintenance that changes no state (`ANALYZE`), so that small writes do
    /// not wait for it.
    pub(crate) fn unlocked<T>(
        &self,
        f: impl FnOnce(&mut conn::Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _nesting = Nesting::enter(self.shared.id)?;
        let mut lease = self.shared.pool.get()?;
        f(lease.conn())
    }

    /// Time the ledger added to this process's writes so far (leaf hashing, tree updates,
    /// tile writes); for the benchmarks.
    pub fn ledger_time(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.shared.ledger_nanos.load(Ordering::Relaxed))
    }

    /// The number of events in the log.
    pub fn event_count(&self) -> Result<u64, StoreError> {
        self.read(|r| Ok(r.size()))
    }

    /// [`Store::read`] from an async task: the transaction runs on a blocking thread, so the
    /// runtime's workers never wait for the database.
    #[cfg(feature = "tokio")]
    pub async fn read_async<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut Reader<'_>) -> Result<T, E> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read(f))
            .await
            .map_err(|e| StoreError::Corrupt(format!("a read task failed: {e}")))?
    }

    /// [`Store::write`] from an async task (see [`Store::read_async`]).
    #[cfg(feature = "tokio")]
    pub async fn write_async<T, E, F>(&self, actor: String, now: Timestamp, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut Writer<'_>) -> Result<T, E> + Send + 'static,
    {
        if actor.trim().is_empty() {
            return Err(StoreError::NoActor.into());
        }
        // The write waits in the queue as a job, run by whichever thread holds the group's
        // transaction in its turn (see `group`).
        let (tx, rx) = tokio::sync::oneshot::channel();
        group::submit(group::Job::new(
            self.clone(),
            actor,
            now,
            f,
            move |outcome| {
                let _ = tx.send(outcome);
            },
        ));
        rx.await
            .map_err(|_| StoreError::Corrupt("a write ended without an answer".into()))?
    }
}

/// Creates an empty SQLite file readable by its owner only (the store holds who has access to
/// what); SQLite gives its journal files the same permissions.
fn create_private_file(path: &str) -> Result<(), StoreError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Io(format!("cannot create `{path}`: {e}"))),
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.shared.location)
            .finish()
    }
}
