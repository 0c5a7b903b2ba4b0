//! Campaigns end to end against a real store, on SQLite and on PostgreSQL: a small
//! organisation imported through the store's import path, then campaigns created, launched,
//! decided, delegated, escalated, closed, remediated and verified by later imports, with the
//! clock advanced by hand.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use gatehouse_model::*;
use gatehouse_store::campaigns::query::{ItemFilter, TaskFilter};
use gatehouse_store::{ImportOptions, OpenOptions, Store, SystemImport};

use super::*;

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[test]
            fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("g.db").to_str().unwrap().to_owned();
                super::$name(
                    gatehouse_store::Store::open(&path, &gatehouse_store::OpenOptions::create())
                        .unwrap(),
                );
            }
            #[test]
            fn postgres() {
                let url = gatehouse_store::testing::postgres_url();
                super::$name(
                    gatehouse_store::Store::open(&url, &gatehouse_store::OpenOptions::create())
                        .unwrap(),
                );
            }
        }
    };
}

fn t(s: &str) -> Timestamp {
    parse_timestamp(s).unwrap()
}

fn k(s: &str) -> IdentityKey {
    IdentityKey::new(s).unwrap()
}

fn opts(as_of: &str) -> ImportOptions {
    ImportOptions {
        as_of: t(as_of),
        files: vec![],
        skipped_rows: 0,
        partial: vec![],
        allow_mass_removal: true,
    }
}

fn person(key: &str, manager: Option<&str>, title: &str, status: EmploymentStatus) -> Identity {
    Identity {
        key: k(key),
        kind: IdentityKind::Person,
        name: format!("Person {key}"),
        email: Some(format!("{}@example.com", key.to_lowercase())),
        person: Some(Person {
            manager: manager.map(k),
            department: Some("Finance".into()),
            title: Some(title.into()),
            ..Person::with_status(status)
        }),
        non_human: None,
        attributes: Attributes::new(),
    }
}

/// CO (E100) runs the reviews; SO (E20) owns the ERP; VP (E2) manages M1 (E10), who manages
/// A1 (E11), A2 (E12) and L (E13, who left); M2 (E30) left and managed E31.
fn people() -> Vec<Identity> {
    use EmploymentStatus::*;
    vec![
        person("E100", None, "Compliance", Active),
        person("E2", None, "VP Finance", Active),
        person("E10", Some("E2"), "AP Lead", Active),
        person("E11", Some("E10"), "AP Clerk", Active),
        person("E12", Some("E10"), "AP Clerk", Active),
        person("E13", Some("E10"), "AP Clerk", Terminated),
        person("E20", Some("E2"), "ERP Owner", Active),
        person("E30", Some("E2"), "GL Lead", Terminated),
        person("E31", Some("E30"), "GL Clerk", Active),
    ]
}

fn erp_config() -> SystemConfig {
    SystemConfig {
        key: SystemKey::new("erp").unwrap(),
        name: "ERP".into(),
        description: None,
        owner: Some(k("E20")),
        criticality: Some(Criticality::Critical),
        frameworks: vec!["sox".into()],
        financial_reporting: true,
        review_cadence_days: None,
        correlation: vec![],
        attributes: Attributes::new(),
    }
}

fn account(id: &str, identity: Option<&str>, last_login: Option<&str>) -> Account {
    Account {
        system: SystemKey::new("erp").unwrap(),
        native_id: id.into(),
        username: id.into(),
        identity: identity.map(k),
        linked_by: identity.map(|_| "employee_id".into()),
        kind: if identity.is_some() {
            AccountKind::Human
        } else {
            AccountKind::Service
        },
        enabled: true,
        mfa: None,
        last_login: last_login.map(t),
        employee_id: identity.map(Into::into),
        email: None,
        attributes: Attributes::new(),
    }
}

fn entitlement(id: &str, privileged: bool) -> Entitlement {
    Entitlement {
        system: SystemKey::new("erp").unwrap(),
        native_id: id.into(),
        name: id.trim_start_matches("role/").into(),
        description: Some(format!("{id} in the ERP")),
        privileged,
        risk: None,
        owner: None,
        attributes: Attributes::new(),
    }
}

fn grant(account: &str, entitlement: &str, warrant: Option<&str>) -> Grant {
    Grant {
        system: SystemKey::new("erp").unwrap(),
        account: account.into(),
        entitlement: entitlement.into(),
        source: if warrant.is_some() {
            GrantSource::Request
        } else {
            GrantSource::Direct
        },
        warrant: warrant.map(|w| w.parse().unwrap()),
        expires_at: None,
        granted_at: None,
        attributes: Attributes::new(),
    }
}

const ALL_GRANTS: &[(&str, &str, Option<&str>)] = &[
    ("a1", "role/AP", Some("request:R1")),
    ("a1", "role/Admin", None),
    ("a2", "role/AP", None),
    ("lv", "role/AP", None),
    ("m1", "role/AP", None),
    ("e31", "role/GL", None),
    ("vp", "role/Admin", None),
    ("svc", "role/GL", None),
];

fn erp(grants: &[(&str, &str, Option<&str>)]) -> SystemImport {
    SystemImport {
        config: erp_config(),
        accounts: vec![
            account("a1", Some("E11"), Some("2026-03-20")),
            account("a2", Some("E12"), Some("2026-03-20")),
            account("lv", Some("E13"), Some("2026-01-05")),
            account("m1", Some("E10"), Some("2026-03-20")),
            account("e31", Some("E31"), Some("2025-06-01")),
            account("vp", Some("E2"), Some("2026-03-20")),
            account("svc", None, None),
        ],
        entitlements: vec![
            entitlement("role/AP", false),
            entitlement("role/Admin", true),
            entitlement("role/GL", false),
        ],
        grants: grants.iter().map(|(a, e, w)| grant(a, e, *w)).collect(),
    }
}

fn import_erp(store: &Store, grants: &[(&str, &str, Option<&str>)], as_of: &str) {
    store
        .import_lock()
        .unwrap()
        .import_system(erp(grants), &opts(as_of), "import:test", t(as_of))
        .unwrap();
}

