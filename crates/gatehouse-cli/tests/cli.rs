//! The `gatehouse` binary end to end, on SQLite and on a private PostgreSQL server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

struct Env {
    dir: tempfile::TempDir,
    db: String,
}

impl Env {
    fn sqlite() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("gatehouse.db").display().to_string();
        Env { dir, db }
    }

    fn postgres() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
            db: gatehouse_store::testing::postgres_url(),
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn write(&self, p: &str, content: &[u8]) {
        let path = self.path(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[])
    }

    /// Runs with more environment variables.
    fn run_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(args)
            .current_dir(self.dir.path())
            .env("GATEHOUSE_DB", &self.db)
            .env("GATEHOUSE_NOW", "2026-11-23T10:00:00Z")
            .env("GATEHOUSE_ACTOR", "cli:test")
            .env_remove("GATEHOUSE_CONFIG")
            .env_remove("GATEHOUSE_LEDGER_KEY")
            .env_remove("GATEHOUSE_LEDGER_WITNESSES")
            .env_remove("GATEHOUSE_LEDGER_WITNESS_QUORUM")
            .env_remove("GATEHOUSE_LEDGER_WITNESS_TIMEOUT")
            .envs(vars.iter().copied())
            .output()
            .unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "gatehouse {args:?} failed:\n{stdout}\n{stderr}"
        );
        stdout
    }

    /// Runs and expects failure; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(1),
            "gatehouse {args:?} should fail:\n{}\n{stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        stderr.replace(&self.dir.path().display().to_string(), "")
    }
}

const PEOPLE: &str = "employee_id,first_name,last_name,email,manager_id,department,title,status,start_date,end_date\n\
E1,Ada,Lovelace,ada@example.com,,Finance,CFO,active,2020-01-01,\n\
E2,Bob,Stone,bob@example.com,E1,Finance,AP Clerk,active,2021-01-01,\n\
E3,Cy,Young,cy@example.com,E1,Finance,Treasurer,active,2021-01-01,\n\
E4,Di,Prince,di@example.com,E1,IT,Admin,active,2022-01-01,\n";

const ERP_TOML: &str = "key = \"erp\"\nname = \"ERP\"\nowner = \"E1\"\ncriticality = \"critical\"\nframeworks = [\"sox\"]\nfinancial_reporting = true\n\n[[correlation]]\nrule = \"employee_id\"\n[[correlation]]\nrule = \"email\"\n";
const ERP_ACCOUNTS: &str = "id,username,employee_id,email,kind,enabled,last_login\n\
u1,ada,E1,,human,true,2026-01-30\n\
u2,bob,E2,,human,true,2026-01-30\n\
u3,cy,,cy@example.com,human,true,2026-01-30\n\
u9,batch,,,service,true,\n";
const ERP_ENTITLEMENTS: &str = "id,name,privileged\nrole/AP_Approver,AP Approver,false\nrole/Vendor_Maint,Vendor master,false\nrole/Admin,Administrator,true\n";

fn setup(env: &Env) {
    env.write("people.csv", PEOPLE.as_bytes());
    env.write("erp/system.toml", ERP_TOML.as_bytes());
    env.write("erp/accounts.csv", ERP_ACCOUNTS.as_bytes());
    env.write("erp/entitlements.csv", ERP_ENTITLEMENTS.as_bytes());
    env.write(
        "erp/grants.csv",
        b"account,entitlement,source,warrant\nu1,role/AP_Approver,request,request:REQ-1\nu2,role/Vendor_Maint,direct,\nu9,role/Admin,direct,\n",
    );
}

