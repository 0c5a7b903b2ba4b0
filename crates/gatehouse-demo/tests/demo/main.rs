//! The demo company: determinism, size, files the real readers accept, every planted problem
//! present, and nothing else wrong.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod accuracy;
mod independent;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

use gatehouse_connect::{
    Correlator, IdentityIndex, ReadOptions, read_hr, read_nhi, read_roles, read_system,
    read_warrants,
};
use gatehouse_demo::{
    DemoConfig, DemoError, Generator, OrdinaryKind, Planted, PlantedKind, SOD_PAIRS, Snapshot,
    write_snapshot,
};
use gatehouse_model::{
    Account, AccountKind, EmploymentStatus, EntitlementRef, Identity, IdentityKey, Role, Timestamp,
    WarrantKind,
};
use jiff::civil::Date;

const DAY: i64 = 86_400;

fn config(people: usize, seed: u64, months: u32) -> DemoConfig {
    DemoConfig {
        people,
        seed,
        today: "2026-03-01".parse::<Date>().unwrap(),
        months,
    }
}

fn all_snapshots(cfg: DemoConfig) -> (Vec<Snapshot>, Planted) {
    let mut g = Generator::new(cfg).unwrap();
    let mut out = Vec::new();
    while let Some(s) = g.next_snapshot() {
        out.push(s);
    }
    (out, g.planted().clone())
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[test]
fn configuration_is_checked() {
    let err = Generator::new(config(49, 1, 12)).unwrap_err();
    assert!(matches!(err, DemoError::InvalidConfig(_)));
    assert!(
        err.to_string().contains("people must be at least 50"),
        "{err}"
    );
    assert!(Generator::new(config(50, 1, 1)).is_err());
    let mut g = Generator::new(config(50, 1, 2)).unwrap();
    let times = g.snapshot_times();
    assert_eq!(
        times.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        [
            "2026-01-01T00:00:00Z",
            "2026-02-01T00:00:00Z",
            "2026-03-01T00:00:00Z"
        ]
    );
    let mut n = 0;
    while g.next_snapshot().is_some() {
        n += 1;
    }
    assert_eq!(n, 3);
    assert_eq!(g.remaining(), 0);
    assert!(g.next_snapshot().is_none());
}

#[test]
fn last_snapshot_is_today_and_the_others_first_days_of_months() {
    let mut cfg = config(60, 3, 3);
    cfg.today = "2026-03-17".parse().unwrap();
    let g = Generator::new(cfg).unwrap();
    let times: Vec<String> = g.snapshot_times().iter().map(|t| t.to_string()).collect();
    assert_eq!(
        times,
        [
            "2025-12-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
            "2026-02-01T00:00:00Z",
            "2026-03-17T00:00:00Z"
        ]
    );
}

#[test]
fn same_seed_same_bytes_streamed_or_not_and_other_seed_differs() {
    let tmp = tempfile::tempdir().unwrap();
    let write_all = |seed: u64, name: &str, stream: bool| {
        let dir = tmp.path().join(name);
        let mut g = Generator::new(config(300, seed, 3)).unwrap();
        let mut n = 0;
        loop {
            let d = dir.join(n.to_string());
            if stream {
                if g.write_next_snapshot(&d).unwrap().is_none() {
                    break;
                }
            } else {
                let Some(s) = g.next_snapshot() else { break };
                write_snapshot(&s, &d).unwrap();
            }
            n += 1;
        }
        assert_eq!(n, 4);
        let planted = serde_json::to_vec(g.planted()).unwrap();
        (files(&dir), planted)
    };
    let (a, pa) = write_all(7, "a", false);
    let (b, pb) = write_all(7, "b", false);
    let (c, pc) = write_all(7, "c", true);
    assert_eq!(a.len(), 4 * (1 + 1 + 12 * 4 + 2 + 1));
    assert!(a == b, "same seed, different bytes");
    assert_eq!(pa, pb);
    for (name, bytes) in &a {
        assert!(c.get(name) == Some(bytes), "{name} differs when streamed");
    }
    assert_eq!(a.len(), c.len());
    assert_eq!(pa, pc);
    let (d, pd) = write_all(8, "d", false);
    assert!(a["3/hr/people.csv"] != d["3/hr/people.csv"]);
    assert!(a["3/systems/ad/grants.csv"] != d["3/systems/ad/grants.csv"]);
    assert_ne!(pa, pd);
}

/// Reads a written snapshot with the importer's readers and compares with what was generated.
fn round_trip(s: &Snapshot, dir: &Path) {
    write_snapshot(s, dir).unwrap();
    let strict = ReadOptions::default();
    let hr = read_hr(&dir.join("hr/people.csv"), strict).unwrap();
    assert_eq!(hr.outcome.skipped_rows, 0);
    assert_eq!(hr.identities, s.people);
    let nhi = read_nhi(&dir.join("nhi/identities.csv"), strict).unwrap();
    assert_eq!(nhi.outcome.skipped_rows, 0);
    assert_eq!(nhi.identities, s.non_human);
    for sys in &s.systems {
        let snap = read_system(&dir.join("systems").join(sys.config.key.as_str()), strict)
            .unwrap_or_else(|e| panic!("{}: {e}", sys.config.key));
        assert_eq!(snap.outcome.skipped_rows, 0);
        assert_eq!(snap.config, sys.config);
        assert_eq!(snap.accounts, sys.accounts, "{}", sys.config.key);
        assert_eq!(snap.entitlements, sys.entitlements);
        assert_eq!(snap.grants, sys.grants);
    }
    let roles = read_roles(&dir.join("roles"), strict).unwrap();
    assert_eq!(roles.outcome.skipped_rows, 0);
    assert_eq!(roles.roles, s.roles);
    let warrants = read_warrants(&dir.join("warrants/tickets.csv"), strict).unwrap();
    assert_eq!(warrants.outcome.skipped_rows, 0);
    assert_eq!(warrants.records, s.warrants);
}

/// Index of planted objects for the cleanliness checks.
struct Exceptions<'a> {
    planted: &'a Planted,
}