/// The organisation as of 2026-04-01.
/// Runs every risk rule with the default policy at `at`, as `test`.
fn analyze(store: &Store, at: Timestamp) -> crate::AnalyzeReport {
    crate::analyze(
        store,
        &gatehouse_analysis::Policy::default(),
        &gatehouse_analysis::Ruleset::default(),
        "test",
        at,
    )
    .unwrap()
    .0
}

fn org(store: &Store) {
    let mut lock = store.import_lock().unwrap();
    lock.import_identities(
        "hr",
        people(),
        &opts("2026-04-01"),
        "import:test",
        t("2026-04-01"),
    )
    .unwrap();
    lock.import_system(
        erp(ALL_GRANTS),
        &opts("2026-04-01"),
        "import:test",
        t("2026-04-01"),
    )
    .unwrap();
    lock.import_roles(
        vec![Role {
            key: RoleKey::new("ap-clerk").unwrap(),
            name: "AP Clerk".into(),
            description: None,
            owner: Some(k("E10")),
            entitlements: vec!["erp:role/AP".parse().unwrap()],
            birthright: vec![],
            members: vec![k("E12")],
        }],
        &opts("2026-04-01"),
        "import:test",
        t("2026-04-01"),
    )
    .unwrap();
    lock.import_warrants(
        vec![WarrantRecord {
            id: "R1".into(),
            kind: WarrantKind::Request,
            identity: Some(k("E11")),
            entitlement: Some("erp:role/AP".parse().unwrap()),
            owner: None,
            approved_by: Some(k("E10")),
            approved_at: t("2026-01-10"),
            expires_at: None,
            reason: None,
            attributes: Attributes::new(),
        }],
        &opts("2026-04-01"),
        "import:test",
        t("2026-04-01"),
    )
    .unwrap();
}

const POLICY: &str = r#"
administrators = ["E100"]
compliance_owner = "E100"

[defaults]
stages = ["manager", "system_owner"]
due_days = 14
reminders = [7, 2]
escalations = [3, 7]
deadline_days = 14
deadline_default = "revoke"
remediation_days = 10
dormant_days = 90

[[scope]]
name = "sox"
frameworks = ["sox"]
cadence_days = 91

[[scope]]
name = "erp-single"
systems = ["erp"]
cadence_days = 182
stages = ["manager"]
"#;

fn policy() -> ReviewPolicy {
    ReviewPolicy::from_toml(POLICY, Path::new("reviews.toml")).unwrap()
}

fn as_(who: &str) -> Acting {
    Acting::person(format!("test:{who}"), k(who))
}

fn launched(store: &Store, scope: &str, at: &str) -> CampaignId {
    let p = policy();
    let c = create(
        store,
        &p,
        &as_("E100"),
        t(at),
        NewCampaign {
            scope: Some(scope.into()),
            ..NewCampaign::default()
        },
    )
    .unwrap();
    launch(store, &p, &as_("E100"), t(at), c.id, &[]).unwrap();
    c.id
}

/// The item of a grant.
fn item_of(store: &Store, id: CampaignId, account: &str, ent: &str) -> store_rows::ItemRow {
    store
        .read(|r| r.review_items(id, &ItemFilter::default()))
        .unwrap()
        .into_iter()
        .find(|i| i.item.account.as_deref() == Some(account) && i.item.entitlement == ent)
        .unwrap_or_else(|| panic!("no item for {account}/{ent}"))
}

mod store_rows {
    pub use gatehouse_store::campaigns::query::ItemRow;
}

fn keep(n: u32, comment: Option<&str>) -> DecisionInput {
    DecisionInput {
        item: n,
        verdict: Verdict::Keep,
        until: None,
        comment: comment.map(Into::into),
    }
}

fn revoke(n: u32, comment: &str) -> DecisionInput {
    DecisionInput {
        item: n,
        verdict: Verdict::Revoke,
        until: None,
        comment: Some(comment.into()),
    }
}

fn verify_ledger(store: &Store) {
    let rebuilt = store.rebuilt().unwrap();
    assert_eq!(store.read(|r| r.compare_state(&rebuilt)).unwrap(), None);
    open_counts_agree(store);
}

/// The open counts the projection keeps (the inbox's totals and its filters' choices) are
/// those of the items themselves, for every reviewer who ever had an item.
fn open_counts_agree(store: &Store) {
    use gatehouse_store::campaigns::query::InboxFilter;
    let mut reviewers = BTreeSet::new();
    for c in store.read(|r| r.campaigns()).unwrap() {
        for i in store
            .read(|r| r.review_items(c.id, &ItemFilter::default()))
            .unwrap()
        {
            reviewers.insert(i.reviewer.clone());
            reviewers.extend(i.item.reviewers.iter().cloned());
        }
    }
    for who in reviewers {
        let whole = store.read(|r| r.inbox(&who)).unwrap();
        let page = store
            .read(|r| r.inbox_page(&who, &InboxFilter::default()))
            .unwrap();
        assert_eq!(page.total as usize, whole.len(), "{who}");
        let mut systems: BTreeMap<SystemKey, u64> = BTreeMap::new();
        let mut campaigns: BTreeMap<CampaignId, u64> = BTreeMap::new();
        for (_, i) in &whole {
            *systems.entry(i.item.system.clone()).or_default() += 1;
            *campaigns.entry(i.campaign).or_default() += 1;
        }
        assert_eq!(
            page.systems,
            systems.into_iter().collect::<Vec<_>>(),
            "{who}"
        );
        assert_eq!(
            page.campaigns,
            campaigns.into_iter().collect::<Vec<_>>(),
            "{who}"
        );
        for (system, n) in &page.systems {
            let only = store
                .read(|r| {
                    r.inbox_page(
                        &who,
                        &InboxFilter {
                            system: Some(system.clone()),
                            ..InboxFilter::default()
                        },
                    )
                })
                .unwrap();
            assert_eq!(only.total, *n, "{who} on {system}");
            assert!(only.items.iter().all(|(_, i)| &i.item.system == system));
        }
    }
}

