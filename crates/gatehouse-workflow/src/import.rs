//! Import: source file(s) → snapshot → correlated → delta events, in one transaction.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gatehouse_connect::{
    CorrelationReport, Correlator, IdentityIndex, Outcome, Problem, ReadOptions, read_hr, read_nhi,
    read_roles, read_system, read_warrants,
};
use gatehouse_model::{Account, ImportFile, SystemConfig, Timestamp};
use gatehouse_store::{
    Directory, ImportOptions, ImportSummary, Progress, Store, StoreError, SystemImport, Writer,
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
}

/// The last correlation index built, with the directory it was built from: consecutive imports
/// in one process (a scheduler, `gatehouse demo`) reuse it while the identities are unchanged.
static LAST_INDEX: Mutex<Option<(Directory, Arc<IdentityIndex>)>> = Mutex::new(None);

/// Builds (or reuses) the correlation index of the store's current identities.
fn index_of(w: &mut Writer<'_>) -> Result<Arc<IdentityIndex>, StoreError> {
    let directory = w.identity_directory()?;
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

/// Re-links accounts of every system to the current identities, appending `account.correlated`
/// where a link changes. Systems whose rules do not compile are left as they are.
pub fn relink(w: &mut Writer<'_>) -> Result<u64, StoreError> {
    if w.system_count()? == 0 {
        return Ok(0);
    }
    let index = index_of(w)?;
    w.recorrelate(|config: &SystemConfig, accounts: &mut [Account]| {
        if let Ok(c) = Correlator::new(&config.correlation) {
            c.correlate_accounts(accounts, &index);
        }
    })
}

/// Re-runs correlation for every system as a command of its own.
pub fn recorrelate(store: &mut Store, actor: &str, now: Timestamp) -> Result<u64, WorkflowError> {
    Ok(store.write(actor, now, relink)?)
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
        allow_mass_removal: settings.allow_mass_removal,
    }
}

/// A source read and checked, ready to be applied.
pub enum Parsed {
    /// People or non-human identities, with the source name (`hr`, `nhi`).
    Identities(gatehouse_connect::IdentitySnapshot, &'static str),
    /// One system, with its compiled correlation rules.
    System(Box<gatehouse_connect::SystemSnapshot>, Correlator),
    /// The role catalogue.
    Roles(gatehouse_connect::RoleSnapshot),
    /// Warrant records.
    Warrants(gatehouse_connect::WarrantSnapshot),
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
                StoreError::Refused(format!("{}: {e}", path.join("system.toml").display()))
            })?;
            Parsed::System(Box::new(snapshot), correlator)
        }
        Source::Roles => Parsed::Roles(read_roles(path, read)?),
        Source::Warrants => Parsed::Warrants(read_warrants(path, read)?),
    })
}

/// Applies a parsed source to the store in one write transaction.
pub fn apply(
    store: &mut Store,
    parsed: Parsed,
    settings: &ImportSettings,
    actor: &str,
    now: Timestamp,
    progress: Option<Progress>,
) -> Result<ImportReport, WorkflowError> {
    let report = |summary, outcome: Outcome, files, correlation, recorrelated| ImportReport {
        summary,
        skipped: outcome.skipped,
        skipped_rows: outcome.skipped_rows,
        files,
        correlation,
        recorrelated,
    };
    match parsed {
        Parsed::Identities(snapshot, name) => {
            let opts = options(settings, now, snapshot.files.clone(), &snapshot.outcome);
            let (summary, recorrelated) = store.write(actor, now, |w| {
                if let Some(p) = progress.clone() {
                    w.set_progress(p);
                }
                let summary = w.import_identities(name, snapshot.identities, &opts)?;
                let relinked = if summary.unchanged() { 0 } else { relink(w)? };
                Ok::<_, StoreError>((summary, relinked))
            })?;
            Ok(report(
                summary,
                snapshot.outcome,
                snapshot.files,
                None,
                recorrelated,
            ))
        }
        Parsed::System(snapshot, correlator) => {
            let snapshot = *snapshot;
            let opts = options(settings, now, snapshot.files.clone(), &snapshot.outcome);
            let mut accounts = snapshot.accounts;
            let (summary, correlation) = store.write(actor, now, |w| {
                if let Some(p) = progress.clone() {
                    w.set_progress(p);
                }
                let index = index_of(w)?;
                let report = correlator.correlate_accounts(&mut accounts, &index);
                let summary = w.import_system(
                    SystemImport {
                        config: snapshot.config,
                        accounts,
                        entitlements: snapshot.entitlements,
                        grants: snapshot.grants,
                    },
                    &opts,
                )?;
                Ok::<_, StoreError>((summary, report))
            })?;
            Ok(report(
                summary,
                snapshot.outcome,
                snapshot.files,
                Some(correlation),
                0,
            ))
        }
        Parsed::Roles(snapshot) => {
            let opts = options(settings, now, snapshot.files.clone(), &snapshot.outcome);
            let summary = store.write(actor, now, |w| w.import_roles(snapshot.roles, &opts))?;
            Ok(report(summary, snapshot.outcome, snapshot.files, None, 0))
        }
        Parsed::Warrants(snapshot) => {
            let opts = options(settings, now, snapshot.files.clone(), &snapshot.outcome);
            let summary =
                store.write(actor, now, |w| w.import_warrants(snapshot.records, &opts))?;
            Ok(report(summary, snapshot.outcome, snapshot.files, None, 0))
        }
    }
}

