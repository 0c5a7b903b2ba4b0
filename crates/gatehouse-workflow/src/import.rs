//! Import: source file(s) → snapshot → correlated → delta → events.
//!
//! A source is read and checked completely before the store is touched; the import lock is
//! taken; the delta is computed in a read transaction; and the changes are recorded in
//! batches of short write transactions, so that other writers are never held up for long.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use gatehouse_connect::{
    CorrelationReport, Correlator, IdentityIndex, Outcome, Problem, ReadOptions, read_hr, read_nhi,
    read_roles, read_system, read_warrants,
};
use gatehouse_model::{Account, ErrorCode, ImportFile, SystemConfig, SystemKey, Timestamp};
use gatehouse_store::inventory::Directory;
use gatehouse_store::{
    ImportLock, ImportOptions, ImportPlan, ImportSummary, Progress, RecordChanges, RememberedFile,
    Store, StoreError, SystemImport, SystemSince,
};

use crate::WorkflowError;

/// The kinds of source Gatehouse imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The HR feed: people.
    Hr,
    /// The non-human identity inventory.
    Nhi,
    /// One system's folder.
    System,
    /// The role catalogue.
    Roles,
    /// Warrant records: approved requests, review decisions, break-glass uses.
    Warrants,
}

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct ImportSettings {
    /// The time the snapshot describes; `None` means now.
    pub as_of: Option<Timestamp>,
    /// Import the valid rows and report the invalid ones.
    pub skip_invalid: bool,
    /// Accept a snapshot that removes more than half of the source's objects.
    pub allow_mass_removal: bool,
    /// Read every record of a system's files, even when the files of its latest import are
    /// kept to compare them with (see [`Parsed::SystemChanges`]).
    pub reread: bool,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// The store's account of the delta.
    pub summary: ImportSummary,
    /// Rows left out (with `skip_invalid`).
    pub skipped: Vec<Problem>,
    /// Number of rows left out.
    pub skipped_rows: u64,
    /// The files read.
    pub files: Vec<ImportFile>,
    /// How accounts were linked (system imports).
    pub correlation: Option<CorrelationReport>,
    /// Accounts re-linked because identities changed (HR and NHI imports).
    pub recorrelated: u64,
    /// When the source's files were byte for byte those of its latest import (this event),
    /// they were not read again: nothing can have changed.
    pub same_files_as: Option<u64>,
    /// When a system's files were compared with those of its latest import, and only the
    /// records that differ were read: `(records read, records in the files)`. The
    /// correlation report then covers the accounts read.
    pub compared: Option<(u64, u64)>,
}

/// The last correlation index built, with the directory it was built from: consecutive imports
/// in one process (a scheduler, `gatehouse demo`) reuse it while the identities are unchanged.
static LAST_INDEX: Mutex<Option<(Directory, Arc<IdentityIndex>)>> = Mutex::new(None);

/// Builds (or reuses) the correlation index of the store's current identities.
fn index_of(store: &Store) -> Result<Arc<IdentityIndex>, StoreError> {
    let directory = store.read(|r| r.identity_directory())?;
    if let Ok(last) = LAST_INDEX.lock()
        && let Some((d, ix)) = last.as_ref()
        && Arc::ptr_eq(d, &directory)
    {
        return Ok(ix.clone());
    }
    let mut ix = IdentityIndex::default();
    for (key, kind, email) in directory.iter() {
        ix.insert(key, *kind, email.as_deref());
    }
    let ix = Arc::new(ix);
    if let Ok(mut last) = LAST_INDEX.lock() {
        *last = Some((directory, ix.clone()));
    }
    Ok(ix)
}

/// Re-links accounts of every system to the current identities, recording
/// `account.correlated` where a link changes, as of `as_of`. Systems whose rules do not
/// compile are left as they are. Returns the number of accounts re-linked.
pub fn relink(
    lock: &mut ImportLock<'_>,
    as_of: Timestamp,
    skip: &[SystemKey],
    actor: &str,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let store = lock.store();
    if store.read(|r| r.system_count())? == 0 {
        return Ok(0);
    }
    let index = index_of(store)?;
    let events = store.read(|r| {
        r.plan_relink(
            as_of,
            skip,
            |config: &SystemConfig, accounts: &mut [Account]| {
                if let Ok(c) = Correlator::new(&config.correlation) {
                    c.correlate_accounts(accounts, &index);
                }
            },
        )
    })?;
    lock.append(events, actor, now)
}

