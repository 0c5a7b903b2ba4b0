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
//!
//! # Domains
//!
//! Payloads are grouped by domain: [`InventoryEvent`] (imports, systems, identities,
//! accounts, entitlements, grants, roles, warrant records) and [`FindingEvent`] (the risk
//! analysis). [`EventData`] is the union of the domains. The kind strings (`grant.added`) are
//! flat and unique across domains, so the grouping is invisible in the encoding. A new domain
//! is a new module here with its enum (declared with `domain_events!`) and one variant of
//! [`EventData`].

use serde::de::Error as _;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ModelError;
use crate::time::Timestamp;

/// Declares the event enum of one domain: its variants, their payload types and their kinds.
macro_rules! domain_events {
    (
        $(#[$enum_doc:meta])*
        pub enum $name:ident {
            $( $(#[$doc:meta])* $variant:ident($ty:ty) = $kind:literal ),+ $(,)?
        }
    ) => {
        $(#[$enum_doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name {
            $( $(#[$doc])* $variant($ty), )+
        }

        impl $name {
            /// Every kind of this domain, as written in events (`grant.added`).
            pub const KINDS: &'static [&'static str] = &[$($kind),+];

            /// The kind, as written in events (`grant.added`).
            pub fn kind(&self) -> &'static str {
                match self { $( $name::$variant(_) => $kind, )+ }
            }

            pub(crate) fn serialize_data<S: serde::ser::SerializeStruct>(
                &self,
                s: &mut S,
            ) -> Result<(), S::Error> {
                match self { $( $name::$variant(v) => s.serialize_field("data", v), )+ }
            }

            /// Decodes a payload of this domain; `None` when the kind is not one of its own.
            pub(crate) fn from_raw(
                kind: &str,
                raw: &serde_json::value::RawValue,
            ) -> Option<Result<Self, serde_json::Error>> {
                match kind {
                    $( $kind => Some(serde_json::from_str(raw.get()).map($name::$variant)), )+
                    _ => None,
                }
            }
        }
    };
}

mod campaigns;
mod findings;
mod inventory;
mod users;

pub use campaigns::CampaignEvent;
pub use findings::FindingEvent;
pub use inventory::{
    AccountActivity, AccountRemoved, EntitlementRemoved, GrantRemoved, IdentityRemoved,
    ImportApplied, ImportFile, InventoryEvent, RoleRemoved, SnapshotPart, WarrantRecordRemoved,
};
pub use users::UserEvent;

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

/// The payload of an event: one domain's event. Its `kind` names the variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventData {
    /// Imports and the inventory they change.
    Inventory(InventoryEvent),
    /// The risk analysis and its findings.
    Findings(FindingEvent),
    /// Access review campaigns, remediation and notifications.
    Campaigns(CampaignEvent),
    /// Gatehouse users, sign-ins and API tokens.
    Users(UserEvent),
}

impl From<UserEvent> for EventData {
    fn from(e: UserEvent) -> Self {
        EventData::Users(e)
    }
}

impl From<InventoryEvent> for EventData {
    fn from(e: InventoryEvent) -> Self {
        EventData::Inventory(e)
    }
}

impl From<FindingEvent> for EventData {
    fn from(e: FindingEvent) -> Self {
        EventData::Findings(e)
    }
}

impl From<CampaignEvent> for EventData {
    fn from(e: CampaignEvent) -> Self {
        EventData::Campaigns(e)
    }
}

impl EventData {
    /// Every kind of every domain, as written in events.
    pub fn kinds() -> impl Iterator<Item = &'static str> {
        InventoryEvent::KINDS
            .iter()
            .chain(FindingEvent::KINDS)
            .chain(CampaignEvent::KINDS)
            .chain(UserEvent::KINDS)
            .copied()
    }

    /// The kind, as written in events (`grant.added`).
    pub fn kind(&self) -> &'static str {
        match self {
            EventData::Inventory(e) => e.kind(),
            EventData::Findings(e) => e.kind(),
            EventData::Campaigns(e) => e.kind(),
            EventData::Users(e) => e.kind(),
        }
    }

    /// A short reference to what the event is about, used to search the log: a single object
    /// (`system:erp`, `finding:F-…`) or, for a batch, the kind of object and its system
    /// (`grant:erp`, `account:ad`, `identity`, `role`, `warrant`). `gatehouse history` finds
    /// the events of one object through its versions.
    pub fn object(&self) -> String {
        match self {
            EventData::Inventory(e) => e.object(),
            EventData::Findings(e) => e.object(),
            EventData::Campaigns(e) => e.object(),
            EventData::Users(e) => e.object(),
        }
    }

    /// How many changes the event records: the records of a batch, or 1.
    pub fn changes(&self) -> usize {
        match self {
            EventData::Inventory(e) => e.changes(),
            EventData::Findings(e) => e.changes(),
            EventData::Campaigns(e) => e.changes(),
            EventData::Users(e) => e.changes(),
        }
    }

    /// When the change took effect.
    pub fn as_of(&self) -> Timestamp {
        match self {
            EventData::Inventory(e) => e.as_of(),
            EventData::Findings(e) => e.as_of(),
            EventData::Campaigns(e) => e.as_of(),
            EventData::Users(e) => e.as_of(),
        }
    }

    /// The `import.applied` (or `analysis.ran`) event this one belongs to, if any.
    pub fn import(&self) -> Option<u64> {
        match self {
            EventData::Inventory(e) => e.import(),
            EventData::Findings(e) => e.import(),
            EventData::Campaigns(e) => e.import(),
            EventData::Users(e) => e.import(),
        }
    }

    fn serialize_data<S: SerializeStruct>(&self, s: &mut S) -> Result<(), S::Error> {
        match self {
            EventData::Inventory(e) => e.serialize_data(s),
            EventData::Findings(e) => e.serialize_data(s),
            EventData::Campaigns(e) => e.serialize_data(s),
            EventData::Users(e) => e.serialize_data(s),
        }
    }

    fn from_raw(kind: &str, raw: &serde_json::value::RawValue) -> Result<Self, serde_json::Error> {
        if let Some(e) = InventoryEvent::from_raw(kind, raw) {
            return e.map(EventData::Inventory);
        }
        if let Some(e) = FindingEvent::from_raw(kind, raw) {
            return e.map(EventData::Findings);
        }
        if let Some(e) = CampaignEvent::from_raw(kind, raw) {
            return e.map(EventData::Campaigns);
        }
        if let Some(e) = UserEvent::from_raw(kind, raw) {
            return e.map(EventData::Users);
        }
        Err(serde_json::Error::custom(format!(
            "unknown event kind `{kind}`"
        )))
    }
}

