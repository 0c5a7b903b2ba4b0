//! The witness's state file: the latest checkpoint it cosigned for each log.
//!
//! The file is JSON:
//!
//! ```text
//! {"format":"gatehouse-witness-state/1",
//!  "logs":{"<origin>":{"size":N,"root":"<hex>","note":"<signed note with the cosignature>"}}}
//! ```
//!
//! It is replaced atomically: the new content is written to `<file>.tmp`,
//! synced, renamed over the file and the folder is synced, so that after a
//! crash the file holds either the old state or the new one, never a mix.
//! A witness answers only after its new state is on disk.
//!
//! Updates are committed in groups: while one write is being synced, the
//! updates of other requests (of other logs) queue up and go to disk
//! together in the next write, so that many logs cost one sync, not one
//! each. Requests of one log are serialised by the caller, so at most one
//! update of a log is pending at any time.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use gatehouse_ledger::witness::LogState;
use serde::{Deserialize, Serialize};

use crate::StateError;

/// The `format` of the state files this version reads and writes.
pub const STATE_FORMAT: &str = "gatehouse-witness-state/1";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateDoc {
    format: String,
    logs: BTreeMap<String, LogState>,
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StateError + use<> {
    let path = path.to_path_buf();
    move |source| StateError::Io {
        action,
        path,
        source,
    }
}

fn encode(path: &Path, logs: &BTreeMap<String, LogState>) -> Result<Vec<u8>, StateError> {
    let doc = StateDoc {
        format: STATE_FORMAT.to_string(),
        logs: logs.clone(),
    };
    let mut bytes = serde_json::to_vec_pretty(&doc).map_err(|e| StateError::Io {
        action: "encode the state for",
        path: path.to_path_buf(),
        source: io::Error::other(e.to_string()),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Writes `bytes` to `path` atomically: temp file, sync, rename, sync the
/// folder.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let tmp = tmp_path(path);
    let mut file = File::create(&tmp).map_err(io_err("create", &tmp))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io_err("write", &tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io_err("replace", path))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Syncing the folder makes the rename itself durable.
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync", &dir))
}

/// Creates a state file holding no log. Fails if the file exists.
pub fn create_state_file(path: &Path) -> Result<(), StateError> {
    if path.exists() {
        return Err(StateError::Exists(path.to_path_buf()));
    }
    write_atomically(path, &encode(path, &BTreeMap::new())?)
}

/// Reads a state file.
pub fn read_state_file(path: &Path) -> Result<BTreeMap<String, LogState>, StateError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(StateError::Missing(path.to_path_buf()));
        }
        Err(e) => return Err(io_err("read", path)(e)),
    };
    let doc: StateDoc = serde_json::from_slice(&bytes).map_err(|e| StateError::Malformed {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if doc.format != STATE_FORMAT {
        return Err(StateError::Malformed {
            path: path.to_path_buf(),
            reason: format!("format `{}` is not `{STATE_FORMAT}`", doc.format),
        });
    }
    Ok(doc.logs)
}

/// Updates waiting to be written.
#[derive(Default)]
struct Pending {
    next_seq: u64,
    updates: BTreeMap<String, (u64, LogState)>,
}

/// The state of a running witness: what is on disk, updates waiting for
/// the next write, and the lock that keeps other processes out.
pub(crate) struct StateStore {
    path: PathBuf,
    committed: Mutex<BTreeMap<String, LogState>>,
    pending: Mutex<Pending>,
    /// Held while a write is in flight; holds the sequence number of the
    /// last update that is on disk.
    writer: tokio::sync::Mutex<u64>,
    /// Open for as long as the witness runs; its lock keeps a second
    /// witness process off the same state.
    _lock: File,
}

/// Locks a mutex, recovering the data if a thread panicked holding it (the
/// data is only replaced wholesale, never left half-updated).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl StateStore {
    /// Opens an existing state file and locks it for this process.
    pub(crate) fn open(path: &Path) -> Result<StateStore, StateError> {
        let committed = read_state_file(path)?;
        let mut lock_name = path.file_name().unwrap_or_default().to_os_string();
        lock_name.push(".lock");
        let lock_path = path.with_file_name(lock_name);
        let lock_file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err("create", &lock_path))?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(StateError::Locked {
                    path: path.to_path_buf(),
                    lock: lock_path,
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_err("lock", &lock_path)(e)),
        }
        Ok(StateStore {
            path: path.to_path_buf(),
            committed: Mutex::new(committed),
            pending: Mutex::new(Pending::default()),
            writer: tokio::sync::Mutex::new(0),
            _lock: lock_file,
        })
    }

    /// The checkpoint held for a log, as on disk.
    pub(crate) fn get(&self, origin: &str) -> Option<LogState> {
        lock(&self.committed).get(origin).cloned()
    }

    /// Every log's checkpoint, as on disk.
    pub(crate) fn all(&self) -> BTreeMap<String, LogState> {
        lock(&self.committed).clone()
    }

    /// Records a new checkpoint for a log and returns once it is on disk.
    ///
    /// The caller must hold the log's lock from reading its state until this
    /// returns.
    pub(crate) async fn commit(&self, origin: &str, state: LogState) -> Result<(), StateError> {
        let seq = {
            let mut pending = lock(&self.pending);
            pending.next_seq += 1;
            let seq = pending.next_seq;
            pending.updates.insert(origin.to_string(), (seq, state));
            seq
        };
        let mut durable = self.writer.lock().await;
        if *durable >= seq {
            // Written by another request's write, with ours in its group.
            return Ok(());
        }
        let batch = {
            let mut pending = lock(&self.pending);
            if pending.updates.get(origin).map(|(s, _)| *s) != Some(seq) {
                // Our update was taken by a write that failed.
                return Err(StateError::Io {
                    action: "write",
                    path: self.path.clone(),
                    source: io::Error::other("an earlier write of the state failed"),
                });
            }
            std::mem::take(&mut pending.updates)
        };
        let mut next = self.all();
        let mut last = 0;
        for (origin, (s, state)) in &batch {
            last = last.max(*s);
            next.insert(origin.clone(), state.clone());
        }
        let written = match encode(&self.path, &next) {
            Ok(bytes) => {
                let path = self.path.clone();
                tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
                    .await
                    .unwrap_or_else(|e| {
                        Err(StateError::Io {
                            action: "write",
                            path: self.path.clone(),
                            source: io::Error::other(e.to_string()),
                        })
                    })
            }
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            // The other requests of the group get their updates back and
            // write them themselves; only this one fails.
            let mut pending = lock(&self.pending);
            for (o, update) in batch {
                if o != origin {
                    pending.updates.entry(o).or_insert(update);
                }
            }
            return Err(e);
        }
        *lock(&self.committed) = next;
        *durable = last;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn state(size: u64) -> LogState {
        LogState {
            size,
            root: [size as u8; 32],
            note: format!("o\n{size}\n…\n"),
        }
    }

    #[test]
    fn created_opened_locked_and_written_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert!(matches!(
            StateStore::open(&path),
            Err(StateError::Missing(_))
        ));
        create_state_file(&path).unwrap();
        assert!(matches!(
            create_state_file(&path),
            Err(StateError::Exists(_))
        ));
        let store = StateStore::open(&path).unwrap();
        assert!(matches!(
            StateStore::open(&path),
            Err(StateError::Locked { .. })
        ));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(store.commit("a", state(5))).unwrap();
        rt.block_on(store.commit("b", state(7))).unwrap();
        rt.block_on(store.commit("a", state(9))).unwrap();
        assert_eq!(store.get("a"), Some(state(9)));
        drop(store);
        let back = read_state_file(&path).unwrap();
        assert_eq!(back.get("a"), Some(&state(9)));
        assert_eq!(back.get("b"), Some(&state(7)));
        assert!(!tmp_path(&path).exists());
        // A crash mid-write leaves a stray temp file; the state is intact.
        std::fs::write(tmp_path(&path), b"{\"format\":").unwrap();
        let store = StateStore::open(&path).unwrap();
        assert_eq!(store.get("b"), Some(state(7)));

        std::fs::write(&path, b"{\"format\":\"other\",\"logs\":{}}").unwrap();
        drop(store);
        assert!(matches!(
            read_state_file(&path),
            Err(StateError::Malformed { .. })
        ));
    }

    #[test]
    fn a_failed_write_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        create_state_file(&path).unwrap();
        let store = StateStore::open(&path).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(store.commit("a", state(5))).unwrap();
        // The temp file cannot be created: the write fails, the state on
        // disk and in memory stays as it was.
        std::fs::create_dir(tmp_path(&path)).unwrap();
        let err = rt.block_on(store.commit("a", state(6))).unwrap_err();
        assert!(err.to_string().starts_with("cannot create `"), "{err}");
        assert_eq!(store.get("a"), Some(state(5)));
        assert_eq!(read_state_file(&path).unwrap()["a"], state(5));
        std::fs::remove_dir(tmp_path(&path)).unwrap();
        rt.block_on(store.commit("a", state(7))).unwrap();
        assert_eq!(read_state_file(&path).unwrap()["a"], state(7));
    }

    #[test]
    fn concurrent_commits_of_many_logs_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        create_state_file(&path).unwrap();
        let store = std::sync::Arc::new(StateStore::open(&path).unwrap());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        rt.block_on(async {
            let mut tasks = Vec::new();
            for log in 0..20u64 {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    for size in 1..=10 {
                        store
                            .commit(&format!("log{log}"), state(log * 100 + size))
                            .await
                            .unwrap();
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        });
        let back = read_state_file(&path).unwrap();
        assert_eq!(back.len(), 20);
        for log in 0..20u64 {
            assert_eq!(back[&format!("log{log}")].size, log * 100 + 10);
        }
    }
}
