//! A small pool of connections, and the one place that opens them with the right settings.
//!
//! Why not an off-the-shelf pool: ours needs no reaper thread and no eager connections (a CLI
//! command uses one or two), must keep the single connection of an in-memory database alive
//! for the life of the store, and must discard a connection whose transaction could not be
//! closed. That is the whole of it, below.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::config::DbConfig;

use crate::checkpoint::Checkpointer;
use crate::conn::{Backend, Conn, Statements};
use crate::error::StoreError;
use crate::lock;

/// How long a caller waits for a connection before [`StoreError::Busy`].
const WAIT: Duration = Duration::from_secs(60);

/// How long SQLite waits for a lock held by another process, one millisecond at a time (so
/// that a short gap between an import's batches is enough for a waiting decision to get in).
const SQLITE_BUSY: Duration = Duration::from_secs(60);

/// Where connections go and how they are set up.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// A SQLite file, or `:memory:`.
    Sqlite {
        path: String,
        /// Read through a memory map (connections that answer point-in-time questions).
        mmap: bool,
        /// Copies the write-ahead log back (a file; `None` for `:memory:`).
        checkpoints: Option<std::sync::Arc<Checkpointer>>,
    },
    /// A PostgreSQL server, with its TLS settings.
    Postgres { pg: Box<crate::pgtls::PgTarget> },
}

impl Target {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Target::Sqlite { .. } => Backend::Sqlite,
            Target::Postgres { .. } => Backend::Postgres,
        }
    }

    pub(crate) fn in_memory(&self) -> bool {
        matches!(self, Target::Sqlite { path, .. } if path == ":memory:")
    }

    /// Opens one connection with the store's settings.
    pub(crate) fn connect(&self) -> Result<Conn, StoreError> {
        match self {
            Target::Postgres { pg } => {
                let client = pg.connect()?;
                Ok(Conn::Pg {
                    client: Box::new(client),
                    statements: Statements::default(),
                })
            }
            Target::Sqlite {
                path,
                mmap,
                checkpoints,
            } => {
                let mut conn = rusqlite::Connection::open(path)?;
                conn.busy_handler(Some(sqlite_busy))?;
                conn.set_prepared_statement_cache_capacity(64);
                // Plans do not depend on the values bound to a statement. Without this, SQLite
                // prepares a statement again at every run whose parameter it compared with an
                // indexed expression (`lower(email)` on identities) or used as a `LIMIT`: a
                // tenth of an inbox page and a fifth of a review decision were spent parsing
                // the same SQL again. Limits that shape a plan are written into the SQL.
                conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
                // WAL: readers never wait for a writer and always see one committed state,
                // so questions keep their answers while an import writes batch after batch.
                // FULL sync makes every commit durable (a signed checkpoint never covers a
                // transaction a power cut could lose); an import lowers it for its own
                // batches and makes them durable at its end. Foreign keys are declared but
                // not enforced here (the projection writes only rows whose references exist;
                // `ledger verify` replays the log to catch anything else).
                conn.execute_batch(
                    "PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF; \
                     PRAGMA cache_size = -131072; PRAGMA temp_store = MEMORY;",
                )?;
                if *mmap {
                    conn.execute_batch("PRAGMA mmap_size = 2147418112")?;
                }
                if let Some(checkpoints) = checkpoints {
                    checkpoints.install(&mut conn)?;
                }
                Ok(Conn::Sqlite(conn))
            }
        }
    }
}

/// Retries a lock held by another connection every millisecond, for up to [`SQLITE_BUSY`].
fn sqlite_busy(attempt: i32) -> bool {
    if Duration::from_millis(attempt.max(0) as u64) >= SQLITE_BUSY {
        return false;
    }
    std::thread::sleep(Duration::from_millis(1));
    true
}

struct State {
    idle: Vec<Conn>,
    /// The connection that last wrote, kept for the next group of writes (see
    /// [`Pool::get_for_writes`]); lent to a reader only when no other is to be had.
    kept: Option<Conn>,
    open: usize,
    /// Callers waiting for a connection, first come first served.
    waiting: VecDeque<Arc<Waiter>>,
}

/// What a waiting caller is handed.
enum Handed {
    /// A connection another caller gave back.
    Conn(Conn),
    /// Leave to open a connection (one was closed as broken).
    Open,
}

/// One caller waiting for a connection.
#[derive(Default)]
struct Waiter {
    handed: Mutex<Option<Handed>>,
    woken: Condvar,
}

/// Connections to one store.
///
/// A connection given back goes straight to the caller that has waited longest. Before, it
/// went back to the idle list and one waiter was woken to look for it, by which time a caller
/// just arriving had often taken it: under fifty concurrent requests on sixteen connections,
/// some requests waited for many turns, and the slowest hundredth of inbox pages took four to
/// six times the median.
pub(crate) struct Pool {
    target: Target,
    max: usize,
    state: Mutex<State>,
}

