//! What Gatehouse keeps an inventory of: systems, identities, accounts, entitlements, grants,
//! roles and the records that warrant grants.
//!
//! These structs are the *state of one object at one time*. They are what connectors produce,
//! what events carry and what the store keeps versions of. Their serde form is part of the
//! canonical event encoding: renaming a field changes the bytes the ledger hashes, so don't.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, shorten};
use crate::keys::{IdentityKey, RoleKey, SystemKey};
use crate::time::{Date, Timestamp};

/// Columns of a source beyond the ones Gatehouse understands, kept verbatim and sorted by name.
pub type Attributes = BTreeMap<String, String>;

fn is_false(b: &bool) -> bool {
    !*b
}

macro_rules! word_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal, $expected:literal,
     { $($(#[$vdoc:meta])* $variant:ident => $word:literal $(| $alias:literal)*),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $word)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word used in files, events, SQL and the UI.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
        }

        impl FromStr for $name {
            type Err = ModelError;
            fn from_str(s: &str) -> Result<Self, ModelError> {
                let lower = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
                match lower.as_str() {
                    $($word $(| $alias)* => Ok($name::$variant),)+
                    _ => Err(ModelError::InvalidChoice {
                        what: $what,
                        value: shorten(s),
                        expected: $expected,
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

word_enum!(
    /// How much harm misuse of a system can do; drives review cadence and finding severity.
    Criticality, "criticality", "critical, high, medium, low",
    {
        /// Financial reporting, production data, identity infrastructure.
        Critical => "critical",
        /// Important business systems.
        High => "high",
        /// Ordinary business tools.
        Medium => "medium",
        /// Little impact.
        Low => "low",
    }
);

word_enum!(
    /// A risk rating of an entitlement.
    RiskLevel, "risk level", "critical, high, medium, low",
    {
        /// Full control or access to regulated data.
        Critical => "critical",
        /// Sensitive.
        High => "high",
        /// Ordinary.
        Medium => "medium",
        /// Harmless.
        Low => "low",
    }
);

word_enum!(
    /// What an identity is.
    IdentityKind, "identity kind", "person, service_account, api_key, token, certificate",
    {
        /// A person from the HR feed.
        Person => "person" | "human" | "employee",
        /// A service account used by software.
        ServiceAccount => "service_account" | "service",
        /// An API key.
        ApiKey => "api_key" | "apikey",
        /// A token (personal access token, bot token).
        Token => "token",
        /// A certificate or key pair.
        Certificate => "certificate" | "cert",
    }
);

word_enum!(
    /// Employment status from the HR feed. HR systems write many more words than these four
    /// ("Leave of Absence", "Parental Leave", "Withdrawn"); [`EmploymentStatus::from_hr`] reads
    /// them, and [`Person::hr_status`] keeps the words as written.
    EmploymentStatus, "employment status", "active, leave, suspended, terminated",
    {
        /// Working.
        Active => "active",
        /// On leave (parental, medical, sabbatical, …): still employed, expected back.
        Leave => "leave" | "on_leave",
        /// Suspended (for instance during an investigation): still employed, not working.
        Suspended => "suspended",
        /// Has left the company.
        Terminated => "terminated" | "inactive" | "left",
    }
);

/// Words of HR statuses, by the status they mean; a status is read by its words, the first
/// group with a match winning.
const HR_STATUS_WORDS: &[(EmploymentStatus, &[&str])] = &[
    (
        EmploymentStatus::Terminated,
        &[
            "terminated",
            "termination",
            "inactive",
            "left",
            "leaver",
            "withdrawn",
            "retired",
            "deceased",
            "resigned",
            "separated",
            "former",
            "dismissed",
            "ended",
            "exited",
        ],
    ),
    (EmploymentStatus::Suspended, &["suspended", "suspension"]),
    (
        EmploymentStatus::Leave,
        &[
            "leave",
            "loa",
            "absence",
            "absent",
            "sabbatical",
            "furlough",
            "furloughed",
            "maternity",
            "paternity",
            "parental",
            "sick",
        ],
    ),
    (
        EmploymentStatus::Active,
        &["active", "employed", "current", "working", "notice"],
    ),
];

impl EmploymentStatus {
    /// Reads a status the way HR exports write it: one of the canonical words, or a phrase
    /// whose words say it ("Leave of Absence", "Parental Leave" and "On Sabbatical" are leave;
    /// "Withdrawn", "Retired" and "Terminated - Voluntary" have left; "Active - Notice
    /// Period" is active). Case, spaces and punctuation do not matter.
    pub fn from_hr(text: &str) -> Result<EmploymentStatus, ModelError> {
        if let Ok(s) = text.parse::<EmploymentStatus>() {
            return Ok(s);
        }
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        for (status, known) in HR_STATUS_WORDS {
            if words.iter().any(|w| known.contains(w)) {
                return Ok(*status);
            }
        }
        Err(ModelError::InvalidChoice {
            what: "employment status",
            value: shorten(text),
            expected: "active, leave, suspended, terminated (or an HR phrase such as `Leave of \
                       Absence`, `Parental Leave`, `Withdrawn`)",
        })
    }
}

word_enum!(
    /// What an account is used for.
    AccountKind, "account kind", "human, service, shared, admin, emergency",
    {
        /// One person's everyday account.
        Human => "human" | "user" | "person",
        /// Used by software.
        Service => "service" | "service_account",
        /// Used by several people (generic login).
        Shared => "shared" | "generic",
        /// A separate privileged account of a person.
        Admin => "admin" | "privileged",
        /// Break-glass / firecall account.
        Emergency => "emergency" | "break_glass" | "breakglass",
    }
);

word_enum!(
    /// How a grant came about, as the source system reports it.
    GrantSource, "grant source", "direct, role, request, review, birthright, break_glass",
    {
        /// Assigned directly by an administrator.
        Direct => "direct",
        /// Through a business role.
        Role => "role",
        /// Through an approved access request.
        Request => "request",
        /// Kept or granted by an access review decision.
        Review => "review",
        /// Given to everyone matching a birthright rule.
        Birthright => "birthright",
        /// Emergency access.
        BreakGlass => "break_glass" | "breakglass" | "emergency",
    }
);

word_enum!(
    /// The kind of thing that can justify a grant.
    WarrantKind, "warrant kind",
    "request, review, role, birthright, break_glass, policy, exception",
    {
        /// An approved access request (ticket).
        Request => "request" | "ticket",
        /// An access review decision to keep the access.
        Review => "review",
        /// A business role the holder is assigned to.
        Role => "role",
        /// A birthright rule the holder matches.
        Birthright => "birthright",
        /// A recorded break-glass use.
        BreakGlass => "break_glass" | "breakglass",
        /// A standing policy (an emergency-access policy, say) with an owner, an approver and
        /// an expiry, that covers every grant citing it (or those of one holder or
        /// entitlement, when it names them).
        Policy => "policy" | "standing_policy",
        /// An approved exception for one person and entitlement outside the role model, with
        /// an owner, an approver and an expiry.
        Exception => "exception",
    }
);

impl WarrantKind {
    /// Whether records of this kind stand for a while on their own authority: a standing
    /// policy or an approved exception. They need an owner, an approver and an expiry.
    pub fn standing(self) -> bool {
        matches!(self, WarrantKind::Policy | WarrantKind::Exception)
    }
}

word_enum!(
    /// How serious a finding is, from `info` (worth knowing) to `critical` (act now). Ordered:
    /// `info < low < medium < high < critical`.
    Severity, "severity", "info, low, medium, high, critical",
    {
        /// Worth knowing; no action expected.
        Info => "info",
        /// Clean up when convenient.
        Low => "low",
        /// Should be fixed within the review cycle.
        Medium => "medium",
        /// Fix soon: real exposure.
        High => "high",
        /// Act now: abuse would be hard to detect or very damaging.
        Critical => "critical",
    }
);

impl Severity {
    /// Moves the severity `steps` levels up (positive) or down (negative), within bounds.
    pub fn shifted(self, steps: i32) -> Severity {
        let i = Severity::ALL.iter().position(|s| *s == self).unwrap_or(0) as i32;
        let j = (i + steps).clamp(0, Severity::ALL.len() as i32 - 1) as usize;
        Severity::ALL[j]
    }
}

word_enum!(
    /// Where a finding stands.
    FindingStatus, "finding status", "open, accepted, resolved",
    {
        /// Found on the latest analysis and not accepted.
        Open => "open",
        /// Found, and accepted as a risk by someone until a date.
        Accepted => "accepted" | "accepted_risk",
        /// Not found any more.
        Resolved => "resolved",
    }
);

/// What justifies a grant: a reference to a request, review decision, role, birthright rule or
/// break-glass record. Written `kind:reference`, e.g. `request:REQ-1042`. A grant without a
/// warrant is drift.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Warrant {
    /// What kind of justification.
    pub kind: WarrantKind,
    /// Which one: a ticket number, a role key, …
    pub reference: String,
}

impl FromStr for Warrant {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        let invalid = || ModelError::InvalidChoice {
            what: "warrant",
            value: shorten(s),
            expected: "`kind:reference` with kind request, review, role, birthright, break_glass, \
                       policy or exception (e.g. `request:REQ-1042`)",
        };
        let (kind, reference) = s.trim().split_once(':').ok_or_else(invalid)?;
        let reference = reference.trim();
        if reference.is_empty() || reference.len() > 256 || reference.chars().any(char::is_control)
        {
            return Err(invalid());
        }
        Ok(Warrant {
            kind: kind.parse().map_err(|_| invalid())?,
            reference: reference.to_owned(),
        })
    }
}

impl TryFrom<String> for Warrant {
    type Error = ModelError;
    fn try_from(s: String) -> Result<Self, ModelError> {
        s.parse()
    }
}

impl From<Warrant> for String {
    fn from(w: Warrant) -> String {
        w.to_string()
    }
}

impl fmt::Display for Warrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.reference)
    }
}

/// Names one entitlement across all systems: `system:native_id`, e.g. `erp:role/AP_Approver`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EntitlementRef {
    /// The system.
    pub system: SystemKey,
    /// The entitlement's id in that system.
    pub native_id: String,
}

impl FromStr for EntitlementRef {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        let invalid = || ModelError::InvalidChoice {
            what: "entitlement reference",
            value: shorten(s),
            expected: "`system:entitlement`, e.g. `erp:role/AP_Approver`",
        };
        let (system, native) = s.trim().split_once(':').ok_or_else(invalid)?;
        if native.is_empty() {
            return Err(invalid());
        }
        Ok(EntitlementRef {
            system: SystemKey::new(system)?,
            native_id: native.to_owned(),
        })
    }
}

