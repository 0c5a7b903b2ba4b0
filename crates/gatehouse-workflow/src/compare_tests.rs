//! A system re-imported by comparing its files with the kept files of its latest import gives
//! exactly what reading every record gives: the same events and the same state, on SQLite and
//! on PostgreSQL. Each snapshot is imported into two stores, one comparing and one reading
//! every record (`reread`); where the comparison cannot be trusted (identities changed, the
//! configuration changed, a repeated or dangling record) the import reads the whole folder.

use std::path::Path;

use gatehouse_model::{Timestamp, parse_timestamp};
use gatehouse_store::{OpenOptions, Store};

use crate::{FolderReport, ImportSettings, WorkflowError, import_folder};

fn store(postgres: bool, dir: &Path, name: &str) -> Store {
    let target = if postgres {
        gatehouse_store::testing::postgres_url()
    } else {
        dir.join(name).to_str().unwrap().to_owned()
    };
    Store::open(&target, &OpenOptions::create()).unwrap()
}

const SYSTEM: &str = "key = \"erp\"\nname = \"ERP\"\nowner = \"E1\"\n";

/// A snapshot: the HR feed and one system.
struct Snapshot {
    people: &'static str,
    system: &'static str,
    accounts: &'static str,
    entitlements: &'static str,
    grants: &'static str,
}

const V1: Snapshot = Snapshot {
    people: "employee_id,name,email,status\n\
             E1,Ann,ann@x.test,active\n\
             E2,Bob,bob@x.test,active\n\
             E3,Cyd,cyd@x.test,active\n",
    system: SYSTEM,
    accounts: "id,username,email,last_login,note\n\
               a1,ann,ann@x.test,2026-01-01T00:00:00Z,plain\n\
               a2,bob,bob@x.test,2026-01-01T00:00:00Z,\"two\nlines\"\n\
               a3,cyd,cyd@x.test,,\n\
               a4,svc,,,\"quoted, \"\"comma\"\"\"\n\
               a5,old,,,\n",
    entitlements: "id,name,privileged\n\
                   admin,Administrators,true\n\
                   read,Readers,false\n\
                   pay,Payments,false\n\
                   gone,Retired,false\n",
    grants: "account,entitlement,expires_at\n\
             a1,admin,\n\
             a1,read,\n\
             a2,read,\n\
             a2,pay,\n\
             a3,read,\n\
             a4,pay,\n\
             a5,read,\n\
             a3,gone,\n",
};

/// Every kind of change: grants removed, changed and added; an account new, one changed, one
/// with only a later login, one removed with its grants; an entitlement renamed, one new, one
/// removed with its grants; a multi-line record changed and one kept.
const V2: Snapshot = Snapshot {
    people: V1.people,
    system: SYSTEM,
    accounts: "id,username,email,last_login,note\n\
               a1,ann,ann@x.test,2026-02-01T00:00:00Z,plain\n\
               a2,bob,bob@x.test,2026-01-01T00:00:00Z,\"two\nlines\"\n\
               a3,cyd,cyd2@x.test,,\n\
               a4,svc,,,\"quoted, \"\"comma\"\" and\nmore\"\n\
               a6,new,,,\n",
    entitlements: "id,name,privileged\n\
                   admin,Administrators,true\n\
                   read,Readers (all),false\n\
                   pay,Payments,false\n\
                   audit,Auditors,false\n",
    grants: "account,entitlement,expires_at\n\
             a1,admin,2027-01-01T00:00:00Z\n\
             a2,read,\n\
             a2,pay,\n\
             a3,read,\n\
             a4,pay,\n\
             a6,audit,\n\
             a1,audit,\n",
};

fn write(dir: &Path, s: &Snapshot) {
    let sys = dir.join("systems/erp");
    std::fs::create_dir_all(&sys).unwrap();
    std::fs::create_dir_all(dir.join("hr")).unwrap();
    std::fs::write(dir.join("hr/people.csv"), s.people).unwrap();
    std::fs::write(sys.join("system.toml"), s.system).unwrap();
    std::fs::write(sys.join("accounts.csv"), s.accounts).unwrap();
    std::fs::write(sys.join("entitlements.csv"), s.entitlements).unwrap();
    std::fs::write(sys.join("grants.csv"), s.grants).unwrap();
}

