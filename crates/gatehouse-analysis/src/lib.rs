//! The risk analysis: from the current inventory, a policy and a segregation-of-duties
//! ruleset to findings with stable ids, plain-language explanations and the facts behind
//! them; risk scores that list their factors; and the assessment baseline.
//!
//! This crate does no IO and reads no clock: [`analyze`] is a pure function of its inputs, so
//! the same inventory and policy always give the same findings, in the same order.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod access;
mod creep;
mod freshness;
mod nhi;
mod people;
pub mod policy;
pub mod report;
pub mod risk;
mod separation;
pub mod sod;
mod warrants;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use gatehouse_model::state::{
    AccountIx, AccountState, EntitlementIx, IdentityIx, Inventory, SystemIx,
};
use gatehouse_model::{
    Date, EmploymentStatus, EntitlementRef, Finding, Identity, IdentityKind, Severity, Timestamp,
    WarrantKind,
};
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};

pub use policy::Policy;
use policy::StatusAccess;
pub use sod::Ruleset;

/// Why a policy or ruleset could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// A policy or ruleset file is invalid.
    #[error("{file}:{line}: {message}")]
    Policy {
        /// The file.
        file: String,
        /// The line (1-based).
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// A rule: its name (as in findings and the policy file), base severity and what it finds.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    /// Name, e.g. `leaver_access`.
    pub name: &'static str,
    /// What reports call it, e.g. "Leavers with access".
    pub title: &'static str,
    /// Severity before escalations, policy overrides and criticality shifts.
    pub base: Severity,
    /// One sentence.
    pub summary: &'static str,
    /// Findings of the rule at or below this severity are insights for role design rather
    /// than problems: they are left out of the default findings list and of `--fail-on`.
    pub insight_up_to: Option<Severity>,
}

const fn rule(
    name: &'static str,
    title: &'static str,
    base: Severity,
    summary: &'static str,
) -> RuleInfo {
    RuleInfo {
        name,
        title,
        base,
        summary,
        insight_up_to: None,
    }
}

/// Every rule, in the order they run.
pub const RULES: &[RuleInfo] = &[
    rule(
        "leaver_access",
        "Leavers with access",
        Severity::High,
        "A person who left (terminated, or past their end date) still has an enabled account or grants",
    ),
    rule(
        "status_access",
        "Access kept through an HR status",
        Severity::High,
        "A person whose HR status keeps no access (suspended, by default) has an enabled account",
    ),
    rule(
        "orphaned_account",
        "Orphaned accounts",
        Severity::Medium,
        "An account linked to no identity, or to one that is in no feed",
    ),
    rule(
        "dormant_access",
        "Dormant accounts",
        Severity::Low,
        "An enabled account not used for longer than the threshold of its system",
    ),
    rule(
        "privileged_without_mfa",
        "Privileged access without MFA",
        Severity::High,
        "Privileged access on an account with MFA turned off",
    ),
    rule(
        "shared_privileged",
        "Shared privileged accounts",
        Severity::High,
        "A shared or generic account holds privileged access",
    ),
    rule(
        "standing_privilege",
        "Standing privileged access",
        Severity::Medium,
        "Privileged access approved individually without an end date (could be just-in-time)",
    ),
    rule(
        "nhi_no_owner",
        "Non-human identities without an owner",
        Severity::High,
        "A non-human identity has no owner",
    ),
    rule(
        "nhi_owner_left",
        "Non-human identities whose owner left",
        Severity::High,
        "A non-human identity's owner has left or is unknown",
    ),
    rule(
        "nhi_no_purpose",
        "Non-human identities without a purpose",
        Severity::Medium,
        "A non-human identity has no business purpose",
    ),
    rule(
        "nhi_rotation_overdue",
        "Credentials overdue for rotation",
        Severity::Medium,
        "A credential is older than the rotation policy allows",
    ),
    rule(
        "nhi_credential_expired",
        "Expired credentials",
        Severity::Medium,
        "A credential has expired but the identity is still in the inventory",
    ),
    rule(
        "nhi_credential_expiring",
        "Credentials expiring soon",
        Severity::Low,
        "A credential expires soon",
    ),
    rule(
        "nhi_unused",
        "Unused non-human identities",
        Severity::Medium,
        "A non-human identity has not been used for longer than the threshold",
    ),
    rule(
        "nhi_out_of_scope",
        "Non-human identities outside their scope",
        Severity::High,
        "A non-human identity has an account on a system outside its declared scope",
    ),
    rule(
        "sod_conflict",
        "Segregation-of-duties conflicts",
        Severity::High,
        "A person holds entitlements that a segregation-of-duties rule keeps apart",
    ),
    rule(
        "mover_kept_access",
        "Movers who kept access",
        Severity::Medium,
        "A person who changed job kept access of the previous one",
    ),
    rule(
        "rehire_kept_access",
        "Rehires who kept earlier access",
        Severity::Medium,
        "A person who left and came back holds access from the earlier employment",
    ),
    RuleInfo {
        insight_up_to: Some(Severity::Low),
        ..rule(
            "peer_outlier",
            "Access unlike peers'",
            Severity::Low,
            "A person holds entitlements few of their peers (same department and title) hold",
        )
    },
    RuleInfo {
        insight_up_to: Some(Severity::Critical),
        ..rule(
            "rbac_exception",
            "Access no role explains",
            Severity::Info,
            "Individually approved access that no role explains",
        )
    },
    rule(
        "unwarranted_grant",
        "Grants without a warrant",
        Severity::Medium,
        "Grants no request, review, role, birthright rule, policy or break-glass record explains",
    ),
    rule(
        "reappeared_grant",
        "Grants that came back",
        Severity::High,
        "A grant came back after it was removed, without a new warrant",
    ),
    rule(
        "self_approved_grant",
        "Self-approved grants",
        Severity::High,
        "A grant rests on a request its holder approved",
    ),
    rule(
        "expired_grant",
        "Access past its end date",
        Severity::Medium,
        "Time-bound access is still present after its end date",
    ),
    rule(
        "stale_source",
        "Sources not imported in time",
        Severity::Medium,
        "A source has not been imported for longer than the policy allows",
    ),
];

