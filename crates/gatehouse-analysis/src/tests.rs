//! Hand-made cases for every rule.
//!
//! Each case builds a small organisation with [`Org`], runs the analysis at [`NOW`] and looks
//! at one rule: a case where the problem is found, and a clean variant right at the boundary
//! that must not be reported. Further down: stable ids, policy tuning, segregation of duties,
//! risk scores and the assessment report.

use std::path::Path;

use gatehouse_model::state::{
    AccountIx, AccountState, EntitlementIx, EntitlementState, GrantState, IdentityIx, Inventory,
    Move, SystemIx, SystemState, WarrantIx,
};
use gatehouse_model::{
    AccountKind, Attributes, Condition, Criticality, EmploymentStatus, Entitlement, EntitlementRef,
    Finding, FindingStatus, GrantSource, Identity, IdentityKey, IdentityKind, NonHuman, Person,
    Role, RoleKey, Severity, SystemConfig, SystemKey, Timestamp, Warrant, WarrantKind,
    WarrantRecord,
};

use crate::report::{self, Dated, Report};
use crate::{Analysis, Policy, RULES, Ruleset, analyze, date, finding_id, risk};

// ---------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------

/// The time every analysis in this file runs at.
const NOW: &str = "2026-11-01T00:00:00Z";

fn now() -> Timestamp {
    NOW.parse::<Timestamp>().unwrap()
}

/// An RFC 3339 time, or a date meaning midnight UTC.
fn at(text: &str) -> Timestamp {
    gatehouse_model::parse_timestamp(text).unwrap()
}

/// Exactly `days` whole days before [`NOW`] (negative: after).
fn days_ago(days: i64) -> Timestamp {
    now()
        .checked_sub(jiff::SignedDuration::from_secs(days * 86_400))
        .unwrap()
}

/// Exactly `days` whole days after [`NOW`].
fn days_ahead(days: i64) -> Timestamp {
    days_ago(-days)
}

/// A time moved by some seconds.
fn plus_seconds(t: Timestamp, seconds: i64) -> Timestamp {
    t.checked_add(jiff::SignedDuration::from_secs(seconds))
        .unwrap()
}

fn ikey(key: &str) -> IdentityKey {
    IdentityKey::new(key).unwrap()
}

fn refs(list: &[&str]) -> Vec<EntitlementRef> {
    let mut out: Vec<EntitlementRef> = list.iter().map(|r| r.parse().unwrap()).collect();
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------------
// Building an organisation
// ---------------------------------------------------------------------------------------------

/// A small organisation under construction. Accounts and moves name identities by key;
/// [`Org::finish`] sorts the identities and turns keys into indices, and groups the grants by
/// account.
#[derive(Default)]
struct Org {
    inv: Inventory,
    /// Per account: the identity key it names, if any.
    holders: Vec<Option<String>>,
    /// (identity key, previous department, previous title, when).
    moves: Vec<(String, String, String, Timestamp)>,
}

impl Org {
    fn new() -> Org {
        Org::default()
    }

    /// A system named after its key in capitals, without owner, whose latest snapshot was
    /// taken at [`NOW`].
    fn system(&mut self, key: &str, criticality: Option<Criticality>, sox: bool) -> SystemIx {
        self.inv.systems.push(SystemState {
            config: SystemConfig {
                key: SystemKey::new(key).unwrap(),
                name: key.to_uppercase(),
                description: None,
                owner: None,
                criticality,
                frameworks: if sox { vec!["sox".into()] } else { vec![] },
                financial_reporting: false,
                review_cadence_days: None,
                correlation: vec![],
                attributes: Attributes::new(),
            },
            as_of: Some(now()),
        });
        SystemIx::new(self.inv.systems.len() - 1)
    }

    /// A medium-criticality system outside SOX scope.
    fn plain_system(&mut self, key: &str) -> SystemIx {
        self.system(key, Some(Criticality::Medium), false)
    }

    fn sys(&mut self, s: SystemIx) -> &mut SystemState {
        &mut self.inv.systems[s.index()]
    }

    /// A person from the HR feed.
    fn person(
        &mut self,
        key: &str,
        name: &str,
        department: &str,
        title: &str,
        status: EmploymentStatus,
        end_date: Option<&str>,
    ) {
        self.inv.identities.push(Identity {
            key: ikey(key),
            kind: IdentityKind::Person,
            name: name.into(),
            email: None,
            person: Some(Person {
                department: Some(department.into()),
                title: Some(title.into()),
                end_date: end_date.map(|d| gatehouse_model::parse_date(d).unwrap()),
                ..Person::with_status(status)
            }),
            non_human: None,
            attributes: Attributes::new(),
        });
    }

    /// An active person.
    fn staff(&mut self, key: &str, name: &str, department: &str, title: &str) {
        self.person(key, name, department, title, EmploymentStatus::Active, None);
    }

    /// A non-human identity, named after its key.
    fn nhi(&mut self, key: &str, kind: IdentityKind, facts: NonHuman) {
        self.inv.identities.push(Identity {
            key: ikey(key),
            kind,
            name: key.into(),
            email: None,
            person: None,
            non_human: Some(facts),
            attributes: Attributes::new(),
        });
    }

    /// An enabled account whose username is its native id, last used at [`NOW`], first seen
    /// on 2025-01-01, MFA unknown. `holder` is the identity key it names (which need not
    /// exist).
    fn account(
        &mut self,
        system: SystemIx,
        native: &str,
        holder: Option<&str>,
        kind: AccountKind,
    ) -> AccountIx {
        self.inv.accounts.push(AccountState {
            system,
            native_id: native.into(),
            username: native.into(),
            identity: None,
            dangling_identity: None,
            kind,
            enabled: true,
            mfa: None,
            last_login: Some(now()),
            first_seen: at("2025-01-01"),
            grants_from: 0,
            grants_to: 0,
        });
        self.holders.push(holder.map(str::to_owned));
        AccountIx::new(self.inv.accounts.len() - 1)
    }

    fn acc(&mut self, a: AccountIx) -> &mut AccountState {
        &mut self.inv.accounts[a.index()]
    }

    /// An entitlement whose display name is its native id.
    fn entitlement(&mut self, system: SystemIx, native: &str, privileged: bool) -> EntitlementIx {
        let key = self.inv.systems[system].config.key.clone();
        self.inv.entitlements.push(EntitlementState {
            system,
            record: Entitlement {
                system: key,
                native_id: native.into(),
                name: native.into(),
                description: None,
                privileged,
                risk: None,
                owner: None,
                attributes: Attributes::new(),
            },
        });
        EntitlementIx::new(self.inv.entitlements.len() - 1)
    }

    /// A grant present since 2026-01-01 without end date, never removed before; `warrant` is
    /// written `kind:reference`.
    fn grant(
        &mut self,
        account: AccountIx,
        entitlement: EntitlementIx,
        source: GrantSource,
        warrant: Option<&str>,
    ) -> &mut GrantState {
        let warrant = match warrant {
            None => None,
            Some(text) => {
                let w: Warrant = text.parse().unwrap();
                match self.inv.warrants.iter().position(|x| *x == w) {
                    Some(i) => Some(WarrantIx::new(i)),
                    None => {
                        self.inv.warrants.push(w);
                        Some(WarrantIx::new(self.inv.warrants.len() - 1))
                    }
                }
            }
        };
        self.inv.grants.push(GrantState {
            account,
            entitlement,
            source,
            warrant,
            expires_at: None,
            first_seen: at("2026-01-01"),
            granted_at: None,
            removed_before: None,
        });
        self.inv.grants.last_mut().unwrap()
    }

    fn ent_ref(&self, e: EntitlementIx) -> EntitlementRef {
        let r = &self.inv.entitlements[e].record;
        EntitlementRef {
            system: r.system.clone(),
            native_id: r.native_id.clone(),
        }
    }

    /// A business role bundling `entitlements`, explicitly assigned to `members`; push
    /// conditions onto `birthright` for a birthright role.
    fn role(&mut self, key: &str, entitlements: &[EntitlementIx], members: &[&str]) -> &mut Role {
        let mut ents: Vec<EntitlementRef> = entitlements.iter().map(|&e| self.ent_ref(e)).collect();
        ents.sort();
        let mut members: Vec<IdentityKey> = members.iter().map(|m| ikey(m)).collect();
        members.sort();
        self.inv.roles.push(Role {
            key: RoleKey::new(key).unwrap(),
            name: key.into(),
            description: None,
            owner: None,
            entitlements: ents,
            birthright: vec![],
            members,
        });
        self.inv.roles.last_mut().unwrap()
    }

    /// A warrant record (request, review or break-glass use) without end date.
    fn record(
        &mut self,
        kind: WarrantKind,
        id: &str,
        holder: &str,
        entitlement: EntitlementIx,
        approved_by: Option<&str>,
        approved_at: Timestamp,
    ) -> &mut WarrantRecord {
        let entitlement = self.ent_ref(entitlement);
        self.inv.warrant_records.push(WarrantRecord {
            id: id.into(),
            kind,
            identity: Some(ikey(holder)),
            entitlement: Some(entitlement),
            owner: None,
            approved_by: approved_by.map(ikey),
            approved_at,
            expires_at: None,
            reason: None,
            attributes: Attributes::new(),
        });
        self.inv.warrant_records.last_mut().unwrap()
    }

    /// A person's previous department and title, changed at `when`.
    fn moved(&mut self, who: &str, from_department: &str, from_title: &str, when: Timestamp) {
        self.moves
            .push((who.into(), from_department.into(), from_title.into(), when));
    }

    /// Sorts identities by key, links accounts (an unknown key becomes a dangling identity)
    /// and moves, and groups the grants by account.
    fn finish(self) -> Inventory {
        let mut inv = self.inv;
        inv.identities.sort_by(|a, b| a.key.cmp(&b.key));
        let links: Vec<(Option<IdentityIx>, Option<IdentityKey>)> = self
            .holders
            .iter()
            .map(|holder| match holder {
                None => (None, None),
                Some(k) => match inv.identity_index(k) {
                    Some(i) => (Some(i), None),
                    None => (None, Some(ikey(k))),
                },
            })
            .collect();
        for (acc, (identity, dangling)) in inv.accounts.iter_mut().zip(links) {
            acc.identity = identity;
            acc.dangling_identity = dangling;
        }
        inv.grants.sort_by_key(|g| g.account);
        for (a, acc) in inv.accounts.iter_mut().enumerate() {
            let a = AccountIx::new(a);
            acc.grants_from = inv.grants.partition_point(|g| g.account < a) as u32;
            acc.grants_to = inv.grants.partition_point(|g| g.account <= a) as u32;
        }
        for (who, from_department, from_title, when) in self.moves {
            let identity = inv.identity_index(&who).unwrap();
            inv.moves.push(Move {
                identity,
                from_department: Some(from_department),
                from_title: Some(from_title),
                at: when,
            });
        }
        inv
    }
}

/// Non-human identity facts that break no rule: owned by `owner`, with a purpose, rotated ten
/// days ago, used yesterday, expiring in 200 days.
fn tidy(owner: &str) -> NonHuman {
    NonHuman {
        owner: Some(ikey(owner)),
        purpose: Some("nightly backups".into()),
        scope: vec![],
        credential_created: Some(days_ago(400)),
        last_rotated: Some(days_ago(10)),
        expires_at: Some(days_ahead(200)),
        last_used: Some(days_ago(1)),
    }
}

// ---------------------------------------------------------------------------------------------
// Running the analysis and looking at findings
// ---------------------------------------------------------------------------------------------

fn run(inv: &Inventory) -> Analysis {
    analyze(inv, &Policy::default(), &Ruleset::default(), now())
}

fn run_with(inv: &Inventory, policy_toml: &str, sod_toml: &str) -> Analysis {
    analyze(inv, &policy(policy_toml), &ruleset(sod_toml), now())
}

fn policy(text: &str) -> Policy {
    Policy::from_toml(text, Path::new("policy.toml")).unwrap()
}

fn ruleset(text: &str) -> Ruleset {
    Ruleset::from_toml(text, Path::new("sod.toml")).unwrap()
}

fn by_rule<'a>(a: &'a Analysis, rule: &str) -> Vec<&'a Finding> {
    a.findings.iter().filter(|f| f.rule == rule).collect()
}

/// The one finding of a rule.
fn the<'a>(a: &'a Analysis, rule: &str) -> &'a Finding {
    let found = by_rule(a, rule);
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {rule} finding; all findings: {:#?}",
        a.findings
    );
    found[0]
}

fn assert_none(a: &Analysis, rule: &str) {
    let found = by_rule(a, rule);
    assert!(found.is_empty(), "unexpected {rule} finding: {found:#?}");
}

fn rules_found(a: &Analysis) -> Vec<&str> {
    let mut rules: Vec<&str> = a.findings.iter().map(|f| f.rule.as_str()).collect();
    rules.sort_unstable();
    rules.dedup();
    rules
}

fn explains(f: &Finding, text: &str) {
    assert!(
        f.explanation.contains(text),
        "the explanation of {} should mention `{text}`: {}",
        f.rule,
        f.explanation
    );
}

fn fact<'a>(f: &'a Finding, name: &str) -> &'a str {
    match f.facts.get(name) {
        Some(v) => v,
        None => panic!("{} has no fact `{name}`: {:?}", f.rule, f.facts),
    }
}

fn system_of(f: &Finding) -> Option<&str> {
    f.system.as_ref().map(SystemKey::as_str)
}

fn identity_of(f: &Finding) -> Option<&str> {
    f.identity.as_ref().map(IdentityKey::as_str)
}

/// The first system, account and entitlement of an organisation.
const S0: SystemIx = SystemIx::at(0);
const A0: AccountIx = AccountIx::at(0);
const E0: EntitlementIx = EntitlementIx::at(0);

/// Every rule this file has cases for; must list every rule in [`RULES`].
const COVERED: &[&str] = &[
    "leaver_access",
    "status_access",
    "orphaned_account",
    "dormant_access",
    "privileged_without_mfa",
    "shared_privileged",
    "standing_privilege",
    "nhi_no_owner",
    "nhi_owner_left",
    "nhi_no_purpose",
    "nhi_rotation_overdue",
    "nhi_credential_expired",
    "nhi_credential_expiring",
    "nhi_unused",
    "nhi_out_of_scope",
    "sod_conflict",
    "mover_kept_access",
    "rehire_kept_access",
    "peer_outlier",
    "rbac_exception",
    "unwarranted_grant",
    "reappeared_grant",
    "self_approved_grant",
    "expired_grant",
    "stale_source",
];

#[test]
fn every_rule_has_cases_here() {
    let names: Vec<&str> = RULES.iter().map(|r| r.name).collect();
    assert_eq!(names, COVERED);
}

// ---------------------------------------------------------------------------------------------
// leaver_access
// ---------------------------------------------------------------------------------------------

/// Ada left on 2026-09-30; her ERP account is still there with one ordinary grant.
fn leaver(last_login: Timestamp, enabled: bool, with_grant: bool) -> Inventory {
    let mut org = Org::new();
    let erp = org.plain_system("erp");
    org.person(
        "E1",
        "Ada Leaver",
        "Finance",
        "Accountant",
        EmploymentStatus::Terminated,
        Some("2026-09-30"),
    );
    let a = org.account(erp, "ada", Some("E1"), AccountKind::Human);
    org.acc(a).last_login = Some(last_login);
    org.acc(a).enabled = enabled;
    let staff = org.entitlement(erp, "group/Staff", false);
    if with_grant {
        org.grant(a, staff, GrantSource::Direct, None);
    }
    org.finish()
}

