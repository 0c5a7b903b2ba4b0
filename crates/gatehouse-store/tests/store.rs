//! Store conformance: every test runs on SQLite and on a private PostgreSQL server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gatehouse_model::*;
use gatehouse_store::query::{self, ObjectKind};
use gatehouse_store::{ImportOptions, OpenMode, Store, StoreError, SystemImport};

/// Runs a test body once per backend.
macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("g.db");
                let store = Store::open(path.to_str().unwrap(), OpenMode::Create).unwrap();
                ($body)(store);
            }
            #[test]
            fn postgres() {
                let url = gatehouse_store::testing::postgres_url();
                let store = Store::open(&url, OpenMode::Create).unwrap();
                ($body)(store);
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

fn holders(store: &mut Store, ent: &str, at: &str) -> Vec<String> {
    let e = query::resolve_entitlement(store.db(), ent).unwrap();
    query::who_has(
        store.db(),
        &e,
        parse_point_in_time(at).unwrap(),
        &query::HolderPage::default(),
    )
    .unwrap()
    .holders
    .into_iter()
    .map(|h| h.username)
    .collect()
}

// A page of holders is the same whichever plan answers it: a sparse entitlement is answered
// from its grants, a dense one by walking the system's accounts in order.
both!(
    who_has_pages_through_holders_in_account_order,
    |mut store: Store| {
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
        store
            .write("test", now(), |w| {
                w.import_system(import, &opts("2026-02-01"))
            })
            .unwrap();
        let at = t("2026-03-01");
        for (ent, total) in [("erp:role/AP_Approver", 60), ("erp:role/Admin", 3)] {
            let e = query::resolve_entitlement(store.db(), ent).unwrap();
            let all = query::who_has(store.db(), &e, at, &Default::default()).unwrap();
            assert_eq!(all.total, total);
            assert_eq!(all.holders.len() as u64, total);
            assert!(!all.more);
            let mut paged = Vec::new();
            let mut after = None;
            loop {
                let page = query::HolderPage {
                    after: after.clone(),
                    limit: Some(2),
                };
                let p = query::who_has(store.db(), &e, at, &page).unwrap();
                assert_eq!(p.total, total);
                assert!(p.holders.len() <= 2);
                after = p.holders.last().map(|h| h.account.clone());
                paged.extend(p.holders);
                if !p.more {
                    break;
                }
            }
            assert_eq!(paged, all.holders, "{ent}");
        }
        // Before the import nobody held anything.
        let e = query::resolve_entitlement(store.db(), "erp:role/AP_Approver").unwrap();
        let page = query::HolderPage {
            after: None,
            limit: Some(5),
        };
        let before = query::who_has(store.db(), &e, t("2026-01-01"), &page).unwrap();
        assert_eq!(
            (before.total, before.holders.len(), before.more),
            (0, 0, false)
        );
    }
);

both!(identities_import_and_reimport, |mut store: Store| {
    let s = store
        .write("test", now(), |w| {
            w.import_identities("hr", people(), &opts("2026-01-01"))
        })
        .unwrap();
    assert_eq!(s.changes.get("identity.added"), Some(&3));
    assert!(s.import_seq.is_some());
    // Same content again: nothing happens, and it says so.
    let again = store
        .write("test", now(), |w| {
            w.import_identities("hr", people(), &opts("2026-02-01"))
        })
        .unwrap();
    assert!(again.unchanged());
    assert_eq!(
        store.event_count().unwrap(),
        2,
        "one import event and one batch of three identities"
    );
    // A mover and a leaver.
    let mut p = people();
    p[1].person.as_mut().unwrap().department = Some("Sales".into());
    p[2].person.as_mut().unwrap().status = EmploymentStatus::Terminated;
    let s = store
        .write("test", now(), |w| {
            w.import_identities("hr", p, &opts("2026-03-01"))
        })
        .unwrap();
    assert_eq!(s.changes.get("identity.changed"), Some(&2));
    let h = query::history(store.db(), ObjectKind::Identity, "bob@example.com").unwrap();
    assert_eq!(h.len(), 2);
    assert!(
        h[1].changed.iter().any(|c| c.starts_with("person:")),
        "{:?}",
        h[1].changed
    );
    let i = query::resolve_identity(store.db(), "E2", parse_point_in_time("2026-02-15").unwrap())
        .unwrap();
    assert_eq!(i.department.as_deref(), Some("Finance"));
    let i = query::resolve_identity(store.db(), "E2", parse_point_in_time("2026-03-15").unwrap())
        .unwrap();
    assert_eq!(i.department.as_deref(), Some("Sales"));
});

both!(point_in_time_who_has_and_access, |mut store: Store| {
    store
        .write("test", now(), |w| {
            w.import_identities("hr", people(), &opts("2026-01-01"))
        })
        .unwrap();
    let first = erp(vec![
        grant("ada", "role/AP_Approver", Some("request:REQ-1")),
        grant("bob", "role/Vendor_Maint", None),
        grant("svc", "role/Admin", None),
    ]);
    let s = store
        .write("test", now(), |w| {
            w.import_system(first, &opts("2026-02-01"))
        })
        .unwrap();
    assert_eq!(s.changes.get("grant.added"), Some(&3));
    assert_eq!(s.changes.get("account.added"), Some(&4));
    assert_eq!(s.changes.get("system.configured"), Some(&1));
    // March: Bob loses Vendor_Maint and gains AP_Approver; Ada's warrant changes.
    let second = erp(vec![
        grant("ada", "role/AP_Approver", Some("request:REQ-9")),
        grant("bob", "role/AP_Approver", None),
        grant("svc", "role/Admin", None),
    ]);
    let s = store
        .write("test", now(), |w| {
            w.import_system(second, &opts("2026-03-01"))
        })
        .unwrap();
    assert_eq!(s.changes.get("grant.added"), Some(&1));
    assert_eq!(s.changes.get("grant.removed"), Some(&1));
    assert_eq!(s.changes.get("grant.changed"), Some(&1));
    assert_eq!(s.changes.len(), 3, "{:?}", s.changes);

    assert_eq!(
        holders(&mut store, "erp:role/AP_Approver", "2026-01-31"),
        Vec::<String>::new()
    );
    assert_eq!(
        holders(&mut store, "erp:role/AP_Approver", "2026-02-15"),
        vec!["ada"]
    );
    assert_eq!(
        holders(&mut store, "erp:AP_Approver", "2026-03-01"),
        vec!["ada", "bob"]
    );
    assert_eq!(
        holders(&mut store, "erp:role/Vendor_Maint", "2026-02-28"),
        vec!["bob"]
    );
    assert_eq!(
        holders(&mut store, "erp:role/Vendor_Maint", "2026-03-01"),
        Vec::<String>::new()
    );
    // An exact instant: the change happened at midnight of 2026-03-01.
    assert_eq!(
        holders(&mut store, "erp:role/Vendor_Maint", "2026-02-28T23:59:59Z"),
        vec!["bob"]
    );

    let at = parse_point_in_time("2026-02-15").unwrap();
    let who = query::resolve_identity(store.db(), "bob@example.com", at).unwrap();
    let acc = query::access(store.db(), who, at).unwrap();
    assert_eq!(acc.accounts.len(), 1);
    assert_eq!(
        acc.grants
            .iter()
            .map(|g| g.entitlement.as_str())
            .collect::<Vec<_>>(),
        vec!["role/Vendor_Maint"]
    );

    let h = query::history(store.db(), ObjectKind::Grant, "erp:ada/role/AP_Approver").unwrap();
    assert_eq!(
        h.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        vec!["grant.added", "grant.changed"]
    );
    assert_eq!(h[1].changed, vec!["warrant: request:REQ-1 → request:REQ-9"]);
    assert_eq!(h[1].import.as_ref().unwrap().source, "system:erp");
    let h = query::history(store.db(), ObjectKind::Grant, "erp:bob/role/Vendor_Maint").unwrap();
    assert_eq!(
        h.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        vec!["grant.added", "grant.removed"]
    );
    let err = query::history(store.db(), ObjectKind::Grant, "erp:nobody/role/Admin")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("no grant matches `erp:nobody/role/Admin`"),
        "{err}"
    );
    let err = query::resolve_entitlement(store.db(), "crm:x")
        .unwrap_err()
        .to_string();
    assert_eq!(err, "there is no system `crm`");
});