fn full_flow(env: Env) {
    setup(&env);
    env.ok(&["init", "--origin", "test.example/gatehouse"]);
    let out = env.ok(&["import", "hr", "people.csv", "--as-of", "2026-01-01"]);
    assert!(
        out.starts_with("imported `hr`: 4 identities added (event 1)"),
        "{out}"
    );
    let out = env.ok(&["import", "system", "erp", "--as-of", "2026-02-01"]);
    assert!(out.contains("imported `system:erp`"), "{out}");
    assert!(
        out.contains("accounts linked to identities: 1 by email, 2 by employee_id"),
        "{out}"
    );
    assert!(out.contains("1 account uncorrelated: u9"), "{out}");
    let out = env.ok(&["import", "system", "erp", "--as-of", "2026-02-15"]);
    assert!(
        out.trim()
            .starts_with("no changes: the files of `system:erp` are byte for byte those of its import recorded by event "),
        "{out}"
    );

    // March: Bob moves from Vendor_Maint to AP_Approver.
    env.write(
        "erp/grants.csv",
        b"account,entitlement,source,warrant\nu1,role/AP_Approver,request,request:REQ-1\nu2,role/AP_Approver,request,request:REQ-2\nu9,role/Admin,direct,\n",
    );
    env.ok(&["import", "system", "erp", "--as-of", "2026-03-01"]);

    let out = env.ok(&["who-has", "erp:role/AP_Approver", "--at", "2026-02-20"]);
    assert!(out.contains("1 holder"), "{out}");
    assert!(
        out.contains("Ada Lovelace") && !out.contains("Bob Stone"),
        "{out}"
    );
    let out = env.ok(&[
        "who-has",
        "erp:AP Approver",
        "--at",
        "2026-03-01",
        "--format",
        "csv",
    ]);
    // The export says what it answers, then lists the rows.
    let about: Vec<&str> = out.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(
        about[0], "# question: who held `erp:role/AP_Approver`",
        "{out}"
    );
    assert_eq!(about[1], "# as of: 2026-03-01 (end of day)", "{out}");
    assert!(about.iter().any(|l| l.starts_with("# store: ")), "{out}");
    assert!(
        about.contains(&"# data: from 2026-02-01 to 2026-03-01"),
        "{out}"
    );
    assert!(about.contains(&"# rows: 2"), "{out}");
    assert!(
        about
            .iter()
            .any(|l| l.starts_with("# ledger: ") && l.contains(" events, root ")),
        "{out}"
    );
    assert!(
        about
            .iter()
            .any(|l| l.starts_with("# checkpoint: size ") && l.ends_with("(covers the answer)")),
        "{out}"
    );
    let lines: Vec<&str> = out.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        lines[0],
        "account,username,identity,name,status,enabled,source,warrant,since,expires"
    );
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[2].starts_with("u2,bob,E2,Bob Stone,active,yes,request,request:REQ-2,2026-03-01,"),
        "{out}"
    );
    let out = env.ok(&["who-has", "erp:role/AP_Approver", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rows"].as_array().unwrap().len(), 2);
    assert_eq!(v["about"]["question"], "who held `erp:role/AP_Approver`");
    assert_eq!(v["about"]["count"], 2);
    assert!(
        v["about"]["ledger"]["checkpoint"]["note"].is_string(),
        "{v}"
    );
    // Before the system's first snapshot nothing is known: the question is refused.
    let err = env.fails(&["who-has", "erp:role/AP_Approver", "--at", "1970-01-01"]);
    assert!(
        err.starts_with("error[GH304]: the store has data for `system:erp` from 2026-02-01 to "),
        "{err}"
    );
    let err = env.fails(&["access", "E2", "--at", "2025-12-31"]);
    assert!(
        err.starts_with("error[GH304]: the store has data for the HR feed from 2026-01-01 to "),
        "{err}"
    );

    let out = env.ok(&["access", "bob@example.com", "--at", "2026-02-20"]);
    assert!(out.contains("Bob Stone (E2, bob@example.com)"), "{out}");
    assert!(
        out.contains("role/Vendor_Maint") && !out.contains("role/AP_Approver"),
        "{out}"
    );
    let out = env.ok(&["access", "E2", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["access"]["grants"][0]["entitlement"], "role/AP_Approver");
    assert_eq!(v["about"]["question"], "what `E2` held");

    let out = env.ok(&["history", "grant", "erp:bob/role/Vendor_Maint"]);
    assert!(
        out.contains("appeared") && out.contains("went away"),
        "{out}"
    );
    assert!(
        out.contains("absent from the import of `system:erp` as of 2026-03-01"),
        "{out}"
    );
    let out = env.ok(&["history", "account", "erp:u9", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rows"][0]["kind"], "account.added");
    assert_eq!(v["about"]["question"], "the history of account `erp:u9`");

    let out = env.ok(&["account", "list", "--uncorrelated"]);
    assert!(out.contains("u9") && !out.contains("u1 "), "{out}");
    let out = env.ok(&["system", "list", "--format", "csv"]);
    assert!(
        out.contains("erp,ERP,E1,critical,sox,yes,4,3,2026-03-01"),
        "{out}"
    );

    // A new hire appears in HR with the batch account's e-mail: correlation catches up.
    env.write(
        "people.csv",
        format!("{PEOPLE}E5,Eve,Batch,batch@example.com,E1,IT,Operator,active,2026-03-01,\n")
            .as_bytes(),
    );
    env.write(
        "erp/accounts.csv",
        ERP_ACCOUNTS
            .replace("u9,batch,,,service", "u9,batch,,batch@example.com,service")
            .as_bytes(),
    );
    env.ok(&["import", "system", "erp", "--as-of", "2026-03-02"]);
    let out = env.ok(&["import", "hr", "people.csv", "--as-of", "2026-03-05"]);
    assert!(out.contains("1 account re-linked"), "{out}");
    let out = env.ok(&["history", "account", "erp:u9"]);
    assert!(out.contains("re-linked: identity: (none) → E5"), "{out}");

    let err = env.fails(&["who-has", "erp:role/Nope"]);
    assert!(
        err.contains("error[GH301]: system `erp` has no entitlement with id or name `role/Nope`"),
        "{err}"
    );
    let err = env.fails(&["import", "hr", "people.csv", "--as-of", "2026-01-01"]);
    assert!(err.contains("before the last import of it"), "{err}");
}

fn bad_input(env: Env) {
    setup(&env);
    env.ok(&["init"]);
    // Several problems at once: nothing is imported, every problem is named.
    env.write(
        "bad.csv",
        b"employee_id,name,email,manager_id,status,start_date\nE1,Ada,ada@example.com,,active,2020-01-01\nE2,Bob,bob@example.com,E9,active,2020-13-01\nE1,Dup,dup@example.com,,active,\nE3,Cy,cy@example.com,,on probation,\n",
    );
    let err = env.fails(&["import", "hr", "bad.csv"]);
    assert!(
        err.contains("3 problems in 3 rows; nothing was imported"),
        "{err}"
    );
    assert!(
        err.contains("\n  bad.csv:3: field `start_date`: `2020-13-01` is not a valid date"),
        "{err}"
    );
    assert!(
        err.contains("\n  bad.csv:4: field `employee_id`: `E1` already appears on line 2"),
        "{err}"
    );
    assert!(
        err.contains(
            "\n  bad.csv:5: field `status`: `on probation` is not a valid employment status"
        ),
        "{err}"
    );
    let out = env.ok(&["system", "list"]);
    assert!(out.contains("no systems yet"), "{out}");
    let err = env.fails(&["access", "ada@example.com"]);
    assert!(
        err.contains("no identity has the key or e-mail `ada@example.com`"),
        "{err}"
    );
    // With --skip-invalid the valid row goes in and the rest is reported.
    let out = env.ok(&["import", "hr", "bad.csv", "--skip-invalid"]);
    assert!(out.contains("1 identity added"), "{out}");
    assert!(
        out.contains("skipped 3 invalid rows with problems"),
        "{out}"
    );

    // Wrong encoding, missing column, huge field, dangling reference, malformed date.
    env.write(
        "latin1.csv",
        b"employee_id,name,status\nE7,Jos\xe9,active\n",
    );
    let err = env.fails(&["import", "hr", "latin1.csv"]);
    assert!(err.contains("latin1.csv:2: field `name`: is not valid UTF-8 (byte 4 of the value, 0xE9); save the file as UTF-8"), "{err}");
    env.write("utf16.csv", b"\xff\xfee\x00m\x00");
    let err = env.fails(&["import", "hr", "utf16.csv", "--skip-invalid"]);
    assert!(
        err.contains("the file is UTF-16 encoded; save it as UTF-8"),
        "{err}"
    );
    env.write("nocol.csv", b"employee_id,name\nE7,Jo\n");
    let err = env.fails(&["import", "hr", "nocol.csv", "--skip-invalid"]);
    assert!(
        err.contains("nocol.csv:1: missing required column `status` (found: employee_id, name)"),
        "{err}"
    );
    let huge = format!(
        "employee_id,name,status\nE7,{},active\n",
        "x".repeat(70_000)
    );
    env.write("huge.csv", huge.as_bytes());
    let err = env.fails(&["import", "hr", "huge.csv"]);
    assert!(
        err.contains("huge.csv:2: field `name`: is 70000 bytes long; the limit is 65536"),
        "{err}"
    );
    env.write(
        "erp/grants.csv",
        b"account,entitlement,expires_at\nu1,role/AP_Aprover,\nu2,role/Admin,next week\n",
    );
    let err = env.fails(&["import", "system", "erp"]);
    assert!(err.contains("erp/grants.csv:2: field `entitlement`: entitlement `role/AP_Aprover` is not in entitlements.csv"), "{err}");
    assert!(
        err.contains("erp/grants.csv:3: field `expires_at`: `next week` is not a valid timestamp"),
        "{err}"
    );
    env.write(
        "erp/system.toml",
        b"key = \"erp\"\nname = \"ERP\"\ncriticality = \"extreme\"\n",
    );
    let err = env.fails(&["import", "system", "erp"]);
    assert!(
        err.contains(
            "erp/system.toml:3: field `criticality`: `extreme` is not a valid criticality"
        ),
        "{err}"
    );
    let err = env.fails(&["import", "system", "nowhere"]);
    assert!(err.contains("nowhere: is not a folder"), "{err}");
    let out = env.ok(&["system", "list"]);
    assert!(out.contains("no systems yet"), "{out}");
}

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::Env::sqlite());
            }
            #[test]
            fn postgres() {
                super::$name(super::Env::postgres());
            }
        }
    };
}