impl Exceptions<'_> {
    fn account(&self, kinds: &[PlantedKind], system: &str, account: &str) -> bool {
        self.planted.items.iter().any(|p| {
            kinds.contains(&p.kind)
                && p.system.as_ref().is_some_and(|s| s.as_str() == system)
                && p.account.as_deref() == Some(account)
        })
    }
    fn identity(&self, kinds: &[PlantedKind], identity: &IdentityKey) -> bool {
        self.planted
            .items
            .iter()
            .any(|p| kinds.contains(&p.kind) && p.identity.as_ref() == Some(identity))
    }
    fn holding(&self, kinds: &[PlantedKind], identity: &IdentityKey, ent: &EntitlementRef) -> bool {
        self.planted.items.iter().any(|p| {
            kinds.contains(&p.kind)
                && p.identity.as_ref() == Some(identity)
                && p.entitlements.contains(ent)
        })
    }
}

/// An account after correlation, with its grants.
struct Linked<'a> {
    account: &'a Account,
    identity: Option<IdentityKey>,
}

fn correlate<'a>(s: &'a Snapshot) -> HashMap<(String, String), Linked<'a>> {
    let mut index = IdentityIndex::default();
    for i in s.people.iter().chain(&s.non_human) {
        index.insert(&i.key, i.kind, i.email.as_deref());
    }
    let mut out = HashMap::new();
    for sys in &s.systems {
        let mut accounts = sys.accounts.clone();
        let c = Correlator::new(&sys.config.correlation).unwrap();
        let report = c.correlate_accounts(&mut accounts, &index);
        assert!(report.ambiguous.is_empty(), "{:?}", report.ambiguous);
        assert!(report.unknown_identity.is_empty());
        for (a, linked) in sys.accounts.iter().zip(accounts) {
            out.insert(
                (sys.config.key.to_string(), a.native_id.clone()),
                Linked {
                    account: a,
                    identity: linked.identity,
                },
            );
        }
    }
    out
}

