//! Store conformance: every test runs on SQLite and on a private PostgreSQL server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gatehouse_model::*;
use gatehouse_store::inventory::query::{HolderPage, ObjectKind};
use gatehouse_store::testing::{self, Value};
use gatehouse_store::{ImportOptions, ImportSummary, OpenOptions, Store, StoreError, SystemImport};

/// Runs a test body once per backend, with the store and its location (to open more
/// handles, or start another process on it).
macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("g.db").to_str().unwrap().to_owned();
                let store = Store::open(&path, &OpenOptions::create()).unwrap();
                ($body)(store, path);
            }
            #[test]
            fn postgres() {
                let url = gatehouse_store::testing::postgres_url();
                let store = Store::open(&url, &OpenOptions::create()).unwrap();
                ($body)(store, url);
            }
        }
    };
}

fn t(s: &str) -> Timestamp {
    parse_timestamp(s).unwrap()
}

fn opts(as_of: &str) -> ImportOptions {
    ImportOptions {
        as_of: t(as_of),
        files: vec![],
        skipped_rows: 0,
        partial: vec![],
        allow_mass_removal: false,
    }
}

fn person(key: &str, name: &str, dept: &str, status: EmploymentStatus) -> Identity {
    Identity {
        key: IdentityKey::new(key).unwrap(),
        kind: IdentityKind::Person,
        name: name.into(),
        email: Some(format!("{}@example.com", name.to_lowercase())),
        person: Some(Person {
            department: Some(dept.into()),
            ..Person::with_status(status)
        }),
        non_human: None,
        attributes: Attributes::new(),
    }
}

fn people() -> Vec<Identity> {
    vec![
        person("E1", "Ada", "Finance", EmploymentStatus::Active),
        person("E2", "Bob", "Finance", EmploymentStatus::Active),
        person("E3", "Cy", "Sales", EmploymentStatus::Active),
    ]
}

fn config() -> SystemConfig {
    SystemConfig {
        key: SystemKey::new("erp").unwrap(),
        name: "ERP".into(),
        description: None,
        owner: Some(IdentityKey::new("E1").unwrap()),
        criticality: Some(Criticality::Critical),
        frameworks: vec!["sox".into()],
        financial_reporting: true,
        review_cadence_days: None,
        correlation: vec![],
        attributes: Attributes::new(),
    }
}

fn account(id: &str, identity: Option<&str>) -> Account {
    Account {
        system: SystemKey::new("erp").unwrap(),
        native_id: id.into(),
        username: id.into(),
        identity: identity.map(|i| IdentityKey::new(i).unwrap()),
        linked_by: identity.map(|_| "employee_id".into()),
        kind: AccountKind::Human,
        enabled: true,
        mfa: None,
        last_login: None,
        employee_id: identity.map(Into::into),
        email: None,
        attributes: Attributes::new(),
    }
}