#[test]
fn leaver_with_enabled_account_is_reported_with_the_termination_date() {
    let a = run(&leaver(at("2026-09-29"), true, true));
    let f = the(&a, "leaver_access");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(identity_of(f), Some("E1"));
    assert_eq!(system_of(f), Some("erp"));
    assert_eq!(f.account.as_deref(), Some("ada"));
    assert_eq!(f.entitlements, refs(&["erp:group/Staff"]));
    assert_eq!(fact(f, "terminated_on"), "2026-09-30");
    assert_eq!(fact(f, "enabled"), "true");
    assert_eq!(fact(f, "last_login"), "2026-09-29");
    assert_eq!(fact(f, "accounts"), "1");
    assert!(!f.facts.contains_key("login_after_termination"));
    assert!(!f.facts.contains_key("status_disagrees"));
    explains(f, "left on 2026-09-30");
    explains(f, "still enabled");
    // A leaver's grants are not reported again as drift, dormancy or the like.
    assert_eq!(rules_found(&a), ["leaver_access"]);
}

#[test]
fn leaver_login_after_the_last_day_escalates() {
    let a = run(&leaver(at("2026-10-01T00:00:00Z"), true, true));
    let f = the(&a, "leaver_access");
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(fact(f, "login_after_termination"), "true");
    explains(f, "used on 2026-10-01, after the last day");
}

#[test]
fn leaver_login_during_the_last_day_does_not_escalate() {
    let a = run(&leaver(at("2026-09-30T23:59:59Z"), true, true));
    let f = the(&a, "leaver_access");
    assert_eq!(f.severity, Severity::High);
    assert!(!f.facts.contains_key("login_after_termination"));
}

#[test]
fn leaver_with_privileged_grant_escalates() {
    let mut org = Org::new();
    let erp = org.plain_system("erp");
    org.person(
        "E1",
        "Ada Leaver",
        "Finance",
        "Accountant",
        EmploymentStatus::Terminated,
        Some("2026-09-30"),
    );
    let a = org.account(erp, "ada", Some("E1"), AccountKind::Human);
    org.acc(a).last_login = Some(at("2026-09-01"));
    let admin = org.entitlement(erp, "role/Admin", true);
    org.grant(a, admin, GrantSource::Direct, None);
    let a = run(&org.finish());
    let f = the(&a, "leaver_access");
    assert_eq!(f.severity, Severity::Critical);
    explains(f, "1 of the grants are privileged");
}

#[test]
fn leaver_with_disabled_account_but_grants_is_reported() {
    let a = run(&leaver(at("2026-09-29"), false, true));
    let f = the(&a, "leaver_access");
    assert_eq!(fact(f, "enabled"), "false");
    explains(f, "is disabled and holds 1 grant");
}

#[test]
fn leaver_with_accounts_on_several_systems_is_one_finding_listing_them() {
    let mut org = Org::new();
    let erp = org.plain_system("erp");
    let crm = org.system("crm", Some(Criticality::Critical), false);
    org.person(
        "E1",
        "Ada Leaver",
        "Finance",
        "Accountant",
        EmploymentStatus::Terminated,
        Some("2026-09-30"),
    );
    let a = org.account(erp, "ada", Some("E1"), AccountKind::Human);
    org.acc(a).last_login = Some(at("2026-09-01"));
    let b = org.account(crm, "ada.crm", Some("E1"), AccountKind::Human);
    org.acc(b).last_login = Some(at("2026-09-01"));
    let admin = org.entitlement(crm, "role/Admin", true);
    org.grant(b, admin, GrantSource::Direct, None);
    let a = run(&org.finish());
    let f = the(&a, "leaver_access");
    // The worst account decides: privileged access on the critical CRM.
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.system, None);
    assert_eq!(f.account, None);
    assert_eq!(fact(f, "accounts"), "2");
    assert_eq!(fact(f, "systems"), "crm, erp");
    assert_eq!(f.entitlements, refs(&["crm:role/Admin"]));
    explains(
        f,
        "account `ada` on ERP (erp) is still enabled and holds 0 grants",
    );
    explains(
        f,
        "account `ada.crm` on CRM (crm) is still enabled and holds 1 grant",
    );
    assert_eq!(f.id, finding_id("leaver_access", &["E1", "", ""]));
}

/// Cleo's contract ends on `end`; HR still lists her as `status`.
fn contractor(status: &str, end: &str) -> Inventory {
    let mut org = Org::new();
    let erp = org.plain_system("erp");
    org.person(
        "E1",
        "Cleo Contract",
        "IT",
        "Consultant",
        EmploymentStatus::from_hr(status).unwrap(),
        Some(end),
    );
    org.inv.identities[0].person.as_mut().unwrap().hr_status =
        (status != "active").then(|| status.to_owned());
    org.inv.identities[0]
        .person
        .as_mut()
        .unwrap()
        .employment_type = Some("Contractor".into());
    let a = org.account(erp, "cleo", Some("E1"), AccountKind::Human);
    org.acc(a).last_login = Some(at("2026-10-20"));
    let staff = org.entitlement(erp, "group/Staff", false);
    org.grant(a, staff, GrantSource::Role, Some("role:staff"));
    org.role("staff", &[staff], &["E1"]);
    org.finish()
}

#[test]
fn end_date_passed_while_the_status_says_active_is_a_leaver() {
    let a = run(&contractor("active", "2026-10-15"));
    let f = the(&a, "leaver_access");
    assert_eq!(f.severity, Severity::Critical, "used after the last day");
    assert_eq!(fact(f, "end_date"), "2026-10-15");
    assert_eq!(fact(f, "status"), "active");
    assert_eq!(fact(f, "status_disagrees"), "true");
    assert_eq!(fact(f, "login_after_termination"), "true");
    explains(
        f,
        "end date 2026-10-15 has passed, but the HR feed still lists them as active",
    );
    explains(f, "the status and the date disagree");
    assert!(
        f.title.contains("past their end date (2026-10-15)"),
        "{}",
        f.title
    );
    // Reported once, as a leaver: not again as drift.
    assert_eq!(rules_found(&a), ["leaver_access"]);
}

#[test]
fn end_date_is_the_last_day_and_a_future_one_raises_nothing() {
    // The last day is today: not over yet.
    let a = run(&contractor("active", "2026-11-01"));
    assert_none(&a, "leaver_access");
    let a = run(&contractor("active", "2027-03-31"));
    assert_none(&a, "leaver_access");
    // Yesterday was the last day.
    let a = run(&contractor("active", "2026-10-31"));
    assert_eq!(fact(the(&a, "leaver_access"), "end_date"), "2026-10-31");
}

#[test]
fn end_date_of_an_earlier_employment_does_not_count() {
    let mut inv = contractor("active", "2024-06-30");
    let p = inv.identities[0].person.as_mut().unwrap();
    p.start_date = Some(gatehouse_model::parse_date("2020-01-01").unwrap());
    p.rehire_date = Some(gatehouse_model::parse_date("2025-02-01").unwrap());
    assert_none(&run(&inv), "leaver_access");
}

#[test]
fn leaver_with_disabled_account_and_no_grants_is_not_reported() {
    let a = run(&leaver(at("2026-09-29"), false, false));
    assert_none(&a, "leaver_access");
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
}

#[test]
fn person_on_leave_is_no_leaver_until_the_end_date_passes() {
    let a = run(&contractor("Parental Leave", "2027-01-31"));
    assert_none(&a, "leaver_access");
    let a = run(&contractor("Parental Leave", "2026-09-30"));
    let f = the(&a, "leaver_access");
    assert_eq!(fact(f, "status"), "leave");
    assert_eq!(fact(f, "hr_status"), "Parental Leave");
    explains(f, "still lists them as Parental Leave");
}

// ---------------------------------------------------------------------------------------------
// orphaned_account
// ---------------------------------------------------------------------------------------------

#[test]
fn enabled_account_linked_to_nobody_is_orphaned() {
    let mut org = Org::new();
    let erp = org.plain_system("erp");
    let a = org.account(erp, "tmp-import", None, AccountKind::Human);
    org.acc(a).last_login = Some(at("2026-10-20"));
    let a = run(&org.finish());
    let f = the(&a, "orphaned_account");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.identity, None);
    assert_eq!(system_of(f), Some("erp"));
    assert_eq!(f.account.as_deref(), Some("tmp-import"));
    assert_eq!(fact(f, "enabled"), "true");
    assert_eq!(fact(f, "grants"), "0");
    assert_eq!(fact(f, "last_login"), "2026-10-20");
    explains(f, "is linked to no person or non-human identity");
    assert_eq!(a.uncorrelated_accounts, 1);
}

#[test]
fn account_naming_an_unknown_identity_is_orphaned_and_privilege_escalates() {
    let mut org = Org::new();
    let erp = org.plain_system("erp");
    let a = org.account(erp, "svc-old", Some("E999"), AccountKind::Service);
    let admin = org.entitlement(erp, "role/Admin", true);
    org.grant(a, admin, GrantSource::Direct, None);
    let a = run(&org.finish());
    let f = the(&a, "orphaned_account");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(fact(f, "names_identity"), "E999");
    assert_eq!(fact(f, "privileged_grants"), "1");
    assert_eq!(f.entitlements, refs(&["erp:role/Admin"]));
    explains(f, "Service account `svc-old`");
    explains(f, "names identity E999, which is in no identity feed");
    explains(f, "1 of them privileged");
    // An orphan's grants are the orphan finding's business, not drift.
    assert_none(&a, "unwarranted_grant");
}

#[test]
fn disabled_orphan_with_grants_is_reported_lower() {
    let mut org = Org::new();
    let erp = org.plain_system("erp");
    let a = org.account(erp, "old", None, AccountKind::Human);
    org.acc(a).enabled = false;
    let staff = org.entitlement(erp, "group/Staff", false);
    org.grant(a, staff, GrantSource::Direct, None);
    let a = run(&org.finish());
    let f = the(&a, "orphaned_account");
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(a.uncorrelated_accounts, 0, "disabled accounts do not count");
}

#[test]
fn disabled_orphan_without_grants_is_not_reported() {
    let mut org = Org::new();
    let erp = org.plain_system("erp");
    let a = org.account(erp, "old", None, AccountKind::Human);
    org.acc(a).enabled = false;
    let a = run(&org.finish());
    assert_none(&a, "orphaned_account");
}

// ---------------------------------------------------------------------------------------------
// dormant_access
// ---------------------------------------------------------------------------------------------

/// Bea's CRM account (system of the given criticality), last used at `last_login`.
fn dormant(criticality: Criticality, last_login: Option<Timestamp>) -> Org {
    let mut org = Org::new();
    let crm = org.system("crm", Some(criticality), false);
    org.staff("E2", "Bea Sales", "Sales", "Rep");
    let a = org.account(crm, "bea", Some("E2"), AccountKind::Human);
    org.acc(a).last_login = last_login;
    org
}

#[test]
fn account_unused_for_longer_than_the_threshold_is_dormant() {
    let a = run(&dormant(Criticality::Medium, Some(days_ago(91))).finish());
    let f = the(&a, "dormant_access");
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(identity_of(f), Some("E2"));
    assert_eq!(system_of(f), Some("crm"));
    assert_eq!(f.account.as_deref(), Some("bea"));
    assert_eq!(fact(f, "last_login"), "2026-08-02");
    assert_eq!(fact(f, "threshold_days"), "90");
    assert_eq!(fact(f, "observed_at"), "2026-11-01");
    explains(f, "was last used on 2026-08-02");
    explains(f, "the threshold for this system is 90 days");
}

#[test]
fn account_unused_for_exactly_the_threshold_is_not_dormant() {
    let a = run(&dormant(Criticality::Medium, Some(days_ago(90))).finish());
    assert_none(&a, "dormant_access");
}

#[test]
fn dormant_account_with_privileged_access_escalates() {
    let mut org = dormant(Criticality::Medium, Some(days_ago(200)));
    let admin = org.entitlement(S0, "role/Admin", true);
    let staff = org.entitlement(S0, "group/Staff", false);
    org.grant(A0, admin, GrantSource::Role, None);
    org.grant(A0, staff, GrantSource::Role, None);
    let a = run(&org.finish());
    let f = the(&a, "dormant_access");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.entitlements, refs(&["crm:role/Admin"]));
    assert!(
        f.title.starts_with("Dormant privileged account"),
        "{}",
        f.title
    );
    explains(f, "it holds privileged access");
}

#[test]
fn dormancy_is_measured_at_the_latest_snapshot_of_the_system() {
    // The snapshot is five months old: a login two months before it is recent enough.
    let mut org = dormant(Criticality::Medium, Some(at("2026-04-01")));
    org.sys(S0).as_of = Some(at("2026-06-01"));
    assert_none(&run(&org.finish()), "dormant_access");

    let mut org = dormant(Criticality::Medium, Some(at("2026-03-01")));
    org.sys(S0).as_of = Some(at("2026-06-01"));
    let a = run(&org.finish());
    let f = the(&a, "dormant_access");
    assert_eq!(fact(f, "observed_at"), "2026-06-01");
    explains(f, "the snapshot of 2026-06-01 is the reference");
}

#[test]
fn account_never_used_since_it_appeared_is_dormant() {
    let mut org = dormant(Criticality::Medium, None);
    org.acc(A0).first_seen = at("2026-07-01");
    // A colleague's login shows that the system reports logins.
    org.staff("E3", "Cy Sales", "Sales", "Rep");
    org.account(S0, "cy", Some("E3"), AccountKind::Human);
    let a = run(&org.finish());
    let f = the(&a, "dormant_access");
    assert_eq!(fact(f, "never_logged_in"), "true");
    assert_eq!(fact(f, "first_seen"), "2026-07-01");
    explains(f, "has never been used since it appeared on 2026-07-01");
}

#[test]
fn dormancy_spares_people_on_leave_service_and_disabled_accounts() {
    let mut org = dormant(Criticality::Medium, Some(days_ago(300)));
    org.inv.identities[0].person.as_mut().unwrap().status = EmploymentStatus::Leave;
    assert_none(&run(&org.finish()), "dormant_access");

    let mut org = dormant(Criticality::Medium, Some(days_ago(300)));
    org.acc(A0).kind = AccountKind::Service;
    assert_none(&run(&org.finish()), "dormant_access");

    let mut org = dormant(Criticality::Medium, Some(days_ago(300)));
    org.acc(A0).enabled = false;
    assert_none(&run(&org.finish()), "dormant_access");

    // Emergency accounts are meant to lie unused.
    let mut org = dormant(Criticality::Medium, Some(days_ago(300)));
    org.acc(A0).kind = AccountKind::Emergency;
    assert_none(&run(&org.finish()), "dormant_access");
}

#[test]
fn status_policy_all_for_leave_makes_dormancy_count_again() {
    let mut org = dormant(Criticality::Medium, Some(days_ago(300)));
    org.inv.identities[0].person.as_mut().unwrap().status = EmploymentStatus::Leave;
    let a = run_with(&org.finish(), "[status]\nleave = \"all\"\n", "");
    the(&a, "dormant_access");
}

// ---------------------------------------------------------------------------------------------
// privileged_without_mfa
// ---------------------------------------------------------------------------------------------

/// Carl's ERP account with MFA as given, holding an ordinary and (optionally) a privileged
/// entitlement; both end next month so that only the MFA rule is at stake.
fn mfa(mfa: Option<bool>, privileged: bool) -> Inventory {
    let mut org = Org::new();
    let erp = org.plain_system("erp");
    org.staff("E3", "Carl Admin", "IT", "Administrator");
    let a = org.account(erp, "carl", Some("E3"), AccountKind::Human);
    org.acc(a).mfa = mfa;
    let staff = org.entitlement(erp, "group/Staff", false);
    org.grant(a, staff, GrantSource::Direct, None).expires_at = Some(days_ahead(30));
    if privileged {
        let admin = org.entitlement(erp, "role/Admin", true);
        org.grant(a, admin, GrantSource::Direct, None).expires_at = Some(days_ahead(30));
    }
    org.finish()
}

#[test]
fn privileged_account_with_mfa_off_is_reported() {
    let a = run(&mfa(Some(false), true));
    let f = the(&a, "privileged_without_mfa");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(identity_of(f), Some("E3"));
    assert_eq!(f.account.as_deref(), Some("carl"));
    assert_eq!(f.entitlements, refs(&["erp:role/Admin"]));
    assert_eq!(fact(f, "mfa"), "false");
    explains(f, "multi-factor authentication turned off");
    explains(f, "role/Admin (erp:role/Admin)");
}