both!(history_cannot_be_rewritten, |mut store: Store| {
    store
        .write("test", now(), |w| {
            w.import_system(erp(vec![]), &opts("2026-03-01"))
        })
        .unwrap();
    let err = store
        .write("test", now(), |w| {
            w.import_system(
                erp(vec![grant("ada", "role/Admin", None)]),
                &opts("2026-02-01"),
            )
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::Refused(_)));
    assert!(
        err.to_string()
            .contains("is as of 2026-02-01T00:00:00Z, before the last import of it"),
        "{err}"
    );
});

both!(
    mass_removal_is_refused_unless_allowed,
    |mut store: Store| {
        let mut big = erp(vec![]);
        big.accounts = (0..200).map(|i| account(&format!("u{i}"), None)).collect();
        big.grants = (0..200)
            .map(|i| grant(&format!("u{i}"), "role/AP_Approver", None))
            .collect();
        store
            .write("test", now(), |w| {
                w.import_system(big.clone(), &opts("2026-01-01"))
            })
            .unwrap();
        let count = store.event_count().unwrap();
        let mut small = big.clone();
        small.grants.truncate(10);
        let err = store
            .write("test", now(), |w| {
                w.import_system(small.clone(), &opts("2026-02-01"))
            })
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("would remove 190 of 200 grants (95%)"),
            "{err}"
        );
        assert_eq!(
            store.event_count().unwrap(),
            count,
            "a refused import writes nothing"
        );
        let mut o = opts("2026-02-01");
        o.allow_mass_removal = true;
        let s = store
            .write("test", now(), |w| w.import_system(small, &o))
            .unwrap();
        assert_eq!(s.changes.get("grant.removed"), Some(&190));
    }
);

