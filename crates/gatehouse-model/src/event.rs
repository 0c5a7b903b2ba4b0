//! Events: every change of state is one, with a sequence number, a time, an actor and a typed
//! payload.
//!
//! # Canonical encoding
//!
//! An event is encoded as compact JSON (UTF-8, no insignificant whitespace, no newline) with
//! the envelope keys in this order: `seq`, `at`, `actor`, `kind`, `data`. Inside `data`, keys
//! appear in the declaration order of the Rust structs, absent optional values are omitted and
//! free attributes are sorted by name. These bytes are what the ledger hashes, what the store
//! keeps and what an audit bundle ships; [`Event::decode`] refuses bytes that would not
//! re-encode to exactly themselves, so there is one encoding per event.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ModelError;
use crate::finding::{
    AnalysisRun, Assessment, Finding, FindingAccepted, FindingRef, FindingReopened,
};
use crate::inventory::{
    Account, Entitlement, Grant, Identity, Role, SystemConfig, WarrantKind, WarrantRecord,
};
use crate::keys::{IdentityKey, RoleKey, SystemKey};
use crate::time::Timestamp;

/// One recorded change of state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Position in the log, from 1; the ledger leaf index is `seq - 1`.
    pub seq: u64,
    /// When it was recorded.
    pub at: Timestamp,
    /// Who caused it: `cli:alice`, `import:hr`, `server:E00017`, …
    pub actor: String,
    /// What happened.
    pub data: EventData,
}

/// A change that took effect at `as_of` (the snapshot time of an import, or the time of a
/// decision), recorded as part of the import event `import` when there was one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stamped<T> {
    /// When the change took effect; history intervals start or end here.
    pub as_of: Timestamp,
    /// The `seq` of the `import.applied` event this change belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<u64>,
    /// The new state of the object, or the key of a removed one.
    pub record: T,
}

/// A batch of changes of one kind that took effect together at `as_of`, as part of the import
/// event `import` (or of one command when there is no import). An import's delta is recorded
/// as batches of at most [`BATCH_RECORDS`] records, so that a million grants make a thousand
/// events rather than a million; an inclusion proof of the batch proves each change in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch<T> {
    /// When the changes took effect; history intervals start or end here.
    pub as_of: Timestamp,
    /// The `seq` of the `import.applied` event these changes belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<u64>,
    /// The new states of the objects, or the keys of removed ones, in a deterministic order.
    pub records: Vec<T>,
}

/// The most records one batch event carries.
pub const BATCH_RECORDS: usize = 1000;

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

/// An import of one source's snapshot that changed something. Its delta events follow it.
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
    /// Number of delta events per kind (`grant.added` → 120).
    pub changes: BTreeMap<String, u64>,
    /// Invalid rows left out (only with `--skip-invalid`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped_rows: u64,
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

macro_rules! event_data {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty) = $kind:literal ),+ $(,)?) => {
        /// The payload of an event; its `kind` names the variant.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum EventData {
            $( $(#[$doc])* $variant($ty), )+
        }

        impl EventData {
            /// Every kind, as written in events (`grant.added`).
            pub const KINDS: &'static [&'static str] = &[$($kind),+];

            /// The kind, as written in events (`grant.added`).
            pub fn kind(&self) -> &'static str {
                match self { $( EventData::$variant(_) => $kind, )+ }
            }

            fn serialize_data<S: SerializeStruct>(&self, s: &mut S) -> Result<(), S::Error> {
                match self { $( EventData::$variant(v) => s.serialize_field("data", v), )+ }
            }

            fn from_raw(kind: &str, raw: &serde_json::value::RawValue) -> Result<Self, serde_json::Error> {
                match kind {
                    $( $kind => Ok(EventData::$variant(serde_json::from_str(raw.get())?)), )+
                    other => Err(serde_json::Error::custom(format!("unknown event kind `{other}`"))),
                }
            }
        }
    };
}