/// What reports call a rule: its title, and its name, which findings, filters and the policy
/// use (`Leavers with access (leaver_access)`). A name no rule has is shown as it is.
pub fn rule_label(name: &str) -> String {
    match RULES.iter().find(|r| r.name == name) {
        Some(r) => format!("{} ({name})", r.title),
        None => name.to_owned(),
    }
}

/// Whether a finding is an insight for role design rather than a problem (see
/// [`RuleInfo::insight_up_to`]).
pub fn is_insight(finding: &Finding) -> bool {
    RULES
        .iter()
        .find(|r| r.name == finding.rule)
        .and_then(|r| r.insight_up_to)
        .is_some_and(|up_to| finding.severity <= up_to)
}

/// What the analysis found.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// Findings, sorted by id.
    pub findings: Vec<Finding>,
    /// Current grants.
    pub grants: u64,
    /// Grants explained by a valid warrant.
    pub warranted_grants: u64,
    /// Enabled accounts linked to no identity.
    pub uncorrelated_accounts: u64,
    /// Problems with the policy or ruleset against this inventory (a ruleset entitlement that
    /// does not exist, say); the analysis still ran.
    pub warnings: Vec<String>,
}

/// Runs every enabled rule over the inventory. `now` is the time of the analysis (credential
/// ages, expiries, end dates); activity (logins, use) is measured at the time of each
/// source's latest snapshot, so stale imports do not make everything look dormant.
pub fn analyze(inv: &Inventory, policy: &Policy, sod: &Ruleset, now: Timestamp) -> Analysis {
    let mut cx = Context::new(inv, policy, now);
    people::run(&mut cx);
    access::run(&mut cx);
    nhi::run(&mut cx);
    separation::run(&mut cx, sod);
    warrants::run(&mut cx);
    creep::run(&mut cx);
    freshness::run(&mut cx);
    let mut findings = std::mem::take(&mut cx.findings);
    findings.sort_by(|a, b| a.id.cmp(&b.id));
    findings.dedup_by(|a, b| a.id == b.id);
    Analysis {
        findings,
        grants: inv.grants.len() as u64,
        warranted_grants: cx.warranted,
        uncorrelated_accounts: inv
            .accounts
            .iter()
            .filter(|a| a.enabled && a.identity.is_none())
            .count() as u64,
        warnings: cx.warnings,
    }
}