both!(failed_write_leaves_nothing, |mut store: Store| {
    store
        .write("test", now(), |w| {
            w.import_identities("hr", people(), &opts("2026-01-01"))
        })
        .unwrap();
    let before = store.event_count().unwrap();
    let root = store.tree_root(before).unwrap();
    let r: Result<(), StoreError> = store.write("test", now(), |w| {
        w.import_system(
            erp(vec![grant("ada", "role/Admin", None)]),
            &opts("2026-02-01"),
        )?;
        Err(StoreError::Refused("stop here".into()))
    });
    assert!(r.is_err());
    assert_eq!(store.event_count().unwrap(), before);
    assert_eq!(store.tree_root(before).unwrap(), root);
    assert!(query::resolve_entitlement(store.db(), "erp:role/Admin").is_err());
});

both!(replay_rebuilds_the_same_state, |mut store: Store| {
    store
        .write("test", now(), |w| {
            w.import_identities("hr", people(), &opts("2026-01-01"))
        })
        .unwrap();
    store
        .write("test", now(), |w| {
            w.import_system(
                erp(vec![
                    grant("ada", "role/Admin", None),
                    grant("bob", "role/Admin", None),
                ]),
                &opts("2026-02-01"),
            )
        })
        .unwrap();
    let mut second = erp(vec![grant("bob", "role/Admin", Some("request:R2"))]);
    second.accounts[1].enabled = false;
    second.accounts[0].last_login = Some(t("2026-02-27"));
    store
        .write("test", now(), |w| {
            w.import_system(second.clone(), &opts("2026-03-01"))
        })
        .unwrap();
    second.accounts[0].last_login = Some(t("2026-03-30"));
    second.grants.push(grant("ada", "role/Admin", None));
    store
        .write("test", now(), |w| {
            w.import_system(second, &opts("2026-04-01"))
        })
        .unwrap();
    store
        .write("test", now(), |w| {
            w.recorrelate(|_, accounts| {
                for a in accounts.iter_mut() {
                    if a.native_id == "svc" {
                        a.identity = Some(IdentityKey::new("E3").unwrap());
                        a.linked_by = Some("manual".into());
                    }
                }
            })
        })
        .unwrap();
    let mut rebuilt = store.rebuilt().unwrap();
    assert_eq!(store.compare_state(&mut rebuilt).unwrap(), None);
    let n = store.event_count().unwrap();
    assert_eq!(store.tree_root(n).unwrap(), rebuilt.tree_root(n).unwrap());
});

