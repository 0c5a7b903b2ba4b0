//! A small pool of connections, and the one place that opens them with the right settings.
//!
//! Why not an off-the-shelf pool: ours needs no reaper thread and no eager connections (a CLI
//! command uses one or two), must keep the single connection of an in-memory database alive
//! for the life of the store, and must discard a connection whose transaction could not be
//! closed. That is the whole of it, below.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use rusqlite::config::DbConfig;

use crate::checkpoint::Checkpointer;
use crate::conn::{Backend, Conn, Statements};
use crate::error::StoreError;

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
    open: usize,
}

/// Connections to one store.
pub(crate) struct Pool {
    target: Target,
    max: usize,
    state: Mutex<State>,
    freed: Condvar,
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
            open: 0,
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
            freed: Condvar::new(),
        })
    }

    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    /// Borrows a connection: an idle one, a new one while fewer than `max` are open, or the
    /// next one returned.
    pub(crate) fn get(&self) -> Result<Lease<'_>, StoreError> {
        let deadline = Instant::now() + WAIT;
        let mut state = self
            .state
            .lock()
            .map_err(|_| StoreError::Corrupt("the connection pool is poisoned".into()))?;
        loop {
            if let Some(conn) = state.idle.pop() {
                return Ok(Lease {
                    pool: self,
                    conn: Some(conn),
                    broken: false,
                });
            }
            if state.open < self.max {
                state.open += 1;
                drop(state);
                return match self.target.connect() {
                    Ok(conn) => Ok(Lease {
                        pool: self,
                        conn: Some(conn),
                        broken: false,
                    }),
                    Err(e) => {
                        if let Ok(mut s) = self.state.lock() {
                            s.open -= 1;
                        }
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(StoreError::Busy(WAIT.as_secs()));
            }
            state = self
                .freed
                .wait_timeout(state, deadline - now)
                .map_err(|_| StoreError::Corrupt("the connection pool is poisoned".into()))?
                .0;
        }
    }

    /// Connections open now (idle or lent).
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn open(&self) -> usize {
        self.state.lock().map(|s| s.open).unwrap_or(0)
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
        if let Ok(mut state) = self.state.lock() {
            if broken && !self.target.in_memory() {
                state.open -= 1;
                drop(conn);
            } else {
                state.idle.push(conn);
            }
        }
        self.freed.notify_one();
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

    /// A statement run again with other values is not prepared again, even where SQLite
    /// would compare its parameter with an indexed expression.
    #[test]
    fn statements_are_not_prepared_again_for_new_values() {
        let dir = tempfile::tempdir().unwrap();
        let target = Target::Sqlite {
            path: dir.path().join("t.db").to_str().unwrap().to_owned(),
            mmap: false,
            checkpoints: None,
        };
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