#[test]
fn privileged_account_with_mfa_on_or_unknown_is_not_reported() {
    assert_none(&run(&mfa(Some(true), true)), "privileged_without_mfa");
    assert_none(&run(&mfa(None, true)), "privileged_without_mfa");
}

#[test]
fn ordinary_account_without_mfa_is_not_reported() {
    assert_none(&run(&mfa(Some(false), false)), "privileged_without_mfa");
}

// ---------------------------------------------------------------------------------------------
// shared_privileged
// ---------------------------------------------------------------------------------------------

fn shared(username: &str, kind: AccountKind, privileged: bool) -> Inventory {
    let mut org = Org::new();
    let erp = org.plain_system("erp");
    org.staff("E3", "Carl Admin", "IT", "Administrator");
    let a = org.account(erp, username, Some("E3"), kind);
    let ent = org.entitlement(erp, "role/Admin", privileged);
    org.grant(a, ent, GrantSource::Role, None);
    org.finish()
}

#[test]
fn shared_account_with_privileged_access_is_reported() {
    let a = run(&shared("finance-team", AccountKind::Shared, true));
    let f = the(&a, "shared_privileged");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(identity_of(f), Some("E3"));
    assert_eq!(f.account.as_deref(), Some("finance-team"));
    assert_eq!(f.entitlements, refs(&["erp:role/Admin"]));
    assert_eq!(fact(f, "kind"), "shared");
    assert_eq!(fact(f, "generic_username"), "false");
    explains(f, "is a shared account");
    explains(f, "cannot be traced to a person");
}

#[test]
fn generic_username_marks_an_account_as_shared() {
    let a = run(&shared("Administrator", AccountKind::Admin, true));
    let f = the(&a, "shared_privileged");
    assert_eq!(fact(f, "generic_username"), "true");
    explains(f, "a generic account by its name");
}

#[test]
fn personal_admin_account_and_unprivileged_shared_account_are_not_reported() {
    assert_none(
        &run(&shared("admin-carl", AccountKind::Admin, true)),
        "shared_privileged",
    );
    assert_none(
        &run(&shared("finance-team", AccountKind::Shared, false)),
        "shared_privileged",
    );
}

// ---------------------------------------------------------------------------------------------
// standing_privilege
// ---------------------------------------------------------------------------------------------

/// Carl's privileged ERP access, approved by his manager through REQ-9 (or cited `warrant`).
fn standing(source: GrantSource, warrant: Option<&str>, expires: Option<Timestamp>) -> Org {
    let mut org = Org::new();
    let erp = org.plain_system("erp");
    org.staff("E3", "Carl Admin", "IT", "Administrator");
    let a = org.account(erp, "carl", Some("E3"), AccountKind::Human);
    let admin = org.entitlement(erp, "role/Admin", true);
    org.grant(a, admin, source, warrant).expires_at = expires;
    org.record(
        WarrantKind::Request,
        "REQ-9",
        "E3",
        admin,
        Some("M1"),
        at("2026-10-01"),
    );
    org
}

#[test]
fn approved_privileged_grant_without_end_date_is_standing() {
    let a = run(&standing(GrantSource::Request, Some("request:REQ-9"), None).finish());
    let f = the(&a, "standing_privilege");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(identity_of(f), Some("E3"));
    assert_eq!(system_of(f), Some("erp"));
    assert_eq!(f.account.as_deref(), Some("carl"));
    assert_eq!(f.entitlements, refs(&["erp:role/Admin"]));
    explains(f, "permanently");
    explains(
        f,
        "through request:REQ-9, approved on 2026-10-01 with no end date",
    );
}

#[test]
fn privileged_grant_with_end_date_or_through_a_role_is_not_standing() {
    let warrant = Some("request:REQ-9");
    let a = run(&standing(GrantSource::Request, warrant, Some(days_ahead(1))).finish());
    assert_none(&a, "standing_privilege");
    let mut org = standing(GrantSource::Direct, None, None);
    org.role("admins", &[E0], &["E3"]);
    let a = run(&org.finish());
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
}

#[test]
fn unexplained_privileged_grant_is_unwarranted_not_standing() {
    let a = run(&standing(GrantSource::Direct, None, None).finish());
    assert_none(&a, "standing_privilege");
    assert_eq!(the(&a, "unwarranted_grant").severity, Severity::High);
}

#[test]
fn privileged_grant_of_a_non_human_identity_is_not_standing() {
    let mut org = Org::new();
    let erp = org.plain_system("erp");
    org.staff("E1", "Owner", "IT", "Engineer");
    org.nhi("svc-backup", IdentityKind::ServiceAccount, tidy("E1"));
    let a = org.account(erp, "svc-backup", Some("svc-backup"), AccountKind::Service);
    let admin = org.entitlement(erp, "role/Admin", true);
    org.grant(a, admin, GrantSource::Direct, None);
    assert_none(&run(&org.finish()), "standing_privilege");
}

#[test]
fn privileged_grant_through_a_time_bound_request_is_not_standing() {
    let mut org = standing(GrantSource::Request, Some("request:REQ-9"), None);
    org.inv.warrant_records[0].expires_at = Some(days_ahead(7));
    let a = run(&org.finish());
    assert_none(&a, "unwarranted_grant");
    assert_none(&a, "standing_privilege");
}

// ---------------------------------------------------------------------------------------------
// Non-human identities
// ---------------------------------------------------------------------------------------------

/// An organisation with one person `E1` (the usual owner) and one non-human identity
/// `svc-backup`.
fn nhi_org(kind: IdentityKind, facts: NonHuman) -> Org {
    let mut org = Org::new();
    org.staff("E1", "Olga Owner", "IT", "Engineer");
    org.nhi("svc-backup", kind, facts);
    org
}

fn nhi(kind: IdentityKind, facts: NonHuman) -> Analysis {
    run(&nhi_org(kind, facts).finish())
}

#[test]
fn tidy_non_human_identity_breaks_no_rule() {
    for kind in [
        IdentityKind::ServiceAccount,
        IdentityKind::ApiKey,
        IdentityKind::Token,
        IdentityKind::Certificate,
    ] {
        let a = nhi(kind, tidy("E1"));
        assert!(a.findings.is_empty(), "{kind}: {:#?}", a.findings);
    }
}

#[test]
fn nhi_without_owner_is_reported() {
    let a = nhi(
        IdentityKind::ServiceAccount,
        NonHuman {
            owner: None,
            ..tidy("E1")
        },
    );
    let f = the(&a, "nhi_no_owner");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(identity_of(f), Some("svc-backup"));
    assert_eq!(f.system, None);
    explains(f, "has no owner");
    assert_none(&a, "nhi_owner_left");
}

#[test]
fn nhi_with_current_owner_is_not_reported() {
    let a = nhi(IdentityKind::ServiceAccount, tidy("E1"));
    assert_none(&a, "nhi_no_owner");
    assert_none(&a, "nhi_owner_left");
}

#[test]
fn nhi_whose_owner_left_is_reported() {
    let mut org = nhi_org(IdentityKind::ServiceAccount, tidy("E9"));
    org.person(
        "E9",
        "Gone Owner",
        "IT",
        "Engineer",
        EmploymentStatus::Terminated,
        Some("2026-09-30"),
    );
    let a = run(&org.finish());
    let f = the(&a, "nhi_owner_left");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(identity_of(f), Some("svc-backup"));
    assert_eq!(fact(f, "owner"), "E9");
    explains(f, "Gone Owner (E9, IT, Engineer)");
    explains(f, "has left (last day 2026-09-30)");
}

#[test]
fn nhi_whose_owner_is_in_no_feed_is_reported() {
    let a = nhi(IdentityKind::Token, tidy("E404"));
    let f = the(&a, "nhi_owner_left");
    assert_eq!(fact(f, "owner"), "E404");
    explains(f, "owned by E404, who is in no identity feed");
}

#[test]
fn nhi_whose_owner_is_on_leave_is_not_reported() {
    let mut org = nhi_org(IdentityKind::ServiceAccount, tidy("E9"));
    org.person(
        "E9",
        "Resting Owner",
        "IT",
        "Engineer",
        EmploymentStatus::Leave,
        None,
    );
    assert_none(&run(&org.finish()), "nhi_owner_left");
}

#[test]
fn nhi_without_purpose_is_reported() {
    for purpose in [None, Some("   ".to_owned())] {
        let a = nhi(
            IdentityKind::ApiKey,
            NonHuman {
                purpose: purpose.clone(),
                ..tidy("E1")
            },
        );
        let f = the(&a, "nhi_no_purpose");
        assert_eq!(f.severity, Severity::Medium, "{purpose:?}");
        assert_eq!(identity_of(f), Some("svc-backup"));
        explains(f, "no business purpose recorded");
    }
}

#[test]
fn nhi_with_purpose_is_not_reported() {
    assert_none(&nhi(IdentityKind::ApiKey, tidy("E1")), "nhi_no_purpose");
}

fn rotated(kind: IdentityKind, days: i64) -> Analysis {
    nhi(
        kind,
        NonHuman {
            last_rotated: Some(days_ago(days)),
            ..tidy("E1")
        },
    )
}

#[test]
fn credential_older_than_the_rotation_policy_is_overdue() {
    let a = rotated(IdentityKind::ApiKey, 91);
    let f = the(&a, "nhi_rotation_overdue");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(identity_of(f), Some("svc-backup"));
    assert_eq!(fact(f, "last_rotated"), "2026-08-02");
    assert_eq!(fact(f, "max_age_days"), "90");
    explains(f, "last rotated on 2026-08-02");
    explains(f, "the policy for a api key is 90 days");
}

#[test]
fn credential_at_twice_the_rotation_age_escalates() {
    let f_at = |days| rotated(IdentityKind::ApiKey, days);
    assert_eq!(
        the(&f_at(180), "nhi_rotation_overdue").severity,
        Severity::Medium
    );
    assert_eq!(
        the(&f_at(181), "nhi_rotation_overdue").severity,
        Severity::High
    );
}

#[test]
fn credential_rotated_within_policy_is_not_overdue() {
    assert_none(&rotated(IdentityKind::ApiKey, 90), "nhi_rotation_overdue");
    // Certificates may live a year.
    assert_none(
        &rotated(IdentityKind::Certificate, 365),
        "nhi_rotation_overdue",
    );
    assert_eq!(
        the(
            &rotated(IdentityKind::Certificate, 366),
            "nhi_rotation_overdue"
        )
        .severity,
        Severity::Medium
    );
}

#[test]
fn credential_never_rotated_is_judged_by_its_creation() {
    let a = nhi(
        IdentityKind::ServiceAccount,
        NonHuman {
            last_rotated: None,
            credential_created: Some(days_ago(181)),
            ..tidy("E1")
        },
    );
    let f = the(&a, "nhi_rotation_overdue");
    assert_eq!(fact(f, "max_age_days"), "180");
    assert_eq!(fact(f, "last_rotated"), date(days_ago(181)));
}

#[test]
fn credential_expired_at_the_time_of_analysis_is_reported() {
    let a = nhi(
        IdentityKind::Certificate,
        NonHuman {
            expires_at: Some(now()),
            ..tidy("E1")
        },
    );
    let f = the(&a, "nhi_credential_expired");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(identity_of(f), Some("svc-backup"));
    assert_eq!(fact(f, "expired_on"), "2026-11-01");
    explains(f, "expired on 2026-11-01");
    assert_none(&a, "nhi_credential_expiring");
}

#[test]
fn credential_expiring_a_second_later_is_not_expired() {
    let a = nhi(
        IdentityKind::Certificate,
        NonHuman {
            expires_at: Some(plus_seconds(now(), 1)),
            ..tidy("E1")
        },
    );
    assert_none(&a, "nhi_credential_expired");
    assert_eq!(the(&a, "nhi_credential_expiring").severity, Severity::Low);
}

#[test]
fn credential_expiring_within_the_warning_period_is_reported() {
    let a = nhi(
        IdentityKind::Certificate,
        NonHuman {
            expires_at: Some(plus_seconds(days_ahead(14), -1)),
            ..tidy("E1")
        },
    );
    let f = the(&a, "nhi_credential_expiring");
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(fact(f, "expires_on"), "2026-11-14");
    explains(f, "expires on 2026-11-14");
}

#[test]
fn credential_expiring_after_the_warning_period_is_not_reported() {
    let a = nhi(
        IdentityKind::Certificate,
        NonHuman {
            expires_at: Some(days_ahead(14)),
            ..tidy("E1")
        },
    );
    assert_none(&a, "nhi_credential_expiring");
    assert_none(&a, "nhi_credential_expired");
}

#[test]
fn nhi_unused_for_longer_than_the_threshold_is_reported() {
    let a = nhi(
        IdentityKind::Token,
        NonHuman {
            last_used: Some(days_ago(91)),
            ..tidy("E1")
        },
    );
    let f = the(&a, "nhi_unused");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(identity_of(f), Some("svc-backup"));
    assert_eq!(fact(f, "last_used"), "2026-08-02");
    assert_eq!(fact(f, "threshold_days"), "90");
    explains(f, "was last used on 2026-08-02");
}

#[test]
fn nhi_unused_for_exactly_the_threshold_is_not_reported() {
    let a = nhi(
        IdentityKind::Token,
        NonHuman {
            last_used: Some(days_ago(90)),
            ..tidy("E1")
        },
    );
    assert_none(&a, "nhi_unused");
}

#[test]
fn nhi_used_through_an_account_is_not_unused() {
    let mut org = nhi_org(
        IdentityKind::ServiceAccount,
        NonHuman {
            last_used: Some(days_ago(300)),
            ..tidy("E1")
        },
    );
    let aws = org.plain_system("aws");
    let a = org.account(aws, "svc-backup", Some("svc-backup"), AccountKind::Service);
    org.acc(a).last_login = Some(days_ago(5));
    assert_none(&run(&org.finish()), "nhi_unused");
}

#[test]
fn nhi_never_used_since_creation_is_reported() {
    let a = nhi(
        IdentityKind::ApiKey,
        NonHuman {
            last_used: None,
            last_rotated: None,
            credential_created: Some(days_ago(100)),
            ..tidy("E1")
        },
    );
    let f = the(&a, "nhi_unused");
    assert_eq!(fact(f, "created"), date(days_ago(100)));
    explains(f, "has not been used since it was created on");
}

#[test]
fn nhi_unused_measures_account_logins_at_the_snapshot_time() {
    let mut org = nhi_org(
        IdentityKind::ServiceAccount,
        NonHuman {
            last_used: None,
            ..tidy("E1")
        },
    );
    let aws = org.plain_system("aws");
    org.sys(aws).as_of = Some(at("2026-06-01"));
    let a = org.account(aws, "svc-backup", Some("svc-backup"), AccountKind::Service);
    // Used the day before the (old) snapshot: nothing says it has been idle since.
    org.acc(a).last_login = Some(at("2026-05-31"));
    assert_none(&run(&org.finish()), "nhi_unused");
}

/// `svc-backup`, scoped to `aws`, with an account on `system`.
fn scoped(system: &str, scope: &[&str]) -> Analysis {
    let mut org = nhi_org(
        IdentityKind::ServiceAccount,
        NonHuman {
            scope: scope.iter().map(|s| SystemKey::new(*s).unwrap()).collect(),
            ..tidy("E1")
        },
    );
    org.plain_system("aws");
    let s = org.plain_system(system);
    let a = org.account(s, "svc-backup", Some("svc-backup"), AccountKind::Service);
    let read = org.entitlement(s, "repo/read", false);
    org.grant(a, read, GrantSource::Direct, None);
    run(&org.finish())
}

#[test]
fn nhi_with_an_account_outside_its_scope_is_reported() {
    let a = scoped("github", &["aws"]);
    let f = the(&a, "nhi_out_of_scope");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(identity_of(f), Some("svc-backup"));
    assert_eq!(system_of(f), Some("github"));
    assert_eq!(f.account.as_deref(), Some("svc-backup"));
    assert_eq!(f.entitlements, refs(&["github:repo/read"]));
    assert_eq!(fact(f, "declared_scope"), "aws");
    explains(f, "on GITHUB (github), but its declared scope is aws");
}

