//! Access review campaigns: what is reviewed, by whom, what was decided, and how revoked access
//! is removed and verified. These records travel in events (`campaign.launched`,
//! `review.decided`, `remediation.verified`, …), so their serde form is part of the canonical
//! encoding: new fields are optional and left out when absent.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, shorten};
use crate::event::ImportFile;
use crate::inventory::{EntitlementRef, RiskLevel};
use crate::keys::{IdentityKey, RoleKey, SystemKey};
use crate::time::Timestamp;

/// Names a campaign: `C-0001`. The number is assigned in order of creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CampaignId(u32);

impl CampaignId {
    /// The campaign with this number.
    pub const fn new(number: u32) -> CampaignId {
        CampaignId(number)
    }

    /// Its number.
    pub fn number(self) -> u32 {
        self.0
    }
}

impl fmt::Display for CampaignId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "C-{:04}", self.0)
    }
}

impl FromStr for CampaignId {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        let t = s.trim();
        let digits = t
            .strip_prefix("C-")
            .or_else(|| t.strip_prefix("c-"))
            .unwrap_or(t);
        match digits.parse::<u32>() {
            Ok(n) if n > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => Ok(CampaignId(n)),
            _ => Err(ModelError::InvalidKey {
                what: "campaign id",
                value: shorten(s),
                why: "write it as `C-` and its number, e.g. `C-0007`",
            }),
        }
    }
}

impl TryFrom<String> for CampaignId {
    type Error = ModelError;
    fn try_from(s: String) -> Result<Self, ModelError> {
        s.parse()
    }
}

impl From<CampaignId> for String {
    fn from(id: CampaignId) -> String {
        id.to_string()
    }
}

/// Names one review item of a campaign: `C-0001/17`. A remediation task has the id of the
/// item whose revoke it carries out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ItemRef {
    /// The campaign.
    pub campaign: CampaignId,
    /// The item's number in it, from 1.
    pub item: u32,
}

impl fmt::Display for ItemRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.campaign, self.item)
    }
}

impl FromStr for ItemRef {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, ModelError> {
        let invalid = || ModelError::InvalidKey {
            what: "review item",
            value: shorten(s),
            why: "write it as the campaign and the item's number, e.g. `C-0007/42`",
        };
        let (c, n) = s.trim().split_once('/').ok_or_else(invalid)?;
        let campaign = c.parse().map_err(|_| invalid())?;
        match n.parse::<u32>() {
            Ok(item) if item > 0 => Ok(ItemRef { campaign, item }),
            _ => Err(invalid()),
        }
    }
}

impl TryFrom<String> for ItemRef {
    type Error = ModelError;
    fn try_from(s: String) -> Result<Self, ModelError> {
        s.parse()
    }
}

impl From<ItemRef> for String {
    fn from(r: ItemRef) -> String {
        r.to_string()
    }
}

word_enum!(
    /// What a campaign reviews.
    CampaignKind, "campaign kind",
    "full, delta, privileged, non_human, sod, role_definitions, event_driven, external",
    {
        /// Every grant in scope.
        Full => "full",
        /// Only grants new or changed since the last completed campaign of the same scope.
        Delta => "delta",
        /// Only privileged grants.
        Privileged => "privileged" | "privileged_only",
        /// Grants of non-human identities; their owners attest purpose, rotation and need.
        NonHuman => "non_human" | "nhi",
        /// Grants in segregation-of-duties conflicts: keep one side, revoke, or accept with a
        /// mitigating control until a date.
        Sod => "sod",
        /// Role definitions: owners attest that each role still needs each of its
        /// entitlements.
        RoleDefinitions => "role_definitions" | "roles",
        /// A micro-review the policy opened by itself after an import (a mover's old access,
        /// an unwarranted grant on a SOX system).
        EventDriven => "event_driven",
        /// Decisions taken outside Gatehouse and imported (`gatehouse import decisions`).
        External => "external",
    }
);

word_enum!(
    /// Where a campaign stands.
    CampaignState, "campaign state", "draft, active, closed",
    {
        /// Created; its population is not frozen yet.
        Draft => "draft",
        /// Launched: items wait for decisions.
        Active => "active",
        /// Closed and signed off.
        Closed => "closed",
    }
);

word_enum!(
    /// Who reviews an item at one stage.
    ReviewerRule, "reviewer", "manager, system_owner, entitlement_owner, role_owner, nhi_owner",
    {
        /// The holder's manager.
        Manager => "manager",
        /// The owner of the system the grant is on.
        SystemOwner => "system_owner" | "owner",
        /// The owner of the entitlement (the system owner when it has none).
        EntitlementOwner => "entitlement_owner",
        /// The owner of the role (role definition reviews).
        RoleOwner => "role_owner",
        /// The owner of the non-human identity.
        NhiOwner => "nhi_owner",
    }
);