fn a_campaign_runs_from_draft_to_verified_remediation(store: Store) {
    org(&store);
    let p = policy();
    let ops = as_("E100");
    let start = t("2026-04-02T09:00:00Z");

    // Only administrators create; the draft freezes scope and rules.
    let err = create(
        &store,
        &p,
        &as_("E10"),
        start,
        NewCampaign {
            scope: Some("sox".into()),
            ..NewCampaign::default()
        },
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotAuthorized);
    let c = create(
        &store,
        &p,
        &ops,
        start,
        NewCampaign {
            scope: Some("sox".into()),
            ..NewCampaign::default()
        },
    )
    .unwrap();
    assert_eq!(c.id.to_string(), "C-0001");
    assert_eq!(c.record.systems, [SystemKey::new("erp").unwrap()]);
    assert_eq!(c.record.rules.stages.len(), 2);

    // Preview: counts, nothing written; an exclusion that matches nothing is refused.
    let before = store.event_count().unwrap();
    let excl = vec![(
        "account:erp:svc".to_owned(),
        "batch account, NHI review".to_owned(),
    )];
    let pre = preview(&store, &p, c.id, &excl, start).unwrap();
    assert_eq!(store.event_count().unwrap(), before);
    assert_eq!(pre.items, 7);
    assert_eq!(pre.exclusions[0].grants, 1);
    assert_eq!(pre.privileged, 2);
    let err = preview(
        &store,
        &p,
        c.id,
        &[("account:erp:nobody".into(), "x".into())],
        start,
    )
    .unwrap_err();
    assert!(err.to_string().contains("leaves out nothing"), "{err}");

    let l = launch(&store, &p, &ops, start, c.id, &excl).unwrap();
    assert_eq!(l.preview.items, 7);
    assert_eq!(l.due, t("2026-04-16T09:00:00Z"));
    let row = store.read(|r| r.campaign(c.id)).unwrap();
    assert_eq!(row.state, CampaignState::Active);
    let launch_rec = row.launch.unwrap();
    assert_eq!(launch_rec.population_sha256.len(), 64);
    assert_eq!(launch_rec.exclusions[0].subject, "account:erp:svc");
    let sources: Vec<&str> = launch_rec
        .sources
        .iter()
        .map(|s| s.source.as_str())
        .collect();
    assert_eq!(sources, ["hr", "roles", "system:erp", "warrants"]);
    // Launching twice is refused.
    let err = launch(&store, &p, &ops, start, c.id, &[]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::CampaignState);

    // Items carry context, a recommendation and reviewers per stage.
    let a1_ap = item_of(&store, c.id, "a1", "role/AP");
    assert_eq!(a1_ap.item.reviewers, [k("E10"), k("E20")]);
    assert_eq!(a1_ap.item.recommendation, Verdict::Keep);
    assert_eq!(a1_ap.item.reason, "request:R1 approved on 2026-01-10");
    assert_eq!(a1_ap.item.context.title.as_deref(), Some("AP Clerk"));
    assert_eq!(a1_ap.item.context.manager, Some(k("E10")));
    let a2_ap = item_of(&store, c.id, "a2", "role/AP");
    assert_eq!(a2_ap.item.reason, "role baseline for AP Clerk (AP Clerk)");
    let lv = item_of(&store, c.id, "lv", "role/AP");
    assert_eq!(
        (lv.item.recommendation, lv.item.reason.as_str()),
        (Verdict::Revoke, "holder left")
    );
    let e31 = item_of(&store, c.id, "e31", "role/GL");
    // E31's manager has left: their manager's manager reviews.
    assert_eq!(e31.item.reviewers[0], k("E2"));
    assert_eq!(
        e31.item.assignment.as_deref(),
        Some("E30 (manager) has left: their manager E2 reviews")
    );
    assert!(
        e31.item.reason.starts_with("dormant"),
        "{}",
        e31.item.reason
    );
    let m1 = item_of(&store, c.id, "m1", "role/AP");
    assert_eq!(m1.item.reviewers[0], k("E2"));

    // Refusals change nothing.
    let events = store.event_count().unwrap();
    let at = t("2026-04-03T10:00:00Z");
    let not_mine = decide(&store, &as_("E2"), at, c.id, vec![keep(a1_ap.item.n, None)]);
    assert_eq!(not_mine.unwrap_err().code(), ErrorCode::NotAuthorized);
    let no_comment = decide(
        &store,
        &as_("E10"),
        at,
        c.id,
        vec![DecisionInput {
            comment: None,
            ..revoke(lv.item.n, "")
        }],
    );
    assert_eq!(no_comment.unwrap_err().code(), ErrorCode::DecisionInvalid);
    let a1_admin = item_of(&store, c.id, "a1", "role/Admin");
    let privileged = decide(
        &store,
        &as_("E10"),
        at,
        c.id,
        vec![keep(a1_admin.item.n, None)],
    );
    let err = privileged.unwrap_err();
    assert_eq!(err.code(), ErrorCode::DecisionInvalid);
    assert!(
        err.to_string().contains("to keep privileged access"),
        "{err}"
    );
    // One bad decision in a batch: none recorded.
    let mixed = decide(
        &store,
        &as_("E10"),
        at,
        c.id,
        vec![keep(a1_ap.item.n, None), keep(a1_admin.item.n, None)],
    );
    assert!(mixed.is_err());
    let past = decide(
        &store,
        &as_("E10"),
        at,
        c.id,
        vec![DecisionInput {
            item: a1_ap.item.n,
            verdict: Verdict::KeepUntil,
            until: Some(t("2026-01-01")),
            comment: None,
        }],
    );
    assert_eq!(past.unwrap_err().code(), ErrorCode::DecisionInvalid);
    assert_eq!(store.event_count().unwrap(), events);

    // Stage 1 by the manager; the second stage's reviewer sees it.
    let r = decide(
        &store,
        &as_("E10"),
        at,
        c.id,
        vec![
            keep(a1_ap.item.n, None),
            revoke(lv.item.n, "left in January"),
            DecisionInput {
                comment: Some("month-end close only".into()),
                ..keep(a1_admin.item.n, None)
            },
        ],
    )
    .unwrap();
    assert_eq!((r.advanced, r.decided), (3, 0));
    let twice = decide(
        &store,
        &as_("E10"),
        at,
        c.id,
        vec![keep(a1_ap.item.n, None)],
    );
    assert_eq!(twice.unwrap_err().code(), ErrorCode::NotAuthorized);
    let moved = item_of(&store, c.id, "lv", "role/AP");
    assert_eq!((moved.stage, moved.reviewer.clone()), (2, k("E20")));
    open_counts_agree(&store);
    let stages = store.read(|r| r.stage_decisions(c.id)).unwrap();
    assert!(stages.iter().any(|d| d.item.item == lv.item.n
        && d.stage == 1
        && d.comment.as_deref() == Some("left in January")));

    // Stage 2 by the system owner: the revoke is final and opens a remediation task.
    let r = decide(
        &store,
        &as_("E20"),
        at,
        c.id,
        vec![keep(a1_ap.item.n, None), revoke(lv.item.n, "agreed")],
    )
    .unwrap();
    assert_eq!(r.decided, 2);
    assert_eq!(r.tasks.len(), 1);
    let again = decide(
        &store,
        &as_("E20"),
        at,
        c.id,
        vec![keep(a1_ap.item.n, None)],
    );
    assert_eq!(again.unwrap_err().code(), ErrorCode::AlreadyDecided);
    let task = store
        .read(|r| r.remediation_task(r_ref(c.id, lv.item.n)))
        .unwrap();
    assert_eq!(task.status, TaskStatus::Open);
    assert_eq!(task.task.assignee, Some(k("E20")));
    assert_eq!(task.task.due, t("2026-04-13T10:00:00Z"));
    assert_eq!(task.task.paths[0].kind, PathKind::Direct);

    // Delegation: with a reason, never to the holder.
    let a2 = item_of(&store, c.id, "a2", "role/AP");
    let err = delegate(
        &store,
        &as_("E10"),
        at,
        c.id,
        &[a2.item.n],
        &k("E12"),
        "she knows",
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::SelfReview);
    let err = delegate(&store, &as_("E10"), at, c.id, &[a2.item.n], &k("E11"), " ").unwrap_err();
    assert_eq!(err.code(), ErrorCode::DecisionInvalid);
    assert_eq!(
        delegate(
            &store,
            &as_("E10"),
            at,
            c.id,
            &[a2.item.n],
            &k("E11"),
            "covers AP"
        )
        .unwrap(),
        1
    );
    let err = decide(&store, &as_("E10"), at, c.id, vec![keep(a2.item.n, None)]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotAuthorized);
    open_counts_agree(&store);

    // Bulk: E2 accepts every recommendation of theirs — recorded as such.
    let r = decide_bulk(
        &store,
        &as_("E2"),
        at,
        c.id,
        &BulkSelection::default(),
        &BulkDecision::default(),
    )
    .unwrap();
    assert_eq!(r.advanced, 2);
    let stages = store.read(|r| r.stage_decisions(c.id)).unwrap();
    let accepted: Vec<_> = stages
        .iter()
        .filter(|d| d.origin == DecisionOrigin::Recommendation)
        .collect();
    assert_eq!(accepted.len(), 2);
    assert!(accepted.iter().any(|d| {
        d.verdict == Verdict::Revoke
            && d.comment
                .as_deref()
                .is_some_and(|c| c.starts_with("recommendation accepted: dormant"))
    }));
    // Nobody reviews their own access: the VP's admin grant went to the system owner.
    let vp = item_of(&store, c.id, "vp", "role/Admin");
    assert_eq!(vp.reviewer, k("E20"));
    let err = decide(
        &store,
        &as_("E2"),
        at,
        c.id,
        vec![keep(vp.item.n, Some("mine"))],
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::SelfReview);

    open_counts_agree(&store);
    // Sign-off waits for undecided items.
    let err = close(&store, &ops, at, c.id, "Q2 ERP access reviewed", None).unwrap_err();
    assert_eq!(err.code(), ErrorCode::UndecidedItems);
    let err = close(&store, &as_("E10"), at, c.id, "done", Some("auditor")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotAuthorized);
    // Forced, with a reason: the open items get the default (revoke).
    let closed = close(
        &store,
        &ops,
        at,
        c.id,
        "Q2 ERP access reviewed",
        Some("audit fieldwork starts"),
    )
    .unwrap();
    assert!(closed.defaulted >= 1);
    let row = store.read(|r| r.campaign(c.id)).unwrap();
    assert_eq!(row.state, CampaignState::Closed);
    let closing = row.closing.unwrap();
    assert_eq!(closing.forced.as_deref(), Some("audit fieldwork starts"));
    let err = decide(&store, &as_("E20"), at, c.id, vec![keep(a2.item.n, None)]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::CampaignState);

    // Remediation: done by hand, verified only by an import that shows the grant gone.
    let lv_task = r_ref(c.id, lv.item.n);
    let err = mark_done(&store, &p, &as_("E11"), at, lv_task, "removed").unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotAuthorized);
    mark_done(
        &store,
        &p,
        &as_("E20"),
        at,
        lv_task,
        "removed in SU01, CHG-1",
    )
    .unwrap();
    let v = verify_remediation(&store, &ops, at).unwrap();
    assert!(v.verified.is_empty());
    let remaining: Vec<_> = ALL_GRANTS
        .iter()
        .copied()
        .filter(|(a, _, _)| *a != "lv")
        .collect();
    import_erp(&store, &remaining, "2026-04-10");
    let v = verify_remediation(&store, &ops, t("2026-04-10T12:00:00Z")).unwrap();
    assert!(v.verified.contains(&lv_task), "{v:?}");
    let task = store.read(|r| r.remediation_task(lv_task)).unwrap();
    assert_eq!(task.status, TaskStatus::Verified);
    assert_eq!(task.verified_at, Some(t("2026-04-10")));

    // It comes back without a new warrant: reopened, and the analysis names the decision.
    import_erp(&store, ALL_GRANTS, "2026-05-01");
    let v = verify_remediation(&store, &ops, t("2026-05-01T12:00:00Z")).unwrap();
    assert_eq!(v.reopened.len(), 6, "{v:?}");
    for (task, why) in &v.reopened {
        if *task == lv_task {
            assert_eq!(why, "came back on 2026-05-01 without a new warrant");
        } else {
            assert!(why.starts_with("still present in the import of erp as of 2026-05-01, after the due date 2026-04-13"), "{why}");
        }
    }
    assert!(
        verify_remediation(&store, &ops, t("2026-05-01T13:00:00Z"))
            .unwrap()
            .reopened
            .is_empty()
    );
    let report = analyze(&store, t("2026-05-01T12:00:00Z"));
    assert!(report.opened > 0);
    let found = store
        .read(|r| {
            r.findings(&gatehouse_store::findings::FindingFilter {
                rule: Some("revoked_access_present".into()),
                ..Default::default()
            })
        })
        .unwrap();
    // The leaver's access is reported as leaver_access (one cause per grant); the revokes
    // still present after their due date are reported by the decision.
    assert_eq!(found.len(), 5, "{found:#?}");
    for f in &found {
        assert_eq!(f.finding.severity, Severity::High);
        assert!(f.finding.facts.contains_key("decision"));
    }
    verify_ledger(&store);
}
both!(a_campaign_runs_from_draft_to_verified_remediation);