#[test]
fn nhi_out_of_scope_is_reported_once_per_system() {
    let mut org = nhi_org(
        IdentityKind::ServiceAccount,
        NonHuman {
            scope: vec![SystemKey::new("aws").unwrap()],
            ..tidy("E1")
        },
    );
    org.plain_system("aws");
    let github = org.plain_system("github");
    org.account(
        github,
        "svc-backup",
        Some("svc-backup"),
        AccountKind::Service,
    );
    org.account(
        github,
        "svc-backup-2",
        Some("svc-backup"),
        AccountKind::Service,
    );
    let a = run(&org.finish());
    assert_eq!(
        by_rule(&a, "nhi_out_of_scope").len(),
        1,
        "{:#?}",
        a.findings
    );
}

#[test]
fn nhi_within_its_scope_or_without_one_is_not_reported() {
    assert_none(&scoped("aws-eu", &["aws", "aws-eu"]), "nhi_out_of_scope");
    assert_none(&scoped("github", &[]), "nhi_out_of_scope");
}

// ---------------------------------------------------------------------------------------------
// sod_conflict
// ---------------------------------------------------------------------------------------------

/// Dana (E4) has an ERP and a bank account; E5 is a colleague. Nobody holds anything yet.
fn sod_org() -> Org {
    let mut org = Org::new();
    let erp = org.plain_system("erp");
    let bank = org.system("bank", Some(Criticality::Critical), true);
    org.staff("E4", "Dana Clerk", "Finance", "Clerk");
    org.staff("E5", "Eli Clerk", "Finance", "Clerk");
    org.account(erp, "dana", Some("E4"), AccountKind::Human);
    org.account(bank, "dana.b", Some("E4"), AccountKind::Human);
    org.account(erp, "eli", Some("E5"), AccountKind::Human);
    org.account(bank, "eli.b", Some("E5"), AccountKind::Human);
    org.entitlement(erp, "role/Vendor_Maintain", false);
    org.entitlement(erp, "role/AP_Approver", false);
    org.entitlement(erp, "role/AP_Clerk", false);
    org.entitlement(bank, "role/Payment_Release", true);
    org
}

const DANA_ERP: AccountIx = AccountIx::at(0);
const DANA_BANK: AccountIx = AccountIx::at(1);
const ELI_ERP: AccountIx = AccountIx::at(2);
const ELI_BANK: AccountIx = AccountIx::at(3);
const VENDOR: EntitlementIx = EntitlementIx::at(0);
const AP_APPROVER: EntitlementIx = EntitlementIx::at(1);
const AP_CLERK: EntitlementIx = EntitlementIx::at(2);
const PAYMENT: EntitlementIx = EntitlementIx::at(3);

const P2P: &str = r#"
[[rule]]
id = "SOD-P2P-01"
name = "Vendor master and payment release"
description = "Whoever changes vendors and releases payments can pay a fictitious vendor."
regulation = "SOX 404 - procure-to-pay"
severity = "critical"
sets = [["erp:role/Vendor_Maintain"], ["bank:role/Payment_Release"]]
"#;

fn sod(org: Org, rules: &str) -> Analysis {
    run_with(&org.finish(), "", rules)
}

#[test]
fn cross_system_conflict_is_found_per_person_across_accounts() {
    let mut org = sod_org();
    org.grant(DANA_ERP, VENDOR, GrantSource::Role, None);
    org.grant(DANA_BANK, PAYMENT, GrantSource::Role, None);
    let a = sod(org, P2P);
    let f = the(&a, "sod_conflict");
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(identity_of(f), Some("E4"));
    assert_eq!(f.system, None, "the conflict spans two systems");
    assert_eq!(f.account, None);
    assert_eq!(
        f.entitlements,
        refs(&["bank:role/Payment_Release", "erp:role/Vendor_Maintain"])
    );
    assert_eq!(fact(f, "sod_rule"), "SOD-P2P-01");
    assert_eq!(fact(f, "regulation"), "SOX 404 - procure-to-pay");
    assert_eq!(f.title, "SOD-P2P-01: Vendor master and payment release");
    explains(f, "Dana Clerk (E4, Finance, Clerk)");
    explains(f, "set 1: role/Vendor_Maintain (erp:role/Vendor_Maintain)");
    explains(f, "set 2: role/Payment_Release (bank:role/Payment_Release)");
    explains(f, "pay a fictitious vendor");
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
}

#[test]
fn one_side_each_for_two_people_is_no_conflict() {
    let mut org = sod_org();
    org.grant(DANA_ERP, VENDOR, GrantSource::Role, None);
    org.grant(ELI_BANK, PAYMENT, GrantSource::Role, None);
    assert_none(&sod(org, P2P), "sod_conflict");
}

#[test]
fn leavers_are_not_checked_for_conflicts() {
    let mut org = sod_org();
    let dana = org.inv.identities[0].person.as_mut().unwrap();
    dana.status = EmploymentStatus::Terminated;
    org.grant(DANA_ERP, VENDOR, GrantSource::Role, None);
    org.grant(DANA_BANK, PAYMENT, GrantSource::Role, None);
    let a = sod(org, P2P);
    assert_none(&a, "sod_conflict");
    assert_eq!(fact(the(&a, "leaver_access"), "accounts"), "2");
}

const WILDCARD: &str = r#"
[[rule]]
id = "SOD-AP-01"
name = "Vendor master and accounts payable"
severity = "high"
sets = [["erp:role/Vendor_*"], ["erp:role/AP_*"]]
"#;

#[test]
fn wildcard_patterns_match_and_single_system_conflicts_name_it() {
    let mut org = sod_org();
    org.grant(DANA_ERP, VENDOR, GrantSource::Role, None);
    org.grant(DANA_ERP, AP_APPROVER, GrantSource::Role, None);
    org.grant(DANA_ERP, AP_CLERK, GrantSource::Role, None);
    let a = sod(org, WILDCARD);
    let f = the(&a, "sod_conflict");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(system_of(f), Some("erp"));
    assert_eq!(
        f.entitlements,
        refs(&[
            "erp:role/AP_Approver",
            "erp:role/AP_Clerk",
            "erp:role/Vendor_Maintain"
        ])
    );
    explains(
        f,
        "set 2: role/AP_Approver (erp:role/AP_Approver) and role/AP_Clerk (erp:role/AP_Clerk)",
    );
}

#[test]
fn two_entitlements_from_the_same_set_are_no_conflict() {
    let mut org = sod_org();
    org.grant(DANA_ERP, AP_APPROVER, GrantSource::Role, None);
    org.grant(DANA_ERP, AP_CLERK, GrantSource::Role, None);
    assert_none(&sod(org, WILDCARD), "sod_conflict");
}

const THREE_SETS: &str = r#"
[[rule]]
id = "SOD-P2P-03"
name = "Vendor, invoice and payment"
severity = "high"
min_sets = 3
sets = [["erp:role/Vendor_Maintain"], ["erp:role/AP_Approver"], ["bank:role/Payment_Release"]]
"#;

#[test]
fn min_sets_three_needs_all_three_sets() {
    let mut org = sod_org();
    org.grant(DANA_ERP, VENDOR, GrantSource::Role, None);
    org.grant(DANA_BANK, PAYMENT, GrantSource::Role, None);
    assert_none(&sod(org, THREE_SETS), "sod_conflict");

    let mut org = sod_org();
    org.grant(DANA_ERP, VENDOR, GrantSource::Role, None);
    org.grant(DANA_ERP, AP_APPROVER, GrantSource::Role, None);
    org.grant(DANA_BANK, PAYMENT, GrantSource::Role, None);
    let a = sod(org, THREE_SETS);
    let f = the(&a, "sod_conflict");
    assert_eq!(f.entitlements.len(), 3);
    explains(f, "set 3: role/Payment_Release");
}

/// Dana violating SOD-P2P-01, with one mitigation.
fn mitigated(mitigation: &str) -> Analysis {
    let mut org = sod_org();
    org.grant(DANA_ERP, VENDOR, GrantSource::Role, None);
    org.grant(DANA_BANK, PAYMENT, GrantSource::Role, None);
    let rules = format!("{P2P}\n[[mitigation]]\nrule = \"SOD-P2P-01\"\n{mitigation}");
    sod(org, &rules)
}

#[test]
fn mitigation_in_force_downgrades_to_its_severity() {
    // It expires today: still in force.
    let a = mitigated(
        "control = \"Monthly review of vendor changes by the Controller\"\nowner = \"E7\"\n\
         expires = \"2026-11-01\"\nseverity = \"medium\"\n",
    );
    let f = the(&a, "sod_conflict");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(
        fact(f, "mitigation"),
        "Monthly review of vendor changes by the Controller"
    );
    assert_eq!(fact(f, "mitigation_owner"), "E7");
    assert_eq!(fact(f, "mitigation_expires"), "2026-11-01");
    assert!(!f.facts.contains_key("mitigation_expired"));
    explains(f, "Mitigated until 2026-11-01");
    explains(f, "severity lowered from critical");
}

#[test]
fn mitigation_severity_defaults_to_low() {
    let a = mitigated("control = \"Dual control\"\nowner = \"E7\"\nexpires = \"2027-06-30\"\n");
    assert_eq!(the(&a, "sod_conflict").severity, Severity::Low);
}

#[test]
fn expired_mitigation_does_not_downgrade_and_says_so() {
    let a = mitigated(
        "control = \"Dual control\"\nowner = \"E7\"\nexpires = \"2026-10-31\"\nseverity = \"low\"\n",
    );
    let f = the(&a, "sod_conflict");
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(fact(f, "mitigation_expired"), "2026-10-31");
    assert!(!f.facts.contains_key("mitigation"));
    assert!(!f.facts.contains_key("mitigation_expires"));
    explains(
        f,
        "A compensating control (Dual control) expired on 2026-10-31",
    );
}

#[test]
fn mitigation_for_other_people_does_not_apply() {
    let a = mitigated(
        "identities = [\"E5\"]\ncontrol = \"Dual control\"\nowner = \"E7\"\nexpires = \"2027-06-30\"\n",
    );
    let f = the(&a, "sod_conflict");
    assert_eq!(f.severity, Severity::Critical);
    assert!(!f.facts.contains_key("mitigation"));
    assert!(!f.facts.contains_key("mitigation_expired"));

    let a = mitigated(
        "identities = [\"E4\"]\ncontrol = \"Dual control\"\nowner = \"E7\"\nexpires = \"2027-06-30\"\n",
    );
    assert_eq!(the(&a, "sod_conflict").severity, Severity::Low);
}

#[test]
fn ruleset_pattern_matching_nothing_is_a_warning() {
    let rules = r#"
[[rule]]
id = "SOD-X-01"
name = "Typo"
sets = [["erp:role/Vendor_Maintain"], ["erp:role/Does_Not_Exist"]]
"#;
    let mut org = sod_org();
    org.grant(DANA_ERP, VENDOR, GrantSource::Role, None);
    let a = sod(org, rules);
    assert_eq!(a.warnings.len(), 1, "{:?}", a.warnings);
    assert!(a.warnings[0].contains("SOD-X-01"), "{}", a.warnings[0]);
    assert!(
        a.warnings[0].contains("`erp:role/Does_Not_Exist` matches no entitlement"),
        "{}",
        a.warnings[0]
    );
    assert_none(&a, "sod_conflict");
}

#[test]
fn sod_severity_is_not_shifted_by_criticality() {
    let mut org = sod_org();
    org.grant(ELI_ERP, VENDOR, GrantSource::Role, None);
    org.grant(ELI_ERP, AP_APPROVER, GrantSource::Role, None);
    org.sys(S0).config.criticality = Some(Criticality::Low);
    let a = sod(org, WILDCARD);
    assert_eq!(the(&a, "sod_conflict").severity, Severity::High);
}

// ---------------------------------------------------------------------------------------------
// mover_kept_access
// ---------------------------------------------------------------------------------------------

/// Mo (E1) moved from Finance accountant to Sales rep `days` ago and still posts invoices
/// through the accounting role he is no longer a member of, like both remaining accountants
/// and unlike both other reps.
fn mover(days: i64, privileged: bool) -> Org {
    let mut org = Org::new();
    let erp = org.plain_system("erp");
    org.staff("E1", "Mo Mover", "Sales", "Rep");
    org.staff("E2", "Acc One", "Finance", "Accountant");
    org.staff("E3", "Acc Two", "Finance", "Accountant");
    org.staff("E4", "Rep One", "Sales", "Rep");
    org.staff("E5", "Rep Two", "Sales", "Rep");
    org.moved("E1", "Finance", "Accountant", days_ago(days));
    let post = org.entitlement(erp, "role/Invoice_Post", privileged);
    for (native, who) in [("mo", "E1"), ("acc1", "E2"), ("acc2", "E3")] {
        let a = org.account(erp, native, Some(who), AccountKind::Human);
        org.grant(a, post, GrantSource::Role, Some("role:accounting"));
    }
    org.role("accounting", &[post], &["E2", "E3"]);
    org
}

#[test]
fn mover_who_kept_the_old_jobs_access_is_reported() {
    let a = run(&mover(60, false).finish());
    let f = the(&a, "mover_kept_access");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(identity_of(f), Some("E1"));
    assert_eq!(system_of(f), Some("erp"));
    assert_eq!(f.entitlements, refs(&["erp:role/Invoice_Post"]));
    assert_eq!(fact(f, "moved_on"), date(days_ago(60)));
    assert_eq!(fact(f, "from"), "Finance, Accountant");
    assert_eq!(fact(f, "to"), "Sales, Rep");
    assert_eq!(fact(f, "source"), "history");
    explains(
        f,
        &format!("moved from Finance (Accountant) on {}", date(days_ago(60))),
    );
    explains(
        f,
        "it cites role:accounting, whose members do not include the holder",
    );
    // Reported once, as kept access: not again as drift or an outlier.
    assert_eq!(rules_found(&a), ["mover_kept_access"]);
    assert_eq!(
        f.id,
        finding_id("mover_kept_access", &["E1", "", "", &date(days_ago(60))])
    );
}

#[test]
fn mover_keeping_many_grants_is_one_finding_listing_them() {
    let mut org = mover(60, false);
    let mo = AccountIx::at(0);
    for n in 0..4 {
        let e = org.entitlement(S0, &format!("role/Finance_{n}"), false);
        org.grant(mo, e, GrantSource::Role, Some("role:accounting"));
        let r = org.ent_ref(e);
        org.inv.roles[0].entitlements.push(r);
    }
    org.inv.roles[0].entitlements.sort();
    let a = run(&org.finish());
    let f = the(&a, "mover_kept_access");
    assert_eq!(fact(f, "grants"), "5");
    assert_eq!(f.entitlements.len(), 5);
    assert_eq!(rules_found(&a), ["mover_kept_access"]);
}

#[test]
fn mover_is_reported_once_the_grace_period_is_over() {
    assert_eq!(
        by_rule(&run(&mover(30, false).finish()), "mover_kept_access").len(),
        1
    );
}

#[test]
fn mover_within_the_grace_period_raises_nothing() {
    let a = run(&mover(29, false).finish());
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
}

#[test]
fn access_kept_after_the_window_is_unwarranted_drift() {
    let a = run(&mover(366, false).finish());
    assert_none(&a, "mover_kept_access");
    let f = the(&a, "unwarranted_grant");
    assert_eq!(identity_of(f), Some("E1"));
    explains(f, "whose members do not include the holder");
}

#[test]
fn mover_whose_new_role_explains_the_access_is_not_reported() {
    let mut org = mover(60, false);
    org.role("sales-invoicing", &[E0], &["E1"]);
    assert_none(&run(&org.finish()), "mover_kept_access");
}

#[test]
fn mover_keeping_privileged_access_escalates() {
    let a = run(&mover(60, true).finish());
    assert_eq!(the(&a, "mover_kept_access").severity, Severity::High);
}