/// A larger system, `crm`, of 300 accounts: a comparison naming a few of them looks them up
/// one by one instead of reading the system whole. `changed` removes a grant, changes one and
/// adds an account with a grant.
fn write_crm(dir: &Path, changed: bool) {
    let sys = dir.join("systems/crm");
    std::fs::create_dir_all(&sys).unwrap();
    std::fs::write(sys.join("system.toml"), "key = \"crm\"\nname = \"CRM\"\n").unwrap();
    let mut accounts = String::from("id,username\n");
    let mut grants = String::from("account,entitlement,expires_at\n");
    let n = if changed { 301 } else { 300 };
    for i in 0..n {
        accounts.push_str(&format!("c{i},user{i}\n"));
        if changed && i == 10 {
            grants.push_str(&format!("c{i},sales,\n"));
            continue;
        }
        let expiry = if changed && i == 20 {
            "2027-05-01T00:00:00Z"
        } else {
            ""
        };
        grants.push_str(&format!(
            "c{i},sales,{expiry}\nc{i},{},\n",
            ["support", "admin"][i % 2]
        ));
    }
    std::fs::write(sys.join("accounts.csv"), accounts).unwrap();
    std::fs::write(
        sys.join("entitlements.csv"),
        "id,name\nsales,Sales\nsupport,Support\nadmin,Admins\n",
    )
    .unwrap();
    std::fs::write(sys.join("grants.csv"), grants).unwrap();
}

fn t(s: &str) -> Timestamp {
    parse_timestamp(s).unwrap()
}

fn import(
    store: &Store,
    dir: &Path,
    day: &str,
    reread: bool,
) -> Result<FolderReport, WorkflowError> {
    let settings = ImportSettings {
        as_of: Some(t(day)),
        skip_invalid: false,
        allow_mass_removal: true,
        reread,
    };
    import_folder(store, dir, &settings, "test", t(day), None, |_, _| {})
}

/// What the system's import did: `compared` as `(read, records)`.
fn compared(report: &FolderReport) -> Option<(u64, u64)> {
    report
        .sources
        .iter()
        .find(|r| r.summary.source == "system:erp")
        .and_then(|r| r.compared)
}

fn events(store: &Store) -> Vec<(String, String, Vec<u8>)> {
    store
        .read(|r| {
            r.events(&gatehouse_store::EventFilter::default())?
                .into_iter()
                .map(|row| Ok((row.kind, row.object, r.event_body(row.seq)?)))
                .collect::<Result<Vec<_>, gatehouse_store::StoreError>>()
        })
        .unwrap()
}

/// Imports `s` into both stores and checks they agree; returns the comparing store's report.
fn both(
    (comparing, reading): (&Store, &Store),
    dir: &Path,
    s: &Snapshot,
    day: &str,
) -> Result<FolderReport, (String, String)> {
    write(dir, s);
    let a = import(comparing, dir, day, false);
    let b = import(reading, dir, day, true);
    match (a, b) {
        (Ok(a), Ok(b)) => {
            assert_eq!(compared(&b), None, "reading every record compares nothing");
            assert_eq!(events(comparing), events(reading));
            let diff = comparing.read(|r| r.compare_state(reading)).unwrap();
            assert!(diff.is_none(), "{diff:?}");
            Ok(a)
        }
        (Err(a), Err(b)) => Err((a.to_string(), b.to_string())),
        (a, b) => panic!("the two imports disagree: {:?} / {:?}", a.err(), b.err()),
    }
}

