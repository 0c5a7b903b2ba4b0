//! The current state of everything, in one compact structure, for whole-inventory work such as
//! the risk analysis. Objects refer to each other by index into the vectors, so that a million
//! grants cost tens of megabytes and a lookup is an array access.

use crate::inventory::{
    AccountKind, Criticality, Entitlement, GrantSource, Identity, RiskLevel, Role, SystemConfig,
    Warrant, WarrantRecord,
};
use crate::keys::IdentityKey;
use crate::time::Timestamp;

/// Marks "no index" in the `u32` index fields.
pub const NONE: u32 = u32::MAX;

/// Everything current, plus the bits of history the analysis needs.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Governed systems.
    pub systems: Vec<SystemState>,
    /// People and non-human identities currently in their feeds, sorted by key.
    pub identities: Vec<Identity>,
    /// Earlier department/title of people whose department or title changed.
    pub moves: Vec<Move>,
    /// Current accounts.
    pub accounts: Vec<AccountState>,
    /// Current entitlements.
    pub entitlements: Vec<EntitlementState>,
    /// Current grants, grouped by account.
    pub grants: Vec<GrantState>,
    /// Distinct warrant texts cited by grants; `GrantState::warrant` indexes this.
    pub warrants: Vec<Warrant>,
    /// Business roles.
    pub roles: Vec<Role>,
    /// Warrant records (approved requests, review decisions, break-glass uses).
    pub warrant_records: Vec<WarrantRecord>,
}

/// A system and when its data was last imported.
#[derive(Debug, Clone)]
pub struct SystemState {
    /// Its configuration.
    pub config: SystemConfig,
    /// The `as_of` of the latest import of its snapshot.
    pub as_of: Option<Timestamp>,
}

impl SystemState {
    /// Whether the system is in SOX scope: the `sox` framework or the financial-reporting flag.
    pub fn sox(&self) -> bool {
        self.config.financial_reporting || self.config.frameworks.iter().any(|f| f == "sox")
    }

    /// The system's criticality, when classified.
    pub fn criticality(&self) -> Option<Criticality> {
        self.config.criticality
    }
}

/// A person's department or title before a change.
#[derive(Debug, Clone)]
pub struct Move {
    /// Index into `identities`.
    pub identity: u32,
    /// Department before.
    pub from_department: Option<String>,
    /// Title before.
    pub from_title: Option<String>,
    /// When the new department/title took effect (the import that recorded it).
    pub at: Timestamp,
}

/// An account as it is now.
#[derive(Debug, Clone)]
pub struct AccountState {
    /// Index into `systems`.
    pub system: u32,
    /// Native id.
    pub native_id: Box<str>,
    /// Login name.
    pub username: Box<str>,
    /// Index into `identities`, or [`NONE`].
    pub identity: u32,
    /// The identity key the account names when it names one that is not in any feed.
    pub dangling_identity: Option<IdentityKey>,
    /// What it is used for.
    pub kind: AccountKind,
    /// Whether it can log in.
    pub enabled: bool,
    /// MFA, when known.
    pub mfa: Option<bool>,
    /// Last login, when known.
    pub last_login: Option<Timestamp>,
    /// When Gatehouse first saw it.
    pub first_seen: Timestamp,
    /// Range `grants[grants_from..grants_to]` of its grants.
    pub grants_from: u32,
    /// End of its grant range.
    pub grants_to: u32,
}

/// An entitlement as it is now.
#[derive(Debug, Clone)]
pub struct EntitlementState {
    /// Index into `systems`.
    pub system: u32,
    /// Its record.
    pub record: Entitlement,
}

impl EntitlementState {
    /// Whether it is privileged: flagged so, or rated critical.
    pub fn privileged(&self) -> bool {
        self.record.privileged || self.record.risk == Some(RiskLevel::Critical)
    }
}

/// A grant as it is now, with the history facts the analysis needs.
#[derive(Debug, Clone, Copy)]
pub struct GrantState {
    /// Index into `accounts`.
    pub account: u32,
    /// Index into `entitlements`.
    pub entitlement: u32,
    /// How it came about.
    pub source: GrantSource,
    /// Index into `Inventory::warrants`, or [`NONE`].
    pub warrant: u32,
    /// When it is meant to end.
    pub expires_at: Option<Timestamp>,
    /// Start of its current uninterrupted presence.
    pub first_seen: Timestamp,
    /// When it was last removed before coming back, if it ever was.
    pub removed_before: Option<Timestamp>,
}

impl Inventory {
    /// The identity at an index, if the index is set.
    pub fn identity(&self, index: u32) -> Option<&Identity> {
        if index == NONE {
            None
        } else {
            self.identities.get(index as usize)
        }
    }

    /// Finds an identity's index by key.
    pub fn identity_index(&self, key: &str) -> Option<u32> {
        self.identities
            .binary_search_by(|i| i.key.as_str().cmp(key))
            .ok()
            .map(|i| i as u32)
    }

    /// The grants of an account.
    pub fn grants_of(&self, account: &AccountState) -> &[GrantState] {
        &self.grants[account.grants_from as usize..account.grants_to as usize]
    }

    /// The warrant a grant cites, if any.
    pub fn warrant(&self, grant: &GrantState) -> Option<&Warrant> {
        if grant.warrant == NONE {
            None
        } else {
            self.warrants.get(grant.warrant as usize)
        }
    }
}