/// Mo as the first import shows him: no history, but the HR feed's position columns say he
/// became a Sales rep `days` ago after being a Finance accountant. His invoice posting is a
/// direct grant, as are the accountants'.
fn mover_by_hr_columns(days: i64) -> Org {
    let mut org = Org::new();
    let erp = org.plain_system("erp");
    org.staff("E1", "Mo Mover", "Sales", "Rep");
    let mo = org.inv.identities[0].person.as_mut().unwrap();
    mo.position_start = Some(days_ago(days).to_zoned(jiff::tz::TimeZone::UTC).date());
    mo.previous_department = Some("Finance".into());
    mo.previous_title = Some("Accountant".into());
    org.staff("E2", "Acc One", "Finance", "Accountant");
    org.staff("E3", "Acc Two", "Finance", "Accountant");
    org.staff("E4", "Rep One", "Sales", "Rep");
    org.staff("E5", "Rep Two", "Sales", "Rep");
    let post = org.entitlement(erp, "role/Invoice_Post", false);
    for (native, who) in [("mo", "E1"), ("acc1", "E2"), ("acc2", "E3")] {
        let a = org.account(erp, native, Some(who), AccountKind::Human);
        org.grant(
            a,
            post,
            GrantSource::Request,
            Some(&format!("request:R-{who}")),
        );
        org.record(
            WarrantKind::Request,
            &format!("R-{who}"),
            who,
            post,
            Some("M1"),
            at("2025-01-10"),
        );
    }
    org
}

#[test]
fn mover_is_found_from_the_first_import_by_the_hr_position_columns() {
    let a = run(&mover_by_hr_columns(60).finish());
    let f = the(&a, "mover_kept_access");
    assert_eq!(fact(f, "source"), "hr");
    assert_eq!(fact(f, "from"), "Finance, Accountant");
    explains(
        f,
        "held by 100% of Accountants in Finance and 0% of the new peers",
    );
    explains(
        f,
        "approved through request:R-E1 on 2025-01-10, before the move",
    );
    explains(f, "the date of the current position in the HR feed");
    // Reported as kept access, not as access outside roles.
    assert!(
        !by_rule(&a, "rbac_exception")
            .iter()
            .any(|f| identity_of(f) == Some("E1"))
    );
}

#[test]
fn access_given_after_the_move_is_not_kept_access() {
    let mut org = mover_by_hr_columns(60);
    org.inv.grants[0].granted_at = Some(days_ago(10));
    org.inv.grants[0].first_seen = days_ago(5);
    org.inv.warrant_records[0].approved_at = days_ago(12);
    let a = run(&org.finish());
    assert_none(&a, "mover_kept_access");
}

#[test]
fn mover_without_previous_title_in_the_feed_is_not_judged_by_the_columns() {
    let mut org = mover_by_hr_columns(60);
    org.inv.identities[0]
        .person
        .as_mut()
        .unwrap()
        .previous_title = None;
    assert_none(&run(&org.finish()), "mover_kept_access");
}

// ---------------------------------------------------------------------------------------------
// rehire_kept_access
// ---------------------------------------------------------------------------------------------

/// Rita (E1) worked here until 2024, came back on 2026-06-01 (the HR feed's rehire date) and
/// still holds the GL posting she had before, granted on 2023-04-03 as the system says.
fn rehire(granted_at: &str) -> Org {
    let mut org = Org::new();
    let gl = org.system("gl", Some(Criticality::High), true);
    org.staff("E1", "Rita Return", "Sales", "Rep");
    let p = org.inv.identities[0].person.as_mut().unwrap();
    p.start_date = Some(gatehouse_model::parse_date("2019-02-01").unwrap());
    p.rehire_date = Some(gatehouse_model::parse_date("2026-06-01").unwrap());
    let a = org.account(gl, "rita", Some("E1"), AccountKind::Human);
    let post = org.entitlement(gl, "role/JE_Post", false);
    let g = org.grant(a, post, GrantSource::Direct, None);
    g.granted_at = Some(at(granted_at));
    g.first_seen = at("2026-07-01");
    org
}

#[test]
fn rehire_holding_access_from_the_earlier_employment_is_reported_on_its_own() {
    let a = run(&rehire("2023-04-03").finish());
    let f = the(&a, "rehire_kept_access");
    assert_eq!(f.severity, Severity::High, "on a SOX system");
    assert_eq!(identity_of(f), Some("E1"));
    assert_eq!(f.entitlements, refs(&["gl:role/JE_Post"]));
    assert_eq!(fact(f, "rehired_on"), "2026-06-01");
    assert_eq!(fact(f, "source"), "hr");
    assert_eq!(fact(f, "granted_at"), "2023-04-03");
    explains(f, "left and came back on 2026-06-01");
    explains(f, "held since 2023-04-03, before the return on 2026-06-01");
    assert_eq!(rules_found(&a), ["rehire_kept_access"]);
}

#[test]
fn access_given_after_the_return_is_judged_as_any_other() {
    let a = run(&rehire("2026-06-01").finish());
    assert_none(&a, "rehire_kept_access");
    the(&a, "unwarranted_grant");
}

#[test]
fn rehire_seen_in_the_history_is_reported_too() {
    let mut org = rehire("2026-06-01");
    let p = org.inv.identities[0].person.as_mut().unwrap();
    p.rehire_date = None;
    let mut inv = org.finish();
    inv.grants[0].granted_at = None;
    inv.grants[0].first_seen = at("2025-01-01");
    inv.rehires.push(gatehouse_model::state::Rehire {
        identity: gatehouse_model::state::IdentityIx::at(0),
        at: at("2026-05-01"),
    });
    let a = run(&inv);
    let f = the(&a, "rehire_kept_access");
    assert_eq!(fact(f, "source"), "history");
    assert_eq!(fact(f, "rehired_on"), "2026-05-01");
}

#[test]
fn without_the_rehire_rule_old_access_is_drift() {
    let inv = rehire("2023-04-03").finish();
    let a = run_with(&inv, "[rules.rehire_kept_access]\nenabled = false\n", "");
    assert_eq!(rules_found(&a), ["unwarranted_grant"]);
}

#[test]
fn rehire_whose_current_role_explains_the_access_raises_nothing() {
    let mut org = rehire("2023-04-03");
    org.role("gl-posting", &[E0], &["E1"]);
    let a = run(&org.finish());
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
}

// ---------------------------------------------------------------------------------------------
// peer_outlier
// ---------------------------------------------------------------------------------------------

/// Three developers; E1 alone holds the payroll export, through an approved request.
fn peers(developers: &[&str], privileged: bool) -> Org {
    let mut org = Org::new();
    let erp = org.plain_system("erp");
    for key in developers {
        org.staff(key, &format!("Dev {key}"), "Engineering", "Developer");
    }
    let export = org.entitlement(erp, "report/Payroll_Export", privileged);
    let a = org.account(erp, "e1", Some("E1"), AccountKind::Human);
    org.grant(a, export, GrantSource::Request, Some("request:REQ-5"))
        .expires_at = Some(days_ahead(30));
    org.record(
        WarrantKind::Request,
        "REQ-5",
        "E1",
        export,
        Some("M1"),
        at("2026-09-01"),
    )
    .expires_at = Some(days_ahead(30));
    org
}

#[test]
fn entitlement_none_of_the_peers_hold_is_an_outlier() {
    let a = run(&peers(&["E1", "E2", "E3"], false).finish());
    let f = the(&a, "peer_outlier");
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(identity_of(f), Some("E1"));
    assert_eq!(f.entitlements, refs(&["erp:report/Payroll_Export"]));
    assert_eq!(fact(f, "peer_group"), "Engineering, Developer");
    assert_eq!(fact(f, "peers"), "2");
    explains(
        f,
        "report/Payroll_Export (erp:report/Payroll_Export) (0 of 2 peers)",
    );
    assert!(crate::is_insight(f), "a low outlier is an insight");
}

#[test]
fn approved_privileged_outlier_stays_an_insight() {
    let a = run(&peers(&["E1", "E2", "E3"], true).finish());
    let f = the(&a, "peer_outlier");
    assert_eq!(f.severity, Severity::Low);
    assert!(crate::is_insight(f));
}

#[test]
fn unexplained_outlier_is_drift_and_not_listed_again() {
    let mut org = peers(&["E1", "E2", "E3"], true);
    org.inv.warrant_records.clear();
    let a = run(&org.finish());
    assert_none(&a, "peer_outlier");
    the(&a, "unwarranted_grant");
}

#[test]
fn unexplained_privileged_outlier_escalates_when_drift_is_not_checked() {
    let mut org = peers(&["E1", "E2", "E3"], true);
    org.inv.warrant_records.clear();
    let inv = org.finish();
    let a = run_with(&inv, "[rules.unwarranted_grant]\nenabled = false\n", "");
    let f = the(&a, "peer_outlier");
    assert_eq!(f.severity, Severity::Medium);
    assert!(!crate::is_insight(f), "a medium outlier is a finding");
}

#[test]
fn too_few_peers_give_no_outlier() {
    assert_none(&run(&peers(&["E1", "E2"], false).finish()), "peer_outlier");
}

#[test]
fn entitlement_a_peer_also_holds_is_no_outlier() {
    let mut org = peers(&["E1", "E2", "E3"], false);
    let a = org.account(S0, "e2", Some("E2"), AccountKind::Human);
    org.grant(a, E0, GrantSource::Role, Some("role:exports"));
    org.role("exports", &[E0], &["E2"]);
    assert_none(&run(&org.finish()), "peer_outlier");
}

#[test]
fn entitlement_a_role_explains_is_no_outlier() {
    let mut org = peers(&["E1", "E2", "E3"], false);
    org.role("payroll-reporting", &[E0], &["E1"]);
    assert_none(&run(&org.finish()), "peer_outlier");
}

// ---------------------------------------------------------------------------------------------
// Warrants: rbac_exception, unwarranted_grant, reappeared_grant, self_approved_grant,
// expired_grant
// ---------------------------------------------------------------------------------------------

/// Fay (E6, Finance accountant) with one ERP account; entitlements `role/Reports` (0) and
/// `role/Other` (1); E2 is a colleague.
fn fay() -> Org {
    let mut org = Org::new();
    let erp = org.plain_system("erp");
    org.staff("E6", "Fay Finance", "Finance", "Accountant");
    org.staff("E2", "Gus Finance", "Finance", "Accountant");
    org.account(erp, "fay", Some("E6"), AccountKind::Human);
    org.entitlement(erp, "role/Reports", false);
    org.entitlement(erp, "role/Other", false);
    org
}

const FAY: AccountIx = AccountIx::at(0);
const REPORTS: EntitlementIx = EntitlementIx::at(0);
const OTHER: EntitlementIx = EntitlementIx::at(1);

#[test]
fn approved_request_outside_any_role_is_an_rbac_exception() {
    let mut org = fay();
    org.grant(FAY, REPORTS, GrantSource::Request, Some("request:REQ-1"));
    org.record(
        WarrantKind::Request,
        "REQ-1",
        "E6",
        REPORTS,
        Some("M1"),
        at("2026-02-01"),
    );
    let a = run(&org.finish());
    let f = the(&a, "rbac_exception");
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(identity_of(f), Some("E6"));
    assert_eq!(system_of(f), Some("erp"));
    assert_eq!(f.account.as_deref(), Some("fay"));
    assert_eq!(f.entitlements, refs(&["erp:role/Reports"]));
    assert_eq!(fact(f, "count"), "1");
    explains(f, "not through a role");
    assert_none(&a, "unwarranted_grant");
    assert_eq!(a.warranted_grants, 1);
}

#[test]
fn grant_through_a_role_is_no_exception() {
    let mut org = fay();
    org.grant(FAY, REPORTS, GrantSource::Role, Some("role:reporting"));
    org.role("reporting", &[REPORTS], &["E6"]);
    let a = run(&org.finish());
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
    assert_eq!(a.warranted_grants, 1);
}

#[test]
fn requested_grant_that_a_role_also_explains_is_no_exception() {
    let mut org = fay();
    org.grant(FAY, REPORTS, GrantSource::Request, Some("request:REQ-1"));
    org.record(
        WarrantKind::Request,
        "REQ-1",
        "E6",
        REPORTS,
        Some("M1"),
        at("2026-02-01"),
    );
    org.role("reporting", &[REPORTS], &["E6"]);
    let a = run(&org.finish());
    assert_none(&a, "rbac_exception");
    assert_eq!(a.warranted_grants, 1);
}

#[test]
fn birthright_grant_of_a_matching_person_is_warranted() {
    let mut org = fay();
    org.grant(
        FAY,
        REPORTS,
        GrantSource::Birthright,
        Some("birthright:finance-base"),
    );
    org.role("finance-base", &[REPORTS], &[])
        .birthright
        .push(Condition {
            attribute: "department".into(),
            any_of: vec!["Finance".into()],
        });
    let a = run(&org.finish());
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
    assert_eq!(a.warranted_grants, 1);
}

#[test]
fn grant_without_warrant_is_unwarranted() {
    let mut org = fay();
    org.grant(FAY, REPORTS, GrantSource::Direct, None);
    let a = run(&org.finish());
    let f = the(&a, "unwarranted_grant");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(identity_of(f), Some("E6"));
    assert_eq!(system_of(f), Some("erp"));
    assert_eq!(f.account.as_deref(), Some("fay"));
    assert_eq!(f.entitlements, refs(&["erp:role/Reports"]));
    assert_eq!(fact(f, "source"), "direct");
    assert_eq!(fact(f, "first_seen"), "2026-01-01");
    assert!(!f.facts.contains_key("warrant"));
    explains(f, "since 2026-01-01, source `direct`");
    explains(f, "no warrant is recorded for it");
    assert_eq!(a.warranted_grants, 0);
    assert_none(&a, "rbac_exception");
}

#[test]
fn unwarranted_grant_on_sox_system_or_privileged_escalates() {
    let mut org = fay();
    org.sys(S0).config.frameworks = vec!["sox".into()];
    org.grant(FAY, REPORTS, GrantSource::Direct, None);
    assert_eq!(
        the(&run(&org.finish()), "unwarranted_grant").severity,
        Severity::High
    );

    let mut org = fay();
    org.inv.entitlements[REPORTS.index()].record.privileged = true;
    org.grant(FAY, REPORTS, GrantSource::Direct, None);
    assert_eq!(
        the(&run(&org.finish()), "unwarranted_grant").severity,
        Severity::High
    );
}

#[test]
fn grant_citing_an_invalid_warrant_is_unwarranted_with_the_reason() {
    let cases: &[(&str, &str)] = &[
        (
            "request:REQ-404",
            "it cites request:REQ-404, which is not among the warrant records",
        ),
        (
            "request:REQ-2",
            "request:REQ-2 was granted to E2, not to the holder",
        ),
        (
            "request:REQ-3",
            "request:REQ-3 is for erp:role/Other, not for this entitlement",
        ),
        ("request:REQ-4", "request:REQ-4 has no approver"),
        (
            "role:nosuchrole",
            "it cites role:nosuchrole, which is not in the role catalogue",
        ),
        (
            "role:other-only",
            "it cites role:other-only, which does not include it",
        ),
        (
            "role:reporting",
            "it cites role:reporting, whose members do not include the holder (any more)",
        ),
    ];
    for &(warrant, reason) in cases {
        let mut org = fay();
        org.grant(FAY, REPORTS, GrantSource::Request, Some(warrant));
        let t = at("2026-02-01");
        org.record(WarrantKind::Request, "REQ-2", "E2", REPORTS, Some("M1"), t);
        org.record(WarrantKind::Request, "REQ-3", "E6", OTHER, Some("M1"), t);
        org.record(WarrantKind::Request, "REQ-4", "E6", REPORTS, None, t);
        org.role("other-only", &[OTHER], &["E6"]);
        org.role("reporting", &[REPORTS], &["E2"]);
        let a = run(&org.finish());
        let f = the(&a, "unwarranted_grant");
        assert_eq!(fact(f, "warrant"), warrant);
        explains(f, reason);
    }
}