/// Checks that hold at every snapshot: accounts belong to current people, warrants resolve,
/// no unplanted SoD conflict.
fn check_always(s: &Snapshot, planted: &Planted) {
    use PlantedKind::*;
    let ex = Exceptions { planted };
    let linked = correlate(s);
    let people: HashMap<&IdentityKey, &Identity> = s
        .people
        .iter()
        .chain(&s.non_human)
        .map(|i| (&i.key, i))
        .collect();
    let roles: HashMap<&str, &Role> = s.roles.iter().map(|r| (r.key.as_str(), r)).collect();
    let tickets: HashMap<(WarrantKind, &str), _> = s
        .warrants
        .iter()
        .map(|w| ((w.kind, w.id.as_str()), w))
        .collect();
    let recent_movers: HashSet<&IdentityKey> = planted
        .ordinary
        .iter()
        .filter(|o| o.kind == OrdinaryKind::RecentMover)
        .map(|o| &o.identity)
        .collect();

    for p in &s.people {
        let person = p.person.as_ref().unwrap();
        if p.status() != Some(EmploymentStatus::Terminated)
            && let Some(m) = &person.manager
        {
            assert_ne!(
                people[m].status(),
                Some(EmploymentStatus::Terminated),
                "{}: {} reports to leaver {m}",
                s.as_of,
                p.key
            );
        }
    }

    for ((system, native), l) in &linked {
        let a = l.account;
        match &l.identity {
            None => assert!(
                ex.account(&[OrphanAccount], system, native),
                "{}: uncorrelated account {system}:{native}",
                s.as_of
            ),
            Some(key) => {
                let who = people[key];
                if matches!(a.kind, AccountKind::Human | AccountKind::Admin) {
                    assert_eq!(who.kind, gatehouse_model::IdentityKind::Person);
                }
                if who.status() == Some(EmploymentStatus::Terminated) && a.enabled {
                    assert!(
                        ex.account(&[LeaverWithAccess], system, native),
                        "{}: enabled account {system}:{native} of leaver {key}",
                        s.as_of
                    );
                }
            }
        }
    }

    let mut held: HashMap<IdentityKey, BTreeSet<String>> = HashMap::new();
    for sys in &s.systems {
        let system = sys.config.key.as_str();
        for g in &sys.grants {
            let l = &linked[&(system.to_owned(), g.account.clone())];
            let ent = EntitlementRef {
                system: sys.config.key.clone(),
                native_id: g.entitlement.clone(),
            };
            let Some(key) = &l.identity else {
                assert!(ex.account(&[OrphanAccount], system, &g.account));
                continue;
            };
            held.entry(key.clone()).or_default().insert(ent.to_string());
            let who = people[key];
            if who.status() == Some(EmploymentStatus::Terminated) {
                assert!(
                    ex.account(&[LeaverWithAccess], system, &g.account),
                    "{}: grant {ent} of leaver {key}",
                    s.as_of
                );
                continue;
            }
            let resolves = match &g.warrant {
                None => false,
                Some(w) => match w.kind {
                    WarrantKind::Role | WarrantKind::Birthright => {
                        roles.get(w.reference.as_str()).is_some_and(|r| {
                            r.entitlements.contains(&ent)
                                && r.applies_to(who)
                                && (w.kind == WarrantKind::Role) == r.birthright.is_empty()
                        })
                    }
                    WarrantKind::Request | WarrantKind::Exception => tickets
                        .get(&(w.kind, w.reference.as_str()))
                        .is_some_and(|t| {
                            t.identity.as_ref() == Some(key)
                                && t.entitlement.as_ref() == Some(&ent)
                                && t.approved_by.as_ref().is_some_and(|a| a != key)
                                && t.expires_at.is_none_or(|e| e > s.as_of)
                                && t.approved_at <= s.as_of
                                && g.expires_at == t.expires_at
                                && (w.kind == WarrantKind::Request || t.owner.is_some())
                        }),
                    // The standing emergency-access policy: owned, approved, in force.
                    WarrantKind::Policy => tickets
                        .get(&(w.kind, w.reference.as_str()))
                        .is_some_and(|t| {
                            t.owner.is_some()
                                && t.approved_by.is_some()
                                && t.expires_at.is_some_and(|e| e > s.as_of)
                        }),
                    _ => false,
                },
            };
            if !resolves {
                assert!(
                    ex.account(&[UnwarrantedGrant, SelfApprovedRequest], system, &g.account)
                        || ex.holding(&[MoverKeptAccess, RehireKeptAccess], key, &ent)
                        || recent_movers.contains(key),
                    "{}: grant {ent} on {system}:{} of {key} has no valid warrant ({:?})",
                    s.as_of,
                    g.account,
                    g.warrant
                );
            }
        }
    }

    for (name, left, right) in SOD_PAIRS {
        for (key, ents) in &held {
            if ents.contains(*left) && ents.contains(*right) {
                assert!(
                    ex.identity(&[SodConflict], key),
                    "{}: {key} holds both sides of {name}",
                    s.as_of
                );
            }
        }
    }
}

