//! A deterministic demo company for Gatehouse.
//!
//! [`Generator`] builds, from a seed, an organisation of `people` employees with a manager
//! hierarchy, twelve governed systems, business roles, access requests and non-human
//! identities, and lets it live through `months` months of joiners, movers, leavers, leave and
//! request churn. Each call of [`Generator::next_snapshot`] returns the full state of every
//! source at the first day of one month (the last one at `today`); [`write_snapshot`] writes it
//! as the files Gatehouse imports:
//!
//! ```text
//! hr/people.csv
//! nhi/identities.csv
//! systems/<key>/system.toml, accounts.csv, entitlements.csv, grants.csv
//! roles/roles.toml, roles/members.csv
//! warrants/tickets.csv
//! ```
//!
//! Into this otherwise clean company the generator plants problems — leavers who kept access,
//! orphan accounts, segregation-of-duties conflicts, stale credentials and more — and records
//! each one, with the objects involved, in [`Planted`]. It also plants the ordinary situations
//! a real organisation is full of and that are no problem at all — people on leave who keep
//! their access, approved exceptions, people in the middle of a move, owned emergency
//! accounts, contractors whose contract ends later, people who came back — and records them
//! in [`Planted::ordinary`]. Everything not planted is meant to be clean, so an analysis can
//! be checked against the record: every problem found, nothing serious said about the rest.
//!
//! The same configuration always produces the same bytes.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod build;
mod catalog;
mod names;
mod org;
mod util;
mod write;

use std::fmt;
use std::path::{Path, PathBuf};

use gatehouse_model::{
    Account, Entitlement, EntitlementRef, Grant, Identity, IdentityKey, Role, SystemConfig,
    SystemKey, WarrantRecord,
};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

pub use write::write_snapshot;

/// Headcount used when none is given.
pub const DEFAULT_PEOPLE: usize = 2_000;
/// Months of history used when none is given.
pub const DEFAULT_MONTHS: u32 = 12;
/// The smallest company the generator builds.
pub const MIN_PEOPLE: usize = 50;
/// The largest company the generator builds.
pub const MAX_PEOPLE: usize = 1_000_000;

/// The segregation-of-duties rules of the demo company: `(name, left, right)` where `left` and
/// `right` are entitlement references (`system:native_id`). Nobody may hold both sides of a
/// pair; the generator plants people who do ([`PlantedKind::SodConflict`]). The last pair spans
/// two systems.
pub const SOD_PAIRS: &[(&str, &str, &str)] = &[
    (
        "Vendor master maintenance and payment release",
        "erp:role/Vendor_Master_Maintain",
        "erp:role/Payment_Release",
    ),
    (
        "Journal entry creation and approval",
        "gl:role/JE_Create",
        "gl:role/JE_Approve",
    ),
    (
        "Running payroll and maintaining pay data",
        "payroll:role/Run_Payroll",
        "hris:sg/Edit_Pay_Data",
    ),
    (
        "Purchase order creation and approval",
        "erp:role/PO_Create",
        "erp:role/PO_Approve",
    ),
    (
        "Payment release and journal entry creation (ERP and GL)",
        "erp:role/Payment_Release",
        "gl:role/JE_Create",
    ),
];

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoConfig {
    /// Headcount at the start of the history (default 2,000; at least 50).
    pub people: usize,
    /// Seed of all randomness: the same configuration gives the same files.
    pub seed: u64,
    /// The date of the last snapshot.
    pub today: Date,
    /// Months of history before `today` (default 12; at least 2).
    pub months: u32,
}

impl DemoConfig {
    /// The default company (2,000 people, 12 months, seed 1) ending at `today`.
    pub fn new(today: Date) -> DemoConfig {
        DemoConfig {
            people: DEFAULT_PEOPLE,
            seed: 1,
            today,
            months: DEFAULT_MONTHS,
        }
    }
}