/// A launch records each holder's and each entitlement's context once, in the `review.items`
/// event of its first item, and leaves it out of the items; items read back with their whole
/// context, and replaying the events rebuilds the same tables.
fn a_launch_records_repeated_context_once(store: Store) {
    org(&store);
    let id = launched(&store, "erp-single", "2026-04-02T09:00:00Z");
    let items = store
        .read(|r| r.review_items(id, &ItemFilter::default()))
        .unwrap();
    assert_eq!(items.len(), ALL_GRANTS.len());
    let a1_ap = item_of(&store, id, "a1", "role/AP");
    let x = &a1_ap.item.context;
    assert_eq!(x.name.as_deref(), Some("Person E11"));
    assert_eq!(x.manager, Some(k("E10")));
    assert_eq!(x.department.as_deref(), Some("Finance"));
    assert_eq!(x.title.as_deref(), Some("AP Clerk"));
    assert_eq!(x.status.as_deref(), Some("active"));
    assert_eq!(x.entitlement_name.as_deref(), Some("AP"));
    assert_eq!(x.meaning.as_deref(), Some("role/AP in the ERP"));
    assert_eq!(x.warrant.as_deref(), Some("request:R1"));
    let a1_admin = item_of(&store, id, "a1", "role/Admin");
    assert!(a1_admin.item.context.privileged);
    assert_eq!(a1_admin.item.context.name.as_deref(), Some("Person E11"));

    let seqs: BTreeSet<u64> = items.iter().map(|i| i.item_seq).collect();
    let (mut holders, mut entitlements) = (Vec::new(), Vec::new());
    for seq in seqs {
        let event = store.read(|r| r.event(seq)).unwrap();
        let EventData::Campaigns(CampaignEvent::ReviewItems(s)) = event.data else {
            panic!("event {seq} is not a review.items event");
        };
        holders.extend(s.record.holders.iter().map(|h| h.identity.clone()));
        entitlements.extend(s.record.entitlements.iter().map(|e| e.entitlement.clone()));
        for i in &s.record.items {
            assert_eq!((&i.context.name, &i.context.meaning), (&None, &None));
        }
    }
    let distinct_holders: BTreeSet<&IdentityKey> = holders.iter().collect();
    assert_eq!(distinct_holders.len(), holders.len(), "{holders:?}");
    let distinct_entitlements: BTreeSet<&String> = entitlements.iter().collect();
    assert_eq!(distinct_entitlements.len(), 3, "{entitlements:?}");
    assert_eq!(entitlements.len(), 3);
    for i in &items {
        let recorded = i
            .item
            .identity
            .as_ref()
            .is_some_and(|h| holders.contains(h));
        assert_eq!(i.item.context.name.is_some(), recorded, "{:?}", i.item);
    }
    verify_ledger(&store);
}