#[test]
fn concurrent_writers_do_not_fork_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db").to_string_lossy().into_owned();
    Store::open(&path, OpenMode::Create).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut store = Store::open(&path, OpenMode::Existing).unwrap();
                for j in 0..5 {
                    let mut p = people();
                    p[0].name = format!("Ada {i}-{j}");
                    let mut o = opts("2026-01-01");
                    o.as_of = t("2026-01-01")
                        .checked_add(jiff::SignedDuration::from_secs(i * 100 + j))
                        .unwrap();
                    // Out-of-order snapshots between threads are refused; that is fine here.
                    let _ = store.write("test", now(), |w| w.import_identities("hr", p, &o));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut store = Store::open(&path, OpenMode::Existing).unwrap();
    let events = store.events(&Default::default()).unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let mut rebuilt = store.rebuilt().unwrap();
    assert_eq!(store.compare_state(&mut rebuilt).unwrap(), None);
}

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

fn index_sql(store: &mut Store) -> Vec<(String, String)> {
    store
        .db()
        .query(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
            &[],
            |r| Ok((r.str(0)?, r.str(1)?)),
        )
        .unwrap()
}

// A bulk load drops the history indexes for a large first import, keeps them dropped for the
// rest of the load, and rebuilds them exactly as the migrations create them: after success,
// after a failure, at the next write if the process died before the rebuild, and without
// tripping over another writer that rebuilt it first.
#[test]
fn bulk_loads_rebuild_the_indexes_they_drop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db").to_string_lossy().into_owned();
    let mut store = Store::open(&path, OpenMode::Create).unwrap();
    let migrated = index_sql(&mut store);
    assert!(
        migrated
            .iter()
            .any(|(n, _)| n == "grant_version_entitlement")
    );
    let has = |store: &mut Store, name: &str| index_sql(store).iter().any(|(n, _)| n == name);

    let result: Result<(), StoreError> = store.bulk(|store| {
        store.write("test", now(), |w| {
            w.import_system(large_erp(20_000, 3), &opts("2026-02-01"))
        })?;
        assert!(
            !has(store, "grant_version_entitlement"),
            "dropped for the load"
        );
        assert!(
            has(store, "account_version_identity"),
            "20,000 accounts are few"
        );
        // Answers stay right while the index is away.
        let e = query::resolve_entitlement(store.db(), "erp:group/G1").unwrap();
        let held = query::who_has(store.db(), &e, t("2026-03-01"), &Default::default())?;
        assert_eq!(held.total, 20_000);
        Err(StoreError::Refused("a later source failed".into()))
    });
    assert!(result.is_err());
    assert_eq!(
        index_sql(&mut store),
        migrated,
        "rebuilt after a failed load"
    );

    // Outside a bulk load, a large import (60,000 new grants) rebuilds before its commit.
    let mut more = large_erp(20_000, 6);
    more.grants.retain(|g| g.entitlement != "group/G2");
    store
        .write("test", now(), |w| {
            w.import_system(more, &opts("2026-03-01"))
        })
        .unwrap();
    assert_eq!(index_sql(&mut store), migrated);

    // A process that dies inside a bulk load: readers answer without the index, and the next
    // write restores it.
    store
        .db()
        .batch("DROP INDEX grant_version_entitlement")
        .unwrap();
    drop(store);
    let mut store = Store::open(&path, OpenMode::Existing).unwrap();
    assert!(!has(&mut store, "grant_version_entitlement"));
    let e = query::resolve_entitlement(store.db(), "erp:group/G2").unwrap();
    let page = query::HolderPage {
        after: None,
        limit: Some(10),
    };
    assert_eq!(
        query::who_has(store.db(), &e, t("2026-02-15"), &page)
            .unwrap()
            .total,
        20_000
    );
    assert_eq!(
        query::who_has(store.db(), &e, t("2026-03-15"), &page)
            .unwrap()
            .total,
        0
    );
    store
        .write("test", now(), |w| {
            w.import_identities("hr", people(), &opts("2026-03-02"))
        })
        .unwrap();
    assert_eq!(index_sql(&mut store), migrated);

    // Another connection writes in the middle of a bulk load and restores the dropped index;
    // the load's own rebuild at its end must not fail over it.
    let loaded: Result<(), StoreError> = store.bulk(|store| {
        let mut bigger = large_erp(40_000, 6);
        bigger.grants.retain(|g| g.entitlement != "group/G2");
        store.write("test", now(), |w| {
            w.import_system(bigger, &opts("2026-04-01"))
        })?;
        assert!(!has(store, "grant_version_entitlement"));
        let mut other = Store::open(&path, OpenMode::Existing).unwrap();
        let mut p = people();
        p[0].name = "Ada Byron".into();
        other
            .write("test", now(), |w| {
                w.import_identities("hr", p, &opts("2026-04-02"))
            })
            .unwrap();
        assert!(has(store, "grant_version_entitlement"));
        Ok(())
    });
    loaded.unwrap();
    assert_eq!(index_sql(&mut store), migrated);
    let mut rebuilt = store.rebuilt().unwrap();
    assert_eq!(store.compare_state(&mut rebuilt).unwrap(), None);
}

