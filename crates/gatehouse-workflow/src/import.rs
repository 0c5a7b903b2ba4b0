//! Import: source file(s) → snapshot → correlated → delta events, in one transaction.

use std::path::{Path, PathBuf};

use gatehouse_connect::{
    CorrelationReport, Correlator, IdentityIndex, Outcome, Problem, ReadOptions, read_hr, read_nhi,
    read_roles, read_system, read_warrants,
};
use gatehouse_model::{Account, ImportFile, SystemConfig, Timestamp};
use gatehouse_store::{
    ImportOptions, ImportSummary, Progress, Store, StoreError, SystemImport, Writer,
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

/// Builds the correlation index from the store's current identities.
fn index_of(w: &mut Writer<'_>) -> Result<IdentityIndex, StoreError> {
    let mut ix = IdentityIndex::default();
    for (key, kind, email) in w.identity_directory()? {
        ix.insert(&key, kind, email.as_deref());
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
    let read = ReadOptions {
        skip_invalid: settings.skip_invalid,
    };
    match source {
        Source::Hr | Source::Nhi => {
            let (snapshot, name) = if source == Source::Hr {
                (read_hr(path, read)?, "hr")
            } else {
                (read_nhi(path, read)?, "nhi")
            };
            let opts = options(settings, now, snapshot.files.clone(), &snapshot.outcome);
            let (summary, recorrelated) = store.write(actor, now, |w| {
                if let Some(p) = progress.clone() {
                    w.set_progress(p);
                }
                let summary = w.import_identities(name, snapshot.identities, &opts)?;
                let relinked = if summary.unchanged() { 0 } else { relink(w)? };
                Ok::<_, StoreError>((summary, relinked))
            })?;
            Ok(ImportReport {
                summary,
                skipped: snapshot.outcome.skipped,
                skipped_rows: snapshot.outcome.skipped_rows,
                files: snapshot.files,
                correlation: None,
                recorrelated,
            })
        }
        Source::System => {
            let snapshot = read_system(path, read)?;
            let correlator = Correlator::new(&snapshot.config.correlation).map_err(|e| {
                StoreError::Refused(format!("{}: {e}", path.join("system.toml").display()))
            })?;
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
            Ok(ImportReport {
                summary,
                skipped: snapshot.outcome.skipped,
                skipped_rows: snapshot.outcome.skipped_rows,
                files: snapshot.files,
                correlation: Some(correlation),
                recorrelated: 0,
            })
        }
        Source::Roles => {
            let snapshot = read_roles(path, read)?;
            let opts = options(settings, now, snapshot.files.clone(), &snapshot.outcome);
            let summary = store.write(actor, now, |w| w.import_roles(snapshot.roles, &opts))?;
            Ok(ImportReport {
                summary,
                skipped: snapshot.outcome.skipped,
                skipped_rows: snapshot.outcome.skipped_rows,
                files: snapshot.files,
                correlation: None,
                recorrelated: 0,
            })
        }
        Source::Warrants => {
            let snapshot = read_warrants(path, read)?;
            let opts = options(settings, now, snapshot.files.clone(), &snapshot.outcome);
            let summary =
                store.write(actor, now, |w| w.import_warrants(snapshot.records, &opts))?;
            Ok(ImportReport {
                summary,
                skipped: snapshot.outcome.skipped,
                skipped_rows: snapshot.outcome.skipped_rows,
                files: snapshot.files,
                correlation: None,
                recorrelated: 0,
            })
        }
    }
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
    let mut systems: Vec<PathBuf> = std::fs::read_dir(dir.join("systems"))?
        .flatten()
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
