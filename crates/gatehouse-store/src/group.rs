//! Group commit: concurrent small writes share one transaction and one sync of the disk.
//!
//! Why: a durable commit waits for the disk (about a millisecond on the machine of
//! docs/PERFORMANCE.md), and writers are served one at a time so that sequence numbers never
//! fork. One commit per write caps the store near a thousand writes a second, however many
//! people decide at once. Instead, writers that arrive while a transaction is open queue, and
//! the first of them to be served — the leader — opens one transaction for itself and the
//! small writes waiting behind it, up to [`MAX_GROUP`]. Each write runs its own closure, on its
//! own thread, in turn, inside a savepoint of that transaction: a write that fails is rolled
//! back to its savepoint alone and returns its error at once, and the next one starts where the
//! last successful one ended. The last write of the group takes any small writes that queued
//! meanwhile (still within the bound), and when none is left writes the ledger's changed tiles
//! once, commits, and wakes every successful write of the group with the commit's outcome.
//!
//! INVARIANT: a write reports success only after the commit of its group has returned (a
//! durable commit: SQLite `synchronous = FULL`, PostgreSQL `synchronous_commit = on`). If that
//! commit fails, every write of the group reports the failure ([`StoreError::Commit`]) and
//! none of them is in the log.
//!
//! The open transaction (its connection, the ledger's edge, who writes next, who waits for the
//! commit) is handed from writer to writer by value, like a baton: a synchronous write's
//! closure runs on its caller's thread, and nothing of it needs to be `Send`.
//!
//! An asynchronous write ([`Store::write_async`]) has no thread waiting for it: it queues as a
//! [`Job`], a `Send` closure that whichever thread holds the baton runs in its turn, on the
//! spot. A group of concurrent web decisions thus runs one after another on one thread, with
//! no thread to wake between them; only a job that finds nobody writing starts a thread to
//! lead its group.
//!
//! Writes that are not small — an import's batches, which carry state from one transaction to
//! the next and may commit without waiting for the disk; maintenance that appends no event —
//! wait in the same queue, in arrival order, and are served alone ([`WriterQueue::alone`]).
//! A group never takes a write queued behind one of those, so arrival order is kept.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use gatehouse_ledger::Appender;
use gatehouse_model::Timestamp;

use crate::conn::Conn;
use crate::error::StoreError;
use crate::inventory;
use crate::lock::Nesting;
use crate::writer::{self, Durability, Writer};
use crate::{Store, lock};

/// At most this many writes share one transaction: a bound on how long the first of them
/// waits for the commit (each small write takes some tens of microseconds), and on the
/// transaction's size.
pub(crate) const MAX_GROUP: usize = 64;

/// How this process's small writes ([`Store::write`]) were committed: the writes, and the
/// transactions that committed them (one per group). Under concurrency, `commits` is lower
/// than `writes`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Small writes committed.
    pub writes: u64,
    /// Transactions that committed them, one per group.
    pub commits: u64,
    /// The most writes one transaction committed.
    pub largest: u64,
}

/// Writers of one process, served in the order they arrived; small writes that wait together
/// are served together (see the module's documentation). The database's own lock serialises
/// writers across processes; this queue makes a small write that arrives during an import
/// wait for one batch of it, not for whichever writer the operating system happens to wake.
#[derive(Default)]
pub(crate) struct WriterQueue {
    state: Mutex<QueueState>,
    writes: AtomicU64,
    commits: AtomicU64,
    largest: AtomicU64,
}

#[derive(Default)]
struct QueueState {
    /// Whether a writer, or a group, is being served.
    busy: bool,
    /// Writers waiting, in arrival order.
    waiting: VecDeque<Waiter>,
}

/// A writer waiting in the queue: a thread, or a job that has none.
enum Waiter {
    Thread(Arc<Slot>),
    Job(Box<Job>),
}

impl Waiter {
    fn small(&self) -> bool {
        match self {
            Waiter::Thread(slot) => slot.small,
            Waiter::Job(_) => true,
        }
    }

    /// Tells a writer that never ran that `e` stopped its group.
    fn refuse(self, e: StoreError) {
        match self {
            Waiter::Thread(slot) => slot.give(Signal::Committed(Err(e))),
            Waiter::Job(job) => {
                (job.run)(Err(e));
            }
        }
    }
}

