//! Copies SQLite's write-ahead log back into the database on a thread of its own.
//!
//! Why: SQLite's automatic checkpoint runs inside the commit that crosses its threshold, on
//! the committing writer's thread and inside its turn. A campaign launch of a million review
//! items spent a sixth of its writing time copying back the 800 MB it had just logged, and a
//! small decision could wait behind the copy of thousands of pages that other writes had left.
//! Here a commit that leaves at least [`START`] pages in the log wakes the store's
//! checkpointer (one thread per open store, started when first needed), which copies them
//! while writers and readers go on: a passive checkpoint, which never waits for either.
//!
//! A checkpoint that could not copy the whole log (readers were still using pages it would
//! overwrite, or another checkpoint ran) is tried again after a pause, until the log is all
//! copied: a log left partly copied makes every read of every reader search it (SQLite's
//! `walFindFrame`), which took a quarter of a busy server's time in the inbox benchmark after
//! a burst of decisions, when no further commit came to ask again.
//!
//! INVARIANT: the log is never left to grow without bound. A commit that finds [`INLINE`]
//! pages or more in the log (a checkpointer that cannot keep up, or readers that hold old
//! pages for a long time), or a checkpointer that could not start or failed, makes every
//! commit past [`START`] copy the log itself, as SQLite's own automatic checkpoint would.

use std::ffi::c_int;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use rusqlite::Connection;

use crate::lock;
use rusqlite::wal::CheckpointMode;

/// Pages in the log from which a commit asks for a checkpoint: 32 MiB of 4 KiB pages (SQLite's
/// own default is 1,000). An import commits a batch at a time and changes the same index
/// pages in many of them; at 1,000 pages the thread copied those pages back after nearly
/// every batch (the import took 7.0 s alone, 6.3 s at this size), while readers search a log
/// of this size at no cost that shows.
pub(crate) const START: c_int = 8192;

/// Pages in the log from which the committing connection copies it itself (1 GiB of 4 KiB
/// pages: a million-item launch logs about 200,000).
pub(crate) const INLINE: c_int = 262_144;

/// The first pause before a checkpoint that could not copy the whole log is tried again; it
/// doubles at each try, up to [`RETRY_MAX`].
const RETRY_FIRST: std::time::Duration = std::time::Duration::from_millis(10);
const RETRY_MAX: std::time::Duration = std::time::Duration::from_millis(500);

/// The checkpointer of one SQLite store.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    path: String,
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// A commit asked for a checkpoint since the last one began.
    wanted: bool,
    /// A large write asked for the log's pages to be sent to the disk ahead of its commit.
    sync_wanted: bool,
    /// The store is closing: the thread ends.
    stop: bool,
    /// Why the thread cannot checkpoint; commits then copy the log themselves.
    failed: Option<String>,
    thread: Option<JoinHandle<()>>,
    /// Checkpoints run by the thread (for tests).
    runs: u64,
    /// The frames in the log and copied back at the last of them; `None` if it found another
    /// checkpoint running.
    last: Option<(c_int, c_int)>,
}

impl State {
    /// Whether the last checkpoint copied the whole log.
    fn copied_all(&self) -> bool {
        self.last.is_some_and(|(log, copied)| copied >= log)
    }
}

impl Checkpointer {
    pub(crate) fn new(path: &str) -> Arc<Checkpointer> {
        Arc::new(Checkpointer {
            path: path.to_owned(),
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        })
    }