/// Re-runs correlation for every system as a command of its own.
pub fn recorrelate(store: &Store, actor: &str, now: Timestamp) -> Result<u64, WorkflowError> {
    let mut lock = store.import_lock()?;
    Ok(relink(&mut lock, now, &[], actor, now)?)
}

fn options(
    settings: &ImportSettings,
    now: Timestamp,
    files: Vec<ImportFile>,
    outcome: &Outcome,
) -> ImportOptions {
    ImportOptions {
        as_of: settings.as_of.unwrap_or(now),
        files,
        skipped_rows: outcome.skipped_rows,
        partial: outcome.partial.clone(),
        allow_mass_removal: settings.allow_mass_removal,
    }
}

/// A source read and checked, ready to be applied.
pub enum Parsed {
    /// People or non-human identities, with the source name (`hr`, `nhi`).
    Identities(gatehouse_connect::IdentitySnapshot, &'static str),
    /// One system, with its compiled correlation rules and its files to keep for the next
    /// import's comparison (none when they are not CSV or rows were left out).
    System(
        Box<gatehouse_connect::SystemSnapshot>,
        Correlator,
        Vec<RememberedFile>,
    ),
    /// One system whose files were compared with those of its latest import (kept by the
    /// store): only the records that differ were read. Applied only if nothing changed the
    /// system or any identity since those files were kept, and if the store holds what they
    /// said; otherwise the folder is read whole when it is applied.
    SystemChanges {
        /// What differs.
        changes: Box<gatehouse_connect::SystemChanges>,
        /// The system's correlation rules.
        correlator: Correlator,
        /// The system's folder.
        path: PathBuf,
        /// The last event when the compared files were kept.
        kept_at: u64,
        /// The new files, to keep for the next import.
        keep: Vec<RememberedFile>,
    },
    /// The role catalogue.
    Roles(gatehouse_connect::RoleSnapshot),
    /// Warrant records.
    Warrants(gatehouse_connect::WarrantSnapshot),
    /// A source whose files are byte for byte those of its latest, complete import (the
    /// event `import`): it was not read again.
    Unchanged {
        /// The source (`hr`, `system:erp`, …).
        source: String,
        /// The files, as that import recorded them.
        files: Vec<ImportFile>,
        /// That import's `import.applied` event.
        import: u64,
    },
}

/// The name under which a source's imports are recorded.
fn source_name(source: Source, path: &Path) -> Result<String, gatehouse_connect::ConnectError> {
    Ok(match source {
        Source::Hr => "hr".into(),
        Source::Nhi => "nhi".into(),
        Source::Roles => "roles".into(),
        Source::Warrants => "warrants".into(),
        Source::System => {
            let (config, _) = gatehouse_connect::read_system_config(&path.join("system.toml"))?;
            format!("system:{}", config.key)
        }
    })
}

/// Whether a source's files are byte for byte those its latest, complete import read (and
/// nothing else a reader would consider lies beside them): then the snapshot cannot differ
/// from the store, and reading it as tables would only confirm that. A snapshot older than that
/// import, or an import that left rows out, goes the usual way (which refuses or re-reads).
fn unchanged(
    store: &Store,
    source: Source,
    path: &Path,
    settings: &ImportSettings,
    now: Timestamp,
) -> Result<Option<Parsed>, WorkflowError> {
    // A source that cannot even be named (no readable system.toml) is for the reader to
    // explain.
    let Ok(name) = source_name(source, path) else {
        return Ok(None);
    };
    let Some(last) = store.read(|r| r.last_import(&name))? else {
        return Ok(None);
    };
    if !last.complete || last.skipped_rows > 0 || settings.as_of.unwrap_or(now) < last.as_of {
        return Ok(None);
    }
    let layout = match source {
        Source::System => gatehouse_connect::Layout::System,
        Source::Roles => gatehouse_connect::Layout::Roles,
        Source::Hr | Source::Nhi | Source::Warrants => gatehouse_connect::Layout::File,
    };
    let present = gatehouse_connect::source_files(layout, path);
    if present.len() != last.files.len() {
        return Ok(None);
    }
    for (name, file) in &present {
        let Some(recorded) = last.files.iter().find(|f| &f.name == name) else {
            return Ok(None);
        };
        if gatehouse_connect::file_sha256(file)? != recorded.sha256 {
            return Ok(None);
        }
    }
    Ok(Some(Parsed::Unchanged {
        source: name,
        files: last.files,
        import: last.seq,
    }))
}

/// Reads and checks a source, unless its files are those of its latest import (see
/// [`Parsed::Unchanged`]).
pub fn prepare(
    store: &Store,
    source: Source,
    path: &Path,
    settings: &ImportSettings,
    now: Timestamp,
) -> Result<Parsed, WorkflowError> {
    if let Some(p) = unchanged(store, source, path, settings, now)? {
        return Ok(p);
    }
    if source == Source::System
        && !settings.reread
        && let Some(p) = compared(store, path, settings, now)?
    {
        return Ok(p);
    }
    parse(source, path, settings)
}

/// A system folder compared with the kept files of its latest import, when that import was
/// complete and left no row out and its files are kept; `None` when it cannot be compared.
fn compared(
    store: &Store,
    path: &Path,
    settings: &ImportSettings,
    now: Timestamp,
) -> Result<Option<Parsed>, WorkflowError> {
    let Ok(name) = source_name(Source::System, path) else {
        return Ok(None);
    };
    let found = store.read(|r| {
        let Some(last) = r.last_import(&name)? else {
            return Ok::<_, StoreError>(None);
        };
        if !last.complete || last.skipped_rows > 0 || settings.as_of.unwrap_or(now) < last.as_of {
            return Ok(None);
        }
        Ok(r.import_memory(&name)?
            .filter(|m| m.format == gatehouse_connect::RECORD_FORMAT && m.matches(&last.files)))
    })?;
    let Some(memory) = found else {
        return Ok(None);
    };
    let earlier: Vec<gatehouse_connect::EarlierFile> = memory
        .files
        .into_iter()
        .map(|(name, _, bytes)| gatehouse_connect::EarlierFile { name, bytes })
        .collect();
    let Some(changes) = gatehouse_connect::read_system_changes(path, &earlier)? else {
        return Ok(None);
    };
    drop(earlier);
    let Ok(correlator) = Correlator::new(&changes.config.correlation) else {
        return Ok(None);
    };
    let keep = changes
        .bytes
        .iter()
        .filter_map(|(name, bytes)| {
            let file = changes.files.iter().find(|f| &f.name == name)?;
            Some(RememberedFile::new(name, &file.sha256, bytes))
        })
        .collect();
    let mut changes = changes;
    changes.bytes = Vec::new();
    Ok(Some(Parsed::SystemChanges {
        changes: Box::new(changes),
        correlator,
        path: path.to_owned(),
        kept_at: memory.last_seq,
        keep,
    }))
}

/// A system's files, read again after they were parsed, to keep for the next import's
/// comparison: only CSV files, and only if they are still the bytes that were parsed.
fn files_to_keep(path: &Path, snapshot: &gatehouse_connect::SystemSnapshot) -> Vec<RememberedFile> {
    if snapshot.outcome.skipped_rows > 0
        || snapshot
            .files
            .iter()
            .any(|f| f.name != "system.toml" && !f.name.to_ascii_lowercase().ends_with(".csv"))
    {
        return Vec::new();
    }
    let mut keep = Vec::with_capacity(snapshot.files.len());
    for f in &snapshot.files {
        match gatehouse_connect::read_with_sha256(&path.join(&f.name)) {
            Ok((bytes, sha)) if sha == f.sha256 => {
                keep.push(RememberedFile::new(&f.name, &f.sha256, &bytes))
            }
            _ => return Vec::new(),
        }
    }
    keep
}

/// Reads and checks a source completely, without touching the store.
pub fn parse(
    source: Source,
    path: &Path,
    settings: &ImportSettings,
) -> Result<Parsed, WorkflowError> {
    let read = ReadOptions {
        skip_invalid: settings.skip_invalid,
    };
    Ok(match source {
        Source::Hr => Parsed::Identities(read_hr(path, read)?, "hr"),
        Source::Nhi => Parsed::Identities(read_nhi(path, read)?, "nhi"),
        Source::System => {
            let snapshot = read_system(path, read)?;
            let correlator = Correlator::new(&snapshot.config.correlation).map_err(|e| {
                StoreError::refused(
                    ErrorCode::InvalidInput,
                    format!("{}: {e}", path.join("system.toml").display()),
                )
            })?;
            let keep = files_to_keep(path, &snapshot);
            Parsed::System(Box::new(snapshot), correlator, keep)
        }
        Source::Roles => Parsed::Roles(read_roles(path, read)?),
        Source::Warrants => Parsed::Warrants(read_warrants(path, read)?),
    })
}

/// Applies a parsed source to the store, under the import lock: the delta is computed in a
/// read transaction and recorded in batches (see [`ImportLock::apply`]). After identities
/// change, every system's accounts are re-linked.
pub fn apply(
    lock: &mut ImportLock<'_>,
    parsed: Parsed,
    settings: &ImportSettings,
    actor: &str,
    now: Timestamp,
) -> Result<ImportReport, WorkflowError> {
    apply_source(lock, parsed, settings, actor, now, true)
}

fn apply_source(
    lock: &mut ImportLock<'_>,
    parsed: Parsed,
    settings: &ImportSettings,
    actor: &str,
    now: Timestamp,
    relink_after_identities: bool,
) -> Result<ImportReport, WorkflowError> {
    let store = lock.store();
    let report = |summary, outcome: Outcome, files, correlation, recorrelated| ImportReport {
        summary,
        skipped: outcome.skipped,
        skipped_rows: outcome.skipped_rows,
        files,
        correlation,
        recorrelated,
        same_files_as: None,
        compared: None,
    };
    match parsed {
        Parsed::Unchanged {
            source,
            files,
            import,
        } => {
            // Recorded as read, with the same files: proof that the feed ran.
            let opts = options(settings, now, files.clone(), &Outcome::default());
            let summary = lock.apply(ImportPlan::unchanged(&source, &opts), actor, now)?;
            Ok(ImportReport {
                summary,
                skipped: Vec::new(),
                skipped_rows: 0,
                files,
                correlation: None,
                recorrelated: 0,
                same_files_as: Some(import),
                compared: None,
            })
        }
        Parsed::Identities(snapshot, name) => {
            let opts = options(settings, now, snapshot.files.clone(), &snapshot.outcome);
            let summary = lock.import_identities(name, snapshot.identities, &opts, actor, now)?;
            let recorrelated = if summary.unchanged() || !relink_after_identities {
                0
            } else {
                relink(lock, opts.as_of, &[], actor, now)?
            };
            Ok(report(
                summary,
                snapshot.outcome,
                snapshot.files,
                None,
                recorrelated,
            ))
        }
        Parsed::System(snapshot, correlator, keep) => {
            let snapshot = *snapshot;
            let opts = options(settings, now, snapshot.files.clone(), &snapshot.outcome);
            let mut accounts = snapshot.accounts;
            let index = index_of(store)?;
            let correlation = correlator.correlate_accounts(&mut accounts, &index);
            let mut summary = lock.import_system(
                SystemImport {
                    config: snapshot.config,
                    accounts,
                    entitlements: snapshot.entitlements,
                    grants: snapshot.grants,
                },
                &opts,
                actor,
                now,
            )?;
            keep_files(lock, &mut summary, keep);
            Ok(report(
                summary,
                snapshot.outcome,
                snapshot.files,
                Some(correlation),
                0,
            ))
        }
        Parsed::SystemChanges {
            changes,
            correlator,
            path,
            kept_at,
            keep,
        } => {
            let changes = *changes;
            let key = changes.config.key.clone();
            let since = store.read(|r| r.system_since(&key, kept_at))?;
            let whole = |lock: &mut ImportLock<'_>| {
                let parsed = parse(Source::System, &path, settings)?;
                apply_source(lock, parsed, settings, actor, now, relink_after_identities)
            };
            if since == SystemSince::Changed {
                return whole(lock);
            }
            // Identities changed since the files were kept: an account whose record did not
            // change may now link elsewhere, so every account record is read and correlated,
            // as a whole read would (grants and entitlements are still compared).
            let relink = since == SystemSince::Relinked;
            let (mut accounts, parsed) = if relink {
                let file = changes.files.iter().find(|f| {
                    f.name != "system.toml" && f.name.split('.').next() == Some("accounts")
                });
                match gatehouse_connect::read_system_accounts(&path, &key)? {
                    Some((all, read)) if file.is_some_and(|f| f.sha256 == read.sha256) => {
                        let n = all.len() as u64;
                        (all, changes.parsed + n)
                    }
                    _ => return whole(lock),
                }
            } else {
                (changes.accounts, changes.parsed)
            };
            let opts = options(settings, now, changes.files.clone(), &Outcome::default());
            let index = index_of(store)?;
            let correlation = correlator.correlate_accounts(&mut accounts, &index);
            // The counts of the latest import's files: the store's current objects.
            let before = store.read(|r| r.last_import(&format!("system:{key}")))?;
            let rows_before = |base| before.as_ref().map_or(0, |l| rows_of(&l.files, base));
            let gone = RecordChanges {
                accounts_gone: changes.accounts_gone,
                entitlements_gone: changes.entitlements_gone,
                grants_gone: changes.grants_gone,
                accounts_whole: relink,
                accounts_before: rows_before("accounts"),
                grants_before: rows_before("grants"),
            };
            let imported = lock.import_system_changes(
                SystemImport {
                    config: changes.config,
                    accounts,
                    entitlements: changes.entitlements,
                    grants: changes.grants,
                },
                &gone,
                &opts,
                actor,
                now,
            )?;
            let Some(mut summary) = imported else {
                return whole(lock);
            };
            keep_files(lock, &mut summary, keep);
            let mut r = report(
                summary,
                Outcome::default(),
                changes.files,
                Some(correlation),
                0,
            );
            r.compared = Some((parsed, changes.records));
            Ok(r)
        }
        Parsed::Roles(snapshot) => {
            let opts = options(settings, now, snapshot.files.clone(), &snapshot.outcome);
            let summary = lock.import_roles(snapshot.roles, &opts, actor, now)?;
            Ok(report(summary, snapshot.outcome, snapshot.files, None, 0))
        }
        Parsed::Warrants(snapshot) => {
            let opts = options(settings, now, snapshot.files.clone(), &snapshot.outcome);
            let summary = lock.import_warrants(snapshot.records, &opts, actor, now)?;
            Ok(report(summary, snapshot.outcome, snapshot.files, None, 0))
        }
    }
}