/// Tells a job that succeeded how its group's commit ended.
type Reply = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// Runs a job's write in the group's transaction (`Ok`), or tells it that it will not run
/// (`Err`); returns what to tell it after the commit when its write succeeded.
type RunJob = Box<dyn for<'a> FnOnce(Result<&'a mut Open, StoreError>) -> Option<Reply> + Send>;

/// A small write queued without a thread of its own (see the module's documentation).
pub(crate) struct Job {
    store: Store,
    run: RunJob,
}

impl Job {
    /// A job running `f` as `actor` at `now`, which hands its outcome to `reply` once its
    /// group has committed (or at once if it failed).
    pub(crate) fn new<T, E, F>(
        store: Store,
        actor: String,
        now: Timestamp,
        f: F,
        reply: impl FnOnce(Result<T, E>) + Send + 'static,
    ) -> Job
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&mut Writer<'_>) -> Result<T, E> + Send + 'static,
    {
        let run: RunJob = Box::new(move |open: Result<&mut Open, StoreError>| {
            let open = match open {
                Ok(open) => open,
                Err(e) => {
                    reply(Err(e.into()));
                    return None;
                }
            };
            match open.run(&actor, now, f) {
                Ok(out) => Some(Box::new(move |committed: Result<(), StoreError>| {
                    reply(committed.map(|()| out).map_err(E::from));
                }) as Reply),
                Err(Failure::Error(e)) => {
                    reply(Err(e));
                    None
                }
                Err(Failure::Panic(payload)) => {
                    let what = payload
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    reply(Err(StoreError::Corrupt(format!(
                        "a write panicked: {what}"
                    ))
                    .into()));
                    None
                }
            }
        });
        Job { store, run }
    }
}

/// Queues a job: it runs in the turn of whichever thread holds the group's transaction then,
/// or leads a group of its own on a new task when nobody is writing.
pub(crate) fn submit(job: Job) {
    let store = job.store.clone();
    let queue = &store.shared.writers;
    let job = {
        let mut s = lock(&queue.state);
        if s.busy {
            s.waiting.push_back(Waiter::Job(Box::new(job)));
            return;
        }
        s.busy = true;
        Box::new(job)
    };
    start(job);
}

/// Starts a thread that leads a group with `job` first: a thread of its own, not one of an
/// async runtime's blocking pool, whose every thread could be a synchronous write queued
/// behind this job and waiting for it. If no thread can be started, the job is answered with
/// an error and the next writer is served.
fn start(job: Box<Job>) {
    struct Lead(Option<Box<Job>>);
    impl Drop for Lead {
        fn drop(&mut self) {
            if let Some(job) = self.0.take() {
                job.store.shared.writers.release();
                (job.run)(Err(StoreError::Corrupt(
                    "the write could not be started: no thread could be started for it".into(),
                )));
            }
        }
    }
    let mut pending = Lead(Some(job));
    // On failure the closure, and with it `pending`, is dropped unrun.
    let _ = std::thread::Builder::new()
        .name("gatehouse-writes".into())
        .spawn(move || {
            if let Some(job) = pending.0.take() {
                lead(*job);
            }
        });
}

/// Leads a group whose first write is `job`, on the thread started for it.
fn lead(job: Job) {
    let Job { store, run, .. } = job;
    let _nesting = Nesting::enter(store.shared.id);
    let queue = &store.shared.writers;
    match Open::begin(&store) {
        Ok(mut open) => {
            open.next = queue.take_small(MAX_GROUP - 1);
            open.size = 1 + open.next.len();
            if let Some(reply) = run(Ok(&mut open)) {
                open.done.push(Done::Job(reply));
            }
            open.pass_on();
        }
        Err(e) => {
            // Nobody has joined this group yet: the next writer tries for itself.
            queue.release();
            run(Err(e));
        }
    }
}

/// A write of the group that succeeded and waits for the commit.
enum Done {
    Thread(Arc<Slot>),
    Job(Reply),
}

impl Done {
    fn tell(self, outcome: Result<(), StoreError>) {
        match self {
            Done::Thread(slot) => slot.give(Signal::Committed(outcome)),
            Done::Job(reply) => reply(outcome),
        }
    }
}

/// Where one waiting writer is told what to do next.
struct Slot {
    /// A small write, which may join a group.
    small: bool,
    signal: Mutex<Signal>,
    woken: Condvar,
}