both!(a_launch_records_repeated_context_once);

fn r_ref(c: CampaignId, n: u32) -> ItemRef {
    ItemRef {
        campaign: c,
        item: n,
    }
}

fn the_schedule_reminds_escalates_and_defaults(store: Store) {
    org(&store);
    let p = policy();
    let id = launched(&store, "erp-single", "2026-04-02T09:00:00Z");
    let tick_at = |s: &str| tick(&store, &p, &Acting::system("scheduler"), t(s)).unwrap();

    // Nothing before the first reminder; the 7-day reminder once per reviewer.
    assert!(tick_at("2026-04-05T09:00:00Z").campaigns.is_empty());
    let r = tick_at("2026-04-09T09:00:00Z");
    let reminded: Vec<&str> = r.campaigns[0]
        .reminded
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert!(reminded.contains(&"E10"), "{reminded:?}");
    assert!(
        tick_at("2026-04-09T10:00:00Z").campaigns.is_empty(),
        "no second 7-day reminder"
    );
    let r = tick_at("2026-04-14T09:00:00Z");
    assert!(!r.campaigns[0].reminded.is_empty(), "the 2-day reminder");

    // 3 days overdue: to the reviewer's manager; 7 days: to the compliance owner.
    let before = item_of(&store, id, "a1", "role/AP");
    assert_eq!(before.reviewer, k("E10"));
    let r = tick_at("2026-04-19T09:00:00Z");
    assert!(r.campaigns[0].escalated > 0);
    assert_eq!(item_of(&store, id, "a1", "role/AP").reviewer, k("E2"));
    assert_eq!(
        tick_at("2026-04-19T10:00:00Z").campaigns.len(),
        0,
        "idempotent"
    );
    tick_at("2026-04-23T09:00:00Z");
    assert_eq!(item_of(&store, id, "a1", "role/AP").reviewer, k("E100"));
    let moves = store.read(|r| r.reassignments(id)).unwrap();
    assert!(moves.iter().all(|m| m.how == Reassignment::Escalated));

    // The deadline (due + 14 days): undecided items get the default, revokes open tasks.
    let r = tick_at("2026-04-30T09:00:00Z");
    assert_eq!(r.campaigns[0].defaulted, 8);
    assert_eq!(r.campaigns[0].tasks.len(), 8);
    let row = store.read(|r| r.campaign(id)).unwrap();
    assert_eq!(row.decided, row.items);
    let items = store
        .read(|r| r.review_items(id, &ItemFilter::default()))
        .unwrap();
    assert!(
        items
            .iter()
            .all(|i| i.decision.as_ref().unwrap().origin == DecisionOrigin::Default)
    );
    open_counts_agree(&store);
    // Now the owner can sign off without forcing.
    close(
        &store,
        &as_("E100"),
        t("2026-04-30T10:00:00Z"),
        id,
        "reviewed",
        None,
    )
    .unwrap();
    verify_ledger(&store);
}
both!(the_schedule_reminds_escalates_and_defaults);

