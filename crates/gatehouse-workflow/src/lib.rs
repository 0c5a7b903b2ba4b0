//! Gatehouse workflows: what a user asks for, carried out across connectors, analysis and the
//! store.
//!
//! The import pipeline reads a source with its connector, correlates accounts against the
//! identities in the store, and records the snapshot's delta under the import lock. The analysis
//! workflow loads the inventory, runs the rules and records what changed in the findings.
//! Sealing signs a checkpoint and has the configured witnesses cosign it.
//! Time is a parameter: nothing here reads the clock.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod analysis;
pub mod campaigns;
#[cfg(test)]
mod compare_tests;
mod import;
mod seal;

pub use analysis::{
    AcceptError, AnalyzeReport, Assessed, accept, analyze, assess, expire_acceptances,
};

pub use seal::{
    Sealed, WitnessOutcome, WitnessReport, WitnessView, Witnesses, ask_witnesses, seal,
};

pub use import::{
    FolderReport, ImportReport, ImportSettings, Parsed, Source, apply, check_folder, import,
    import_folder, import_folder_until, parse, prepare, recorrelate, relink, snapshot_sources,
};

/// What can go wrong in a workflow.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// The source could not be read, or has invalid rows.
    #[error(transparent)]
    Connect(#[from] gatehouse_connect::ConnectError),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] gatehouse_store::StoreError),
    /// A review campaign refused or failed.
    #[error(transparent)]
    Campaign(#[from] campaigns::CampaignError),
    /// A source of a snapshot folder failed; the sources before it were imported.
    #[error("{cause}\n{}", folder_outcome(imported, Some(failed), not_attempted))]
    Folder {
        /// Sources imported before the failure, in order.
        imported: Vec<String>,
        /// The source that failed.
        failed: String,
        /// Sources not attempted.
        not_attempted: Vec<String>,
        /// Why it failed.
        cause: Box<WorkflowError>,
    },
    /// A folder import was asked to stop (Ctrl-C) and stopped between two sources: those
    /// imported are complete; the others were not begun.
    #[error(
        "the import was stopped after {} of {} sources; each source imported is complete\n{}",
        imported.len(),
        imported.len() + not_imported.len(),
        folder_outcome(imported, None, not_imported)
    )]
    Stopped {
        /// Sources imported, in order.
        imported: Vec<String>,
        /// Sources not begun.
        not_imported: Vec<String>,
    },
    /// Witnesses refused the checkpoint: they hold a checkpoint of this log that it no longer
    /// extends.
    #[error(
        "witnesses refuse the checkpoint of size {size}: they cosigned a history this log no longer extends, so the log was rolled back or rewritten since\n{}",
        reasons.iter().map(|r| format!("  {r}")).collect::<Vec<_>>().join("\n")
    )]
    WitnessConflict {
        /// The size of the checkpoint refused.
        size: u64,
        /// Each refusing witness's answer.
        reasons: Vec<String>,
    },
}

fn folder_outcome(
    imported: &[String],
    failed: Option<&String>,
    not_attempted: &[String],
) -> String {
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    match failed {
        Some(failed) => format!(
            "imported: {}\nfailed: {failed}\nnot imported: {}",
            list(imported),
            list(not_attempted)
        ),
        None => format!(
            "imported: {}\nnot imported: {}",
            list(imported),
            list(not_attempted)
        ),
    }
}

impl WorkflowError {
    /// The stable code of this error.
    pub fn code(&self) -> gatehouse_model::ErrorCode {
        match self {
            WorkflowError::Connect(e) => e.code(),
            WorkflowError::Store(e) => e.code(),
            WorkflowError::Campaign(e) => e.code(),
            WorkflowError::Folder { cause, .. } => cause.code(),
            // Run again, it imports the rest: as for an interrupted import.
            WorkflowError::Stopped { .. } => gatehouse_model::ErrorCode::ImportInterrupted,
            WorkflowError::WitnessConflict { .. } => gatehouse_model::ErrorCode::WitnessConflict,
        }
    }
}