impl TryFrom<String> for EntitlementRef {
    type Error = ModelError;
    fn try_from(s: String) -> Result<Self, ModelError> {
        s.parse()
    }
}

impl From<EntitlementRef> for String {
    fn from(r: EntitlementRef) -> String {
        r.to_string()
    }
}

impl fmt::Display for EntitlementRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.system, self.native_id)
    }
}

/// How accounts of a system are linked to identities. Rules are tried in order; the first that
/// finds exactly one identity wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum CorrelationRule {
    /// The account's `employee_id` column equals the identity's employee id (its key).
    EmployeeId,
    /// The account's `email` column equals the identity's e-mail, ignoring case.
    Email,
    /// A regular expression over the username whose named group (`employee_id`, `email` or
    /// `email_local`, the part of the e-mail before `@`) names the identity, e.g.
    /// `^a-(?P<email_local>.+)$` for admin accounts `a-jdoe`.
    Username {
        /// The regular expression.
        pattern: String,
    },
    /// The account's `identity` column names an identity key directly (typical for
    /// service accounts listed in the non-human identity inventory).
    #[serde(rename = "identity", alias = "identity_key")]
    IdentityKey,
}

impl CorrelationRule {
    /// A short name for reports ("email", "username `^a-(?P<email_local>.+)$`").
    pub fn describe(&self) -> String {
        match self {
            CorrelationRule::EmployeeId => "employee_id".into(),
            CorrelationRule::Email => "email".into(),
            CorrelationRule::Username { pattern } => format!("username `{pattern}`"),
            CorrelationRule::IdentityKey => "identity".into(),
        }
    }
}