/// Why the demo could not be generated or written.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The configuration is out of range.
    #[error("invalid demo configuration: {0}")]
    InvalidConfig(String),
    /// The built-in catalogue is inconsistent (a bug).
    #[error("the demo catalogue is inconsistent: {0}")]
    Catalogue(String),
    /// A file or folder could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// A CSV file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: csv::Error,
    },
    /// A TOML file could not be produced.
    #[error("cannot write {}: {message}", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// The full state of every source at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// When the snapshot was taken (the `--as-of` of its import): midnight UTC of its date.
    pub as_of: Timestamp,
    /// The HR feed, leavers included.
    pub people: Vec<Identity>,
    /// The non-human identity inventory.
    pub non_human: Vec<Identity>,
    /// Each governed system.
    pub systems: Vec<SystemData>,
    /// The role catalogue (birthright and job roles, with explicit members).
    pub roles: Vec<Role>,
    /// Approved access requests and break-glass records.
    pub warrants: Vec<WarrantRecord>,
}

/// One system's snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemData {
    /// Its `system.toml`.
    pub config: SystemConfig,
    /// Its accounts.
    pub accounts: Vec<Account>,
    /// Its entitlements.
    pub entitlements: Vec<Entitlement>,
    /// Who holds what.
    pub grants: Vec<Grant>,
}

/// The kinds of problems the generator plants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlantedKind {
    /// A terminated person whose accounts stay enabled or keep grants.
    LeaverWithAccess,
    /// An enabled human account that correlates to no identity.
    OrphanAccount,
    /// Privileged grants on an account whose last login is more than 120 days ago.
    DormantPrivileged,
    /// Privileged access on an account with MFA off.
    PrivilegedWithoutMfa,
    /// A shared (generic) account holding a privileged entitlement.
    SharedPrivileged,
    /// An admin entitlement held permanently through a request without an end date.
    StandingAdmin,
    /// A non-human identity without an owner.
    NhiWithoutOwner,
    /// A non-human identity whose owner has left.
    NhiOwnerLeft,
    /// A non-human identity without a purpose.
    NhiWithoutPurpose,
    /// A non-human identity whose credential was last rotated more than 365 days ago.
    NhiStaleCredential,
    /// A non-human identity whose credential has expired.
    NhiExpiredCredential,
    /// A non-human identity not used for more than 180 days.
    NhiUnused,
    /// A non-human identity with an account on a system outside its declared scope.
    NhiOutOfScope,
    /// A person holding both sides of a pair in [`SOD_PAIRS`].
    SodConflict,
    /// A person who changed department and kept the old department's job-role access.
    MoverKeptAccess,
    /// A person holding a non-birthright entitlement none of their peers (same department and
    /// title) hold.
    PeerOutlier,
    /// A direct grant without warrant or ticket.
    UnwarrantedGrant,
    /// A grant whose request was approved by the requester.
    SelfApprovedRequest,
    /// A grant removed in one snapshot and back in the next without a new ticket.
    ReappearedGrant,
    /// A contractor whose contract end date has passed while the HR status still says active
    /// and the accounts stay enabled.
    EndDatePassed,
    /// A person who left and came back and still holds a grant from the earlier employment.
    RehireKeptAccess,
}