/// A connection borrowed from the pool; it goes back when dropped, unless it was marked
/// broken.
pub(crate) struct Lease<'p> {
    pool: &'p Pool,
    conn: Option<Conn>,
    broken: bool,
}

impl Pool {
    /// A pool of at most `max` connections; an in-memory database gets exactly one, opened
    /// now and kept.
    pub(crate) fn new(target: Target, max: usize) -> Result<Pool, StoreError> {
        let mut state = State {
            idle: Vec::new(),
            kept: None,
            open: 0,
            waiting: VecDeque::new(),
        };
        let max = if target.in_memory() { 1 } else { max.max(1) };
        if target.in_memory() {
            state.idle.push(target.connect()?);
            state.open = 1;
        }
        Ok(Pool {
            target,
            max,
            state: Mutex::new(state),
        })
    }

    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    /// Borrows a connection: an idle one, a new one while fewer than `max` are open, or the
    /// next one given back, in the order callers asked.
    pub(crate) fn get(&self) -> Result<Lease<'_>, StoreError> {
        let waiter = {
            let mut state = self.lock()?;
            if state.waiting.is_empty() {
                if let Some(conn) = state.idle.pop() {
                    return Ok(self.lease(conn));
                }
                if state.open < self.max {
                    state.open += 1;
                    drop(state);
                    return self.connect();
                }
                if let Some(conn) = state.kept.take() {
                    return Ok(self.lease(conn));
                }
            }
            let waiter = Arc::new(Waiter::default());
            state.waiting.push_back(waiter.clone());
            waiter
        };
        let deadline = Instant::now() + WAIT;
        let mut handed = lock(&waiter.handed);
        loop {
            match handed.take() {
                Some(Handed::Conn(conn)) => return Ok(self.lease(conn)),
                Some(Handed::Open) => {
                    drop(handed);
                    return self.connect();
                }
                None => {}
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            handed = waiter
                .woken
                .wait_timeout(handed, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        drop(handed);
        // Out of the queue, unless a connection was handed over meanwhile.
        let mut state = self.lock()?;
        state.waiting.retain(|w| !Arc::ptr_eq(w, &waiter));
        drop(state);
        match lock(&waiter.handed).take() {
            Some(Handed::Conn(conn)) => Ok(self.lease(conn)),
            Some(Handed::Open) => self.connect(),
            None => Err(StoreError::Busy(WAIT.as_secs())),
        }
    }

    /// Borrows a connection for a group of writes: the one that wrote last, if it is idle.
    ///
    /// Why: SQLite empties a connection's page cache when it finds that another connection
    /// has written since its last transaction. The pages a write touches (the ends of the
    /// event and ledger tables, the rows being decided, most of them still in the write-ahead
    /// log) then have to be read again. Readers take any connection, so a group of writes
    /// given whichever connection a reader gave back last read them again at every group
    /// (docs/PERFORMANCE.md, "Decisions by their keys"); the connection kept by
    /// [`Pool::keep`] finds them in its cache.
    pub(crate) fn get_for_writes(&self) -> Result<Lease<'_>, StoreError> {
        {
            let mut state = self.lock()?;
            if state.waiting.is_empty()
                && let Some(conn) = state.kept.take()
            {
                return Ok(self.lease(conn));
            }
        }
        self.get()
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        self.state
            .lock()
            .map_err(|_| StoreError::Corrupt("the connection pool is poisoned".into()))
    }

    fn lease(&self, conn: Conn) -> Lease<'_> {
        Lease {
            pool: self,
            conn: Some(conn),
            broken: false,
        }
    }

    /// Opens a connection already counted as open; gives the place back if it fails.
    fn connect(&self) -> Result<Lease<'_>, StoreError> {
        match self.target.connect() {
            Ok(conn) => Ok(self.lease(conn)),
            Err(e) => {
                if let Ok(mut state) = self.state.lock() {
                    state.open -= 1;
                    if let Some(next) = state.waiting.pop_front() {
                        state.open += 1;
                        next.give(Handed::Open);
                    }
                }
                Err(e)
            }
        }
    }

    /// Callers waiting for a connection now.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.state.lock().map(|s| s.waiting.len()).unwrap_or(0)
    }

    /// Connections open now (idle or lent).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn open(&self) -> usize {
        self.state.lock().map(|s| s.open).unwrap_or(0)
    }
}

impl Waiter {
    fn give(&self, what: Handed) {
        *lock(&self.handed) = Some(what);
        self.woken.notify_one();
    }
}