/// A system Gatehouse governs, as described by its `system.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemConfig {
    /// Short key used in references.
    pub key: SystemKey,
    /// Display name.
    pub name: String,
    /// What the system is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The identity accountable for the system (reviews its access).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<IdentityKey>,
    /// How critical the system is; unset means "not yet classified".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criticality: Option<Criticality>,
    /// Compliance frameworks in scope (`sox`, `iso27001`, `soc2`, …), lowercase, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub frameworks: Vec<String>,
    /// Whether the system supports financial reporting (SOX ITGC scope).
    #[serde(default, skip_serializing_if = "is_false")]
    pub financial_reporting: bool,
    /// Review every this many days, overriding the policy's cadence for its criticality.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_cadence_days: Option<u32>,
    /// How accounts are linked to identities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub correlation: Vec<CorrelationRule>,
    /// Anything else the system file says.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: Attributes,
}

/// HR facts about a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Employment status.
    pub status: EmploymentStatus,
    /// The person's manager (an identity key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<IdentityKey>,
    /// Department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Office or country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// First day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<Date>,
    /// Last day (set for leavers, and for joiners with a fixed-term contract).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<Date>,
    /// The status as the HR feed wrote it, when that is not the canonical word
    /// (`Parental Leave`, `Leave of Absence`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hr_status: Option<String>,
    /// Employment type as the HR feed writes it: employee, contractor, intern, vendor, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employment_type: Option<String>,
    /// First day in the current position (the effective date of the last job change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position_start: Option<Date>,
    /// Department before the current position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_department: Option<String>,
    /// Job title before the current position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_title: Option<String>,
    /// First day of the first employment, for people who left and came back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_start_date: Option<Date>,
    /// First day of the current employment of a person who left and came back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rehire_date: Option<Date>,
}

