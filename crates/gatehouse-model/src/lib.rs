//! The Gatehouse vocabulary: systems, identities, accounts, entitlements, grants, roles,
//! warrants and the events that change them.
//!
//! This crate is the ground floor: it does no IO, knows no SQL and reads no clock. Every other
//! crate speaks in these types. The one piece of behaviour that lives here is the canonical
//! encoding of [`Event`]s, because the ledger hashes those bytes and an auditor must be able to
//! reproduce them.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod code;
mod error;
mod event;
mod finding;
mod inventory;
mod keys;
pub mod state;
pub mod text;
mod time;
mod user;

pub use code::ErrorCode;
pub use error::ModelError;
pub use event::{
    AccountActivity, AccountRemoved, BATCH_RECORDS, Batch, EntitlementRemoved, Event, EventData,
    FindingEvent, GrantRemoved, IdentityRemoved, ImportApplied, ImportFile, InventoryEvent,
    RoleRemoved, SnapshotPart, Stamped, UserEvent, WarrantRecordRemoved,
};
pub use finding::{AnalysisRun, Assessment, Finding, FindingAccepted, FindingRef, FindingReopened};
pub use inventory::{
    Account, AccountKind, Attributes, Condition, CorrelationRule, Criticality, EmploymentStatus,
    Entitlement, EntitlementRef, FindingStatus, Grant, GrantSource, Identity, IdentityKind,
    NonHuman, Person, RiskLevel, Role, Severity, SystemConfig, Warrant, WarrantKind, WarrantRecord,
};
pub use keys::{IdentityKey, RoleKey, SystemKey};
pub use time::{
    Date, NO_END, Timestamp, is_no_end, parse_date, parse_end_date, parse_end_timestamp,
    parse_point_in_time, parse_timestamp,
};
pub use user::{
    AccessDenied, CredentialKind, CredentialSet, SignInFailed, SignedIn, TokenCreated,
    TokenRevoked, UserRecord, UserRole,
};