#[test]
fn opening_a_missing_store_says_what_to_do() {
    let err = Store::open("/nonexistent/g.db", OpenMode::Existing)
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        err,
        "no gatehouse store at `/nonexistent/g.db`; create one with `gatehouse init`"
    );
}

// ---- ledger verification and tampering ----------------------------------------------------

use gatehouse_ledger::NoteSigner;
use gatehouse_store::{Value, VerifyError, VerifyOptions};

fn signer(seed: u8) -> NoteSigner {
    NoteSigner::generate_from_seed("test.example/gatehouse", [seed; 32]).unwrap()
}

/// A store with a few imports and checkpoints after each.
fn ledgered(store: &mut Store) {
    let key = signer(1);
    store
        .write("test", now(), |w| {
            w.import_identities("hr", people(), &opts("2026-01-01"))
        })
        .unwrap();
    store.sign_checkpoint(&key, now()).unwrap();
    store
        .write("test", now(), |w| {
            w.import_system(
                erp(vec![
                    grant("ada", "role/Admin", None),
                    grant("bob", "role/AP_Approver", Some("request:R1")),
                ]),
                &opts("2026-02-01"),
            )
        })
        .unwrap();
    store.sign_checkpoint(&key, now()).unwrap();
    store
        .write("test", now(), |w| {
            w.import_system(
                erp(vec![grant("bob", "role/AP_Approver", Some("request:R1"))]),
                &opts("2026-03-01"),
            )
        })
        .unwrap();
    store.sign_checkpoint(&key, now()).unwrap();
}

fn verify(store: &mut Store) -> Result<gatehouse_store::VerifyReport, String> {
    let key = signer(1).verifier();
    store
        .verify_ledger(&VerifyOptions {
            key: &key,
            published: vec![],
            state: true,
        })
        .map_err(|e| match e {
            VerifyError::Tampered(m) => m,
            VerifyError::Store(e) => format!("store error: {e}"),
        })
}

fn exec(store: &mut Store, sql: &str, params: &[Value]) {
    store.db().exec(sql, params).unwrap();
}

fn body(store: &mut Store, seq: i64) -> Vec<u8> {
    store
        .db()
        .query_opt(
            "SELECT body FROM event WHERE seq = $1",
            &[Value::Int(seq)],
            |r| r.blob(0),
        )
        .unwrap()
        .unwrap()
}

both!(clean_ledger_verifies, |mut store: Store| {
    ledgered(&mut store);
    let r = verify(&mut store).unwrap();
    assert_eq!(r.events, store.event_count().unwrap());
    assert_eq!(r.checkpoints, 3);
    assert_eq!(r.signed_size, r.events);
    assert!(r.state_checked);
    // Every event has an inclusion proof that verifies against the latest checkpoint.
    let cp = store.latest_checkpoint().unwrap().unwrap();
    for seq in 1..=r.events {
        let proof = store.prove_inclusion(seq, cp.size).unwrap();
        proof
            .verify(
                &gatehouse_ledger::leaf_hash(&body(&mut store, seq as i64)),
                &cp.root,
            )
            .unwrap();
    }
});