impl Person {
    /// A person with a status and nothing else known.
    pub fn with_status(status: EmploymentStatus) -> Person {
        Person {
            status,
            manager: None,
            department: None,
            title: None,
            location: None,
            start_date: None,
            end_date: None,
            hr_status: None,
            employment_type: None,
            position_start: None,
            previous_department: None,
            previous_title: None,
            original_start_date: None,
            rehire_date: None,
        }
    }

    /// The status for sentences: the HR feed's words when it has its own, else the canonical
    /// word.
    pub fn status_text(&self) -> &str {
        self.hr_status.as_deref().unwrap_or(self.status.as_str())
    }

    /// When the current employment began, for a person who left and came back: the
    /// `rehire_date`, or the `start_date` when an earlier `original_start_date` is known.
    pub fn rehired_on(&self) -> Option<Date> {
        self.rehire_date
            .or(match (self.original_start_date, self.start_date) {
                (Some(first), Some(start)) if first < start => Some(start),
                _ => None,
            })
    }

    /// The first day of the current employment: the rehire date, else the start date.
    pub fn employment_start(&self) -> Option<Date> {
        self.rehired_on().or(self.start_date)
    }
}

/// Facts about a non-human identity: a service account, API key, token or certificate.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NonHuman {
    /// The person accountable for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<IdentityKey>,
    /// Why it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The systems it is meant to be used on; empty means "not declared".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<SystemKey>,
    /// When the current credential was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_created: Option<Timestamp>,
    /// When the credential was last rotated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rotated: Option<Timestamp>,
    /// When the credential expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// When it was last used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<Timestamp>,
}

/// A person or a non-human identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Stable key: the employee id, or the non-human identity's id.
    pub key: IdentityKey,
    /// What it is.
    pub kind: IdentityKind,
    /// Display name.
    pub name: String,
    /// E-mail address, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Set when `kind` is `person`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<Person>,
    /// Set for every other kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_human: Option<NonHuman>,
    /// Further columns of the feed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: Attributes,
}

impl Identity {
    /// The employment status of a person; `None` for non-human identities.
    pub fn status(&self) -> Option<EmploymentStatus> {
        self.person.as_ref().map(|p| p.status)
    }

