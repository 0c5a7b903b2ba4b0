//! Gatehouse workflows: what a user asks for, carried out across connectors, analysis and the
//! store.
//!
//! For now this is the import pipeline: read a source with its connector, correlate accounts
//! against the identities in the store, and apply the snapshot in one write transaction.
//! Time is a parameter: nothing here reads the clock.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod import;

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