/// SHA-256 (hex) of the effective policy and ruleset, recorded with each analysis run.
pub fn policy_digest(policy: &Policy, sod: &Ruleset) -> String {
    let mut h = Sha256::new();
    h.update(policy.to_toml().as_bytes());
    h.update([0]);
    h.update(toml::to_string(sod).unwrap_or_default().as_bytes());
    hex::encode(h.finalize())
}

/// The stable id of a finding: `F-` and the first 16 hex digits of SHA-256 over the rule and
/// the objects involved.
pub fn finding_id(rule: &str, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(rule.as_bytes());
    for p in parts {
        h.update([0]);
        h.update(p.as_bytes());
    }
    format!("F-{}", &hex::encode(h.finalize())[..16])
}

/// The date of a time, `YYYY-MM-DD` (UTC).
pub fn date(t: Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string()
}

/// Whole days from `from` to `to` (negative when `to` is earlier).
pub fn days_between(from: Timestamp, to: Timestamp) -> i64 {
    (to.as_second() - from.as_second()).div_euclid(86_400)
}

pub(crate) const DAY: i64 = 86_400;

/// Midnight UTC at the start of a date.
pub(crate) fn midnight(d: Date) -> Timestamp {
    d.to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::MIN)
}

/// Why a person counts as having left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gone {
    /// The HR status says so; the end date, if known.
    Terminated(Option<Date>),
    /// The end date has passed while the status still says employed.
    EndDatePassed(Date),
}

impl Gone {
    /// The last day, if known.
    pub fn last_day(self) -> Option<Date> {
        match self {
            Gone::Terminated(d) => d,
            Gone::EndDatePassed(d) => Some(d),
        }
    }
}

/// A person's change of job that the mover rule examines.
#[derive(Debug, Clone)]
pub(crate) struct JobChange<'a> {
    /// Department before.
    pub department: &'a str,
    /// Title before.
    pub title: &'a str,
    /// When the current position began.
    pub at: Timestamp,
    /// Where the facts come from: the HR feed's columns or its history.
    pub from_hr: bool,
}

/// The members of one peer group (department and title) and how many of them hold each
/// entitlement.
#[derive(Default)]
pub(crate) struct Group {
    pub members: u32,
    pub holders: FxHashMap<EntitlementIx, u32>,
}

impl Group {
    /// Share (per cent) of members holding `ent`, leaving out one member who holds it when
    /// `exclude_self`.
    pub fn share(&self, ent: EntitlementIx, exclude_self: bool) -> Option<u32> {
        let held = self.holders.get(&ent).copied().unwrap_or(0);
        let (held, members) = if exclude_self {
            (held.saturating_sub(1), self.members.saturating_sub(1))
        } else {
            (held, self.members)
        };
        (members > 0).then(|| held * 100 / members)
    }
}