fn compare_equals_reading(postgres: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (
        store(postgres, tmp.path(), "a.db"),
        store(postgres, tmp.path(), "b.db"),
    );
    let dir = tmp.path().join("snap");
    let stores = (&a, &b);

    // The first import reads everything, and keeps the files.
    write_crm(&dir, false);
    let r = both(stores, &dir, &V1, "2026-01-01").unwrap();
    assert_eq!(compared(&r), None);

    // Every kind of change, compared: only the records that differ are read.
    write_crm(&dir, true);
    let r = both(stores, &dir, &V2, "2026-01-02").unwrap();
    let crm = r
        .sources
        .iter()
        .find(|r| r.summary.source == "system:crm")
        .unwrap();
    assert_eq!(crm.compared, Some((6, 301 + 3 + 601)));
    let (read, records) = compared(&r).expect("compared with the kept files");
    assert_eq!(records, 5 + 4 + 7);
    assert!(read < 2 * records && read >= 10, "{read} of {records}");

    // The same files again: nothing read at all (their digests are those of the latest import).
    let r = both(stores, &dir, &V2, "2026-01-03").unwrap();
    assert!(r.sources.iter().all(|s| s.same_files_as.is_some()));

    // A change of one grant, compared even after an unchanged import.
    let v3 = Snapshot {
        grants: "account,entitlement,expires_at\n\
                 a1,admin,2027-01-01T00:00:00Z\n\
                 a2,read,\n\
                 a2,pay,2026-06-30T00:00:00Z\n\
                 a3,read,\n\
                 a4,pay,\n\
                 a6,audit,\n\
                 a1,audit,\n",
        ..V2
    };
    let r = both(stores, &dir, &v3, "2026-01-04").unwrap();
    assert_eq!(compared(&r), Some((2, 16)));

    // Another configuration: read whole.
    let v5 = Snapshot {
        system: "key = \"erp\"\nname = \"ERP (EU)\"\nowner = \"E1\"\n",
        ..v3
    };
    let r = both(stores, &dir, &v5, "2026-01-06").unwrap();
    assert_eq!(compared(&r), None);

    // A kept record repeated, and a new record naming an account the files dropped: both
    // imports refuse them with the same message (the whole folder is read to say where).
    let repeated = Snapshot {
        grants: "account,entitlement,expires_at\n\
                 a1,admin,2027-01-01T00:00:00Z\n\
                 a2,read,\n\
                 a2,pay,2026-06-30T00:00:00Z\n\
                 a3,read,\n\
                 a4,pay,\n\
                 a6,audit,\n\
                 a1,audit,\n\
                 a2,read,\n",
        ..v5
    };
    let (x, y) = both(stores, &dir, &repeated, "2026-01-07").unwrap_err();
    assert_eq!(x.replace("a.db", "b.db"), y.replace("a.db", "b.db"));
    assert!(
        x.contains("grants.csv:9: account `a2` holds entitlement `read` already"),
        "{x}"
    );
    let dangling = Snapshot {
        accounts: "id,username,email,last_login,note\n\
                   a1,ann,ann@x.test,2026-02-01T00:00:00Z,plain\n\
                   a2,bob,bob@x.test,2026-01-01T00:00:00Z,\"two\nlines\"\n\
                   a3,cyd,cyd2@x.test,,\n\
                   a6,new,,,\n",
        ..v5
    };
    let (x, _) = both(stores, &dir, &dangling, "2026-01-07").unwrap_err();
    assert!(x.contains("account `a4` is not in accounts.csv"), "{x}");

    // After refusals, the kept files are still those of the latest import: compared again.
    let v6 = Snapshot {
        grants: "account,entitlement,expires_at\n\
                 a1,admin,2027-01-01T00:00:00Z\n\
                 a2,read,\n\
                 a3,read,\n\
                 a4,pay,\n\
                 a6,audit,\n\
                 a1,audit,\n",
        ..v5
    };
    let r = both(stores, &dir, &v6, "2026-01-08").unwrap();
    assert_eq!(compared(&r), Some((1, 15)));

    // Kept files that were damaged or edited are not used: the next import reads every record.
    gatehouse_store::testing::execute(
        &a,
        "UPDATE import_memory SET content = substr(content, 1, 10) WHERE name = 'grants.csv'",
        &[],
    );
    let v6b = Snapshot {
        grants: "account,entitlement,expires_at\n\
                 a1,admin,2027-01-01T00:00:00Z\n\
                 a2,read,\n\
                 a3,read,\n\
                 a4,pay,\n\
                 a6,audit,\n",
        ..v6
    };
    let r = both(stores, &dir, &v6b, "2026-01-08T12:00:00Z").unwrap();
    assert_eq!(compared(&r), None);
    // Kept files read by another version of the readers are not compared either.
    gatehouse_store::testing::execute(&a, "UPDATE import_memory SET format = 0", &[]);
    let r = both(stores, &dir, &v6, "2026-01-08T18:00:00Z").unwrap();
    assert_eq!(compared(&r), None);

    // Identities changed (`a3`'s e-mail is now Cyd's): grants and entitlements are still
    // compared, and every account record is read and correlated again, as a whole read does:
    // the same events, `a3` linked to Cyd within the import.
    let v7 = Snapshot {
        people: "employee_id,name,email,status\n\
                 E1,Ann,ann@x.test,active\n\
                 E2,Bob,bob@x.test,active\n\
                 E3,Cyd,cyd2@x.test,active\n",
        grants: "account,entitlement,expires_at\n\
                 a1,admin,2027-01-01T00:00:00Z\n\
                 a2,read,\n\
                 a3,read,\n\
                 a4,pay,\n",
        ..v6
    };
    let r = both(stores, &dir, &v7, "2026-01-09").unwrap();
    assert_eq!(compared(&r), Some((2 + 5, 13)));
    let accounts = |s: &Store| s.read(|r| r.accounts(None, false)).unwrap();
    let a3 = accounts(&a)
        .into_iter()
        .find(|x| x.account == "a3")
        .unwrap();
    assert_eq!(a3.identity.map(|k| k.to_string()).as_deref(), Some("E3"));
}

#[test]
fn compared_reimport_equals_reading_every_record_sqlite() {
    compare_equals_reading(false);
}

#[test]
fn compared_reimport_equals_reading_every_record_postgres() {
    compare_equals_reading(true);
}
