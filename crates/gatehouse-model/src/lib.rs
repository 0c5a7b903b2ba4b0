//! The Gatehouse vocabulary: systems, identities, accounts, entitlements, grants, roles,
//! warrants and the events that change them.
//!
//! This crate is the ground floor: it does no IO, knows no SQL and reads no clock. Every other
//! crate speaks in these types. The one piece of behaviour that lives here is the canonical
//! encoding of [`Event`]s, because the ledger hashes those bytes and an auditor must be able to
//! reproduce them.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

// `word_enum!` is declared in `inventory` and used by the modules after it.
#[macro_use]
mod inventory;

mod campaign;
mod code;
mod error;
mod event;
mod finding;
mod keys;
mod notification;
pub mod state;
pub mod text;
mod time;
mod user;

pub use campaign::{
    AccessPath, CampaignClosed, CampaignCreated, CampaignId, CampaignKind, CampaignLaunched,
    CampaignRules, CampaignState, DeadlineDefault, Decision, DecisionOrigin, DecisionsImported,
    EntitlementContext, Exclusion, HolderContext, ItemContext, ItemRef, PathKind, PopulationSource,
    Reassignment, RemediationDone, RemediationOpened, RemediationReopened, RemediationTask,
    RemediationVerified, Reopening, ReviewDecided, ReviewItem, ReviewItems, ReviewReassigned,
    ReviewReminded, ReviewerRule, TaskStatus, Verdict, Verification,
};
pub use code::ErrorCode;
pub use error::ModelError;
pub use event::{
    AccountActivity, AccountRemoved, BATCH_RECORDS, Batch, CampaignEvent, EntitlementRemoved,
    Event, EventData, FindingEvent, GrantRemoved, IdentityRemoved, ImportApplied, ImportFile,
    InventoryEvent, RoleRemoved, SnapshotPart, Stamped, UserEvent, WarrantRecordRemoved,
};
pub use finding::{AnalysisRun, Assessment, Finding, FindingAccepted, FindingRef, FindingReopened};
pub use inventory::{
    Account, AccountKind, Attributes, Condition, CorrelationRule, Criticality, EmploymentStatus,
    Entitlement, EntitlementRef, FindingStatus, Grant, GrantSource, Identity, IdentityKind,
    NonHuman, Person, RiskLevel, Role, Severity, SystemConfig, Warrant, WarrantKind, WarrantRecord,
};
pub use keys::{IdentityKey, RoleKey, SystemKey};
pub use notification::{Channel, Notice, NotificationFailed, NotificationSent};
pub use time::{
    Date, NO_END, Timestamp, is_no_end, parse_date, parse_end_date, parse_end_timestamp,
    parse_point_in_time, parse_timestamp,
};
pub use user::{
    AccessDenied, CredentialKind, CredentialSet, SignInFailed, SignedIn, TokenCreated,
    TokenRevoked, UserRecord, UserRole,
};