/// Imports one source. The source is read and checked completely before the store is
/// touched; the store changes in one transaction, or not at all.
pub fn import(
    store: &mut Store,
    source: Source,
    path: &Path,
    settings: &ImportSettings,
    actor: &str,
    now: Timestamp,
    progress: Option<Progress>,
) -> Result<ImportReport, WorkflowError> {
    let parsed = parse(source, path, settings)?;
    apply(store, parsed, settings, actor, now, progress)
}

/// Imports every source of a snapshot folder (see [`snapshot_sources`]) in order, each in its
/// own transaction, as one bulk load (see [`Store::bulk`]). While one source is applied, the
/// next is read on another core. Stops at the first source that fails; the sources before it
/// stay imported. `each` is told about every source as it is done.
pub fn import_folder(
    store: &mut Store,
    dir: &Path,
    settings: &ImportSettings,
    actor: &str,
    now: Timestamp,
    progress: Option<Progress>,
    mut each: impl FnMut(&Path, &ImportReport),
) -> Result<Vec<ImportReport>, WorkflowError> {
    let sources = snapshot_sources(dir).map_err(|e| {
        StoreError::Refused(format!(
            "cannot list the systems of `{}`: {e}",
            dir.display()
        ))
    })?;
    if sources.is_empty() {
        return Err(StoreError::Refused(format!(
            "`{}` holds no source: expected hr/people.csv, nhi/identities.csv, systems/<key>/, roles/ or warrants/tickets.csv",
            dir.display()
        ))
        .into());
    }
    // One bulk load: an index dropped for the first large system stays dropped until the last
    // source is in, and is rebuilt once.
    store.bulk(|store| {
        std::thread::scope(|scope| {
            // A rendezvous channel: at most one source parsed ahead, to bound memory.
            let (tx, rx) =
                std::sync::mpsc::sync_channel::<(PathBuf, Result<Parsed, WorkflowError>)>(0);
            let sources_for_reader = sources.clone();
            scope.spawn(move || {
                for (source, path) in sources_for_reader {
                    let parsed = parse(source, &path, settings);
                    let failed = parsed.is_err();
                    if tx.send((path, parsed)).is_err() || failed {
                        break;
                    }
                }
            });
            let mut reports = Vec::with_capacity(sources.len());
            for (path, parsed) in rx {
                let r = apply(store, parsed?, settings, actor, now, progress.clone())?;
                each(&path, &r);
                reports.push(r);
            }
            Ok(reports)
        })
    })
}

/// The sources of a snapshot folder laid out as `gatehouse demo` writes it (`hr/people.csv`,
/// `nhi/identities.csv`, `systems/<key>/`, `roles/`, `warrants/tickets.csv`), in import order:
/// identities first so that accounts correlate, roles and warrants last so that their
/// references resolve. Missing optional parts are left out.
pub fn snapshot_sources(dir: &Path) -> std::io::Result<Vec<(Source, PathBuf)>> {
    let mut v = Vec::new();
    let mut add = |source, path: PathBuf| {
        if path.exists() {
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
        .filter(|p| p.join("system.toml").is_file())
        .collect();
    systems.sort();
    for s in systems {
        add(Source::System, s);
    }
    add(Source::Roles, dir.join("roles"));
    add(Source::Warrants, dir.join("warrants/tickets.csv"));
    Ok(v)
}