/// Keeps a system's files for the next import's comparison, or drops those kept before when
/// there are none to keep. Failing to keep them does not undo the import: it is said among
/// its warnings, and the next import reads every record.
fn keep_files(lock: &mut ImportLock<'_>, summary: &mut ImportSummary, keep: Vec<RememberedFile>) {
    let kept = match summary.import_seq {
        Some(seq) if !keep.is_empty() => {
            lock.remember(&summary.source, seq, gatehouse_connect::RECORD_FORMAT, keep)
        }
        _ => lock.forget(&summary.source),
    };
    if let Err(e) = kept {
        summary.warnings.push(format!(
            "the files could not be kept for the next import to compare with ({e}); it will read every record"
        ));
    }
}

/// The data rows of the file of a system's import named `base` (`accounts`, `grants`).
fn rows_of(files: &[ImportFile], base: &str) -> usize {
    files
        .iter()
        .find(|f| f.name.split('.').next() == Some(base))
        .map_or(0, |f| f.rows as usize)
}

/// Imports one source. The source is read and checked completely before the store is
/// touched; nothing is recorded if it has a problem, or if the store refuses the snapshot.
pub fn import(
    store: &Store,
    source: Source,
    path: &Path,
    settings: &ImportSettings,
    actor: &str,
    now: Timestamp,
    progress: Option<Progress>,
) -> Result<ImportReport, WorkflowError> {
    let mut lock = store.import_lock()?;
    let parsed = prepare(store, source, path, settings, now)?;
    lock.set_progress(progress);
    let report = apply(&mut lock, parsed, settings, actor, now)?;
    lock.release()?;
    Ok(report)
}