enum Signal {
    Wait,
    /// This writer is served now: alone, or as the leader of a group.
    Lead,
    /// The group's transaction, for this writer's turn to write.
    Write(Box<Open>),
    /// The group's commit returned (or the group was abandoned before this writer's turn).
    Committed(Result<(), StoreError>),
}

impl Slot {
    fn new(small: bool) -> Arc<Slot> {
        Arc::new(Slot {
            small,
            signal: Mutex::new(Signal::Wait),
            woken: Condvar::new(),
        })
    }

    fn give(&self, signal: Signal) {
        *lock(&self.signal) = signal;
        self.woken.notify_one();
    }

    fn wait(&self) -> Signal {
        let mut s = lock(&self.signal);
        while matches!(*s, Signal::Wait) {
            s = self.woken.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
        std::mem::replace(&mut *s, Signal::Wait)
    }
}

/// The turn of a writer served alone; the next writer is served when it is dropped.
pub(crate) struct Turn<'q>(&'q WriterQueue);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl WriterQueue {
    /// Joins the queue and waits until this writer is served.
    fn arrive(&self, slot: &Arc<Slot>) -> Signal {
        {
            let mut s = lock(&self.state);
            if !s.busy {
                s.busy = true;
                return Signal::Lead;
            }
            s.waiting.push_back(Waiter::Thread(slot.clone()));
        }
        slot.wait()
    }

    /// Waits for this writer's turn to write alone.
    pub(crate) fn alone(&self) -> Result<Turn<'_>, StoreError> {
        match self.arrive(&Slot::new(false)) {
            Signal::Lead => Ok(Turn(self)),
            _ => Err(StoreError::Corrupt(
                "the writer queue served a write alone as part of a group".into(),
            )),
        }
    }

    /// Ends a turn: serves the next waiting writer, if any.
    fn release(&self) {
        let next = {
            let mut s = lock(&self.state);
            let next = s.waiting.pop_front();
            s.busy = next.is_some();
            next
        };
        match next {
            Some(Waiter::Thread(slot)) => slot.give(Signal::Lead),
            Some(Waiter::Job(job)) => start(job),
            None => {}
        }
    }

    /// Takes up to `max` small writes from the head of the queue, in order.
    fn take_small(&self, max: usize) -> VecDeque<Waiter> {
        let mut s = lock(&self.state);
        let mut out = VecDeque::new();
        while out.len() < max && s.waiting.front().is_some_and(Waiter::small) {
            out.extend(s.waiting.pop_front());
        }
        out
    }

    /// Writers waiting now.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn waiting(&self) -> usize {
        lock(&self.state).waiting.len()
    }

    pub(crate) fn stats(&self) -> CommitStats {
        CommitStats {
            writes: self.writes.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            largest: self.largest.load(Ordering::Relaxed),
        }
    }
}

/// The open transaction of a group, handed from writer to writer.
struct Open {
    store: Store,
    /// Taken when the transaction ends and the connection goes back to the pool.
    conn: Option<Conn>,
    /// The ledger's edge after the group's successful writes so far; its changed tiles are
    /// written just before the commit.
    edge: Appender,
    /// Writes still to run, in order.
    next: VecDeque<Waiter>,
    /// Writes that succeeded, waiting for the commit.
    done: Vec<Done>,
    /// Writes taken into the group so far (for the bound).
    size: usize,
    /// Whether the savepoint `w` exists (made by an earlier write of the group).
    savepoint: bool,
    /// Why the transaction can no longer commit (a savepoint that could not be rolled back).
    failed: Option<StoreError>,
    /// Time the ledger added to the group's writes.
    ledger: std::time::Duration,
    /// Whether a successful write of the group changed a user.
    users_changed: bool,
}

/// How one write of a group ended, when it did not succeed.
enum Failure<E> {
    Error(E),
    Panic(Box<dyn std::any::Any + Send>),
}