#[test]
fn break_glass_record_without_approver_is_a_valid_warrant() {
    let mut org = fay();
    org.grant(
        FAY,
        REPORTS,
        GrantSource::BreakGlass,
        Some("break_glass:BG-1"),
    );
    org.record(
        WarrantKind::BreakGlass,
        "BG-1",
        "E6",
        REPORTS,
        None,
        at("2026-10-30"),
    );
    let a = run(&org.finish());
    assert_none(&a, "unwarranted_grant");
    assert_none(&a, "self_approved_grant");
    assert_eq!(a.warranted_grants, 1);
}

/// Fay's report access was removed on 2026-06-01 and came back on 2026-07-15, citing
/// REQ-1 approved at `approved_at`.
fn reappeared(warrant: Option<&str>, approved_at: Timestamp) -> Inventory {
    let mut org = fay();
    let g = org.grant(FAY, REPORTS, GrantSource::Request, warrant);
    g.removed_before = Some(at("2026-06-01"));
    g.first_seen = at("2026-07-15");
    org.record(
        WarrantKind::Request,
        "REQ-1",
        "E6",
        REPORTS,
        Some("M1"),
        approved_at,
    );
    org.finish()
}

#[test]
fn grant_back_after_removal_on_the_old_approval_is_reported() {
    let a = run(&reappeared(Some("request:REQ-1"), at("2026-03-01")));
    let f = the(&a, "reappeared_grant");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(identity_of(f), Some("E6"));
    assert_eq!(system_of(f), Some("erp"));
    assert_eq!(f.account.as_deref(), Some("fay"));
    assert_eq!(f.entitlements, refs(&["erp:role/Reports"]));
    assert_eq!(fact(f, "removed_on"), "2026-06-01");
    assert_eq!(fact(f, "first_seen"), "2026-07-15");
    assert_eq!(fact(f, "warrant"), "request:REQ-1");
    explains(f, "removed on 2026-06-01, back since 2026-07-15");
    explains(f, "still citing request:REQ-1, approved before the removal");
    assert_none(&a, "unwarranted_grant");
    assert_none(&a, "rbac_exception");
    assert_eq!(a.warranted_grants, 0);
}

#[test]
fn grant_back_after_removal_without_warrant_is_reappeared_only() {
    let a = run(&reappeared(None, at("2026-03-01")));
    explains(the(&a, "reappeared_grant"), "with no warrant");
    assert_none(&a, "unwarranted_grant");
}

#[test]
fn grant_back_with_a_new_approval_after_the_removal_is_not_reappeared() {
    let a = run(&reappeared(Some("request:REQ-1"), at("2026-07-01")));
    assert_none(&a, "reappeared_grant");
    assert_eq!(a.warranted_grants, 1);
    // Approved at the very moment of the removal counts as new.
    let a = run(&reappeared(Some("request:REQ-1"), at("2026-06-01")));
    assert_none(&a, "reappeared_grant");
}

#[test]
fn grant_back_through_a_role_is_not_reappeared() {
    let mut org = fay();
    let g = org.grant(FAY, REPORTS, GrantSource::Role, None);
    g.removed_before = Some(at("2026-06-01"));
    org.role("reporting", &[REPORTS], &["E6"]);
    let a = run(&org.finish());
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
}

fn approved_by(kind: WarrantKind, approver: Option<&str>) -> Inventory {
    let mut org = fay();
    let warrant = format!("{kind}:X-1");
    org.grant(FAY, REPORTS, GrantSource::Request, Some(warrant.as_str()));
    org.record(kind, "X-1", "E6", REPORTS, approver, at("2026-02-01"));
    org.finish()
}

#[test]
fn request_approved_by_its_holder_is_self_approved() {
    let a = run(&approved_by(WarrantKind::Request, Some("E6")));
    let f = the(&a, "self_approved_grant");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(identity_of(f), Some("E6"));
    assert_eq!(f.account.as_deref(), Some("fay"));
    assert_eq!(f.entitlements, refs(&["erp:role/Reports"]));
    assert_eq!(fact(f, "approved_at"), "2026-02-01");
    explains(
        f,
        "request:X-1, which they approved themselves on 2026-02-01",
    );
    assert_none(&a, "unwarranted_grant");
    assert_none(&a, "rbac_exception");
    assert_eq!(a.warranted_grants, 0);

    let a = run(&approved_by(WarrantKind::Review, Some("E6")));
    assert_eq!(by_rule(&a, "self_approved_grant").len(), 1);
}

#[test]
fn request_approved_by_someone_else_or_own_break_glass_use_is_not_self_approved() {
    let a = run(&approved_by(WarrantKind::Request, Some("M1")));
    assert_none(&a, "self_approved_grant");
    assert_eq!(a.warranted_grants, 1);
    // A break-glass record names the person who used it; that is no approval.
    let a = run(&approved_by(WarrantKind::BreakGlass, Some("E6")));
    assert_none(&a, "self_approved_grant");
    assert_eq!(a.warranted_grants, 1);
}

/// Fay's report access, properly requested, ending at `grant_end` (on the grant) or
/// `record_end` (on the request).
fn time_bound(
    grant_end: Option<Timestamp>,
    record_end: Option<Timestamp>,
    privileged: bool,
) -> Org {
    let mut org = fay();
    org.inv.entitlements[REPORTS.index()].record.privileged = privileged;
    org.grant(FAY, REPORTS, GrantSource::Request, Some("request:REQ-1"))
        .expires_at = grant_end;
    org.record(
        WarrantKind::Request,
        "REQ-1",
        "E6",
        REPORTS,
        Some("M1"),
        at("2026-02-01"),
    )
    .expires_at = record_end;
    org
}

#[test]
fn grant_present_at_its_end_date_is_expired() {
    let a = run(&time_bound(Some(now()), None, false).finish());
    let f = the(&a, "expired_grant");
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(identity_of(f), Some("E6"));
    assert_eq!(system_of(f), Some("erp"));
    assert_eq!(f.account.as_deref(), Some("fay"));
    assert_eq!(f.entitlements, refs(&["erp:role/Reports"]));
    assert_eq!(fact(f, "ended_on"), "2026-11-01");
    explains(f, "granted until 2026-11-01");
    assert_eq!(a.warranted_grants, 0);
    assert_none(&a, "rbac_exception");
}

#[test]
fn grant_outliving_its_request_is_expired_and_privilege_escalates() {
    let a = run(&time_bound(None, Some(days_ago(10)), true).finish());
    let f = the(&a, "expired_grant");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(fact(f, "ended_on"), date(days_ago(10)));
}

#[test]
fn grant_ending_a_second_after_the_snapshot_is_not_expired() {
    let a = run(&time_bound(Some(plus_seconds(now(), 1)), None, false).finish());
    assert_none(&a, "expired_grant");
    assert_eq!(a.warranted_grants, 1);
}

#[test]
fn grant_ending_after_a_stale_snapshot_is_not_expired() {
    // Seen present on 2026-10-01, meant to end on 2026-10-15: nobody knows it is still there.
    let mut org = time_bound(Some(at("2026-10-15")), None, false);
    org.sys(S0).as_of = Some(at("2026-10-01"));
    assert_none(&run(&org.finish()), "expired_grant");
}

// ---------------------------------------------------------------------------------------------
// status_access and the status policy
// ---------------------------------------------------------------------------------------------

/// Sam (E1, Finance accountant) in an HR status, with an ERP account holding his birthright
/// and his job role's access, as everyone in Finance has.
fn status_org(status: &str) -> Org {
    let mut org = Org::new();
    let erp = org.plain_system("erp");
    org.staff("E1", "Sam Status", "Finance", "Accountant");
    let p = org.inv.identities[0].person.as_mut().unwrap();
    p.status = EmploymentStatus::from_hr(status).unwrap();
    p.hr_status = (!status.eq_ignore_ascii_case(p.status.as_str())).then(|| status.to_owned());
    let a = org.account(erp, "sam", Some("E1"), AccountKind::Human);
    org.acc(a).last_login = Some(days_ago(200));
    let staff = org.entitlement(erp, "group/Staff", false);
    let post = org.entitlement(erp, "role/Invoice_Post", false);
    org.grant(
        a,
        staff,
        GrantSource::Birthright,
        Some("birthright:finance"),
    );
    org.grant(a, post, GrantSource::Role, Some("role:accountant"));
    org.role("finance", &[staff], &[])
        .birthright
        .push(Condition {
            attribute: "department".into(),
            any_of: vec!["Finance".into()],
        });
    org.role("accountant", &[post], &["E1"]);
    org
}

#[test]
fn people_on_leave_keep_birthright_and_role_access_and_raise_nothing() {
    for status in [
        "leave",
        "Leave of Absence",
        "Parental Leave",
        "Medical Leave",
        "Sabbatical",
    ] {
        let a = run(&status_org(status).finish());
        assert!(a.findings.is_empty(), "{status}: {:#?}", a.findings);
        assert_eq!(a.warranted_grants, 2, "{status}");
    }
}

#[test]
fn suspended_person_with_an_enabled_account_is_reported_once() {
    let a = run(&status_org("Administrative Suspension").finish());
    let f = the(&a, "status_access");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(identity_of(f), Some("E1"));
    assert_eq!(f.account.as_deref(), Some("sam"));
    assert_eq!(fact(f, "status"), "suspended");
    assert_eq!(fact(f, "hr_status"), "Administrative Suspension");
    assert_eq!(fact(f, "enabled_accounts"), "1");
    explains(f, "is Administrative Suspension (suspended)");
    explains(
        f,
        "the status policy keeps no access while a person is suspended",
    );
    // Their grants are not reported again one by one, nor is the idle account.
    assert_eq!(rules_found(&a), ["status_access"]);
}

#[test]
fn suspended_person_with_disabled_accounts_raises_nothing() {
    let mut org = status_org("suspended");
    org.acc(A0).enabled = false;
    let a = run(&org.finish());
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
}

#[test]
fn status_policy_decides_what_a_status_keeps() {
    let inv = status_org("suspended").finish();
    let a = run_with(&inv, "[status]\nsuspended = \"roles\"\n", "");
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
    // By the HR feed's own words, ignoring case.
    let inv = status_org("Garden Leave").finish();
    assert!(run(&inv).findings.is_empty());
    let a = run_with(
        &inv,
        "[status.hr_status]\n\"garden leave\" = \"none\"\n",
        "",
    );
    explains(the(&a, "status_access"), "`[status.hr_status]`");
    let err = Policy::from_toml("[status]\nleave = \"sometimes\"\n", Path::new("p"))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("p:2:"), "{err}");
}

#[test]
fn birthright_that_no_longer_applies_names_the_unmet_condition() {
    let mut org = status_org("active");
    org.inv.identities[0].person.as_mut().unwrap().department = Some("Sales".into());
    let a = run(&org.finish());
    let f = the(&a, "unwarranted_grant");
    explains(
        f,
        "it cites birthright:finance, whose condition department = Finance the holder does not \
         meet (department is `Sales`)",
    );
}

#[test]
fn employment_type_decides_birthright_rules() {
    let contractor = |kind: &str| {
        let mut org = status_org("active");
        org.acc(A0).last_login = Some(days_ago(1));
        org.inv.identities[0]
            .person
            .as_mut()
            .unwrap()
            .employment_type = Some(kind.into());
        let licence = org.entitlement(S0, "licence/F3", false);
        org.grant(
            A0,
            licence,
            GrantSource::Birthright,
            Some("birthright:contractors"),
        );
        org.role("contractors", &[licence], &[])
            .birthright
            .push(Condition {
                attribute: "employment_type".into(),
                any_of: vec!["Contractor".into()],
            });
        run(&org.finish())
    };
    let a = contractor("Contractor");
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
    let a = contractor("Employee");
    explains(
        the(&a, "unwarranted_grant"),
        "whose condition employment_type = Contractor the holder does not meet \
         (employment_type is `Employee`)",
    );
}

// ---------------------------------------------------------------------------------------------
// Legitimate exceptions: standing policies, approved exceptions, admin, service and emergency
// accounts
// ---------------------------------------------------------------------------------------------

/// Fay's report access citing `warrant`, with a standing policy POL-1 (owner E9, approved by
/// E8, in force for a year) and an exception EXC-1 for Fay.
fn with_policy(warrant: &str) -> Org {
    let mut org = fay();
    org.grant(FAY, REPORTS, GrantSource::Direct, Some(warrant));
    let r = org.record(
        WarrantKind::Policy,
        "POL-1",
        "E6",
        REPORTS,
        Some("E8"),
        at("2026-01-15"),
    );
    r.identity = None;
    r.entitlement = None;
    r.owner = Some(ikey("E9"));
    r.expires_at = Some(days_ahead(365));
    let r = org.record(
        WarrantKind::Exception,
        "EXC-1",
        "E6",
        REPORTS,
        Some("E8"),
        at("2026-03-01"),
    );
    r.owner = Some(ikey("E9"));
    r.expires_at = Some(days_ahead(60));
    org
}

#[test]
fn grant_citing_a_standing_policy_is_warranted() {
    let a = run(&with_policy("policy:POL-1").finish());
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
    assert_eq!(a.warranted_grants, 1);
}

#[test]
fn approved_exception_outside_the_role_is_an_insight_only() {
    let a = run(&with_policy("exception:EXC-1").finish());
    let f = the(&a, "rbac_exception");
    assert!(crate::is_insight(f));
    assert_eq!(a.findings.len(), 1, "{:#?}", a.findings);
    assert_eq!(a.warranted_grants, 1);
}

#[test]
fn standing_warrants_must_be_owned_current_and_for_the_holder() {
    let mut org = with_policy("policy:POL-1");
    org.inv.warrant_records[0].owner = None;
    explains(
        the(&run(&org.finish()), "unwarranted_grant"),
        "policy:POL-1 has no owner",
    );
    let mut org = with_policy("policy:POL-1");
    org.inv.warrant_records[0].expires_at = Some(days_ago(1));
    explains(the(&run(&org.finish()), "expired_grant"), "granted until");
    let mut org = with_policy("exception:EXC-1");
    org.inv.warrant_records[1].identity = Some(ikey("E2"));
    explains(
        the(&run(&org.finish()), "unwarranted_grant"),
        "exception:EXC-1 was granted to E2, not to the holder",
    );
    let mut org = with_policy("exception:EXC-1");
    org.inv.warrant_records[1].approved_by = Some(ikey("E6"));
    the(&run(&org.finish()), "self_approved_grant");
}

#[test]
fn standing_policy_naming_an_entitlement_covers_only_it() {
    let mut org = with_policy("policy:POL-1");
    org.grant(FAY, OTHER, GrantSource::Direct, Some("policy:POL-1"));
    let reports = org.ent_ref(REPORTS);
    org.inv.warrant_records[0].entitlement = Some(reports);
    let a = run(&org.finish());
    let f = the(&a, "unwarranted_grant");
    assert_eq!(f.entitlements, refs(&["erp:role/Other"]));
    explains(
        f,
        "policy:POL-1 is for erp:role/Reports, not for this entitlement",
    );
}

#[test]
fn suspended_person_with_privileged_access_escalates() {
    let mut org = status_org("suspended");
    let admin = org.entitlement(S0, "role/Admin", true);
    org.grant(A0, admin, GrantSource::Role, Some("role:accountant"));
    let r = org.ent_ref(admin);
    org.inv.roles[1].entitlements.push(r);
    org.inv.roles[1].entitlements.sort();
    let a = run(&org.finish());
    assert_eq!(the(&a, "status_access").severity, Severity::Critical);
}

/// An emergency account `breakglass-ad` of the identity-team lead (E1) on a critical AD:
/// MFA on, Domain Admins citing the standing emergency-access policy, unused for a year.
fn break_glass() -> Org {
    let mut org = Org::new();
    let ad = org.system("ad", Some(Criticality::Critical), false);
    org.staff("E1", "Ines Identity", "IT", "Identity Lead");
    org.staff("E2", "Ian Other", "IT", "Identity Lead");
    let a = org.account(ad, "breakglass-ad", Some("E1"), AccountKind::Emergency);
    org.acc(a).mfa = Some(true);
    org.acc(a).last_login = Some(days_ago(400));
    let da = org.entitlement(ad, "group/Domain_Admins", true);
    org.grant(a, da, GrantSource::Direct, Some("policy:EMERGENCY-ACCESS"));
    let r = org.record(
        WarrantKind::Policy,
        "EMERGENCY-ACCESS",
        "E1",
        da,
        Some("E2"),
        at("2026-01-10"),
    );
    r.identity = None;
    r.entitlement = None;
    r.owner = Some(ikey("E1"));
    r.expires_at = Some(days_ahead(200));
    org
}