/// What a folder import did.
#[derive(Debug, Clone)]
pub struct FolderReport {
    /// Each source's report, in import order.
    pub sources: Vec<ImportReport>,
    /// Accounts of systems outside the folder re-linked because identities changed.
    pub relinked: u64,
}

/// Imports every source of a snapshot folder (see [`snapshot_sources`]) in order, each on its
/// own, as one bulk load under one import lock. While one source is applied, the next is read
/// on another core. Stops at the first source that fails; the sources before it stay
/// imported, and the error says which were imported and which were not. `each` is told about
/// every source as it is done.
///
/// When the folder changes identities, the accounts of its own systems are correlated again
/// as those systems are imported; only systems the folder does not hold are re-linked, once,
/// at the end.
pub fn import_folder(
    store: &Store,
    dir: &Path,
    settings: &ImportSettings,
    actor: &str,
    now: Timestamp,
    progress: Option<Progress>,
    each: impl FnMut(&Path, &ImportReport),
) -> Result<FolderReport, WorkflowError> {
    let never = AtomicBool::new(false);
    import_folder_until(store, dir, settings, actor, now, progress, &never, each)
}

/// How a folder import ended early.
enum Ended {
    /// The source at this position failed.
    Failed(usize, PathBuf, WorkflowError),
    /// Asked to stop, with this many sources imported.
    Stopped(usize),
}