/// [`Store::write`]: waits in the queue, writes in a group's transaction in turn, and returns
/// once the group's commit has.
pub(crate) fn write<T, E: From<StoreError>>(
    store: &Store,
    actor: &str,
    now: Timestamp,
    f: impl FnOnce(&mut Writer<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let queue = &store.shared.writers;
    let slot = Slot::new(true);
    let mut open = match queue.arrive(&slot) {
        Signal::Lead => match Open::begin(store) {
            Ok(mut open) => {
                open.next = queue.take_small(MAX_GROUP - 1);
                open.size = 1 + open.next.len();
                open
            }
            Err(e) => {
                // Nobody has joined this group yet: the next writer tries for itself.
                queue.release();
                return Err(e.into());
            }
        },
        Signal::Write(open) => open,
        Signal::Committed(result) => {
            return Err(result
                .err()
                .unwrap_or_else(|| StoreError::Corrupt("a write was skipped".into()))
                .into());
        }
        Signal::Wait => {
            return Err(StoreError::Corrupt("a writer was woken for nothing".into()).into());
        }
    };
    match open.run(actor, now, f) {
        Ok(out) => {
            open.done.push(Done::Thread(slot.clone()));
            open.pass_on();
            match slot.wait() {
                Signal::Committed(Ok(())) => Ok(out),
                Signal::Committed(Err(e)) => Err(e.into()),
                _ => Err(StoreError::Corrupt("a write was not told its commit".into()).into()),
            }
        }
        Err(Failure::Error(e)) => {
            open.pass_on();
            Err(e)
        }
        Err(Failure::Panic(payload)) => {
            open.pass_on();
            resume_unwind(payload)
        }
    }
}

impl Open {
    /// Begins the group's transaction.
    fn begin(store: &Store) -> Result<Box<Open>, StoreError> {
        let shared = &store.shared;
        let mut conn = shared.pool.get_for_writes()?.detach();
        let started = (|| {
            writer::begin(&mut conn, Durability::Full)?;
            if !shared.indexes_checked.load(Ordering::Relaxed) {
                inventory::restore_indexes(&mut conn)?;
            }
            let cached = lock(&shared.ledger_edge).take();
            writer::ledger_edge(&mut conn, cached)
        })();
        let mut open = Box::new(Open {
            store: store.clone(),
            conn: Some(conn),
            edge: Appender::new(),
            next: VecDeque::new(),
            done: Vec::new(),
            size: 1,
            savepoint: false,
            failed: None,
            ledger: std::time::Duration::ZERO,
            users_changed: false,
        });
        match started {
            Ok(edge) => {
                open.edge = edge;
                Ok(open)
            }
            Err(e) => {
                open.close(false);
                Err(e)
            }
        }
    }

    /// Runs one write in its own savepoint.
    fn run<T, E: From<StoreError>>(
        &mut self,
        actor: &str,
        now: Timestamp,
        f: impl FnOnce(&mut Writer<'_>) -> Result<T, E>,
    ) -> Result<T, Failure<E>> {
        let Open {
            store,
            conn,
            edge,
            savepoint,
            failed,
            ledger,
            users_changed,
            ..
        } = &mut *self;
        if let Some(e) = failed {
            return Err(Failure::Error(e.for_group().into()));
        }
        let Some(conn) = conn.as_mut() else {
            return Err(Failure::Error(
                StoreError::Corrupt("a group's transaction has no connection".into()).into(),
            ));
        };
        // One savepoint, released when the next write makes its own (the commit releases
        // the last): a rolled-back savepoint stays, empty, for the next write to release.
        let mark = if *savepoint {
            conn.control(&["RELEASE SAVEPOINT w", "SAVEPOINT w"])
        } else {
            conn.control(&["SAVEPOINT w"])
        };
        if let Err(e) = mark {
            let shared = e.for_group();
            *failed = Some(e);
            return Err(Failure::Error(shared.into()));
        }
        *savepoint = true;
        let mut w = Writer::resume(conn, actor, now, &store.shared, edge.clone());
        let result = match catch_unwind(AssertUnwindSafe(|| f(&mut w))) {
            Ok(Ok(out)) => match w.finish_rows() {
                Ok(()) => Ok(out),
                Err(e) => Err(Failure::Error(e.into())),
            },
            Ok(Err(e)) => Err(Failure::Error(e)),
            Err(payload) => Err(Failure::Panic(payload)),
        };
        *ledger += w.ledger_time();
        if result.is_ok() {
            *users_changed |= w.users_changed;
            *edge = w.into_edge();
            return result;
        }
        drop(w);
        // The write may have read the identity directory as it saw it: forget that.
        *lock(&store.shared.directory) = None;
        if let Err(e) = conn.control(&["ROLLBACK TO SAVEPOINT w"]) {
            *failed = Some(e);
        }
        result
    }

    /// Hands the transaction to the next write of the group, taking any small writes that
    /// queued meanwhile; runs the jobs among them on this thread; commits when none is left.
    fn pass_on(mut self: Box<Self>) {
        loop {
            if self.next.is_empty() && self.failed.is_none() && self.size < MAX_GROUP {
                self.next = self.store.shared.writers.take_small(MAX_GROUP - self.size);
                self.size += self.next.len();
            }
            match self.next.pop_front() {
                Some(Waiter::Thread(next)) => return next.give(Signal::Write(self)),
                Some(Waiter::Job(job)) => {
                    if let Some(reply) = (job.run)(Ok(&mut self)) {
                        self.done.push(Done::Job(reply));
                    }
                }
                None => return self.commit(),
            }
        }
    }

    /// Writes the ledger's tiles and commits (or rolls back a group whose every write
    /// failed), then serves the next writer and tells the group's writes the outcome.
    fn commit(mut self: Box<Self>) {
        let this = &mut *self;
        let result = match (this.failed.take(), this.conn.as_mut()) {
            (Some(e), _) => Err(e),
            (None, None) => Err(StoreError::Corrupt(
                "a group's transaction has no connection".into(),
            )),
            (None, Some(_)) if this.done.is_empty() => Ok(false),
            (None, Some(conn)) => match writer::write_tiles(conn, &mut this.edge) {
                Ok(took) => {
                    this.ledger += took;
                    conn.batch("COMMIT").map(|()| true)
                }
                Err(e) => Err(e),
            },
        };
        let store = this.store.clone();
        let shared = &store.shared;
        shared
            .ledger_nanos
            .fetch_add(this.ledger.as_nanos() as u64, Ordering::Relaxed);
        let committed = match result {
            Ok(committed) => committed,
            Err(e) => return self.abandon(&e),
        };
        // Nothing failed: the edge is the ledger's as the store now holds it (after the
        // commit, or as it was when every write of the group was rolled back).
        *lock(&shared.ledger_edge) = Some(std::mem::take(&mut this.edge));
        if committed {
            shared.indexes_checked.store(true, Ordering::Relaxed);
            if this.users_changed {
                shared.users_version.fetch_add(1, Ordering::Release);
            }
            let n = this.done.len() as u64;
            let queue = &shared.writers;
            queue.writes.fetch_add(n, Ordering::Relaxed);
            queue.commits.fetch_add(1, Ordering::Relaxed);
            queue.largest.fetch_max(n, Ordering::Relaxed);
        }
        let done = std::mem::take(&mut this.done);
        this.close(committed);
        shared.writers.release();
        for write in done {
            write.tell(Ok(()));
        }
    }

    /// Rolls back, forgets what this process remembers of the log, serves the next writer
    /// and tells every write of the group, done or not yet run, that `e` stopped the group.
    fn abandon(mut self: Box<Self>, e: &StoreError) {
        self.stop(e);
    }

    fn stop(&mut self, e: &StoreError) {
        let done: Vec<_> = self.done.drain(..).collect();
        let next: Vec<_> = self.next.drain(..).collect();
        self.close(false);
        let shared = &self.store.shared;
        *lock(&shared.ledger_edge) = None;
        *lock(&shared.directory) = None;
        shared.writers.release();
        for write in done {
            write.tell(Err(e.for_group()));
        }
        for waiter in next {
            waiter.refuse(e.for_group());
        }
    }

    /// Ends the transaction, rolled back unless it `committed`, and returns the connection
    /// to the pool (closed if it cannot be rolled back).
    fn close(&mut self, committed: bool) {
        if let Some(mut conn) = self.conn.take() {
            let broken = !committed && conn.batch("ROLLBACK").is_err();
            self.store.shared.pool.keep(conn, broken);
        }
    }
}

impl Drop for Open {
    /// A group dropped before its end (which only a bug could do): its transaction is rolled
    /// back and its writes are told, so that none of them waits forever.
    fn drop(&mut self) {
        if self.conn.is_some() {
            self.stop(&StoreError::Corrupt(
                "a group of writes was abandoned".into(),
            ));
        }
    }
}
