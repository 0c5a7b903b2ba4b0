//! Gatehouse workflows: what a user asks for, carried out across connectors, analysis and the
//! store.
//!
//! The import pipeline reads a source with its connector, correlates accounts against the
//! identities in the store, and records the snapshot's delta under the import lock. The analysis
//! workflow loads the inventory, runs the rules and records what changed in the findings.
//! Time is a parameter: nothing here reads the clock.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod analysis;
pub mod campaigns;
mod import;

pub use analysis::{AcceptError, AnalyzeReport, accept, analyze, assess};

pub use import::{
    FolderReport, ImportReport, ImportSettings, Parsed, Source, apply, import, import_folder,
    parse, recorrelate, relink, snapshot_sources,
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
    #[error("{cause}\n{}", folder_outcome(imported, failed, not_attempted))]
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
}

fn folder_outcome(imported: &[String], failed: &str, not_attempted: &[String]) -> String {
    let list = |v: &[String]| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    format!(
        "imported: {}\nfailed: {failed}\nnot imported: {}",
        list(imported),
        list(not_attempted)
    )
}

impl WorkflowError {
    /// The stable code of this error.
    pub fn code(&self) -> gatehouse_model::ErrorCode {
        match self {
            WorkflowError::Connect(e) => e.code(),
            WorkflowError::Store(e) => e.code(),
            WorkflowError::Campaign(e) => e.code(),
            WorkflowError::Folder { cause, .. } => cause.code(),
        }
    }
}