/// [`import_folder`], which stops early when `stop` is set (by Ctrl-C, say): the source being
/// written is finished, no further source is begun, the accounts that the identities imported
/// so far concern are re-linked, and the result is [`WorkflowError::Stopped`], naming the
/// sources imported and those not. Everything recorded is complete, ready to be sealed.
#[allow(clippy::too_many_arguments)]
pub fn import_folder_until(
    store: &Store,
    dir: &Path,
    settings: &ImportSettings,
    actor: &str,
    now: Timestamp,
    progress: Option<Progress>,
    stop: &AtomicBool,
    mut each: impl FnMut(&Path, &ImportReport),
) -> Result<FolderReport, WorkflowError> {
    let sources = snapshot_sources(dir).map_err(|e| {
        StoreError::refused(
            ErrorCode::SourceUnreadable,
            format!("cannot list the systems of `{}`: {e}", dir.display()),
        )
    })?;
    if sources.is_empty() {
        return Err(StoreError::refused(
            ErrorCode::SourceUnreadable,
            format!(
                "`{}` holds no source: expected hr/people.csv, nhi/identities.csv, systems/<key>/, roles/ or warrants/tickets.csv",
                dir.display()
            ),
        )
        .into());
    }
    check_folder(dir, &sources)
        .map_err(|message| StoreError::refused(ErrorCode::SourceUnreadable, message))?;
    let mut lock = store.import_lock()?;
    lock.set_bulk();
    lock.set_progress(progress);
    let names: Vec<PathBuf> = sources.iter().map(|(_, p)| p.clone()).collect();
    let result = std::thread::scope(|scope| {
        // A rendezvous channel: at most one source parsed ahead, to bound memory.
        let (tx, rx) = std::sync::mpsc::sync_channel::<(PathBuf, Result<Parsed, WorkflowError>)>(0);
        let sources_for_reader = sources.clone();
        scope.spawn(move || {
            for (source, path) in sources_for_reader {
                let parsed = prepare(store, source, &path, settings, now);
                let failed = parsed.is_err();
                if tx.send((path, parsed)).is_err() || failed {
                    break;
                }
            }
        });
        let mut reports = Vec::with_capacity(sources.len());
        let mut stopped = false;
        for (path, parsed) in rx {
            if stop.load(Ordering::Relaxed) {
                stopped = true;
                break;
            }
            let applied =
                parsed.and_then(|p| apply_source(&mut lock, p, settings, actor, now, false));
            match applied {
                Ok(r) => {
                    each(&path, &r);
                    reports.push(r);
                }
                Err(cause) => return Err(Ended::Failed(reports.len(), path, cause)),
            }
        }
        // The last source may have been done when the stop came.
        stopped |= stop.load(Ordering::Relaxed) && reports.len() < sources.len();
        let relinked = relink_after_folder(&mut lock, &reports, settings, actor, now)
            .map_err(|e| Ended::Failed(reports.len(), dir.to_path_buf(), e.into()))?;
        if stopped {
            return Err(Ended::Stopped(reports.len()));
        }
        Ok(FolderReport {
            sources: reports,
            relinked,
        })
    });
    let rebuilt = lock.release();
    let shown = |v: &[PathBuf]| v.iter().map(|p| p.display().to_string()).collect();
    match result {
        Ok(report) => {
            rebuilt?;
            Ok(report)
        }
        Err(Ended::Stopped(done)) => {
            rebuilt?;
            Err(WorkflowError::Stopped {
                imported: shown(&names[..done]),
                not_imported: shown(&names[done..]),
            })
        }
        Err(Ended::Failed(done, failed, cause)) => Err(WorkflowError::Folder {
            imported: shown(&names[..done]),
            failed: failed.display().to_string(),
            not_attempted: shown(names.get(done + 1..).unwrap_or_default()),
            cause: Box::new(cause),
        }),
    }
}

