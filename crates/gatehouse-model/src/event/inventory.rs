//! The inventory domain's events: imports of a source's snapshot and the changes they bring to
//! systems, identities, accounts, entitlements, grants, roles and warrant records.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Batch, Stamped, batch_object};
use crate::inventory::{
    Account, Entitlement, Grant, Identity, Role, SystemConfig, WarrantKind, WarrantRecord,
};
use crate::keys::{IdentityKey, RoleKey, SystemKey};
use crate::time::Timestamp;

/// One input file of an import, as evidence of what was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportFile {
    /// File name, relative to the imported path.
    pub name: String,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
    /// Data rows read.
    pub rows: u64,
}

/// An import of one source's snapshot that changed something. Its delta events follow it,
/// each naming it in `import`; they may be committed over several transactions, and the
/// import is complete when all the changes it counts are recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportApplied {
    /// The source: `hr`, `nhi`, `roles`, `warrants` or `system:<key>`.
    pub source: String,
    /// The time the snapshot describes.
    pub as_of: Timestamp,
    /// SHA-256 over the normalised snapshot, to recognise a re-import of the same content.
    pub digest: String,
    /// The files read.
    pub files: Vec<ImportFile>,
    /// Number of changes per kind (`grant.added` → 120) that the delta events record.
    pub changes: BTreeMap<String, u64>,
    /// Invalid rows left out (only with `--skip-invalid`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped_rows: u64,
    /// The `import.applied` event of an earlier import of the same source that stopped before
    /// all its changes were recorded (the process died), which this import completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumes: Option<u64>,
    /// The parts of the snapshot whose files had rows left out with `--skip-invalid`: what
    /// they lack may be among those rows, so it was not recorded as removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partial: Vec<SnapshotPart>,
    /// Removals per kind (`grant.removed` → 2) that the snapshot suggested but that were not
    /// recorded because their part is partial: the next complete snapshot settles them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unconfirmed: BTreeMap<String, u64>,
}

/// A part of a source's snapshot, one file's worth of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotPart {
    /// People of the HR feed, or non-human identities.
    Identities,
    /// A system's accounts.
    Accounts,
    /// A system's entitlements.
    Entitlements,
    /// A system's grants.
    Grants,
    /// Role members.
    RoleMembers,
    /// Warrant records.
    Warrants,
}

impl SnapshotPart {
    /// The word for it in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotPart::Identities => "identities",
            SnapshotPart::Accounts => "accounts",
            SnapshotPart::Entitlements => "entitlements",
            SnapshotPart::Grants => "grants",
            SnapshotPart::RoleMembers => "role members",
            SnapshotPart::Warrants => "warrant records",
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The key of a removed identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityRemoved {
    /// Which identity left the feed.
    pub key: IdentityKey,
}

/// The key of a removed account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRemoved {
    /// The system.
    pub system: SystemKey,
    /// The account's native id.
    pub native_id: String,
}

/// The key of a removed entitlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntitlementRemoved {
    /// The system.
    pub system: SystemKey,
    /// The entitlement's native id.
    pub native_id: String,
}

/// The key of a removed grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantRemoved {
    /// The system.
    pub system: SystemKey,
    /// Native id of the account.
    pub account: String,
    /// Native id of the entitlement.
    pub entitlement: String,
}

/// Last-login observations for accounts whose state did not otherwise change. Kept apart from
/// account versions so that daily logins do not create a new version of every account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountActivity {
    /// The system.
    pub system: SystemKey,
    /// `(native id, last login)` pairs, sorted by native id.
    pub logins: Vec<(String, Timestamp)>,
}

/// The key of a removed role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleRemoved {
    /// Which role.
    pub key: RoleKey,
}

/// The key of a removed warrant record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarrantRecordRemoved {
    /// Its kind.
    pub kind: WarrantKind,
    /// Its id.
    pub id: String,
}

domain_events! {
    /// Events of the inventory domain.
    pub enum InventoryEvent {
        /// A source's snapshot was imported; the delta events follow.
        ImportApplied(ImportApplied) = "import.applied",
        /// A system's configuration was set or changed.
        SystemConfigured(Stamped<SystemConfig>) = "system.configured",
        /// Identities appeared.
        IdentityAdded(Batch<Identity>) = "identity.added",
        /// An identity changed (the record is its new state).
        IdentityChanged(Batch<Identity>) = "identity.changed",
        /// An identity left its feed.
        IdentityRemoved(Batch<IdentityRemoved>) = "identity.removed",
        /// An account appeared.
        AccountAdded(Batch<Account>) = "account.added",
        /// An account changed (the record is its new state).
        AccountChanged(Batch<Account>) = "account.changed",
        /// An account went away.
        AccountRemoved(Batch<AccountRemoved>) = "account.removed",
        /// Accounts logged in.
        AccountActivity(Stamped<AccountActivity>) = "account.activity",
        /// An account was linked to, or unlinked from, an identity outside an import of its
        /// system (after the HR feed changed, say); the record is the account's new state.
        AccountCorrelated(Batch<Account>) = "account.correlated",
        /// An entitlement appeared.
        EntitlementAdded(Batch<Entitlement>) = "entitlement.added",
        /// An entitlement changed.
        EntitlementChanged(Batch<Entitlement>) = "entitlement.changed",
        /// An entitlement went away.
        EntitlementRemoved(Batch<EntitlementRemoved>) = "entitlement.removed",
        /// A grant appeared.
        GrantAdded(Batch<Grant>) = "grant.added",
        /// A grant's source, warrant, expiry or attributes changed.
        GrantChanged(Batch<Grant>) = "grant.changed",
        /// A grant went away.
        GrantRemoved(Batch<GrantRemoved>) = "grant.removed",
        /// A role was defined.
        RoleDefined(Batch<Role>) = "role.defined",
        /// A role changed.
        RoleChanged(Batch<Role>) = "role.changed",
        /// A role was removed.
        RoleRemoved(Batch<RoleRemoved>) = "role.removed",
        /// A warrant record (approved request, break-glass use, …) was recorded.
        WarrantRecorded(Batch<WarrantRecord>) = "warrant.recorded",
        /// A warrant record changed.
        WarrantChanged(Batch<WarrantRecord>) = "warrant.changed",
        /// A warrant record was withdrawn from its source.
        WarrantRemoved(Batch<WarrantRecordRemoved>) = "warrant.removed",
    }
}