both!(full_flow);
both!(bad_input);
both!(unchanged_files_are_not_read_again);
both!(skipped_rows_remove_nothing);
both!(changes_and_discovery);

// A snapshot folder imported again: sources whose files did not change are recognised by
// their digests and not read again; when the HR feed changed meanwhile, the accounts of such
// a system are still re-linked to the changed identities.
fn unchanged_files_are_not_read_again(env: Env) {
    env.write("snap/hr/people.csv", PEOPLE.as_bytes());
    env.write("snap/systems/erp/system.toml", ERP_TOML.as_bytes());
    env.write(
        "snap/systems/erp/accounts.csv",
        ERP_ACCOUNTS
            .replace("u9,batch,,,service", "u9,batch,,batch@example.com,service")
            .as_bytes(),
    );
    env.write(
        "snap/systems/erp/entitlements.csv",
        ERP_ENTITLEMENTS.as_bytes(),
    );
    env.write(
        "snap/systems/erp/grants.csv",
        b"account,entitlement\nu1,role/AP_Approver\nu9,role/Admin\n",
    );
    env.ok(&["init", "--origin", "test.example/gatehouse"]);
    env.ok(&["import", "folder", "snap", "--as-of", "2026-01-01"]);
    let out = env.ok(&["import", "folder", "snap", "--as-of", "2026-02-01"]);
    assert_eq!(
        out.matches("are byte for byte those of its import recorded by event")
            .count(),
        2,
        "{out}"
    );
    // The HR feed gives E4 the service account's e-mail; the ERP's files stay as they were.
    env.write(
        "snap/hr/people.csv",
        PEOPLE
            .replace("di@example.com", "batch@example.com")
            .as_bytes(),
    );
    let out = env.ok(&["import", "folder", "snap", "--as-of", "2026-03-01"]);
    assert!(out.contains("imported `hr`: 1 identity changed"), "{out}");
    assert!(
        out.contains("the files of `system:erp` are byte for byte those of its import"),
        "{out}"
    );
    assert!(
        out.contains("1 account of systems outside the folder re-linked to changed identities"),
        "{out}"
    );
    let out = env.ok(&["history", "account", "erp:u9"]);
    assert!(out.contains("re-linked: identity: (none) → E4"), "{out}");
    // Every read of a feed is on record, the unchanged ones too.
    let out = env.ok(&["import", "log", "--source", "hr", "--format", "csv"]);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(
        rows.iter().map(|r| (r[2], r[7])).collect::<Vec<_>>(),
        vec![
            ("2026-01-01", "4"),
            ("2026-02-01", "0"),
            ("2026-03-01", "1")
        ],
        "{out}"
    );
    assert!(out.contains("# question: when `hr` was read"), "{out}");
    let err = env.fails(&["import", "log", "--source", "crm"]);
    assert!(
        err.starts_with("error[GH301]: no import of `crm` is recorded"),
        "{err}"
    );
}