#[test]
fn owned_mfa_protected_policy_covered_emergency_account_raises_nothing() {
    let a = run(&break_glass().finish());
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
    // A generic name does not make it a shared-account problem either.
    let mut org = break_glass();
    org.acc(A0).username = "root".into();
    let a = run(&org.finish());
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
}

#[test]
fn emergency_account_without_mfa_or_policy_is_reported() {
    let mut org = break_glass();
    org.acc(A0).mfa = Some(false);
    the(&run(&org.finish()), "privileged_without_mfa");

    let mut org = break_glass();
    org.inv.warrant_records.clear();
    the(&run(&org.finish()), "unwarranted_grant");

    // Not known to use MFA: not covered, so a generic name is a shared account.
    let mut org = break_glass();
    org.acc(A0).mfa = None;
    org.acc(A0).username = "root".into();
    the(&run(&org.finish()), "shared_privileged");
}

#[test]
fn admin_account_of_an_administrator_raises_nothing() {
    let mut org = Org::new();
    let ad = org.system("ad", Some(Criticality::Critical), false);
    for (key, name) in [("E1", "Ada Admin"), ("E2", "Bo Admin"), ("E3", "Cy Admin")] {
        org.staff(key, name, "IT", "Systems Administrator");
    }
    let da = org.entitlement(ad, "group/Domain_Admins", true);
    let users = org.entitlement(ad, "group/Users", false);
    for (key, user) in [("E1", "ada"), ("E2", "bo"), ("E3", "cy")] {
        let a = org.account(ad, user, Some(key), AccountKind::Human);
        org.acc(a).mfa = Some(true);
        org.grant(a, users, GrantSource::Direct, None);
        let adm = org.account(ad, &format!("adm-{user}"), Some(key), AccountKind::Admin);
        org.acc(adm).mfa = Some(true);
        org.acc(adm).last_login = Some(days_ago(20));
        org.grant(adm, da, GrantSource::Direct, None);
    }
    org.role("sysadmin", &[da, users], &["E1", "E2", "E3"]);
    let a = run(&org.finish());
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
}

/// A privileged service account owned by E1, whose grants cite nothing.
fn service(owner_status: EmploymentStatus) -> Org {
    let mut org = nhi_org(IdentityKind::ServiceAccount, tidy("E1"));
    org.inv.identities[0].person.as_mut().unwrap().status = owner_status;
    let db = org.system("proddb", Some(Criticality::Critical), true);
    let a = org.account(db, "svc-backup", Some("svc-backup"), AccountKind::Service);
    org.acc(a).mfa = Some(false);
    let dba = org.entitlement(db, "role/dba", true);
    org.grant(a, dba, GrantSource::Direct, None);
    org
}

#[test]
fn owned_privileged_service_account_raises_nothing() {
    let a = run(&service(EmploymentStatus::Active).finish());
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
    assert_eq!(a.warranted_grants, 1);
}

#[test]
fn service_account_whose_owner_left_is_reported_by_the_identity_rule_only() {
    let a = run(&service(EmploymentStatus::Terminated).finish());
    the(&a, "nhi_owner_left");
    assert_none(&a, "unwarranted_grant");
    assert_eq!(a.warranted_grants, 0);
}

// ---------------------------------------------------------------------------------------------
// One finding per person and cause; insights; grant dates
// ---------------------------------------------------------------------------------------------

#[test]
fn twelve_unexplained_grants_are_one_finding_with_the_worst_severity() {
    let mut org = fay();
    let gl = org.system("gl", Some(Criticality::High), true);
    let fay_gl = org.account(gl, "fay.gl", Some("E6"), AccountKind::Human);
    for n in 0..11 {
        let e = org.entitlement(S0, &format!("group/Team_{n:02}"), false);
        org.grant(FAY, e, GrantSource::Direct, None);
    }
    let post = org.entitlement(gl, "role/JE_Post", false);
    org.grant(fay_gl, post, GrantSource::Direct, None);
    let a = run(&org.finish());
    let f = the(&a, "unwarranted_grant");
    assert_eq!(fact(f, "grants"), "12");
    assert_eq!(f.entitlements.len(), 12);
    // Medium on the ERP, high on the SOX general ledger: the worst counts.
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.system, None);
    assert_eq!(fact(f, "systems"), "erp, gl");
    assert_eq!(f.title, "12 unwarranted grants for Fay Finance");
    explains(f, "holds 12 grants that nothing explains:");
    explains(
        f,
        "role/JE_Post (gl:role/JE_Post) on `fay.gl` on gl since 2026-01-01",
    );
    assert_eq!(f.id, finding_id("unwarranted_grant", &["E6", "", ""]));
}

#[test]
fn insights_are_rbac_exceptions_and_low_peer_outliers() {
    let finding = |rule: &str, severity| Finding {
        id: "F-0".into(),
        rule: rule.into(),
        severity,
        title: String::new(),
        identity: None,
        system: None,
        account: None,
        entitlements: vec![],
        facts: Default::default(),
        explanation: String::new(),
    };
    assert!(crate::is_insight(&finding(
        "rbac_exception",
        Severity::Info
    )));
    assert!(crate::is_insight(&finding(
        "rbac_exception",
        Severity::High
    )));
    assert!(crate::is_insight(&finding("peer_outlier", Severity::Low)));
    assert!(!crate::is_insight(&finding(
        "peer_outlier",
        Severity::Medium
    )));
    assert!(!crate::is_insight(&finding(
        "unwarranted_grant",
        Severity::Info
    )));
}

#[test]
fn date_the_system_gives_for_a_grant_is_its_since() {
    let mut org = fay();
    org.grant(FAY, REPORTS, GrantSource::Direct, None)
        .granted_at = Some(at("2024-05-06"));
    let a = run(&org.finish());
    let f = the(&a, "unwarranted_grant");
    assert_eq!(fact(f, "since"), "2024-05-06");
    assert_eq!(fact(f, "granted_at"), "2024-05-06");
    assert_eq!(fact(f, "first_seen"), "2026-01-01");
    explains(f, "since 2024-05-06");
}

#[test]
fn date_later_than_gatehouse_first_saw_the_grant_is_not_believed() {
    let mut org = fay();
    org.grant(FAY, REPORTS, GrantSource::Direct, None)
        .granted_at = Some(at("2026-03-01"));
    let a = run(&org.finish());
    assert_eq!(fact(the(&a, "unwarranted_grant"), "since"), "2026-01-01");
}

// ---------------------------------------------------------------------------------------------
// Stable ids and determinism
// ---------------------------------------------------------------------------------------------

/// Something for many rules at once.
fn messy() -> Inventory {
    let mut org = mover(60, true);
    let crm = org.system("crm", Some(Criticality::Critical), true);
    let legacy = org.system("legacy", None, false);
    org.person(
        "E8",
        "Lee Leaver",
        "Sales",
        "Rep",
        EmploymentStatus::Terminated,
        Some("2026-09-30"),
    );
    org.nhi(
        "svc-sync",
        IdentityKind::ApiKey,
        NonHuman {
            owner: Some(ikey("E8")),
            purpose: None,
            scope: vec![SystemKey::new("crm").unwrap()],
            last_rotated: Some(days_ago(200)),
            expires_at: Some(days_ahead(3)),
            last_used: Some(days_ago(120)),
            credential_created: None,
        },
    );
    let admin = org.entitlement(crm, "role/Admin", true);
    let lee = org.account(crm, "lee", Some("E8"), AccountKind::Human);
    org.grant(lee, admin, GrantSource::Direct, None);
    let shared = org.account(crm, "team-sales", Some("E4"), AccountKind::Shared);
    org.acc(shared).mfa = Some(false);
    org.acc(shared).last_login = Some(days_ago(100));
    org.grant(shared, admin, GrantSource::Direct, None);
    org.account(legacy, "ghost", None, AccountKind::Human);
    org.account(legacy, "svc-sync", Some("svc-sync"), AccountKind::Service);
    org.finish()
}

#[test]
fn analysis_is_deterministic() {
    let inv = messy();
    let one = run(&inv);
    let two = run(&inv);
    assert!(one.findings.len() >= 10, "{:#?}", one.findings);
    assert_eq!(one.findings, two.findings);
    assert_eq!(one.warnings, two.warnings);
    // Sorted by id, ids distinct and well-formed.
    let ids: Vec<&str> = one.findings.iter().map(|f| f.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids, sorted);
    for id in ids {
        assert!(
            id.len() == 18
                && id.starts_with("F-")
                && id[2..].chars().all(|c| c.is_ascii_hexdigit()),
            "{id}"
        );
    }
}

#[test]
fn leaver_finding_id_depends_on_the_objects_not_the_facts() {
    let before = run(&leaver(at("2026-09-01"), true, true));
    let after = run(&leaver(at("2026-10-05"), true, true));
    let (b, a) = (the(&before, "leaver_access"), the(&after, "leaver_access"));
    assert_ne!(b.facts, a.facts);
    assert_ne!(b.severity, a.severity);
    assert_eq!(b.id, a.id);
    assert_eq!(b.id, finding_id("leaver_access", &["E1", "", ""]));
}

// ---------------------------------------------------------------------------------------------
// Policy tuning
// ---------------------------------------------------------------------------------------------

#[test]
fn disabled_rule_finds_nothing() {
    let inv = leaver(at("2026-09-29"), true, true);
    let a = run_with(&inv, "[rules.leaver_access]\nenabled = false\n", "");
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
}

#[test]
fn disabling_every_rule_finds_nothing() {
    let text: String = RULES
        .iter()
        .map(|r| format!("[rules.{}]\nenabled = false\n", r.name))
        .collect();
    let mut org = sod_org();
    org.grant(DANA_ERP, VENDOR, GrantSource::Role, None);
    org.grant(DANA_BANK, PAYMENT, GrantSource::Role, None);
    let a = run_with(&org.finish(), &text, P2P);
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
    let a = run_with(&messy(), &text, "");
    assert!(a.findings.is_empty(), "{:#?}", a.findings);
}

#[test]
fn severity_override_replaces_the_base_and_escalations_still_apply() {
    let text = "[rules.leaver_access]\nseverity = \"low\"\n";
    let a = run_with(&leaver(at("2026-09-29"), true, true), text, "");
    assert_eq!(the(&a, "leaver_access").severity, Severity::Low);
    let a = run_with(&leaver(at("2026-10-05"), true, true), text, "");
    assert_eq!(the(&a, "leaver_access").severity, Severity::Medium);
}

/// A leaver on a system of the given criticality.
fn leaver_on(criticality: Criticality) -> Inventory {
    let mut inv = leaver(at("2026-09-29"), true, true);
    inv.systems[0].config.criticality = Some(criticality);
    inv
}

#[test]
fn criticality_shift_lowers_findings_on_low_systems_by_default() {
    let a = run(&leaver_on(Criticality::Low));
    assert_eq!(the(&a, "leaver_access").severity, Severity::Medium);
    let a = run_with(
        &leaver_on(Criticality::Low),
        "[criticality_shift]\nlow = 0\n",
        "",
    );
    assert_eq!(the(&a, "leaver_access").severity, Severity::High);
}

#[test]
fn criticality_shift_raises_findings_on_critical_systems() {
    let a = run(&leaver_on(Criticality::Critical));
    assert_eq!(the(&a, "leaver_access").severity, Severity::High);
    let a = run_with(
        &leaver_on(Criticality::Critical),
        "[criticality_shift]\ncritical = 1\n",
        "",
    );
    assert_eq!(the(&a, "leaver_access").severity, Severity::Critical);
}

#[test]
fn dormancy_threshold_of_critical_systems_is_honoured() {
    let inv = dormant(Criticality::Critical, Some(days_ago(31))).finish();
    assert_none(&run(&inv), "dormant_access");
    let a = run_with(&inv, "[thresholds.dormant_days]\ncritical = 30\n", "");
    let f = the(&a, "dormant_access");
    assert_eq!(fact(f, "threshold_days"), "30");
    explains(f, "the threshold for this system is 30 days");
}

#[test]
fn dormancy_follows_pci_dss_by_default_90_days_everywhere() {
    for criticality in Criticality::ALL {
        let inv = dormant(*criticality, Some(days_ago(90))).finish();
        assert_none(&run(&inv), "dormant_access");
        let inv = dormant(*criticality, Some(days_ago(91))).finish();
        let a = run(&inv);
        assert_eq!(fact(the(&a, "dormant_access"), "threshold_days"), "90");
    }
}

#[test]
fn dormancy_threshold_by_employment_type_is_the_stricter_one() {
    let mut org = dormant(Criticality::Medium, Some(days_ago(31)));
    org.inv.identities[0]
        .person
        .as_mut()
        .unwrap()
        .employment_type = Some("Contractor".into());
    let inv = org.finish();
    assert_none(&run(&inv), "dormant_access");
    let text = "[thresholds.dormant_days_by_employment_type]\ncontractor = 30\n";
    let a = run_with(&inv, text, "");
    let f = the(&a, "dormant_access");
    assert_eq!(fact(f, "threshold_days"), "30");
    explains(f, "the threshold for a Contractor is 30 days");
    // A looser limit for the type does not loosen the system's.
    let text = "[thresholds.dormant_days_by_employment_type]\ncontractor = 365\n";
    let inv = dormant(Criticality::Medium, Some(days_ago(91))).finish();
    assert_eq!(
        fact(
            the(&run_with(&inv, text, ""), "dormant_access"),
            "threshold_days"
        ),
        "90"
    );
}

#[test]
fn system_reporting_no_logins_at_all_says_nothing_about_dormancy() {
    let mut org = dormant(Criticality::Medium, None);
    org.acc(A0).first_seen = at("2025-01-01");
    assert_none(&run(&org.finish()), "dormant_access");
}

#[test]
fn other_thresholds_are_honoured() {
    let inv = nhi_org(
        IdentityKind::ApiKey,
        NonHuman {
            last_rotated: Some(days_ago(31)),
            last_used: Some(days_ago(31)),
            expires_at: Some(days_ahead(29)),
            ..tidy("E1")
        },
    )
    .finish();
    assert!(run(&inv).findings.is_empty());
    let text = "[thresholds]\nnhi_unused_days = 30\nexpiry_warning_days = 30\n\
                [thresholds.rotation_days]\napi_key = 30\n";
    let a = run_with(&inv, text, "");
    assert_eq!(fact(the(&a, "nhi_rotation_overdue"), "max_age_days"), "30");
    assert_eq!(fact(the(&a, "nhi_unused"), "threshold_days"), "30");
    the(&a, "nhi_credential_expiring");
}

#[test]
fn generic_usernames_threshold_is_honoured() {
    let text = "[thresholds]\ngeneric_usernames = [\"ops-.*\"]\n";
    let a = run_with(&shared("OPS-1", AccountKind::Admin, true), text, "");
    assert_eq!(
        fact(the(&a, "shared_privileged"), "generic_username"),
        "true"
    );
    let a = run_with(&shared("root", AccountKind::Admin, true), text, "");
    assert_none(&a, "shared_privileged");
}

// ---------------------------------------------------------------------------------------------
// Risk scores
// ---------------------------------------------------------------------------------------------