/// After the sources of a folder: when they changed identities, re-links the accounts of the
/// systems this run did not read (systems outside the folder, and those whose files were not
/// read again), as of the snapshot time. The folder's own systems were correlated as they
/// were imported.
fn relink_after_folder(
    lock: &mut ImportLock<'_>,
    reports: &[ImportReport],
    settings: &ImportSettings,
    actor: &str,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let identities_changed = reports
        .iter()
        .any(|r| matches!(r.summary.source.as_str(), "hr" | "nhi") && !r.summary.unchanged());
    if !identities_changed {
        return Ok(0);
    }
    let read: Vec<SystemKey> = reports
        .iter()
        .filter(|r| r.same_files_as.is_none())
        .filter_map(|r| r.summary.source.strip_prefix("system:"))
        .filter_map(|k| k.parse().ok())
        .collect();
    relink(lock, settings.as_of.unwrap_or(now), &read, actor, now)
}

/// Checks a snapshot folder as a whole before anything of it is imported: every file its
/// sources would be read from lies inside it (a symbolic link that leads out of the folder is
/// refused: the import records files by their place in the folder, which would then not be
/// where they came from), and no two system folders hold the same system (the second would
/// silently replace the first). Says what is wrong in a message naming the files or folders.
pub fn check_folder(dir: &Path, sources: &[(Source, PathBuf)]) -> Result<(), String> {
    let root = std::fs::canonicalize(dir)
        .map_err(|e| format!("cannot read the snapshot folder `{}`: {e}", dir.display()))?;
    for (source, path) in sources {
        let layout = match source {
            Source::System => gatehouse_connect::Layout::System,
            Source::Roles => gatehouse_connect::Layout::Roles,
            Source::Hr | Source::Nhi | Source::Warrants => gatehouse_connect::Layout::File,
        };
        let files = gatehouse_connect::source_files(layout, path);
        for file in std::iter::once(path).chain(files.iter().map(|(_, f)| f)) {
            // A link that leads nowhere is the reader's to report, as a file it cannot read.
            let Ok(real) = std::fs::canonicalize(file) else {
                continue;
            };
            if !real.starts_with(&root) {
                return Err(format!(
                    "`{}` leads through a symbolic link to `{}`, outside the snapshot folder \
                     `{}`; a snapshot folder is imported only from files inside it (copy the \
                     file in); nothing was imported",
                    file.display(),
                    real.display(),
                    dir.display()
                ));
            }
        }
    }
    let mut keys: Vec<(String, &Path)> = Vec::new();
    for (source, path) in sources {
        if *source != Source::System {
            continue;
        }
        // A system.toml that cannot be read fails that system's own import, in its turn.
        let Ok((config, _)) = gatehouse_connect::read_system_config(&path.join("system.toml"))
        else {
            continue;
        };
        let key = config.key.to_string();
        if let Some((_, first)) = keys.iter().find(|(k, _)| *k == key) {
            return Err(format!(
                "`{}` and `{}` both hold the system `{key}` (their system.toml say `key = \"{key}\"`); \
                 a snapshot folder holds each system once; nothing was imported",
                first.display(),
                path.display()
            ));
        }
        keys.push((key, path));
    }
    Ok(())
}