/// Checks of the final state: privileged access, non-human identities, peer groups.
fn check_final(s: &Snapshot, planted: &Planted) {
    use PlantedKind::*;
    let ex = Exceptions { planted };
    let linked = correlate(s);
    let people: HashMap<&IdentityKey, &Identity> = s
        .people
        .iter()
        .chain(&s.non_human)
        .map(|i| (&i.key, i))
        .collect();
    let birthright_ents: HashSet<String> = s
        .roles
        .iter()
        .filter(|r| !r.birthright.is_empty())
        .flat_map(|r| r.entitlements.iter().map(|e| e.to_string()))
        .collect();
    let privileged: HashSet<String> = s
        .systems
        .iter()
        .flat_map(|x| &x.entitlements)
        .filter(|e| e.privileged)
        .map(|e| format!("{}:{}", e.system, e.native_id))
        .collect();
    let job_ents = |who: &Identity| -> HashSet<String> {
        s.roles
            .iter()
            .filter(|r| r.birthright.is_empty() && r.applies_to(who))
            .flat_map(|r| r.entitlements.iter().map(|e| e.to_string()))
            .collect()
    };
    let month = 30 * DAY;
    let at = s.as_of.as_second();

    let mut by_person: HashMap<IdentityKey, BTreeSet<String>> = HashMap::new();
    let mut systems_of: HashMap<IdentityKey, BTreeSet<String>> = HashMap::new();
    for sys in &s.systems {
        let system = sys.config.key.as_str();
        for g in &sys.grants {
            let l = &linked[&(system.to_owned(), g.account.clone())];
            let ent = format!("{system}:{}", g.entitlement);
            let ent_ref: EntitlementRef = ent.parse().unwrap();
            let Some(key) = &l.identity else { continue };
            by_person
                .entry(key.clone())
                .or_default()
                .insert(ent.clone());
            systems_of
                .entry(key.clone())
                .or_default()
                .insert(system.to_owned());
            if !privileged.contains(&ent) || !l.account.enabled {
                continue;
            }
            if l.account.kind == AccountKind::Emergency {
                // Sealed, behind MFA and covered by the emergency-access policy.
                assert_eq!(l.account.mfa, Some(true), "{system}:{}", g.account);
                assert_eq!(
                    g.warrant.as_ref().map(|w| w.kind),
                    Some(WarrantKind::Policy),
                    "{system}:{}",
                    g.account
                );
                continue;
            }
            let who = people[key];
            if who.status() == Some(EmploymentStatus::Terminated) {
                assert!(ex.account(&[LeaverWithAccess], system, &g.account));
                continue;
            }
            if l.account.kind == AccountKind::Shared {
                assert!(ex.account(&[SharedPrivileged], system, &g.account));
            }
            assert!(
                job_ents(who).contains(&ent) || ex.holding(&[StandingAdmin], key, &ent_ref),
                "{key} holds privileged {ent} without a job role explaining it"
            );
            if l.account.mfa == Some(false) {
                assert!(
                    ex.account(&[PrivilegedWithoutMfa], system, &g.account),
                    "{system}:{} holds {ent} without MFA",
                    g.account
                );
            }
            let login = l.account.last_login.map(|t| t.as_second()).unwrap_or(0);
            if login < at - month {
                assert!(
                    ex.account(&[DormantPrivileged], system, &g.account),
                    "{system}:{} holds {ent}, last login {:?}",
                    g.account,
                    l.account.last_login
                );
            }
        }
    }

    // Non-human identities.
    for n in &s.non_human {
        let nh = n.non_human.as_ref().unwrap();
        let is = |kind| ex.identity(&[kind], &n.key);
        match &nh.owner {
            None => assert!(is(NhiWithoutOwner), "{} has no owner", n.key),
            Some(o) => {
                let active = people[o].status() == Some(EmploymentStatus::Active);
                assert!(active || is(NhiOwnerLeft), "{}'s owner {o} is gone", n.key);
            }
        }
        assert!(nh.purpose.is_some() || is(NhiWithoutPurpose), "{}", n.key);
        let scope: BTreeSet<String> = nh.scope.iter().map(|s| s.to_string()).collect();
        for sys in systems_of.get(&n.key).into_iter().flatten() {
            assert!(
                scope.contains(sys) || is(NhiOutOfScope),
                "{} on {sys}",
                n.key
            );
        }
        let secs = |t: Option<Timestamp>| t.map(|t| t.as_second());
        let rotated = secs(nh.last_rotated).unwrap();
        assert!(
            rotated >= at - 90 * DAY || is(NhiStaleCredential),
            "{} rotated {:?}",
            n.key,
            nh.last_rotated
        );
        if let Some(e) = secs(nh.expires_at) {
            assert!(e > at + month || is(NhiExpiredCredential), "{}", n.key);
        }
        let used = secs(nh.last_used).unwrap_or(0);
        assert!(used >= at - month || is(NhiUnused), "{} unused", n.key);
    }

    // Peer groups: a non-birthright entitlement held by exactly one of several peers, unless
    // it is a plant or an ordinary exception or move.
    let ordinary_outside_role: HashSet<&IdentityKey> = planted
        .ordinary
        .iter()
        .filter(|o| {
            matches!(
                o.kind,
                OrdinaryKind::ApprovedException | OrdinaryKind::RecentMover
            )
        })
        .map(|o| &o.identity)
        .collect();
    let mut groups: HashMap<(String, String), Vec<&IdentityKey>> = HashMap::new();
    for p in &s.people {
        if p.status() == Some(EmploymentStatus::Active) {
            let d = p.attribute("department").unwrap_or_default();
            let t = p.attribute("title").unwrap_or_default();
            groups.entry((d, t)).or_default().push(&p.key);
        }
    }
    let empty = BTreeSet::new();
    for members in groups.values().filter(|m| m.len() >= 2) {
        let mut count: HashMap<&str, usize> = HashMap::new();
        for m in members {
            for e in by_person.get(*m).unwrap_or(&empty) {
                *count.entry(e.as_str()).or_default() += 1;
            }
        }
        for m in members {
            for e in by_person.get(*m).unwrap_or(&empty) {
                if count[e.as_str()] == 1 && !birthright_ents.contains(e) {
                    assert!(
                        ex.holding(
                            &[PeerOutlier, MoverKeptAccess, RehireKeptAccess],
                            m,
                            &e.parse().unwrap()
                        ) || ordinary_outside_role.contains(*m),
                        "{m} is the only one of their peers holding {e}"
                    );
                }
            }
        }
    }
}