word_enum!(
    /// A review decision.
    Verdict, "decision", "keep, revoke, keep_until, exception",
    {
        /// The access is still needed.
        Keep => "keep",
        /// The access must go.
        Revoke => "revoke",
        /// The access may stay until a date.
        KeepUntil => "keep_until",
        /// Nobody decided by the deadline and the campaign flags such items as exceptions.
        Exception => "exception",
    }
);

word_enum!(
    /// What an item nobody decided gets at the deadline (chosen per campaign).
    DeadlineDefault, "deadline default", "revoke, keep, exception",
    {
        /// Undecided access is revoked.
        Revoke => "revoke",
        /// Undecided access is kept.
        Keep => "keep",
        /// Undecided access is kept and flagged as an exception in the evidence.
        Exception => "exception",
    }
);

impl DeadlineDefault {
    /// The decision an undecided item gets.
    pub fn verdict(self) -> Verdict {
        match self {
            DeadlineDefault::Revoke => Verdict::Revoke,
            DeadlineDefault::Keep => Verdict::Keep,
            DeadlineDefault::Exception => Verdict::Exception,
        }
    }
}

word_enum!(
    /// How a decision was made.
    DecisionOrigin, "decision origin", "reviewer, bulk, recommendation, default, imported",
    {
        /// One item, by its reviewer.
        Reviewer => "reviewer",
        /// Several items decided alike in one action.
        Bulk => "bulk",
        /// A selection whose every recommendation was accepted in one action.
        Recommendation => "recommendation",
        /// The campaign's deadline default, applied to an undecided item.
        Default => "default",
        /// Taken outside Gatehouse and imported.
        Imported => "imported",
    }
);

word_enum!(
    /// Why an item changed reviewer.
    Reassignment, "reassignment", "delegated, reassigned, escalated, replaced",
    {
        /// The reviewer handed it to someone else.
        Delegated => "delegated",
        /// An administrator or the campaign owner gave it to someone else.
        Reassigned => "reassigned",
        /// Overdue: it went up the escalation path.
        Escalated => "escalated",
        /// The reviewer left, or was the holder: the escalation path replaced them.
        Replaced => "replaced",
    }
);

word_enum!(
    /// Where a remediation task stands.
    TaskStatus, "task status", "open, done, verified, reopened",
    {
        /// Waiting for someone to remove the access.
        Open => "open",
        /// Someone says it is done; the next import of the system must confirm it.
        Done => "done",
        /// An import of the system showed the grant gone.
        Verified => "verified",
        /// The grant was still there after the due date, or came back without a new warrant.
        Reopened => "reopened",
    }
);

word_enum!(
    /// A way a person holds an entitlement, which a revoke must remove.
    PathKind, "access path", "direct, role, birthright, request, other_account",
    {
        /// Assigned directly on the account.
        Direct => "direct",
        /// Through a business role the person is a member of.
        Role => "role",
        /// Through a birthright rule the person matches.
        Birthright => "birthright",
        /// Through an approved request (the grant cites it).
        Request => "request",
        /// Another account of the same person holds the entitlement too.
        OtherAccount => "other_account",
    }
);

/// What a reviewer sees beside an item, frozen at launch.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemContext {
    /// The holder's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The holder's manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<IdentityKey>,
    /// The holder's department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// The holder's job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The holder's employment status (people), or kind (non-human identities).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The entitlement's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entitlement_name: Option<String>,
    /// What the entitlement allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meaning: Option<String>,
    /// Whether it is privileged.
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged: bool,
    /// Its risk rating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskLevel>,
    /// The account's last login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login: Option<Timestamp>,
    /// How the grant came about (`direct`, `role`, `request`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// What the grant cites as its warrant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warrant: Option<String>,
    /// Since when it is held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// Open findings about this access, by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<String>,
    /// Share of the holder's peers (same department and title) who hold it too, per cent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peers: Option<u32>,
    /// The segregation-of-duties rule this grant is part of a conflict of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sod: Option<String>,
    /// For non-human identities: their declared purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// For non-human identities: when the credential was last rotated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated: Option<Timestamp>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What a reviewer sees about a holder, the same on each of their items: recorded once per