/// The sources of a snapshot folder laid out as `gatehouse demo` writes it (`hr/people.csv`,
/// `nhi/identities.csv`, `systems/<key>/`, `roles/`, `warrants/tickets.csv`), in import order:
/// identities first so that accounts correlate, roles and warrants last so that their
/// references resolve. Missing optional parts are left out; a part that is there but is not
/// what it should be (a named pipe, a link that leads nowhere) is listed, for its import to
/// refuse with the reason.
pub fn snapshot_sources(dir: &Path) -> std::io::Result<Vec<(Source, PathBuf)>> {
    let present = |p: &Path| std::fs::symlink_metadata(p).is_ok();
    let mut v = Vec::new();
    let mut add = |source, path: PathBuf| {
        if present(&path) {
            v.push((source, path));
        }
    };
    add(Source::Hr, dir.join("hr/people.csv"));
    add(Source::Nhi, dir.join("nhi/identities.csv"));
    let systems_dir = dir.join("systems");
    let listing = if systems_dir.is_dir() {
        std::fs::read_dir(&systems_dir)?.flatten().collect()
    } else {
        Vec::new()
    };
    let mut systems: Vec<PathBuf> = listing
        .into_iter()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && present(&p.join("system.toml")))
        .collect();
    systems.sort();
    for s in systems {
        add(Source::System, s);
    }
    add(Source::Roles, dir.join("roles"));
    add(Source::Warrants, dir.join("warrants/tickets.csv"));
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        dir
    }

    fn check(dir: &Path) -> String {
        let sources = snapshot_sources(dir).unwrap();
        match check_folder(dir, &sources) {
            Ok(()) => format!("ok: {} sources", sources.len()),
            Err(e) => e.replace(&*dir.to_string_lossy(), ""),
        }
    }

    const SYSTEM: &str = "key = \"erp\"\nname = \"ERP\"\n";

    #[test]
    fn two_system_folders_with_one_key_are_refused_naming_both() {
        let dir = folder(&[
            ("hr/people.csv", "employee_id,name,status\n"),
            ("systems/erp/system.toml", SYSTEM),
            ("systems/erp-old/system.toml", SYSTEM),
            ("systems/gl/system.toml", "key = \"gl\"\nname = \"GL\"\n"),
        ]);
        assert_eq!(
            check(dir.path()),
            "`/systems/erp` and `/systems/erp-old` both hold the system `erp` (their system.toml \
             say `key = \"erp\"`); a snapshot folder holds each system once; nothing was imported"
        );
        std::fs::write(
            dir.path().join("systems/erp-old/system.toml"),
            "key = \"erp2\"\nname = \"x\"\n",
        )
        .unwrap();
        assert_eq!(check(dir.path()), "ok: 4 sources");
    }

    #[test]
    fn links_out_of_the_snapshot_folder_are_refused() {
        let outside = folder(&[
            ("people.csv", "employee_id,name,status\n"),
            ("erp/system.toml", SYSTEM),
            ("erp/grants.csv", "account,entitlement\n"),
        ]);
        let out = outside.path().to_string_lossy().into_owned();
        let dir = folder(&[
            ("systems/erp/system.toml", SYSTEM),
            ("systems/erp/accounts.csv", "id\n"),
        ]);
        // A link inside the folder is fine.
        std::fs::create_dir(dir.path().join("hr")).unwrap();
        std::os::unix::fs::symlink(
            dir.path().join("systems/erp/accounts.csv"),
            dir.path().join("hr/people.csv"),
        )
        .unwrap();
        assert_eq!(check(dir.path()), "ok: 2 sources");
        // A file that leads out of it is not.
        std::os::unix::fs::symlink(
            outside.path().join("erp/grants.csv"),
            dir.path().join("systems/erp/grants.csv"),
        )
        .unwrap();
        assert_eq!(
            check(dir.path()).replace(&out, "<outside>"),
            "`/systems/erp/grants.csv` leads through a symbolic link to `<outside>/erp/grants.csv`, \
             outside the snapshot folder ``; a snapshot folder is imported only from files inside \
             it (copy the file in); nothing was imported"
        );
        std::fs::remove_file(dir.path().join("systems/erp/grants.csv")).unwrap();
        // Nor does a linked folder.
        std::fs::remove_file(dir.path().join("hr/people.csv")).unwrap();
        std::fs::remove_dir(dir.path().join("hr")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("hr")).unwrap();
        assert!(
            check(dir.path()).replace(&out, "<outside>").starts_with(
                "`/hr/people.csv` leads through a symbolic link to `<outside>/people.csv`"
            ),
            "{}",
            check(dir.path())
        );
        std::fs::remove_file(dir.path().join("hr")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("erp"),
            dir.path().join("systems/linked"),
        )
        .unwrap();
        assert!(
            check(dir.path())
                .replace(&out, "<outside>")
                .starts_with("`/systems/linked` leads through a symbolic link to `<outside>/erp`"),
            "{}",
            check(dir.path())
        );
    }

    #[test]
    fn parts_that_are_there_but_unreadable_are_listed_not_left_out() {
        let dir = folder(&[("systems/erp/system.toml", SYSTEM)]);
        std::fs::create_dir(dir.path().join("hr")).unwrap();
        std::os::unix::fs::symlink("/nowhere", dir.path().join("hr/people.csv")).unwrap();
        let sources = snapshot_sources(dir.path()).unwrap();
        assert_eq!(sources.len(), 2, "{sources:?}");
        assert_eq!(sources[0].0, Source::Hr);
    }
}