/// Shared state of one analysis: indexes over the inventory built once, and the findings.
pub(crate) struct Context<'a> {
    pub inv: &'a Inventory,
    pub policy: &'a Policy,
    pub now: Timestamp,
    /// Per role: its entitlements, sorted.
    pub role_ents: Vec<Vec<EntitlementIx>>,
    /// Role key → position in `inv.roles`.
    pub role_index: FxHashMap<&'a str, usize>,
    /// Per identity: the roles (positions in `inv.roles`) that apply to it (explicit member, or
    /// birthright while the status policy keeps it).
    pub roles_of: Vec<Vec<usize>>,
    /// `system:native_id` → entitlement.
    pub ent_by_ref: FxHashMap<String, EntitlementIx>,
    /// `(kind, id)` → position in `inv.warrant_records`.
    pub records: FxHashMap<(WarrantKind, &'a str), usize>,
    /// Per identity: its accounts.
    pub accounts_of: Vec<Vec<AccountIx>>,
    /// Per identity: the entitlements it holds on any account, sorted, distinct.
    pub holds: Vec<Vec<EntitlementIx>>,
    /// Per identity: what its HR status keeps (non-human identities keep everything).
    pub access: Vec<StatusAccess>,
    /// Per identity: whether, and why, it counts as having left.
    pub gone: Vec<Option<Gone>>,
    /// Per identity: the latest change of job, if any is known.
    pub job_change: Vec<Option<JobChange<'a>>>,
    /// Per identity: when a person who left came back, and whether the HR columns say so
    /// (else the feed's history does).
    pub rehired: Vec<Option<(Timestamp, bool)>>,
    /// Peer groups by department and title, of everyone who has not left.
    pub groups: FxHashMap<(&'a str, &'a str), Group>,
    /// Per identity: entitlements some finding about one of its grants already reports.
    pub reported: Vec<Vec<EntitlementIx>>,
    /// Per identity: entitlements a valid warrant record backs.
    pub backed: Vec<Vec<EntitlementIx>>,
    pub findings: Vec<Finding>,
    pub warnings: Vec<String>,
    pub warranted: u64,
}

/// A finding under construction.
pub(crate) struct Draft {
    pub rule: &'static str,
    pub escalate: i32,
    pub identity: Option<IdentityIx>,
    pub system: Option<SystemIx>,
    pub account: Option<AccountIx>,
    /// The id is the rule, the identity and `key` alone: the finding is about a person and a
    /// cause, whichever systems and accounts it lists.
    pub per_person: bool,
    /// Extra parts of the id beyond rule, identity, system and account.
    pub key: Vec<String>,
    pub entitlements: Vec<EntitlementIx>,
    pub title: String,
    pub explanation: String,
    pub facts: BTreeMap<String, String>,
    /// Replaces the computed severity (SoD rules carry their own; grouped findings take the
    /// worst of their items).
    pub fixed: Option<Severity>,
}

impl Draft {
    pub fn new(rule: &'static str) -> Draft {
        Draft {
            rule,
            escalate: 0,
            identity: None,
            system: None,
            account: None,
            per_person: false,
            key: Vec::new(),
            entitlements: Vec::new(),
            title: String::new(),
            explanation: String::new(),
            facts: BTreeMap::new(),
            fixed: None,
        }
    }

    pub fn fact(&mut self, name: &str, value: impl Into<String>) -> &mut Draft {
        self.facts.insert(name.to_owned(), value.into());
        self
    }
}

/// One grant or account in a finding about a person and a cause.
pub(crate) struct Item {
    pub account: AccountIx,
    pub entitlements: Vec<EntitlementIx>,
    /// Its own severity: the rule's, escalated for it, shifted by its system's criticality.
    pub severity: Severity,
    /// When it began, for the `since` fact.
    pub since: Option<Timestamp>,
    /// Its line in the explanation.
    pub line: String,
    /// Facts about it, for the finding when it is the only item.
    pub facts: Vec<(&'static str, String)>,
}

/// Explanations list at most this many items; the finding's entitlements list all.
const LISTED: usize = 25;

impl<'a> Context<'a> {
    fn new(inv: &'a Inventory, policy: &'a Policy, now: Timestamp) -> Context<'a> {
        let n = inv.identities.len();
        let mut ent_by_ref = FxHashMap::default();
        for (i, e) in inv.entitlements.iter().enumerate() {
            ent_by_ref.insert(
                format!("{}:{}", e.record.system, e.record.native_id),
                EntitlementIx::new(i),
            );
        }
        let mut warnings = Vec::new();
        let mut role_index = FxHashMap::default();
        let mut role_ents = Vec::with_capacity(inv.roles.len());
        for (r, role) in inv.roles.iter().enumerate() {
            role_index.insert(role.key.as_str(), r);
            let mut ents: Vec<EntitlementIx> = role
                .entitlements
                .iter()
                .filter_map(|e| ent_by_ref.get(&e.to_string()).copied())
                .collect();
            ents.sort_unstable();
            ents.dedup();
            role_ents.push(ents);
        }