/// campaign, in the `review.items` event of the holder's first item, rather than on each item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolderContext {
    /// The holder (an item's `identity`).
    pub identity: IdentityKey,
    /// Their name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Their manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<IdentityKey>,
    /// Their department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Their job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Their employment status (people), or kind (non-human identities).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// For non-human identities: their declared purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// For non-human identities: when the credential was last rotated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated: Option<Timestamp>,
}

/// What a reviewer sees about an entitlement, the same on each of its items: recorded once
/// per campaign, in the `review.items` event of its first item, rather than on each item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntitlementContext {
    /// The system (an item's `system`).
    pub system: SystemKey,
    /// The entitlement's native id (an item's `entitlement`).
    pub entitlement: String,
    /// Its display name, when not its native id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What it allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meaning: Option<String>,
    /// Whether it is privileged.
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged: bool,
    /// Its risk rating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskLevel>,
}

impl ItemContext {
    /// Adds what is recorded about the item's holder.
    pub fn add_holder(&mut self, h: &HolderContext) {
        self.name.clone_from(&h.name);
        self.manager.clone_from(&h.manager);
        self.department.clone_from(&h.department);
        self.title.clone_from(&h.title);
        self.status.clone_from(&h.status);
        self.purpose.clone_from(&h.purpose);
        self.rotated = h.rotated;
    }

    /// Adds what is recorded about the item's entitlement.
    pub fn add_entitlement(&mut self, e: &EntitlementContext) {
        self.entitlement_name.clone_from(&e.name);
        self.meaning.clone_from(&e.meaning);
        self.privileged = e.privileged;
        self.risk = e.risk;
    }
}

/// One thing to review: a grant (an account holds an entitlement), or, in a role definitions
/// review, an entitlement of a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewItem {
    /// Its number in the campaign, from 1.
    pub n: u32,
    /// The system of the entitlement.
    pub system: SystemKey,
    /// The account holding it (grant reviews).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The entitlement's native id.
    pub entitlement: String,
    /// The role (role definition reviews).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<RoleKey>,
    /// Who holds it (grant reviews of a correlated account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityKey>,
    /// Who reviews it, one per stage, in order.
    pub reviewers: Vec<IdentityKey>,
    /// Why a reviewer is not the one the stage's rule names (the holder reviews nobody's
    /// access of their own; a reviewer who left is replaced by the escalation path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment: Option<String>,
    /// What Gatehouse recommends: keep or revoke.
    pub recommendation: Verdict,
    /// Why, in a few words (`dormant 180 days`, `role baseline for AP Clerk`).
    pub reason: String,
    /// What the reviewer sees beside it.
    #[serde(default, skip_serializing_if = "is_empty_context")]
    pub context: ItemContext,
}

fn is_empty_context(c: &ItemContext) -> bool {
    *c == ItemContext::default()
}

/// How a campaign is reviewed and closed: frozen when it is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignRules {
    /// Who reviews, stage by stage (manager, then system owner, …).
    pub stages: Vec<ReviewerRule>,
    /// Days from launch to the due date.
    pub due_days: u32,
    /// Reminders, in days before the due date (0 is the due date itself).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reminders: Vec<u32>,
    /// Escalations, in days after the due date: the first goes to the reviewer's manager,
    /// the next to the compliance owner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalations: Vec<u32>,
    /// Days after the due date at which undecided items get the deadline default.
    pub deadline_days: u32,
    /// What undecided items get at the deadline.
    pub deadline_default: DeadlineDefault,
    /// The last person up every escalation path.
    pub compliance_owner: IdentityKey,
    /// A comment is required on revoke.
    #[serde(default, skip_serializing_if = "is_false")]
    pub comment_on_revoke: bool,
    /// A comment is required to keep privileged access.
    #[serde(default, skip_serializing_if = "is_false")]
    pub comment_on_privileged_keep: bool,
    /// A comment is required to keep access in a segregation-of-duties conflict.
    #[serde(default, skip_serializing_if = "is_false")]
    pub comment_on_sod_keep: bool,
    /// Days a revoke's remediation task has before it must be done.
    pub remediation_days: u32,
    /// Days a keep decision warrants the access (until the next review is due).
    pub keep_days: u32,
    /// Who may sign off besides the campaign owner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<IdentityKey>,
}

/// A campaign was created (a draft: scope and rules, no population yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignCreated {
    /// Its id.
    pub id: CampaignId,
    /// A name for people.
    pub name: String,
    /// What it reviews.
    pub kind: CampaignKind,
    /// The review policy's scope it was created from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The systems in scope, sorted.
    pub systems: Vec<SystemKey>,
    /// Only privileged grants (set by the `privileged` kind or the scope).
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged_only: bool,
    /// Who owns the campaign and signs it off.
    pub owner: IdentityKey,
    /// Who created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<IdentityKey>,
    /// Instructions shown to reviewers with every item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// How it is reviewed and closed.
    pub rules: CampaignRules,
    /// SHA-256 of the review policy file it was created under, lowercase hex.
    pub policy: String,
    /// For event-driven reviews: what opened it (a finding id, an import).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
}