/// The compliance owner and campaign owner is M1 (E10), whose manager VP (E2) has none: past
/// VP, the escalation path reaches only M1, who holds the access.
fn items_nobody_above_can_take_stay_and_do_not_stop_the_schedule(store: Store) {
    org(&store);
    let p = ReviewPolicy::from_toml(
        &POLICY.replace(
            "compliance_owner = \"E100\"",
            "compliance_owner = \"E10\"\nsigners = [\"E100\"]",
        ),
        Path::new("reviews.toml"),
    )
    .unwrap();
    let c = create(
        &store,
        &p,
        &as_("E100"),
        t("2026-04-02T09:00:00Z"),
        NewCampaign {
            scope: Some("erp-single".into()),
            ..NewCampaign::default()
        },
    )
    .unwrap();
    launch(
        &store,
        &p,
        &as_("E100"),
        t("2026-04-02T09:00:00Z"),
        c.id,
        &[],
    )
    .unwrap();
    let tick_at = |s: &str| tick(&store, &p, &Acting::system("scheduler"), t(s)).unwrap();
    assert_eq!(item_of(&store, c.id, "m1", "role/AP").reviewer, k("E2"));

    // Overdue: E10's items go up to E2; E2's item about E10 has nobody above E2 but E10.
    let r = tick_at("2026-04-19T09:00:00Z");
    assert!(r.campaigns[0].escalated > 0, "{r:?}");
    assert_eq!(item_of(&store, c.id, "a1", "role/AP").reviewer, k("E2"));
    assert_eq!(item_of(&store, c.id, "m1", "role/AP").reviewer, k("E2"));
    assert!(r.campaigns[0].stranded.is_empty());

    // E2 leaves: the item is reported as stranded, the others still move and the schedule
    // goes on.
    let mut hr = people();
    for i in &mut hr {
        if i.key.as_str() == "E2"
            && let Some(pp) = i.person.as_mut()
        {
            pp.status = EmploymentStatus::Terminated;
        }
    }
    store
        .import_lock()
        .unwrap()
        .import_identities(
            "hr",
            hr,
            &opts("2026-04-20"),
            "import:test",
            t("2026-04-20"),
        )
        .unwrap();
    let r = tick_at("2026-04-20T09:00:00Z");
    let m1 = item_of(&store, c.id, "m1", "role/AP");
    assert_eq!(r.campaigns[0].stranded, vec![m1.reference()]);
    assert!(r.campaigns[0].replaced > 0);
    assert_eq!(item_of(&store, c.id, "a1", "role/AP").reviewer, k("E10"));
    // An administrator names someone, and the item can be decided.
    reassign(
        &store,
        &p,
        &as_("E100"),
        t("2026-04-20T10:00:00Z"),
        c.id,
        &[m1.item.n],
        Some(&k("E2")),
        &k("E100"),
        "E2 left; the compliance owner holds this access",
    )
    .unwrap();
    decide(
        &store,
        &as_("E100"),
        t("2026-04-20T11:00:00Z"),
        c.id,
        vec![keep(m1.item.n, None)],
    )
    .unwrap();
    assert!(tick_at("2026-04-20T12:00:00Z").campaigns.is_empty());
    verify_ledger(&store);
}
both!(items_nobody_above_can_take_stay_and_do_not_stop_the_schedule);

fn reviewers_who_leave_are_replaced_and_signers_do_not_approve_themselves(store: Store) {
    org(&store);
    let p = policy();
    let id = launched(&store, "erp-single", "2026-04-02T09:00:00Z");
    // E10 leaves after the launch: their items go up to E2.
    let mut hr = people();
    for i in &mut hr {
        if i.key.as_str() == "E10"
            && let Some(pp) = i.person.as_mut()
        {
            pp.status = EmploymentStatus::Terminated;
        }
    }
    store
        .import_lock()
        .unwrap()
        .import_identities(
            "hr",
            hr,
            &opts("2026-04-05"),
            "import:test",
            t("2026-04-05"),
        )
        .unwrap();
    let r = tick(
        &store,
        &p,
        &Acting::system("scheduler"),
        t("2026-04-05T12:00:00Z"),
    )
    .unwrap();
    assert!(r.campaigns[0].replaced > 0);
    let a1 = item_of(&store, id, "a1", "role/AP");
    assert_eq!(a1.reviewer, k("E2"));
    let moves = store.read(|r| r.reassignments(id)).unwrap();
    assert_eq!(moves[0].how, Reassignment::Replaced);
    // A leaver may not decide.
    let err = decide(
        &store,
        &as_("E10"),
        t("2026-04-06T09:00:00Z"),
        id,
        vec![keep(1, None)],
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotAuthorized);

    // The compliance owner decides an escalated item, then may not sign off.
    let e2 = Acting::person("test:E2", k("E2"));
    delegate(
        &store,
        &e2,
        t("2026-04-06T09:00:00Z"),
        id,
        &[a1.item.n],
        &k("E100"),
        "on leave",
    )
    .unwrap();
    decide(
        &store,
        &as_("E100"),
        t("2026-04-06T09:00:00Z"),
        id,
        vec![keep(a1.item.n, None)],
    )
    .unwrap();
    let err = close(
        &store,
        &as_("E100"),
        t("2026-04-07T09:00:00Z"),
        id,
        "ok",
        Some("now"),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotAuthorized);
    assert!(
        err.to_string()
            .contains("may not sign off their own decisions"),
        "{err}"
    );
}
both!(reviewers_who_leave_are_replaced_and_signers_do_not_approve_themselves);

