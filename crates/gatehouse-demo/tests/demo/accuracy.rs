//! The accuracy contract with the demo generator, through the real import path on SQLite and
//! on PostgreSQL: every planted problem is found by the rule that covers it, nothing at medium
//! severity or above is said about an ordinary situation (people on leave, approved
//! exceptions, moves still settling, emergency accounts, contracts that end later, people who
//! came back), and nothing high or critical about anything that was not planted.

use std::collections::BTreeMap;
use std::path::Path;

use gatehouse_analysis::{Policy, Ruleset, is_insight};
use gatehouse_demo::{DemoConfig, Generator, OrdinaryCase, Planted, PlantedProblem};
use gatehouse_model::{Finding, FindingStatus, Severity, Timestamp};
use gatehouse_store::findings::FindingFilter;
use gatehouse_store::{OpenOptions, Store};
use gatehouse_workflow::ImportSettings;
use jiff::civil::Date;

/// Imports a demo organisation month by month into the store at `db`, runs the analysis the
/// day after the last snapshot and returns the open findings with the record of what was
/// planted.
pub(crate) fn analysed_demo(
    db: &str,
    people: usize,
    seed: u64,
    months: u32,
) -> (Vec<Finding>, Planted) {
    let today: Date = "2026-11-23".parse().unwrap();
    let store = Store::open(db, &OpenOptions::create()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("snapshot");
    let mut g = Generator::new(DemoConfig {
        people,
        seed,
        today,
        months,
    })
    .unwrap();
    while let Some(as_of) = g.write_next_snapshot(&dir).unwrap() {
        let settings = ImportSettings {
            as_of: Some(as_of),
            skip_invalid: false,
            allow_mass_removal: false,
            reread: false,
        };
        gatehouse_workflow::import_folder(&store, &dir, &settings, "test", as_of, None, |_, _| {})
            .unwrap();
    }
    let sod = Ruleset::from_toml(gatehouse_analysis::sod::STARTER, Path::new("sod.toml")).unwrap();
    let now: Timestamp = "2026-11-23T10:00:00Z".parse().unwrap();
    let (report, _) =
        gatehouse_workflow::analyze(&store, &Policy::default(), &sod, "test", now).unwrap();
    assert!(
        report.analysis.warnings.is_empty(),
        "{:?}",
        report.analysis.warnings
    );
    let rows = store
        .read(|r| {
            r.findings(&FindingFilter {
                status: vec![FindingStatus::Open],
                ..FindingFilter::default()
            })
        })
        .unwrap();
    (
        rows.into_iter().map(|r| r.finding).collect(),
        g.planted().clone(),
    )
}

/// Whether a finding reports a planted problem: the problem's rule, and the same identity,
/// system, account and (some of the) entitlements where both say.
fn reports(f: &Finding, p: &PlantedProblem) -> bool {
    let same = |a: Option<&str>, b: Option<&str>| a.is_none() || b.is_none() || a == b;
    f.rule == p.kind.rule()
        && (p.identity.is_none() || p.identity == f.identity)
        && same(
            p.system.as_ref().map(|s| s.as_str()),
            f.system.as_ref().map(|s| s.as_str()),
        )
        && same(p.account.as_deref(), f.account.as_deref())
        && (p.entitlements.is_empty()
            || f.entitlements.is_empty()
            || p.entitlements.iter().any(|e| f.entitlements.contains(e)))
}

/// Whether a finding is about an ordinary situation: its person, or its account.
fn about(f: &Finding, o: &OrdinaryCase) -> bool {
    f.identity.as_ref() == Some(&o.identity)
        || (o.account.is_some() && f.account == o.account && f.system == o.system)
}

/// Whether a finding is about anything planted.
fn planted_object(f: &Finding, planted: &Planted) -> bool {
    planted.items.iter().any(|p| {
        (p.identity.is_some() && p.identity == f.identity)
            || (p.account.is_some() && p.account == f.account && p.system == f.system)
    })
}

/// Checks the contract and returns the open findings that are not insights, by severity.
pub(crate) fn check(findings: &[Finding], planted: &Planted) -> BTreeMap<Severity, usize> {
    let missed: Vec<String> = planted
        .items
        .iter()
        .filter(|p| !findings.iter().any(|f| reports(f, p)))
        .map(|p| {
            let about: Vec<String> = findings
                .iter()
                .filter(|f| p.identity.is_some() && f.identity == p.identity)
                .map(|f| {
                    format!(
                        "    found instead: {} {} {}",
                        f.severity, f.rule, f.explanation
                    )
                })
                .collect();
            format!("{}: {}\n{}", p.kind, p.detail, about.join("\n"))
        })
        .collect();
    assert!(
        missed.is_empty(),
        "planted but not found:\n{}",
        missed.join("\n")
    );

    let problems: Vec<&Finding> = findings.iter().filter(|f| !is_insight(f)).collect();
    let alarms: Vec<String> = planted
        .ordinary
        .iter()
        .flat_map(|o| {
            problems
                .iter()
                .filter(move |f| f.severity >= Severity::Medium && about(f, o))
                .map(move |f| {
                    format!(
                        "{:?} {}: {} {} {}",
                        o.kind, o.identity, f.severity, f.rule, f.title
                    )
                })
        })
        .collect();
    assert!(
        alarms.is_empty(),
        "findings at medium or above about ordinary situations:\n{}",
        alarms.join("\n")
    );

    let unplanted: Vec<String> = problems
        .iter()
        .filter(|f| f.severity >= Severity::High && !planted_object(f, planted))
        .map(|f| format!("{} {} {}", f.severity, f.rule, f.title))
        .collect();
    assert!(
        unplanted.is_empty(),
        "high or critical findings about nothing planted:\n{}",
        unplanted.join("\n")
    );

    let mut by_severity = BTreeMap::new();
    for f in problems {
        *by_severity.entry(f.severity).or_default() += 1;
    }
    by_severity
}

/// Findings per 1,000 people, for the record (docs/policy.md quotes them).
fn report(
    label: &str,
    people: usize,
    by_severity: &BTreeMap<Severity, usize>,
    insights: usize,
    planted: usize,
) {
    let per_thousand: Vec<String> = Severity::ALL
        .iter()
        .rev()
        .map(|s| {
            let n = by_severity.get(s).copied().unwrap_or(0);
            format!("{s} {:.1}", n as f64 * 1000.0 / people as f64)
        })
        .collect();
    eprintln!(
        "{label}: open findings per 1,000 people: {}; insights {:.1}; planted problems {:.1}",
        per_thousand.join(", "),
        insights as f64 * 1000.0 / people as f64,
        planted as f64 * 1000.0 / people as f64
    );
}

fn contract(db: &str, label: &str, people: usize, seed: u64, months: u32) {
    let (found, planted) = analysed_demo(db, people, seed, months);
    for kind in gatehouse_demo::OrdinaryKind::ALL {
        assert!(
            planted.ordinary_count(*kind) >= 1,
            "{kind:?} was not planted"
        );
    }
    let by_severity = check(&found, &planted);
    let insights = found.iter().filter(|f| is_insight(f)).count();
    report(label, people, &by_severity, insights, planted.items.len());
}

#[test]
fn demo_accuracy_on_sqlite_across_seeds_and_sizes() {
    for (people, seed, months) in [(1_000, 3, 12), (400, 11, 6), (700, 23, 12)] {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("gatehouse.db").display().to_string();
        contract(
            &db,
            &format!("sqlite, {people} people, seed {seed}"),
            people,
            seed,
            months,
        );
    }
}

#[test]
fn demo_accuracy_on_postgres_across_seeds_and_sizes() {
    for (people, seed, months) in [(600, 7, 12), (300, 5, 4)] {
        let db = gatehouse_store::testing::postgres_url();
        contract(
            &db,
            &format!("postgres, {people} people, seed {seed}"),
            people,
            seed,
            months,
        );
    }
}