both!(edited_event_is_named, |mut store: Store| {
    ledgered(&mut store);
    let b = String::from_utf8(body(&mut store, 2)).unwrap();
    assert!(b.contains("\"Ada\""), "{b}");
    exec(
        &mut store,
        "UPDATE event SET body = $1 WHERE seq = 2",
        &[Value::Blob(b.replace("\"Ada\"", "\"Eve\"").into_bytes())],
    );
    let err = verify(&mut store).unwrap_err();
    assert_eq!(
        err,
        "event 2: its bytes do not hash to the leaf recorded in the tree when it was appended: the event was changed"
    );
});

both!(deleted_event_is_named, |mut store: Store| {
    ledgered(&mut store);
    exec(&mut store, "DELETE FROM event WHERE seq = 7", &[]);
    assert_eq!(
        verify(&mut store).unwrap_err(),
        "event 7 is missing from the log (the next stored event is 8)"
    );
});

both!(reordered_events_are_named, |mut store: Store| {
    ledgered(&mut store);
    let (a, b) = (body(&mut store, 5), body(&mut store, 6));
    exec(
        &mut store,
        "UPDATE event SET body = $1 WHERE seq = 5",
        &[Value::Blob(b)],
    );
    exec(
        &mut store,
        "UPDATE event SET body = $1 WHERE seq = 6",
        &[Value::Blob(a)],
    );
    assert_eq!(
        verify(&mut store).unwrap_err(),
        "event 5: the row holds the bytes of event 6: events were moved or reordered"
    );
});