/// An import the frozen population came from: evidence that it was complete and accurate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationSource {
    /// The `import.applied` event.
    pub seq: u64,
    /// The source (`system:erp`, `hr`, …).
    pub source: String,
    /// The time the snapshot describes.
    pub as_of: Timestamp,
    /// SHA-256 over the normalised snapshot.
    pub digest: String,
    /// The files read, with their SHA-256 and rows.
    pub files: Vec<ImportFile>,
}

/// Something left out of a campaign's population, by whom and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    /// What: a grant (`erp:u1/role/Admin`), an account (`erp:u1`), an identity key, or an
    /// entitlement (`erp:role/Admin`).
    pub subject: String,
    /// Why.
    pub reason: String,
    /// Grants it left out.
    pub grants: u64,
}

/// A campaign was launched: its population frozen and hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignLaunched {
    /// The campaign.
    pub id: CampaignId,
    /// Who launched it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launched_by: Option<IdentityKey>,
    /// When its items are due.
    pub due: Timestamp,
    /// The ledger size the population was read at.
    pub ledger_size: u64,
    /// SHA-256 (hex) over the population's lines, sorted: `system`, `account`, `entitlement`
    /// and the holder's key (or `role:` and the role key), tab-separated, one per line.
    pub population_sha256: String,
    /// Items in the population.
    pub items: u64,
    /// Items by system.
    pub systems: std::collections::BTreeMap<String, u64>,
    /// The imports the population came from.
    pub sources: Vec<PopulationSource>,
    /// What was left out, by whom and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusions: Vec<Exclusion>,
    /// For a delta campaign: the campaign it is relative to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<CampaignId>,
}

/// Items of a launched campaign (a batch of at most 1,000).
///
/// What is the same on many items — their holder's context, their entitlement's — is recorded
/// once per campaign, in the batch of the first item it is about (`holders`, `entitlements`),
/// and left out of the items' own `context`; an item's whole context is its own joined with
/// the records of its `identity` and of its `system` and `entitlement`. Items recorded without
/// such records (launches before they existed, role definition reviews, imported reviews)
/// carry their whole context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewItems {
    /// The campaign.
    pub campaign: CampaignId,
    /// Holders first named in this batch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holders: Vec<HolderContext>,
    /// Entitlements first named in this batch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entitlements: Vec<EntitlementContext>,
    /// The items.
    pub items: Vec<ReviewItem>,
}

/// One decision on one item at one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// The item.
    pub n: u32,
    /// The stage it decides, from 1.
    pub stage: u32,
    /// What was decided.
    pub verdict: Verdict,
    /// Until when, for `keep_until`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
    /// The reviewer's comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Who reviews the next stage, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<IdentityKey>,
    /// Who decided, when not the batch's `by` (imported decisions name their reviewer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<IdentityKey>,
    /// When it was decided, when not the event's time (imported decisions carry their date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Timestamp>,
}

/// Decisions recorded together (a batch of at most 1,000).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewDecided {
    /// The campaign.
    pub campaign: CampaignId,
    /// How they were made.
    pub origin: DecisionOrigin,
    /// Who decided (absent for deadline defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<IdentityKey>,
    /// The decisions.
    pub decisions: Vec<Decision>,
}

/// Items changed reviewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewReassigned {
    /// The campaign.
    pub campaign: CampaignId,
    /// Why.
    pub how: Reassignment,
    /// The items.
    pub items: Vec<u32>,
    /// The reviewer they had.
    pub from: IdentityKey,
    /// The reviewer they have now.
    pub to: IdentityKey,
    /// Who did it (absent when the schedule did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<IdentityKey>,
    /// The reason given, or the schedule's.
    pub reason: String,
}

/// A reviewer was reminded of open items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewReminded {
    /// The campaign.
    pub campaign: CampaignId,
    /// Who.
    pub reviewer: IdentityKey,
    /// Open items waiting for them.
    pub open: u64,
    /// The due date.
    pub due: Timestamp,
    /// Which reminder of the schedule (days before the due date).
    pub days_before: u32,
}