    /// The value of an attribute by name, for birthright conditions and reports: the built-in
    /// fields (`kind`, `department`, `title`, `location`, `status`, `hr_status`,
    /// `employment_type`, `email`, `name`, `manager`) first, then the free attributes.
    pub fn attribute(&self, name: &str) -> Option<String> {
        let p = self.person.as_ref();
        match name {
            "kind" => Some(self.kind.as_str().to_owned()),
            "name" => Some(self.name.clone()),
            "email" => self.email.clone(),
            "department" => p.and_then(|p| p.department.clone()),
            "title" => p.and_then(|p| p.title.clone()),
            "location" => p.and_then(|p| p.location.clone()),
            "status" => p.map(|p| p.status.as_str().to_owned()),
            "hr_status" => p.map(|p| p.status_text().to_owned()),
            "manager" => p.and_then(|p| p.manager.as_ref().map(|m| m.to_string())),
            "employment_type" => p
                .and_then(|p| p.employment_type.clone())
                .or_else(|| self.attributes.get(name).cloned()),
            other => self.attributes.get(other).cloned(),
        }
    }
}

/// An account: an identity's principal in one system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The system.
    pub system: SystemKey,
    /// The account's id in that system (stable; usernames may change).
    pub native_id: String,
    /// Login name.
    pub username: String,
    /// The identity this account belongs to, when correlated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityKey>,
    /// Which correlation rule linked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked_by: Option<String>,
    /// What the account is used for.
    pub kind: AccountKind,
    /// Whether the account can log in.
    pub enabled: bool,
    /// Whether multi-factor authentication is on, when the source says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa: Option<bool>,
    /// Last successful login, when the source says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login: Option<Timestamp>,
    /// Source value used for correlation by employee id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_id: Option<String>,
    /// Source value used for correlation by e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Further columns.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: Attributes,
}

impl Account {
    /// Whether two versions differ in anything but the last login, i.e. whether the change is
    /// a new version rather than an activity observation.
    pub fn differs_beyond_activity(&self, other: &Account) -> bool {
        self.system != other.system
            || self.native_id != other.native_id
            || self.username != other.username
            || self.identity != other.identity
            || self.linked_by != other.linked_by
            || self.kind != other.kind
            || self.enabled != other.enabled
            || self.mfa != other.mfa
            || self.employee_id != other.employee_id
            || self.email != other.email
            || self.attributes != other.attributes
    }
}

/// Something grantable in a system: a group, role, permission set, database role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entitlement {
    /// The system.
    pub system: SystemKey,
    /// Its id in that system.
    pub native_id: String,
    /// Display name.
    pub name: String,
    /// What it allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether it is privileged (administrative, or reaches sensitive data).
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged: bool,
    /// Risk rating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskLevel>,
    /// Who is accountable for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<IdentityKey>,
    /// Further columns.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: Attributes,
}

/// An account holds an entitlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The system.
    pub system: SystemKey,
    /// Native id of the account.
    pub account: String,
    /// Native id of the entitlement.
    pub entitlement: String,
    /// How it came about.
    pub source: GrantSource,
    /// What justifies it, as the source declares; `None` means nothing was declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warrant: Option<Warrant>,
    /// When the grant is meant to end (time-bound access).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// When the system says the entitlement was given to the account, if it knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted_at: Option<Timestamp>,
    /// Further columns.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: Attributes,
}

/// An identity attribute must take one of the given values (compared exactly).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Attribute name: `department`, `title`, `location`, `status`, `kind` or a free attribute.
    pub attribute: String,
    /// Accepted values.
    pub any_of: Vec<String>,
}

impl Condition {
    /// Whether an identity meets the condition.
    pub fn holds_for(&self, identity: &Identity) -> bool {
        identity
            .attribute(&self.attribute)
            .is_some_and(|v| self.any_of.contains(&v))
    }
}