/// Request and direct grants that vanish for exactly one snapshot must be planted.
fn check_reappearances(snaps: &[Snapshot], planted: &Planted) {
    let ex = Exceptions { planted };
    let mut seen: Vec<HashMap<(String, String, String), String>> = Vec::new();
    for s in snaps {
        let mut m = HashMap::new();
        for sys in &s.systems {
            for g in &sys.grants {
                if matches!(
                    g.source,
                    gatehouse_model::GrantSource::Request | gatehouse_model::GrantSource::Direct
                ) {
                    let w = g
                        .warrant
                        .as_ref()
                        .map(|w| w.to_string())
                        .unwrap_or_default();
                    m.insert(
                        (
                            sys.config.key.to_string(),
                            g.account.clone(),
                            g.entitlement.clone(),
                        ),
                        w,
                    );
                }
            }
        }
        seen.push(m);
    }
    let mut found = 0;
    for k in 1..seen.len() - 1 {
        for (key, w) in &seen[k + 1] {
            if seen[k - 1].get(key) == Some(w) && !seen[k].contains_key(key) {
                assert!(
                    ex.account(&[PlantedKind::ReappearedGrant], &key.0, &key.1),
                    "{key:?} reappeared unplanted"
                );
                found += 1;
            }
        }
    }
    assert_eq!(found, planted.count(PlantedKind::ReappearedGrant));
}