both!(
    state_edited_without_an_event_is_caught,
    |mut store: Store| {
        ledgered(&mut store);
        exec(
            &mut store,
            "UPDATE grant_version SET warrant = 'request:FORGED' WHERE warrant = 'request:R1'",
            &[],
        );
        let err = verify(&mut store).unwrap_err();
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
    |mut store: Store| {
        ledgered(&mut store);
        exec(
            &mut store,
            "INSERT INTO grant_version (system_id, account_id, entitlement_id, seq, valid_from, valid_to, end_seq, source, warrant, expires_at, attributes) \
         VALUES (1, 3, 3, 9999, 0, 9223372036854775807, NULL, 'direct', NULL, NULL, NULL)",
            &[],
        );
        let err = verify(&mut store).unwrap_err();
        assert!(err.contains("table `grant_version`, row system_id=1, account_id=3, entitlement_id=3, seq=9999: is in the store but not in the state rebuilt from the events"), "{err}");
    }
);

both!(truncation_is_caught, |mut store: Store| {
    ledgered(&mut store);
    exec(&mut store, "DELETE FROM event WHERE seq > 5", &[]);
    let err = verify(&mut store).unwrap_err();
    assert!(err.starts_with("a checkpoint covers"), "{err}");
    assert!(
        err.contains("but the log holds only 5: events were removed from the end of the log"),
        "{err}"
    );
    // Hiding it: drop the checkpoints and sign the short log with another key.
    exec(&mut store, "DELETE FROM checkpoint", &[]);
    store.sign_checkpoint(&signer(9), now()).unwrap();
    let err = verify(&mut store).unwrap_err();
    assert!(
        err.starts_with(
            "the checkpoint of size 5 is not signed by the trusted key `test.example/gatehouse+"
        ),
        "{err}"
    );
    // Or with no checkpoint at all.
    exec(&mut store, "DELETE FROM checkpoint", &[]);
    let err = verify(&mut store).unwrap_err();
    assert!(
        err.starts_with("no checkpoint signed by `test.example/gatehouse+"),
        "{err}"
    );
});

both!(
    rewrite_with_the_real_key_is_caught_by_a_published_checkpoint,
    |mut store: Store| {
        ledgered(&mut store);
        let published = store.latest_checkpoint().unwrap().unwrap().note;
        // Someone with the key rebuilds a different history of the same length and re-signs it.
        let mut other = Store::in_memory().unwrap();
        let mut p = people();
        p[0].name = "Mallory".into();
        other
            .write("test", now(), |w| {
                w.import_identities("hr", p, &opts("2026-01-01"))
            })
            .unwrap();
        other
            .write("test", now(), |w| {
                w.import_system(
                    erp(vec![
                        grant("ada", "role/Admin", None),
                        grant("bob", "role/AP_Approver", Some("request:R1")),
                    ]),
                    &opts("2026-02-01"),
                )
            })
            .unwrap();
        other
            .write("test", now(), |w| {
                w.import_system(
                    erp(vec![grant("bob", "role/AP_Approver", Some("request:R1"))]),
                    &opts("2026-03-01"),
                )
            })
            .unwrap();
        other.sign_checkpoint(&signer(1), now()).unwrap();
        let key = signer(1).verifier();
        let err = other
            .verify_ledger(&VerifyOptions {
                key: &key,
                published: vec![("checkpoint-1".into(), published)],
                state: true,
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

both!(ledger_write_failure_changes_nothing, |mut store: Store| {
    ledgered(&mut store);
    let before = store.event_count().unwrap();
    // The tile table refuses writes: the import must not happen either (fail closed).
    match store.backend() {
        gatehouse_store::Backend::Sqlite => exec(&mut store, "CREATE TRIGGER no_tiles BEFORE UPDATE ON ledger_tile BEGIN SELECT RAISE(ABORT, 'ledger unavailable'); END", &[]),
        gatehouse_store::Backend::Postgres => {
            store.db().batch("CREATE FUNCTION no_tiles() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'ledger unavailable'; END $$ LANGUAGE plpgsql; \
                CREATE TRIGGER no_tiles BEFORE UPDATE ON ledger_tile FOR EACH ROW EXECUTE FUNCTION no_tiles();").unwrap()
        }
    }
    let err = store
        .write("test", now(), |w| {
            w.import_system(
                erp(vec![grant("cy", "role/Admin", None)]),
                &opts("2026-04-01"),
            )
        })
        .unwrap_err();
    assert!(err.to_string().contains("ledger unavailable"), "{err}");
    assert_eq!(store.event_count().unwrap(), before);
    let e = query::resolve_entitlement(store.db(), "erp:role/Admin").unwrap();
    assert_eq!(
        query::who_has(store.db(), &e, t("2026-05-01"), &Default::default())
            .unwrap()
            .total,
        0
    );
});

both!(export_bundle_verifies_offline, |mut store: Store| {
    ledgered(&mut store);
    let dir = tempfile::tempdir().unwrap();
    let key = signer(1).verifier();
    let total = store.event_count().unwrap();
    let m = store
        .export_bundle(&dir.path().join("b"), 3, total - 2, &key)
        .unwrap();
    assert_eq!((m.from, m.to, m.tree_size), (3, total - 2, total));
    let report = gatehouse_ledger::bundle::verify_bundle(&dir.path().join("b"), &key).unwrap();
    assert_eq!(report.events_checked, total - 4);
    assert_eq!(report.older_checkpoints.len(), 2);
});

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

both!(findings_follow_their_events, |mut store: Store| {
    ledgered(&mut store);
    let at: Timestamp = "2026-03-02T00:00:00Z".parse().unwrap();
    store
        .write("cli:test", at, |w| {
            let run = w.append(EventData::AnalysisRan(Stamped {
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
            w.append(EventData::FindingOpened(Batch {
                as_of: at,
                import: Some(run),
                records: vec![
                    finding("F-0000000000000001", "leaver_access"),
                    finding("F-0000000000000002", "nhi_no_owner"),
                ],
            }))?;
            w.append(EventData::FindingAccepted(Stamped {
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
    let rows = gatehouse_store::findings::findings(
        store.db(),
        &gatehouse_store::findings::FindingFilter::default(),
    )
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
    verify(&mut store).unwrap();

    // Accepting a risk behind the ledger's back is caught by the replay.
    exec(
        &mut store,
        "UPDATE finding SET status = 'accepted', accepted_by = 'cli:mallory', \
         accepted_reason = 'nobody asked' WHERE id = 'F-0000000000000001'",
        &[],
    );
    let err = verify(&mut store).unwrap_err();
    assert!(
        err.contains("table `finding`, row id=\"F-0000000000000001\": column `status` is \"accepted\" but the events say \"open\""),
        "{err}"
    );
});
