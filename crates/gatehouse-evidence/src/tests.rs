//! Exports of a real campaign (a store on SQLite and on PostgreSQL, a campaign launched,
//! decided and signed off through the workflow): every format says what it answers, when and
//! at which checkpoint; the workbook is a real XLSX whose cells are neutralised; the proofs
//! verify against the checkpoint.

use std::io::Read;
use std::path::Path;

use gatehouse_ledger::NoteSigner;
use gatehouse_model::*;
use gatehouse_store::{ImportOptions, Store, SystemImport};
use gatehouse_workflow::campaigns::report::{self, ControlMapping};
use gatehouse_workflow::campaigns::{self, Acting, DecisionInput, NewCampaign, ReviewPolicy};

use crate::{ExportFormat, neutralise};

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
        allow_mass_removal: false,
    }
}

fn person(key: &str, manager: Option<&str>) -> Identity {
    Identity {
        key: k(key),
        kind: IdentityKind::Person,
        name: format!("=Name {key}"),
        email: None,
        person: Some(Person {
            manager: manager.map(k),
            department: Some("Finance".into()),
            title: Some("Clerk".into()),
            ..Person::with_status(EmploymentStatus::Active)
        }),
        non_human: None,
        attributes: Attributes::new(),
    }
}

/// A SOX ERP with three clerks, reviewed by their manager E2; E1 runs the reviews. One
/// revoke's comment is a formula.
fn reviewed(store: &Store) -> CampaignId {
    let sys = SystemKey::new("erp").unwrap();
    let mut lock = store.import_lock().unwrap();
    lock.import_identities(
        "hr",
        vec![
            person("E1", None),
            person("E2", None),
            person("E3", Some("E2")),
            person("E4", Some("E2")),
            person("E5", Some("E2")),
        ],
        &opts("2026-04-01"),
        "test",
        t("2026-04-01"),
    )
    .unwrap();
    let account = |id: &str, holder: &str| Account {
        system: sys.clone(),
        native_id: id.into(),
        username: id.into(),
        identity: Some(k(holder)),
        linked_by: Some("employee_id".into()),
        kind: AccountKind::Human,
        enabled: true,
        mfa: None,
        last_login: Some(t("2026-03-30")),
        employee_id: Some(holder.into()),
        email: None,
        attributes: Attributes::new(),
    };
    lock.import_system(
        SystemImport {
            config: SystemConfig {
                key: sys.clone(),
                name: "ERP".into(),
                description: None,
                owner: Some(k("E1")),
                criticality: Some(Criticality::Critical),
                frameworks: vec!["sox".into()],
                financial_reporting: true,
                review_cadence_days: None,
                correlation: vec![],
                attributes: Attributes::new(),
            },
            accounts: vec![
                account("u3", "E3"),
                account("u4", "E4"),
                account("u5", "E5"),
            ],
            entitlements: vec![Entitlement {
                system: sys.clone(),
                native_id: "role/AP".into(),
                name: "AP".into(),
                description: None,
                privileged: false,
                risk: None,
                owner: None,
                attributes: Attributes::new(),
            }],
            grants: ["u3", "u4", "u5"]
                .iter()
                .map(|a| Grant {
                    system: sys.clone(),
                    account: (*a).into(),
                    entitlement: "role/AP".into(),
                    source: GrantSource::Direct,
                    warrant: None,
                    expires_at: None,
                    granted_at: None,
                    attributes: Attributes::new(),
                })
                .collect(),
        },
        &opts("2026-04-01"),
        "test",
        t("2026-04-01"),
    )
    .unwrap();
    drop(lock);
    let policy = ReviewPolicy::from_toml(
        "administrators = [\"E1\"]\ncompliance_owner = \"E1\"\n[[scope]]\nname = \"sox\"\nframeworks = [\"sox\"]\ncadence_days = 91\n",
        Path::new("reviews.toml"),
    )
    .unwrap();
    let admin = Acting::person("test", k("E1"));
    let at = t("2026-04-02T09:00:00Z");
    let c = campaigns::create(
        store,
        &policy,
        &admin,
        at,
        NewCampaign {
            scope: Some("sox".into()),
            ..NewCampaign::default()
        },
    )
    .unwrap();
    campaigns::launch(store, &policy, &admin, at, c.id, &[]).unwrap();
    let e2 = Acting::person("test", k("E2"));
    campaigns::decide(
        store,
        &e2,
        t("2026-04-03T09:00:00Z"),
        c.id,
        vec![
            DecisionInput {
                item: 1,
                verdict: Verdict::Revoke,
                until: None,
                comment: Some("=cmd|' /C calc'!A0".into()),
            },
            DecisionInput {
                item: 2,
                verdict: Verdict::Keep,
                until: None,
                comment: None,
            },
            DecisionInput {
                item: 3,
                verdict: Verdict::KeepUntil,
                until: Some(t("2026-06-30")),
                comment: Some("covering the close".into()),
            },
        ],
    )
    .unwrap();
    campaigns::close(
        store,
        &admin,
        t("2026-04-04T09:00:00Z"),
        c.id,
        "Q2 ERP access reviewed as required",
        None,
    )
    .unwrap();
    let signer = NoteSigner::generate_from_seed("test.example/gatehouse", [3; 32]).unwrap();
    store
        .sign_checkpoint(&signer, t("2026-04-04T10:00:00Z"))
        .unwrap();
    c.id
}