impl PlantedKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [PlantedKind] = &[
        PlantedKind::LeaverWithAccess,
        PlantedKind::OrphanAccount,
        PlantedKind::DormantPrivileged,
        PlantedKind::PrivilegedWithoutMfa,
        PlantedKind::SharedPrivileged,
        PlantedKind::StandingAdmin,
        PlantedKind::NhiWithoutOwner,
        PlantedKind::NhiOwnerLeft,
        PlantedKind::NhiWithoutPurpose,
        PlantedKind::NhiStaleCredential,
        PlantedKind::NhiExpiredCredential,
        PlantedKind::NhiUnused,
        PlantedKind::NhiOutOfScope,
        PlantedKind::SodConflict,
        PlantedKind::MoverKeptAccess,
        PlantedKind::PeerOutlier,
        PlantedKind::UnwarrantedGrant,
        PlantedKind::SelfApprovedRequest,
        PlantedKind::ReappearedGrant,
        PlantedKind::EndDatePassed,
        PlantedKind::RehireKeptAccess,
    ];

    /// The snake_case name used in `planted.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            PlantedKind::LeaverWithAccess => "leaver_with_access",
            PlantedKind::OrphanAccount => "orphan_account",
            PlantedKind::DormantPrivileged => "dormant_privileged",
            PlantedKind::PrivilegedWithoutMfa => "privileged_without_mfa",
            PlantedKind::SharedPrivileged => "shared_privileged",
            PlantedKind::StandingAdmin => "standing_admin",
            PlantedKind::NhiWithoutOwner => "nhi_without_owner",
            PlantedKind::NhiOwnerLeft => "nhi_owner_left",
            PlantedKind::NhiWithoutPurpose => "nhi_without_purpose",
            PlantedKind::NhiStaleCredential => "nhi_stale_credential",
            PlantedKind::NhiExpiredCredential => "nhi_expired_credential",
            PlantedKind::NhiUnused => "nhi_unused",
            PlantedKind::NhiOutOfScope => "nhi_out_of_scope",
            PlantedKind::SodConflict => "sod_conflict",
            PlantedKind::MoverKeptAccess => "mover_kept_access",
            PlantedKind::PeerOutlier => "peer_outlier",
            PlantedKind::UnwarrantedGrant => "unwarranted_grant",
            PlantedKind::SelfApprovedRequest => "self_approved_request",
            PlantedKind::ReappearedGrant => "reappeared_grant",
            PlantedKind::EndDatePassed => "end_date_passed",
            PlantedKind::RehireKeptAccess => "rehire_kept_access",
        }
    }

    /// The analysis rule that must find a problem of this kind.
    pub fn rule(self) -> &'static str {
        match self {
            PlantedKind::LeaverWithAccess | PlantedKind::EndDatePassed => "leaver_access",
            PlantedKind::OrphanAccount => "orphaned_account",
            PlantedKind::DormantPrivileged => "dormant_access",
            PlantedKind::PrivilegedWithoutMfa => "privileged_without_mfa",
            PlantedKind::SharedPrivileged => "shared_privileged",
            PlantedKind::StandingAdmin => "standing_privilege",
            PlantedKind::NhiWithoutOwner => "nhi_no_owner",
            PlantedKind::NhiOwnerLeft => "nhi_owner_left",
            PlantedKind::NhiWithoutPurpose => "nhi_no_purpose",
            PlantedKind::NhiStaleCredential => "nhi_rotation_overdue",
            PlantedKind::NhiExpiredCredential => "nhi_credential_expired",
            PlantedKind::NhiUnused => "nhi_unused",
            PlantedKind::NhiOutOfScope => "nhi_out_of_scope",
            PlantedKind::SodConflict => "sod_conflict",
            PlantedKind::MoverKeptAccess => "mover_kept_access",
            PlantedKind::PeerOutlier => "peer_outlier",
            PlantedKind::UnwarrantedGrant => "unwarranted_grant",
            PlantedKind::SelfApprovedRequest => "self_approved_grant",
            PlantedKind::ReappearedGrant => "reappeared_grant",
            PlantedKind::RehireKeptAccess => "rehire_kept_access",
        }
    }
}

impl fmt::Display for PlantedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One planted problem and the objects involved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlantedProblem {
    /// What kind of problem.
    pub kind: PlantedKind,
    /// The person or non-human identity concerned (none for an orphan account).
    pub identity: Option<IdentityKey>,
    /// The system concerned, when the problem lives in one system.
    pub system: Option<SystemKey>,
    /// The account concerned (its native id in `system`).
    pub account: Option<String>,
    /// The entitlements concerned.
    pub entitlements: Vec<EntitlementRef>,
    /// When the problem started (e.g. the termination date of a leaver).
    pub since: Date,
    /// A sentence for people.
    pub detail: String,
}

/// The kinds of ordinary situations the generator plants: no problem at all, and nothing an
/// analysis should report at medium severity or above.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrdinaryKind {
    /// A person on leave (parental, medical, sabbatical, …) who keeps enabled accounts and
    /// their birthright and role access.
    OnLeave,
    /// Access outside the person's role through an approved exception with owner, approver
    /// and expiry.
    ApprovedException,
    /// A person who changed job days ago and still holds the old job's access while the move
    /// settles.
    RecentMover,
    /// An emergency (break-glass) account that is owned, uses MFA and is covered by the
    /// standing emergency-access policy.
    EmergencyAccount,
    /// A contractor whose contract end date lies ahead.
    ContractEndsLater,
    /// A person who left and came back, with nothing left from the earlier employment.
    Rehire,
}

