//! Gatehouse workflows: what a user asks for, carried out across connectors, analysis and the
//! store.
//!
//! The import pipeline reads a source with its connector, correlates accounts against the
//! identities in the store, and applies the snapshot in one write transaction. The analysis
//! workflow loads the inventory, runs the rules and records what changed in the findings.
//! Time is a parameter: nothing here reads the clock.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod analysis;
mod import;

pub use analysis::{AcceptError, AnalyzeReport, accept, analyze, assess};

pub use import::{
    ImportReport, ImportSettings, Parsed, Source, apply, import, import_folder, parse, recorrelate,
    relink, snapshot_sources,
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
}