/// Applies `$f` to the `Batch` or `Stamped` of every variant but `ImportApplied`, which is
/// handled by `$import`.
macro_rules! each_payload {
    ($e:expr, $p:ident => $f:expr, $i:ident => $import:expr) => {
        match $e {
            InventoryEvent::ImportApplied($i) => $import,
            InventoryEvent::SystemConfigured($p) => $f,
            InventoryEvent::AccountActivity($p) => $f,
            InventoryEvent::IdentityAdded($p) | InventoryEvent::IdentityChanged($p) => $f,
            InventoryEvent::IdentityRemoved($p) => $f,
            InventoryEvent::AccountAdded($p)
            | InventoryEvent::AccountChanged($p)
            | InventoryEvent::AccountCorrelated($p) => $f,
            InventoryEvent::AccountRemoved($p) => $f,
            InventoryEvent::EntitlementAdded($p) | InventoryEvent::EntitlementChanged($p) => $f,
            InventoryEvent::EntitlementRemoved($p) => $f,
            InventoryEvent::GrantAdded($p) | InventoryEvent::GrantChanged($p) => $f,
            InventoryEvent::GrantRemoved($p) => $f,
            InventoryEvent::RoleDefined($p) | InventoryEvent::RoleChanged($p) => $f,
            InventoryEvent::RoleRemoved($p) => $f,
            InventoryEvent::WarrantRecorded($p) | InventoryEvent::WarrantChanged($p) => $f,
            InventoryEvent::WarrantRemoved($p) => $f,
        }
    };
}

impl InventoryEvent {
    /// See [`super::EventData::object`].
    pub fn object(&self) -> String {
        use InventoryEvent as E;
        match self {
            E::ImportApplied(i) => format!("import:{}", i.source),
            E::SystemConfigured(s) => format!("system:{}", s.record.key),
            E::IdentityAdded(_) | E::IdentityChanged(_) | E::IdentityRemoved(_) => {
                "identity".into()
            }
            E::AccountAdded(b) | E::AccountChanged(b) | E::AccountCorrelated(b) => {
                batch_object("account", b, |a| &a.system)
            }
            E::AccountRemoved(b) => batch_object("account", b, |a| &a.system),
            E::AccountActivity(s) => format!("account:{}", s.record.system),
            E::EntitlementAdded(b) | E::EntitlementChanged(b) => {
                batch_object("entitlement", b, |e| &e.system)
            }
            E::EntitlementRemoved(b) => batch_object("entitlement", b, |e| &e.system),
            E::GrantAdded(b) | E::GrantChanged(b) => batch_object("grant", b, |g| &g.system),
            E::GrantRemoved(b) => batch_object("grant", b, |g| &g.system),
            E::RoleDefined(_) | E::RoleChanged(_) | E::RoleRemoved(_) => "role".into(),
            E::WarrantRecorded(_) | E::WarrantChanged(_) | E::WarrantRemoved(_) => "warrant".into(),
        }
    }

    /// How many changes the event records: the records of a batch, the logins of an
    /// activity event, or 1.
    pub fn changes(&self) -> usize {
        match self {
            InventoryEvent::ImportApplied(_) | InventoryEvent::SystemConfigured(_) => 1,
            InventoryEvent::AccountActivity(s) => s.record.logins.len(),
            other => each_payload!(other, b => b_len(b), _i => 1),
        }
    }

    /// When the change took effect.
    pub fn as_of(&self) -> Timestamp {
        each_payload!(self, p => p.as_of(), i => i.as_of)
    }

    /// The `import.applied` event this one belongs to.
    pub fn import(&self) -> Option<u64> {
        each_payload!(self, p => p.import_seq(), _i => None)
    }

    /// Makes this event part of the import recorded by event `seq` (no effect on
    /// `import.applied` itself).
    pub fn set_import(&mut self, seq: u64) {
        each_payload!(self, p => p.set_import_seq(seq), _i => {})
    }
}

/// What `Batch` and `Stamped` have in common, for the accessors above.
trait Payload {
    fn as_of(&self) -> Timestamp;
    fn import_seq(&self) -> Option<u64>;
    fn set_import_seq(&mut self, seq: u64);
    fn len(&self) -> usize;
}

impl<T> Payload for Batch<T> {
    fn as_of(&self) -> Timestamp {
        self.as_of
    }
    fn import_seq(&self) -> Option<u64> {
        self.import
    }
    fn set_import_seq(&mut self, seq: u64) {
        self.import = Some(seq);
    }
    fn len(&self) -> usize {
        self.records.len()
    }
}

impl<T> Payload for Stamped<T> {
    fn as_of(&self) -> Timestamp {
        self.as_of
    }
    fn import_seq(&self) -> Option<u64> {
        self.import
    }
    fn set_import_seq(&mut self, seq: u64) {
        self.import = Some(seq);
    }
    fn len(&self) -> usize {
        1
    }
}

fn b_len(p: &impl Payload) -> usize {
    p.len()
}