fn keep_decisions_warrant_grants_until_the_next_review(store: Store) {
    org(&store);
    let p = policy();
    let id = launched(&store, "erp-single", "2026-04-02T09:00:00Z");
    let a2 = item_of(&store, id, "a2", "role/AP");
    let m1 = item_of(&store, id, "m1", "role/AP");
    let at = t("2026-04-03T09:00:00Z");
    decide(&store, &as_("E10"), at, id, vec![keep(a2.item.n, None)]).unwrap();
    decide(&store, &as_("E2"), at, id, vec![keep(m1.item.n, None)]).unwrap();
    let unwarranted = |now: &str| {
        analyze(&store, t(now));
        store
            .read(|r| {
                r.findings(&gatehouse_store::findings::FindingFilter {
                    rule: Some("unwarranted_grant".into()),
                    status: vec![FindingStatus::Open],
                    ..Default::default()
                })
            })
            .unwrap()
            .into_iter()
            .filter_map(|f| f.finding.identity.map(|k| k.to_string()))
            .collect::<Vec<_>>()
    };
    // E10's ERP access is kept: warranted (review C-0001/n) until keep_days (182) pass.
    let now = unwarranted("2026-04-04T09:00:00Z");
    assert!(!now.contains(&"E10".to_owned()), "{now:?}");
    let later = unwarranted("2026-12-01T09:00:00Z");
    assert!(later.contains(&"E10".to_owned()), "{later:?}");
    let _ = p;
}
both!(keep_decisions_warrant_grants_until_the_next_review);

fn decisions_taken_elsewhere_are_imported(store: Store) {
    org(&store);
    let p = policy();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q1-review.csv");
    std::fs::write(
        &file,
        "grant,decision,until,reviewer,decided_at,comment\n\
         erp:lv/role/AP,revoke,,E10,2026-03-15,left\n\
         erp:a1/role/Admin,keep_until,2026-09-30,E10,2026-03-15,month-end\n",
    )
    .unwrap();
    let err =
        import_decisions(&store, &p, &as_("E10"), t("2026-04-02T09:00:00Z"), &file).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotAuthorized);
    let r = import_decisions(&store, &p, &as_("E100"), t("2026-04-02T09:00:00Z"), &file).unwrap();
    assert_eq!((r.decisions, r.tasks), (2, 1));
    let c = store.read(|r| r.campaign(r_id(1))).unwrap();
    assert_eq!(c.created.kind, CampaignKind::External);
    assert_eq!(c.state, CampaignState::Closed);
    assert_eq!(c.imported.as_ref().unwrap().file.sha256, r.sha256);
    let items = store
        .read(|r| r.review_items(c.id, &ItemFilter::default()))
        .unwrap();
    let d = items[0].decision.as_ref().unwrap();
    assert_eq!(
        (d.origin, d.at, d.by.clone()),
        (DecisionOrigin::Imported, t("2026-03-15"), Some(k("E10")))
    );
    // The revoke's task was due 10 days after the decision; the grant is still there.
    let v = verify_remediation(&store, &as_("E100"), t("2026-04-02T10:00:00Z")).unwrap();
    assert_eq!(v.reopened.len(), 1, "{v:?}");

    // Every bad row is named; nothing is imported.
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "grant,decision,reviewer,decided_at\n\
         erp:a1/role/Nope,keep,E10,2026-03-15\n\
         erp:a1/role/AP,maybe,E10,2026-03-15\n\
         erp:a2/role/AP,keep,E12,2026-03-15\n\
         erp:m1/role/AP,keep,E2,2099-01-01\n",
    )
    .unwrap();
    let events = store.event_count().unwrap();
    let err = import_decisions(&store, &p, &as_("E100"), t("2026-04-02T09:00:00Z"), &bad)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("4 problems in bad.csv; nothing was imported"),
        "{err}"
    );
    assert!(
        err.contains("bad.csv:2: grant: `erp:a1/role/Nope` was never held"),
        "{err}"
    );
    assert!(
        err.contains("bad.csv:3: decision: `maybe` is not a valid decision"),
        "{err}"
    );
    assert!(
        err.contains("bad.csv:4: reviewer: `E12` holds this access"),
        "{err}"
    );
    assert!(
        err.contains("bad.csv:5: decided_at: the decision is dated in the future"),
        "{err}"
    );
    assert_eq!(store.event_count().unwrap(), events);
    let tasks = store
        .read(|r| r.remediation_tasks(&TaskFilter::default()))
        .unwrap();
    assert_eq!(tasks.len(), 1);
    verify_ledger(&store);
}
both!(decisions_taken_elsewhere_are_imported);

fn r_id(n: u32) -> CampaignId {
    CampaignId::new(n)
}

fn due_scopes_follow_the_cadence(store: Store) {
    org(&store);
    let p = policy();
    let scopes = due(&store, &p, t("2026-04-02T09:00:00Z")).unwrap();
    assert!(scopes.iter().all(|s| s.due && s.last.is_none()));
    let id = launched(&store, "sox", "2026-04-02T09:00:00Z");
    let scopes = due(&store, &p, t("2026-04-03T09:00:00Z")).unwrap();
    let sox = scopes.iter().find(|s| s.scope == "sox").unwrap();
    assert_eq!((sox.due, sox.running), (false, Some(id)));
    assert_eq!(sox.due_on, Some(t("2026-07-02T09:00:00Z")));
    let _ = OpenOptions::create();
}
both!(due_scopes_follow_the_cadence);

#[test]
fn policy_files_are_read_from_disk_and_named_in_errors() {
    let err = ReviewPolicy::from_toml("[defaults]\ndue_days = 0\n", Path::new("p/reviews.toml"))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ReviewPolicyInvalid);
    assert_eq!(
        err.to_string(),
        "p/reviews.toml:2: `due_days` must be at least 1"
    );
}