#[test]
fn a_year_of_a_2000_people_company() {
    let (snaps, planted) = all_snapshots(config(2_000, 42, 12));
    assert_eq!(snaps.len(), 13);
    let last = snaps.last().unwrap();
    assert_eq!(last.as_of.to_string(), "2026-03-01T00:00:00Z");
    assert_eq!(last.systems.len(), 12);
    assert!(last.non_human.len() >= 10);
    for s in &snaps {
        let grants: usize = s.systems.iter().map(|x| x.grants.len()).sum();
        assert!((30_000..=50_000).contains(&grants), "{} grants", grants);
        // Every grant names an account and an entitlement of its system.
        for sys in &s.systems {
            let accounts: HashSet<&str> =
                sys.accounts.iter().map(|a| a.native_id.as_str()).collect();
            let ents: HashSet<&str> = sys
                .entitlements
                .iter()
                .map(|e| e.native_id.as_str())
                .collect();
            for g in &sys.grants {
                assert!(accounts.contains(g.account.as_str()));
                assert!(ents.contains(g.entitlement.as_str()));
            }
        }
    }
    // Realistic deltas: grants change, but only by a few percent a month.
    for w in snaps.windows(2) {
        let set = |s: &Snapshot| -> HashSet<(String, String, String)> {
            s.systems
                .iter()
                .flat_map(|x| {
                    x.grants.iter().map(|g| {
                        (
                            x.config.key.to_string(),
                            g.account.clone(),
                            g.entitlement.clone(),
                        )
                    })
                })
                .collect()
        };
        let (a, b) = (set(&w[0]), set(&w[1]));
        let changed = a.symmetric_difference(&b).count();
        let share = changed as f64 / a.len() as f64;
        assert!((0.005..0.12).contains(&share), "{share}");
    }
    let people = last
        .people
        .iter()
        .filter(|p| p.status() != Some(EmploymentStatus::Terminated))
        .count();
    assert!((1_900..2_200).contains(&people), "{people}");
    assert!(
        last.people
            .iter()
            .any(|p| p.status() == Some(EmploymentStatus::Leave))
    );

    for kind in PlantedKind::ALL {
        assert!(
            planted.count(*kind) >= 2,
            "{kind}: {}",
            planted.count(*kind)
        );
    }
    for p in &planted.items {
        assert!(p.since <= "2026-03-01".parse().unwrap(), "{p:?}");
        assert!(p.since >= "2024-09-01".parse().unwrap(), "{p:?}");
    }
    let json = serde_json::to_string(&planted).unwrap();
    assert!(json.contains("\"kind\":\"leaver_with_access\""));
    let back: Planted = serde_json::from_str(&json).unwrap();
    assert_eq!(back, planted);

    let tmp = tempfile::tempdir().unwrap();
    round_trip(last, tmp.path());
    round_trip(&snaps[5], &tmp.path().join("five"));

    for s in &snaps {
        check_always(s, &planted);
    }
    check_final(last, &planted);
    check_reappearances(&snaps, &planted);
}

#[test]
fn planted_problems_are_visible_in_the_final_state() {
    use PlantedKind::*;
    let (snaps, planted) = all_snapshots(config(1_000, 5, 6));
    let last = snaps.last().unwrap();
    let linked = correlate(last);
    let people: HashMap<&IdentityKey, &Identity> = last
        .people
        .iter()
        .chain(&last.non_human)
        .map(|i| (&i.key, i))
        .collect();
    let grants: HashSet<(String, String, String)> = last
        .systems
        .iter()
        .flat_map(|x| {
            x.grants.iter().map(|g| {
                (
                    x.config.key.to_string(),
                    g.account.clone(),
                    g.entitlement.clone(),
                )
            })
        })
        .collect();
    let at = last.as_of.as_second();
    for p in &planted.items {
        if let (Some(sys), Some(acct)) = (&p.system, &p.account) {
            let l = &linked[&(sys.to_string(), acct.clone())];
            for e in &p.entitlements {
                if e.system == *sys {
                    assert!(
                        grants.contains(&(sys.to_string(), acct.clone(), e.native_id.clone())),
                        "{p:?}"
                    );
                }
            }
            match p.kind {
                OrphanAccount => assert!(l.identity.is_none() && l.account.enabled),
                LeaverWithAccess => {
                    let who = people[l.identity.as_ref().unwrap()];
                    assert_eq!(who.status(), Some(EmploymentStatus::Terminated));
                    assert!(l.account.enabled);
                }
                DormantPrivileged => {
                    let login = l.account.last_login.unwrap().as_second();
                    assert!(login < at - 120 * DAY, "{p:?}");
                }
                PrivilegedWithoutMfa => assert_eq!(l.account.mfa, Some(false)),
                SharedPrivileged => assert_eq!(l.account.kind, AccountKind::Shared),
                _ => assert_eq!(l.identity, p.identity, "{p:?}"),
            }
        }
        if p.kind == SodConflict {
            let key = p.identity.as_ref().unwrap();
            for e in &p.entitlements {
                assert!(
                    linked
                        .iter()
                        .any(|((s, a), l)| l.identity.as_ref() == Some(key)
                            && grants.contains(&(s.clone(), a.clone(), e.native_id.clone()))
                            && e.system.as_str() == s),
                    "{p:?}"
                );
            }
        }
    }
}