event_data! {
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
    /// The risk analysis ran; its findings events follow.
    AnalysisRan(Stamped<AnalysisRun>) = "analysis.ran",
    /// Findings were opened: new problems, or resolved ones that came back.
    FindingOpened(Batch<Finding>) = "finding.opened",
    /// Findings still present changed (severity, objects or facts).
    FindingChanged(Batch<Finding>) = "finding.changed",
    /// Findings were not found any more.
    FindingResolved(Batch<FindingRef>) = "finding.resolved",
    /// Accepted findings came back to open.
    FindingReopened(Batch<FindingReopened>) = "finding.reopened",
    /// Someone accepted the risk of a finding until a date.
    FindingAccepted(Stamped<FindingAccepted>) = "finding.accepted",
    /// An assessment was recorded.
    AssessmentRecorded(Stamped<Assessment>) = "assessment.recorded",
}

impl EventData {
    /// A short reference to what the event is about, used to search the log: a single object
    /// (`system:erp`) or, for a batch, the kind of object and its system (`grant:erp`,
    /// `account:ad`, `identity`, `role`, `warrant`). `gatehouse history` finds the events of
    /// one object through its versions.
    pub fn object(&self) -> String {
        use EventData as E;
        fn sys<T>(
            prefix: &str,
            b: &Batch<T>,
            system: impl Fn(&T) -> &crate::keys::SystemKey,
        ) -> String {
            match b.records.first() {
                Some(r) => format!("{prefix}:{}", system(r)),
                None => prefix.to_owned(),
            }
        }
        match self {
            E::ImportApplied(i) => format!("import:{}", i.source),
            E::SystemConfigured(s) => format!("system:{}", s.record.key),
            E::IdentityAdded(_) | E::IdentityChanged(_) | E::IdentityRemoved(_) => {
                "identity".into()
            }
            E::AccountAdded(b) | E::AccountChanged(b) | E::AccountCorrelated(b) => {
                sys("account", b, |a| &a.system)
            }
            E::AccountRemoved(b) => sys("account", b, |a| &a.system),
            E::AccountActivity(s) => format!("account:{}", s.record.system),
            E::EntitlementAdded(b) | E::EntitlementChanged(b) => {
                sys("entitlement", b, |e| &e.system)
            }
            E::EntitlementRemoved(b) => sys("entitlement", b, |e| &e.system),
            E::GrantAdded(b) | E::GrantChanged(b) => sys("grant", b, |g| &g.system),
            E::GrantRemoved(b) => sys("grant", b, |g| &g.system),
            E::RoleDefined(_) | E::RoleChanged(_) | E::RoleRemoved(_) => "role".into(),
            E::WarrantRecorded(_) | E::WarrantChanged(_) | E::WarrantRemoved(_) => "warrant".into(),
            E::AnalysisRan(_) => "analysis".into(),
            E::FindingOpened(b) | E::FindingChanged(b) => match b.records.as_slice() {
                [one] => format!("finding:{}", one.id),
                _ => "finding".into(),
            },
            E::FindingResolved(b) => match b.records.as_slice() {
                [one] => format!("finding:{}", one.id),
                _ => "finding".into(),
            },
            E::FindingReopened(b) => match b.records.as_slice() {
                [one] => format!("finding:{}", one.id),
                _ => "finding".into(),
            },
            E::FindingAccepted(s) => format!("finding:{}", s.record.id),
            E::AssessmentRecorded(_) => "assessment".into(),
        }
    }

    /// How many changes the event records: the records of a batch, or 1.
    pub fn changes(&self) -> usize {
        use EventData as E;
        match self {
            E::ImportApplied(_) | E::SystemConfigured(_) => 1,
            E::AccountActivity(s) => s.record.logins.len(),
            E::IdentityAdded(b) | E::IdentityChanged(b) => b.records.len(),
            E::IdentityRemoved(b) => b.records.len(),
            E::AccountAdded(b) | E::AccountChanged(b) | E::AccountCorrelated(b) => b.records.len(),
            E::AccountRemoved(b) => b.records.len(),
            E::EntitlementAdded(b) | E::EntitlementChanged(b) => b.records.len(),
            E::EntitlementRemoved(b) => b.records.len(),
            E::GrantAdded(b) | E::GrantChanged(b) => b.records.len(),
            E::GrantRemoved(b) => b.records.len(),
            E::RoleDefined(b) | E::RoleChanged(b) => b.records.len(),
            E::RoleRemoved(b) => b.records.len(),
            E::WarrantRecorded(b) | E::WarrantChanged(b) => b.records.len(),
            E::WarrantRemoved(b) => b.records.len(),
            E::AnalysisRan(_) | E::FindingAccepted(_) | E::AssessmentRecorded(_) => 1,
            E::FindingOpened(b) | E::FindingChanged(b) => b.records.len(),
            E::FindingResolved(b) => b.records.len(),
            E::FindingReopened(b) => b.records.len(),
        }
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Event", 5)?;
        s.serialize_field("seq", &self.seq)?;
        s.serialize_field("at", &self.at)?;
        s.serialize_field("actor", &self.actor)?;
        s.serialize_field("kind", self.data.kind())?;
        self.data.serialize_data(&mut s)?;
        s.end()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent<'a> {
    seq: u64,
    at: Timestamp,
    actor: String,
    #[serde(borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    data: &'a serde_json::value::RawValue,
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawEvent::deserialize(deserializer)?;
        let data = EventData::from_raw(&raw.kind, raw.data).map_err(D::Error::custom)?;
        Ok(Event {
            seq: raw.seq,
            at: raw.at,
            actor: raw.actor,
            data,
        })
    }
}

