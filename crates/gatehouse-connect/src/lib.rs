//! Sources in, records out.
//!
//! Each reader turns one source — the HR feed, the non-human identity inventory, a system
//! folder, the role catalogue, a warrant export — into a snapshot of model records. Readers
//! check everything before returning: a problem is reported with file, line and field, and
//! without `--skip-invalid` one problem means nothing is returned.
//!
//! **API boundary**: connectors neither know SQL nor compare with what the store holds; that
//! delta is the store's job. They also do not read the clock.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod changes;
mod collect;
mod correlate;
mod fields;
mod files;
mod identities;
mod problem;
mod roles;
mod system;
mod table;

pub use changes::{
    EarlierFile, RECORD_FORMAT, SystemChanges, read_system_accounts, read_system_changes,
};
pub use collect::{Outcome, ReadOptions};
pub use correlate::{CorrelationReport, Correlator, IdentityIndex, compile_pattern, default_rules};
pub use files::{
    Layout, MAX_FILE_BYTES, MAX_TOML_BYTES, file_sha256, read_with_sha256, source_files,
};
pub use gatehouse_model::Attributes;
pub use identities::{HR_SCHEMA, IdentitySnapshot, NHI_SCHEMA, read_hr, read_nhi};
pub use problem::{ConnectError, Problem, SHOWN_PROBLEMS};
pub use roles::{RoleSnapshot, WarrantSnapshot, read_roles, read_warrants};
pub use system::{SystemSnapshot, read_system, read_system_config};
pub use table::{MAX_COLUMNS, MAX_FIELD_BYTES, MAX_JSON_ROW_BYTES};