        let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
        let mut access = Vec::with_capacity(n);
        let mut gone = Vec::with_capacity(n);
        let mut job_change = Vec::with_capacity(n);
        let mut rehired = Vec::with_capacity(n);
        for identity in &inv.identities {
            let Some(p) = &identity.person else {
                access.push(StatusAccess::All);
                gone.push(None);
                job_change.push(None);
                rehired.push(None);
                continue;
            };
            access.push(policy.status.access(p));
            // An end date before the current employment began belongs to an earlier one.
            let current_end = p
                .end_date
                .filter(|&e| p.employment_start().is_none_or(|s| e >= s));
            gone.push(match (p.status, current_end) {
                (EmploymentStatus::Terminated, _) => Some(Gone::Terminated(p.end_date)),
                (_, Some(end)) if end < today => Some(Gone::EndDatePassed(end)),
                _ => None,
            });
            job_change.push(
                match (
                    p.position_start,
                    p.previous_department.as_deref(),
                    p.previous_title.as_deref(),
                    p.department.as_deref(),
                    p.title.as_deref(),
                ) {
                    (Some(at), Some(department), Some(title), Some(now_d), Some(now_t))
                        if (department, title) != (now_d, now_t) =>
                    {
                        Some(JobChange {
                            department,
                            title,
                            at: midnight(at),
                            from_hr: true,
                        })
                    }
                    _ => None,
                },
            );
            rehired.push(p.rehired_on().map(|d| (midnight(d), true)));
        }
        for m in &inv.moves {
            let slot = &mut job_change[m.identity.index()];
            if slot.is_none()
                && let (Some(department), Some(title)) =
                    (m.from_department.as_deref(), m.from_title.as_deref())
            {
                *slot = Some(JobChange {
                    department,
                    title,
                    at: m.at,
                    from_hr: false,
                });
            }
        }
        for r in &inv.rehires {
            let slot = &mut rehired[r.identity.index()];
            if slot.is_none() {
                *slot = Some((r.at, false));
            }
        }

        let mut roles_of: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (r, role) in inv.roles.iter().enumerate() {
            for m in &role.members {
                if let Some(i) = inv.identity_index(m.as_str()) {
                    roles_of[i.index()].push(r);
                }
            }
            if !role.birthright.is_empty() {
                for (i, identity) in inv.identities.iter().enumerate() {
                    let kept =
                        identity.person.is_some() && gone[i].is_none() && access[i].keeps_roles();
                    if role.applies(identity, kept) && !roles_of[i].contains(&r) {
                        roles_of[i].push(r);
                    }
                }
            }
        }
        let mut records = FxHashMap::default();
        for (i, w) in inv.warrant_records.iter().enumerate() {
            records.insert((w.kind, w.id.as_str()), i);
        }
        let mut accounts_of: Vec<Vec<AccountIx>> = vec![Vec::new(); n];
        let mut holds: Vec<Vec<EntitlementIx>> = vec![Vec::new(); n];
        for (a, acc) in inv.accounts_ix() {
            if let Some(i) = acc.identity {
                accounts_of[i.index()].push(a);
                let h = &mut holds[i.index()];
                h.extend(inv.grants_of(acc).iter().map(|g| g.entitlement));
            }
        }
        for h in &mut holds {
            h.sort_unstable();
            h.dedup();
        }
        let mut groups: FxHashMap<(&str, &str), Group> = FxHashMap::default();
        for (i, identity) in inv.identities.iter().enumerate() {
            if gone[i].is_some() {
                continue;
            }
            let Some(key) = job_of(identity) else {
                continue;
            };
            let g = groups.entry(key).or_default();
            g.members += 1;
            for &e in &holds[i] {
                *g.holders.entry(e).or_default() += 1;
            }
        }
        if inv.roles.iter().any(|r| r.entitlements.is_empty()) {
            warnings.push("some roles bundle no entitlement".into());
        }
        Context {
            inv,
            policy,
            now,
            role_ents,
            role_index,
            roles_of,
            ent_by_ref,
            records,
            accounts_of,
            holds,
            access,
            gone,
            job_change,
            rehired,
            groups,
            reported: vec![Vec::new(); n],
            backed: vec![Vec::new(); n],
            findings: Vec::new(),
            warnings,
            warranted: 0,
        }
    }