impl Event {
    /// The canonical bytes of the event (see the module documentation).
    pub fn encode(&self) -> Vec<u8> {
        // Serialising these types cannot fail: every map key is a string and no value is a
        // float; an empty vector would only hide a broken invariant, so fall back loudly.
        serde_json::to_vec(self)
            .unwrap_or_else(|e| format!("{{\"encoding_error\":\"{e}\"}}").into_bytes())
    }

    /// Decodes canonical bytes, refusing anything that is not exactly the canonical encoding.
    pub fn decode(bytes: &[u8]) -> Result<Event, ModelError> {
        let event: Event =
            serde_json::from_slice(bytes).map_err(|e| ModelError::InvalidEvent(e.to_string()))?;
        if event.encode() != bytes {
            return Err(ModelError::InvalidEvent(format!(
                "event {} is not in canonical form (re-encoding it gives different bytes)",
                event.seq
            )));
        }
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::GrantSource;

    fn grant_event() -> Event {
        Event {
            seq: 7,
            at: "2026-11-23T10:00:00.5Z".parse().unwrap(),
            actor: "cli:root".into(),
            data: EventData::GrantAdded(Batch {
                as_of: "2026-11-01T00:00:00Z".parse().unwrap(),
                import: Some(3),
                records: vec![Grant {
                    system: SystemKey::new("erp").unwrap(),
                    account: "u1".into(),
                    entitlement: "role/AP_Approver".into(),
                    source: GrantSource::Request,
                    warrant: Some("request:REQ-1".parse().unwrap()),
                    expires_at: None,
                    granted_at: None,
                    attributes: Default::default(),
                }],
            }),
        }
    }

    #[test]
    fn canonical_bytes_are_stable() {
        let bytes = grant_event().encode();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"seq":7,"at":"2026-11-23T10:00:00.5Z","actor":"cli:root","kind":"grant.added","data":{"as_of":"2026-11-01T00:00:00Z","import":3,"records":[{"system":"erp","account":"u1","entitlement":"role/AP_Approver","source":"request","warrant":"request:REQ-1"}]}}"#
        );
        assert_eq!(Event::decode(&bytes).unwrap(), grant_event());
    }

    #[test]
    fn non_canonical_bytes_are_refused() {
        let spaced = String::from_utf8(grant_event().encode())
            .unwrap()
            .replace(",\"at\"", ", \"at\"");
        let err = Event::decode(spaced.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("not in canonical form"), "{err}");
        let reordered = r#"{"at":"2026-11-23T10:00:00.5Z","seq":7,"actor":"cli:root","kind":"grant.removed","data":{"as_of":"2026-11-01T00:00:00Z","records":[{"system":"erp","account":"u1","entitlement":"e"}]}}"#;
        assert!(Event::decode(reordered.as_bytes()).is_err());
        let unknown =
            r#"{"seq":1,"at":"2026-11-23T10:00:00Z","actor":"x","kind":"grant.stolen","data":{}}"#;
        let err = Event::decode(unknown.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("unknown event kind `grant.stolen`"), "{err}");
    }

    #[test]
    fn objects_name_what_the_event_is_about() {
        assert_eq!(grant_event().data.object(), "grant:erp");
        assert_eq!(grant_event().data.changes(), 1);
    }
}