/// `{prefix}:{system}` of a batch's first record, or the bare prefix for an empty batch.
pub(crate) fn batch_object<T>(
    prefix: &str,
    b: &Batch<T>,
    system: impl Fn(&T) -> &crate::keys::SystemKey,
) -> String {
    match b.records.first() {
        Some(r) => format!("{prefix}:{}", system(r)),
        None => prefix.to_owned(),
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
    /// The canonical bytes of the event (see the module documentation). Fails only if a
    /// payload cannot be represented (it never writes an error text in place of the event).
    pub fn encode(&self) -> Result<Vec<u8>, ModelError> {
        serde_json::to_vec(self).map_err(|e| {
            ModelError::InvalidEvent(format!(
                "event {} ({}) cannot be encoded: {e}",
                self.seq,
                self.data.kind()
            ))
        })
    }

    /// Decodes canonical bytes, refusing anything that is not exactly the canonical encoding.
    pub fn decode(bytes: &[u8]) -> Result<Event, ModelError> {
        let event: Event =
            serde_json::from_slice(bytes).map_err(|e| ModelError::InvalidEvent(e.to_string()))?;
        if event.encode()? != bytes {
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
    use crate::inventory::{Grant, GrantSource};
    use crate::keys::SystemKey;

    fn grant_event() -> Event {
        Event {
            seq: 7,
            at: "2026-11-23T10:00:00.5Z".parse().unwrap(),
            actor: "cli:root".into(),
            data: InventoryEvent::GrantAdded(Batch {
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
            })
            .into(),
        }
    }

    #[test]
    fn canonical_bytes_are_stable() {
        let bytes = grant_event().encode().unwrap();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"seq":7,"at":"2026-11-23T10:00:00.5Z","actor":"cli:root","kind":"grant.added","data":{"as_of":"2026-11-01T00:00:00Z","import":3,"records":[{"system":"erp","account":"u1","entitlement":"role/AP_Approver","source":"request","warrant":"request:REQ-1"}]}}"#
        );
        assert_eq!(Event::decode(&bytes).unwrap(), grant_event());
    }

    #[test]
    fn non_canonical_bytes_are_refused() {
        let spaced = String::from_utf8(grant_event().encode().unwrap())
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
        assert_eq!(grant_event().data.import(), Some(3));
    }

    #[test]
    fn kinds_are_unique_across_domains() {
        let mut kinds: Vec<&str> = EventData::kinds().collect();
        let n = kinds.len();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), n);
    }
}