impl Lease<'_> {
    /// The connection.
    pub(crate) fn conn(&mut self) -> &mut Conn {
        // INVARIANT: `conn` is only taken in `drop`.
        self.conn.as_mut().unwrap_or_else(|| unreachable!())
    }

    /// Marks the connection unusable (a transaction that could not be rolled back): it is
    /// closed instead of being returned.
    pub(crate) fn discard(&mut self) {
        if !self.pool.target.in_memory() {
            self.broken = true;
        }
    }
}

impl Lease<'_> {
    /// Takes the connection out of the lease, to carry it from thread to thread (a group of
    /// writes, see `group.rs`); it stays counted as open until [`Pool::restore`] has it back.
    pub(crate) fn detach(mut self) -> Conn {
        // INVARIANT: `conn` is only taken here and in `drop`.
        self.conn.take().unwrap_or_else(|| unreachable!())
    }
}

impl Pool {
    /// Takes back a connection detached from its lease; `broken` closes it instead.
    pub(crate) fn restore(&self, conn: Conn, broken: bool) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let next = state.waiting.pop_front();
        if broken && !self.target.in_memory() {
            drop(conn);
            if let Some(next) = next {
                next.give(Handed::Open);
            } else {
                state.open -= 1;
            }
        } else if let Some(next) = next {
            next.give(Handed::Conn(conn));
        } else {
            state.idle.push(conn);
        }
    }
}

impl Pool {
    /// Takes back the connection of a group of writes detached from its lease, to be lent
    /// to the next group first ([`Pool::get_for_writes`]); as [`Pool::restore`] when it is
    /// `broken`, when someone waits for a connection, or when another is kept already.
    pub(crate) fn keep(&self, conn: Conn, broken: bool) {
        {
            let Ok(mut state) = self.state.lock() else {
                return;
            };
            if !broken && state.waiting.is_empty() && state.kept.is_none() {
                state.kept = Some(conn);
                return;
            }
        }
        self.restore(conn, broken);
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        self.pool.restore(conn, self.broken);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::Value;

    /// A SQLite file in `dir`, without a checkpointer.
    fn file(dir: &tempfile::TempDir) -> Target {
        Target::Sqlite {
            path: dir.path().join("t.db").to_str().unwrap().to_owned(),
            mmap: false,
            checkpoints: None,
        }
    }

    /// Connections go to callers in the order they asked, also when one arrives just as a
    /// connection is given back.
    #[test]
    fn connections_go_to_the_callers_that_waited_longest() {
        let dir = tempfile::tempdir().unwrap();
        let target = file(&dir);
        let pool = Pool::new(target, 1).unwrap();
        let order = Mutex::new(Vec::new());
        let held = pool.get().unwrap();
        std::thread::scope(|s| {
            let wait_for = |n: usize| {
                while pool.waiting() < n {
                    std::thread::yield_now();
                }
            };
            for (i, name) in ["first", "second", "third"].into_iter().enumerate() {
                let (pool, order) = (&pool, &order);
                s.spawn(move || {
                    let lease = pool.get().unwrap();
                    order.lock().unwrap().push(name);
                    drop(lease);
                });
                wait_for(i + 1);
            }
            drop(held);
        });
        assert_eq!(*order.lock().unwrap(), ["first", "second", "third"]);
        assert_eq!(pool.open(), 1);
    }

    /// A statement run again with other values is not prepared again, even where SQLite
    /// would compare its parameter with an indexed expression.
    #[test]
    fn statements_are_not_prepared_again_for_new_values() {
        let dir = tempfile::tempdir().unwrap();
        let target = file(&dir);
        let mut conn = target.connect().unwrap();
        conn.batch(
            "CREATE TABLE p (id INTEGER PRIMARY KEY, key TEXT UNIQUE); \
             CREATE TABLE v (id INTEGER, email TEXT); \
             CREATE INDEX v_email ON v (lower(email)); \
             INSERT INTO p VALUES (1, 'a'), (2, 'b'); \
             INSERT INTO v VALUES (1, 'A@x'), (2, 'B@x');",
        )
        .unwrap();
        let sql = "SELECT v.email FROM p JOIN v ON v.id = p.id WHERE p.key = $1";
        for key in ["a", "b", "a"] {
            let rows = conn.query(sql, &[Value::from(key)], |r| r.str(0)).unwrap();
            assert_eq!(rows.len(), 1);
        }
        let Conn::Sqlite(c) = &conn else {
            unreachable!()
        };
        let st = c.prepare_cached(sql).unwrap();
        assert_eq!(st.get_status(rusqlite::StatementStatus::RePrepare), 0);
        assert_eq!(st.get_status(rusqlite::StatementStatus::Run), 3);
    }
}