/// A named bundle of entitlements (a business role), with optional birthright rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Short key.
    pub key: RoleKey,
    /// Display name.
    pub name: String,
    /// What the role is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who is accountable for the role's content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<IdentityKey>,
    /// The entitlements it bundles, sorted.
    pub entitlements: Vec<EntitlementRef>,
    /// Birthright: every person meeting **all** these conditions holds the role, while their
    /// employment status keeps role access (active people always; people on leave by the
    /// default status policy).
    /// Empty means the role is assigned explicitly only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub birthright: Vec<Condition>,
    /// Identities explicitly assigned to the role, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<IdentityKey>,
}

impl Role {
    /// Whether the role applies to an identity under the default status policy: an explicit
    /// member, or an active person or a person on leave meeting the birthright conditions.
    pub fn applies_to(&self, identity: &Identity) -> bool {
        self.applies(
            identity,
            matches!(
                identity.status(),
                Some(EmploymentStatus::Active | EmploymentStatus::Leave)
            ),
        )
    }

    /// Whether the role applies to an identity: an explicit member, or a person whose status
    /// keeps birthright access (`birthright_kept`, the status policy's answer) meeting the
    /// birthright conditions.
    pub fn applies(&self, identity: &Identity, birthright_kept: bool) -> bool {
        if self.members.binary_search(&identity.key).is_ok() {
            return true;
        }
        birthright_kept
            && !self.birthright.is_empty()
            && self.birthright.iter().all(|c| c.holds_for(identity))
    }

    /// The first birthright condition an identity does not meet, if any.
    pub fn unmet_condition(&self, identity: &Identity) -> Option<&Condition> {
        self.birthright.iter().find(|c| !c.holds_for(identity))
    }
}

/// A record from outside Gatehouse that can warrant grants: an approved access request, a
/// review decision, a break-glass use — typically exported from a ticketing system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarrantRecord {
    /// Ticket or record id, unique within its kind.
    pub id: String,
    /// Request, review, break-glass, standing policy or exception.
    pub kind: WarrantKind,
    /// Who was given access. Always set, except on a standing policy that covers every
    /// holder citing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityKey>,
    /// Which entitlement. Always set, except on a standing policy that covers every
    /// entitlement citing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entitlement: Option<EntitlementRef>,
    /// Who answers for a standing policy or exception.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<IdentityKey>,
    /// Who approved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<IdentityKey>,
    /// When it was approved (or, for break-glass, used).
    pub approved_at: Timestamp,
    /// When the access it allows should end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// The justification given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Further columns.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: Attributes,
}