fn unzip(bytes: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut f = zip.by_name(name).unwrap();
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    s
}

fn exports(store: Store) {
    let id = reviewed(&store);
    let now = t("2026-04-05T09:00:00Z");
    let r = report::campaign_report(&store, id, now).unwrap();
    assert_eq!(r.items.len(), 3);
    assert_eq!(r.verdicts.get("revoke"), Some(&1));
    assert!(
        r.exceptions
            .iter()
            .any(|e| e.contains("kept until 2026-06-30")),
        "{:?}",
        r.exceptions
    );

    // Every proof verifies against the checkpoint.
    let root: [u8; 32] = gatehouse_ledger::hash_from_hex(&r.checkpoint.root).unwrap();
    for p in &r.proofs {
        let body = store.read(|x| x.event_body(p.seq)).unwrap();
        let path: Vec<[u8; 32]> = p
            .path
            .iter()
            .map(|h| gatehouse_ledger::hash_from_hex(h).unwrap())
            .collect();
        gatehouse_ledger::InclusionProof {
            index: p.index,
            size: r.checkpoint.size,
            hashes: path,
        }
        .verify(&gatehouse_ledger::leaf_hash(&body), &root)
        .unwrap();
    }
    let cited: Vec<u64> = r.items.iter().flat_map(|i| i.events()).collect();
    assert!(cited.iter().all(|e| r.proofs.iter().any(|p| p.seq == *e)));
    assert!(r.proofs.iter().any(|p| p.kind == "campaign.closed"));

    // CSV: the preamble says what, when, at which checkpoint; cells are neutralised.
    let csv = String::from_utf8(crate::campaign(&r, ExportFormat::Csv).unwrap()).unwrap();
    assert!(
        csv.starts_with("# answers,\"Who reviewed which access in campaign C-0001"),
        "{csv}"
    );
    assert!(csv.contains("# generated,2026-04-05 09:00 UTC"), "{csv}");
    assert!(csv.contains(&format!(
        "# checkpoint,\"size {}, root {}",
        r.checkpoint.size, r.checkpoint.root
    )));
    assert!(csv.contains("'=cmd|' /C calc'!A0"), "{csv}");
    assert!(csv.contains("'=Name E3"), "{csv}");
    assert!(!csv.contains(",=cmd"), "{csv}");
    assert!(csv.contains("event,kind,leaf hash,leaf index,audit path"));

    // XLSX: a real workbook with its sheets; strings neutralised, never formulas.
    let xlsx = crate::campaign(&r, ExportFormat::Xlsx).unwrap();
    assert_eq!(&xlsx[..2], b"PK");
    let wb = unzip(&xlsx, "xl/workbook.xml");
    for sheet in [
        "Summary",
        "Items",
        "Remediation",
        "Exceptions",
        "Reviewers",
        "Reassignments",
        "Proofs",
    ] {
        assert!(wb.contains(&format!("name=\"{sheet}\"")), "{wb}");
    }
    // Sheets are written row by row with their strings inline.
    let strings: String = (1..=7)
        .map(|n| unzip(&xlsx, &format!("xl/worksheets/sheet{n}.xml")))
        .collect();
    assert!(strings.contains("t=\"inlineStr\""));
    assert!(
        strings.contains("&apos;=cmd|&apos; /C calc&apos;!A0")
            || strings.contains("'=cmd|' /C calc'!A0"),
        "{strings}"
    );
    assert!(strings.contains("Q2 ERP access reviewed as required"));
    let items = unzip(&xlsx, "xl/worksheets/sheet2.xml");
    assert!(!items.contains("<f>"), "no formula anywhere");

    // PDF: a document with the title page, tables and signatures.
    let pdf = crate::campaign(&r, ExportFormat::Pdf).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(pdf.len() > 10_000);

    // JSON: everything.
    let json: serde_json::Value =
        serde_json::from_slice(&crate::campaign(&r, ExportFormat::Json).unwrap()).unwrap();
    assert_eq!(json["checkpoint"]["size"], r.checkpoint.size);
    assert_eq!(json["items"].as_array().unwrap().len(), 3);

    // The SOX pack: the sample is drawn again by anyone with the seed.
    let mapping = ControlMapping::from_toml(report::BUILT_IN_CONTROLS, "controls.toml").unwrap();
    let pack = report::evidence_pack(
        &store,
        &mapping,
        "sox",
        None,
        (t("2026-01-01"), t("2026-12-31")),
        "2026-Q2",
        now,
    )
    .unwrap();
    let review = pack
        .controls
        .iter()
        .find(|c| c.control.id == "ITGC-AC-01")
        .unwrap();
    assert_eq!(review.population, 3);
    assert_eq!(
        review.sample.len(),
        3,
        "populations of up to 10 are tested in full"
    );
    let again = report::evidence_pack(
        &store,
        &mapping,
        "sox",
        None,
        (t("2026-01-01"), t("2026-12-31")),
        "2026-Q2",
        now,
    )
    .unwrap();
    assert_eq!(report::sampled(&pack), report::sampled(&again));
    let removal = pack
        .controls
        .iter()
        .find(|c| c.control.id == "ITGC-AC-05")
        .unwrap();
    assert_eq!(removal.population, 1);
    for f in [
        ExportFormat::Csv,
        ExportFormat::Xlsx,
        ExportFormat::Pdf,
        ExportFormat::Json,
    ] {
        assert!(!crate::pack(&pack, f).unwrap().is_empty());
    }
    let err =
        report::evidence_pack(&store, &mapping, "pci", None, (now, now), "x", now).unwrap_err();
    assert!(
        err.to_string()
            .contains("has no framework `pci`; it has: iso27001, nist-csf, owasp-nhi, soc2, sox"),
        "{err}"
    );

    let h = report::history_report(&store, now).unwrap();
    assert_eq!(h.systems[0].rate, 33.3);
    for f in [
        ExportFormat::Csv,
        ExportFormat::Xlsx,
        ExportFormat::Pdf,
        ExportFormat::Json,
    ] {
        assert!(!crate::history(&h, f).unwrap().is_empty());
    }
}

#[test]
fn exports_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db").to_str().unwrap().to_owned();
    exports(Store::open(&path, &gatehouse_store::OpenOptions::create()).unwrap());
}

#[test]
fn exports_postgres() {
    let url = gatehouse_store::testing::postgres_url();
    exports(Store::open(&url, &gatehouse_store::OpenOptions::create()).unwrap());
}

#[test]
fn cells_that_a_spreadsheet_would_run_are_neutralised() {
    for (input, output) in [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("  =1+1", "'  =1+1"),
        ("\u{ff1d}1+1", "'\u{ff1d}1+1"),
        ("plain", "plain"),
        ("", ""),
        ("a=b", "a=b"),
    ] {
        assert_eq!(neutralise(input), output);
    }
    assert_eq!("xlsx".parse::<ExportFormat>().unwrap(), ExportFormat::Xlsx);
    assert!("docx".parse::<ExportFormat>().is_err());
}
