//! The locks around writes: the import lock, and the guard that refuses a transaction nested in
//! another of the same store on one thread (the writer queue is in `group.rs`).

use std::cell::RefCell;
use std::fs::File;
use std::sync::Mutex;

use crate::conn::Conn;
use crate::error::StoreError;
use crate::pool::Target;

thread_local! {
    /// Stores with a transaction open on this thread.
    static OPEN: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Marks a transaction of store `id` open on this thread; refuses a second one, which could
/// wait for the first forever (a write inside a write, or anything inside a transaction of an
/// in-memory store, which has one connection).
pub(crate) struct Nesting(usize);

impl Nesting {
    pub(crate) fn enter(id: usize) -> Result<Nesting, StoreError> {
        OPEN.with(|open| {
            let mut open = open.borrow_mut();
            if open.contains(&id) {
                return Err(StoreError::Nested);
            }
            open.push(id);
            Ok(Nesting(id))
        })
    }
}

impl Drop for Nesting {
    fn drop(&mut self) {
        OPEN.with(|open| open.borrow_mut().retain(|i| *i != self.0));
    }
}

/// What holds the import lock.
pub(crate) enum Holder {
    /// An exclusive lock on a file beside the SQLite database; the operating system releases
    /// it when the process ends, however it ends.
    File(#[allow(dead_code)] File),
    /// A PostgreSQL session-level advisory lock, held by a connection kept for the import;
    /// the server releases it when that connection ends.
    Session(Box<Conn>),
    /// An in-memory store: only this process can see it.
    Memory,
}

/// The key of the import lock among PostgreSQL advisory locks.
const IMPORT_LOCK: i64 = 7_202_611_231;

/// Takes the import lock of a store without waiting: `Ok(None)` when another import holds it.
pub(crate) fn try_import_lock(
    target: &Target,
    memory: &Mutex<bool>,
) -> Result<Option<Holder>, StoreError> {
    match target {
        Target::Sqlite { path, .. } if path == ":memory:" => {
            let mut held = memory
                .lock()
                .map_err(|_| StoreError::Corrupt("the import lock is poisoned".into()))?;
            if *held {
                return Ok(None);
            }
            *held = true;
            Ok(Some(Holder::Memory))
        }
        Target::Sqlite { path, .. } => {
            let lock_path = format!("{path}-import.lock");
            let mut opts = std::fs::OpenOptions::new();
            opts.read(true).write(true).create(true).truncate(false);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let file = opts
                .open(&lock_path)
                .map_err(|e| StoreError::Io(format!("cannot open `{lock_path}`: {e}")))?;
            match file.try_lock() {
                Ok(()) => Ok(Some(Holder::File(file))),
                Err(std::fs::TryLockError::WouldBlock) => Ok(None),
                Err(std::fs::TryLockError::Error(e)) => {
                    Err(StoreError::Io(format!("cannot lock `{lock_path}`: {e}")))
                }
            }
        }
        Target::Postgres { .. } => {
            let mut conn = target.connect()?;
            let got = conn.scalar(
                "SELECT CASE WHEN pg_try_advisory_lock($1) THEN 1 ELSE 0 END",
                &[crate::conn::Value::Int(IMPORT_LOCK)],
            )?;
            Ok((got > 0).then(|| Holder::Session(Box::new(conn))))
        }
    }
}

/// Releases an import lock taken by [`try_import_lock`].
pub(crate) fn release_import_lock(holder: Holder, memory: &Mutex<bool>) {
    match holder {
        Holder::File(file) => {
            let _ = file.unlock();
        }
        Holder::Session(mut conn) => {
            let _ = conn.exec(
                "SELECT pg_advisory_unlock($1)",
                &[crate::conn::Value::Int(IMPORT_LOCK)],
            );
        }
        Holder::Memory => {
            if let Ok(mut held) = memory.lock() {
                *held = false;
            }
        }
    }
}