    pub fn enabled(&self, rule: &str) -> bool {
        self.policy.enabled(rule)
    }

    /// Whether one of the roles that apply to an identity bundles the entitlement; returns
    /// the role.
    pub fn role_explaining(&self, identity: IdentityIx, ent: EntitlementIx) -> Option<usize> {
        self.roles_of[identity.index()]
            .iter()
            .copied()
            .find(|&r| self.role_ents[r].binary_search(&ent).is_ok())
    }

    pub fn ent_ref(&self, ent: EntitlementIx) -> EntitlementRef {
        let e = &self.inv.entitlements[ent].record;
        EntitlementRef {
            system: e.system.clone(),
            native_id: e.native_id.clone(),
        }
    }

    pub fn ent_name(&self, ent: EntitlementIx) -> String {
        let e = &self.inv.entitlements[ent].record;
        format!("{} ({}:{})", e.name, e.system, e.native_id)
    }

    pub fn privileged(&self, ent: EntitlementIx) -> bool {
        self.inv.entitlements[ent].privileged()
    }

    /// Whether the entitlement lives on a system in SOX scope.
    pub fn sox(&self, ent: EntitlementIx) -> bool {
        self.inv.systems[self.inv.entitlements[ent].system].sox()
    }

    pub fn identity(&self, i: IdentityIx) -> &'a Identity {
        &self.inv.identities[i]
    }

    /// "Ada Lovelace (E000123, Finance, Accountant)" or the NHI's name and kind.
    pub fn who(&self, i: IdentityIx) -> String {
        Who(self.inv, Some(i)).to_string()
    }

    pub fn system_key(&self, s: SystemIx) -> &'a str {
        self.inv.systems[s].config.key.as_str()
    }

    /// `ERP (erp)`.
    pub fn system_name(&self, s: SystemIx) -> String {
        SystemName(self.inv, s).to_string()
    }

    /// The time activity on a system is measured at: its latest snapshot, else now.
    pub fn observed(&self, s: SystemIx) -> Timestamp {
        self.inv.systems[s].as_of.unwrap_or(self.now)
    }

    /// Whether the identity counts as having left (terminated, or past its end date).
    pub fn is_gone(&self, i: IdentityIx) -> bool {
        self.gone[i.index()].is_some()
    }

    /// Whether the identity's access is judged grant by grant: it has not left, and its status
    /// keeps access.
    pub fn judged(&self, i: IdentityIx) -> bool {
        !self.is_gone(i) && self.access[i.index()] != StatusAccess::None
    }

    pub fn is_person(&self, i: IdentityIx) -> bool {
        self.identity(i).kind == IdentityKind::Person
    }

    pub fn account(&self, a: AccountIx) -> &'a AccountState {
        &self.inv.accounts[a]
    }

    /// `` `jdoe` on erp ``.
    pub fn account_label(&self, a: AccountIx) -> String {
        let acc = self.account(a);
        format!("`{}` on {}", acc.username, self.system_key(acc.system))
    }

    /// The severity of a finding of `rule`: its base (or the policy's override), raised by
    /// `escalate` levels and shifted by the criticality of `system`.
    pub fn severity(&self, rule: &str, escalate: i32, system: Option<SystemIx>) -> Severity {
        let base = self
            .policy
            .rules
            .get(rule)
            .and_then(|r| r.severity)
            .or_else(|| RULES.iter().find(|r| r.name == rule).map(|r| r.base))
            .unwrap_or(Severity::Medium);
        let mut s = base.shifted(escalate);
        if let Some(system) = system {
            let crit = self.inv.systems[system].config.criticality;
            s = s.shifted(self.policy.criticality_shift.of(crit));
        }
        s
    }

    /// A finding about one person and one cause, listing its items: the worst severity of
    /// the items, the system and account when they all share one, every entitlement, and the
    /// items' lines after `intro` in the explanation, `advice` last.
    pub fn group(
        &self,
        rule: &'static str,
        identity: IdentityIx,
        items: &[Item],
        intro: &str,
        advice: &str,
    ) -> Draft {
        let mut d = Draft::new(rule);
        d.identity = Some(identity);
        d.per_person = true;
        d.fixed = items.iter().map(|i| i.severity).max();
        let first = items.first().map(|i| i.account);
        if let Some(a) = first {
            let system = self.account(a).system;
            if items
                .iter()
                .all(|i| self.account(i.account).system == system)
            {
                d.system = Some(system);
            }
            if items.iter().all(|i| i.account == a) {
                d.account = Some(a);
            }
        }
        d.entitlements = items
            .iter()
            .flat_map(|i| i.entitlements.iter().copied())
            .collect();
        let mut systems: Vec<&str> = items
            .iter()
            .map(|i| self.system_key(self.account(i.account).system))
            .collect();
        systems.sort_unstable();
        systems.dedup();
        d.fact("systems", systems.join(", "));
        if let Some(since) = items.iter().filter_map(|i| i.since).min() {
            d.fact("since", date(since));
        }
        if let [one] = items {
            for (name, value) in &one.facts {
                d.fact(name, value.clone());
            }
        }
        let mut text = String::from(intro);
        for item in items.iter().take(LISTED) {
            text.push_str("\n- ");
            text.push_str(&item.line);
        }
        if items.len() > LISTED {
            text.push_str(&format!("\n- and {} more", items.len() - LISTED));
        }
        text.push('\n');
        text.push_str(advice);
        d.explanation = text;
        d
    }

    /// Adds a finding: computes its severity and stable id.
    pub fn push(&mut self, d: Draft) {
        let severity = match d.fixed {
            Some(s) => s,
            None => self.severity(d.rule, d.escalate, d.system),
        };
        let identity = d.identity.map(|i| self.identity(i).key.clone());
        let system = d.system.map(|s| self.inv.systems[s].config.key.clone());
        let account = d.account.map(|a| self.account(a).native_id.to_string());
        let mut parts: Vec<&str> = vec![identity.as_ref().map_or("", |k| k.as_str())];
        if d.per_person {
            parts.extend(["", ""]);
        } else {
            parts.push(system.as_ref().map_or("", |k| k.as_str()));
            parts.push(account.as_deref().unwrap_or(""));
        }
        parts.extend(d.key.iter().map(String::as_str));
        let id = finding_id(d.rule, &parts);
        let mut entitlements: Vec<EntitlementRef> =
            d.entitlements.iter().map(|&e| self.ent_ref(e)).collect();
        entitlements.sort();
        entitlements.dedup();
        self.findings.push(Finding {
            id,
            rule: d.rule.to_owned(),
            severity,
            title: d.title,
            identity,
            system,
            account,
            entitlements,
            facts: d.facts,
            explanation: d.explanation,
        });
    }
}