// Rows left out with --skip-invalid are not removals: the grant on a broken row stays, and the
// fixed file records nothing that did not happen.
fn skipped_rows_remove_nothing(env: Env) {
    setup(&env);
    env.ok(&["init", "--origin", "test.example/gatehouse"]);
    env.ok(&["import", "hr", "people.csv", "--as-of", "2026-01-01"]);
    env.ok(&["import", "system", "erp", "--as-of", "2026-01-01"]);
    // bob's grant row gets a bad date; batch's admin grant really went.
    env.write(
        "erp/grants.csv",
        b"account,entitlement,source,warrant,granted_at\nu1,role/AP_Approver,request,request:REQ-1,\nu2,role/Vendor_Maint,direct,,2026-13-45\n",
    );
    let err = env.fails(&["import", "system", "erp", "--as-of", "2026-02-01"]);
    assert!(err.contains("grants.csv:3: field `granted_at`"), "{err}");
    let out = env.ok(&[
        "import",
        "system",
        "erp",
        "--as-of",
        "2026-02-01",
        "--skip-invalid",
    ]);
    assert!(out.contains("skipped 1 invalid row"), "{out}");
    assert!(
        out.contains("not recorded as removed, because rows of their file were left out"),
        "{out}"
    );
    assert!(
        out.contains("grant erp:u2 → erp:role/Vendor_Maint"),
        "{out}"
    );
    assert!(out.contains("grant erp:u9 → erp:role/Admin"), "{out}");
    assert!(!out.contains("grant removed"), "{out}");
    let out = env.ok(&["who-has", "erp:role/Vendor_Maint", "--at", "2026-02-15"]);
    assert!(out.contains("bob"), "{out}");
    // Fixed: only batch's grant is recorded as removed, at the time it was seen gone.
    env.write(
        "erp/grants.csv",
        b"account,entitlement,source,warrant\nu1,role/AP_Approver,request,request:REQ-1\nu2,role/Vendor_Maint,direct,\n",
    );
    let out = env.ok(&["import", "system", "erp", "--as-of", "2026-03-01"]);
    assert!(out.contains("1 grant removed"), "{out}");
    assert!(!out.contains("added"), "{out}");
    let out = env.ok(&["history", "grant", "erp:u2/role/Vendor_Maint"]);
    assert!(!out.contains("removed"), "{out}");
}