impl WarrantRecord {
    /// The warrant a grant would cite for this record.
    pub fn warrant(&self) -> Warrant {
        Warrant {
            kind: self.kind,
            reference: self.id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_parse_leniently_and_print_canonically() {
        assert_eq!(
            "Break-Glass".parse::<GrantSource>().ok(),
            Some(GrantSource::BreakGlass)
        );
        assert_eq!(
            "TERMINATED".parse::<EmploymentStatus>().ok(),
            Some(EmploymentStatus::Terminated)
        );
        assert_eq!(GrantSource::BreakGlass.to_string(), "break_glass");
        let err = "urgent".parse::<Criticality>().unwrap_err().to_string();
        assert_eq!(
            err,
            "`urgent` is not a valid criticality; expected one of: critical, high, medium, low"
        );
    }

    #[test]
    fn warrants_and_refs() {
        let w: Warrant = "request:REQ-1042".parse().unwrap();
        assert_eq!(w.kind, WarrantKind::Request);
        assert_eq!(w.to_string(), "request:REQ-1042");
        assert!("REQ-1042".parse::<Warrant>().is_err());
        assert!("request:".parse::<Warrant>().is_err());
        let r: EntitlementRef = "aws:arn:aws:iam::123:policy/Admin".parse().unwrap();
        assert_eq!(r.system.as_str(), "aws");
        assert_eq!(r.native_id, "arn:aws:iam::123:policy/Admin");
    }

    #[test]
    fn birthright_roles_apply_while_the_status_keeps_access() {
        let mut person = Identity {
            key: IdentityKey::new("E1").unwrap(),
            kind: IdentityKind::Person,
            name: "Ada".into(),
            email: None,
            person: Some(Person {
                department: Some("Finance".into()),
                ..Person::with_status(EmploymentStatus::Active)
            }),
            non_human: None,
            attributes: Attributes::new(),
        };
        let role = Role {
            key: RoleKey::new("finance").unwrap(),
            name: "Finance".into(),
            description: None,
            owner: None,
            entitlements: vec![],
            birthright: vec![Condition {
                attribute: "department".into(),
                any_of: vec!["Finance".into()],
            }],
            members: vec![],
        };
        let with = |person: &mut Identity, status| {
            if let Some(p) = person.person.as_mut() {
                p.status = status;
            }
        };
        assert!(role.applies_to(&person));
        with(&mut person, EmploymentStatus::Leave);
        assert!(role.applies_to(&person), "people on leave keep birthrights");
        assert!(
            !role.applies(&person, false),
            "unless the status policy says no"
        );
        with(&mut person, EmploymentStatus::Suspended);
        assert!(!role.applies_to(&person));
        with(&mut person, EmploymentStatus::Terminated);
        assert!(!role.applies_to(&person));
        with(&mut person, EmploymentStatus::Active);
        if let Some(p) = person.person.as_mut() {
            p.department = Some("Sales".into());
        }
        assert_eq!(
            role.unmet_condition(&person).map(|c| c.attribute.as_str()),
            Some("department")
        );
    }

    #[test]
    fn hr_statuses_are_read_as_hr_systems_write_them() {
        use EmploymentStatus::*;
        for (text, status) in [
            ("Active", Active),
            ("ACTIVE", Active),
            ("Active - Notice Period", Active),
            ("Leave of Absence", Leave),
            ("Parental Leave", Leave),
            ("Medical leave", Leave),
            ("On Sabbatical", Leave),
            ("LOA", Leave),
            ("Suspended", Suspended),
            ("Administrative suspension", Suspended),
            ("Terminated", Terminated),
            ("Terminated - Voluntary", Terminated),
            ("Withdrawn", Terminated),
            ("Retired", Terminated),
            ("Inactive", Terminated),
        ] {
            assert_eq!(EmploymentStatus::from_hr(text).ok(), Some(status), "{text}");
        }
        let err = EmploymentStatus::from_hr("Pending review")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("`Pending review` is not a valid employment status; expected one of"),
            "{err}"
        );
    }

    #[test]
    fn rehires_and_employment_start() {
        let date = |d: &str| crate::parse_date(d).unwrap();
        let mut p = Person {
            start_date: Some(date("2019-03-01")),
            ..Person::with_status(EmploymentStatus::Active)
        };
        assert_eq!(p.rehired_on(), None);
        assert_eq!(p.employment_start(), Some(date("2019-03-01")));
        // ADP: hire date and rehire date.
        p.rehire_date = Some(date("2026-02-01"));
        assert_eq!(p.rehired_on(), Some(date("2026-02-01")));
        assert_eq!(p.employment_start(), Some(date("2026-02-01")));
        // Workday: original hire date and (latest) hire date.
        let p = Person {
            original_start_date: Some(date("2015-06-01")),
            start_date: Some(date("2025-09-15")),
            ..Person::with_status(EmploymentStatus::Active)
        };
        assert_eq!(p.rehired_on(), Some(date("2025-09-15")));
    }

    #[test]
    fn new_optional_fields_keep_old_encodings() {
        let old = r#"{"status":"active","department":"Finance"}"#;
        let p: Person = serde_json::from_str(old).unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), old);
        let old = r#"{"id":"REQ-1","kind":"request","identity":"E1","entitlement":"erp:role/AP","approved_at":"2026-01-05T00:00:00Z"}"#;
        let w: WarrantRecord = serde_json::from_str(old).unwrap();
        assert_eq!(serde_json::to_string(&w).unwrap(), old);
        let policy: Warrant = "policy:EMERGENCY-ACCESS".parse().unwrap();
        assert_eq!(policy.kind, WarrantKind::Policy);
        assert!(policy.kind.standing());
        let exception: Warrant = "exception:EXC-7".parse().unwrap();
        assert_eq!(exception.to_string(), "exception:EXC-7");
    }
}