impl OrdinaryKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [OrdinaryKind] = &[
        OrdinaryKind::OnLeave,
        OrdinaryKind::ApprovedException,
        OrdinaryKind::RecentMover,
        OrdinaryKind::EmergencyAccount,
        OrdinaryKind::ContractEndsLater,
        OrdinaryKind::Rehire,
    ];
}

/// One ordinary situation and the objects involved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdinaryCase {
    /// What kind of situation.
    pub kind: OrdinaryKind,
    /// The person concerned.
    pub identity: IdentityKey,
    /// The system, when the situation lives in one (an emergency account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemKey>,
    /// The account (native id in `system`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// A sentence for people.
    pub detail: String,
}

/// Every problem the generator planted, and the ordinary situations it planted beside them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planted {
    /// The problems, sorted by `since`, kind and identity.
    pub items: Vec<PlantedProblem>,
    /// Ordinary situations that are no problem, sorted by kind and identity.
    #[serde(default)]
    pub ordinary: Vec<OrdinaryCase>,
}

impl Planted {
    /// How many problems of a kind were planted.
    pub fn count(&self, kind: PlantedKind) -> usize {
        self.items.iter().filter(|p| p.kind == kind).count()
    }

    /// The problems of a kind.
    pub fn of_kind(&self, kind: PlantedKind) -> impl Iterator<Item = &PlantedProblem> {
        self.items.iter().filter(move |p| p.kind == kind)
    }

    /// How many ordinary situations of a kind were planted.
    pub fn ordinary_count(&self, kind: OrdinaryKind) -> usize {
        self.ordinary.iter().filter(|p| p.kind == kind).count()
    }
}

/// The evolving demo organisation.
pub struct Generator {
    org: org::Org,
}

impl fmt::Debug for Generator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generator")
            .field("config", &self.org.cfg)
            .field("next_snapshot", &self.org.next)
            .finish_non_exhaustive()
    }
}

impl Generator {
    /// Builds the organisation as it was `config.months` months before `config.today`.
    pub fn new(config: DemoConfig) -> Result<Generator, DemoError> {
        Ok(Generator {
            org: org::Org::new(config)?,
        })
    }

    /// The times of all snapshots: the first day of each of the `months` months before the
    /// month of `today`, then `today`, each at midnight UTC.
    pub fn snapshot_times(&self) -> Vec<Timestamp> {
        self.org
            .dates
            .iter()
            .map(|&d| util::ts(i64::from(d) * util::DAY))
            .collect()
    }

    /// How many snapshots are still to come.
    pub fn remaining(&self) -> usize {
        self.org.dates.len() - self.org.next.min(self.org.dates.len())
    }

    /// Moves the organisation to the next snapshot date and returns the full state there;
    /// `None` after the last one (`months + 1` snapshots in all).
    pub fn next_snapshot(&mut self) -> Option<Snapshot> {
        let k = self.org.advance()?;
        Some(self.org.snapshot(k))
    }

    /// Like [`Generator::next_snapshot`] followed by [`write_snapshot`], but writes the files
    /// while generating them instead of building the snapshot in memory first, so a large
    /// company needs far less memory. The files are byte for byte the same. Returns the
    /// snapshot's time, or `None` after the last one.
    pub fn write_next_snapshot(&mut self, dir: &Path) -> Result<Option<Timestamp>, DemoError> {
        let Some(k) = self.org.advance() else {
            return Ok(None);
        };
        self.org.write(k, dir)?;
        Ok(Some(util::ts(i64::from(self.org.dates[k]) * util::DAY)))
    }

    /// The planted problems so far; complete once the last snapshot was produced.
    pub fn planted(&self) -> &Planted {
        &self.org.planted
    }
}