fn entitlement(id: &str, privileged: bool) -> Entitlement {
    Entitlement {
        system: SystemKey::new("erp").unwrap(),
        native_id: id.into(),
        name: id.rsplit('/').next().unwrap().into(),
        description: None,
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

fn erp(grants: Vec<Grant>) -> SystemImport {
    SystemImport {
        config: config(),
        accounts: vec![
            account("ada", Some("E1")),
            account("bob", Some("E2")),
            account("cy", Some("E3")),
            account("svc", None),
        ],
        entitlements: vec![
            entitlement("role/AP_Approver", false),
            entitlement("role/Vendor_Maint", false),
            entitlement("role/Admin", true),
        ],
        grants,
    }
}

fn now() -> Timestamp {
    t("2026-11-23T10:00:00Z")
}

fn import_system(
    store: &Store,
    snapshot: SystemImport,
    o: &ImportOptions,
) -> Result<ImportSummary, StoreError> {
    store
        .import_lock()?
        .import_system(snapshot, o, "test", now())
}

fn import_people(
    store: &Store,
    people: Vec<Identity>,
    o: &ImportOptions,
) -> Result<ImportSummary, StoreError> {
    store
        .import_lock()?
        .import_identities("hr", people, o, "test", now())
}

fn holders(store: &Store, ent: &str, at: &str) -> Vec<String> {
    store
        .read(|r| {
            let e = r.resolve_entitlement(ent)?;
            r.who_has(&e, parse_point_in_time(at)?, &HolderPage::default())
        })
        .unwrap()
        .holders
        .into_iter()
        .map(|h| h.username)
        .collect()
}

fn total(store: &Store, ent: &str, at: Timestamp) -> u64 {
    store
        .read(|r| {
            let e = r.resolve_entitlement(ent)?;
            r.who_has(
                &e,
                at,
                &HolderPage {
                    after: None,
                    limit: Some(10),
                },
            )
        })
        .unwrap()
        .total
}

fn rebuilt_matches(store: &Store) {
    let rebuilt = store.rebuilt().unwrap();
    assert_eq!(store.read(|r| r.compare_state(&rebuilt)).unwrap(), None);
    let n = store.event_count().unwrap();
    assert_eq!(
        store.read(|r| r.tree_root(n)).unwrap(),
        rebuilt.read(|r| r.tree_root(n)).unwrap()
    );
}

// A page of holders is the same whichever plan answers it: a sparse entitlement is answered
// from its grants, a dense one by walking the system's accounts in order.
both!(
    who_has_pages_through_holders_in_account_order,
    |store: Store, _at: String| {
        let mut import = erp(vec![]);
        import.accounts = (0..60)
            .map(|i| account(&format!("u{i:03}"), None))
            .collect();
        for (i, a) in import.accounts.iter().enumerate() {
            import
                .grants
                .push(grant(&a.native_id, "role/AP_Approver", None));
            if i % 20 == 7 {
                import.grants.push(grant(&a.native_id, "role/Admin", None));
            }
        }
        import_system(&store, import, &opts("2026-02-01")).unwrap();
        let at = t("2026-03-01");
        for (ent, total) in [("erp:role/AP_Approver", 60), ("erp:role/Admin", 3)] {
            store
                .read(|r| {
                    let e = r.resolve_entitlement(ent)?;
                    let all = r.who_has(&e, at, &Default::default())?;
                    assert_eq!(all.total, total);
                    assert_eq!(all.holders.len() as u64, total);
                    assert!(!all.more);
                    let mut paged = Vec::new();
                    let mut after = None;
                    loop {
                        let page = HolderPage {
                            after: after.clone(),
                            limit: Some(2),
                        };
                        let p = r.who_has(&e, at, &page)?;
                        assert_eq!(p.total, total);
                        assert!(p.holders.len() <= 2);
                        after = p.holders.last().map(|h| h.account.clone());
                        paged.extend(p.holders);
                        if !p.more {
                            break;
                        }
                    }
                    assert_eq!(paged, all.holders, "{ent}");
                    Ok::<_, StoreError>(())
                })
                .unwrap();
        }
        // Before the import nobody held anything.
        let before = store
            .read(|r| {
                let e = r.resolve_entitlement("erp:role/AP_Approver")?;
                r.who_has(
                    &e,
                    t("2026-01-01"),
                    &HolderPage {
                        after: None,
                        limit: Some(5),
                    },
                )
            })
            .unwrap();
        assert_eq!(
            (before.total, before.holders.len(), before.more),
            (0, 0, false)
        );
    }
);

both!(
    identities_import_and_reimport,
    |store: Store, _at: String| {
        let s = import_people(&store, people(), &opts("2026-01-01")).unwrap();
        assert_eq!(s.changes.get("identity.added"), Some(&3));
        assert!(s.import_seq.is_some());
        // Same content again: nothing changes, and it says so; the read itself is recorded.
        let again = import_people(&store, people(), &opts("2026-02-01")).unwrap();
        assert!(again.unchanged());
        assert_eq!(again.import_seq, Some(3));
        assert_eq!(
            store.event_count().unwrap(),
            3,
            "one import event and one batch of three identities, then the unchanged read"
        );
        let read = store.read(|r| r.last_import("hr")).unwrap().unwrap();
        assert_eq!(
            (read.seq, read.as_of, read.complete),
            (3, t("2026-02-01"), true)
        );
        // A mover and a leaver.
        let mut p = people();
        p[1].person.as_mut().unwrap().department = Some("Sales".into());
        p[2].person.as_mut().unwrap().status = EmploymentStatus::Terminated;
        let s = import_people(&store, p, &opts("2026-03-01")).unwrap();
        assert_eq!(s.changes.get("identity.changed"), Some(&2));
        store
            .read(|r| {
                let h = r.history(ObjectKind::Identity, "bob@example.com")?;
                assert_eq!(h.len(), 2);
                assert!(
                    h[1].changed.iter().any(|c| c.starts_with("person:")),
                    "{:?}",
                    h[1].changed
                );
                let i = r.resolve_identity("E2", parse_point_in_time("2026-02-15").unwrap())?;
                assert_eq!(i.department.as_deref(), Some("Finance"));
                let i = r.resolve_identity("E2", parse_point_in_time("2026-03-15").unwrap())?;
                assert_eq!(i.department.as_deref(), Some("Sales"));
                assert_eq!(i.status, Some(EmploymentStatus::Active));
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }
);

both!(
    point_in_time_who_has_and_access,
    |store: Store, _at: String| {
        import_people(&store, people(), &opts("2026-01-01")).unwrap();
        let first = erp(vec![
            grant("ada", "role/AP_Approver", Some("request:REQ-1")),
            grant("bob", "role/Vendor_Maint", None),
            grant("svc", "role/Admin", None),
        ]);
        let s = import_system(&store, first, &opts("2026-02-01")).unwrap();
        assert_eq!(s.changes.get("grant.added"), Some(&3));
        assert_eq!(s.changes.get("account.added"), Some(&4));
        assert_eq!(s.changes.get("system.configured"), Some(&1));
        // March: Bob loses Vendor_Maint and gains AP_Approver; Ada's warrant changes.
        let second = erp(vec![
            grant("ada", "role/AP_Approver", Some("request:REQ-9")),
            grant("bob", "role/AP_Approver", None),
            grant("svc", "role/Admin", None),
        ]);
        let s = import_system(&store, second, &opts("2026-03-01")).unwrap();
        assert_eq!(s.changes.get("grant.added"), Some(&1));
        assert_eq!(s.changes.get("grant.removed"), Some(&1));
        assert_eq!(s.changes.get("grant.changed"), Some(&1));
        assert_eq!(s.changes.len(), 3, "{:?}", s.changes);

        assert_eq!(
            holders(&store, "erp:role/AP_Approver", "2026-01-31"),
            Vec::<String>::new()
        );
        assert_eq!(
            holders(&store, "erp:role/AP_Approver", "2026-02-15"),
            vec!["ada"]
        );
        assert_eq!(
            holders(&store, "erp:AP_Approver", "2026-03-01"),
            vec!["ada", "bob"]
        );
        assert_eq!(
            holders(&store, "erp:role/Vendor_Maint", "2026-02-28"),
            vec!["bob"]
        );
        assert_eq!(
            holders(&store, "erp:role/Vendor_Maint", "2026-03-01"),
            Vec::<String>::new()
        );
        // An exact instant: the change happened at midnight of 2026-03-01.
        assert_eq!(
            holders(&store, "erp:role/Vendor_Maint", "2026-02-28T23:59:59Z"),
            vec!["bob"]
        );

        store
            .read(|r| {
                let at = parse_point_in_time("2026-02-15").unwrap();
                let who = r.resolve_identity("bob@example.com", at)?;
                assert_eq!(who.key.as_str(), "E2");
                let acc = r.access(who, at)?;
                assert_eq!(acc.accounts.len(), 1);
                assert_eq!(acc.accounts[0].kind, AccountKind::Human);
                assert_eq!(
                    acc.grants
                        .iter()
                        .map(|g| g.entitlement.as_str())
                        .collect::<Vec<_>>(),
                    vec!["role/Vendor_Maint"]
                );
                assert_eq!(acc.grants[0].source, GrantSource::Direct);
                assert_eq!(acc.grants[0].system.as_str(), "erp");

                let h = r.history(ObjectKind::Grant, "erp:ada/role/AP_Approver")?;
                assert_eq!(
                    h.iter().map(|e| e.kind).collect::<Vec<_>>(),
                    vec!["grant.added", "grant.changed"]
                );
                assert_eq!(h[1].changed, vec!["warrant: request:REQ-1 → request:REQ-9"]);
                assert_eq!(h[1].import.as_ref().unwrap().source, "system:erp");
                let h = r.history(ObjectKind::Grant, "erp:bob/role/Vendor_Maint")?;
                assert_eq!(
                    h.iter().map(|e| e.kind).collect::<Vec<_>>(),
                    vec!["grant.added", "grant.removed"]
                );
                let err = r
                    .history(ObjectKind::Grant, "erp:nobody/role/Admin")
                    .unwrap_err();
                assert_eq!(err.code(), ErrorCode::UnknownObject);
                assert!(
                    err.to_string()
                        .starts_with("no grant matches `erp:nobody/role/Admin`"),
                    "{err}"
                );
                let err = r.resolve_entitlement("crm:x").unwrap_err();
                assert_eq!(err.to_string(), "there is no system `crm`");
                assert_eq!(err.code(), ErrorCode::UnknownObject);
                let err = r.resolve_entitlement("nocolon").unwrap_err();
                assert_eq!(err.code(), ErrorCode::InvalidReference);
                let ap = r.resolve_entitlement("erp:role/AP_Approver")?;
                let holders = r.who_has(&ap, t("2026-03-02"), &Default::default())?;
                let ada = &holders.holders[0];
                assert_eq!(ada.identity.as_ref().map(|k| k.as_str()), Some("E1"));
                assert_eq!(ada.status, Some(EmploymentStatus::Active));
                assert_eq!(ada.source, GrantSource::Request);
                assert_eq!(ada.warrant, Some("request:REQ-9".parse().unwrap()));
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }
);

both!(history_cannot_be_rewritten, |store: Store, _at: String| {
    import_system(&store, erp(vec![]), &opts("2026-03-01")).unwrap();
    let before = store.event_count().unwrap();
    let err = import_system(
        &store,
        erp(vec![grant("ada", "role/Admin", None)]),
        &opts("2026-02-01"),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::HistoryRewrite);
    assert!(
        err.to_string()
            .contains("is as of 2026-02-01T00:00:00Z, before the last import of it"),
        "{err}"
    );
    assert_eq!(
        store.event_count().unwrap(),
        before,
        "refused: nothing written"
    );
});

both!(
    mass_removal_is_refused_unless_allowed,
    |store: Store, _at: String| {
        let mut big = erp(vec![]);
        big.accounts = (0..200).map(|i| account(&format!("u{i}"), None)).collect();
        big.grants = (0..200)
            .map(|i| grant(&format!("u{i}"), "role/AP_Approver", None))
            .collect();
        import_system(&store, big.clone(), &opts("2026-01-01")).unwrap();
        let count = store.event_count().unwrap();
        let mut small = big.clone();
        small.grants.truncate(10);
        let err = import_system(&store, small.clone(), &opts("2026-02-01")).unwrap_err();
        assert_eq!(err.code(), ErrorCode::MassRemoval);
        let err = err.to_string();
        assert!(
            err.contains("would remove 190 of 200 grants (95%)"),
            "{err}"
        );
        assert!(!err.contains("--"), "the store names no flag: {err}");
        assert_eq!(
            store.event_count().unwrap(),
            count,
            "a refused import writes nothing"
        );
        let mut o = opts("2026-02-01");
        o.allow_mass_removal = true;
        let s = import_system(&store, small, &o).unwrap();
        assert_eq!(s.changes.get("grant.removed"), Some(&190));
    }
);

both!(
    a_partial_part_records_no_removal,
    |store: Store, _at: String| {
        let full = erp(vec![
            grant("ada", "role/AP_Approver", None),
            grant("bob", "role/Admin", None),
            grant("cy", "role/Vendor_Maint", None),
        ]);
        import_system(&store, full.clone(), &opts("2026-01-01")).unwrap();
        // The grants file lost bob's row to --skip-invalid, and cy's grant really went.
        let mut lacking = full.clone();
        lacking.grants.retain(|g| g.account == "ada");
        let mut o = opts("2026-02-01");
        o.skipped_rows = 1;
        o.partial = vec![SnapshotPart::Grants];
        let s = import_system(&store, lacking.clone(), &o).unwrap();
        assert!(s.changes.is_empty(), "no removal recorded: {:?}", s.changes);
        assert_eq!(
            s.unconfirmed,
            vec![
                "grant erp:bob → erp:role/Admin".to_owned(),
                "grant erp:cy → erp:role/Vendor_Maint".to_owned()
            ]
        );
        assert_eq!(holders(&store, "erp:role/Admin", "2026-02-15"), vec!["bob"]);
        let applied = store
            .read(|r| r.last_import("system:erp"))
            .unwrap()
            .unwrap();
        assert_eq!(applied.skipped_rows, 1);
        // The accounts part was complete: an account it lacks is removed all the same.
        let mut o = opts("2026-02-02");
        o.partial = vec![SnapshotPart::Grants];
        let mut gone = full.clone();
        gone.accounts.retain(|a| a.native_id != "svc");
        let s = import_system(&store, gone, &o).unwrap();
        assert_eq!(s.changes.get("account.removed"), Some(&1));
        // The fixed file, complete again: only the removal that really happened.
        let mut fixed = full.clone();
        fixed.accounts.retain(|a| a.native_id != "svc");
        fixed.grants.retain(|g| g.account != "cy");
        let s = import_system(&store, fixed, &opts("2026-03-01")).unwrap();
        assert_eq!(
            s.changes,
            [("grant.removed".to_owned(), 1)].into_iter().collect()
        );
        assert!(s.unconfirmed.is_empty());
        assert_eq!(holders(&store, "erp:role/Admin", "2026-03-15"), vec!["bob"]);
        // People: a partial HR file removes nobody.
        import_people(&store, people(), &opts("2026-01-01")).unwrap();
        let mut o = opts("2026-02-01");
        o.partial = vec![SnapshotPart::Identities];
        let s = import_people(&store, people()[..1].to_vec(), &o).unwrap();
        assert!(s.changes.is_empty(), "{:?}", s.changes);
        assert_eq!(s.unconfirmed.len(), people().len() - 1);
        rebuilt_matches(&store);
    }
);

both!(failed_write_leaves_nothing, |store: Store, _at: String| {
    import_people(&store, people(), &opts("2026-01-01")).unwrap();
    let before = store.event_count().unwrap();
    let root = store.read(|r| r.tree_root(before)).unwrap();
    let r: Result<(), StoreError> = store.write("test", now(), |w| {
        w.append(FindingEvent::AnalysisRan(Stamped {
            as_of: now(),
            import: None,
            record: run(),
        }))?;
        Err(StoreError::Corrupt("stop here".into()))
    });
    assert!(r.is_err());
    assert_eq!(store.event_count().unwrap(), before);
    assert_eq!(store.read(|r| r.tree_root(before)).unwrap(), root);
    // An empty actor is refused before anything is written.
    let err = store
        .write("  ", now(), |w| {
            w.append(FindingEvent::AnalysisRan(Stamped {
                as_of: now(),
                import: None,
                record: run(),
            }))
        })
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NoActor);
    assert_eq!(store.event_count().unwrap(), before);
});

both!(
    replay_rebuilds_the_same_state,
    |store: Store, _at: String| {
        import_people(&store, people(), &opts("2026-01-01")).unwrap();
        import_system(
            &store,
            erp(vec![
                grant("ada", "role/Admin", None),
                grant("bob", "role/Admin", None),
            ]),
            &opts("2026-02-01"),
        )
        .unwrap();
        let mut second = erp(vec![grant("bob", "role/Admin", Some("request:R2"))]);
        second.accounts[1].enabled = false;
        second.accounts[0].last_login = Some(t("2026-02-27"));
        import_system(&store, second.clone(), &opts("2026-03-01")).unwrap();
        second.accounts[0].last_login = Some(t("2026-03-30"));
        second.grants.push(grant("ada", "role/Admin", None));
        import_system(&store, second, &opts("2026-04-01")).unwrap();
        let mut lock = store.import_lock().unwrap();
        let events = store
            .read(|r| {
                r.plan_relink(t("2026-04-01"), &[], |_, accounts| {
                    for a in accounts.iter_mut() {
                        if a.native_id == "svc" {
                            a.identity = Some(IdentityKey::new("E3").unwrap());
                            a.linked_by = Some("manual".into());
                        }
                    }
                })
            })
            .unwrap();
        // The closure unlinks the three people (it knows no rule) and links `svc`.
        assert_eq!(lock.append(events, "test", now()).unwrap(), 4);
        drop(lock);
        // The re-link takes effect at the time it was asked for, not when it was recorded.
        let h = store
            .read(|r| r.history(ObjectKind::Account, "erp:svc"))
            .unwrap();
        assert_eq!(h.last().unwrap().kind, "account.correlated");
        assert_eq!(h.last().unwrap().as_of, t("2026-04-01"));
        rebuilt_matches(&store);
    }
);

fn run() -> AnalysisRun {
    AnalysisRun {
        policy: "0".repeat(64),
        rules: vec![],
        present: Default::default(),
        opened: 0,
        changed: 0,
        resolved: 0,
        reopened: 0,
    }
}

// Writers on several threads, some sharing one handle (one pool), some with handles of their
// own (as separate processes would): every write that reports success is in the log, under
// the sequence number it was told, in one order without gaps.
both!(
    concurrent_writers_lose_nothing,
    |store: Store, location: String| {
        let threads: Vec<_> = (0..6)
            .map(|i| {
                let store = if i % 2 == 0 {
                    store.clone()
                } else {
                    Store::open(&location, &OpenOptions::existing()).unwrap()
                };
                std::thread::spawn(move || {
                    (0..25)
                        .map(|j| {
                            let actor = format!("writer:{i}-{j}");
                            let seq = store
                                .write(&actor, now(), |w| {
                                    w.append(FindingEvent::AnalysisRan(Stamped {
                                        as_of: now(),
                                        import: None,
                                        record: run(),
                                    }))
                                })
                                .unwrap();
                            (seq, actor)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut written: Vec<(u64, String)> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        written.sort();
        assert_eq!(written.len(), 150);
        let events = store.read(|r| r.events(&Default::default())).unwrap();
        assert_eq!(events.len(), 150);
        for (e, (seq, actor)) in events.iter().zip(&written) {
            assert_eq!((&e.seq, &e.actor), (seq, actor));
        }
        assert_eq!(
            events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (1..=150).collect::<Vec<_>>()
        );
        rebuilt_matches(&store);
    }
);

/// A small event: what a write of a decision's size appends.
fn ran() -> FindingEvent {
    FindingEvent::AnalysisRan(Stamped {
        as_of: now(),
        import: None,
        record: run(),
    })
}

/// Holds a write open (inside its transaction) until `n` writers have queued behind it.
fn hold_until_queued(store: &Store, n: usize) {
    let t = std::time::Instant::now();
    while testing::waiting_writers(store) < n {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(60),
            "{n} writers did not queue"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// The log's (seq, actor) pairs, and a check that it holds 1..=n without a gap.
fn logged(store: &Store) -> Vec<(u64, String)> {
    let events = store.read(|r| r.events(&Default::default())).unwrap();
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=events.len() as u64).collect::<Vec<_>>()
    );
    events.into_iter().map(|e| (e.seq, e.actor)).collect()
}

/// Signs a checkpoint and verifies the whole ledger against it, state included.
fn verifies(store: &Store) {
    let key = signer(1);
    store.sign_checkpoint(&key, now()).unwrap();
    let verifier = key.verifier();
    store
        .read(|r| {
            r.verify_ledger(&gatehouse_store::VerifyOptions {
                key: &verifier,
                published: vec![],
                state: true,
            })
        })
        .unwrap();
    rebuilt_matches(store);
}

// Group commit: writes that queue while a transaction is open share the next commit. Many
// threads on one handle: every write that reports success is in the log under the sequence
// number it was told, in one order without gaps; the ledger verifies; and there were fewer
// commits than writes.
both!(
    group_commit_loses_nothing_under_concurrency,
    |store: Store, _at: String| {
        let threads: Vec<_> = (0..12)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    (0..30)
                        .map(|j| {
                            let actor = format!("writer:{i}-{j}");
                            let seq = store.write(&actor, now(), |w| w.append(ran())).unwrap();
                            (seq, actor)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut written: Vec<(u64, String)> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        written.sort();
        assert_eq!(logged(&store), written);
        let stats = store.commit_stats();
        assert_eq!(stats.writes, 360);
        assert!(
            stats.commits < stats.writes && stats.largest > 1,
            "no group formed: {stats:?}"
        );
        verifies(&store);
    }
);

// Writes that queue behind an open write all join its group, in arrival order, and commit
// once, together; each is told its own sequence number.
both!(
    writes_queued_behind_an_open_write_commit_with_it,
    |store: Store, _at: String| {
        store.write("setup", now(), |w| w.append(ran())).unwrap();
        let before = store.commit_stats();
        let writing = std::sync::atomic::AtomicBool::new(false);
        let (first, others) = std::thread::scope(|s| {
            let first = s.spawn(|| {
                store
                    .write("first", now(), |w| {
                        let seq = w.append(ran())?;
                        writing.store(true, std::sync::atomic::Ordering::SeqCst);
                        hold_until_queued(&store, 10);
                        Ok::<_, StoreError>(seq)
                    })
                    .unwrap()
            });
            while !writing.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::yield_now();
            }
            let mut others = Vec::new();
            for i in 0..10 {
                // One after another, so that they queue in this order.
                hold_until_queued(&store, i);
                let store = &store;
                others.push(s.spawn(move || {
                    store
                        .write(&format!("w{i}"), now(), |w| w.append(ran()))
                        .unwrap()
                }));
            }
            let others: Vec<u64> = others.into_iter().map(|h| h.join().unwrap()).collect();
            (first.join().unwrap(), others)
        });
        assert_eq!(first, 2);
        assert_eq!(others, (3..=12).collect::<Vec<_>>());
        let after = store.commit_stats();
        assert_eq!(after.writes - before.writes, 11);
        assert_eq!(after.commits - before.commits, 1);
        assert_eq!(after.largest, 11);
        let log = logged(&store);
        assert_eq!(log[1], (2, "first".to_owned()));
        for i in 0..10 {
            assert_eq!(log[2 + i], (3 + i as u64, format!("w{i}")));
        }
        verifies(&store);
    }
);

// A write that fails inside a group — refused by Gatehouse, refused by the database, or
// panicking — is rolled back alone: it reports its own failure, leaves nothing behind, and
// the others of its group commit with the sequence numbers they were told, without a gap.
both!(
    a_failing_write_in_a_group_leaves_nothing_behind,
    |store: Store, _at: String| {
        #[derive(Debug)]
        enum Outcome {
            Written(u64),
            Refused(StoreError),
            Panicked,
        }
        let before = store.commit_stats();
        let writing = std::sync::atomic::AtomicBool::new(false);
        let outcomes: Vec<(usize, Outcome)> = std::thread::scope(|s| {
            let first = s.spawn(|| {
                store
                    .write("first", now(), |w| {
                        let seq = w.append(ran())?;
                        writing.store(true, std::sync::atomic::Ordering::SeqCst);
                        hold_until_queued(&store, 9);
                        Ok::<_, StoreError>(seq)
                    })
                    .unwrap()
            });
            while !writing.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::yield_now();
            }
            let mut handles = Vec::new();
            for i in 0..9 {
                hold_until_queued(&store, i);
                let store = &store;
                handles.push(s.spawn(move || {
                    store.write(&format!("w{i}"), now(), |w| {
                        let seq = w.append(ran())?;
                        // The write reads what it wrote, and what the group wrote before it.
                        assert_eq!(w.read()?.size(), seq);
                        match i % 4 {
                            1 => Err(StoreError::refused(
                                ErrorCode::InvalidInput,
                                format!("write {i} is refused"),
                            )),
                            2 => testing::fail_in_database(w).map(|()| seq),
                            3 if i == 7 => panic!("write {i} panics"),
                            _ => {
                                w.append(ran())?;
                                Ok(seq)
                            }
                        }
                    })
                }));
            }
            let mut outcomes = vec![(usize::MAX, Outcome::Written(first.join().unwrap()))];
            for (i, h) in handles.into_iter().enumerate() {
                outcomes.push((
                    i,
                    match h.join() {
                        Ok(Ok(seq)) => Outcome::Written(seq),
                        Ok(Err(e)) => Outcome::Refused(e),
                        Err(_) => Outcome::Panicked,
                    },
                ));
            }
            outcomes
        });
        let mut expected = vec![(1, "first".to_owned())];
        for (i, outcome) in &outcomes[1..] {
            match (i % 4, outcome) {
                (1, Outcome::Refused(e)) => assert_eq!(e.code(), ErrorCode::InvalidInput, "{e}"),
                (2, Outcome::Refused(e)) => assert_eq!(e.code(), ErrorCode::Database, "{e}"),
                (3, Outcome::Panicked) if *i == 7 => {}
                (0 | 3, Outcome::Written(seq)) => {
                    // Two events each, numbered after the successful writes before it.
                    let next = expected.len() as u64 + 1;
                    assert_eq!(*seq, next, "write {i}");
                    expected.push((next, format!("w{i}")));
                    expected.push((next + 1, format!("w{i}")));
                }
                other => panic!("write {i}: unexpected {other:?}"),
            }
        }
        assert_eq!(logged(&store), expected);
        let after = store.commit_stats();
        assert_eq!(after.commits - before.commits, 1);
        assert_eq!(after.writes - before.writes, 5);
        verifies(&store);
        // The store goes on: the next write follows without a gap.
        let seq = store.write("after", now(), |w| w.append(ran())).unwrap();
        assert_eq!(seq, expected.len() as u64 + 1);
        rebuilt_matches(&store);
    }
);

// Writes from async tasks queue as jobs without a thread of their own: the thread that holds
// the group's transaction runs them in their turn, in arrival order, each in its savepoint.
// One that is refused or panics reports it alone; the others commit with the group.
both!(
    async_writes_run_in_the_turn_of_the_thread_writing,
    |store: Store, _at: String| {
        store.write("setup", now(), |w| w.append(ran())).unwrap();
        let before = store.commit_stats();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let writing = std::sync::atomic::AtomicBool::new(false);
        let ((first, leader), results) = std::thread::scope(|s| {
            let first = s.spawn(|| {
                store
                    .write("first", now(), |w| {
                        let seq = w.append(ran())?;
                        writing.store(true, std::sync::atomic::Ordering::SeqCst);
                        hold_until_queued(&store, 6);
                        Ok::<_, StoreError>((seq, std::thread::current().id()))
                    })
                    .unwrap()
            });
            while !writing.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::yield_now();
            }
            let mut tasks = Vec::new();
            for i in 0..6 {
                hold_until_queued(&store, i);
                let store = store.clone();
                tasks.push(rt.spawn(async move {
                    store
                        .write_async(format!("job{i}"), now(), move |w| {
                            let seq = w.append(ran())?;
                            match i {
                                2 => Err(StoreError::refused(
                                    ErrorCode::InvalidInput,
                                    format!("job {i} is refused"),
                                )),
                                4 => panic!("job {i} panics"),
                                _ => Ok((seq, std::thread::current().id())),
                            }
                        })
                        .await
                }));
            }
            let first = first.join().unwrap();
            let results: Vec<_> = tasks.into_iter().map(|t| rt.block_on(t).unwrap()).collect();
            (first, results)
        });
        assert_eq!(first, 2);
        let mut expected = vec![(1, "setup".to_owned()), (2, "first".to_owned())];
        for (i, result) in results.into_iter().enumerate() {
            match (i, result) {
                (2, Err(e)) => assert_eq!(e.code(), ErrorCode::InvalidInput, "{e}"),
                (4, Err(e)) => assert!(e.to_string().contains("job 4 panics"), "{e}"),
                (_, Ok((seq, thread))) => {
                    assert_eq!(thread, leader, "job {i} ran on a thread of its own");
                    assert_eq!(seq, expected.len() as u64 + 1, "job {i}");
                    expected.push((seq, format!("job{i}")));
                }
                (_, other) => panic!("job {i}: unexpected {other:?}"),
            }
        }
        assert_eq!(logged(&store), expected);
        let after = store.commit_stats();
        assert_eq!(after.commits - before.commits, 1);
        assert_eq!(after.writes - before.writes, 5);
        verifies(&store);
        // A job that finds nobody writing leads a group of its own.
        let seq = rt
            .block_on(store.write_async("alone".into(), now(), |w| w.append(ran())))
            .unwrap();
        assert_eq!(seq, expected.len() as u64 + 1);
        rebuilt_matches(&store);
    }
);

/// A system of `accounts` accounts, each holding `per_account` entitlements.
fn large_erp(accounts: usize, per_account: usize) -> SystemImport {
    let mut import = erp(vec![]);
    import.entitlements = (0..per_account)
        .map(|i| entitlement(&format!("group/G{i}"), false))
        .collect();
    import.accounts = (0..accounts)
        .map(|i| account(&format!("u{i:06}"), None))
        .collect();
    for a in &import.accounts {
        for e in &import.entitlements {
            import.grants.push(grant(&a.native_id, &e.native_id, None));
        }
    }
    import
}

// Readers during an import: the import commits batch after batch, and every reader sees the
// state after some batch, never inside one. `ledger verify` (which replays the log it sees and
// compares every state row) passes at every moment of the import; `who-has` counts only grow,
// by whole batches.
both!(
    readers_see_whole_batches_during_an_import,
    |store: Store, _at: String| {
        import_people(&store, people(), &opts("2026-01-01")).unwrap();
        import_system(&store, large_erp(10, 1), &opts("2026-01-15")).unwrap();
        let key = signer(1);
        store.sign_checkpoint(&key, now()).unwrap();
        let import = large_erp(12_000, 4);
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            let writer = s.spawn(|| {
                let summary = import_system(&store, import, &opts("2026-02-01")).unwrap();
                done.store(true, std::sync::atomic::Ordering::SeqCst);
                summary
            });
            let verifier = s.spawn(|| {
                let key = signer(1).verifier();
                let mut sizes = Vec::new();
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    let report = store
                        .read(|r| {
                            r.verify_ledger(&gatehouse_store::VerifyOptions {
                                key: &key,
                                published: vec![],
                                state: true,
                            })
                        })
                        .unwrap_or_else(|e| panic!("verify during the import: {e}"));
                    sizes.push(report.events);
                }
                sizes
            });
            let mut seen = Vec::new();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let (size, n) = store
                    .read(|r| {
                        let e = match r.resolve_entitlement("erp:group/G3") {
                            Ok(e) => e,
                            Err(_) => return Ok::<_, StoreError>((r.size(), 0)),
                        };
                        let n = r.who_has(&e, t("2026-03-01"), &HolderPage::default())?;
                        Ok((r.size(), n.total))
                    })
                    .unwrap();
                seen.push((size, n));
            }
            let summary = writer.join().unwrap();
            let sizes = verifier.join().unwrap();
            // Ten of the grants were there already.
            assert_eq!(summary.changes["grant.added"], 47_990);
            assert!(!sizes.is_empty());
            // Counts never go back, and a count is only ever seen with one log size.
            for w in seen.windows(2) {
                assert!(w[0].1 <= w[1].1 && w[0].0 <= w[1].0, "{w:?}");
            }
        });
        assert_eq!(total(&store, "erp:group/G3", t("2026-03-01")), 12_000);
        rebuilt_matches(&store);
    }
);

// A reader is never blocked by an import's open write transaction: a question asked from
// inside a batch (which holds the writers' lock and has rows it has not committed) is answered
// at once, from a state before that batch.
both!(
    a_reader_is_not_blocked_by_an_open_import_batch,
    |store: Store, location: String| {
        import_people(&store, people(), &opts("2026-01-01")).unwrap();
        // A store that holds data, so that the import is recorded in several batches.
        import_system(&store, large_erp(10, 1), &opts("2026-01-15")).unwrap();
        let other = Store::open(&location, &OpenOptions::existing()).unwrap();
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut lock = store.import_lock().unwrap();
        let (reader, seen) = (other.clone(), asked.clone());
        lock.set_progress(Some(std::sync::Arc::new(move |_, _| {
            if seen.lock().unwrap().len() >= 4 {
                return;
            }
            let reader = reader.clone();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let answer = reader.read(|r| {
                    let e = r.resolve_entitlement("erp:group/G0")?;
                    let page = HolderPage {
                        after: None,
                        limit: Some(100),
                    };
                    let holders = r.who_has(&e, t("2026-03-01"), &page)?;
                    r.resolve_account("erp:u000003")?;
                    Ok::<_, StoreError>((r.size(), holders.total))
                });
                let _ = tx.send(answer);
            });
            let answer = rx
                .recv_timeout(std::time::Duration::from_secs(30))
                .expect("a reader waited for the import's open batch")
                .unwrap();
            seen.lock().unwrap().push(answer);
        })));
        let summary = lock
            .import_system(large_erp(15_000, 4), &opts("2026-02-01"), "test", now())
            .unwrap();
        drop(lock);
        let seen = asked.lock().unwrap().clone();
        let end = other.event_count().unwrap();
        assert_eq!(seen.len(), 4, "{seen:?}");
        for (size, n) in &seen {
            assert!(*size < end, "{seen:?}");
            assert!((10..15_000).contains(n), "{seen:?}");
        }
        assert_eq!(summary.changes["grant.added"], 59_990);
        assert_eq!(total(&store, "erp:group/G0", t("2026-03-01")), 15_000);
    }
);

// On PostgreSQL, an import that fills the inventory's tables gathers the planner's statistics
// at its end: until the server's autovacuum gets to them (a minute or more later), the planner
// would know nothing of a million grants, and a page of holders took seconds. A small import
// into tables that already hold many rows leaves that to autovacuum.
#[test]
fn postgres_gathers_statistics_after_a_large_import() {
    let store = Store::open(&testing::postgres_url(), &OpenOptions::create()).unwrap();
    let analyzed = |store: &Store| -> i64 {
        match testing::rows(
            store,
            "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'grant_version'",
            &[],
        )
        .as_slice()
        {
            [row] => match row.as_slice() {
                [Value::Int(n)] => *n,
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(analyzed(&store), 0);
    import_system(&store, large_erp(2_000, 3), &opts("2026-02-01")).unwrap();
    assert_eq!(analyzed(&store), 1);
    let known = testing::rows(
        &store,
        "SELECT reltuples::bigint FROM pg_class WHERE relname = 'grant_version'",
        &[],
    );
    assert_eq!(known, vec![vec![Value::Int(6_000)]]);
    // Ten grants fewer: nothing to gather.
    let mut fewer = large_erp(2_000, 3);
    fewer.grants.truncate(5_990);
    let summary = import_system(&store, fewer, &opts("2026-03-01")).unwrap();
    assert_eq!(summary.changes["grant.removed"], 10);
    assert_eq!(analyzed(&store), 1);
}

// The import's batches are short write transactions: a small write that arrives during an
// import is recorded between two of its batches, long before the import ends.
both!(
    a_small_write_waits_for_one_batch_not_the_import,
    |store: Store, location: String| {
        import_people(&store, people(), &opts("2026-01-01")).unwrap();
        // A store that holds data (the first load of an empty store is one transaction).
        import_system(&store, large_erp(10, 1), &opts("2026-01-15")).unwrap();
        let other = Store::open(&location, &OpenOptions::existing()).unwrap();
        let base = other.event_count().unwrap();
        let started = std::sync::atomic::AtomicBool::new(false);
        let (decision, import_seq) = std::thread::scope(|s| {
            let import = s.spawn(|| {
                let mut lock = store.import_lock().unwrap();
                let plan = store
                    .read(|r| r.plan_system(large_erp(15_000, 4), &opts("2026-02-01")))
                    .unwrap();
                started.store(true, std::sync::atomic::Ordering::SeqCst);
                lock.apply(plan, "test", now()).unwrap()
            });
            while !started.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::yield_now();
            }
            // Wait until the import has recorded its first batch.
            while other.event_count().unwrap() < base + 5 {
                std::thread::yield_now();
            }
            let decision = other
                .write("reviewer", now(), |w| {
                    w.append(FindingEvent::AnalysisRan(Stamped {
                        as_of: now(),
                        import: None,
                        record: run(),
                    }))
                })
                .unwrap();
            (decision, import.join().unwrap().import_seq.unwrap())
        });
        let last = store.event_count().unwrap();
        assert!(
            decision > import_seq && decision < last,
            "the decision ({decision}) was recorded between the import's batches ({import_seq}..{last})"
        );
        rebuilt_matches(&store);
    }
);

// A process killed in the middle of an import leaves a store that opens, verifies, says that
// the import is incomplete, and is completed by importing the same snapshot again.
both!(
    an_import_killed_midway_is_completed_by_the_next,
    |store: Store, location: String| {
        import_people(&store, people(), &opts("2026-01-01")).unwrap();
        // A store that holds data (the first load of an empty store is one transaction).
        import_system(&store, large_erp(10, 1), &opts("2026-01-15")).unwrap();
        store.sign_checkpoint(&signer(1), now()).unwrap();
        let base = store.event_count().unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_import",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("GATEHOUSE_TEST_CHILD_STORE", &location)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Kill it once a few batches are in, well before the end.
        loop {
            let n = store.event_count().unwrap();
            if n >= base + 20 {
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the importing child ended by itself ({status}) at {n} events");
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let store = Store::open(&location, &OpenOptions::existing()).unwrap();
        let after_kill = store.event_count().unwrap();
        assert!(
            after_kill < base + 1 + 120,
            "killed before the end: {after_kill}"
        );
        let key = signer(1).verifier();
        store
            .read(|r| {
                r.verify_ledger(&gatehouse_store::VerifyOptions {
                    key: &key,
                    published: vec![],
                    state: true,
                })
            })
            .unwrap();
        let incomplete = store.read(|r| r.incomplete_imports()).unwrap();
        assert_eq!(incomplete.len(), 1, "{incomplete:?}");
        assert_eq!(incomplete[0].source, "system:erp");
        assert!(incomplete[0].recorded < incomplete[0].total);
        // The import lock died with the child.
        let summary = import_system(&store, large_erp(30_000, 4), &opts("2026-02-01")).unwrap();
        assert_eq!(summary.resumed, Some(incomplete[0].seq));
        assert!(store.read(|r| r.incomplete_imports()).unwrap().is_empty());
        assert_eq!(total(&store, "erp:group/G0", t("2026-03-01")), 30_000);
        // The same snapshot once more changes nothing.
        let again = import_system(&store, large_erp(30_000, 4), &opts("2026-02-01")).unwrap();
        assert!(again.unchanged());
        store.sign_checkpoint(&signer(1), now()).unwrap();
        store
            .read(|r| {
                r.verify_ledger(&gatehouse_store::VerifyOptions {
                    key: &key,
                    published: vec![],
                    state: true,
                })
            })
            .unwrap();
    }
);

/// The importing process of `an_import_killed_midway_is_completed_by_the_next`; does nothing
/// unless that test starts it.
#[test]
fn child_import() {
    let Ok(location) = std::env::var("GATEHOUSE_TEST_CHILD_STORE") else {
        return;
    };
    let store = Store::open(&location, &OpenOptions::existing()).unwrap();
    import_system(&store, large_erp(30_000, 4), &opts("2026-02-01")).unwrap();
}

both!(
    only_one_import_at_a_time,
    |store: Store, location: String| {
        let lock = store.import_lock().unwrap();
        let other = Store::open(&location, &OpenOptions::existing()).unwrap();
        let err = other.import_lock().err().unwrap();
        assert_eq!(err.code(), ErrorCode::ImportRunning);
        assert_eq!(
            err.to_string(),
            "another import into this store is running; it must finish before this one starts"
        );
        drop(lock);
        other.import_lock().unwrap();
    }
);

both!(transactions_do_not_nest, |store: Store, _at: String| {
    let err = store
        .read(|_| store.read(|r| Ok::<_, StoreError>(r.size())))
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NestedTransaction);
});

// An async program reads and writes from many tasks without blocking its runtime.
both!(async_tasks_share_the_store, |store: Store, _at: String| {
    import_people(&store, people(), &opts("2026-01-01")).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (reads, writes) = rt.block_on(async {
        let mut reads = Vec::new();
        for _ in 0..16 {
            let s = store.clone();
            reads.push(tokio::spawn(async move {
                s.read_async(|r| Ok::<_, StoreError>(r.resolve_identity("E1", now())?.name))
                    .await
            }));
        }
        let mut writes = Vec::new();
        for i in 0..8 {
            let s = store.clone();
            writes.push(tokio::spawn(async move {
                s.write_async(format!("server:{i}"), now(), |w| {
                    w.append(FindingEvent::AnalysisRan(Stamped {
                        as_of: now(),
                        import: None,
                        record: run(),
                    }))
                })
                .await
            }));
        }
        let mut names = Vec::new();
        for r in reads {
            names.push(r.await.unwrap().unwrap());
        }
        let mut seqs = Vec::new();
        for w in writes {
            seqs.push(w.await.unwrap().unwrap());
        }
        (names, seqs)
    });
    assert!(reads.iter().all(|n| n == "Ada"));
    let mut writes = writes;
    writes.sort();
    assert_eq!(writes, (3..=10).collect::<Vec<u64>>());
});

// Prepared statements are kept per connection up to a bound: many different questions do
// not grow a long-running server's memory.
both!(
    prepared_statements_stay_bounded,
    |store: Store, _at: String| {
        import_people(&store, people(), &opts("2026-01-01")).unwrap();
        for day in 0..400 {
            let at = t("2026-01-01")
                .checked_add(jiff::SignedDuration::from_hours(day * 24))
                .unwrap();
            store
                .read(|r| {
                    r.resolve_identity("E1", at)?;
                    r.events(&gatehouse_store::EventFilter {
                        limit: Some(day as u64 + 1),
                        kind: Some(format!("kind{day}.")),
                        ..Default::default()
                    })
                })
                .unwrap();
        }
        assert!(testing::prepared_statements(&store) <= testing::STATEMENT_CAPACITY);
        assert!(testing::open_connections(&store) <= 16);
    }
);

both!(
    schema_versions_are_checked,
    |store: Store, location: String| {
        drop(store);
        // Newer than this build: refused, by every kind of open.
        let admin = Store::open(&location, &OpenOptions::existing()).unwrap();
        testing::execute(
            &admin,
            "INSERT INTO schema_migration (version, name) VALUES (99, 'future')",
            &[],
        );
        drop(admin);
        for options in [OpenOptions::existing(), OpenOptions::migrate()] {
            let err = Store::open(&location, &options).err().unwrap();
            assert_eq!(err.code(), ErrorCode::SchemaTooNew);
            assert!(
                err.to_string().starts_with(&format!(
                    "the store has schema version 99, newer than this gatehouse understands ({})",
                    gatehouse_store::SCHEMA_VERSION
                )),
                "{err}"
            );
        }
    }
);

#[test]
fn an_outdated_store_is_refused_until_migrated() {
    for location in [
        {
            let dir = tempfile::tempdir().unwrap().keep();
            dir.join("g.db").to_str().unwrap().to_owned()
        },
        testing::postgres_url(),
    ] {
        let store = Store::open(&location, &OpenOptions::create()).unwrap();
        let created: Vec<i64> = store
            .migrations_applied()
            .iter()
            .map(|m| m.version)
            .collect();
        assert_eq!(created.last(), Some(&gatehouse_store::SCHEMA_VERSION));
        // As an earlier release left it: without migrations 4 and later, and with a last login.
        import_system(&store, erp(vec![]), &opts("2026-01-01")).unwrap();
        import_system(
            &store,
            {
                let mut e = erp(vec![]);
                e.accounts[0].last_login = Some(t("2026-01-20"));
                e
            },
            &opts("2026-02-01"),
        )
        .unwrap();
        let before = testing::rows(
            &store,
            "SELECT account_id, last_login FROM account_login",
            &[],
        );
        assert_eq!(before.len(), 1);
        testing::batch(&store, "DROP INDEX event_kind");
        testing::batch(&store, "ALTER TABLE import DROP COLUMN remaining");
        testing::batch(&store, "ALTER TABLE account ADD COLUMN last_login BIGINT");
        testing::execute(
            &store,
            "UPDATE account SET last_login = $1 WHERE account_id = $2",
            &[before[0][1].clone(), before[0][0].clone()],
        );
        testing::batch(&store, "DROP TABLE account_login");
        testing::batch(&store, "ALTER TABLE grant_version DROP COLUMN granted_at");
        for table in [
            "campaign",
            "review_item",
            "review_decision",
            "review_reassignment",
            "review_reminder",
            "remediation",
            "notification",
        ] {
            testing::batch(&store, &format!("DROP TABLE {table}"));
        }
        if store.backend() == gatehouse_store::Backend::Postgres {
            testing::batch(&store, "DROP INDEX identity_version_current");
            testing::batch(&store, "DROP INDEX account_version_current");
        }
        // The previous release had none of the later migrations' tables either (20: users).
        // Nor the review context (10).
        // Nor the open counts (12).
        for table in ["review_holder", "review_entitlement", "review_open"] {
            testing::batch(&store, &format!("DROP TABLE {table}"));
        }
        for table in ["web_credential", "api_token", "web_user"] {
            testing::batch(&store, &format!("DROP TABLE {table}"));
        }
        // Nor the kept import files (14).
        testing::batch(&store, "DROP TABLE import_memory");
        testing::execute(
            &store,
            "DELETE FROM schema_migration WHERE version >= 4",
            &[],
        );
        drop(store);
        let err = Store::open(&location, &OpenOptions::existing())
            .err()
            .unwrap();
        assert_eq!(err.code(), ErrorCode::SchemaOutdated);
        let store = Store::open(&location, &OpenOptions::migrate()).unwrap();
        assert_eq!(
            store
                .migrations_applied()
                .iter()
                .map(|m| m.version)
                .collect::<Vec<_>>(),
            created
                .iter()
                .copied()
                .filter(|v| *v >= 4)
                .collect::<Vec<_>>()
        );
        assert_eq!(
            testing::rows(
                &store,
                "SELECT account_id, last_login FROM account_login",
                &[]
            ),
            before
        );
        // The migrated store is the state its events rebuild.
        rebuilt_matches(&store);
        drop(store);
        let store = Store::open(&location, &OpenOptions::migrate()).unwrap();
        assert!(store.migrations_applied().is_empty());
    }
}

#[test]
fn opening_a_missing_store_says_what_is_wrong() {
    let err = Store::open("/nonexistent/g.db", &OpenOptions::existing())
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "there is no gatehouse store at `/nonexistent/g.db`"
    );
    assert_eq!(err.code(), ErrorCode::StoreNotFound);
    let err = Store::open("mysql://root:secret@db/x", &OpenOptions::existing())
        .err()
        .unwrap();
    assert_eq!(err.code(), ErrorCode::StoreLocationInvalid);
    assert!(!err.to_string().contains("secret"), "{err}");
    // An empty PostgreSQL database is not a store until `init`.
    let err = Store::open(&testing::postgres_url(), &OpenOptions::existing())
        .err()
        .unwrap();
    assert_eq!(err.code(), ErrorCode::StoreNotInitialised);
}

#[cfg(unix)]
#[test]
fn a_new_store_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let store = Store::open(path.to_str().unwrap(), &OpenOptions::create()).unwrap();
    import_people(&store, people(), &opts("2026-01-01")).unwrap();
    for f in ["g.db", "g.db-wal"] {
        let p = dir.path().join(f);
        if p.exists() {
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{f}");
        }
    }
}

fn index_sql(store: &Store) -> Vec<(String, String)> {
    testing::rows(
        store,
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
        &[],
    )
    .into_iter()
    .map(|r| match (&r[0], &r[1]) {
        (Value::Text(a), Value::Text(b)) => (a.clone(), b.clone()),
        other => panic!("{other:?}"),
    })
    .collect()
}

// The first load of a store is a bulk load: its large imports drop the history indexes (the
// tables are empty) and rebuild them once, exactly as the migrations create them; answers
// stay right meanwhile. Imports into a store that holds data keep the indexes, so that
// questions asked during them stay fast. An index left dropped by a process that died is
// restored by the next import.
#[test]
fn bulk_loads_rebuild_the_indexes_they_drop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db").to_string_lossy().into_owned();
    let store = Store::open(&path, &OpenOptions::create()).unwrap();
    let migrated = index_sql(&store);
    assert!(
        migrated
            .iter()
            .any(|(n, _)| n == "grant_version_entitlement")
    );
    let has = |store: &Store, name: &str| index_sql(store).iter().any(|(n, _)| n == name);

    let mut lock = store.import_lock().unwrap();
    lock.set_bulk();
    lock.import_system(large_erp(20_000, 3), &opts("2026-02-01"), "test", now())
        .unwrap();
    assert!(
        !has(&store, "grant_version_entitlement"),
        "dropped for the load"
    );
    assert!(
        has(&store, "account_version_identity"),
        "20,000 accounts are few"
    );
    // Answers stay right while the index is away.
    assert_eq!(total(&store, "erp:group/G1", t("2026-03-01")), 20_000);
    lock.release().unwrap();
    assert_eq!(
        index_sql(&store),
        migrated,
        "rebuilt at the end of the load"
    );

    // A store with data keeps its indexes through a large import.
    let mut more = large_erp(40_000, 3);
    more.grants.retain(|g| g.entitlement != "group/G2");
    let mut lock = store.import_lock().unwrap();
    lock.set_bulk();
    lock.import_system(more, &opts("2026-03-01"), "test", now())
        .unwrap();
    assert_eq!(index_sql(&store), migrated);
    lock.release().unwrap();

    // A process that dies inside a bulk load: readers answer without the index, and the next
    // import restores it (and its own drop tolerates the index being gone).
    testing::batch(&store, "DROP INDEX grant_version_entitlement");
    drop(store);
    let store = Store::open(&path, &OpenOptions::existing()).unwrap();
    assert!(!has(&store, "grant_version_entitlement"));
    assert_eq!(total(&store, "erp:group/G2", t("2026-02-15")), 20_000);
    assert_eq!(total(&store, "erp:group/G2", t("2026-03-15")), 0);
    let lock = store.import_lock().unwrap();
    assert_eq!(index_sql(&store), migrated);
    drop(lock);
    rebuilt_matches(&store);
}

// ---- ledger verification and tampering ----------------------------------------------------

use gatehouse_ledger::NoteSigner;
use gatehouse_store::{VerifyError, VerifyOptions};

fn signer(seed: u8) -> NoteSigner {
    NoteSigner::generate_from_seed("test.example/gatehouse", [seed; 32]).unwrap()
}

/// A store with a few imports and checkpoints after each.
fn ledgered(store: &Store) {
    let key = signer(1);
    import_people(store, people(), &opts("2026-01-01")).unwrap();
    store.sign_checkpoint(&key, now()).unwrap();
    import_system(
        store,
        erp(vec![
            grant("ada", "role/Admin", None),
            grant("bob", "role/AP_Approver", Some("request:R1")),
        ]),
        &opts("2026-02-01"),
    )
    .unwrap();
    store.sign_checkpoint(&key, now()).unwrap();
    import_system(
        store,
        erp(vec![grant("bob", "role/AP_Approver", Some("request:R1"))]),
        &opts("2026-03-01"),
    )
    .unwrap();
    store.sign_checkpoint(&key, now()).unwrap();
}

fn verify(store: &Store) -> Result<gatehouse_store::VerifyReport, String> {
    let key = signer(1).verifier();
    store
        .read(|r| {
            r.verify_ledger(&VerifyOptions {
                key: &key,
                published: vec![],
                state: true,
            })
        })
        .map_err(|e| match e {
            VerifyError::Tampered(m) => m,
            other => format!("{}: {other}", other.code()),
        })
}

fn exec(store: &Store, sql: &str, params: &[Value]) {
    testing::execute(store, sql, params);
}

fn body(store: &Store, seq: i64) -> Vec<u8> {
    match &testing::rows(
        store,
        "SELECT body FROM event WHERE seq = $1",
        &[Value::Int(seq)],
    )[0][0]
    {
        Value::Blob(b) => b.clone(),
        other => panic!("{other:?}"),
    }
}

// Two handles on one store (two processes, say) append in turn: each starts from the ledger's
// edge it left only while nobody else has appended, and the tree stays right.
both!(
    two_handles_append_in_turn,
    |store: Store, location: String| {
        let other = Store::open(&location, &OpenOptions::existing()).unwrap();
        import_people(&store, people(), &opts("2026-01-01")).unwrap();
        import_system(
            &other,
            erp(vec![grant("ada", "role/Admin", None)]),
            &opts("2026-02-01"),
        )
        .unwrap();
        import_system(
            &store,
            erp(vec![grant("bob", "role/AP_Approver", Some("request:R1"))]),
            &opts("2026-03-01"),
        )
        .unwrap();
        // A refused write leaves nothing behind, the edge included.
        import_system(&other, erp(vec![]), &opts("2026-01-15")).unwrap_err();
        import_system(
            &other,
            erp(vec![
                grant("ada", "role/Admin", None),
                grant("bob", "role/AP_Approver", Some("request:R1")),
            ]),
            &opts("2026-04-01"),
        )
        .unwrap();
        store.sign_checkpoint(&signer(1), now()).unwrap();
        let r = verify(&other).unwrap();
        assert_eq!(r.events, store.event_count().unwrap());
        assert_eq!(r.signed_size, r.events);
    }
);

both!(clean_ledger_verifies, |store: Store, _at: String| {
    ledgered(&store);
    let r = verify(&store).unwrap();
    assert_eq!(r.events, store.event_count().unwrap());
    assert_eq!(r.checkpoints, 3);
    assert_eq!(r.signed_size, r.events);
    assert!(r.state_checked);
    // Every event has an inclusion proof that verifies against the latest checkpoint.
    let cp = store.read(|r| r.latest_checkpoint()).unwrap().unwrap();
    for seq in 1..=r.events {
        let proof = store.read(|r| r.prove_inclusion(seq, cp.size)).unwrap();
        proof
            .verify(
                &gatehouse_ledger::leaf_hash(&body(&store, seq as i64)),
                &cp.root,
            )
            .unwrap();
    }
});

// A large event (here, an import's hundreds of entitlements) is stored compressed; readers,
// proofs and `ledger verify` see the bytes that were hashed, and an edit of the compressed
// bytes is caught like any other.
both!(
    large_bodies_are_stored_compressed_and_verify,
    |store: Store, _at: String| {
        import_people(&store, people(), &opts("2026-01-01")).unwrap();
        let mut system = erp(vec![grant("ada", "role/Admin", None)]);
        system
            .entitlements
            .extend((0..600).map(|i| entitlement(&format!("role/Generated_{i:04}"), false)));
        import_system(&store, system, &opts("2026-02-01")).unwrap();
        store.sign_checkpoint(&signer(1), now()).unwrap();
        let rows = testing::rows(
            &store,
            "SELECT seq FROM event ORDER BY length(body) DESC LIMIT 1",
            &[],
        );
        let Value::Int(seq) = rows[0][0] else {
            panic!("{rows:?}")
        };
        let stored = body(&store, seq);
        assert!(
            stored.starts_with(b"\0lz4"),
            "event {seq} is stored as it is"
        );
        let json = store.read(|r| r.event_body(seq as u64)).unwrap();
        assert!(json.starts_with(b"{") && json.len() > 4 * stored.len());
        assert!(String::from_utf8_lossy(&json).contains("role/Generated_0599"));
        let r = verify(&store).unwrap();
        assert_eq!(r.events, store.event_count().unwrap());
        let cp = store.read(|r| r.latest_checkpoint()).unwrap().unwrap();
        let proof = store
            .read(|r| r.prove_inclusion(seq as u64, cp.size))
            .unwrap();
        proof
            .verify(&gatehouse_ledger::leaf_hash(&json), &cp.root)
            .unwrap();
        // One byte of the compressed bytes changed.
        let mut edited = stored.clone();
        let last = edited.len() - 1;
        edited[last] ^= 0x20;
        exec(
            &store,
            "UPDATE event SET body = $1 WHERE seq = $2",
            &[Value::Blob(edited), Value::Int(seq)],
        );
        let err = verify(&store).unwrap_err();
        assert!(err.starts_with(&format!("event {seq}: ")), "{err}");
    }
);

both!(edited_event_is_named, |store: Store, _at: String| {
    ledgered(&store);
    let b = String::from_utf8(body(&store, 2)).unwrap();
    assert!(b.contains("\"Ada\""), "{b}");
    exec(
        &store,
        "UPDATE event SET body = $1 WHERE seq = 2",
        &[Value::Blob(b.replace("\"Ada\"", "\"Eve\"").into_bytes())],
    );
    let err = verify(&store).unwrap_err();
    assert_eq!(
        err,
        "event 2: its bytes do not hash to the leaf recorded in the tree when it was appended: the event was changed"
    );
});

// The columns beside an event's bytes are checked against them: a forged actor, kind, time or
// object is named, not listed by `ledger show` as if it were true.
both!(
    edited_event_columns_are_named,
    |store: Store, _at: String| {
        ledgered(&store);
        for (sql, expected) in [
            (
                "UPDATE event SET actor = 'cli:mallory' WHERE seq = 3",
                "event 3: column `actor` says `cli:mallory` but the event's hashed bytes say `test`: the row was edited",
            ),
            (
                "UPDATE event SET kind = 'grant.removed' WHERE seq = 3",
                "event 3: column `kind` says `grant.removed` but the event's hashed bytes say `import.applied`",
            ),
            (
                "UPDATE event SET recorded_at = 0 WHERE seq = 3",
                "event 3: column `recorded_at` says `0`",
            ),
            (
                "UPDATE event SET object = 'import:hr' WHERE seq = 3",
                "event 3: column `object` says `import:hr` but the event's hashed bytes say `import:system:erp`",
            ),
        ] {
            let saved = testing::rows(
                &store,
                "SELECT actor, kind, recorded_at, object FROM event WHERE seq = 3",
                &[],
            )
            .remove(0);
            exec(&store, sql, &[]);
            let err = verify(&store).unwrap_err();
            assert!(err.contains(expected), "{err}");
            exec(
                &store,
                "UPDATE event SET actor = $1, kind = $2, recorded_at = $3, object = $4 WHERE seq = 3",
                &saved,
            );
            verify(&store).unwrap();
        }
    }
);

// A body stored as text (an edit made with a string function) is tampering of that event,
// not a database error.
#[test]
fn body_stored_as_text_is_named() {
    let store = Store::in_memory().unwrap();
    ledgered(&store);
    exec(
        &store,
        "UPDATE event SET body = CAST(body AS TEXT) WHERE seq = 4",
        &[],
    );
    let err = verify(&store).unwrap_err();
    assert_eq!(
        err,
        "event 4: its body is stored as text, not as the bytes that were hashed: the row was edited"
    );
}

both!(deleted_event_is_named, |store: Store, _at: String| {
    ledgered(&store);
    exec(&store, "DELETE FROM event WHERE seq = 7", &[]);
    assert_eq!(
        verify(&store).unwrap_err(),
        "event 7 is missing from the log (the next stored event is 8)"
    );
});

both!(reordered_events_are_named, |store: Store, _at: String| {
    ledgered(&store);
    let (a, b) = (body(&store, 5), body(&store, 6));
    exec(
        &store,
        "UPDATE event SET body = $1 WHERE seq = 5",
        &[Value::Blob(b)],
    );
    exec(
        &store,
        "UPDATE event SET body = $1 WHERE seq = 6",
        &[Value::Blob(a)],
    );
    assert_eq!(
        verify(&store).unwrap_err(),
        "event 5: the row holds the bytes of event 6: events were moved or reordered"
    );
});

both!(
    state_edited_without_an_event_is_caught,
    |store: Store, _at: String| {
        ledgered(&store);
        exec(
            &store,
            "UPDATE grant_version SET warrant = 'request:FORGED' WHERE warrant = 'request:R1'",
            &[],
        );
        let err = verify(&store).unwrap_err();
        assert!(
            err.starts_with(
                "the state does not follow from the events: table `grant_version`, row system_id=1, account_id="
            ),
            "{err}"
        );
        assert!(
            err.contains(
                "column `warrant` is \"request:FORGED\" but the events say \"request:R1\""
            ),
            "{err}"
        );
    }
);

both!(
    state_row_inserted_without_an_event_is_caught,
    |store: Store, _at: String| {
        ledgered(&store);
        exec(
            &store,
            "INSERT INTO grant_version (system_id, account_id, entitlement_id, seq, valid_from, valid_to, end_seq, source, warrant, expires_at, attributes) \
         VALUES (1, 3, 3, 9999, 0, 9223372036854775807, NULL, 'direct', NULL, NULL, NULL)",
            &[],
        );
        let err = verify(&store).unwrap_err();
        assert!(err.contains("table `grant_version`, row system_id=1, account_id=3, entitlement_id=3, seq=9999: is in the store but not in the state rebuilt from the events"), "{err}");
    }
);

both!(truncation_is_caught, |store: Store, _at: String| {
    ledgered(&store);
    exec(&store, "DELETE FROM event WHERE seq > 5", &[]);
    let err = verify(&store).unwrap_err();
    assert!(err.starts_with("a checkpoint covers"), "{err}");
    assert!(
        err.contains("but the log holds only 5: events were removed from the end of the log"),
        "{err}"
    );
    // Hiding it: drop the checkpoints and sign the short log with another key.
    exec(&store, "DELETE FROM checkpoint", &[]);
    store.sign_checkpoint(&signer(9), now()).unwrap();
    let err = verify(&store).unwrap_err();
    assert!(
        err.starts_with(
            "the checkpoint of size 5 is not signed by the trusted key `test.example/gatehouse+"
        ),
        "{err}"
    );
    // Or with no checkpoint at all: the state tables still hold what the removed events did.
    // (A store whose events and state agree but that has no checkpoint is reported as not
    // covered: see `events_after_the_last_checkpoint_are_not_a_failure`.)
    exec(&store, "DELETE FROM checkpoint", &[]);
    let err = verify(&store).unwrap_err();
    assert!(
        err.starts_with("the state does not follow from the events: table `import`"),
        "{err}"
    );
});

both!(
    rewrite_with_the_real_key_is_caught_by_a_published_checkpoint,
    |store: Store, _at: String| {
        ledgered(&store);
        let published = store.read(|r| r.latest_checkpoint()).unwrap().unwrap().note;
        // Someone with the key rebuilds a different history of the same length and re-signs it.
        let other = Store::in_memory().unwrap();
        let mut p = people();
        p[0].name = "Mallory".into();
        import_people(&other, p, &opts("2026-01-01")).unwrap();
        import_system(
            &other,
            erp(vec![
                grant("ada", "role/Admin", None),
                grant("bob", "role/AP_Approver", Some("request:R1")),
            ]),
            &opts("2026-02-01"),
        )
        .unwrap();
        import_system(
            &other,
            erp(vec![grant("bob", "role/AP_Approver", Some("request:R1"))]),
            &opts("2026-03-01"),
        )
        .unwrap();
        other.sign_checkpoint(&signer(1), now()).unwrap();
        let key = signer(1).verifier();
        let err = other
            .read(|r| {
                r.verify_ledger(&VerifyOptions {
                    key: &key,
                    published: vec![("checkpoint-1".into(), published)],
                    state: true,
                })
            })
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("published checkpoint `checkpoint-1` (size"),
            "{err}"
        );
        assert!(
            err.ends_with("does not match the log: the log was rewritten after it was published"),
            "{err}"
        );
    }
);

both!(
    ledger_write_failure_changes_nothing,
    |store: Store, _at: String| {
        ledgered(&store);
        let before = store.event_count().unwrap();
        // The tile table refuses writes: the import must not happen either (fail closed).
        match store.backend() {
            gatehouse_store::Backend::Sqlite => testing::batch(
                &store,
                "CREATE TRIGGER no_tiles BEFORE UPDATE ON ledger_tile BEGIN SELECT RAISE(ABORT, 'ledger unavailable'); END",
            ),
            gatehouse_store::Backend::Postgres => testing::batch(
                &store,
                "CREATE FUNCTION no_tiles() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'ledger unavailable'; END $$ LANGUAGE plpgsql; \
                    CREATE TRIGGER no_tiles BEFORE UPDATE ON ledger_tile FOR EACH ROW EXECUTE FUNCTION no_tiles();",
            ),
        }
        let err = import_system(
            &store,
            erp(vec![grant("cy", "role/Admin", None)]),
            &opts("2026-04-01"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("ledger unavailable"), "{err}");
        assert_eq!(store.event_count().unwrap(), before);
        assert_eq!(total(&store, "erp:role/Admin", t("2026-05-01")), 0);
    }
);

both!(
    export_bundle_verifies_offline,
    |store: Store, _at: String| {
        ledgered(&store);
        let dir = tempfile::tempdir().unwrap();
        let key = signer(1).verifier();
        let total = store.event_count().unwrap();
        let m = store
            .read(|r| r.export_bundle(&dir.path().join("b"), 3, total - 2, &key))
            .unwrap();
        assert_eq!((m.from, m.to, m.tree_size), (3, total - 2, total));
        let report = gatehouse_ledger::bundle::verify_bundle(&dir.path().join("b"), &key).unwrap();
        assert_eq!(report.events_checked, total - 4);
        assert_eq!(report.older_checkpoints.len(), 2);
    }
);

fn finding(id: &str, rule: &str) -> Finding {
    Finding {
        id: id.into(),
        rule: rule.into(),
        severity: Severity::High,
        title: format!("{rule} for E1"),
        identity: Some(IdentityKey::new("E1").unwrap()),
        system: None,
        account: None,
        entitlements: vec![],
        facts: [("terminated_on".to_owned(), "2026-01-31".to_owned())].into(),
        explanation: "E1 left".into(),
    }
}

both!(findings_follow_their_events, |store: Store, _at: String| {
    ledgered(&store);
    let at: Timestamp = "2026-03-02T00:00:00Z".parse().unwrap();
    store
        .write("cli:test", at, |w| {
            let run = w.append(FindingEvent::AnalysisRan(Stamped {
                as_of: at,
                import: None,
                record: AnalysisRun {
                    policy: "0".repeat(64),
                    rules: vec!["leaver_access".into()],
                    present: [("high".to_owned(), 2)].into(),
                    opened: 2,
                    changed: 0,
                    resolved: 0,
                    reopened: 0,
                },
            }))?;
            w.append(FindingEvent::FindingOpened(Batch {
                as_of: at,
                import: Some(run),
                records: vec![
                    finding("F-0000000000000001", "leaver_access"),
                    finding("F-0000000000000002", "nhi_no_owner"),
                ],
            }))?;
            w.append(FindingEvent::FindingAccepted(Stamped {
                as_of: at,
                import: None,
                record: FindingAccepted {
                    id: "F-0000000000000002".into(),
                    by: "cli:test".into(),
                    reason: "owner being appointed".into(),
                    until: "2026-06-30T00:00:00Z".parse().unwrap(),
                },
            }))?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let rows = store
        .read(|r| r.findings(&gatehouse_store::findings::FindingFilter::default()))
        .unwrap();
    assert_eq!(rows.len(), 2);
    let accepted = rows
        .iter()
        .find(|r| r.status == FindingStatus::Accepted)
        .unwrap();
    assert_eq!(accepted.finding.id, "F-0000000000000002");
    assert_eq!(
        accepted.accepted_reason.as_deref(),
        Some("owner being appointed")
    );
    let err = store.read(|r| r.finding("F-0000000000000000")).unwrap_err();
    assert_eq!(err.to_string(), "there is no finding `F-0000000000000000`");
    assert_eq!(err.code(), ErrorCode::UnknownObject);
    verify(&store).unwrap();

    // Accepting a risk behind the ledger's back is caught by the replay.
    exec(
        &store,
        "UPDATE finding SET status = 'accepted', accepted_by = 'cli:mallory', \
         accepted_reason = 'nobody asked' WHERE id = 'F-0000000000000001'",
        &[],
    );
    let err = verify(&store).unwrap_err();
    assert!(
        err.contains("table `finding`, row id=\"F-0000000000000001\": column `status` is \"accepted\" but the events say \"open\""),
        "{err}"
    );
});

// ---- witnesses: stored cosignatures, and the log against what witnesses hold ---------------

use gatehouse_ledger::{Checkpoint, Cosignature, WitnessPolicy, WitnessSigner, split_note};
use gatehouse_store::WitnessChecks;

fn witness(n: u8) -> WitnessSigner {
    WitnessSigner::generate_from_seed(&format!("witness.test/w{n}"), [n + 100; 32]).unwrap()
}

/// Witness `n`'s cosignature of the stored checkpoint of `size`.
fn cosign(store: &Store, n: u8, size: u64) -> Cosignature {
    let note = store.read(|r| r.checkpoint(size)).unwrap().unwrap().note;
    let (body, _) = split_note(&note).unwrap();
    witness(n)
        .cosign(body, 1_790_000_000 + u64::from(n))
        .unwrap()
}

/// What witness `n` holds: the stored checkpoint of `size`, as it cosigned it.
fn held(store: &Store, n: u8, size: u64) -> (String, Checkpoint) {
    let row = store.read(|r| r.checkpoint(size)).unwrap().unwrap();
    (
        witness(n).verifier().label(),
        Checkpoint::new("test.example/gatehouse", row.size, row.root),
    )
}

fn verify_witnessed(
    store: &Store,
    checks: &WitnessChecks,
) -> Result<gatehouse_store::VerifyReport, String> {
    let key = signer(1).verifier();
    store
        .read(|r| {
            r.verify_ledger_with(
                &VerifyOptions {
                    key: &key,
                    published: vec![],
                    state: true,
                },
                checks,
            )
        })
        .map_err(|e| match e {
            VerifyError::Tampered(m) => m,
            other => format!("{}: {other}", other.code()),
        })
}

fn both_witnesses() -> WitnessPolicy {
    WitnessPolicy::all(vec![witness(1).verifier(), witness(2).verifier()])
}

both!(
    cosignatures_are_added_and_nothing_else,
    |store: Store, _at: String| {
        ledgered(&store);
        let size = store.event_count().unwrap();
        let before = store.read(|r| r.checkpoint(size)).unwrap().unwrap();
        let row = store
            .add_cosignatures(size, &[cosign(&store, 1, size)])
            .unwrap();
        assert!(row.note.starts_with(&before.note), "{}", row.note);
        assert_eq!(row.note.lines().count(), before.note.lines().count() + 1);
        assert_eq!(
            (row.size, row.root, row.signed_at),
            (before.size, before.root, before.signed_at)
        );
        // A second witness's line is added after it; a witness that has a line keeps its first.
        let later = witness(1)
            .cosign(split_note(&before.note).unwrap().0, 1_800_000_000)
            .unwrap();
        let row2 = store
            .add_cosignatures(size, &[later, cosign(&store, 2, size)])
            .unwrap();
        assert!(row2.note.starts_with(&row.note));
        assert_eq!(row2.note.lines().count(), before.note.lines().count() + 2);
        assert_eq!(store.read(|r| r.checkpoint(size)).unwrap().unwrap(), row2);
        let report = both_witnesses()
            .check(&row2.note, &signer(1).verifier())
            .unwrap();
        assert_eq!(report.cosigned[0].timestamp, 1_790_000_001);
        // Nothing new: nothing written.
        assert_eq!(
            store
                .add_cosignatures(size, &[cosign(&store, 2, size)])
                .unwrap(),
            row2
        );
        let err = store.add_cosignatures(size + 1, &[]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotCheckpointed);
        assert_eq!(
            err.to_string(),
            format!("there is no signed checkpoint of size {}", size + 1)
        );

        // verify checks every trusted cosignature and reports the latest.
        let checks = WitnessChecks {
            policy: both_witnesses(),
            held: vec![held(&store, 1, size), held(&store, 2, size)],
        };
        let r = verify_witnessed(&store, &checks).unwrap();
        assert_eq!(r.cosignatures, 2);
        assert_eq!(r.witnessed_size, Some(size));
        assert_eq!(r.latest_cosigned.len(), 2);
        assert_eq!(r.witnesses_held.len(), 2);
        assert_eq!(r.witness_quorum, 2);
    }
);

both!(
    a_forged_cosignature_is_tampering,
    |store: Store, _at: String| {
        ledgered(&store);
        let cps = store.read(|r| r.checkpoints()).unwrap();
        let (small, large) = (cps[0].size, cps[2].size);
        store
            .add_cosignatures(small, &[cosign(&store, 1, small)])
            .unwrap();
        let checks = WitnessChecks {
            policy: both_witnesses(),
            held: vec![],
        };
        let r = verify_witnessed(&store, &checks).unwrap();
        assert_eq!(r.cosignatures, 1);
        assert_eq!(r.witnessed_size, Some(0), "one of two is not the quorum");
        // The line copied onto another checkpoint does not verify there.
        let line = store.read(|r| r.checkpoint(small)).unwrap().unwrap().note;
        let line = line.lines().last().unwrap().to_owned();
        let note = store.read(|r| r.checkpoint(large)).unwrap().unwrap().note;
        exec(
            &store,
            "UPDATE checkpoint SET note = $1 WHERE size = $2",
            &[
                Value::Text(format!("{note}{line}\n")),
                Value::Int(large as i64),
            ],
        );
        let err = verify_witnessed(&store, &checks).unwrap_err();
        assert_eq!(
            err,
            format!(
                "the checkpoint of size {large}: cosignature by witness `{}` does not verify: the checkpoint was modified, or the line was forged or copied from another checkpoint",
                witness(1).verifier().label()
            )
        );
        // Without witness keys, the line is not looked at.
        verify(&store).unwrap();
    }
);

both!(
    a_rollback_is_caught_by_what_a_witness_holds,
    |store: Store, _at: String| {
        ledgered(&store);
        let cps = store.read(|r| r.checkpoints()).unwrap();
        let (first, last) = (cps[0].size, cps[2].size);
        for size in [first, last] {
            store
                .add_cosignatures(size, &[cosign(&store, 1, size), cosign(&store, 2, size)])
                .unwrap();
        }
        let checks = WitnessChecks {
            policy: both_witnesses(),
            held: vec![held(&store, 1, last), held(&store, 2, last)],
        };
        verify_witnessed(&store, &checks).unwrap();

        // The last import is removed with its checkpoint; tiles and state go back with it. The
        // store is consistent on its own.
        testing::roll_back(&store, cps[1].size);
        assert_eq!(store.event_count().unwrap(), cps[1].size);
        let r = verify(&store).unwrap();
        assert_eq!(r.checkpoints, 2);
        let err = verify_witnessed(&store, &checks).unwrap_err();
        assert_eq!(
            err,
            format!(
                "a witness cosigned the tree of {last} events but the log holds only {}: events {} to {last} were removed; the log agrees with what was cosigned up to size {first}; witnesses `{}`, `{}` hold it: the log was rolled back or rewritten after the checkpoint of size {last} was cosigned",
                cps[1].size,
                cps[1].size + 1,
                witness(1).verifier().label(),
                witness(2).verifier().label(),
            )
        );

        // The log grows again with another history, past the witnessed size, re-signed with the
        // genuine key: still caught, at the cosigned size.
        import_system(
            &store,
            erp(vec![
                grant("cy", "role/Admin", None),
                grant("ada", "role/Admin", None),
            ]),
            &opts("2026-03-02"),
        )
        .unwrap();
        store.sign_checkpoint(&signer(1), now()).unwrap();
        assert!(
            store.event_count().unwrap() >= last,
            "{}",
            store.event_count().unwrap()
        );
        verify(&store).unwrap();
        let err = verify_witnessed(&store, &checks).unwrap_err();
        assert!(
        err.starts_with(&format!(
            "the log's tree of {last} events differs from the one a witness cosigned: an event after {first} and at or before {last} was changed, removed or inserted, and the log re-signed; witnesses `"
        )),
        "{err}"
    );
    }
);

both!(
    events_after_the_last_checkpoint_are_not_a_failure,
    |store: Store, _at: String| {
        // A fresh store whose first command stopped before it signed: not covered, not tampered.
        import_people(&store, people(), &opts("2026-01-01")).unwrap();
        let err = verify(&store).unwrap_err();
        assert!(err.starts_with("GH403: no signed checkpoint covers the log: its 2 events agree with the tree and the state tables, but no signature vouches for them"), "{err}");
        store.sign_checkpoint(&signer(1), now()).unwrap();
        let r = verify(&store).unwrap();
        assert_eq!(r.signed_size, r.events);
        // Later events without a checkpoint yet are reported, not refused.
        import_system(
            &store,
            erp(vec![grant("ada", "role/Admin", None)]),
            &opts("2026-02-01"),
        )
        .unwrap();
        let r = verify(&store).unwrap();
        assert!(r.signed_size < r.events);
    }
);

/// Gatehouse users: added, credentials kept beside the log with their digests in it, tokens,
/// sign-in events; `ledger verify`'s replay rebuilds the same state; a credential swapped in
/// the database without an event is refused.
fn users_check(store: Store) {
    use gatehouse_store::users::credential_digest;
    let now = t("2026-11-01T09:00:00Z");
    let ada = UserRecord {
        name: "ada".into(),
        role: UserRole::Reviewer,
        identity: Some(IdentityKey::new("E1").unwrap()),
        email: Some("Ada@example.com".into()),
        oidc_subject: None,
        disabled: false,
    };
    store
        .write("cli:test", now, |w| {
            w.add_user(ada.clone())?;
            w.set_credential("ada", CredentialKind::Password, Some("$argon2id$x"), true)?;
            w.set_credential("ada", CredentialKind::Totp, Some("SEED"), false)?;
            w.create_token(TokenCreated {
                id: "tok1".into(),
                user: "ada".into(),
                scopes: vec!["read".into()],
                expires_at: t("2027-01-01T00:00:00Z"),
                digest: credential_digest("secret"),
            })?;
            w.record_user_event(UserEvent::SignedIn(Stamped {
                as_of: now,
                import: None,
                record: SignedIn {
                    user: "ada".into(),
                    method: "password+totp".into(),
                    address: None,
                },
            }))?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let err = store
        .write("cli:test", now, |w| w.add_user(ada.clone()))
        .unwrap_err();
    assert!(err.to_string().contains("already"), "{err}");
    let (user, secret, totp, token, by_email) = store
        .read(|r| {
            let u = r.user("ada")?.unwrap();
            let p = r.credential(&u, CredentialKind::Password)?;
            let t = r.credential(&u, CredentialKind::Totp)?;
            let tok = r.api_token("tok1")?.unwrap();
            let e = r.user_for_oidc("sub-1", Some("ada@EXAMPLE.com"))?;
            Ok::<_, StoreError>((u, p, t, tok, e))
        })
        .unwrap();
    assert_eq!(user.role, UserRole::Reviewer);
    assert!(user.password_one_time && user.has_totp());
    assert_eq!(user.last_sign_in, Some(now));
    assert_eq!(secret.as_deref(), Some("$argon2id$x"));
    assert_eq!(totp.as_deref(), Some("SEED"));
    assert_eq!(token.scopes, vec!["read".to_string()]);
    assert_eq!(by_email.map(|u| u.name), Some("ada".to_string()));
    // Replaying the log rebuilds the users' state.
    let rebuilt = store.read(|r| r.rebuilt()).unwrap();
    assert!(store.read(|r| r.compare_state(&rebuilt)).unwrap().is_none());
    // A password hash replaced behind the log's back is refused.
    testing::execute(
        &store,
        "UPDATE web_credential SET secret = $1 WHERE user_name = 'ada' AND kind = 'password'",
        &[Value::Text("$argon2id$forged".into())],
    );
    let err = store
        .read(|r| {
            let u = r.user("ada")?.unwrap();
            r.credential(&u, CredentialKind::Password)
        })
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Corrupt);
    // Removing a credential and revoking a token.
    store
        .write("cli:test", now, |w| {
            w.set_credential("ada", CredentialKind::Totp, None, false)?;
            w.revoke_token("tok1")
        })
        .unwrap();
    let (user, token) = store
        .read(|r| Ok::<_, StoreError>((r.user("ada")?.unwrap(), r.api_token("tok1")?.unwrap())))
        .unwrap();
    assert!(!user.has_totp());
    assert_eq!(token.revoked_at, Some(now));
}

both!(users, |store, _| users_check(store));

// A re-import compares each account and grant with the store through fingerprints of their
// stored columns: every field that is stored counts, a last login alone is activity, and the
// same snapshot again changes nothing.
both!(
    every_stored_field_is_compared,
    |store: Store, _at: String| {
        let base = erp(vec![grant("ada", "role/Admin", Some("request:R1"))]);
        import_system(&store, base.clone(), &opts("2026-01-01")).unwrap();
        type Edit = fn(&mut SystemImport);
        let edits: Vec<(&str, &str, Edit)> = vec![
            ("username", "account.changed", |s| {
                s.accounts[0].username = "ada2".into()
            }),
            ("identity", "account.changed", |s| {
                s.accounts[0].identity = Some(IdentityKey::new("E2").unwrap())
            }),
            ("linked_by", "account.changed", |s| {
                s.accounts[0].linked_by = Some("manual".into())
            }),
            ("kind", "account.changed", |s| {
                s.accounts[0].kind = AccountKind::Admin
            }),
            ("enabled", "account.changed", |s| {
                s.accounts[0].enabled = false
            }),
            ("mfa", "account.changed", |s| s.accounts[0].mfa = Some(true)),
            ("employee_id", "account.changed", |s| {
                s.accounts[0].employee_id = Some("X9".into())
            }),
            ("email", "account.changed", |s| {
                s.accounts[0].email = Some("a@example.com".into())
            }),
            ("account attributes", "account.changed", |s| {
                s.accounts[0].attributes.insert("team".into(), "ap".into());
            }),
            ("last login", "account.activity", |s| {
                s.accounts[0].last_login = Some(t("2026-01-15"))
            }),
            ("source", "grant.changed", |s| {
                s.grants[0].source = GrantSource::Direct
            }),
            ("warrant", "grant.changed", |s| {
                s.grants[0].warrant = Some("request:R2".parse().unwrap())
            }),
            ("expiry", "grant.changed", |s| {
                s.grants[0].expires_at = Some(t("2027-01-01"))
            }),
            ("grant attributes", "grant.changed", |s| {
                s.grants[0].attributes.insert("ticket".into(), "T-1".into());
            }),
            ("granted at", "grant.changed", |s| {
                s.grants[0].granted_at = Some(t("2025-06-01"))
            }),
        ];
        let mut current = base;
        for (i, (field, kind, edit)) in edits.into_iter().enumerate() {
            let mut next = current.clone();
            edit(&mut next);
            let as_of = t("2026-02-01")
                .checked_add(jiff::SignedDuration::from_hours(24 * i as i64))
                .unwrap();
            let mut o = opts("2026-02-01");
            o.as_of = as_of;
            let s = import_system(&store, next.clone(), &o).unwrap();
            assert_eq!(
                s.changes.keys().collect::<Vec<_>>(),
                vec![kind],
                "{field}: {:?}",
                s.changes
            );
            o.as_of = as_of
                .checked_add(jiff::SignedDuration::from_hours(1))
                .unwrap();
            assert!(
                import_system(&store, next.clone(), &o).unwrap().unchanged(),
                "{field}"
            );
            current = next;
        }
        rebuilt_matches(&store);
    }
);

/// Connections over TLS, with libpq's `sslmode` meanings, to a server that refuses TCP
/// connections without it.
#[test]
fn postgres_over_tls() {
    let db = testing::tls_database();
    let ca = db.ca_file.display().to_string();
    let other = db.other_ca_file.display().to_string();
    let url = |host: &str, params: &str| {
        format!(
            "postgres://postgres@{host}:{}/{}?{params}",
            db.port, db.name
        )
    };
    // The server's certificate, checked to its CA and name: the store is created and answers.
    let full = url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let store = Store::open(&full, &OpenOptions::create()).unwrap();
    let systems = store.read(|r| r.systems()).unwrap();
    assert!(systems.is_empty());
    drop(store);
    for ok in [
        // By name, as most deployments do.
        url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
        // Encrypted without checking the certificate, as libpq's `require` and `prefer`.
        url("127.0.0.1", "sslmode=require"),
        url("127.0.0.1", "connect_timeout=10"),
        // The chain but not the name.
        url(
            "db.example",
            &format!("sslmode=verify-ca&sslrootcert={ca}&hostaddr=127.0.0.1"),
        ),
    ] {
        Store::open(&ok, &OpenOptions::existing()).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for (refused, why) in [
        (
            url(
                "127.0.0.1",
                &format!("sslmode=verify-full&sslrootcert={other}"),
            ),
            "not signed by a CA of the file `sslrootcert` names",
        ),
        (
            url(
                "db.example",
                &format!("sslmode=verify-full&sslrootcert={ca}&hostaddr=127.0.0.1"),
            ),
            "not issued for the host of the URL",
        ),
        (
            url("127.0.0.1", "sslmode=disable"),
            "remove sslmode=disable",
        ),
    ] {
        let err = Store::open(&refused, &OpenOptions::existing())
            .err()
            .unwrap_or_else(|| panic!("{why}: accepted"))
            .to_string();
        assert!(err.contains(why), "{refused}: {err}");
    }
}

#[path = "store/campaigns.rs"]
mod campaigns;