/// Carl (E3) on the critical ERP, MFA off: a privileged grant without warrant, and another
/// approved through REQ-1 without end date. Findings: privileged_without_mfa (high),
/// unwarranted_grant (high), standing_privilege (medium), rbac_exception (info). A legacy
/// system has no owner, no criticality and one orphaned account.
fn risky_org() -> Org {
    let mut org = Org::new();
    let erp = org.system("erp", Some(Criticality::Critical), false);
    org.sys(erp).config.owner = Some(ikey("E3"));
    let legacy = org.system("legacy", None, false);
    org.staff("E3", "Carl <Admin>", "IT", "Administrator");
    let a = org.account(erp, "carl", Some("E3"), AccountKind::Human);
    org.acc(a).mfa = Some(false);
    let admin = org.entitlement(erp, "role/Admin", true);
    org.grant(a, admin, GrantSource::Direct, None);
    let operator = org.entitlement(erp, "role/Operator", true);
    org.grant(a, operator, GrantSource::Request, Some("request:REQ-1"));
    org.record(
        WarrantKind::Request,
        "REQ-1",
        "E3",
        operator,
        Some("M1"),
        at("2026-03-01"),
    );
    org.account(legacy, "ghost", None, AccountKind::Human);
    org
}

fn risky() -> Inventory {
    risky_org().finish()
}

/// Findings as recorded: unwarranted_grant accepted, the rest open.
fn present(a: &Analysis) -> Vec<(&Finding, FindingStatus)> {
    a.findings
        .iter()
        .map(|f| {
            let status = if f.rule == "unwarranted_grant" {
                FindingStatus::Accepted
            } else {
                FindingStatus::Open
            };
            (f, status)
        })
        .collect()
}

fn assert_sums(s: &risk::Score) {
    assert_eq!(
        s.total,
        s.factors.iter().map(|f| f.points).sum::<u32>(),
        "{s:#?}"
    );
}

fn points(s: &risk::Score, what: &str) -> u32 {
    match s.factors.iter().find(|f| f.what == what) {
        Some(f) => f.points,
        None => panic!("no factor `{what}` in {s:#?}"),
    }
}

#[test]
fn the_risky_fixture_has_the_expected_findings() {
    let a = run(&risky());
    let mut got: Vec<(&str, Severity)> = a
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.severity))
        .collect();
    got.sort_unstable();
    assert_eq!(
        got,
        [
            ("orphaned_account", Severity::Medium),
            ("privileged_without_mfa", Severity::High),
            ("rbac_exception", Severity::Info),
            ("standing_privilege", Severity::Medium),
            ("unwarranted_grant", Severity::High),
        ]
    );
}

#[test]
fn identity_score_is_the_sum_of_its_factors_and_accepted_findings_count_half() {
    let inv = risky();
    let a = run(&inv);
    let w = Policy::default().risk;
    let scores = risk::identities(&inv, &present(&a), &w);
    assert_eq!(scores.len(), 1, "only Carl has a score: {scores:#?}");
    let carl = &scores[0];
    assert_eq!(carl.kind, "identity");
    assert_eq!(carl.key, "E3");
    assert_sums(carl);
    assert_eq!(
        points(carl, "1 open privileged_without_mfa finding (high)"),
        20
    );
    assert_eq!(
        points(carl, "1 open standing_privilege finding (medium)"),
        8
    );
    assert_eq!(
        points(carl, "1 accepted unwarranted_grant finding (high)"),
        10
    );
    assert_eq!(points(carl, "2 privileged grants"), 4);
    assert_eq!(points(carl, "access to critical systems: erp"), 3);
    assert_eq!(carl.total, 45);
    // Largest first.
    assert!(carl.factors.windows(2).all(|w| w[0].points >= w[1].points));

    let w = policy("[risk]\naccepted_percent = 0\n").risk;
    let carl = &risk::identities(&inv, &present(&a), &w)[0];
    assert_sums(carl);
    assert_eq!(carl.total, 35);
    assert!(!carl.factors.iter().any(|f| f.what.contains("accepted")));
}

#[test]
fn resolved_findings_do_not_count() {
    let inv = risky();
    let a = run(&inv);
    let resolved: Vec<(&Finding, FindingStatus)> = a
        .findings
        .iter()
        .map(|f| (f, FindingStatus::Resolved))
        .collect();
    let carl = &risk::identities(&inv, &resolved, &Policy::default().risk)[0];
    assert_sums(carl);
    assert_eq!(carl.total, 7, "exposure only: {carl:#?}");
}

#[test]
fn insights_are_no_risk() {
    let inv = peers(&["E1", "E2", "E3"], false).finish();
    let a = run(&inv);
    the(&a, "peer_outlier");
    let open: Vec<(&Finding, FindingStatus)> = a
        .findings
        .iter()
        .map(|f| (f, FindingStatus::Open))
        .collect();
    let scores = risk::identities(&inv, &open, &Policy::default().risk);
    assert!(
        scores
            .iter()
            .all(|s| s.factors.iter().all(|f| !f.what.contains("peer_outlier"))),
        "{scores:#?}"
    );
}

#[test]
fn privileged_grant_points_are_capped() {
    let mut org = Org::new();
    let erp = org.plain_system("erp");
    org.staff("E3", "Carl Admin", "IT", "Administrator");
    let a = org.account(erp, "carl", Some("E3"), AccountKind::Human);
    for i in 0..15 {
        let e = org.entitlement(erp, &format!("role/Admin{i}"), true);
        org.grant(a, e, GrantSource::Role, None);
    }
    let inv = org.finish();
    let w = Policy::default().risk;
    let carl = &risk::identities(&inv, &[], &w)[0];
    assert_eq!(points(carl, "15 privileged grants"), 20);
    assert_eq!(carl.total, 20);
    assert_sums(carl);
    let carl = risk::account(&inv, &[], &w, "erp", "carl").unwrap();
    assert_eq!(carl.total, 20);

    let w = policy("[risk]\nprivileged_cap = 100\n").risk;
    let carl = &risk::identities(&inv, &[], &w)[0];
    assert_eq!(points(carl, "15 privileged grants"), 30);
}

#[test]
fn system_scores_list_findings_and_gaps() {
    let inv = risky();
    let a = run(&inv);
    let scores = risk::systems(&inv, &present(&a), &Policy::default().risk);
    assert_eq!(scores.len(), 2);
    for s in &scores {
        assert_sums(s);
        assert_eq!(s.kind, "system");
    }
    let erp = scores.iter().find(|s| s.key == "erp").unwrap();
    assert_eq!(erp.total, 20 + 8 + 10);
    let legacy = scores.iter().find(|s| s.key == "legacy").unwrap();
    assert_eq!(points(legacy, "no owner"), 15);
    assert_eq!(points(legacy, "no criticality"), 10);
    assert_eq!(points(legacy, "1 enabled account(s) linked to nobody"), 2);
    assert_eq!(
        points(legacy, "1 open orphaned_account finding (medium)"),
        8
    );
    assert_eq!(legacy.total, 35);
    // Riskiest first.
    assert_eq!(scores[0].key, "erp");
}

#[test]
fn account_score_counts_its_own_findings_and_exposure() {
    let inv = risky();
    let a = run(&inv);
    let w = Policy::default().risk;
    let s = risk::account(&inv, &present(&a), &w, "erp", "carl").unwrap();
    assert_eq!(s.kind, "account");
    assert_eq!(s.key, "erp:carl");
    assert_eq!(s.name, "carl");
    assert_sums(&s);
    assert_eq!(s.total, 45);
    let ghost = risk::account(&inv, &present(&a), &w, "legacy", "ghost").unwrap();
    assert_eq!(ghost.total, 8);
    assert!(risk::account(&inv, &present(&a), &w, "erp", "nobody").is_none());
    assert!(risk::account(&inv, &present(&a), &w, "legacy", "carl").is_none());
}

// ---------------------------------------------------------------------------------------------
// Assessment and report
// ---------------------------------------------------------------------------------------------

/// The risky organisation plus a SOX general ledger (reviewed) and a financial-reporting
/// payroll (never reviewed), with one properly reviewed grant.
fn assessed() -> Inventory {
    let mut org = risky_org();
    let gl = org.system("gl", Some(Criticality::High), true);
    org.sys(gl).config.owner = Some(ikey("E3"));
    // In SOX scope through the financial-reporting flag rather than the framework.
    let payroll = org.system("payroll", Some(Criticality::High), false);
    org.sys(payroll).config.financial_reporting = true;
    org.sys(payroll).config.owner = Some(ikey("E3"));
    let post = org.entitlement(gl, "role/JE_Post", false);
    let a = org.account(gl, "carl.gl", Some("E3"), AccountKind::Human);
    org.grant(a, post, GrantSource::Review, Some("review:RV-1"));
    org.record(
        WarrantKind::Review,
        "RV-1",
        "E3",
        post,
        Some("M1"),
        at("2026-09-01"),
    );
    org.finish()
}

fn report_of(inv: &Inventory, a: &Analysis) -> Report {
    let recorded = present(a);
    let w = Policy::default().risk;
    Report {
        current: Dated {
            seq: 42,
            at: now(),
            assessment: report::assess(inv, a, &recorded),
        },
        recorded: true,
        previous: None,
        top_identities: risk::identities(inv, &recorded, &w),
        top_systems: risk::systems(inv, &recorded, &w),
        findings: Vec::new(),
        accepted: Vec::new(),
        insights: 0,
        ledger: None,
    }
}

#[test]
fn assessment_counts_the_inventory_and_findings() {
    let inv = assessed();
    let a = run(&inv);
    let s = report::assess(&inv, &a, &present(&a));
    assert_eq!(s.systems, 4);
    assert_eq!(s.systems_without_owner, [SystemKey::new("legacy").unwrap()]);
    assert_eq!(
        s.systems_without_criticality,
        [SystemKey::new("legacy").unwrap()]
    );
    assert_eq!(s.sox_never_reviewed, [SystemKey::new("payroll").unwrap()]);
    assert_eq!(s.identities, 1);
    assert_eq!(s.accounts, 3);
    assert_eq!(s.uncorrelated_accounts, 1);
    assert_eq!(s.grants, 3);
    assert_eq!(s.warranted_grants, 2);
    let open = |rule: &str, sev: &str| {
        s.open_by_rule
            .get(rule)
            .and_then(|m| m.get(sev))
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(open("privileged_without_mfa", "high"), 1);
    assert_eq!(open("standing_privilege", "medium"), 1);
    assert_eq!(open("orphaned_account", "medium"), 1);
    assert_eq!(open("rbac_exception", "info"), 1);
    assert_eq!(open("unwarranted_grant", "high"), 0);
    assert_eq!(s.accepted_by_rule.get("unwarranted_grant"), Some(&1));
    let total: u64 = s.open_by_rule.values().flat_map(|m| m.values()).sum();
    assert_eq!(total, 4);
}

#[test]
fn markdown_report_shows_the_headline_numbers() {
    let inv = assessed();
    let a = run(&inv);
    let md = report::markdown(&report_of(&inv, &a));
    for line in [
        "# Access governance assessment — 2026-11-01",
        "Recorded as ledger event 42. This is the first assessment",
        "| Systems | 4 |",
        "| Systems without owner | 1 (legacy) |",
        "| SOX systems never reviewed | 1 (payroll) |",
        "| Uncorrelated enabled accounts | 1 |",
        "| Grants | 3 |",
        "| Grants with a valid warrant | 2 (66.7%) |",
        "| Open findings | 4 |",
        "| high | 1 |",
        "| medium | 2 |",
        "| Grants without a warrant (unwarranted_grant) | 0 | 0 | 0 | 0 | 0 | 1 |",
        "| Privileged access without MFA (privileged_without_mfa) | 0 | 1 | 0 | 0 | 0 | 0 |",
        "| 45 | Carl ",
    ] {
        assert!(md.contains(line), "markdown lacks `{line}`:\n{md}");
    }
}

#[test]
fn markdown_report_escapes_names() {
    let mut inv = assessed();
    inv.identities[0].name = "Carl <Admin> | Ops".into();
    let a = run(&inv);
    let md = report::markdown(&report_of(&inv, &a));
    assert!(!md.contains("<Admin>"), "{md}");
    let row = md.lines().find(|l| l.starts_with("| 45 |")).unwrap();
    assert!(
        row.contains("Carl") && row.contains("Admin") && row.contains("Ops"),
        "{row}"
    );
    // Control characters are shown escaped, in Markdown and in HTML.
    inv.identities[0].name = "Carl \u{1b}[2J\u{202e}Ops".into();
    let a = run(&inv);
    let md = report::markdown(&report_of(&inv, &a));
    assert!(md.contains("Carl \\u{1b}[2J\\u{202e}Ops"), "{md}");
    let html = report::html(&report_of(&inv, &a));
    assert!(html.contains("Carl \\u{1b}[2J\\u{202e}Ops"), "{html}");
    assert!(!html.contains('\u{1b}') && !md.contains('\u{202e}'));
    // Score, who, factors: four cell separators, the one in the name escaped.
    let separators = row
        .char_indices()
        .filter(|&(i, c)| c == '|' && !row[..i].ends_with('\\'))
        .count();
    assert_eq!(separators, 4, "{row}");
}

#[test]
fn html_report_shows_the_headline_numbers_and_escapes_names() {
    let inv = assessed();
    let a = run(&inv);
    let html = report::html(&report_of(&inv, &a));
    for part in [
        "<title>Access governance assessment — 2026-11-01</title>",
        "<tr><td>Systems</td><td>4</td><td></td></tr>",
        "<tr><td>Open findings</td><td>4</td><td></td></tr>",
        "<tr><td>Grants with a valid warrant</td><td>2 (66.7%)</td><td></td></tr>",
        "<td class=\"n\">45</td><td>Carl &lt;Admin&gt; (E3)</td>",
    ] {
        assert!(html.contains(part), "html lacks `{part}`:\n{html}");
    }
    assert!(!html.contains("<Admin>"), "{html}");
    assert!(html.ends_with("</body></html>\n"));
}

#[test]
fn report_shows_the_trend_against_the_previous_assessment() {
    let inv = assessed();
    let a = run(&inv);
    let mut r = report_of(&inv, &a);
    let mut before = r.current.assessment.clone();
    before.systems = 2;
    before.grants = 5;
    r.previous = Some(Dated {
        seq: 7,
        at: at("2026-08-01"),
        assessment: before,
    });
    let md = report::markdown(&r);
    assert!(
        md.contains("against the assessment of 2026-08-01 (event 7)"),
        "{md}"
    );
    assert!(md.contains("| Systems | 4 | (+2) |"), "{md}");
    assert!(md.contains("| Grants | 3 | (−2) |"), "{md}");
    assert!(md.contains("| Accounts | 3 | (=) |"), "{md}");
}

// ---------------------------------------------------------------------------------------------
// stale_source
// ---------------------------------------------------------------------------------------------

fn feeds(list: &[(&str, i64)]) -> Inventory {
    let mut org = Org::new();
    org.system("erp", Some(Criticality::Critical), true);
    let mut inv = org.finish();
    inv.feeds = list
        .iter()
        .map(|(source, days)| gatehouse_model::state::Feed {
            source: (*source).to_owned(),
            last_snapshot: days_ago(*days),
        })
        .collect();
    inv
}

#[test]
fn a_source_older_than_the_limit_is_stale() {
    let a = run(&feeds(&[("hr", 9), ("system:erp", 8), ("roles", 7)]));
    let found = by_rule(&a, "stale_source");
    assert_eq!(found.len(), 2, "{found:?}");
    let hr = found.iter().find(|f| fact(f, "source") == "hr").unwrap();
    assert_eq!(hr.severity, Severity::Medium);
    assert_eq!(fact(hr, "days"), "9");
    assert_eq!(fact(hr, "allowed_days"), "7");
    explains(hr, "The HR feed was last imported");
    let erp = found
        .iter()
        .find(|f| fact(f, "source") == "system:erp")
        .unwrap();
    assert_eq!(system_of(erp), Some("erp"));
}

#[test]
fn a_source_within_its_own_limit_is_not_stale() {
    let inv = feeds(&[("hr", 2), ("system:erp", 30)]);
    let a = run_with(
        &inv,
        "[thresholds]\nstale_source_days = 7\n[thresholds.stale_source_days_by_source]\nhr = 1\n\"system:erp\" = 31\n",
        "",
    );
    let found = by_rule(&a, "stale_source");
    assert_eq!(found.len(), 1);
    assert_eq!(fact(found[0], "source"), "hr");
}