    /// Installs, on one connection of the store, the hook SQLite calls after each commit with
    /// the pages now in the log. It replaces SQLite's automatic checkpoint (so no
    /// `wal_autocheckpoint` may be set on the connection after this).
    pub(crate) fn install(self: &Arc<Self>, conn: &mut Connection) -> rusqlite::Result<()> {
        let me = self.clone();
        conn.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages: c_int| {
            if me.committed(pages) {
                wal.checkpoint_v2(CheckpointMode::PASSIVE)?;
            }
            Ok(())
        }))
    }

    /// A commit left `pages` in the log: wakes the thread (starting it if needed). Returns
    /// whether the committing connection must copy the log itself.
    fn committed(self: &Arc<Self>, pages: c_int) -> bool {
        if pages < START {
            return false;
        }
        let mut s = lock(&self.state);
        if s.failed.is_some() || s.stop || pages >= INLINE {
            return true;
        }
        s.wanted = true;
        if !self.wake_thread(s) {
            return true;
        }
        false
    }

    /// Asks the thread to send the log's pages written so far to the disk, while a large
    /// write goes on: its commit, which must wait until every page of the log is on the disk,
    /// then finds most of them already there. (Pages of a transaction that never commits
    /// are ignored by SQLite wherever they are.) Best effort: it only moves work earlier.
    pub(crate) fn sync_ahead(self: &Arc<Self>) {
        let mut s = lock(&self.state);
        if s.failed.is_some() || s.stop {
            return;
        }
        s.sync_wanted = true;
        self.wake_thread(s);
    }

    /// Wakes the thread, starting it if needed; false if it cannot be started.
    fn wake_thread(self: &Arc<Self>, mut s: MutexGuard<'_, State>) -> bool {
        if s.thread.is_none() {
            let me = self.clone();
            match std::thread::Builder::new()
                .name("gatehouse-checkpoint".into())
                .spawn(move || me.run())
            {
                Ok(handle) => s.thread = Some(handle),
                Err(e) => {
                    s.failed = Some(format!("cannot start the checkpoint thread: {e}"));
                    return false;
                }
            }
        }
        drop(s);
        self.wake.notify_one();
        true
    }

    fn run(self: Arc<Self>) {
        // A connection learns that the database is in WAL mode when it first reads it; until
        // then a checkpoint does nothing and says so (`-1` frames), which is why it reads the
        // journal mode first.
        let opened = Connection::open(&self.path).and_then(|conn| {
            let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            Ok((conn, mode))
        });
        let conn = match opened {
            Ok((conn, mode)) if mode.eq_ignore_ascii_case("wal") => conn,
            Ok((_, mode)) => {
                lock(&self.state).failed =
                    Some(format!("{} is in journal mode {mode}, not WAL", self.path));
                return;
            }
            Err(e) => {
                lock(&self.state).failed = Some(format!("cannot open {}: {e}", self.path));
                return;
            }
        };
        // A checkpoint waits for no lock; one that finds another running gives up at once
        // and is asked again by the next commit.
        let wal = format!("{}-wal", self.path);
        // After a checkpoint that left part of the log: how long to wait before trying again.
        let mut retry: Option<std::time::Duration> = None;
        loop {
            let sync = {
                let mut s = lock(&self.state);
                while !s.wanted && !s.sync_wanted && !s.stop {
                    match retry {
                        None => s = self.wake.wait(s).unwrap_or_else(PoisonError::into_inner),
                        Some(pause) => {
                            let (guard, waited) = self
                                .wake
                                .wait_timeout(s, pause)
                                .unwrap_or_else(PoisonError::into_inner);
                            s = guard;
                            if waited.timed_out() {
                                s.wanted = true;
                            }
                        }
                    }
                }
                if s.stop {
                    return;
                }
                std::mem::take(&mut s.sync_wanted)
            };
            if sync {
                // The sync of any descriptor of a file writes all of its dirty pages.
                if let Ok(f) = std::fs::File::open(&wal) {
                    let _ = f.sync_data();
                }
                continue;
            }
            lock(&self.state).wanted = false;
            let outcome = conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE);
            let mut s = lock(&self.state);
            s.runs += 1;
            s.last = match outcome {
                Ok((log, _)) if log < 0 => {
                    s.failed = Some(format!("{} is not in WAL mode", self.path));
                    return;
                }
                Ok(frames) => Some(frames),
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy =>
                {
                    None
                }
                Err(e) => {
                    s.failed = Some(format!("checkpoint of {} failed: {e}", self.path));
                    return;
                }
            };
            retry = if s.copied_all() {
                None
            } else {
                Some(retry.map_or(RETRY_FIRST, |pause| (pause * 2).min(RETRY_MAX)))
            };
        }
    }

    /// Ends the thread, after the checkpoint it may be running.
    pub(crate) fn stop(&self) {
        let thread = {
            let mut s = lock(&self.state);
            s.stop = true;
            s.thread.take()
        };
        self.wake.notify_one();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }

    /// Checkpoints the thread has run, and why it stopped if it did (for tests).
    #[cfg(test)]
    pub(crate) fn runs(&self) -> (u64, Option<String>) {
        let s = lock(&self.state);
        (s.runs, s.failed.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::Conn;
    use crate::pool::Target;

    /// A connection to a WAL database in `dir`, with the store's settings and checkpointer.
    fn open(dir: &std::path::Path) -> (Conn, Arc<Checkpointer>) {
        let path = dir.join("c.db").to_str().unwrap().to_owned();
        let checkpoints = Checkpointer::new(&path);
        let target = Target::Sqlite {
            path,
            mmap: false,
            checkpoints: Some(checkpoints.clone()),
        };
        let mut conn = target.connect().unwrap();
        conn.batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x BLOB)")
            .unwrap();
        (conn, checkpoints)
    }

    /// Writes a few hundred pages more than [`START`] in one transaction.
    fn write_pages(conn: &mut Conn) {
        conn.batch(&format!(
            "BEGIN IMMEDIATE; \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {}) \
             INSERT INTO t SELECT randomblob(4000) FROM n; COMMIT",
            START + 300
        ))
        .unwrap();
    }

    /// Frames in the log, and frames of it already copied back.
    fn log(conn: &Conn) -> (c_int, c_int) {
        let Conn::Sqlite(c) = conn else {
            unreachable!()
        };
        c.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE)
            .unwrap()
    }

    /// Whether the pages `write_pages` wrote are in the database file itself (about 5 MB):
    /// read from the file's size, since a checkpoint run to find out would copy them.
    fn copied_back(dir: &std::path::Path) -> bool {
        std::fs::metadata(dir.join("c.db")).unwrap().len() > 4_000_000
    }

    #[test]
    fn a_large_commit_is_copied_back_by_the_checkpointer() {
        let dir = tempfile::tempdir().unwrap();
        let (mut conn, checkpoints) = open(dir.path());
        write_pages(&mut conn);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while checkpoints.runs().0 == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the checkpointer never ran"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        checkpoints.stop();
        assert_eq!(checkpoints.runs(), (1, None));
        // The thread's checkpoint copied everything (its own report: a checkpoint here would
        // copy the log itself).
        let (frames, copied) = lock(&checkpoints.state).last.unwrap();
        assert!(frames >= START && copied == frames, "{frames} {copied}");
        assert!(copied_back(dir.path()));
    }

    /// Waits until `ok` holds of the checkpointer's runs and whether the last copied the whole
    /// log.
    fn until(checkpoints: &Checkpointer, what: &str, ok: impl Fn(u64, bool) -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let (runs, whole) = {
                let s = lock(&checkpoints.state);
                (s.runs, s.copied_all())
            };
            if ok(runs, whole) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: never ({runs} runs, whole {whole})"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn a_checkpoint_held_back_by_a_reader_is_tried_again_without_a_commit() {
        let dir = tempfile::tempdir().unwrap();
        let (mut conn, checkpoints) = open(dir.path());
        write_pages(&mut conn);
        until(&checkpoints, "the first log copied", |runs, whole| {
            runs >= 1 && whole
        });
        // A reader that began before the next commit holds the pages it would overwrite.
        let reader = Connection::open(dir.path().join("c.db")).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        let before = checkpoints.runs().0;
        write_pages(&mut conn);
        until(
            &checkpoints,
            "a checkpoint left part of the log",
            |runs, whole| runs > before && !whole,
        );
        // The reader ends; nothing is committed after it, and the log is copied all the same.
        reader.execute_batch("COMMIT").unwrap();
        until(&checkpoints, "the whole log copied", |_, whole| whole);
        assert!(copied_back(dir.path()));
        checkpoints.stop();
        assert_eq!(checkpoints.runs().1, None);
    }

    #[test]
    fn without_a_checkpointer_the_committing_connection_copies_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let (mut conn, checkpoints) = open(dir.path());
        lock(&checkpoints.state).failed = Some("broken on purpose".into());
        write_pages(&mut conn);
        assert_eq!(checkpoints.runs().0, 0);
        assert!(lock(&checkpoints.state).thread.is_none());
        assert!(copied_back(dir.path()));
    }

    #[test]
    fn a_small_commit_asks_for_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (mut conn, checkpoints) = open(dir.path());
        conn.batch("INSERT INTO t VALUES (x'00')").unwrap();
        assert!(lock(&checkpoints.state).thread.is_none());
        let (frames, copied) = log(&conn);
        assert!(frames > 0 && frames < START, "{frames} frames");
        assert_eq!(copied, frames, "the check copies them");
    }
}