/// A campaign was closed and signed off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignClosed {
    /// The campaign.
    pub id: CampaignId,
    /// Who signed off.
    pub signed_off_by: IdentityKey,
    /// The sign-off statement.
    pub statement: String,
    /// Why it was closed with undecided items, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forced: Option<String>,
    /// Items that got the deadline default at closing.
    pub defaulted: u64,
    /// Final decisions by kind (`keep` → 120).
    pub verdicts: std::collections::BTreeMap<String, u64>,
}

/// A way the holder has the access a revoke removes, and what removing it also takes away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessPath {
    /// What kind of path.
    pub kind: PathKind,
    /// Through what: the account, the role, the rule, the request.
    pub via: String,
    /// What removing this path would also take away from the holder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_removes: Vec<EntitlementRef>,
}

/// The remediation of a revoke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemediationTask {
    /// The revoked item; also the task's id.
    pub item: ItemRef,
    /// The system.
    pub system: SystemKey,
    /// The account (grant reviews).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The entitlement.
    pub entitlement: String,
    /// The role (role definition reviews: remove the entitlement from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<RoleKey>,
    /// The holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityKey>,
    /// Who carries it out (no connector can write yet: a person does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<IdentityKey>,
    /// When it must be done.
    pub due: Timestamp,
    /// Every way the holder has the access.
    pub paths: Vec<AccessPath>,
}

/// Remediation tasks were opened (a batch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemediationOpened {
    /// The tasks.
    pub tasks: Vec<RemediationTask>,
}

/// Someone says a task is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemediationDone {
    /// The task.
    pub item: ItemRef,
    /// Who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<IdentityKey>,
    /// What was done.
    pub note: String,
}

/// An import showed a revoked grant gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verification {
    /// The task.
    pub item: ItemRef,
    /// The import (its `import.applied` event) that showed it gone.
    pub import: u64,
    /// The snapshot time of that import.
    pub as_of: Timestamp,
}

/// A task came back: the access was still there after the due date, or came back later
/// without a new warrant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reopening {
    /// The task.
    pub item: ItemRef,
    /// What was seen, in words.
    pub reason: String,
    /// The import that showed it.
    pub import: u64,
    /// Its snapshot time.
    pub as_of: Timestamp,
}

/// Tasks were verified (a batch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemediationVerified {
    /// The verifications.
    pub tasks: Vec<Verification>,
}

/// Tasks were reopened (a batch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemediationReopened {
    /// The reopenings.
    pub tasks: Vec<Reopening>,
}

/// Decisions taken outside Gatehouse were imported, as a closed campaign of kind `external`
/// whose items and decisions follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionsImported {
    /// The campaign that holds them.
    pub id: CampaignId,
    /// The file read.
    pub file: ImportFile,
    /// Decisions by kind.
    pub verdicts: std::collections::BTreeMap<String, u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_and_print() {
        let id: CampaignId = "C-0007".parse().unwrap();
        assert_eq!(id.number(), 7);
        assert_eq!(id.to_string(), "C-0007");
        assert_eq!("12".parse::<CampaignId>().unwrap().to_string(), "C-0012");
        assert_eq!(CampaignId::new(12345).to_string(), "C-12345");
        for bad in ["C-", "C-0", "C-x1", "D-1", "C-1/2", ""] {
            assert!(bad.parse::<CampaignId>().is_err(), "{bad}");
        }
        let r: ItemRef = "C-0007/42".parse().unwrap();
        assert_eq!((r.campaign.number(), r.item), (7, 42));
        assert_eq!(r.to_string(), "C-0007/42");
        assert!("C-0007/0".parse::<ItemRef>().is_err());
        assert!("C-0007".parse::<ItemRef>().is_err());
        let err = "C-7/x".parse::<ItemRef>().unwrap_err().to_string();
        assert!(err.contains("`C-7/x` is not a valid review item"), "{err}");
    }

    #[test]
    fn items_encode_compactly() {
        let item = ReviewItem {
            n: 1,
            system: SystemKey::new("erp").unwrap(),
            account: Some("u1".into()),
            entitlement: "role/AP".into(),
            role: None,
            identity: Some(IdentityKey::new("E1").unwrap()),
            reviewers: vec![IdentityKey::new("E9").unwrap()],
            assignment: None,
            recommendation: Verdict::Revoke,
            reason: "dormant 190 days".into(),
            context: ItemContext::default(),
        };
        assert_eq!(
            serde_json::to_string(&item).unwrap(),
            r#"{"n":1,"system":"erp","account":"u1","entitlement":"role/AP","identity":"E1","reviewers":["E9"],"recommendation":"revoke","reason":"dormant 190 days"}"#
        );
    }
}