/// A reviewer's inbox, page by page across two campaigns, is the whole inbox soonest due
/// first; filters narrow it; an out-of-schedule reminder reaches every reviewer with open
/// items once.
fn an_inbox_pages_across_campaigns_soonest_due_first(store: Store) {
    use gatehouse_store::campaigns::query::{InboxFilter, InboxRisk};
    org(&store);
    let later = launched(&store, "erp-single", "2026-04-03");
    let sooner = launched(&store, "sox", "2026-04-02");
    let me = k("E10");
    let whole = store.read(|r| r.inbox(&me)).unwrap();
    assert!(whole.len() >= 3, "{}", whole.len());
    assert_eq!(whole[0].1.campaign, sooner, "soonest due first");
    let mut paged = Vec::new();
    for offset in (0..whole.len() as u64 + 2).step_by(2) {
        let page = store
            .read(|r| {
                r.inbox_page(
                    &me,
                    &InboxFilter {
                        offset,
                        limit: 2,
                        ..InboxFilter::default()
                    },
                )
            })
            .unwrap();
        assert_eq!(page.total as usize, whole.len());
        assert_eq!(page.campaigns.len(), 2);
        paged.extend(page.items);
    }
    let refs = |v: &[(Option<Timestamp>, store_rows::ItemRow)]| {
        v.iter().map(|(_, i)| i.reference()).collect::<Vec<_>>()
    };
    assert_eq!(refs(&paged), refs(&whole));
    let only = store
        .read(|r| {
            r.inbox_page(
                &me,
                &InboxFilter {
                    campaign: Some(later),
                    ..InboxFilter::default()
                },
            )
        })
        .unwrap();
    assert!(only.items.iter().all(|(_, i)| i.campaign == later));
    assert_eq!(
        only.total as usize,
        whole.iter().filter(|(_, i)| i.campaign == later).count()
    );
    let privileged = store
        .read(|r| {
            r.inbox_page(
                &me,
                &InboxFilter {
                    risk: Some(InboxRisk::Privileged),
                    ..InboxFilter::default()
                },
            )
        })
        .unwrap();
    assert_eq!(
        privileged.total as usize,
        whole
            .iter()
            .filter(|(_, i)| i.item.context.privileged)
            .count()
    );
    let reminded = remind(&store, &policy(), &as_("E100"), t("2026-04-05"), sooner).unwrap();
    let open = store.read(|r| r.open_items_by_reviewer(sooner)).unwrap();
    assert_eq!(reminded, open);
    assert_eq!(
        store.read(|r| r.reminders(sooner)).unwrap().len(),
        open.len()
    );
    assert!(remind(&store, &policy(), &as_("E11"), t("2026-04-05"), sooner).is_err());
    verify_ledger(&store);
}
both!(an_inbox_pages_across_campaigns_soonest_due_first);

/// A scope marked `auto_launch` is launched by the schedule when it is due, once, as the
/// schedule (no person named); the next launch waits for the cadence.
fn the_schedule_launches_due_scopes_marked_so(store: Store) {
    org(&store);
    let text = POLICY.replace(
        "name = \"erp-single\"\nsystems = [\"erp\"]",
        "name = \"erp-single\"\nauto_launch = true\nsystems = [\"erp\"]",
    );
    let p = ReviewPolicy::from_toml(&text, Path::new("reviews.toml")).unwrap();
    assert!(p.scope("erp-single").unwrap().auto_launch);
    let ticker = Acting::system("server:scheduler");
    let first = tick(&store, &p, &ticker, t("2026-04-02")).unwrap();
    assert_eq!(first.launched.len(), 1, "{:?}", first.not_launched);
    let (id, scope) = &first.launched[0];
    assert_eq!(scope, "erp-single");
    let c = store.read(|r| r.campaign(*id)).unwrap();
    assert_eq!(c.state, CampaignState::Active);
    assert_eq!(c.created.created_by, None);
    assert_eq!(c.launch.as_ref().unwrap().launched_by, None);
    assert!(c.items > 0);
    // Running, then not due until the cadence has passed: nothing more is launched.
    let again = tick(&store, &p, &ticker, t("2026-04-03")).unwrap();
    assert!(again.launched.is_empty());
    // The `sox` scope is not marked: it stays for an administrator.
    assert!(
        store
            .read(|r| r.campaigns())
            .unwrap()
            .iter()
            .all(|c| c.created.scope.as_deref() != Some("sox"))
    );
    verify_ledger(&store);
}
both!(the_schedule_launches_due_scopes_marked_so);

/// The schedule opens one event-driven review per open finding of the policy's rules, each
/// launched with the finding's grants, all from one reading of the inventory; a finding is
/// reviewed once, and a later round opens nothing more.
fn the_schedule_opens_event_driven_reviews_once_per_finding(store: Store) {
    org(&store);
    let report = analyze(&store, t("2026-04-01T12:00:00Z"));
    assert!(report.opened > 0);
    let findings = store
        .read(|r| {
            r.findings(&gatehouse_store::findings::FindingFilter {
                rule: Some("unwarranted_grant".into()),
                status: vec![FindingStatus::Open],
                ..Default::default()
            })
        })
        .unwrap();
    let wanted: Vec<_> = findings
        .iter()
        .filter(|f| f.finding.identity.is_some() && !f.finding.entitlements.is_empty())
        .collect();
    assert!(wanted.len() >= 2, "{}", wanted.len());
    let text = format!(
        "{POLICY}\n[event_driven]\nenabled = true\nrules = [\"unwarranted_grant\"]\nsox_only = true\ndue_days = 7\n"
    );
    let p = ReviewPolicy::from_toml(&text, Path::new("reviews.toml")).unwrap();
    let ticker = Acting::system("server:scheduler");
    let first = tick(&store, &p, &ticker, t("2026-04-02")).unwrap();
    assert_eq!(first.opened.len(), wanted.len(), "{:?}", first.opened);
    for (id, finding) in &first.opened {
        let c = store.read(|r| r.campaign(*id)).unwrap();
        assert_eq!(c.created.kind, CampaignKind::EventDriven);
        assert_eq!(c.created.trigger.as_deref(), Some(finding.as_str()));
        assert_eq!(c.state, CampaignState::Active, "{id}");
        let f = wanted.iter().find(|f| &f.finding.id == finding).unwrap();
        let items = store
            .read(|r| r.review_items(*id, &ItemFilter::default()))
            .unwrap();
        assert!(!items.is_empty());
        assert!(
            items.iter().all(|i| i.item.identity == f.finding.identity),
            "{id}: only the finding's holder's access"
        );
    }
    let again = tick(&store, &p, &ticker, t("2026-04-02T01:00:00Z")).unwrap();
    assert!(again.opened.is_empty(), "{:?}", again.opened);
    verify_ledger(&store);
}
both!(the_schedule_opens_event_driven_reviews_once_per_finding);