// `changes` lists gains and losses with their warrants, tells first sightings from gains and
// refuses periods it knows nothing of; the discovery commands list what can be asked about,
// and a mistyped name gets a suggestion.
fn changes_and_discovery(env: Env) {
    setup(&env);
    env.ok(&["init", "--origin", "test.example/gatehouse"]);
    env.ok(&["import", "hr", "people.csv", "--as-of", "2026-01-01"]);
    env.ok(&["import", "system", "erp", "--as-of", "2026-01-01"]);
    // February: bob's grant gets a new warrant (a change, not a gain), cy gains Admin with a
    // request, batch loses it.
    env.write(
        "erp/grants.csv",
        b"account,entitlement,source,warrant\nu1,role/AP_Approver,request,request:REQ-1\nu2,role/Vendor_Maint,request,request:REQ-7\nu3,role/Admin,request,request:REQ-9\n",
    );
    env.ok(&["import", "system", "erp", "--as-of", "2026-02-01"]);
    let out = env.ok(&[
        "changes",
        "--from",
        "2026-01-15",
        "--to",
        "2026-02-28",
        "--format",
        "csv",
    ]);
    assert!(
        out.contains("# question: which access was gained and lost from 2026-01-15 to 2026-02-28"),
        "{out}"
    );
    let rows: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(
        rows.iter()
            .map(|r| (r[1], r[3], r[5], r[7], r[11]))
            .collect::<Vec<_>>(),
        vec![
            ("gained", "u3", "E3", "role/Admin", "request:REQ-9"),
            ("lost", "u9", "", "role/Admin", ""),
        ],
        "{out}"
    );
    // The first snapshot's grants were first seen, not gained.
    let out = env.ok(&["changes", "--from", "2026-01-01", "--to", "2026-01-31"]);
    assert!(out.contains("0 gained, 0 lost"), "{out}");
    let o = env.run(&["changes", "--from", "2026-01-01", "--to", "2026-01-31"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("`system:erp` was first imported as of 2026-01-01: its 3 grants were first recorded then, not gained"),
        "{err}"
    );
    let out = env.ok(&[
        "changes",
        "--from",
        "2026-01-02",
        "--identity",
        "cy@example.com",
        "--privileged",
    ]);
    assert!(out.contains("1 gained, 0 lost"), "{out}");
    let err = env.fails(&["changes", "--from", "2025-01-01", "--to", "2025-12-01"]);
    assert!(err.starts_with("error[GH304]:"), "{err}");
    let err = env.fails(&["changes", "--from", "2026-03-01", "--to", "2026-02-01"]);
    assert!(err.contains("is after --to"), "{err}");

    // Discovery.
    let out = env.ok(&["entitlement", "list", "--system", "erp", "--privileged"]);
    assert!(
        out.contains("role/Admin") && !out.contains("role/AP_Approver"),
        "{out}"
    );
    let out = env.ok(&["identity", "list", "--department", "it"]);
    assert!(out.contains("E4") && !out.contains("E1"), "{out}");
    let out = env.ok(&["system", "show", "erp"]);
    assert!(out.contains("E1 (Ada Lovelace)"), "{out}");
    assert!(out.contains("from 2026-01-01 to 2026-02-01"), "{out}");
    let err = env.fails(&["who-has", "erp:role/AP_Aprover"]);
    assert!(
        err.contains("did you mean `erp:role/AP_Approver`?"),
        "{err}"
    );
    let err = env.fails(&["system", "show", "ERP"]);
    assert!(err.contains("did you mean `erp`?"), "{err}");
    let err = env.fails(&["access", "ada@exmaple.com"]);
    assert!(err.contains("did you mean `ada@example.com`?"), "{err}");
    let err = env.fails(&["findings", "list", "--identity", "nobody@example.com"]);
    assert!(err.starts_with("error[GH301]:"), "{err}");
    let err = env.fails(&["account", "list", "--system", "crm"]);
    assert!(err.contains("there is no system `crm`"), "{err}");
    let out = env.ok(&["findings", "list", "--identity", "cy@example.com"]);
    assert!(!out.contains("error"), "{out}");
}

// After `both!`, which they use.
#[path = "cli/witness.rs"]
mod witness;

#[path = "cli/hostile.rs"]
mod hostile;

#[test]
fn init_creates_store_config_and_a_private_key() {
    let env = Env::sqlite();
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["init", "--origin", "acme.example/gatehouse"])
        .current_dir(env.dir.path())
        .env_remove("GATEHOUSE_DB")
        .env_remove("GATEHOUSE_LEDGER_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "gatehouse.toml",
        "gatehouse.db",
        "gatehouse.key",
        "gatehouse.pub",
    ] {
        assert!(env.path(f).exists(), "{f} missing");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.path("gatehouse.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let key = std::fs::read_to_string(env.path("gatehouse.pub")).unwrap();
    assert!(key.starts_with("acme.example/gatehouse+"), "{key}");
    let config = std::fs::read_to_string(env.path("gatehouse.toml")).unwrap_or_default();
    assert!(
        config.contains("origin = \"acme.example/gatehouse\""),
        "{config}"
    );
    // A second init changes nothing.
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("init")
        .current_dir(env.dir.path())
        .env_remove("GATEHOUSE_DB")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("already initialised"));
}

// A store named at `init` goes into the new configuration, so the next command finds it; a
// `--db` that differs from an existing configuration's store is said, not silently used.
fn a_store_named_at_init_is_configured(env: Env) {
    let db = if env.db.contains("://") {
        env.db.clone()
    } else {
        "elsewhere.db".to_owned()
    };
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(args)
            .current_dir(env.dir.path())
            .env_remove("GATEHOUSE_DB")
            .env_remove("GATEHOUSE_DB_FILE")
            .env_remove("GATEHOUSE_LEDGER_KEY")
            .env("GATEHOUSE_NOW", "2026-11-23T10:00:00Z")
            .output()
            .unwrap()
    };
    let out = run(&["init", "--db", &db, "--origin", "acme.example/gatehouse"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = std::fs::read_to_string(env.path("gatehouse.toml")).unwrap();
    assert!(config.contains(&format!("url = {db:?}")), "{config}");
    env.write("people.csv", PEOPLE.as_bytes());
    let out = run(&["import", "hr", "people.csv"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !env.path("gatehouse.db").exists(),
        "the default store was not created"
    );
    let out = run(&["init", "--db", "other.db"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gatehouse.toml names the store") && err.contains("left as it is"),
        "{err}"
    );
}

both!(a_store_named_at_init_is_configured);

#[test]
fn commands_without_a_store_say_how_to_make_one() {
    let env = Env::sqlite();
    let err = env.fails(&["who-has", "erp:x"]);
    assert!(
        err.starts_with("error[GH101]: there is no gatehouse store at `/gatehouse.db`\n"),
        "{err}"
    );
    assert!(
        err.contains("hint: create a store with `gatehouse init`"),
        "{err}"
    );
}

fn ledger_flow(env: Env) {
    setup(&env);
    env.ok(&["init", "--origin", "test.example/gatehouse"]);
    env.ok(&["import", "hr", "people.csv", "--as-of", "2026-01-01"]);
    env.ok(&["import", "system", "erp", "--as-of", "2026-02-01"]);
    let out = env.ok(&["ledger", "checkpoints", "--format", "csv"]);
    assert_eq!(
        out.lines().count(),
        3,
        "a checkpoint after each command that appended:\n{out}"
    );
    let out = env.ok(&["ledger", "verify"]);
    assert!(out.starts_with("ledger OK: "), "{out}");
    assert!(
        out.contains("state tables match a replay of every event"),
        "{out}"
    );

    let out = env.ok(&["ledger", "show", "--kind", "grant.", "--format", "csv"]);
    assert_eq!(out.lines().count(), 2, "one batch of three grants:\n{out}");
    let out = env.ok(&[
        "ledger",
        "show",
        "--object",
        "grant:erp",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v[0]["event"]["data"]["records"].as_array().unwrap().len(),
        3
    );
    let out = env.ok(&[
        "ledger",
        "show",
        "--kind",
        "identity.added",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v[0]["event"]["data"]["records"][1]["name"], "Bob Stone",
        "{out}"
    );
    let out = env.ok(&["ledger", "show", "--actor", "cli:nobody"]);
    assert_eq!(out.trim(), "no events match");

    let out = env.ok(&["ledger", "prove", "3", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["event"], 3);
    assert!(
        v["checkpoint"]
            .as_str()
            .unwrap()
            .starts_with("test.example/gatehouse\n")
    );
    let out = env.ok(&["ledger", "prove", "--consistency", "3", "7"]);
    assert!(out.starts_with("consistency 3 → 7"), "{out}");

    let out = env.ok(&["ledger", "export", "--out", "bundle", "--from", "2"]);
    assert!(
        out.contains("gatehouse-verify --bundle bundle --key"),
        "{out}"
    );
    let out = env.ok(&["ledger", "verify", "--bundle", "bundle"]);
    assert!(out.starts_with("bundle OK: events 2–"), "{out}");
    let lines = std::fs::read_to_string(env.path("bundle/events.jsonl")).unwrap();
    std::fs::write(
        env.path("bundle/events.jsonl"),
        lines.replacen("Ada", "Eve", 1),
    )
    .unwrap();
    let err = env.fails(&["ledger", "verify", "--bundle", "bundle"]);
    assert!(
        err.starts_with("bundle verification FAILED: event "),
        "{err}"
    );

    // Someone edits a grant straight in the database.
    let store =
        gatehouse_store::Store::open(&env.db, &gatehouse_store::OpenOptions::existing()).unwrap();
    gatehouse_store::testing::execute(
        &store,
        "UPDATE grant_version SET warrant = 'request:OK' WHERE warrant IS NULL",
        &[],
    );
    drop(store);
    let err = env.fails(&["ledger", "verify"]);
    assert!(err.starts_with("ledger verification FAILED: the state does not follow from the events: table `grant_version`"), "{err}");
    // A tree-only check does not look at the tables, and says so.
    let out = env.ok(&["ledger", "verify", "--no-state"]);
    assert!(
        out.contains("state tables not compared (--no-state)"),
        "{out}"
    );
}

both!(ledger_flow);

#[test]
fn demo_builds_a_verifiable_organisation() {
    let env = Env::sqlite();
    let out = env.ok(&[
        "demo",
        "--people",
        "120",
        "--months",
        "3",
        "--today",
        "2026-11-23",
    ]);
    assert!(out.contains("demo organisation imported in"), "{out}");
    assert!(out.contains("4 monthly snapshots"), "{out}");
    assert!(out.contains("12 systems"), "{out}");
    assert!(out.contains("quarterly access review C-0001 ("), "{out}");
    assert!(env.path("gatehouse-demo/planted.json").exists());
    assert!(env.path("policy/reviews.toml").exists());
    let out = env.ok(&["campaign", "list", "--format", "csv"]);
    assert!(
        out.contains("C-0001,sox-quarterly full review 2026-11,full,closed,"),
        "{out}"
    );
    assert!(env.path("gatehouse-demo/systems/erp/grants.csv").exists());
    let out = env.ok(&["ledger", "checkpoints", "--format", "csv"]);
    assert_eq!(
        out.lines().count(),
        7,
        "a header, one checkpoint per month, one after the quarterly review and one after the \
         demo's users:\n{out}"
    );
    let out = env.ok(&["ledger", "verify"]);
    assert!(out.starts_with("ledger OK"), "{out}");
    let out = env.ok(&[
        "who-has",
        "erp:role/AP_Approver",
        "--at",
        "2026-09-15",
        "--format",
        "json",
    ]);
    serde_json::from_str::<serde_json::Value>(&out).unwrap();

    // A birthright group, page by page: the table lists a page and says how to go on.
    let all = env.ok(&["who-has", "ad:group/All_Staff", "--all", "--format", "csv"]);
    let accounts: Vec<&str> = all
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert!(accounts.len() > 100, "{all}");
    let mut sorted = accounts.clone();
    sorted.sort_unstable();
    assert_eq!(accounts, sorted, "holders come in account order");
    let page = env.run(&["who-has", "ad:group/All_Staff", "--limit", "5"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&page.stdout),
        String::from_utf8_lossy(&page.stderr),
    );
    assert!(
        stdout.contains(&format!("{} holders", accounts.len())),
        "{stdout}"
    );
    assert!(
        stdout.contains(accounts[4]) && !stdout.contains(accounts[5]),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!(
            "listed 5 of {} holders; the next page: --after '{}'",
            accounts.len(),
            accounts[4]
        )),
        "{stderr}"
    );
    let next = env.ok(&[
        "who-has",
        "ad:group/All_Staff",
        "--after",
        accounts[4],
        "--limit",
        "3",
        "--format",
        "csv",
    ]);
    let next: Vec<&str> = next
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(next, accounts[5..8]);

    let err = env.fails(&["demo", "--people", "120"]);
    assert!(err.contains("needs an empty store"), "{err}");

    // The demo's last month, imported as a whole folder into another store.
    let other = env.path("other.db").display().to_string();
    let run = |args: &[&str]| {
        let mut all = vec!["--db", other.as_str()];
        all.extend_from_slice(args);
        env.run(&all)
    };
    assert!(run(&["init"]).status.success());
    let out = run(&["import", "folder", "gatehouse-demo"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("gatehouse-demo/hr/people.csv:\nimported `hr`"),
        "{stdout}"
    );
    assert!(stdout.contains("imported `system:erp`"), "{stdout}");
    assert!(stdout.contains("imported `warrants`"), "{stdout}");
    std::fs::create_dir_all(env.path("empty")).unwrap();
    let out = run(&["import", "folder", "empty"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("`empty` holds no source: expected hr/people.csv")
    );
}

fn findings_json(env: &Env, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["findings", "list", "--format", "json"];
    all.extend_from_slice(args);
    let out = env.ok(&all);
    serde_json::from_str::<Vec<serde_json::Value>>(&out).unwrap()
}

fn analysis_flow(env: Env) {
    setup(&env);
    env.ok(&["init"]);
    env.ok(&["import", "hr", "people.csv", "--as-of", "2026-01-01"]);
    env.ok(&["import", "system", "erp", "--as-of", "2026-02-01"]);
    let out = env.ok(&["analyze"]);
    assert!(out.contains("analysis recorded as event"), "{out}");
    assert!(out.contains("0 of 3 grants have a valid warrant"), "{out}");

    let found = findings_json(&env, &[]);
    let orphan = found
        .iter()
        .find(|f| f["rule"] == "orphaned_account")
        .expect("the service account u9 is linked to nobody");
    assert_eq!(orphan["account"], "u9");
    assert_eq!(orphan["severity"], "high", "privileged: {orphan}");
    assert_eq!(orphan["status"], "open");
    let orphan_id = orphan["id"].as_str().unwrap().to_owned();
    let bob = found
        .iter()
        .find(|f| f["rule"] == "unwarranted_grant" && f["identity"] == "E2")
        .expect("Bob's direct grant has no warrant");
    assert_eq!(bob["entitlements"][0], "erp:role/Vendor_Maint");
    assert!(
        bob["explanation"]
            .as_str()
            .unwrap()
            .contains("no warrant is recorded for it"),
        "{bob}"
    );
    let ada = found
        .iter()
        .find(|f| f["rule"] == "unwarranted_grant" && f["identity"] == "E1")
        .unwrap();
    assert!(
        ada["explanation"]
            .as_str()
            .unwrap()
            .contains("request:REQ-1, which is not among the warrant records"),
        "{ada}"
    );

    // The same analysis again: same ids, nothing new.
    let out = env.ok(&["analyze"]);
    assert!(out.contains("0 new, 0 changed, 0 resolved"), "{out}");
    assert_eq!(
        env.run(&["analyze", "--fail-on", "high"]).status.code(),
        Some(2)
    );
    assert_eq!(
        env.run(&["analyze", "--fail-on", "critical"]).status.code(),
        Some(0)
    );
    assert_eq!(
        env.run(&["findings", "list", "--fail-on", "medium"])
            .status
            .code(),
        Some(2)
    );

    // Accepting a risk: reason, future end, within the policy's maximum.
    let err = env.fails(&[
        "findings",
        "accept",
        &orphan_id,
        "--reason",
        " ",
        "--until",
        "2027-01-01",
    ]);
    assert!(err.contains("a reason is required"), "{err}");
    let err = env.fails(&[
        "findings",
        "accept",
        &orphan_id,
        "--reason",
        "r",
        "--until",
        "2026-01-01",
    ]);
    assert!(err.contains("--until must be in the future"), "{err}");
    let err = env.fails(&[
        "findings",
        "accept",
        &orphan_id,
        "--reason",
        "r",
        "--until",
        "2030-01-01",
    ]);
    assert!(err.contains("allows at most 365"), "{err}");
    let err = env.fails(&[
        "findings",
        "accept",
        "F-0000000000000000",
        "--reason",
        "r",
        "--until",
        "2027-01-01",
    ]);
    assert!(err.contains("is not open"), "{err}");
    let out = env.ok(&[
        "findings",
        "accept",
        &orphan_id,
        "--reason",
        "Batch job runs month-end close; owner being appointed",
        "--until",
        "2027-01-31",
    ]);
    assert!(
        out.contains("accepted by cli:test until 2027-01-31"),
        "{out}"
    );
    let accepted = findings_json(&env, &["--status", "accepted"]);
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0]["accepted_by"], "cli:test");
    let out = env.ok(&["findings", "show", &orphan_id]);
    assert!(
        out.contains("accepted because") && out.contains("month-end close"),
        "{out}"
    );
    assert_eq!(
        env.run(&[
            "findings",
            "list",
            "--fail-on",
            "high",
            "--rule",
            "orphaned_account"
        ])
        .status
        .code(),
        Some(0),
        "an accepted finding does not fail the gate"
    );
    let err = env.fails(&["findings", "list", "--rule", "nope"]);
    assert!(err.contains("unknown rule `nope`"), "{err}");

    // Risk scores explain themselves.
    let out = env.ok(&["risk", "E2"]);
    assert!(out.contains("identity Bob Stone (E2): risk score"), "{out}");
    assert!(out.contains("open unwarranted_grant finding"), "{out}");
    let out = env.ok(&["risk", "erp", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["kind"], "system");
    let total: u64 = v[0]["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["points"].as_u64().unwrap())
        .sum();
    assert_eq!(v[0]["total"].as_u64().unwrap(), total);
    let out = env.ok(&["risk"]);
    assert!(out.contains("E2") && out.contains("erp"), "{out}");
    let err = env.fails(&["risk", "nobody"]);
    assert!(err.contains("is no identity key"), "{err}");

    // The assessment: a preview writes nothing, a refused one neither; --record records it,
    // then a trend.
    let events = |env: &Env| {
        let out = env.ok(&["ledger", "verify", "--no-state"]);
        out.split(" events").next().unwrap().to_owned()
    };
    let before = events(&env);
    let out = env.ok(&["assess", "--format", "md"]);
    assert!(
        out.contains("A preview: not recorded in the ledger"),
        "{out}"
    );
    let err = env.fails(&["assess", "--format", "csv", "--record"]);
    assert!(err.contains("the assessment is a report"), "{err}");
    let err = env.fails(&["assess", "--record", "--out", "missing/report.md"]);
    assert!(err.contains("the folder `missing` does not exist"), "{err}");
    assert_eq!(events(&env), before, "previews and refusals write nothing");
    let out = env.ok(&["assess", "--format", "md", "--record"]);
    assert!(out.contains("This is the first assessment"), "{out}");
    assert!(out.contains("## Open findings ("), "{out}");
    assert!(
        out.contains("| Grants without a warrant (unwarranted_grant) |"),
        "{out}"
    );
    assert!(
        out.contains("## Accepted risks (1)")
            && out.contains("| cli:test | Batch job runs month-end close"),
        "{out}"
    );
    assert!(out.contains("covered by the checkpoint of size"), "{out}");
    assert!(
        out.contains("\n— vm/gatehouse "),
        "the signed note is in the report: {out}"
    );
    assert!(
        out.contains("| Grants with a valid warrant | 0 (0.0%) |"),
        "{out}"
    );
    assert!(
        out.contains("| Grants without a warrant (unwarranted_grant) | 0 | 2 | 0 | 0 | 0 | 0 |"),
        "{out}"
    );
    env.write(
        "erp/grants.csv",
        b"account,entitlement,source,warrant\nu1,role/AP_Approver,request,request:REQ-1\nu9,role/Admin,direct,\n",
    );
    env.ok(&["import", "system", "erp", "--as-of", "2026-03-01"]);
    let out = env.ok(&[
        "assess",
        "--format",
        "html",
        "--out",
        "report.html",
        "--record",
    ]);
    assert!(out.contains("report written to report.html"), "{out}");
    let html = std::fs::read_to_string(env.path("report.html")).unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains("<table>"));
    assert!(
        html.contains("Changes are against the assessment of"),
        "{html}"
    );
    let resolved = findings_json(&env, &["--status", "resolved"]);
    assert_eq!(resolved.len(), 1, "Bob's grant went away: {resolved:?}");
    assert_eq!(resolved[0]["identity"], "E2");

    // Policy: inline in gatehouse.toml, errors with file and line.
    let config = std::fs::read_to_string(env.path("gatehouse.toml")).unwrap_or_default();
    env.write(
        "gatehouse.toml",
        format!("{config}\n[policy.rules.orphaned_account]\nenabled = false\n").as_bytes(),
    );
    let out = env.ok(&["analyze"]);
    assert!(out.contains("1 resolved"), "the orphan rule is off: {out}");
    let out = env.ok(&["policy", "rules", "--format", "csv"]);
    assert!(
        out.contains("orphaned_account,high,false,")
            || out.contains("orphaned_account,medium,false,"),
        "{out}"
    );
    env.write("gatehouse.toml", config.as_bytes());
    env.write(
        "policy/policy.toml",
        b"[thresholds]\nnhi_unused_days = \"soon\"\n",
    );
    let err = env.fails(&["analyze"]);
    assert!(err.contains("policy/policy.toml:2:"), "{err}");
    env.write(
        "policy/policy.toml",
        b"[rules.dormant_access]\nseverity = \"high\"\n",
    );
    env.write(
        "policy/sod.toml",
        b"[[rule]]\nid = \"R1\"\nname = \"x\"\nsets = [[\"erp:role/Admin\"]]\n",
    );
    let err = env.fails(&["analyze"]);
    assert!(
        err.contains("policy/sod.toml:2: rule `R1` needs at least two sets"),
        "{err}"
    );
    env.write(
        "policy/sod.toml",
        b"[[rule]]\nid = \"R1\"\nname = \"Approve and maintain vendors\"\nseverity = \"critical\"\nsets = [[\"erp:role/AP_*\"], [\"erp:role/Vendor_Maint\"]]\n",
    );
    let out = env.ok(&["policy", "show"]);
    assert!(out.contains("1 rules, 0 mitigations"), "{out}");
    env.ok(&["analyze"]);

    let out = env.ok(&["ledger", "verify"]);
    assert!(out.starts_with("ledger OK"), "{out}");
    let out = env.ok(&[
        "ledger",
        "show",
        "--kind",
        "finding.accepted",
        "--format",
        "json",
    ]);
    assert!(out.contains(&orphan_id), "{out}");
}

both!(analysis_flow);

/// The accuracy contract with the demo generator: every planted problem is found, and no
/// high or critical finding is about anything the generator did not plant.
#[test]
fn demo_findings_match_what_was_planted() {
    let env = Env::sqlite();
    env.ok(&[
        "demo",
        "--people",
        "1000",
        "--seed",
        "3",
        "--today",
        "2026-11-23",
    ]);
    let out = env.ok(&["analyze", "--format", "json"]);
    let run: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(run["warnings"].as_array().unwrap().is_empty(), "{run}");
    let findings = findings_json(&env, &["--status", "all", "--insights"]);
    // Insights are left out of the default list.
    let listed = findings_json(&env, &["--status", "all"]);
    assert!(listed.len() < findings.len());
    assert!(
        listed.iter().all(|f| f["rule"] != "rbac_exception"
            && (f["rule"] != "peer_outlier" || f["severity"] != "low")),
        "insights listed by default"
    );
    // Naming an insight rule lists its findings, but --fail-on never counts insights.
    let out = env.run(&[
        "findings",
        "list",
        "--rule",
        "rbac_exception",
        "--fail-on",
        "info",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("rbac_exception"));
    let planted: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.path("gatehouse-demo/planted.json")).unwrap())
            .unwrap();
    let planted = planted["items"].as_array().unwrap();
    assert!(
        planted.len() >= 19 * 2,
        "every kind is planted at least twice"
    );
    fn rule_of(kind: &str) -> &str {
        match kind {
            "leaver_with_access" | "end_date_passed" => "leaver_access",
            "orphan_account" => "orphaned_account",
            "dormant_privileged" => "dormant_access",
            "nhi_without_owner" => "nhi_no_owner",
            "nhi_without_purpose" => "nhi_no_purpose",
            "nhi_stale_credential" => "nhi_rotation_overdue",
            "nhi_expired_credential" => "nhi_credential_expired",
            "standing_admin" => "standing_privilege",
            "self_approved_request" => "self_approved_grant",
            same => same,
        }
    }
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let ents = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(text).collect())
            .unwrap_or_default()
    };
    let mut missed = Vec::new();
    for p in planted {
        let found = findings.iter().any(|f| {
            let same =
                |field: &str| p[field].is_null() || f[field].is_null() || p[field] == f[field];
            let (pe, fe) = (ents(&p["entitlements"]), ents(&f["entitlements"]));
            f["rule"] == rule_of(p["kind"].as_str().unwrap())
                && (p["identity"].is_null() || p["identity"] == f["identity"])
                && same("system")
                && same("account")
                && (pe.is_empty() || fe.is_empty() || pe.iter().any(|e| fe.contains(e)))
        });
        if !found {
            missed.push(p.to_string());
        }
    }
    assert!(
        missed.is_empty(),
        "planted but not found:\n{}",
        missed.join("\n")
    );
    let unplanted: Vec<String> = findings
        .iter()
        .filter(|f| f["severity"] == "high" || f["severity"] == "critical")
        .filter(|f| {
            !planted.iter().any(|p| {
                (!p["identity"].is_null() && p["identity"] == f["identity"])
                    || (!p["account"].is_null()
                        && p["account"] == f["account"]
                        && p["system"] == f["system"])
            })
        })
        .map(|f| format!("{} {} {}", f["severity"], f["rule"], f["title"]))
        .collect();
    assert!(
        unplanted.is_empty(),
        "high-severity findings about nothing planted:\n{}",
        unplanted.join("\n")
    );
    for kind in [
        "sod_conflict",
        "leaver_access",
        "reappeared_grant",
        "nhi_no_owner",
    ] {
        assert!(findings.iter().any(|f| f["rule"] == kind), "{kind}");
    }
}

#[path = "cli/campaigns.rs"]
mod campaigns;

// `gatehouse serve` checks its OpenID Connect settings before it listens: all four together,
// and a client secret file that holds a secret. The secret's path is named, never its text.
#[test]
fn serve_checks_its_openid_connect_settings() {
    let env = Env::sqlite();
    env.ok(&["init"]);
    let config = std::fs::read_to_string(env.path("gatehouse.toml")).unwrap();
    env.write(
        "gatehouse.toml",
        format!("{config}\n[server]\noidc_issuer = \"https://idp.example.com\"\n").as_bytes(),
    );
    let err = env.fails(&["serve", "--listen", "127.0.0.1:0"]);
    assert!(
        err.contains("needs oidc_issuer, oidc_client_id, oidc_client_secret_file and oidc_redirect_url together"),
        "{err}"
    );
    env.write("oidc-secret", b"  \n");
    env.write(
        "gatehouse.toml",
        format!(
            "{config}\n[server]\noidc_issuer = \"https://idp.example.com\"\n\
             oidc_client_id = \"gatehouse\"\noidc_client_secret_file = \"oidc-secret\"\n\
             oidc_redirect_url = \"https://gatehouse.example.com/login/oidc/callback\"\n"
        )
        .as_bytes(),
    );
    let err = env.fails(&["serve", "--listen", "127.0.0.1:0"]);
    assert!(
        err.contains("the OpenID Connect client secret file `oidc-secret` is empty"),
        "{err}"
    );
    // The environment names another file; a missing one is said, with its path.
    let out = env.run_with(
        &["serve", "--listen", "127.0.0.1:0"],
        &[("GATEHOUSE_OIDC_CLIENT_SECRET_FILE", "/nonexistent/secret")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot read the OpenID Connect client secret `/nonexistent/secret`"),
        "{err}"
    );
}