/// A person's department and title, when both are known.
pub(crate) fn job_of(identity: &Identity) -> Option<(&str, &str)> {
    let p = identity.person.as_ref()?;
    Some((p.department.as_deref()?, p.title.as_deref()?))
}

/// Displays an identity for sentences, formatted only when a finding needs it: "Ada
/// Lovelace (E000123, Finance, Accountant)", or a non-human identity's name and kind.
pub(crate) struct Who<'a>(pub &'a Inventory, pub Option<IdentityIx>);

impl std::fmt::Display for Who<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.identity(self.1) {
            None => f.write_str("nobody"),
            Some(id) => match &id.person {
                Some(p) => {
                    let job: Vec<&str> = [p.department.as_deref(), p.title.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect();
                    if job.is_empty() {
                        write!(f, "{} ({})", id.name, id.key)
                    } else {
                        write!(f, "{} ({}, {})", id.name, id.key, job.join(", "))
                    }
                }
                None => write!(f, "{} ({} {})", id.name, id.kind, id.key),
            },
        }
    }
}

/// Displays a system as `ERP (erp)`, formatted only when needed.
pub(crate) struct SystemName<'a>(pub &'a Inventory, pub SystemIx);

impl std::fmt::Display for SystemName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.0.systems[self.1].config;
        write!(f, "{} ({})", c.name, c.key)
    }
}

/// A list for sentences: "a, b and c".
pub(crate) fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// "1 grant", "3 grants".
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}
