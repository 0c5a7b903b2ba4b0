//! The risk analysis: from the current inventory, a policy and a segregation-of-duties
//! ruleset to findings with stable ids, plain-language explanations and the facts behind
//! them; risk scores that list their factors; and the assessment baseline.
//!
//! This crate does no IO and reads no clock: [`analyze`] is a pure function of its inputs, so
//! the same inventory and policy always give the same findings, in the same order.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod access;
mod creep;
mod nhi;
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
    AccountIx, AccountState, EntitlementIx, GrantState, IdentityIx, Inventory, SystemIx,
};
use gatehouse_model::{
    EmploymentStatus, EntitlementRef, Finding, Identity, IdentityKind, Severity, Timestamp,
    WarrantKind,
};
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};

pub use policy::Policy;
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
    /// Severity before escalations, policy overrides and criticality shifts.
    pub base: Severity,
    /// One sentence.
    pub summary: &'static str,
}

/// Every rule, in the order they run.
pub const RULES: &[RuleInfo] = &[
    RuleInfo {
        name: "leaver_access",
        base: Severity::High,
        summary: "A terminated person still has an enabled account or grants",
    },
    RuleInfo {
        name: "orphaned_account",
        base: Severity::Medium,
        summary: "An account linked to no identity, or to one that is in no feed",
    },
    RuleInfo {
        name: "dormant_access",
        base: Severity::Low,
        summary: "An enabled account not used for longer than the threshold of its system",
    },
    RuleInfo {
        name: "privileged_without_mfa",
        base: Severity::High,
        summary: "Privileged access on an account with MFA turned off",
    },
    RuleInfo {
        name: "shared_privileged",
        base: Severity::High,
        summary: "A shared or generic account holds privileged access",
    },
    RuleInfo {
        name: "standing_privilege",
        base: Severity::Medium,
        summary: "Privileged access granted individually without an end date (could be just-in-time)",
    },
    RuleInfo {
        name: "nhi_no_owner",
        base: Severity::High,
        summary: "A non-human identity has no owner",
    },
    RuleInfo {
        name: "nhi_owner_left",
        base: Severity::High,
        summary: "A non-human identity's owner has left or is unknown",
    },
    RuleInfo {
        name: "nhi_no_purpose",
        base: Severity::Medium,
        summary: "A non-human identity has no business purpose",
    },
    RuleInfo {
        name: "nhi_rotation_overdue",
        base: Severity::Medium,
        summary: "A credential is older than the rotation policy allows",
    },
    RuleInfo {
        name: "nhi_credential_expired",
        base: Severity::Medium,
        summary: "A credential has expired but the identity is still in the inventory",
    },
    RuleInfo {
        name: "nhi_credential_expiring",
        base: Severity::Low,
        summary: "A credential expires soon",
    },
    RuleInfo {
        name: "nhi_unused",
        base: Severity::Medium,
        summary: "A non-human identity has not been used for longer than the threshold",
    },
    RuleInfo {
        name: "nhi_out_of_scope",
        base: Severity::High,
        summary: "A non-human identity has an account on a system outside its declared scope",
    },
    RuleInfo {
        name: "sod_conflict",
        base: Severity::High,
        summary: "A person holds entitlements that a segregation-of-duties rule keeps apart",
    },
    RuleInfo {
        name: "mover_kept_access",
        base: Severity::Medium,
        summary: "A person who changed job kept access typical of the previous one",
    },
    RuleInfo {
        name: "peer_outlier",
        base: Severity::Low,
        summary: "A person holds entitlements few of their peers (same department and title) hold",
    },
    RuleInfo {
        name: "rbac_exception",
        base: Severity::Info,
        summary: "Individually granted access that no role explains",
    },
    RuleInfo {
        name: "unwarranted_grant",
        base: Severity::Medium,
        summary: "A grant no request, review, role, birthright rule or break-glass record explains",
    },
    RuleInfo {
        name: "reappeared_grant",
        base: Severity::High,
        summary: "A grant came back after it was removed, without a new warrant",
    },
    RuleInfo {
        name: "self_approved_grant",
        base: Severity::High,
        summary: "A grant rests on a request its holder approved",
    },
    RuleInfo {
        name: "expired_grant",
        base: Severity::Medium,
        summary: "Time-bound access is still present after its end date",
    },
];

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
/// ages, expiries); activity (logins, use) is measured at the time of each source's latest
/// snapshot, so stale imports do not make everything look dormant.
pub fn analyze(inv: &Inventory, policy: &Policy, sod: &Ruleset, now: Timestamp) -> Analysis {
    let mut cx = Context::new(inv, policy, now);
    access::run(&mut cx);
    nhi::run(&mut cx);
    separation::run(&mut cx, sod);
    creep::run(&mut cx);
    warrants::run(&mut cx);
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
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
    format!("F-{}", &hex(&h.finalize())[..16])
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

/// Shared state of one analysis: indexes over the inventory built once, and the findings.
pub(crate) struct Context<'a> {
    pub inv: &'a Inventory,
    pub policy: &'a Policy,
    pub now: Timestamp,
    /// Per role: its entitlements, sorted.
    pub role_ents: Vec<Vec<EntitlementIx>>,
    /// Role key → position in `inv.roles`.
    pub role_index: FxHashMap<&'a str, usize>,
    /// Per identity: the roles (positions in `inv.roles`) that apply to it (explicit member or
    /// birthright).
    pub roles_of: Vec<Vec<usize>>,
    /// `system:native_id` → entitlement.
    pub ent_by_ref: FxHashMap<String, EntitlementIx>,
    /// `(kind, id)` → position in `inv.warrant_records`.
    pub records: FxHashMap<(WarrantKind, &'a str), usize>,
    /// Per identity: its accounts.
    pub accounts_of: Vec<Vec<AccountIx>>,
    /// Per identity: the entitlements it holds on any account, sorted, distinct.
    pub holds: Vec<Vec<EntitlementIx>>,
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
    /// Extra parts of the id beyond rule, identity, system and account.
    pub key: Vec<String>,
    pub entitlements: Vec<EntitlementIx>,
    pub title: String,
    pub explanation: String,
    pub facts: BTreeMap<String, String>,
    /// Replaces the computed severity (SoD rules carry their own).
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

impl<'a> Context<'a> {
    fn new(inv: &'a Inventory, policy: &'a Policy, now: Timestamp) -> Context<'a> {
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
        let mut roles_of: Vec<Vec<usize>> = vec![Vec::new(); inv.identities.len()];
        for (r, role) in inv.roles.iter().enumerate() {
            for m in &role.members {
                if let Some(i) = inv.identity_index(m.as_str()) {
                    roles_of[i.index()].push(r);
                }
            }
            if !role.birthright.is_empty() {
                for (i, identity) in inv.identities.iter().enumerate() {
                    if role.applies_to(identity) && !roles_of[i].contains(&r) {
                        roles_of[i].push(r);
                    }
                }
            }
        }
        let mut records = FxHashMap::default();
        for (i, w) in inv.warrant_records.iter().enumerate() {
            records.insert((w.kind, w.id.as_str()), i);
        }
        let mut accounts_of: Vec<Vec<AccountIx>> = vec![Vec::new(); inv.identities.len()];
        let mut holds: Vec<Vec<EntitlementIx>> = vec![Vec::new(); inv.identities.len()];
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

    /// Whether the grant cites a warrant record that has an end date.
    pub fn record_ends(&self, g: &GrantState) -> bool {
        self.inv.warrant(g).is_some_and(|w| {
            self.records
                .get(&(w.kind, w.reference.as_str()))
                .is_some_and(|&r| self.inv.warrant_records[r].expires_at.is_some())
        })
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

    pub fn is_terminated(&self, i: IdentityIx) -> bool {
        self.identity(i).status() == Some(EmploymentStatus::Terminated)
    }

    pub fn is_person(&self, i: IdentityIx) -> bool {
        self.identity(i).kind == IdentityKind::Person
    }

    pub fn account(&self, a: AccountIx) -> &'a AccountState {
        &self.inv.accounts[a]
    }

    /// Adds a finding: computes its severity and stable id.
    pub fn push(&mut self, d: Draft) {
        let base = self
            .policy
            .rules
            .get(d.rule)
            .and_then(|r| r.severity)
            .or_else(|| RULES.iter().find(|r| r.name == d.rule).map(|r| r.base))
            .unwrap_or(Severity::Medium);
        let severity = match d.fixed {
            Some(s) => s,
            None => {
                let mut s = base.shifted(d.escalate);
                if let Some(system) = d.system {
                    let crit = self.inv.systems[system].config.criticality;
                    s = s.shifted(self.policy.criticality_shift.of(crit));
                }
                s
            }
        };
        let identity = d.identity.map(|i| self.identity(i).key.clone());
        let system = d.system.map(|s| self.inv.systems[s].config.key.clone());
        let account = d.account.map(|a| self.account(a).native_id.to_string());
        let mut parts: Vec<&str> = vec![
            identity.as_ref().map_or("", |k| k.as_str()),
            system.as_ref().map_or("", |k| k.as_str()),
            account.as_deref().unwrap_or(""),
        ];
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
